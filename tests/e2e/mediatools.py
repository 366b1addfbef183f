"""Media peers for the e2e tests: ffmpeg encoders and readers, a UDP
datagram counter and a lossy UDP relay. Every wait here is bounded."""

import array
import random
import re
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


def udp_url(port):
    return f"udp://127.0.0.1:{port}?timeout=8000000&fifo_size=1000000&overrun_nonfatal=1"


def rtp_url(port):
    return f"rtp://127.0.0.1:{port}?timeout=8000000"


class Reader:
    """`ffmpeg -i URL -t SECONDS -f null -`, started now, parsed by result()."""

    def __init__(self, url, seconds=3.0):
        self.url = url
        self.seconds = seconds
        self.proc = subprocess.Popen(
            ["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "debug", "-stats", "-i", url,
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
