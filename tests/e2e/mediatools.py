"""Media peers for the e2e tests: ffmpeg encoders and readers, `onair testsrc`, a UDP
datagram counter and a lossy UDP relay. Every wait here is bounded."""

import array
import random
import re
import signal
import socket
import subprocess
import threading
import time

# Problems a clean stream must not show in an ffmpeg reader's log (-loglevel
# debug, so the mpegts demuxer's continuity check is printed).
STREAM_ERRORS = re.compile(r"Continuity check failed|corrupt|RTP: missed \d+ packets", re.IGNORECASE)


def encoder(server, url, tone=1000, log_name="encoder", fec=False):
    """Starts ffmpeg sending a 640x360 test pattern and a sine tone as
    RTP/MPEG-TS to `url` in real time. Ended by the server fixture.

    fec: add SMPTE 2022-1 FEC (5 x 5) on port+2 / port+4. It is given as the
    muxer option `-fec prompeg=l=5:d=5`: the URL form `rtp://…?fec=prompeg=…`
    is silently ignored by the rtp_mpegts muxer (ffmpeg 5.1 sends no FEC)."""
    log = open(server.tmp / f"{log_name}.log", "ab")
    return server.popen(
        ["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "warning", "-re",
         "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=25",
         "-f", "lavfi", "-i", f"sine=frequency={tone}",
         "-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-g", "25",
         "-c:a", "aac", "-f", "rtp_mpegts", *(["-fec", "prompeg=l=5:d=5"] if fec else []), url],
        stdout=log, stderr=subprocess.STDOUT,
    )


class Testsrc:
    """`onair testsrc` sending to `destination` (flags in `args`), stderr (all it prints)
    in a log file under `tmp`; stdin=True to type commands with say(). Stop it with stop()
    (SIGINT, as Ctrl-C), or pass `popen=server.popen` to have the server fixture end it."""

    def __init__(self, tmp, destination, *args, name="testsrc", seconds=300, stdin=False, popen=None):
        from conftest import BIN

        self.log_path = tmp / f"testsrc-{name}.log"
        self._log = open(self.log_path, "wb")
        popen = popen or (lambda argv, **kw: subprocess.Popen(argv, start_new_session=True, **kw))
        self.proc = popen(
            [str(BIN), "testsrc", "--name", name, "--seconds", str(seconds), *map(str, args), destination],
            stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
        )

    def log(self):
        return self.log_path.read_text(errors="replace")

    def say(self, line, timeout=10):
        """Types a command on stdin and waits for its acknowledgement; returns it."""
        before = len(self.log())
        self.proc.stdin.write(line.encode() + b"\n")
        self.proc.stdin.flush()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            answer = self.log()[before:].strip()
            if answer:
                return answer
            time.sleep(0.1)
        raise AssertionError(f"no answer to {line!r} in {timeout}s:\n{self.log()}")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        self._log.close()


def udp_url(port):
    return f"udp://127.0.0.1:{port}?timeout=8000000&fifo_size=1000000&overrun_nonfatal=1"


def rtp_url(port):
    return f"rtp://127.0.0.1:{port}?timeout=8000000"


class Reader:
    """`ffmpeg -i URL -t SECONDS -f null -`, started now, parsed by result()."""

    def __init__(self, url, seconds=3.0, input_args=()):
        self.url = url
        self.seconds = seconds
        self.proc = subprocess.Popen(
            ["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "debug", "-stats", *input_args, "-i", url,
             "-t", str(seconds), "-f", "null", "-"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
        )

    def result(self, timeout=None):
        timeout = timeout or self.seconds + 25
        try:
            _, err = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            _, err = self.proc.communicate(timeout=5)
            raise AssertionError(f"ffmpeg reading {self.url} did not finish in {timeout}s:\n"
                                 + err.decode(errors="replace")[-3000:])
        return ReadResult(self.url, self.proc.returncode, err.decode(errors="replace"))


class ReadResult:
    def __init__(self, url, rc, log):
        self.url, self.rc, self.log = url, rc, log
        frames = re.findall(r"frame=\s*(\d+)", log)
        self.frames = int(frames[-1]) if frames else 0
        inputs = log.split("Stream mapping:")[0]
        v = re.search(r"Stream #0:\d+.*?: Video: (\w+).*?, (\d+)x(\d+)", inputs)
        a = re.search(r"Stream #0:\d+.*?: Audio: (\w+)", inputs)
        self.video = (v.group(1), int(v.group(2)), int(v.group(3))) if v else None
        self.audio = a.group(1) if a else None
        self.errors = [ln for ln in log.replace("\r", "\n").splitlines() if STREAM_ERRORS.search(ln)]

    def describe(self):
        return f"ffmpeg reading {self.url} (rc {self.rc}):\n" + self.log[-4000:]

    def assert_clean_av(self):
        """h264 640x360 and aac decoded, frames counted, no stream errors."""
        assert self.rc == 0, self.describe()
        assert self.video == ("h264", 640, 360), self.describe()
        assert self.audio == "aac", self.describe()
        assert self.frames > 0, self.describe()
        assert self.errors == [], "\n".join(self.errors[:20]) + "\n" + self.describe()


def read(url, seconds=3.0):
    return Reader(url, seconds).result()


def probe(url, timeout=25):
    """ffprobe's view of the streams of a live URL."""
    import json

    p = subprocess.run(["ffprobe", "-v", "error", "-show_streams", "-of", "json", url],
                       capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    assert p.returncode == 0, f"ffprobe {url}: {p.stderr[-2000:]}"
    return json.loads(p.stdout).get("streams", [])


def tone_hz(url, seconds=2.0, timeout=25):
    """The frequency of the audio of a live URL, from zero crossings of 8 kHz
    mono PCM (the first 0.3 s are skipped)."""
    p = subprocess.run(
        ["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-i", url, "-t", str(seconds + 0.3),
         "-vn", "-ac", "1", "-ar", "8000", "-f", "s16le", "-"],
        capture_output=True, timeout=timeout, stdin=subprocess.DEVNULL,
    )
    samples = array.array("h")
    samples.frombytes(p.stdout[: len(p.stdout) // 2 * 2])
    samples = samples[2400:]
    assert len(samples) > 4000, f"too little audio from {url} (rc {p.returncode}): {p.stderr[-2000:]!r}"
    crossings = sum(1 for a, b in zip(samples, samples[1:]) if (a < 0) != (b < 0))
    return crossings / 2 / (len(samples) / 8000)


def count_datagrams(port, seconds):
    """How many datagrams arrive on 127.0.0.1:port within `seconds`."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", port))
    s.settimeout(0.2)
    n = 0
    deadline = time.monotonic() + seconds
    try:
        while time.monotonic() < deadline:
            try:
                s.recv(65536)
                n += 1
            except socket.timeout:
                pass
    finally:
        s.close()
    return n


class Relay:
    """Forwards every datagram arriving on 127.0.0.1:listen to each of
    `targets` (ports on 127.0.0.1); `drop(path, n, t)` decides per path
    whether datagram n (0-based, t seconds after the first) is dropped."""

    def __init__(self, listen, targets, drop=None):
        self.targets = list(targets)
        self.drop = drop or (lambda path, n, t: False)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", listen))
        self.sock.settimeout(0.2)
        self.received = 0
        self.received_bytes = 0
        self.sent = [0] * len(self.targets)
        self.dropped = [0] * len(self.targets)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        t0 = None
        while not self._stop.is_set():
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                continue
            except OSError:
                return
            now = time.monotonic()
            t0 = t0 or now
            n = self.received
            self.received += 1
            self.received_bytes += len(data)
            for i, port in enumerate(self.targets):
                if self.drop(i, n, now - t0):
                    self.dropped[i] += 1
                    continue
                try:
                    self.sock.sendto(data, ("127.0.0.1", port))
                    self.sent[i] += 1
                except OSError:
                    pass

    def close(self):
        self._stop.set()
        self._thread.join(timeout=5)
        self.sock.close()


def independent_loss(rate, seed, paths=2):
    """A drop function losing `rate` of the datagrams on each path, drawn
    independently per path, except that a datagram is never lost on every
    path at once: SMPTE 2022-7 cannot rebuild those, so the relay re-draws
    such a datagram (it happens for rate**2 of them)."""
    rng = random.Random(seed)
    decided = {}

    def drop(path, n, _t):
        if n not in decided:
            decided.clear()
            while True:
                d = [rng.random() < rate for _ in range(paths)]
                if not all(d):
                    break
            decided[n] = d
        return decided[n][path]

    return drop


def first_video_pts(url, timeout=25):
    """PTS (seconds) of the first video packet of a file or URL, from ffprobe."""
    import json

    p = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries", "packet=pts_time",
                        "-read_intervals", "%+#1", "-of", "json", url],
                       capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    assert p.returncode == 0, f"ffprobe {url}: {p.stderr[-2000:]}"
    return float(json.loads(p.stdout)["packets"][0]["pts_time"])


def video_frames(path, timeout=25):
    """(decoded video frames, width, height) of a file, from ffprobe -count_frames."""
    import json

    p = subprocess.run(["ffprobe", "-v", "error", "-count_frames", "-select_streams", "v:0",
                        "-show_entries", "stream=nb_read_frames,width,height", "-of", "json", str(path)],
                       capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    assert p.returncode == 0, f"ffprobe {path}: {p.stderr[-2000:]}"
    s = json.loads(p.stdout)["streams"][0]
    return int(s["nb_read_frames"]), int(s["width"]), int(s["height"])


# ------------------------------------------------ A/V sync markers and damaged frames
#
# The A/V-sync test signal: testsrc2 with a white flash and a 1 kHz beep on the same
# timestamps (the first 0.1 s of every `period` seconds), silence between beeps. At the
# output, lip sync is beep onset - flash onset; a damaged picture is one that matches no
# picture of a clean decode of what the encoders sent.

SMALL_W, SMALL_H = 64, 36


def av_sync_sources(period=2, rate=30, size="640x360", label="black"):
    """The lavfi video and audio sources of the A/V-sync test signal; a bar of colour
    `label` at the bottom tells encoders apart (testsrc2 starts over with each)."""
    video = (f"testsrc2=size={size}:rate={rate},"
             f"drawbox=x=0:y=ih-48:w=iw:h=48:color={label}:t=fill,"
             f"drawbox=x=0:y=0:w=iw:h=ih:color=white:t=fill:enable='lt(mod(t,{period}),0.1)'")
    # (aevalsrc gates per sample; volume's enable would gate per 1024-sample frame.)
    audio = f"aevalsrc=exprs='0.25*sin(2*PI*1000*t)*lt(mod(t,{period}),0.1)':s=48000"
    return video, audio


def av_sync_encoder(server, port, clean_path, log_name, label="black", period=2, rate=30, gop=30):
    """ffmpeg sending the A/V-sync signal as RTP/MPEG-TS to 127.0.0.1:port in real time,
    and writing the very same stream to `clean_path` (a tee: one encode, two outputs;
    stop it with `stop_encoder` so the file ends where the stream did)."""
    video, audio = av_sync_sources(period, rate, label=label)
    log = open(server.tmp / f"{log_name}.log", "ab")
    return server.popen(
        ["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "warning", "-re",
         "-f", "lavfi", "-i", video, "-f", "lavfi", "-i", audio,
         "-map", "0:v", "-map", "1:a",
         "-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-g", str(gop),
         "-c:a", "aac", "-b:a", "128k",
         "-f", "tee", f"[f=rtp_mpegts]rtp://127.0.0.1:{port}|[f=mpegts:flush_packets=1]{clean_path}"],
        stdout=log, stderr=subprocess.STDOUT,
    )


def decode_small(path, timeout=120):
    """Decodes a TS file once: (video frames as (pts seconds, 64x36 gray bytes), audio
    start pts seconds, mono 48 kHz s16 samples). Timestamps are the file's own
    (-copyts); frames are neither dropped nor repeated (-vsync 0)."""
    import os
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        vpath, apath = os.path.join(d, "v.raw"), os.path.join(d, "a.raw")
        p = subprocess.run(
            ["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "info", "-copyts", "-i", str(path),
             "-map", "0:v:0", "-vsync", "0",
             "-vf", f"showinfo,scale={SMALL_W}:{SMALL_H}:flags=area,format=gray", "-f", "rawvideo", vpath,
             "-map", "0:a:0", "-af", "ashowinfo", "-ac", "1", "-ar", "48000", "-f", "s16le", apath],
            capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL,
        )
        assert p.returncode == 0, f"decoding {path}: {p.stderr[-3000:]}"
        vtimes = [float(t) for t in re.findall(r"Parsed_showinfo.*? pts_time:\s*(-?[\d.]+)", p.stderr)]
        atimes = [float(t) for t in re.findall(r"Parsed_ashowinfo.*? pts_time:\s*(-?[\d.]+)", p.stderr)]
        raw = open(vpath, "rb").read()
        pcm = array.array("h")
        data = open(apath, "rb").read()
        pcm.frombytes(data[: len(data) // 2 * 2])
    size = SMALL_W * SMALL_H
    frames = [raw[i * size:(i + 1) * size] for i in range(len(raw) // size)]
    assert len(frames) == len(vtimes), f"{len(frames)} frames, {len(vtimes)} showinfo lines"
    assert atimes, f"no audio in {path}"
    return list(zip(vtimes, frames)), atimes[0], pcm


def mean(frame):
    return sum(frame) / len(frame)


def flash_onsets(frames, level=200):
    """Times of the first bright frame of each run of bright frames."""
    out, was = [], False
    for t, f in frames:
        bright = mean(f) > level
        if bright and not was:
            out.append(t)
        was = bright
    return out


def beep_onsets(a0, pcm, rate=48000, level=1000, quiet_s=0.2):
    """Times where the audio passes `level` after `quiet_s` below it."""
    out, quiet, need = [], 0, int(quiet_s * rate)
    for i, v in enumerate(pcm):
        if abs(v) > level:
            if quiet >= need:
                out.append(a0 + i / rate)
            quiet = 0
        else:
            quiet += 1
    return out


def av_offsets(flashes, beeps, within=0.3):
    """(flash time, beep - flash) for each flash with a beep onset within `within` s."""
    out = []
    for f in flashes:
        near = [b for b in beeps if abs(b - f) <= within]
        if near:
            b = min(near, key=lambda b: abs(b - f))
            out.append((f, b - f))
    return out


def psnr(a, b):
    import math

    se = sum((x - y) * (x - y) for x, y in zip(a, b))
    return 99.0 if se == 0 else 10 * math.log10(255 * 255 * len(a) / se)


def _signature(frame):
    """8x4 block means of a 64x36 frame."""
    sig = []
    for by in range(4):
        for bx in range(8):
            s = 0
            for y in range(by * 9, by * 9 + 9):
                row = y * SMALL_W + bx * 8
                s += sum(frame[row:row + 8])
            sig.append(s / 72)
    return sig


class FrameMatcher:
    """Finds, for each output frame, the source frame it shows: `sources` is
    {name: [frame bytes]} from clean decodes of what each encoder sent."""

    def __init__(self, sources, accept=33.0):
        self.accept = accept
        self.frames = [(name, i, f, _signature(f)) for name, fs in sources.items() for i, f in enumerate(fs)]
        self.index = {(name, i): k for k, (name, i, _, _) in enumerate(self.frames)}

    def match(self, frame, previous=None, candidates=24):
        """(psnr, name, index) of the best matching source frame; tries the frames
        after `previous` (name, index) first."""
        if previous is not None:
            k = self.index.get(previous)
            if k is not None:
                best = None
                for j in range(k, min(k + 3, len(self.frames))):
                    name, i, f, _ = self.frames[j]
                    if name != previous[0]:
                        break
                    q = psnr(frame, f)
                    if best is None or q > best[0]:
                        best = (q, name, i)
                if best and best[0] >= self.accept:
                    return best
        sig = _signature(frame)
        near = sorted(self.frames, key=lambda e: sum(abs(a - b) for a, b in zip(sig, e[3])))[:candidates]
        same = previous[0] if previous else None
        # Ties (flashes look alike in every input) go to the input seen before.
        best = max(((round(psnr(frame, f), 1), name == same, -i, name) for name, i, f, _ in near))
        return best[0], best[3], -best[2]


def stop_encoder(server, p, timeout=5):
    """Stops an ffmpeg encoder as an operator would (SIGTERM: it stops sending at once
    and finishes its files), SIGKILL if it lingers."""
    if p.poll() is None:
        p.terminate()
        try:
            p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            pass
    server.kill_child(p)
