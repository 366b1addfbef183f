// onair's HLS player, shared by the player page (/player) and the dashboard.
// hls.js (window.Hls, loaded before this module by a classic <script>) plays
// the stream through Media Source Extensions; Safari's native HLS is the
// fallback. What tests read is the object createPlayer returns: currentTime is
// live, errors are {type, details, fatal}, stalls count buffer underruns after
// playback started.

export function createPlayer(video, onChange = () => {}) {
  const state = { stalls: 0, errors: [], playing: false, engine: null, src: null };
  let started = false;
  let hls = null;

  function error(type, details, fatal) {
    state.errors.push({ type, details, fatal: !!fatal });
    onChange();
  }

  video.addEventListener('playing', () => { started = true; state.playing = true; onChange(); });
  video.addEventListener('pause', () => { state.playing = false; onChange(); });
  video.addEventListener('waiting', () => {
    // A stall: playback had started and the buffer ran dry.
    if (started) { state.stalls += 1; }
    state.playing = false;
    onChange();
  });
  video.addEventListener('timeupdate', onChange);
  video.addEventListener('error', () => {
    // Detaching (stop) empties src: that is not a media error.
    if (!state.src) { return; }
    const e = video.error;
    error('media', e ? `code ${e.code}${e.message ? ' ' + e.message : ''}` : 'unknown', true);
  });

  function play() {
    const p = video.play();
    if (p && p.catch) {
      // A newer load() interrupts a pending play(): not an error of the stream.
      p.catch((e) => { if (e.name !== 'AbortError') { error('play', String(e), false); } });
    }
  }

  function stop() {
    if (hls) { hls.destroy(); hls = null; }
    state.src = null;
    state.playing = false;
    started = false;
    video.removeAttribute('src');
    video.load();
  }

  function load(src, { debug = false } = {}) {
    stop();
    state.src = src;
    if (!src) { onChange(); return; }
    const Hls = window.Hls;
    if (Hls && Hls.isSupported()) {
      state.engine = `hls.js ${Hls.version}`;
      hls = new Hls({ liveSyncDurationCount: 3, debug });
      hls.on(Hls.Events.ERROR, (_event, data) => {
        error(data.type, data.details, data.fatal);
        if (data.fatal && data.type === Hls.ErrorTypes.NETWORK_ERROR) { hls.startLoad(); }
        else if (data.fatal && data.type === Hls.ErrorTypes.MEDIA_ERROR) { hls.recoverMediaError(); }
      });
      hls.on(Hls.Events.MANIFEST_PARSED, play);
      hls.loadSource(src);
      hls.attachMedia(video);
    } else if (video.canPlayType('application/vnd.apple.mpegurl')) {
      state.engine = 'native HLS';
      video.src = src;
      video.addEventListener('loadedmetadata', play, { once: true });
    } else if (!Hls) {
      error('setup', 'hls.js did not load', true);
    } else {
      error('setup', 'this browser has neither Media Source Extensions nor native HLS', true);
    }
    onChange();
  }

  return {
    load,
    stop,
    get hls() { return hls; },
    get currentTime() { return video.currentTime; },
    get stalls() { return state.stalls; },
    get errors() { return state.errors; },
    get playing() { return state.playing; },
    get engine() { return state.engine; },
    get src() { return state.src; },
    // What JSON.stringify(window.onairPlayer) shows (getters are not own data).
    toJSON() {
      return {
        currentTime: video.currentTime, stalls: state.stalls, errors: state.errors,
        playing: state.playing, engine: state.engine, src: state.src,
      };
    },
  };
}
