"""The operator dashboard at `/`, in headless Chromium, during an event: a flow
with two sources fed by ffmpeg, a MediaLive channel encoding it to a MediaPackage
HLS endpoint, and a CloudWatch alarm on the flow's bitrate. The server runs in a
directory outside the repository: every page file, hls.js and uPlot included, is
compiled into the binary.

Set ONAIR_DASHBOARD_SCREENSHOT=docs/dashboard.png to keep the screenshot taken when
the primary encoder has died (the one in the README comes from this test)."""

import os
import shutil
import time
import urllib.error
import urllib.request

import pytest

from browser import Page, needs_chromium
from conftest import REPO, Server, medialive_role, needs_ffmpeg, wait_for
from test_channel import HLS, channel_config, get, start_channel
import mediatools as m


@pytest.fixture(autouse=True)
def _deadline():
    """This scenario runs two encoders, a channel and a browser: more time than
    conftest's 150 s bound (every wait inside is bounded too)."""
    import signal

    def expired(_sig, _frame):
        raise TimeoutError("test ran longer than 280 s")

    old = signal.signal(signal.SIGALRM, expired)
    signal.alarm(280)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


@pytest.fixture
def elsewhere(tmp_path):
    """`onair serve` started in an empty directory outside the repository."""
    cwd = tmp_path / "elsewhere"
    cwd.mkdir()
    srv = Server(tmp_path)
    srv.cwd = cwd
    try:
        srv.start()
        yield srv
    finally:
        srv.close()


def fetch(url):
    with urllib.request.urlopen(url, timeout=10) as r:
        return r.status, r.headers, r.read()


def test_page_and_scripts_are_served_from_the_binary(elsewhere):
    base = elsewhere.endpoint
    status, headers, body = fetch(base + "/")
    assert status == 200 and headers["Content-Type"] == "text/html; charset=utf-8", headers
    assert b"dashboard/assets/main.js" in body
    for path, size in [("/dashboard/assets/hls.min.js", 100_000), ("/dashboard/assets/uPlot.iife.min.js", 20_000),
                       ("/player/hls.min.js", 100_000), ("/player", 1000)]:
        status, headers, body = fetch(base + path)
        assert status == 200 and len(body) > size, (path, status, len(body))
        assert headers["ETag"] and headers["Cache-Control"] == "no-cache", (path, headers)
    # The API on the same port is untouched: an unsigned API call is still refused.
    try:
        urllib.request.urlopen(urllib.request.Request(base + "/", data=b"{}", method="POST"), timeout=10)
        raise AssertionError("an unsigned POST / was answered")
    except urllib.error.HTTPError as e:
        assert e.code == 403


def cloudwatch(server):
    import boto3
    from botocore.config import Config

    return boto3.client(
        "cloudwatch", endpoint_url=server.endpoint, region_name=server.region,
        aws_access_key_id=server.access_key, aws_secret_access_key=server.secret_key,
        config=Config(retries={"max_attempts": 2, "mode": "standard"}, connect_timeout=5, read_timeout=30))


def put_alarm(server, flow_arn):
    """The issue's alarm: no signal on the flow's on-air stream for 10 s."""
    cloudwatch(server).put_metric_alarm(
        AlarmName="stage-no-signal", Namespace="AWS/MediaConnect", MetricName="SourceBitRate",
        Dimensions=[{"Name": "FlowARN", "Value": flow_arn}], Period=10, EvaluationPeriods=1,
        Statistic="Average", ComparisonOperator="LessThanThreshold", Threshold=100000)
    return "stage-no-signal"


def flow_card(arn):
    return f"document.querySelector('[data-flow-arn=\"{arn}\"]')"


def source_row(arn, name):
    return f"{flow_card(arn)}?.querySelector('tr[data-source=\"{name}\"]')"


def keep_screenshot(page, shot):
    """Saves the page to `shot`, and copies it where ONAIR_DASHBOARD_SCREENSHOT says."""
    page.screenshot(shot)
    target = os.environ.get("ONAIR_DASHBOARD_SCREENSHOT")
    if target:
        shutil.copyfile(shot, target if os.path.isabs(target) else REPO / target)


@needs_ffmpeg
@needs_chromium
def test_dashboard_follows_the_event(elsewhere, ports, tmp_path):
    srv = elsewhere
    c = srv.client()
    pa, pb = ports(), ports()
    flow_arn = c.create_flow(
        Name="stage", AvailabilityZone=f"{srv.region}a",
        Sources=[{"Name": "Primary", "Protocol": "rtp", "IngestPort": pa, "WhitelistCidr": "127.0.0.0/8"},
                 {"Name": "Backup", "Protocol": "rtp", "IngestPort": pb, "WhitelistCidr": "127.0.0.0/8"}],
        SourceFailoverConfig={"FailoverMode": "FAILOVER", "RecoveryWindow": 200, "State": "ENABLED",
                              "SourcePriority": {"PrimarySource": "Primary"}},
    )["Flow"]["FlowArn"]
    c.start_flow(FlowArn=flow_arn)
    c.get_waiter("flow_active").wait(FlowArn=flow_arn, WaiterConfig={"Delay": 1, "MaxAttempts": 30})
    primary = m.encoder(srv, f"rtp://127.0.0.1:{pa}", tone=1000, log_name="primary")
    wait_for(lambda: srv.stats(flow_arn)["active_source"] == "Primary"
             and srv.source_stats(flow_arn, "Primary")["packets"] > 0, 15, what="the primary to carry the flow")
    backup = m.encoder(srv, f"rtp://127.0.0.1:{pb}", tone=600, log_name="backup")
    wait_for(lambda: srv.source_stats(flow_arn, "Backup")["connected"], 15, what="the backup to arrive")

    input_id = srv.aws("medialive", "create-input", "--name", "stage-input", "--type", "MEDIACONNECT",
                       "--media-connect-flows", f"FlowArn={flow_arn}", "--role-arn", medialive_role(srv))["Input"]["Id"]
    srv.aws("mediapackage", "create-channel", "--id", "e2e-pkg")
    url = srv.aws("mediapackage", "create-origin-endpoint", "--channel-id", "e2e-pkg",
                  "--id", "e2e-pkg-hls", "--hls-package", HLS)["Url"]
    channel_id = start_channel(srv, tmp_path, channel_config(input_id))
    alarm = put_alarm(srv, flow_arn)

    def segments():
        status, body = get(url.rsplit("/", 1)[0] + "/index_1.m3u8")
        return status == 200 and body.count(b".ts\n") >= 2
    wait_for(segments, 40, interval=0.5, what="two segments at the endpoint")

    page = Page(srv.endpoint + "/")
    try:
        ok, _, _ = page.wait("window.onairDashboard && window.onairDashboard.link === 'live'", 15)
        assert ok, "the page never went live"
        ok, _, _ = page.wait(f"{flow_card(flow_arn)}?.dataset.health === 'ok'", 15)
        assert ok, f"the flow is not green: {page.eval(flow_card(flow_arn) + '?.outerHTML')}"
        assert page.eval(f"{source_row(flow_arn, 'Primary')}.dataset.health") == "ok"
        channel = f"document.querySelector('[data-channel-id=\"{channel_id}\"]')"
        ok, _, _ = page.wait(f"{channel}?.dataset.health === 'ok'", 15)
        assert ok, page.eval(f"{channel}?.outerHTML")
        assert "480×270" in page.eval(f"{channel}.textContent")

        # The player plays the endpoint.
        ok, _, _ = page.wait("window.onairDashboard.player.currentTime > 0", 40)
        assert ok, f"the player never started: {page.eval('JSON.stringify(window.onairDashboard.player)')}"
        t0 = page.eval("window.onairDashboard.player.currentTime")
        time.sleep(6)
        t1 = page.eval("window.onairDashboard.player.currentTime")
        assert t1 - t0 >= 3, f"the player's currentTime went from {t0} to {t1} in 6 s"
        assert page.eval("window.onairDashboard.player.src").endswith("/out/v1/e2e-pkg/e2e-pkg-hls/index.m3u8")

        # The primary's encoder dies: its source turns red within a few seconds, the
        # flow amber while the backup carries it.
        srv.kill_child(primary)
        ok, ms, _ = page.wait(f"{source_row(flow_arn, 'Primary')}?.dataset.health === 'error'", 8)
        assert ok, f"the primary source is not red: {page.eval(flow_card(flow_arn) + '?.outerHTML')}"
        assert ms <= 4000, f"the primary source turned red {ms} ms after its encoder died"
        ok, _, _ = page.wait(f"{flow_card(flow_arn)}.dataset.health === 'warning'", 5)
        assert ok, page.eval(flow_card(flow_arn) + ".outerHTML")
        time.sleep(2)
        keep_screenshot(page, tmp_path / "dashboard.png")

        # The backup's dies too: nothing on air, the flow turns red.
        srv.kill_child(backup)
        ok, ms, _ = page.wait(f"{flow_card(flow_arn)}.dataset.health === 'error'", 8)
        assert ok, f"the flow is not red: {page.eval(flow_card(flow_arn) + '.outerHTML')}"
        assert ms <= 4000, f"the flow turned red {ms} ms after its last encoder died"

        # The alarm on the flow's bitrate goes to ALARM, on the page too.
        row = f"document.querySelector('tr[data-alarm=\"{alarm}\"]')"
        ok, _, _ = page.wait(f"{row}?.dataset.state === 'ALARM'", 40)
        assert ok, f"the alarm is not in ALARM on the page: {page.eval(row + '?.outerHTML')}"
        ok, _, _ = page.wait(f"{channel}.dataset.health === 'error'", 10)
        assert ok, f"the channel in input loss is not red: {page.eval(channel + '.outerHTML')}"
        page.screenshot(tmp_path / "dashboard-alarm.png")

        problems = [msg for msg in page.console() if msg["type"] in ("error", "pageerror", "requestfailed")]
        assert not problems, f"the page reported errors: {problems}"
    finally:
        page.close()
