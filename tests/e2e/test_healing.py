"""A running channel heals: its inputs are followed, never resolved once.

Each case leaves the channel alone and changes what is behind its input — a
flow started after the channel, a flow stopped and started again, a flow whose
source is replaced (UpdateFlowSource restarts its engine), a push input whose
port was held by another program when the channel started. Each checks that
the HLS output shows the source's own picture (not the black input-loss fill)
and tone again within 5 s of the source being back, and that DescribeChannel's
`onairHealth` tells what the input was waiting for meanwhile.
"""
import array
import json
import re
import socket
import subprocess
import time
import urllib.parse
import urllib.request

from conftest import ACCESS_KEY, REGION, SECRET_KEY, medialive_role, needs_ffmpeg, wait_for
from test_channel import HLS, channel_config, get, start_channel

# Seconds from a source being back to its picture and tone in a listed segment.
HEAL_S = 5.0


def sender(server, port, tone, log_name):
    """ffmpeg sending testsrc2 and a `tone` Hz sine as RTP/MPEG-TS to port,
    an IDR every 12 frames (0.48 s), so a channel picking the stream up waits
    little for its first picture."""
    log = open(server.tmp / f"{log_name}.log", "ab")
    return server.popen(
        ["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "warning", "-re",
         "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=25", "-f", "lavfi", "-i", f"sine=frequency={tone}",
         "-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-g", "12",
         "-c:a", "aac", "-f", "rtp_mpegts", f"rtp://127.0.0.1:{port}"],
        stdout=log, stderr=subprocess.STDOUT,
    )


def healing_config(input_id):
    """The e2e channel with 1 s GOPs, black fill on input loss, and 1 s segments (below)."""
    config = channel_config(input_id)
    h264 = config["EncoderSettings"]["VideoDescriptions"][0]["CodecSettings"]["H264Settings"]
    h264["GopSize"] = 1
    config["EncoderSettings"]["GlobalConfiguration"] = {
        "InputLossBehavior": {"RepeatFrameMsec": 0, "BlackFrameMsec": 1000000},
    }
    return config


def start(server, tmp_path, config):
    """Packaging channel + 1 s-segment endpoint, then the channel; returns
    (channel id, media playlist URL) once RUNNING."""
    server.aws("mediapackage", "create-channel", "--id", "e2e-pkg")
    url = server.aws("mediapackage", "create-origin-endpoint", "--channel-id", "e2e-pkg", "--id", "e2e-pkg-hls",
                     "--hls-package", HLS.replace("SegmentDurationSeconds=2", "SegmentDurationSeconds=1"))["Url"]
    return start_channel(server, tmp_path, config), url.rsplit("/", 1)[0] + "/index_1.m3u8"


def health(server, cid):
    """DescribeChannel's `onairHealth` member, read from the raw JSON (the AWS
    clients parse only the members of the model)."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    url = f"{server.endpoint}/prod/channels/{urllib.parse.quote(cid)}"
    req = AWSRequest(method="GET", url=url)
    SigV4Auth(Credentials(ACCESS_KEY, SECRET_KEY), "medialive", REGION).add_auth(req)
    r = urllib.request.Request(url, headers=dict(req.headers.items()), method="GET")
    with urllib.request.urlopen(r, timeout=10) as resp:
        return json.loads(resp.read()).get("onairHealth")


def input_state(server, cid, index=0):
    h = health(server, cid)
    assert h is not None, "a running channel reports onairHealth"
    return h["inputs"][index]


def segments(media_url):
    status, body = get(media_url)
    if status != 200:
        return []
    return re.findall(r"^[^#\s].*\.ts$", body.decode(errors="replace"), re.MULTILINE)


def tail_of(seg_url):
    """(tone Hz over the last 0.6 s, YAVG of the last picture) of one segment."""
    pcm = subprocess.run(
        ["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-i", seg_url,
         "-vn", "-ac", "1", "-ar", "8000", "-f", "s16le", "-"],
        capture_output=True, timeout=30, stdin=subprocess.DEVNULL,
    )
    samples = array.array("h")
    samples.frombytes(pcm.stdout[: len(pcm.stdout) // 2 * 2])
    tail = samples[-4800:]
    crossings = sum(1 for a, b in zip(tail, tail[1:]) if (a < 0) != (b < 0))
    tone = crossings / 2 / (len(tail) / 8000) if len(tail) >= 2400 else 0.0
    video = subprocess.run(
        ["ffmpeg", "-hide_banner", "-nostdin", "-i", seg_url, "-an",
         "-vf", "signalstats,metadata=print:key=lavfi.signalstats.YAVG", "-f", "null", "-"],
        capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL,
    )
    yavg = [float(v) for v in re.findall(r"lavfi\.signalstats\.YAVG=([\d.]+)", video.stderr)]
    return tone, (yavg[-1] if yavg else 0.0)


def is_source(tone, yavg, want_hz):
    # testsrc2 averages well above 60 in luma; the fill is black (16).
    return abs(tone - want_hz) < 0.06 * want_hz and yavg > 40


def wait_until_shown(server, media_url, want_hz, since, what):
    """Waits for a segment listed after `since` (time.monotonic()) whose end
    carries the source (its tone, a picture that is not the black fill);
    returns the seconds from `since` to that segment being listed."""
    seen = set(segments(media_url))
    deadline = since + 20
    checked = []
    while time.monotonic() < deadline:
        names = segments(media_url)
        listed_at = time.monotonic()
        for name in names:
            if name in seen:
                continue
            seen.add(name)
            tone, yavg = tail_of(media_url.rsplit("/", 1)[0] + "/" + name)
            checked.append((name, round(listed_at - since, 2), round(tone), round(yavg)))
            if is_source(tone, yavg, want_hz):
                print(f"{what}: shown {listed_at - since:.2f} s after; checked {checked}")
                return listed_at - since
        time.sleep(0.1)
    raise AssertionError(f"{what}: no segment with {want_hz} Hz and a picture within 20 s; "
                         f"checked (segment, s after, Hz, YAVG): {checked}\n{server.log_tail(30)}")


def wait_active(server, flow_arn):
    """Polls DescribeFlow (boto3, fast) until ACTIVE; returns time.monotonic() then."""
    mc = server.client()
    wait_for(lambda: mc.describe_flow(FlowArn=flow_arn)["Flow"]["Status"] == "ACTIVE", 20, interval=0.05,
             what="the flow to be ACTIVE")
    return time.monotonic()


def flow_and_input(server, name, port, start_flow=True):
    flow = server.aws(
        "mediaconnect", "create-flow", "--name", name, "--availability-zone", f"{REGION}a",
        "--source", f"Name={name}-source,Protocol=rtp,IngestPort={port},WhitelistCidr=127.0.0.0/8",
    )["Flow"]
    if start_flow:
        server.aws("mediaconnect", "start-flow", "--flow-arn", flow["FlowArn"])
    input_id = server.aws("medialive", "create-input", "--name", f"{name}-input", "--type", "MEDIACONNECT",
                          "--media-connect-flows", f"FlowArn={flow['FlowArn']}", "--role-arn", medialive_role(server))["Input"]["Id"]
    return flow, input_id


@needs_ffmpeg
def test_channel_started_before_its_flow(server, ports, tmp_path):
    port = ports()
    flow, input_id = flow_and_input(server, "late", port, start_flow=False)
    cid, media_url = start(server, tmp_path, healing_config(input_id))
    state = wait_for(lambda: input_state(server, cid).get("reason") and input_state(server, cid), 10,
                     what="the input to report what it waits for")
    assert state["state"] == "WAITING" and "late" in state.get("reason", "") and "not running" in state["reason"], state

    sender(server, port, 1000, "camera")
    server.aws("mediaconnect", "start-flow", "--flow-arn", flow["FlowArn"])
    active = wait_active(server, flow["FlowArn"])
    took = wait_until_shown(server, media_url, 1000, active, "flow started after the channel")
    assert took <= HEAL_S, f"the flow's picture and tone took {took:.1f} s after ACTIVE"
    wait_for(lambda: input_state(server, cid)["state"] == "CONNECTED", 3, what="the input to report CONNECTED")


@needs_ffmpeg
def test_flow_stopped_and_started_under_a_running_channel(server, ports, tmp_path):
    port = ports()
    flow, input_id = flow_and_input(server, "cam", port)
    cid, media_url = start(server, tmp_path, healing_config(input_id))
    camera = sender(server, port, 1000, "camera")
    wait_until_shown(server, media_url, 1000, time.monotonic(), "the first picture")

    server.aws("mediaconnect", "stop-flow", "--flow-arn", flow["FlowArn"])
    server.aws("mediaconnect", "wait", "flow-standby", "--flow-arn", flow["FlowArn"], timeout=30)
    wait_for(lambda: input_state(server, cid)["state"] == "WAITING", 5, what="the input to wait for its flow")
    assert input_state(server, cid)["losses"] >= 1

    server.aws("mediaconnect", "start-flow", "--flow-arn", flow["FlowArn"])
    if camera.poll() is not None:  # ffmpeg may give up on a refused port
        sender(server, port, 1000, "camera-again")
    active = wait_active(server, flow["FlowArn"])
    took = wait_until_shown(server, media_url, 1000, active, "flow started again")
    assert took <= HEAL_S, f"the flow's picture and tone took {took:.1f} s after ACTIVE"
    wait_for(lambda: input_state(server, cid)["state"] == "CONNECTED", 3, what="the input to report CONNECTED")


@needs_ffmpeg
def test_update_flow_source_under_a_running_channel(server, ports, tmp_path):
    """The source moves to another port with another encoder (2000 Hz): the
    flow's engine restarts and the channel follows it."""
    port, new_port = ports(), ports()
    flow, input_id = flow_and_input(server, "cam", port)
    cid, media_url = start(server, tmp_path, healing_config(input_id))
    old = sender(server, port, 1000, "old-camera")
    wait_until_shown(server, media_url, 1000, time.monotonic(), "the first picture")

    sender(server, new_port, 2000, "new-camera")
    source_arn = flow["Source"]["SourceArn"]
    server.aws("mediaconnect", "update-flow-source", "--flow-arn", flow["FlowArn"], "--source-arn", source_arn,
               "--ingest-port", new_port)
    updated = time.monotonic()
    server.kill_child(old)
    took = wait_until_shown(server, media_url, 2000, updated, "the new source")
    active = server.client().describe_flow(FlowArn=flow["FlowArn"])["Flow"]
    assert active["Status"] == "ACTIVE" and active["Source"]["IngestPort"] == new_port
    assert took <= HEAL_S, f"the new source's picture and tone took {took:.1f} s after the update"


@needs_ffmpeg
def test_push_input_whose_port_was_busy_at_start(server, ports, tmp_path):
    rtp = server.aws("medialive", "create-input", "--name", "push", "--type", "RTP_PUSH")["Input"]
    port = int(rtp["Destinations"][0]["Port"])
    squatter = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    squatter.bind(("127.0.0.1", port))
    try:
        cid, media_url = start(server, tmp_path, healing_config(rtp["Id"]))
        state = wait_for(lambda: input_state(server, cid).get("reason") and input_state(server, cid), 10,
                         what="the input to report its busy port")
        assert state["state"] == "WAITING" and f"cannot listen on port {port}" in state["reason"], state
    finally:
        squatter.close()
    freed = time.monotonic()
    sender(server, port, 1000, "pusher")
    took = wait_until_shown(server, media_url, 1000, freed, "the push input after its port was freed")
    assert took <= HEAL_S, f"the pushed picture and tone took {took:.1f} s after the port was freed"
    wait_for(lambda: input_state(server, cid)["state"] == "CONNECTED", 3, what="the input to report CONNECTED")
