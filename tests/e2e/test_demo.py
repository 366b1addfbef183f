"""`onair demo` (what `make demo` runs): the whole media path comes up on its
own and its printed HLS URL plays the primary encoder's tone."""

import re
import subprocess
import time
import urllib.error
import urllib.request

from conftest import BIN, _free_tcp_port, needs_ffmpeg, wait_for
import mediatools as m


@needs_ffmpeg
def test_demo_serves_the_channel_over_hls(tmp_path):
    port = _free_tcp_port()
    log = open(tmp_path / "demo.log", "w+")
    demo = subprocess.Popen([str(BIN), "demo", "--listen", f"127.0.0.1:{port}", "--data-dir", str(tmp_path / "data"),
                             "--seconds", "90"], stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        url = None
        deadline = time.monotonic() + 40
        while url is None and time.monotonic() < deadline and demo.poll() is None:
            time.sleep(0.5)
            log.seek(0)
            found = re.search(r"HLS \(channel with input failover, 640x360\): (\S+)", log.read())
            url = found and found.group(1)
        log.seek(0)
        assert url, f"demo printed no HLS URL (exit {demo.poll()}):\n{log.read()[-3000:]}"
        assert url.startswith(f"http://127.0.0.1:{port}/out/v1/")

        def segments():
            try:
                with urllib.request.urlopen(url.rsplit("/", 1)[0] + "/index_1.m3u8", timeout=5) as r:
                    return len(re.findall(r"\.ts$", r.read().decode(), re.MULTILINE)) >= 2
            except (urllib.error.URLError, OSError):
                return False

        wait_for(segments, 40, interval=0.5, what="two segments in the demo's HLS playlist")
        streams = m.probe(url, timeout=40)
        video = [s for s in streams if s["codec_type"] == "video"]
        audio = [s for s in streams if s["codec_type"] == "audio"]
        assert [(s["codec_name"], s["width"], s["height"]) for s in video] == [("h264", 640, 360)], streams
        assert [(s["codec_name"], s["sample_rate"]) for s in audio] == [("aac", "48000")], streams
        hz = m.tone_hz(url, timeout=40)
        assert 850 < hz < 1150, f"expected the primary encoder's 1000 Hz tone, heard {hz:.0f} Hz"
    finally:
        demo.terminate()
        try:
            demo.wait(timeout=15)
        except subprocess.TimeoutExpired:
            demo.kill()
        log.close()
