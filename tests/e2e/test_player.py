"""The browser player: `onair demo`'s printed `browser:` URL plays the channel in
headless Chromium (Debian's, driven by playwright-core from web/node_modules)
with hls.js compiled into onair and served at /player/hls.min.js; so does the
player of the printed dashboard. The demo runs outside the repository."""

import json
import os
import re
import shutil
import subprocess
import urllib.error
import urllib.request

import pytest

from browser import Page
from conftest import REPO, needs_ffmpeg, wait_for

CHROMIUM = os.environ.get("ONAIR_CHROMIUM", "/usr/bin/chromium")
WEB = REPO / "web"
SECONDS = 20

needs_chromium = pytest.mark.skipif(
    not os.access(CHROMIUM, os.X_OK) or shutil.which("node") is None,
    reason=f"needs Debian's chromium at {CHROMIUM} and node (make test installs them: scripts/setup.sh test)",
)


@needs_ffmpeg
@needs_chromium
def test_browser_player_plays_the_demo_channel(demo):
    assert (WEB / "node_modules" / "hls.js" / "dist" / "hls.min.js").is_file() and (
        WEB / "node_modules" / "playwright-core").is_dir(), "run `npm ci` in web/ (scripts/setup.sh does)"
    port, hls, player = demo.port, demo.hls, demo.player
    assert player == f"http://127.0.0.1:{port}/player?src={hls}"

    # The page and hls.js come without SigV4.
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/player/hls.min.js", timeout=5) as r:
        assert r.headers["Content-Type"].startswith("text/javascript") and len(r.read()) > 100_000

    def segments():
        try:
            with urllib.request.urlopen(demo.media_playlist(), timeout=5) as r:
                return len(re.findall(r"\.ts$", r.read().decode(), re.MULTILINE)) >= 2
        except (urllib.error.URLError, OSError):
            return False

    wait_for(segments, 40, interval=0.5, what="two segments in the demo's HLS playlist")
    run = subprocess.run(["node", str(REPO / "tests" / "e2e" / "player_check.mjs"), player, str(SECONDS), CHROMIUM],
                         capture_output=True, text=True, timeout=SECONDS + 60)
    assert run.returncode == 0, f"player_check failed:\n{run.stdout}\n{run.stderr[-3000:]}"
    report = json.loads(run.stdout.strip().splitlines()[-1])
    start, end = report["start"], report["end"]
    assert report["codecs"]["avc1"], f"this Chromium has no H.264 in Media Source Extensions: {report}"
    assert start["engine"] and start["engine"].startswith("hls.js"), report
    fatal = [e for e in end["errors"] if e["fatal"]]
    assert not fatal, f"fatal player errors: {report}"
    advanced = end["currentTime"] - start["currentTime"]
    assert advanced >= SECONDS - 5, f"played {advanced:.1f} s of {SECONDS} s: {report}"
    assert end["stalls"] - start["stalls"] <= 1, f"stalled {end['stalls'] - start['stalls']} times: {report}"
    assert end["playing"], report
    assert not [m for m in report["console"] if m.startswith(("error", "pageerror"))], report["console"]

    # The dashboard the demo prints: both flows green, its player playing the channel.
    page = Page(demo.dashboard)
    try:
        ok, _, _ = page.wait("window.onairDashboard?.snapshot?.flows.length === 2", 15)
        assert ok, page.eval("document.body.innerText")
        ok, _, _ = page.wait("[...document.querySelectorAll('[data-flow-arn]')]"
                             ".every((c) => c.dataset.health === 'ok')", 15)
        assert ok, page.eval("document.getElementById('flows').innerText")
        ok, _, _ = page.wait("window.onairDashboard.player.currentTime > 2", 40)
        assert ok, page.eval("JSON.stringify(window.onairDashboard.player)")
        problems = [msg for msg in page.console() if msg["type"] in ("error", "pageerror", "requestfailed")]
        assert not problems, problems
    finally:
        page.close()
