"""`onair demo` (what `make demo` runs): the whole media path comes up on its
own, its printed HLS URL lists both renditions and plays the primary encoder's
tone."""

import json
import re
import subprocess
import urllib.error
import urllib.request

import pytest

from browser import Page, needs_chromium
from conftest import Demo, needs_ffmpeg, wait_for
import mediatools as m

# The recipe and the demo both ingest on UDP 5000/5001: one xdist worker runs them in turn.
pytestmark = pytest.mark.xdist_group("ingest-5000")

BITRATE = "demo-primary-bitrate"


def has_segments(demo, n):
    try:
        with urllib.request.urlopen(demo.media_playlist(), timeout=5) as r:
            return len(re.findall(r"\.ts$", r.read().decode(), re.MULTILINE)) >= n
    except (urllib.error.URLError, OSError):
        return False


@needs_ffmpeg
def test_demo_serves_the_channel_over_hls(demo):
    url = demo.hls
    assert url.startswith(f"http://127.0.0.1:{demo.port}/out/v1/")

    wait_for(lambda: has_segments(demo, 2), 40, interval=0.5, what="two segments in the demo's HLS playlist")
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


def snapshot(demo):
    with urllib.request.urlopen(demo.dashboard + "dashboard/api/snapshot", timeout=5) as r:
        return json.load(r)


def alarm_state(snap, name):
    return next((a["state"] for a in snap["alarms"] if a["name"] == name), None)


def notified(snap, alarm, state):
    """Whether the demo's SNS subscriber received `alarm` going to `state`."""
    return any(n.get("alarm") == alarm and n.get("state") == state for n in snap["demo"]["notifications"])


@needs_ffmpeg
@needs_chromium
@pytest.mark.deadline(420)
def test_the_failover_control_switches_to_the_backup_and_back(tmp_path):
    """The Demo panel's Stop button (pressed in Chromium) takes the primary
    encoder off: the channel plays the backup (its 600 Hz tone in the HLS
    output), the bitrate alarm goes to ALARM and the demo's own SNS subscriber
    receives it; Restore brings everything back, OK notified too. Then SIGTERM
    ends the demo, with nothing left running."""
    demo = Demo(tmp_path, seconds=360)
    page = None
    try:
        # The page opens once the endpoint has segments: before, its playlist is a 404
        # that the player reports in the console.
        wait_for(lambda: has_segments(demo, 2), 60, interval=0.5, what="segments in the demo's HLS output")
        page = Page(demo.dashboard)
        ok, _, _ = page.wait("window.onairDashboard && window.onairDashboard.link === 'live'", 20)
        assert ok
        ok, _, _ = page.wait("document.querySelector('#demo-panel button[data-action=stop]') !== null", 20)
        assert ok, page.eval("document.getElementById('demo').outerHTML")
        # The subscription is confirmed and the fast alarms settle to OK.
        wait_for(lambda: alarm_state(snapshot(demo), BITRATE) == "OK"
                 and notified(snapshot(demo), BITRATE, "OK"), 60, interval=1,
                 what=f"{BITRATE} OK and notified\n{demo.log()[-2000:]}")
        assert 850 < m.tone_hz(demo.hls, timeout=40) < 1150

        page.eval("document.querySelector('#demo-panel button[data-action=stop]').click()")
        wait_for(lambda: snapshot(demo)["demo"]["primary"] == "stop", 10, what="the primary encoder stopped")
        wait_for(lambda: snapshot(demo)["channels"][0]["activeInput"] == "backup", 15, interval=0.5,
                 what="the channel on its backup input")
        wait_for(lambda: alarm_state(snapshot(demo), BITRATE) == "ALARM", 40, interval=1,
                 what=f"{BITRATE} in ALARM")
        wait_for(lambda: notified(snapshot(demo), BITRATE, "ALARM"), 20, interval=1,
                 what="the subscriber's ALARM notification")
        ok, _, _ = page.wait("document.querySelector('#demo-inbox li[data-state=ALARM]') !== null", 10)
        assert ok, page.eval("document.getElementById('demo-inbox').outerHTML")
        wait_for(lambda: 450 < m.tone_hz(demo.hls, timeout=40) < 750, 60, interval=2,
                 what="the backup's 600 Hz tone in the HLS output")

        page.eval("document.querySelector('#demo-panel button[data-action=restore]').click()")
        wait_for(lambda: snapshot(demo)["channels"][0]["activeInput"] == "primary", 30, interval=0.5,
                 what="the channel back on its primary input")
        wait_for(lambda: alarm_state(snapshot(demo), BITRATE) == "OK", 40, interval=1, what=f"{BITRATE} OK again")
        wait_for(lambda: sum(1 for n in snapshot(demo)["demo"]["notifications"]
                             if n.get("alarm") == BITRATE and n.get("state") == "OK") >= 2, 20, interval=1,
                 what="the subscriber's second OK notification")
        wait_for(lambda: 850 < m.tone_hz(demo.hls, timeout=40) < 1150, 60, interval=2,
                 what="the primary's 1000 Hz tone again")
        problems = [msg for msg in page.console() if msg["type"] in ("error", "pageerror")]
        assert problems == [], problems
    finally:
        if page:
            page.close()
        pid = demo.proc.pid
        demo.close()
    log = (tmp_path / "demo.log").read_text()
    assert demo.proc.returncode == 0, log[-2000:]
    assert "demo stopped" in log
    left = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    assert left == "", f"processes left behind: {left}"
