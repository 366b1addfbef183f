"""`onair demo` (what `make demo` runs): the whole media path comes up on its
own, its printed HLS URL lists both renditions and plays the primary encoder's
tone."""

import json
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


def test_demo_prints_the_dashboard(demo):
    """The printed dashboard URL is the root of the API port, and its snapshot
    lists the demo's flows, channel and endpoint (the page itself is driven in
    test_player.py and test_dashboard.py)."""
    assert demo.dashboard == f"http://127.0.0.1:{demo.port}/"
    with urllib.request.urlopen(demo.dashboard, timeout=5) as r:
        assert r.headers["Content-Type"] == "text/html; charset=utf-8"
    with urllib.request.urlopen(demo.dashboard + "dashboard/api/snapshot", timeout=5) as r:
        snap = json.load(r)
    assert sorted(f["name"] for f in snap["flows"]) == ["demo-backup", "demo-primary"], snap["flows"]
    assert len(snap["channels"]) == 1 and len(snap["endpoints"]) == 1, snap
    assert demo.hls.endswith(snap["endpoints"][0]["path"]), (demo.hls, snap["endpoints"])
