"""RIST sources and outputs of a flow, against real peers on loopback.

The simple profile (what MediaConnect calls `rist`) is fed by ffmpeg's own
`rist://` output and read back by `ristreceiver`; the main profile (asked for
with `streamId` `main`) by `ristsender` relaying ffmpeg's UDP, and read back by
`ristreceiver` too. What comes out (the RIST output through ristreceiver, and a
UDP output) is checked packet by packet: sync bytes, whole packets, continuity
counters. Ports come from the conftest helper: even, with port+1 free (RTCP).
"""

import shutil
import subprocess
import time

import pytest

import mediatools as m
from conftest import needs_ffmpeg, wait_for
from test_srt import (kill_the_leading_path, link_stats, receive, start_flow, start_merge_flow, ts_encoder,
                      ts_problems)

needs_rist = pytest.mark.skipif(
    shutil.which("ristreceiver") is None or shutil.which("ristsender") is None,
    reason="ristsender/ristreceiver not installed (Debian rist-tools; scripts/setup.sh test installs them)",
)


def ffmpeg_has_rist():
    p = subprocess.run(["ffmpeg", "-hide_banner", "-protocols"], capture_output=True, text=True)
    return p.returncode == 0 and any(line.strip() == "rist" for line in p.stdout.splitlines())


needs_ffmpeg_rist = pytest.mark.skipif(
    shutil.which("ffmpeg") is None or not ffmpeg_has_rist(),
    reason="this ffmpeg has no rist:// protocol (Debian's is built with librist)",
)


def ffmpeg_rist(server, port, profile="simple", log_name="ffmpeg-rist"):
    """ffmpeg sending a real-time test signal as MPEG-TS over RIST to 127.0.0.1:port."""
    log = open(server.tmp / f"{log_name}.log", "ab")
    return server.popen(
        ["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "warning", "-re",
         "-f", "lavfi", "-i", "testsrc2=size=320x180:rate=25",
         "-f", "lavfi", "-i", "sine=frequency=1000",
         "-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-g", "25", "-b:v", "800k",
         "-c:a", "aac", "-f", "mpegts", "-rist_profile", profile, "-buffer_size", "500",
         f"rist://127.0.0.1:{port}"],
        stdout=log, stderr=subprocess.STDOUT,
    )


def rist_tool(server, tool, src, dst, profile, log_name):
    """ristsender / ristreceiver SRC -> DST in `profile` (0 simple, 1 main)."""
    log = open(server.tmp / f"{log_name}.log", "ab")
    return server.popen([tool, "-p", str(profile), "-v", "4", "-i", src, "-o", dst],
                        stdout=log, stderr=subprocess.STDOUT)


def rist_stats(server, arn, name=None, output=None):
    return link_stats(server, arn, "rist", name=name, output=output)


def check_stream(port, seconds, least):
    got = receive(port, seconds)
    assert len(got) > least, f"only {len(got)} datagrams on {port}"
    problems = ts_problems(got)
    assert problems == [], problems[:10]
    return got


@needs_rist
@needs_ffmpeg_rist
@needs_ffmpeg
@pytest.mark.deadline(60)
def test_ffmpeg_rist_into_a_rist_source_out_through_rist_and_udp(server, ports):
    rist_in, rist_out, udp_a, udp_b = ports(), ports(), ports(), ports()
    flow = server.aws(
        "mediaconnect", "create-flow", "--name", "rist-show",
        "--source", f"Name=encoder,Protocol=rist,IngestPort={rist_in},MaxLatency=500,WhitelistCidr=127.0.0.0/8",
        "--outputs",
        f"Name=contribution,Protocol=rist,Destination=127.0.0.1,Port={rist_out},MaxLatency=500",
        f"Name=monitor,Protocol=udp,Destination=127.0.0.1,Port={udp_b}",
    )["Flow"]
    arn = flow["FlowArn"]
    t = flow["Source"]["Transport"]
    assert (t["Protocol"], t["MaxLatency"]) == ("rist", 500), t
    assert "StreamId" not in t, t
    out_arn = next(o["OutputArn"] for o in flow["Outputs"] if o["Name"] == "contribution")
    start_flow(server, arn)

    rist_tool(server, "ristreceiver", f"rist://@127.0.0.1:{rist_out}", f"udp://127.0.0.1:{udp_a}", 0,
              "ristreceiver")
    ffmpeg_rist(server, rist_in)
    wait_for(lambda: rist_stats(server, arn, name="encoder").get("packets", 0) > 50, 20,
             what="librist's count of the encoder's packets")
    link = rist_stats(server, arn, name="encoder")
    assert link["peer"].startswith("127.0.0.1:"), link
    assert link["lost"] == 0 and link["refused"] == 0, link

    check_stream(udp_b, 3.0, 150)
    check_stream(udp_a, 3.0, 150)
    wait_for(lambda: rist_stats(server, arn, output=out_arn).get("packets", 0) > 100, 10,
             what="librist's count of the output's packets")

    # librist's round trip and ARQ counters reach CloudWatch under SRT's names.
    src_arn = flow["Source"]["SourceArn"]
    dims = [f"Name=FlowARN,Value={arn}", f"Name=SourceARN,Value={src_arn}"]

    def rtt_metric():
        now = int(time.time())
        return server.aws("cloudwatch", "get-metric-statistics", "--namespace", "AWS/MediaConnect",
                          "--metric-name", "SourceRoundTripTime", "--dimensions", *dims,
                          "--start-time", str(now - 120), "--end-time", str(now + 60), "--period", "60",
                          "--statistics", "SampleCount")["Datapoints"]
    wait_for(rtt_metric, 10, what="SourceRoundTripTime of the RIST source")


@needs_rist
@needs_ffmpeg
@pytest.mark.deadline(90)
def test_main_profile_with_rist_tools_and_a_restart(server, ports):
    udp_enc, rist_in, rist_out, udp_out = ports(), ports(), ports(), ports()
    flow = server.aws(
        "mediaconnect", "create-flow", "--name", "rist-main",
        "--source", f"Name=encoder,Protocol=rist,IngestPort={rist_in},StreamId=main,MaxLatency=400",
        "--outputs", f"Name=out,Protocol=rist,Destination=127.0.0.1,Port={rist_out},StreamId=main",
    )["Flow"]
    arn = flow["FlowArn"]
    assert flow["Source"]["Transport"]["StreamId"] == "main", flow["Source"]
    assert flow["Outputs"][0]["Transport"]["MaxLatency"] == 2000, flow["Outputs"][0]
    start_flow(server, arn)

    ts_encoder(server, udp_enc)
    rist_tool(server, "ristsender", f"udp://127.0.0.1:{udp_enc}", f"rist://127.0.0.1:{rist_in}", 1, "ristsender")
    rist_tool(server, "ristreceiver", f"rist://@127.0.0.1:{rist_out}", f"udp://127.0.0.1:{udp_out}", 1,
              "ristreceiver")
    check_stream(udp_out, 3.0, 150)

    # After a crash the stored flow comes back as RIST main profile.
    server.restart()
    server.aws("mediaconnect", "wait", "flow-active", "--flow-arn", arn, timeout=60)
    t = server.aws("mediaconnect", "describe-flow", "--flow-arn", arn)["Flow"]["Source"]["Transport"]
    assert (t["Protocol"], t["StreamId"], t["MaxLatency"]) == ("rist", "main", 400), t
    wait_for(lambda: len(receive(udp_out, 0.5)) > 10, 20, what="the stream after the restart")
    check_stream(udp_out, 2.0, 80)


@needs_rist
@needs_ffmpeg
@pytest.mark.deadline(90)
def test_failover_from_a_rist_source_to_a_udp_backup(server, ports):
    tee_a, rist_in, udp_in, udp_out = ports(), ports(), ports(), ports()
    flow = server.aws(
        "mediaconnect", "create-flow", "--name", "rist-failover",
        "--sources",
        f"Name=main,Protocol=rist,IngestPort={rist_in}",
        f"Name=backup,Protocol=udp,IngestPort={udp_in}",
        "--source-failover-config", "State=ENABLED,FailoverMode=FAILOVER,SourcePriority={PrimarySource=main}",
        "--outputs", f"Name=out,Protocol=udp,Destination=127.0.0.1,Port={udp_out}",
    )["Flow"]
    arn = flow["FlowArn"]
    start_flow(server, arn)

    # One encode, two paths: UDP to ristsender (-> the RIST source) and UDP
    # straight to the backup source.
    log = open(server.tmp / "ffmpeg-tee.log", "ab")
    server.popen(
        ["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "warning", "-re",
         "-f", "lavfi", "-i", "testsrc2=size=320x180:rate=25",
         "-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-g", "25", "-b:v", "800k",
         "-map", "0:v", "-f", "tee",
         f"[f=mpegts:onfail=ignore]udp://127.0.0.1:{tee_a}?pkt_size=1316|"
         f"[f=mpegts:onfail=ignore]udp://127.0.0.1:{udp_in}?pkt_size=1316"],
        stdout=log, stderr=subprocess.STDOUT)
    sender = rist_tool(server, "ristsender", f"udp://127.0.0.1:{tee_a}", f"rist://127.0.0.1:{rist_in}", 0,
                       "ristsender")

    wait_for(lambda: (server.stats(arn) or {}).get("active_source") == "main", 20,
             what="the RIST source on air")
    check_stream(udp_out, 2.0, 60)

    # The RIST path dies: the backup takes over, the output goes on.
    server.kill_child(sender)
    wait_for(lambda: (server.stats(arn) or {}).get("active_source") == "backup", 20,
             what="failover to the UDP backup")
    got = receive(udp_out, 2.0)
    assert len(got) > 60, len(got)


@needs_ffmpeg_rist
@needs_ffmpeg
@pytest.mark.deadline(90)
@pytest.mark.parametrize("profile", ["simple", "main"])
def test_ffmpeg_reads_a_rist_output(server, ports, profile):
    """ffmpeg as the RIST receiver (listening, `rist://@`) of a flow's RIST
    output in either profile: H.264 and AAC decode without a stream error."""
    udp_in, rist_out = ports(), ports()
    output = f"Name=contribution,Protocol=rist,Destination=127.0.0.1,Port={rist_out},MaxLatency=500"
    if profile == "main":
        output += ",StreamId=main"
    flow = server.aws(
        "mediaconnect", "create-flow", "--name", f"rist-to-ffmpeg-{profile}",
        "--source", f"Name=encoder,Protocol=udp,IngestPort={udp_in},WhitelistCidr=127.0.0.0/8",
        "--outputs", output,
    )["Flow"]
    arn = flow["FlowArn"]
    start_flow(server, arn)
    ts_encoder(server, udp_in, size="640x360")
    wait_for(lambda: server.stats(arn)["sources"][0]["packets"] > 100, 20, what="the encoder's stream")
    reader = m.Reader(f"rist://@127.0.0.1:{rist_out}", 3,
                      input_args=["-rist_profile", profile, "-buffer_size", "500"])
    reader.result().assert_clean_av()
    out = rist_stats(server, arn, output=flow["Outputs"][0]["OutputArn"])
    assert out.get("packets", 0) > 100, out


@needs_rist
@needs_ffmpeg
@pytest.mark.deadline(120)
def test_merge_of_two_rist_paths_survives_one_dying(server, ports):
    """One TS feed sent over two RIST paths (ristsender, simple profile) into
    a MERGE flow: the output is the stream once, and killing the path that
    leads leaves no mark on it."""
    feed, path_a, path_b, rist_a, rist_b, udp_out = ports(), ports(), ports(), ports(), ports(), ports()
    arn = start_merge_flow(server, "rist-merge", udp_out,
                           f"Name=path-a,Protocol=rist,IngestPort={rist_a},MaxLatency=300",
                           f"Name=path-b,Protocol=rist,IngestPort={rist_b},MaxLatency=300")
    relay = m.Relay(feed, [path_a, path_b])
    try:
        ts_encoder(server, feed)
        paths = [rist_tool(server, "ristsender", f"udp://127.0.0.1:{p}", f"rist://127.0.0.1:{r}", 0, f"rist-{n}")
                 for n, p, r in (("a", path_a, rist_a), ("b", path_b, rist_b))]
        for name in ("path-a", "path-b"):
            wait_for(lambda: rist_stats(server, arn, name=name).get("packets", 0) > 50, 20,
                     what=f"{name}'s packets")
        kill_the_leading_path(server, arn, paths, udp_out)
    finally:
        relay.close()


def test_bad_rist_requests_name_the_member(server, ports):
    p = ports()
    cases = [
        (["--source", f"Name=enc,Protocol=rist,IngestPort={p + 1}"],
         "source.ingestPort: with protocol rist the port must be even"),
        (["--source", f"Name=enc,Protocol=rist,IngestPort={p},MaxLatency=5"],
         "source.maxLatency: 5 ms is out of range (10-10000 ms)"),
        (["--source", f"Name=enc,Protocol=rist,IngestPort={p},StreamId=advanced"],
         "source.streamId: with protocol rist, streamId names the RIST profile"),
        (["--source", f"Name=enc,Protocol=udp,IngestPort={p},MaxLatency=500"],
         "source.maxLatency: onair supports this member only with protocol rist"),
        (["--source", f"Name=enc,Protocol=udp,IngestPort={p}",
          "--outputs", f"Name=o,Protocol=rist,Destination=127.0.0.1,Port={p + 3}"],
         "outputs[0].port: with protocol rist the port must be even"),
    ]
    for args, want in cases:
        r = server.aws_run("mediaconnect", "create-flow", "--name", "bad", *args)
        assert r.returncode != 0 and "BadRequestException" in r.stderr and want in r.stderr, (args, r.stderr)

    # The RTCP port counts as taken: a second flow cannot listen on port+1.
    server.aws("mediaconnect", "create-flow", "--name", "first", "--source",
               f"Name=enc,Protocol=rist,IngestPort={p}")
    r = server.aws_run("mediaconnect", "create-flow", "--name", "second", "--source",
                       f"Name=enc,Protocol=udp,IngestPort={p + 1}")
    assert r.returncode != 0 and f"port {p + 1} of source 'enc' is already used" in r.stderr, r.stderr

    # Updates are read by the same rules.
    arn = server.aws("mediaconnect", "create-flow", "--name", "upd", "--source",
                     f"Name=enc,Protocol=rist,IngestPort={ports()}")["Flow"]
    src = server.aws("mediaconnect", "describe-flow", "--flow-arn", arn["FlowArn"])["Flow"]["Source"]
    r = server.aws_run("mediaconnect", "update-flow-source", "--flow-arn", arn["FlowArn"],
                       "--source-arn", src["SourceArn"], "--ingest-port", str(ports() + 1))
    assert r.returncode != 0 and "ingestPort: with protocol rist the port must be even" in r.stderr, r.stderr
    r = server.aws_run("mediaconnect", "update-flow-source", "--flow-arn", arn["FlowArn"],
                       "--source-arn", src["SourceArn"], "--max-latency", "20000")
    assert r.returncode != 0 and "maxLatency: 20000 ms is out of range" in r.stderr, r.stderr
