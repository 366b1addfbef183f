"""SRT sources and outputs of a flow, against real peers on loopback.

The encoder side is ffmpeg (a real H.264 + AAC transport stream, 1316-byte
UDP datagrams) relayed by `srt-live-transmit` as an SRT caller with a
passphrase; the receiving side is a second `srt-live-transmit` calling the
flow's srt-listener output and writing UDP, which the test reads and checks
packet by packet (sync bytes, whole 7-packet messages, continuity counters).
The passphrase lives in a Secrets Manager secret, as on AWS.
"""

import json
import shutil
import socket
import subprocess
import threading
import time
import urllib.request

import pytest

import mediatools as m
from conftest import BIN, Server, needs_ffmpeg, wait_for

PASSPHRASE = "correct-horse-battery-staple"
ROLE = "arn:aws:iam::111122223333:role/MediaConnectSecrets"

needs_srt = pytest.mark.skipif(
    shutil.which("srt-live-transmit") is None,
    reason="srt-live-transmit not installed (Debian srt-tools; scripts/setup.sh test installs it)",
)


# ---------------------------------------------------------------- helpers

def secret(server, name, value=PASSPHRASE):
    """Creates a SecretString secret with the aws CLI; returns its ARN."""
    return server.aws("secretsmanager", "create-secret", "--name", name, "--secret-string", value)["ARN"]


def encryption(secret_arn, algorithm="aes256"):
    return f"{{KeyType=srt-password,Algorithm={algorithm},SecretArn={secret_arn},RoleArn={ROLE}}}"


def start_flow(server, arn):
    server.aws("mediaconnect", "start-flow", "--flow-arn", arn)
    server.aws("mediaconnect", "wait", "flow-active", "--flow-arn", arn, timeout=60)


def start_merge_flow(server, name, udp_out, *sources):
    """Creates and starts a MERGE flow of `sources` (CLI shorthand) with one
    UDP output to `udp_out`; returns its ARN."""
    arn = server.aws(
        "mediaconnect", "create-flow", "--name", name, "--sources", *sources,
        "--source-failover-config", "State=ENABLED,FailoverMode=MERGE,RecoveryWindow=500",
        "--outputs", f"Name=out,Protocol=udp,Destination=127.0.0.1,Port={udp_out}",
    )["Flow"]["FlowArn"]
    start_flow(server, arn)
    return arn


def ts_encoder(server, udp_port, log_name="ffmpeg", size="320x180"):
    """ffmpeg sending a real-time test signal (H.264 of `size` and AAC) as
    MPEG-TS in 1316-byte UDP datagrams to 127.0.0.1:udp_port."""
    log = open(server.tmp / f"{log_name}.log", "ab")
    return server.popen(
        ["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "warning", "-re",
         "-f", "lavfi", "-i", f"testsrc2=size={size}:rate=25",
         "-f", "lavfi", "-i", "sine=frequency=1000",
         "-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-g", "25", "-b:v", "800k",
         "-c:a", "aac", "-f", "mpegts", f"udp://127.0.0.1:{udp_port}?pkt_size=1316"],
        stdout=log, stderr=subprocess.STDOUT,
    )


def slt(server, src, dst, log_name, *flags):
    """srt-live-transmit SRC DST, logging to a file; ended by the fixture."""
    log = open(server.tmp / f"{log_name}.log", "ab")
    return server.popen(["srt-live-transmit", "-loglevel:warn", *flags, src, dst],
                        stdout=log, stderr=subprocess.STDOUT)


def srt_url(port, passphrase=PASSPHRASE, mode="caller", latency=200):
    url = f"srt://127.0.0.1:{port}?mode={mode}&latency={latency}"
    if passphrase:
        url += f"&passphrase={passphrase}&pbkeylen=32"
    return url


def receive(port, seconds):
    """Every datagram arriving on 127.0.0.1:port within `seconds`."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
    s.bind(("127.0.0.1", port))
    s.settimeout(0.2)
    got = []
    deadline = time.monotonic() + seconds
    try:
        while time.monotonic() < deadline:
            try:
                got.append(s.recv(65536))
            except socket.timeout:
                pass
    finally:
        s.close()
    return got


def ts_problems(datagrams):
    """What is wrong with a TS stream delivered in datagrams: sizes, sync
    bytes and continuity counters (ISO/IEC 13818-1 §2.4.3.3: the counter of
    a PID goes up by one with each packet that carries payload). The first
    packet of each PID only sets the counter."""
    problems = []
    cc = {}
    for n, d in enumerate(datagrams):
        if len(d) == 0 or len(d) % 188:
            problems.append(f"datagram {n}: {len(d)} bytes, not whole TS packets")
            continue
        for k in range(0, len(d), 188):
            p = d[k:k + 188]
            if p[0] != 0x47:
                problems.append(f"datagram {n} packet {k // 188}: sync byte {p[0]:#x}")
                continue
            pid = ((p[1] & 0x1F) << 8) | p[2]
            if pid == 0x1FFF or not p[3] & 0x10:
                continue  # null packets and packets without payload
            counter = p[3] & 0x0F
            discontinuity = p[3] & 0x20 and p[4] > 0 and p[5] & 0x80
            if pid in cc and not discontinuity and counter != (cc[pid] + 1) % 16:
                problems.append(f"datagram {n}: PID {pid:#x} counter {cc[pid]} then {counter}")
            cc[pid] = counter
    return problems


def metric(server, name, dims, statistic="Maximum"):
    """The datapoints of an AWS/MediaConnect metric over the last two minutes."""
    now = int(time.time())
    return server.aws(
        "cloudwatch", "get-metric-statistics", "--namespace", "AWS/MediaConnect", "--metric-name", name,
        "--dimensions", *[f"Name={k},Value={v}" for k, v in dims],
        "--start-time", str(now - 120), "--end-time", str(now + 60), "--period", "60",
        "--statistics", statistic, "SampleCount",
    )["Datapoints"]


def link_stats(server, arn, protocol, name=None, output=None):
    """The `protocol` ("srt" or "rist") block of a source (by name) or output
    (by ARN) in the flow's stats."""
    st = server.stats(arn) or {}
    if name is not None:
        items = [s for s in st.get("sources", []) if s.get("name") == name]
    else:
        items = [o for o in st.get("outputs", []) if o.get("id") == output]
    return (items[0].get(protocol) if items else None) or {}


def srt_stats(server, arn, name=None, output=None):
    return link_stats(server, arn, "srt", name=name, output=output)


# ---------------------------------------------------------------- tests

@needs_srt
@needs_ffmpeg
@pytest.mark.deadline(150)
def test_srt_listener_source_to_srt_listener_output_with_passphrase(server, ports):
    udp_in, srt_in, srt_out, udp_out, udp_bad = ports(), ports(), ports(), ports(), ports()
    arn_secret = secret(server, "flows/srt-passphrase")
    flow = server.aws(
        "mediaconnect", "create-flow", "--name", "srt-show",
        "--source",
        f"Name=encoder,Protocol=srt-listener,IngestPort={srt_in},MinLatency=200,"
        f"WhitelistCidr=127.0.0.0/8,Decryption={encryption(arn_secret)}",
        "--outputs",
        f"Name=program,Protocol=srt-listener,Port={srt_out},MinLatency=200,"
        f"CidrAllowList=127.0.0.0/8,Encryption={encryption(arn_secret)}",
    )["Flow"]
    arn = flow["FlowArn"]
    source = flow["Source"]
    assert source["Transport"]["Protocol"] == "srt-listener", source
    assert source["Transport"]["MinLatency"] == 200, source
    assert source["Decryption"]["KeyType"] == "srt-password", source
    assert source["Decryption"]["SecretArn"] == arn_secret, source
    output = flow["Outputs"][0]
    assert output["Port"] == srt_out and "Destination" not in output, output
    assert output["Transport"]["CidrAllowList"] == ["127.0.0.0/8"], output
    start_flow(server, arn)

    ts_encoder(server, udp_in)
    slt(server, f"udp://127.0.0.1:{udp_in}", srt_url(srt_in), "slt-encoder")
    slt(server, srt_url(srt_out), f"udp://127.0.0.1:{udp_out}", "slt-reader")

    wait_for(lambda: srt_stats(server, arn, name="encoder").get("connected"), 20,
             what="the encoder's SRT connection")
    out_arn = output["OutputArn"]
    wait_for(lambda: srt_stats(server, arn, output=out_arn).get("connected"), 20,
             what="the reader's SRT connection")

    got = receive(udp_out, 4.0)
    assert len(got) > 200, f"only {len(got)} datagrams from the srt-listener output"
    assert ts_problems(got) == [], ts_problems(got)[:10]

    # A caller with the wrong passphrase is refused and counted; the
    # listener goes on serving the encoder.
    bad = slt(server, f"udp://127.0.0.1:{udp_bad}", srt_url(srt_in, passphrase="not-the-passphrase"),
              "slt-wrong", "-a:no")
    st = wait_for(lambda: (s := srt_stats(server, arn, name="encoder")).get("refused", 0) >= 1 and s, 20,
                  what="the wrong passphrase to be counted")
    assert st["connected"] and st["connections"] == 1, st
    server.kill_child(bad)
    assert "wrong passphrase" in server.log_path.read_text(errors="replace")
    errors = server.aws("mediaconnect", "describe-flow", "--flow-arn", arn)["Messages"]["Errors"]
    assert any("SRT connections refused" in e for e in errors), errors

    got = receive(udp_out, 2.0)
    assert len(got) > 100 and ts_problems(got) == [], (len(got), ts_problems(got)[:10])

    stats = server.stats(arn)
    src = stats["sources"][0]
    assert src["packets"] > 0 and src["bitrate_bps"] > 0, src
    assert src["ts"].get("continuity_errors", 0) == 0, src
    out = stats["outputs"][0]
    assert out["packets"] > 0 and out["send_errors"] == 0, out

    # MediaConnect's SRT metrics, through CloudWatch and /metrics.
    per_source = [("FlowARN", arn), ("SourceARN", source["SourceArn"])]
    connected = wait_for(lambda: metric(server, "SourceConnected", per_source), 15,
                         what="SourceConnected datapoints")
    assert max(p["Maximum"] for p in connected) == 1.0, connected
    for name in ("SourceARQRequests", "SourceARQRecovered", "SourceRoundTripTime", "SourceDisconnections"):
        points = metric(server, name, per_source)
        assert points and all(p["Maximum"] >= 0 for p in points), (name, points)
    assert metric(server, "SourceRoundTripTime", per_source)[0]["Unit"] == "Milliseconds"
    errors = metric(server, "SourceConnectionErrors", per_source, "Sum")
    assert sum(p["Sum"] for p in errors) >= 1, errors  # the wrong passphrase
    bitrate = metric(server, "SourceBitRate", [("FlowARN", arn)], "Average")
    assert bitrate and max(p["Average"] for p in bitrate) > 100_000, bitrate
    output_connected = metric(server, "OutputConnected", [("FlowARN", arn), ("OutputARN", out_arn)])
    assert output_connected and max(p["Maximum"] for p in output_connected) == 1.0, output_connected
    with urllib.request.urlopen(server.endpoint + "/metrics", timeout=10) as r:
        text = r.read().decode()
    for name in ("source_arq_requests", "source_round_trip_time", "source_connected", "output_connected"):
        assert name in text, name


@needs_srt
def test_srt_settings_are_checked_at_create(server, ports):
    p = ports()
    base = f"Name=enc,Protocol=srt-listener,IngestPort={p}"

    # A secret that does not exist: 404 naming the member.
    r = server.aws_run("mediaconnect", "create-flow", "--name", "a", "--source",
                       base + ",Decryption=" + encryption(
                           "arn:aws:secretsmanager:us-west-2:111122223333:secret:nope-AbCdEf"))
    assert r.returncode != 0 and "NotFoundException" in r.stderr, r.stderr
    assert "source.decryption.secretArn" in r.stderr, r.stderr

    # Only srt-password keys; the secret must be named.
    arn_secret = secret(server, "flows/x")
    r = server.aws_run("mediaconnect", "create-flow", "--name", "b", "--source",
                       base + f",Decryption={{KeyType=static-key,SecretArn={arn_secret},RoleArn={ROLE}}}")
    assert r.returncode != 0 and "source.decryption.keyType" in r.stderr, r.stderr
    r = server.aws_run("mediaconnect", "create-flow", "--name", "c", "--source",
                       base + f",Decryption={{KeyType=srt-password,RoleArn={ROLE}}}")
    assert r.returncode != 0 and "source.decryption.secretArn" in r.stderr, r.stderr

    # A passphrase SRT cannot use.
    short = secret(server, "flows/short", "tooshort")
    r = server.aws_run("mediaconnect", "create-flow", "--name", "d", "--source",
                       base + ",Decryption=" + encryption(short))
    assert r.returncode != 0 and "BadRequestException" in r.stderr and "10 to 79" in r.stderr, r.stderr

    # SRT members with another protocol, and latency bounds.
    r = server.aws_run("mediaconnect", "create-flow", "--name", "e", "--source",
                       f"Name=enc,Protocol=udp,IngestPort={p},MinLatency=100")
    assert r.returncode != 0 and "source.minLatency" in r.stderr, r.stderr
    r = server.aws_run("mediaconnect", "create-flow", "--name", "f", "--source", base + ",MinLatency=5")
    assert r.returncode != 0 and "source.minLatency: 5 ms is out of range" in r.stderr, r.stderr

    # srt-caller needs the listener it calls.
    r = server.aws_run("mediaconnect", "create-flow", "--name", "g", "--source",
                       "Name=enc,Protocol=srt-caller,SourceListenerPort=9000")
    assert r.returncode != 0 and "source.sourceListenerAddress: is required" in r.stderr, r.stderr
    ok = server.aws("mediaconnect", "create-flow", "--name", "h", "--source",
                    "Name=enc,Protocol=srt-caller,SourceListenerAddress=127.0.0.1,SourceListenerPort=9000,"
                    "StreamId=cam1")["Flow"]
    t = ok["Source"]["Transport"]
    assert (t["SourceListenerAddress"], t["SourceListenerPort"], t["StreamId"]) == ("127.0.0.1", 9000, "cam1"), t
    assert "IngestPort" not in ok["Source"], ok["Source"]
    desc = server.aws("mediaconnect", "describe-flow", "--flow-arn", ok["FlowArn"])
    assert json.dumps(desc["Flow"]["Source"]) == json.dumps(ok["Source"])

    # An srt-listener output listens: its port is checked like an ingest port.
    server.aws("mediaconnect", "create-flow", "--name", "i", "--source", base)
    r = server.aws_run("mediaconnect", "create-flow", "--name", "j", "--source",
                       f"Name=enc,Protocol=srt-listener,IngestPort={ports()}",
                       "--outputs", f"Name=pull,Protocol=srt-listener,Port={p}")
    assert r.returncode != 0 and f"port: port {p} of output 'pull' is already used by source 'enc'" in r.stderr, \
        r.stderr


@needs_srt
@needs_ffmpeg
@pytest.mark.deadline(150)
def test_srt_caller_source_and_output_reconnect(server, ports):
    """The flow calls the encoder (srt-live-transmit listening) and calls
    the receiver (srt-live-transmit listening); when either goes away and
    comes back, the flow calls again and the stream resumes intact."""
    udp_in, enc_port, rcv_port, udp_out = ports(), ports(), ports(), ports()
    arn_secret = secret(server, "flows/srt-caller")
    flow = server.aws(
        "mediaconnect", "create-flow", "--name", "srt-calls",
        "--source",
        f"Name=remote,Protocol=srt-caller,SourceListenerAddress=127.0.0.1,SourceListenerPort={enc_port},"
        f"MinLatency=200,StreamId=cam1,Decryption={encryption(arn_secret, 'aes128')}",
        "--outputs",
        f"Name=to-studio,Protocol=srt-caller,Destination=127.0.0.1,Port={rcv_port},MinLatency=200,"
        f"Encryption={encryption(arn_secret, 'aes128')}",
    )["Flow"]
    arn, out_arn = flow["FlowArn"], flow["Outputs"][0]["OutputArn"]
    start_flow(server, arn)

    def enc_url():
        return srt_url(enc_port, mode="listener").replace("pbkeylen=32", "pbkeylen=16")

    def rcv_url():
        return srt_url(rcv_port, mode="listener").replace("pbkeylen=32", "pbkeylen=16")

    ts_encoder(server, udp_in)
    encoder = slt(server, f"udp://127.0.0.1:{udp_in}", enc_url(), "slt-encoder")
    receiver = slt(server, rcv_url(), f"udp://127.0.0.1:{udp_out}", "slt-receiver")

    wait_for(lambda: srt_stats(server, arn, name="remote").get("connected"), 30,
             what="the flow's call to the encoder")
    wait_for(lambda: srt_stats(server, arn, output=out_arn).get("connected"), 30,
             what="the flow's call to the receiver")
    got = receive(udp_out, 3.0)
    assert len(got) > 150 and ts_problems(got) == [], (len(got), ts_problems(got)[:10])

    # The receiver goes away: the output notices, calls again with backoff,
    # and delivers once it is back.
    server.kill_child(receiver)
    st = wait_for(lambda: (s := srt_stats(server, arn, output=out_arn)).get("disconnections", 0) >= 1 and s,
                  30, what="the receiver's disconnection")
    assert not st["connected"], st
    errors = server.aws("mediaconnect", "describe-flow", "--flow-arn", arn)["Messages"]["Errors"]
    assert any(e.startswith("Output 'to-studio' cannot reach the SRT listener at 127.0.0.1:") for e in errors), errors
    time.sleep(2)
    receiver = slt(server, rcv_url(), f"udp://127.0.0.1:{udp_out}", "slt-receiver-2")
    st = wait_for(lambda: (s := srt_stats(server, arn, output=out_arn)).get("connected") and s, 30,
                  what="the flow to call the receiver again")
    assert st["connections"] == 2, st
    got = receive(udp_out, 3.0)
    assert len(got) > 150 and ts_problems(got) == [], (len(got), ts_problems(got)[:10])

    # The encoder goes away and comes back: the source calls it again.
    server.kill_child(encoder)
    wait_for(lambda: srt_stats(server, arn, name="remote").get("disconnections", 0) >= 1, 30,
             what="the encoder's disconnection")
    encoder = slt(server, f"udp://127.0.0.1:{udp_in}", enc_url(), "slt-encoder-2")
    st = wait_for(lambda: (s := srt_stats(server, arn, name="remote")).get("connected") and s, 30,
                  what="the flow to call the encoder again")
    assert st["connections"] == 2, st
    got = receive(udp_out, 3.0)
    assert len(got) > 150, len(got)
    # The switch between encoder sessions may break continuity once; after
    # it the stream is clean again.
    assert ts_problems(receive(udp_out, 2.0)) == []


@needs_srt
@needs_ffmpeg
@pytest.mark.deadline(150)
def test_srt_listeners_come_back_after_updates_and_restarts(server, ports):
    """Changing a running flow's SRT source restarts the engine, changing its
    SRT output re-opens that listener, and stop/start reopens both: each
    time on the same ports, and the peers (which reconnect on their own)
    are served again."""
    udp_in, srt_in, srt_out, udp_out = ports(), ports(), ports(), ports()
    flow = server.aws(
        "mediaconnect", "create-flow", "--name", "srt-restarts",
        "--source", f"Name=encoder,Protocol=srt-listener,IngestPort={srt_in},MinLatency=120",
        "--outputs", f"Name=program,Protocol=srt-listener,Port={srt_out},MinLatency=120",
    )["Flow"]
    arn, src_arn = flow["FlowArn"], flow["Source"]["SourceArn"]
    out_arn = flow["Outputs"][0]["OutputArn"]
    start_flow(server, arn)
    ts_encoder(server, udp_in)
    slt(server, f"udp://127.0.0.1:{udp_in}", srt_url(srt_in, passphrase=None, latency=120), "slt-encoder")
    slt(server, srt_url(srt_out, passphrase=None, latency=120), f"udp://127.0.0.1:{udp_out}", "slt-reader")

    def flowing(what):
        wait_for(lambda: srt_stats(server, arn, name="encoder").get("connected"), 30, what=f"encoder {what}")
        wait_for(lambda: srt_stats(server, arn, output=out_arn).get("connected"), 30, what=f"reader {what}")
        wait_for(lambda: receive(udp_out, 1.0), 20, what=f"datagrams {what}")
        got = receive(udp_out, 1.5)
        assert len(got) > 50 and ts_problems(got) == [], (what, len(got), ts_problems(got)[:10])

    flowing("at first")
    server.aws("mediaconnect", "update-flow-source", "--flow-arn", arn, "--source-arn", src_arn,
               "--min-latency", "150")
    time.sleep(1)
    flowing("after the source changed")
    server.aws("mediaconnect", "update-flow-output", "--flow-arn", arn, "--output-arn", out_arn,
               "--min-latency", "150")
    time.sleep(1)
    flowing("after the output changed")
    server.aws("mediaconnect", "stop-flow", "--flow-arn", arn)
    server.aws("mediaconnect", "wait", "flow-standby", "--flow-arn", arn, timeout=60)
    start_flow(server, arn)
    flowing("after stop and start")
    desc = server.aws("mediaconnect", "describe-flow", "--flow-arn", arn)["Flow"]
    assert desc["Status"] == "ACTIVE" and not desc.get("Messages", {}).get("Errors"), desc


@needs_srt
@pytest.mark.deadline(90)
def test_srt_callers_outside_the_allow_list_are_refused(server, ports):
    """An srt-listener output whose cidrAllowList excludes loopback refuses
    a receiver calling from 127.0.0.1: counted, logged, reported."""
    srt_in, srt_out, udp_out = ports(), ports(), ports()
    flow = server.aws(
        "mediaconnect", "create-flow", "--name", "srt-cidr",
        "--source", f"Name=encoder,Protocol=srt-listener,IngestPort={srt_in}",
        "--outputs", f"Name=far,Protocol=srt-listener,Port={srt_out},CidrAllowList=192.0.2.0/24",
    )["Flow"]
    arn, out_arn = flow["FlowArn"], flow["Outputs"][0]["OutputArn"]
    start_flow(server, arn)
    slt(server, srt_url(srt_out, passphrase=None), f"udp://127.0.0.1:{udp_out}", "slt-outsider")
    st = wait_for(lambda: (s := srt_stats(server, arn, output=out_arn)).get("refused", 0) >= 1 and s, 20,
                  what="the outsider to be refused")
    assert not st["connected"] and st["connections"] == 0, st
    log = server.log_path.read_text(errors="replace")
    assert "address not in the allow list" in log, log[-2000:]
    errors = server.aws("mediaconnect", "describe-flow", "--flow-arn", arn)["Messages"]["Errors"]
    assert any("Output 'far' has no SRT receiver connected" in e for e in errors), errors


@needs_srt
@needs_ffmpeg
@pytest.mark.deadline(120)
def test_ffmpeg_as_srt_caller_and_listener(server, ports):
    """ffmpeg's own SRT (libavformat on libsrt) at both ends: it calls the
    flow's srt-listener source with a passphrase, reads the srt-listener
    output as a caller, and listens for the flow's srt-caller output; both
    readers decode clean H.264 + AAC."""
    srt_in, srt_out, ffmpeg_listens = ports(), ports(), ports()
    arn_secret = secret(server, "flows/ffmpeg")
    flow = server.aws(
        "mediaconnect", "create-flow", "--name", "srt-ffmpeg",
        "--source",
        f"Name=ffmpeg,Protocol=srt-listener,IngestPort={srt_in},MinLatency=200,"
        f"Decryption={encryption(arn_secret, 'aes128')}",
        "--outputs",
        f"Name=pull,Protocol=srt-listener,Port={srt_out},MinLatency=200,Encryption={encryption(arn_secret, 'aes128')}",
        f"Name=push,Protocol=srt-caller,Destination=127.0.0.1,Port={ffmpeg_listens},MinLatency=200,"
        f"Encryption={encryption(arn_secret, 'aes128')}",
    )["Flow"]
    arn = flow["FlowArn"]
    key = f"passphrase={PASSPHRASE}&pbkeylen=16"
    # ffmpeg listens before the flow starts, so the flow's first call finds it.
    pushed = m.Reader(f"srt://127.0.0.1:{ffmpeg_listens}?mode=listener&{key}", seconds=3)
    start_flow(server, arn)
    log = open(server.tmp / "ffmpeg-srt.log", "ab")
    server.popen(
        ["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "warning", "-re",
         "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=25", "-f", "lavfi", "-i", "sine=frequency=1000",
         "-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-g", "25",
         "-c:a", "aac", "-f", "mpegts",
         f"srt://127.0.0.1:{srt_in}?mode=caller&{key}&latency=200000&pkt_size=1316"],
        stdout=log, stderr=subprocess.STDOUT,
    )
    wait_for(lambda: srt_stats(server, arn, name="ffmpeg").get("connected"), 20, what="ffmpeg's SRT call")
    m.read(f"srt://127.0.0.1:{srt_out}?mode=caller&{key}", 3).assert_clean_av()
    pushed.result().assert_clean_av()
    st = server.stats(arn)
    assert st["sources"][0]["malformed"] == 0, st["sources"][0]
    assert all(o["srt"]["connections"] >= 1 for o in st["outputs"]), st["outputs"]


def kill_the_leading_path(server, arn, paths, udp_out):
    """In a running MERGE flow of two paths (`paths`: the processes feeding
    them), kills the path the merge takes most from while reading the
    output: the output must keep its continuity and lose nothing, and the
    other path take over. Which path delivers first depends on each
    connection's time base, so one path may carry the whole stream until it
    goes. Returns the index of the killed path."""
    time.sleep(1)
    got = []
    reader = threading.Thread(target=lambda: got.extend(receive(udp_out, 5.0)))
    reader.start()
    time.sleep(2)
    before = server.stats(arn)["merge"]["from_path"]
    leader = before.index(max(before))
    server.kill_child(paths[leader])
    reader.join(timeout=15)
    assert len(got) > 300, len(got)
    assert ts_problems(got) == [], ts_problems(got)[:10]
    merge = server.stats(arn)["merge"]
    assert merge["lost"] == 0 and merge["duplicates"] > 100, merge
    assert merge["from_path"][1 - leader] > before[1 - leader], (before, merge)
    return leader


@needs_srt
@needs_ffmpeg
@pytest.mark.deadline(120)
def test_merge_of_two_srt_paths_survives_one_dying(server, ports):
    """One TS feed relayed over two SRT paths into a MERGE flow: the output
    is the stream exactly once, and killing one path leaves no mark on it
    (continuity intact across the kill)."""
    feed, path_a, path_b, srt_a, srt_b, udp_out = ports(), ports(), ports(), ports(), ports(), ports()
    arn = start_merge_flow(server, "srt-merge", udp_out,
                           f"Name=path-a,Protocol=srt-listener,IngestPort={srt_a},MinLatency=200",
                           f"Name=path-b,Protocol=srt-listener,IngestPort={srt_b},MinLatency=200")
    relay = m.Relay(feed, [path_a, path_b])
    try:
        ts_encoder(server, feed)
        paths = [slt(server, f"udp://127.0.0.1:{path_a}", srt_url(srt_a, passphrase=None), "slt-a"),
                 slt(server, f"udp://127.0.0.1:{path_b}", srt_url(srt_b, passphrase=None), "slt-b")]
        for name in ("path-a", "path-b"):
            wait_for(lambda: srt_stats(server, arn, name=name).get("connected"), 20, what=f"{name} connected")
        leader = kill_the_leading_path(server, arn, paths, udp_out)
        killed = ("path-a", "path-b")[leader]
        wait_for(lambda: srt_stats(server, arn, name=killed).get("disconnections", 0) >= 1, 20,
                 what=f"{killed}'s disconnection")
    finally:
        relay.close()


@needs_srt
@needs_ffmpeg
@pytest.mark.deadline(120)
def test_srt_output_added_to_a_running_udp_flow(server, ports):
    """A running flow with no SRT at all gets an srt-listener output: it is
    served at once (no restart), and disabling it closes it."""
    udp_in, srt_out, udp_out = ports(), ports(), ports()
    flow = server.aws("mediaconnect", "create-flow", "--name", "udp-then-srt", "--source",
                      f"Name=cam,Protocol=udp,IngestPort={udp_in},WhitelistCidr=127.0.0.0/8")["Flow"]
    arn = flow["FlowArn"]
    start_flow(server, arn)
    ts_encoder(server, udp_in)
    added = server.aws("mediaconnect", "add-flow-outputs", "--flow-arn", arn, "--outputs",
                       f"Name=srt,Protocol=srt-listener,Port={srt_out},MinLatency=120")["Outputs"][0]
    out_arn = added["OutputArn"]
    slt(server, srt_url(srt_out, passphrase=None, latency=120), f"udp://127.0.0.1:{udp_out}", "slt-reader")
    wait_for(lambda: srt_stats(server, arn, output=out_arn).get("connected"), 20, what="the SRT receiver")
    got = receive(udp_out, 2.0)
    assert len(got) > 50 and ts_problems(got) == [], (len(got), ts_problems(got)[:10])

    server.aws("mediaconnect", "update-flow-output", "--flow-arn", arn, "--output-arn", out_arn,
               "--output-status", "DISABLED")
    wait_for(lambda: not any(o.get("srt", {}) and o["srt"].get("connected")
                             for o in (server.stats(arn) or {}).get("outputs", [])), 20,
             what="the disabled output to close")
    assert receive(udp_out, 1.0) == []


@needs_srt
@needs_ffmpeg
@pytest.mark.deadline(120)
def test_flow_batching_forwards_srt_and_udp_whole(tmp_path, ports):
    """`onair serve --flow-batching 5ms`: flows forward in 5 ms rounds, and an
    SRT source and a UDP source each come out whole and in order; a value
    out of range stops the server with a message naming the range."""
    bad = subprocess.run([str(BIN), "serve", "--flow-batching", "1s", "--data-dir", str(tmp_path / "bad")],
                         capture_output=True, text=True, timeout=20, stdin=subprocess.DEVNULL)
    assert bad.returncode == 2 and "500us to 50ms" in bad.stderr, bad.stderr

    server = Server(tmp_path)
    server.extra_args = ["--flow-batching", "5ms"]
    try:
        server.start()
        feed, srt_in, srt_udp_out, udp_in, udp_out = ports(), ports(), ports(), ports(), ports()
        srt_flow = server.aws(
            "mediaconnect", "create-flow", "--name", "batched-srt",
            "--source", f"Name=enc,Protocol=srt-listener,IngestPort={srt_in},MinLatency=200",
            "--outputs", f"Name=out,Protocol=udp,Destination=127.0.0.1,Port={srt_udp_out}",
        )["Flow"]["FlowArn"]
        udp_flow = server.aws(
            "mediaconnect", "create-flow", "--name", "batched-udp",
            "--source", f"Name=enc,Protocol=udp,IngestPort={udp_in},WhitelistCidr=127.0.0.0/8",
            "--outputs", f"Name=out,Protocol=udp,Destination=127.0.0.1,Port={udp_out}",
        )["Flow"]["FlowArn"]
        start_flow(server, srt_flow)
        start_flow(server, udp_flow)
        ts_encoder(server, feed, "ffmpeg-srt")
        slt(server, f"udp://127.0.0.1:{feed}", srt_url(srt_in, passphrase=None), "slt-batched")
        ts_encoder(server, udp_in, "ffmpeg-udp")
        wait_for(lambda: srt_stats(server, srt_flow, name="enc").get("connected"), 20, what="the SRT call")
        results = {}

        def read(name, port):
            results[name] = receive(port, 4.0)

        readers = [threading.Thread(target=read, args=a) for a in (("srt", srt_udp_out), ("udp", udp_out))]
        for r in readers:
            r.start()
        for r in readers:
            r.join(timeout=15)
        for name, got in results.items():
            assert len(got) > 200, (name, len(got))
            assert ts_problems(got) == [], (name, ts_problems(got)[:10])
        for arn in (srt_flow, udp_flow):
            st = server.stats(arn)
            assert st["flow_ts"]["continuity_errors"] == 0, st["flow_ts"]
            assert st["outputs"][0]["send_errors"] == 0, st["outputs"][0]
    finally:
        server.close()


@needs_srt
@needs_ffmpeg
@pytest.mark.deadline(120)
def test_sigterm_with_srt_flowing_exits_cleanly_and_the_flow_comes_back(server, ports):
    """SIGTERM while an SRT source is connected and forwarding ends `onair serve` with
    exit code 0 (libsrt's static teardown used to crash it, SIGSEGV, every time), and
    the flow is active again after the restart."""
    udp_in, srt_in, udp_out = ports(), ports(), ports()
    arn = server.aws(
        "mediaconnect", "create-flow", "--name", "srt-term",
        "--source", f"Name=enc,Protocol=srt-listener,IngestPort={srt_in},MinLatency=120,"
                    "WhitelistCidr=127.0.0.0/8",
        "--outputs", f"Name=out,Protocol=udp,Destination=127.0.0.1,Port={udp_out}",
    )["Flow"]["FlowArn"]
    start_flow(server, arn)
    ts_encoder(server, udp_in, "ffmpeg-term")
    codes = []
    for i in range(3):
        caller = slt(server, f"udp://127.0.0.1:{udp_in}", srt_url(srt_in, passphrase=None), f"slt-term-{i}")
        wait_for(lambda: srt_stats(server, arn, name="enc").get("connected"), 20, what="the SRT call")
        assert len(receive(udp_out, 1.0)) > 50, "the flow forwards before the SIGTERM"
        server.proc.terminate()
        codes.append(server.proc.wait(timeout=20))
        server.kill_child(caller)
        server.stop()
        server.start()
        server.aws("mediaconnect", "wait", "flow-active", "--flow-arn", arn, timeout=60)
    assert codes == [0, 0, 0], f"exit codes {codes}:\n{server.log_tail(40)}"
