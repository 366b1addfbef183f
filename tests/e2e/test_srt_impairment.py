"""SRT over a lossy, jittery link: 5 % loss and 20 ms +- 50 ms (normal) delay
in both directions, and the flow still delivers every byte (issue 13, item 5).

The stream is a fixed file: ffmpeg writes 20 s of H.264 + AAC transport
stream first, a small sender plays it in real time as 1316-byte UDP
datagrams to `srt-live-transmit`, which calls the flow's srt-listener source
over the impaired link with a 1000 ms SRT latency. A second
`srt-live-transmit` reads the flow's srt-listener output over an unimpaired
path, and the test compares what comes out with the file, byte for byte.

Two ways to impair the link:

* `netem`: the encoder side runs in its own network namespace, joined to the
  root namespace by a veth pair (10.200.X.1/30 root side, 10.200.X.2/30 in
  the namespace; nothing touches real interfaces) with `tc netem` on both
  ends, so data and the ACK/NAK going back are both hit. Needs root, network
  namespaces and the `sch_netem` qdisc; skipped with the reason otherwise.
* `relay`: a UDP relay in the test process on loopback that loses and delays
  each datagram the same way (independent loss, normally distributed delay,
  reordering included). It runs where the kernel has no netem, so the
  recovery is checked on every machine.
"""

import heapq
import os
import random
import select
import shutil
import socket
import subprocess
import sys
import threading
import time

import pytest

from conftest import Server, needs_ffmpeg, wait_for
from test_srt import metric, needs_srt, receive, slt, srt_stats, start_flow, ts_problems

LOSS = 0.05
DELAY_MS = 20
JITTER_MS = 50
LATENCY_MS = 1000
SECONDS = 20
NETEM = f"netem loss {LOSS * 100:g}% delay {DELAY_MS}ms {JITTER_MS}ms distribution normal"

# Null TS packets (PID 0x1FFF) sent after the program, TAIL_SECONDS of them.
# SRT notices a lost packet only when a later one arrives; without a tail, a
# loss among the program's last datagrams would be invisible to it and never
# recovered, as on any live link that goes quiet.
NULL_PACKET = bytes([0x47, 0x1F, 0xFF, 0x10]) + b"\xff" * 184
TAIL_SECONDS = 1

# Plays a TS file as 1316-byte UDP datagrams, paced evenly over its duration,
# then the null tail at the same pace.
SENDER = f"""
import socket, sys, time
data = open(sys.argv[1], "rb").read()
port, seconds = int(sys.argv[2]), float(sys.argv[3])
chunks = [data[i:i + 1316] for i in range(0, len(data), 1316)]
pause = seconds / len(chunks)
chunks += [{NULL_PACKET * 7!r}] * int({TAIL_SECONDS} / pause)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
start = time.monotonic()
for n, c in enumerate(chunks):
    wait = start + n * pause - time.monotonic()
    if wait > 0:
        time.sleep(wait)
    s.sendto(c, ("127.0.0.1", port))
"""


def is_tail(datagram):
    return all(datagram[k:k + 188] == NULL_PACKET for k in range(0, len(datagram), 188))


# ---------------------------------------------------------------- impairments

def _run(*args):
    return subprocess.run(args, capture_output=True, text=True, timeout=15, stdin=subprocess.DEVNULL)


class Netns:
    """A network namespace joined to the root namespace by a veth pair, with
    netem on both ends. `close()` removes both, whatever state they are in."""

    def __init__(self):
        tag = f"{os.getpid() % 10000:04d}{random.randrange(100):02d}"
        self.name = f"onair-netem-{tag}"
        self.root_if, self.ns_if = f"onv{tag}a", f"onv{tag}b"  # IFNAMSIZ: 15
        used = _run("ip", "-o", "-4", "addr", "show").stdout
        free = [x for x in range(1, 255) if f"10.200.{x}." not in used]
        if not free:
            pytest.skip("no free 10.200.X.0/30 for the test's veth pair")
        x = random.choice(free)
        self.subnet = f"10.200.{x}.0/30"
        self.root_ip, self.ns_ip = f"10.200.{x}.1", f"10.200.{x}.2"

    def up(self):
        """Creates everything; returns None, or why it cannot be done here."""
        steps = [
            ("ip", "netns", "add", self.name),
            ("ip", "-n", self.name, "link", "set", "lo", "up"),
            ("ip", "link", "add", self.root_if, "type", "veth", "peer", "name", self.ns_if, "netns", self.name),
            ("ip", "addr", "add", f"{self.root_ip}/30", "dev", self.root_if),
            ("ip", "link", "set", self.root_if, "up"),
            ("ip", "-n", self.name, "addr", "add", f"{self.ns_ip}/30", "dev", self.ns_if),
            ("ip", "-n", self.name, "link", "set", self.ns_if, "up"),
            ("tc", "qdisc", "add", "dev", self.root_if, "root", *NETEM.split()),
            ("tc", "-n", self.name, "qdisc", "add", "dev", self.ns_if, "root", *NETEM.split()),
        ]
        for step in steps:
            r = _run(*step)
            if r.returncode != 0:
                return f"`{' '.join(step)}` failed: {r.stderr.strip()}"
        return None

    def exec(self, args):
        return ["ip", "netns", "exec", self.name, *args]

    def close(self):
        _run("ip", "link", "del", self.root_if)  # takes its peer with it
        _run("ip", "netns", "del", self.name)

    def gone(self):
        return self.name not in _run("ip", "netns", "list").stdout


class Relay(threading.Thread):
    """A UDP relay between one SRT caller and a listener at 127.0.0.1:target
    that drops each datagram with probability `LOSS` and holds the others for
    a normally distributed delay (mean DELAY_MS, deviation JITTER_MS, at
    least 0), in both directions, as netem does. `port` is where the caller
    sends; `dropped` counts what was lost per direction."""

    def __init__(self, target, seed):
        super().__init__(daemon=True)
        self.rng = random.Random(seed)
        self.front = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.front.bind(("127.0.0.1", 0))
        self.port = self.front.getsockname()[1]
        self.back = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.back.connect(("127.0.0.1", target))
        self.caller = None
        self.queue = []  # (due, n, socket, datagram, address)
        self.n = 0
        self.dropped = {"to listener": 0, "to caller": 0}
        self.passed = {"to listener": 0, "to caller": 0}
        self.stop = threading.Event()

    def _impair(self, sock, data, addr, way):
        if self.rng.random() < LOSS:
            self.dropped[way] += 1
            return
        self.passed[way] += 1
        delay = max(0.0, self.rng.gauss(DELAY_MS, JITTER_MS)) / 1000
        self.n += 1
        heapq.heappush(self.queue, (time.monotonic() + delay, self.n, sock, data, addr))

    def run(self):
        while not self.stop.is_set():
            timeout = 0.05
            if self.queue:
                timeout = min(timeout, max(0.0, self.queue[0][0] - time.monotonic()))
            readable, _, _ = select.select([self.front, self.back], [], [], timeout)
            for sock in readable:
                try:
                    data, addr = sock.recvfrom(65536)
                except OSError:
                    continue
                if sock is self.front:
                    self.caller = addr
                    self._impair(self.back, data, None, "to listener")
                elif self.caller is not None:
                    self._impair(self.front, data, self.caller, "to caller")
            now = time.monotonic()
            while self.queue and self.queue[0][0] <= now:
                _, _, sock, data, addr = heapq.heappop(self.queue)
                try:
                    sock.sendto(data, addr) if addr else sock.send(data)
                except OSError:
                    pass  # the listener is not up yet: lost, as on a wire

    def close(self):
        self.stop.set()
        self.join(timeout=5)
        self.front.close()
        self.back.close()


# ---------------------------------------------------------------- fixtures

@pytest.fixture
def netns():
    if os.geteuid() != 0 or not shutil.which("ip") or not shutil.which("tc"):
        pytest.skip("needs root and iproute2 (ip, tc) for a network namespace with netem")
    ns = Netns()
    try:
        why = ns.up()
        if why:
            pytest.skip(f"no netns/veth/netem here ({why}); the `relay` case covers the same recovery")
        yield ns
    finally:
        ns.close()
        assert ns.gone(), f"network namespace {ns.name} left behind"


@pytest.fixture
def program(tmp_path):
    """SECONDS of test signal as a TS file (bytes): the reference the output
    is compared with."""
    path = tmp_path / "program.ts"
    subprocess.run(
        ["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error",
         "-f", "lavfi", "-i", f"testsrc2=size=320x180:rate=25:duration={SECONDS}",
         "-f", "lavfi", "-i", f"sine=frequency=1000:duration={SECONDS}",
         "-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-g", "25", "-b:v", "800k",
         "-c:a", "aac", "-f", "mpegts", str(path)],
        check=True, timeout=60, stdin=subprocess.DEVNULL,
    )
    return path


# ---------------------------------------------------------------- the test

def run_impaired(server, ports, program, wrap, listen_ip, caller_target, allow):
    """Flow with an srt-listener source and output; the encoder side (sender
    and srt-live-transmit, run through `wrap`) calls `caller_target` (host,
    port(srt_in)); the reader calls the output on `listen_ip`. Returns the
    datagrams read and the source's SRT stats, flow stats and ARNs."""
    udp_in, srt_in, srt_out, udp_out = ports(), ports(), ports(), ports()
    flow = server.aws(
        "mediaconnect", "create-flow", "--name", "impaired",
        "--source",
        f"Name=encoder,Protocol=srt-listener,IngestPort={srt_in},MinLatency={LATENCY_MS},WhitelistCidr={allow}",
        "--outputs",
        f"Name=program,Protocol=srt-listener,Port={srt_out},MinLatency={LATENCY_MS},"
        f"CidrAllowList=127.0.0.0/8,{allow}",
    )["Flow"]
    arn, out_arn = flow["FlowArn"], flow["Outputs"][0]["OutputArn"]
    start_flow(server, arn)

    # The reader first, so that nothing the flow forwards goes unread.
    slt(server, f"srt://{listen_ip}:{srt_out}?mode=caller&latency={LATENCY_MS}",
        f"udp://127.0.0.1:{udp_out}", "slt-reader")
    wait_for(lambda: srt_stats(server, arn, output=out_arn).get("connected"), 20,
             what="the reader's SRT connection")
    host, port = caller_target(srt_in)
    slt_log = open(server.tmp / "slt-encoder.log", "ab")
    server.popen(wrap(["srt-live-transmit", "-loglevel:warn", f"udp://127.0.0.1:{udp_in}",
                       f"srt://{host}:{port}?mode=caller&latency={LATENCY_MS}"]),
                 stdout=slt_log, stderr=subprocess.STDOUT)
    wait_for(lambda: srt_stats(server, arn, name="encoder").get("connected"), 20,
             what="the encoder's SRT connection over the impaired link")
    time.sleep(0.5)  # srt-live-transmit's UDP input is bound by now
    server.popen(wrap([sys.executable, "-c", SENDER, str(program), str(udp_in), str(SECONDS)]))

    expected = program.stat().st_size
    got = []

    def reading():
        got.extend(receive(udp_out, SECONDS + TAIL_SECONDS + 8))

    reader = threading.Thread(target=reading, daemon=True)
    reader.start()
    reader.join(timeout=SECONDS + TAIL_SECONDS + 15)
    tail = [d for d in got if is_tail(d)]
    got = [d for d in got if not is_tail(d)]
    assert tail, "none of the null packets sent after the program came out"
    assert sum(map(len, got)) <= expected, "more bytes out than in"

    src = srt_stats(server, arn, name="encoder")
    return got, src, server.stats(arn), flow


def check(server, program, got, src, stats, flow):
    sent = program.read_bytes()
    received = b"".join(got)
    print(f"\n{len(sent) // 188} TS packets sent, {len(received) // 188} received; source SRT stats {src}")
    assert ts_problems(got) == [], ts_problems(got)[:10]
    assert len(received) == len(sent), (
        f"{(len(sent) - len(received)) // 188} of {len(sent) // 188} TS packets missing; SRT {src}")
    assert received == sent, "the output is not the stream that went in"

    # The link really lost packets, and SRT got every one of them back.
    assert src["lost"] > 0 and src["arq_requests"] > 0, src
    assert src["dropped"] == 0, f"SRT gave up on {src['dropped']} packets as too late: {src}"
    assert src["arq_recovered"] == src["lost"], src
    assert src["disconnections"] == 0 and src["connections"] == 1, src
    s = stats["sources"][0]
    assert s["not_recovered"] == 0 and s["ts"].get("continuity_errors", 0) == 0, s
    assert src["rtt_ms"] >= DELAY_MS, src  # the delay is really on the path

    per_source = [("FlowARN", flow["FlowArn"]), ("SourceARN", flow["Source"]["SourceArn"])]
    arq = wait_for(lambda: metric(server, "SourceARQRequests", per_source, "Sum"), 15,
                   what="SourceARQRequests datapoints")
    assert sum(p["Sum"] for p in arq) > 0, arq
    # For SRT sources this counter is the packets SRT gave up on.
    not_recovered = metric(server, "SourceNotRecoveredPackets", per_source, "Sum")
    assert sum(p["Sum"] for p in not_recovered) == 0, not_recovered


@needs_srt
@needs_ffmpeg
@pytest.mark.deadline(90)
def test_srt_recovers_netem_loss_and_jitter(tmp_path, ports, program, netns):
    server = Server(tmp_path)
    server.ingest_bind = netns.root_ip  # the source listens on the veth, the output too
    try:
        server.start()
        result = run_impaired(server, ports, program, netns.exec, netns.root_ip,
                              lambda port: (netns.root_ip, port), netns.subnet)
        check(server, program, *result)
    finally:
        server.close()  # the processes in the namespace go before it does


@needs_srt
@needs_ffmpeg
@pytest.mark.deadline(90)
def test_srt_recovers_loss_and_jitter_through_a_relay(server, ports, program):
    relays = []

    def through_relay(port):
        relay = Relay(port, seed=port)
        relay.start()
        relays.append(relay)
        return "127.0.0.1", relay.port

    try:
        result = run_impaired(server, ports, program, lambda args: args, "127.0.0.1", through_relay,
                              "127.0.0.0/8")
        print(f"\nrelay: dropped {relays[0].dropped}, passed {relays[0].passed}")
        check(server, program, *result)
    finally:
        for relay in relays:
            relay.close()
