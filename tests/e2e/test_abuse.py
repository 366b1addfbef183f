"""Issue 11: onair on a network where some of what arrives is broken or hostile.

One server with short limits (header and body timeouts 2 s, idle 4 s, at most
400 connections) runs a channel fed by an rtp-fec flow (with a push input as
its backup) into an HLS endpoint. Then, bounded in time and count:

1. at once, for about 8 s: 150 connections that send half a request head (and
   30 more that do so after a first request, on hyper's side), 30 that stall
   their body (API calls and HLS ingest PUTs), 15 that announce oversized
   bodies, 20 that send garbage, and random datagrams on every UDP ingest port
   of the flow and of the push input. Meanwhile the API keeps answering, and
   the endpoint's media playlist keeps getting new segments.
   Every slow connection is answered 408 and closed, every oversized or
   unsigned body is refused before it is sent;
2. 450 connections at once: those past the cap are answered 503 and closed;
   once the crowd leaves, the API answers and the output has advanced.

`/metrics` counts it all. About 30 s.
"""

import http.client
import os
import random
import socket
import threading
import time

import pytest

from conftest import ACCESS_KEY, REGION, SECRET_KEY, Server, medialive_role, needs_ffmpeg, wait_for
from mediatools import encoder
from test_channel import channel_config, get, run_channel

HEADER_S, BODY_S, IDLE_S, MAX_CONNECTIONS = 2, 2, 4, 400
SLACK_S = 3  # a busy 2-core machine encodes and packages meanwhile


@pytest.fixture
def guarded(tmp_path):
    srv = Server(tmp_path)
    srv.env.update(
        ONAIR_HEADER_TIMEOUT=f"{HEADER_S}s", ONAIR_BODY_TIMEOUT=f"{BODY_S}s",
        ONAIR_IDLE_TIMEOUT=f"{IDLE_S}s", ONAIR_MAX_CONNECTIONS=str(MAX_CONNECTIONS),
    )
    try:
        srv.start()
        yield srv
    finally:
        srv.close()


# ---------------------------------------------------------------- raw HTTP

def connect(server, data=b""):
    s = socket.create_connection(("127.0.0.1", server.port), timeout=5)
    if data:
        s.sendall(data)
    return s


def outcome(s, deadline):
    """(status of what the server sent, whether it closed) by `deadline`
    (time.monotonic()); a reset counts as a close."""
    buf, closed = b"", False
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        s.settimeout(left)
        try:
            chunk = s.recv(65536)
        except socket.timeout:
            break
        except OSError:
            closed = True
            break
        if not chunk:
            closed = True
            break
        buf += chunk
    s.close()
    status = int(buf[9:12]) if buf.startswith(b"HTTP/1.1 ") and buf[9:12].isdigit() else None
    return status, closed


def answered_now(s):
    """The status the server has already sent on `s`, if any (without waiting)."""
    s.setblocking(False)
    try:
        buf = s.recv(65536)
    except OSError:
        return None
    return int(buf[9:12]) if buf.startswith(b"HTTP/1.1 ") and buf[9:12].isdigit() else None


def signed_head(server, method, path, service, body, length=None):
    """A request head signed with SigV4 over `body`, declaring `length` bytes."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    req = AWSRequest(method=method, url=f"{server.endpoint}{path}", data=body)
    SigV4Auth(Credentials(ACCESS_KEY, SECRET_KEY), service, REGION).add_auth(req)
    lines = [f"{method} {path} HTTP/1.1", f"Host: 127.0.0.1:{server.port}"]
    lines += [f"{k}: {v}" for k, v in req.headers.items() if k.lower() not in ("host", "content-length")]
    lines.append(f"Content-Length: {len(body) if length is None else length}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def basic_head(path, auth, length):
    import base64
    token = base64.b64encode(auth.encode()).decode()
    return (f"PUT {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Basic {token}\r\n"
            f"Content-Length: {length}\r\n\r\n").encode()


def metric(server, name):
    _, body = get(f"{server.endpoint}/metrics")
    for line in body.decode().splitlines():
        if line.startswith(name + " "):
            return float(line.split()[-1])
    raise AssertionError(f"{name} not in /metrics")


# ---------------------------------------------------------------- UDP garbage

def spray(ports, seconds, rate=1500, seed=11):
    """Random datagrams to every port in turn, `rate` a second in all: raw bytes,
    empty datagrams, RTP-looking headers with TS-looking payloads, and short
    FEC-looking headers."""
    rnd = random.Random(seed)
    shapes = [
        lambda: os.urandom(rnd.randrange(1, 1500)),
        lambda: b"",
        lambda: bytes([0x80, 33]) + os.urandom(10) + (b"\x47" + os.urandom(187)) * 7,
        lambda: bytes([0x80, 96]) + os.urandom(rnd.randrange(0, 40)),
    ]
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sent, started = 0, time.monotonic()
    try:
        while time.monotonic() - started < seconds:
            for port in ports:
                sock.sendto(rnd.choice(shapes)(), ("127.0.0.1", port))
                sent += 1
            ahead = sent / rate - (time.monotonic() - started)
            if ahead > 0:
                time.sleep(ahead)
    finally:
        sock.close()
    return sent


# ---------------------------------------------------------------- the test

def newest_segment(media_url):
    status, body = get(media_url)
    names = [l for l in body.decode(errors="replace").splitlines() if l.endswith(".ts")] if status == 200 else []
    return names[-1] if names else None


@needs_ffmpeg
def test_abuse_leaves_the_channel_and_the_api_standing(guarded, ports, tmp_path):
    server = guarded
    port = ports()
    flow = server.aws(
        "mediaconnect", "create-flow", "--name", "cam", "--availability-zone", f"{REGION}a",
        "--source", f"Name=cam-source,Protocol=rtp-fec,IngestPort={port},WhitelistCidr=127.0.0.0/8",
    )["Flow"]["FlowArn"]
    server.aws("mediaconnect", "start-flow", "--flow-arn", flow)
    camera = server.aws("medialive", "create-input", "--name", "cam-input", "--type", "MEDIACONNECT",
                        "--media-connect-flows", f"FlowArn={flow}", "--role-arn", medialive_role(server))["Input"]["Id"]
    push = server.aws("medialive", "create-input", "--name", "push", "--type", "RTP_PUSH")["Input"]
    encoder(server, f"rtp://127.0.0.1:{port}", fec=True, log_name="camera")
    config = channel_config(camera)
    config["InputAttachments"][0]["AutomaticInputFailoverSettings"] = {
        "SecondaryInputId": push["Id"], "InputPreference": "PRIMARY_INPUT_PREFERRED", "ErrorClearTimeMsec": 2000,
        "FailoverConditions": [{"FailoverConditionSettings": {"InputLossSettings": {"InputLossThresholdMsec": 1000}}}],
    }
    config["InputAttachments"].append({"InputAttachmentName": "push", "InputId": push["Id"],
                                       "InputSettings": {"AudioSelectors": [{"Name": "default"}]}})
    cid, media_url = run_channel(server, tmp_path, config)
    first = wait_for(lambda: newest_segment(media_url), 25, interval=0.5, what="a first segment")
    ingest = server.aws("mediapackage", "describe-channel", "--id", "e2e-pkg")["HlsIngest"]["IngestEndpoints"][0]
    ingest_path = ingest["Url"].split(str(server.port), 1)[1].rsplit("/", 1)[0] + "/slow.ts"
    ingest_auth = f"{ingest['Username']}:{ingest['Password']}"

    # 1. Everything at once, watched by an API client and a player.
    udp_ports = [port, port + 1, port + 2, port + 4] + [int(d["Port"]) for d in push["Destinations"]]
    sprayed = []
    sprayer = threading.Thread(target=lambda: sprayed.append(spray(udp_ports, seconds=8)), daemon=True)
    watching = threading.Event()
    calls, segments = [], set()

    def watch():
        ml = server.client("medialive")
        while not watching.is_set():
            started = time.monotonic()
            try:
                state = ml.describe_channel(ChannelId=cid)["State"]
            except Exception as e:  # noqa: BLE001 - recorded and asserted on below
                state = repr(e)
            calls.append((state, time.monotonic() - started))
            segments.add(newest_segment(media_url))
            time.sleep(0.4)

    watcher = threading.Thread(target=watch, daemon=True)
    sprayer.start()
    watcher.start()
    started = time.monotonic()
    half_heads = [
        b"GET /out/v1/e2e-pkg/e2e-pkg-hls/index_1.m3u8 HTTP/1.1\r\nHost: x\r\nX-Slow: ",
        b"POST /prod/channels HTTP/1.1\r\nHost: x\r\nContent-",
    ]
    slow_heads = [connect(server, half_heads[i % 2]) for i in range(150)]
    slow_heads_hyper = []
    for _ in range(30):  # a first request (answered by hyper), then half a head
        s = connect(server, b"GET /v1/flows HTTP/1.1\r\nHost: x\r\n\r\n")
        resp = http.client.HTTPResponse(s)
        resp.begin()
        resp.read()
        assert resp.status == 403
        s.sendall(half_heads[1])
        slow_heads_hyper.append(s)
    body = b"{" + b" " * 998 + b"}"
    slow_bodies = []
    for i in range(30):
        if i % 3:
            s = connect(server, signed_head(server, "POST", "/prod/channels", "medialive", body) + body[:10])
        else:
            s = connect(server, basic_head(ingest_path, ingest_auth, 100_000) + b"\x47" * 100)
        slow_bodies.append(s)
    oversized = []
    for i in range(15):
        head = [
            signed_head(server, "POST", "/prod/channels", "medialive", b"", length=3 << 20),
            basic_head(ingest_path, ingest_auth, 40 << 20),
            b"POST /prod/channels HTTP/1.1\r\nHost: x\r\nContent-Length: 100000000\r\n\r\n",
        ][i % 3]
        oversized.append((connect(server, head), [413, 413, 403][i % 3]))
    rnd = random.Random(7)
    garbage = [connect(server, bytes(rnd.randrange(256) for _ in range(2048))) for _ in range(20)]

    # Refusals come at once, before any body is sent.
    for s, code in oversized:
        assert outcome(s, time.monotonic() + SLACK_S) == (code, True)
    for s in garbage:
        status, closed = outcome(s, time.monotonic() + HEADER_S + SLACK_S)
        assert closed and status in (400, 408, None), status
    # Slow heads and bodies: 408 and closed, within their timeout.
    deadline = started + max(HEADER_S, BODY_S) + SLACK_S
    outcomes = [outcome(s, deadline) for s in slow_heads + slow_heads_hyper + slow_bodies]
    assert outcomes == [(408, True)] * len(outcomes), outcomes
    sprayer.join(timeout=15)
    watching.set()
    watcher.join(timeout=15)

    assert sprayed and sprayed[0] > 5000, sprayed
    answered = [latency for state, latency in calls if state == "RUNNING"]
    assert len(answered) == len(calls) and len(calls) >= 5, calls
    assert max(answered) < 3, calls
    assert len(segments - {None, first}) >= 2, f"the output stood still under abuse: {segments}"
    running = server.aws("medialive", "describe-channel", "--channel-id", cid)
    assert running["PipelineDetails"][0]["ActiveInputAttachmentName"] == "camera", running["PipelineDetails"]

    # 2. More connections than the cap: the surplus is answered 503 and closed at once.
    before = newest_segment(media_url)
    crowd = [socket.create_connection(("127.0.0.1", server.port), timeout=5)
             for _ in range(MAX_CONNECTIONS + 50)]
    time.sleep(0.5)
    busy = sum(1 for s in crowd if answered_now(s) == 503)
    assert busy >= 40, busy
    for s in crowd:
        s.close()
    # Their places free as they close; everyone is served again.
    ml = server.client("medialive")
    wait_for(lambda: ml.describe_channel(ChannelId=cid)["State"] == "RUNNING", SLACK_S,
             what="the API to answer after the crowd")
    wait_for(lambda: newest_segment(media_url) not in (None, before), 10, what="a segment after the crowd")

    assert metric(server, 'onair_http_timeouts{phase="header"}') >= 180
    assert metric(server, 'onair_http_timeouts{phase="body"}') >= 30
    assert metric(server, "onair_http_connections_refused") >= 40
