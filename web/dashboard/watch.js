// One player for the origin endpoints, with a selector when there are several.
// It plays the endpoint's path relative to the page (works behind a proxy);
// the player itself is web/player.js, shared with /player.

import { h, fill } from './dom.js';
import { createPlayer } from './player.js';

export class Watch {
  constructor({ select, info, video, status }) {
    this.select = select;
    this.info = info;
    this.status = status;
    this.video = video;
    this.player = createPlayer(video, () => this.show());
    this.endpoints = [];
    this.chosen = null;
    select.addEventListener('change', () => this.play(select.value));
  }

  render(snapshot) {
    const ids = snapshot.endpoints.map((e) => e.id);
    if (ids.join('\n') !== this.endpoints.map((e) => e.id).join('\n')) {
      fill(this.select, snapshot.endpoints.map((e) =>
        h('option', { value: e.id }, `${e.channelId} / ${e.id}`)));
      if (snapshot.endpoints.length === 0) { fill(this.select, h('option', { value: '' }, 'no endpoint')); }
    }
    this.endpoints = snapshot.endpoints;
    this.select.disabled = snapshot.endpoints.length < 2;
    if (!ids.includes(this.chosen)) { this.play(ids[0] || null); }
    const e = this.endpoint();
    fill(this.info, e ? h('a', { href: e.url, title: 'the playback URL' }, e.url) : '',
      e && e.requestsPerSecond !== null ? ` · ${e.requestsPerSecond.toFixed(1)} req/s` : '');
  }

  endpoint() {
    return this.endpoints.find((e) => e.id === this.chosen) || null;
  }

  play(id) {
    this.chosen = id;
    this.select.value = id || '';
    const e = this.endpoint();
    this.player.load(e ? new URL(e.path, document.baseURI).href : null);
    this.show();
  }

  show() {
    const p = this.player;
    if (!p.src) { this.status.textContent = 'no endpoint yet'; return; }
    const errors = p.errors.filter((e) => e.fatal).length;
    this.status.textContent = `${p.playing ? 'playing' : 'not playing'} · ${p.currentTime.toFixed(1)} s`
      + ` · stalls ${p.stalls}${errors ? ` · ${errors} fatal errors` : ''}${p.engine ? ` · ${p.engine}` : ''}`;
  }
}
