"""`onair demo` (what `make demo` runs): the whole media path comes up on its
own, its printed HLS URL lists both renditions and plays the primary encoder's
tone."""

import re
import urllib.error
import urllib.request

from conftest import needs_ffmpeg, wait_for
import mediatools as m


@needs_ffmpeg
def test_demo_serves_the_channel_over_hls(demo):
    url = demo.hls
    assert url.startswith(f"http://127.0.0.1:{demo.port}/out/v1/")

    def segments():
        try:
            with urllib.request.urlopen(demo.media_playlist(), timeout=5) as r:
                return len(re.findall(r"\.ts$", r.read().decode(), re.MULTILINE)) >= 2
        except (urllib.error.URLError, OSError):
            return False

    wait_for(segments, 40, interval=0.5, what="two segments in the demo's HLS playlist")
    streams = m.probe(url, timeout=40)
    video = [s for s in streams if s["codec_type"] == "video"]
    audio = [s for s in streams if s["codec_type"] == "audio"]
    assert sorted((s["codec_name"], s["width"], s["height"]) for s in video) == \
        [("h264", 320, 180), ("h264", 640, 360)], streams
    assert {(s["codec_name"], s["sample_rate"]) for s in audio} == {("aac", "48000")}, streams
    hz = m.tone_hz(url, timeout=40)
    assert 850 < hz < 1150, f"expected the primary encoder's 1000 Hz tone, heard {hz:.0f} Hz"
