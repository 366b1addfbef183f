"""Media through running flows: ffmpeg encoders in, ffmpeg/ffprobe out.

Every encoder sends a real-time 640x360 H.264 + AAC test signal as RTP/MPEG-TS
on loopback; every check reads the flow's output for a few seconds. No timing
is asserted beyond bounded waits.
"""

import mediatools as m
from conftest import HAVE_FFMPEG, needs_ffmpeg, wait_for


# ---------------------------------------------------------------- helpers

def src(name, port, protocol="rtp", cidr="127.0.0.0/8"):
    return {"Name": name, "Protocol": protocol, "IngestPort": port, "WhitelistCidr": cidr}


def out(name, port, protocol="udp"):
    return {"Name": name, "Protocol": protocol, "Destination": "127.0.0.1", "Port": port}


def start(server, c, arn):
    c.start_flow(FlowArn=arn)
    c.get_waiter("flow_active").wait(FlowArn=arn, WaiterConfig={"Delay": 1, "MaxAttempts": 30})


def messages(c, arn):
    return (c.describe_flow(FlowArn=arn).get("Messages") or {}).get("Errors") or []


def status_source_row(text, source):
    """The row of `source` in `onair flows status`, as {column: value} keyed by
    the table's header (columns matched from the right: SEL may be blank)."""
    header = None
    for line in text.splitlines():
        tok = line.split()
        if tok and tok[0] == "SOURCE":
            header = tok
        elif header and tok and tok[0] == source:
            return dict(zip(reversed(header), reversed(tok)))
    return None


# ---------------------------------------------------------------- (a) rtp in, udp out

@needs_ffmpeg
def test_rtp_source_to_udp_output(server, ports):
    c = server.client()
    ingest, o1, o2 = ports(), ports(), ports()
    flow = c.create_flow(Name="rtp-in", Source=src("cam", ingest), Outputs=[out("program", o1)])["Flow"]
    arn = flow["FlowArn"]
    start(server, c, arn)
    m.encoder(server, f"rtp://127.0.0.1:{ingest}")

    streams = {s["codec_type"]: s for s in m.probe(m.udp_url(o1))}
    assert streams["video"]["codec_name"] == "h264", streams
    assert (streams["video"]["width"], streams["video"]["height"]) == (640, 360), streams
    assert streams["audio"]["codec_name"] == "aac", streams

    m.read(m.udp_url(o1), 3).assert_clean_av()

    st = wait_for(lambda: server.source_stats(arn, "cam"), 10, what="stats of source cam")
    assert st["packets"] > 0, st
    assert st.get("ts", {}).get("continuity_errors", 0) == 0, st
    text = server.status_text()
    row = status_source_row(text, "cam")
    assert row and int(row["PACKETS"]) > 0 and row["PAT"] == "ok", text
    assert not any("cam" in msg for msg in messages(c, arn)), messages(c, arn)

    # an output changed on the running flow carries the stream to its new port
    oarn = flow["Outputs"][0]["OutputArn"]
    c.update_flow_output(FlowArn=arn, OutputArn=oarn, Port=o2)
    n = m.count_datagrams(o2, 2.0)
    assert n > 0, "no datagrams at the updated output port"
    m.read(m.udp_url(o2), 2).assert_clean_av()


# ---------------------------------------------------------------- (b) rtp-fec

@needs_ffmpeg
def test_rtp_fec_source_and_output(server, ports):
    c = server.client()
    ingest, o_udp, o_fec = ports(), ports(), ports()
    arn = c.create_flow(Name="fec", Source=src("cam", ingest, "rtp-fec"),
                        Outputs=[out("udp-out", o_udp), out("fec-out", o_fec, "rtp-fec")])["Flow"]["FlowArn"]
    start(server, c, arn)
    m.encoder(server, f"rtp://127.0.0.1:{ingest}", fec=True)
    readers = [m.Reader(m.udp_url(o_udp), 3), m.Reader(m.rtp_url(o_fec), 3)]
    for r in readers:
        r.result().assert_clean_av()
    stats = server.stats(arn)
    st = next(s for s in stats["sources"] if s["name"] == "cam")
    assert st["packets"] > 0 and st["fec_packets"] > 0, st
    assert st["not_recovered"] == 0, st
    assert any(o["fec_packets"] > 0 for o in stats["outputs"]), stats["outputs"]


@needs_ffmpeg
def test_rtp_fec_rebuilds_lost_packets(server, ports):
    """Every 37th media packet is lost between encoder and flow (FEC packets
    all arrive): the flow rebuilds them and the output is clean."""
    c = server.client()
    ingest, relay, o = ports(), ports(), ports()
    arn = c.create_flow(Name="fec-loss", Source=src("cam", ingest, "rtp-fec"),
                        Outputs=[out("program", o)])["Flow"]["FlowArn"]
    start(server, c, arn)
    relays = [m.Relay(relay, [ingest], drop=lambda _p, n, _t: n % 37 == 36),
              m.Relay(relay + 2, [ingest + 2]), m.Relay(relay + 4, [ingest + 4])]
    try:
        m.encoder(server, f"rtp://127.0.0.1:{relay}", fec=True)
        r = m.read(m.udp_url(o), 4)
        assert relays[0].dropped[0] > 0 and relays[1].sent[0] > 0 and relays[2].sent[0] > 0
        r.assert_clean_av()
        st = server.source_stats(arn, "cam")
        assert st["fec_recovered"] > 0, st
    finally:
        for x in relays:
            x.close()


# ---------------------------------------------------------------- (c) whitelistCidr

@needs_ffmpeg
def test_whitelist_cidr_drops_other_senders(server, ports):
    c = server.client()
    ingest, o = ports(), ports()
    arn = c.create_flow(Name="allow-list", Source=src("cam", ingest, cidr="10.0.0.0/8"),
                        Outputs=[out("program", o)])["Flow"]["FlowArn"]
    start(server, c, arn)
    m.encoder(server, f"rtp://127.0.0.1:{ingest}")
    assert m.count_datagrams(o, 3.0) == 0, "datagrams from 127.0.0.1 passed a 10.0.0.0/8 allow-list"

    def dropped():
        row = status_source_row(server.status_text(), "cam")
        return row and int(row["DROPPED"]) > 0 and row

    row = wait_for(dropped, 10, what="`onair flows status` to show dropped packets")
    st = server.source_stats(arn, "cam")
    assert st["dropped_not_allowed"] > 0, st
    wait_for(lambda: any("whitelistCidr" in msg for msg in messages(c, arn)), 10,
             what="describe-flow Messages to mention whitelistCidr")


# ---------------------------------------------------------------- (d) MERGE (2022-7)

def merge_flow(server, c, ports):
    a, b, o = ports(), ports(), ports()
    arn = c.create_flow(
        Name="merge", Sources=[src("path-a", a), src("path-b", b)],
        SourceFailoverConfig={"FailoverMode": "MERGE", "RecoveryWindow": 200, "State": "ENABLED"},
        Outputs=[out("program", o)],
    )["Flow"]["FlowArn"]
    start(server, c, arn)
    return arn, a, b, o


@needs_ffmpeg
def test_merge_hides_independent_loss_on_both_paths(server, ports):
    c = server.client()
    arn, a, b, o = merge_flow(server, c, ports)
    relay_port = ports()
    relay = m.Relay(relay_port, [a, b], drop=m.independent_loss(0.05, seed=2022))
    try:
        m.encoder(server, f"rtp://127.0.0.1:{relay_port}")
        r = m.read(m.udp_url(o), 8)
        assert relay.dropped[0] > 0 and relay.dropped[1] > 0, relay.dropped
        r.assert_clean_av()
        stats = server.stats(arn)
        for name in ("path-a", "path-b"):
            st = next(s for s in stats["sources"] if s["name"] == name)
            assert st["packets"] > 0, st
        assert stats["merge"]["lost"] == 0, stats["merge"]
        assert stats["merge"]["duplicates"] > 0, stats["merge"]
    finally:
        relay.close()


@needs_ffmpeg
def test_merge_survives_a_dead_path(server, ports):
    """Path a carries nothing from 2 s to 5 s after the first datagram."""
    c = server.client()
    arn, a, b, o = merge_flow(server, c, ports)
    relay_port = ports()
    relay = m.Relay(relay_port, [a, b], drop=lambda path, _n, t: path == 0 and 2.0 <= t < 5.0)
    try:
        m.encoder(server, f"rtp://127.0.0.1:{relay_port}")
        r = m.read(m.udp_url(o), 8)
        assert relay.dropped[0] > 0 and relay.dropped[1] == 0, relay.dropped
        r.assert_clean_av()
        assert server.stats(arn)["merge"]["lost"] == 0, server.stats(arn)["merge"]
    finally:
        relay.close()


# ---------------------------------------------------------------- (e) FAILOVER

@needs_ffmpeg
def test_failover_to_backup_when_primary_stops(server, ports):
    c = server.client()
    pa, pb, o = ports(), ports(), ports()
    arn = c.create_flow(
        Name="failover", Sources=[src("Primary", pa), src("Backup", pb)],
        SourceFailoverConfig={"FailoverMode": "FAILOVER", "RecoveryWindow": 200, "State": "ENABLED",
                              "SourcePriority": {"PrimarySource": "Primary"}},
        Outputs=[out("program", o)],
    )["Flow"]["FlowArn"]
    start(server, c, arn)
    # The primary first: were the backup first, the flow would (rightly) carry
    # the backup until the primary has been back for 3 s.
    primary = m.encoder(server, f"rtp://127.0.0.1:{pa}", tone=1000, log_name="primary")
    wait_for(lambda: server.stats(arn)["active_source"] == "Primary"
             and server.source_stats(arn, "Primary")["packets"] > 0, 10, what="the primary to carry the flow")
    m.encoder(server, f"rtp://127.0.0.1:{pb}", tone=600, log_name="backup")
    wait_for(lambda: server.source_stats(arn, "Backup")["packets"] > 0, 10, what="the backup to arrive")
    assert server.stats(arn)["active_source"] == "Primary", server.stats(arn)
    hz = m.tone_hz(m.udp_url(o))
    assert 850 < hz < 1150, f"expected the primary's 1000 Hz tone, heard {hz:.0f} Hz"

    server.kill_child(primary)
    wait_for(lambda: any("Primary" in msg and "not receiving" in msg for msg in messages(c, arn)), 15,
             what="describe-flow Messages to say the primary is not receiving")
    r = m.read(m.udp_url(o), 3)
    assert r.rc == 0 and r.frames > 0, r.describe()
    hz = m.tone_hz(m.udp_url(o))
    assert 500 < hz < 700, f"expected the backup's 600 Hz tone, heard {hz:.0f} Hz"
    stats = server.stats(arn)
    assert next(s for s in stats["sources"] if s["name"] == "Backup")["selected"], stats
    assert stats["active_source"] == "Backup", stats
    assert stats["failover_switches"] >= 1, stats


# ---------------------------------------------------------------- (f) kill -9

def test_kill9_restart_restores_flows(server, ports):
    c = server.client()
    ingest, o = ports(), ports()
    running = c.create_flow(Name="running", Source=src("cam", ingest),
                            Outputs=[out("program", o)])["Flow"]["FlowArn"]
    idle = c.create_flow(Name="idle", Source=src("cam2", ports()))["Flow"]["FlowArn"]
    start(server, c, running)
    if HAVE_FFMPEG:
        m.encoder(server, f"rtp://127.0.0.1:{ingest}")
        assert m.count_datagrams(o, 2.0) > 0, "no output before the restart"

    server.restart(kill9=True)

    c = server.client()
    assert sorted(f["Name"] for f in c.list_flows()["Flows"]) == ["idle", "running"]
    server.aws("mediaconnect", "wait", "flow-active", "--flow-arn", running, timeout=130)
    assert c.describe_flow(FlowArn=idle)["Flow"]["Status"] == "STANDBY"
    flow = c.describe_flow(FlowArn=running)["Flow"]
    assert flow["Outputs"][0]["Port"] == o
    if HAVE_FFMPEG:
        wait_for(lambda: m.count_datagrams(o, 1.0) > 0, 15, what="output datagrams after the restart")


@needs_ffmpeg
def test_max_bitrate_drops_the_excess(server, ports):
    c = server.client()
    ingest, o = ports(), ports()
    source = dict(src("cam", ingest), MaxBitrate=100_000)
    arn = c.create_flow(Name="capped", Source=source, Outputs=[out("program", o)])["Flow"]["FlowArn"]
    start(server, c, arn)
    m.encoder(server, f"rtp://127.0.0.1:{ingest}")
    wait_for(lambda: server.source_stats(arn, "cam")["dropped_over_bitrate"] > 0, 10,
             what="packets dropped above maxBitrate")
    wait_for(lambda: any("maxBitrate" in msg for msg in messages(c, arn)), 10,
             what="describe-flow Messages to mention maxBitrate")
