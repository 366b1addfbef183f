#!/usr/bin/env python3
"""Transport benchmark: onair flows against srt-live-transmit doing the same relay.

    make bench                     # or: .venv/bin/python bench/transport.py
    bench/transport.py --duration 5 --cases 20x1   # a quick look
    bench/transport.py --cases srt-udp:20x1,srt-srt:20x1
    bench/transport.py --onair-batching auto,5ms   # onair twice: default and 5 ms rounds

For every case the same MPEG-TS traffic, paced by bench/load (onair-load),
goes through
  - an onair flow configured with the aws CLI (one `onair serve` per
    `--flow-batching` setting given with --onair-batching; default `auto`), and
  - srt-live-transmit doing the same relay.
Cases are PATH:RATExOUTPUTS; PATH is
  - udp (the default, "20x1" = "udp:20x1"): UDP in, N UDP outputs, at
    {20, 100} Mb/s x {1, 10} outputs. srt-live-transmit has a single
    output, so it runs one instance per output, each fed its own copy;
  - srt-udp: SRT in (a listener), one UDP output;
  - srt-srt: SRT in (a listener), one SRT output (a listener).
The load tool speaks UDP, so the SRT cases put srt-live-transmit converters
around the relay under test (UDP -> SRT caller in front, SRT caller -> UDP
behind for srt-srt); the converters' CPU is reported but not charged to the
relay.
It measures the relay processes' CPU (utime+stime from /proc/PID/stat), the
added latency and the loss seen by the load tool, prints a table, writes
bench/results.json and regenerates the results section of docs/BENCHMARKS.md.

Standard library only. Every wait is bounded; a full run takes about 3 minutes.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from common import (ROOT, TICK, busy_jiffies, dpkg_version, first_line, fmt, machine_base, proc_cpu_s, ratio, replace_section, run, stop_proc)

TARGET = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target")) / "release"
AWS = ROOT / ".venv" / "bin" / "aws"
CACHE = ROOT / "bench" / "results"  # gitignored: generated TS files, logs
RESULTS = ROOT / "bench" / "results.json"
DOC = ROOT / "docs" / "BENCHMARKS.md"
BEGIN, END = "<!-- BEGIN RESULTS (bench/transport.py) -->", "<!-- END RESULTS -->"

RATES = (20, 100)  # Mb/s of TS (mux rate)
OUTPUTS = (1, 10)
# Input > output protocols of the relay, and the cases each is run in.
PATHS = {"udp": "udp>udp", "srt-udp": "srt>udp", "srt-srt": "srt>srt"}
DEFAULT_CASES = ([("udp", m, n) for m in RATES for n in OUTPUTS]
                 + [(p, m, 1) for p in ("srt-udp", "srt-srt") for m in RATES])
# SRT receiver latency (ms) on every SRT link of the SRT cases, both relays:
# srt-live-transmit's default, so it runs as a user would run it.
SRT_LATENCY_MS = 120
ONAIR_BIN = Path(os.environ.get("ONAIR_BIN", TARGET / "onair"))  # override: another build
ACCESS_KEY, SECRET_KEY = "AKIAONAIRBENCH000001", "onair-bench-secret-not-for-production"


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------- system facts

def ctx_switches(pids: list[int]) -> tuple[int, int]:
    """(voluntary, involuntary) context switches of every live thread."""
    vol = invol = 0
    for pid in pids:
        for task in Path(f"/proc/{pid}/task").iterdir():
            try:
                for line in (task / "status").read_text().splitlines():
                    if line.startswith("voluntary_ctxt_switches:"):
                        vol += int(line.split()[1])
                    elif line.startswith("nonvoluntary_ctxt_switches:"):
                        invol += int(line.split()[1])
            except (OSError, ValueError, IndexError):
                pass
    return vol, invol


def udp_rx_queue() -> dict[int, int]:
    """Per local UDP port: bytes waiting in the socket's receive queue."""
    q: dict[int, int] = {}
    with open("/proc/net/udp") as f:
        next(f)
        for line in f:
            cols = line.split()
            port = int(cols[1].rsplit(":", 1)[1], 16)
            q[port] = q.get(port, 0) + int(cols[4].split(":")[1], 16)
    return q


def udp_drops() -> dict[int, int]:
    """Per local UDP port: datagrams the kernel dropped (socket buffer full)."""
    drops: dict[int, int] = {}
    for name in ("/proc/net/udp", "/proc/net/udp6"):
        try:
            with open(name) as f:
                next(f)
                for line in f:
                    cols = line.split()
                    port = int(cols[1].rsplit(":", 1)[1], 16)
                    drops[port] = drops.get(port, 0) + int(cols[-1])
        except OSError:
            pass
    return drops


def snmp_udp() -> dict[str, int]:
    with open("/proc/net/snmp") as f:
        rows = [l.split() for l in f if l.startswith("Udp:")]
    return dict(zip(rows[0][1:], map(int, rows[1][1:])))


def free_port(kind=socket.SOCK_DGRAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def free_ports(n: int, taken: set[int]) -> list[int]:
    out: list[int] = []
    for _ in range(200):
        if len(out) == n:
            break
        p = free_port()
        # Keep away from onair's rtp-fec neighbours and from each other.
        if p not in taken and p < 65000:
            taken.add(p)
            out.append(p)
    if len(out) != n:
        raise RuntimeError("could not find free UDP ports")
    return out


def machine() -> dict:
    def sysctl(name: str) -> int | None:
        try:
            return int(Path("/proc/sys/" + name.replace(".", "/")).read_text())
        except (OSError, ValueError):
            return None

    return {
        **machine_base(),
        "net.core.rmem_max": sysctl("net.core.rmem_max"),
        "net.core.rmem_default": sysctl("net.core.rmem_default"),
        "net.core.wmem_max": sysctl("net.core.wmem_max"),
        "clk_tck": TICK,
        "srt_tools": dpkg_version("srt-tools"),
        "ffmpeg": first_line(["ffmpeg", "-version"]),
        "rustc": first_line(["rustc", "--version"]),
    }


# ---------------------------------------------------------------- preparation

def check_tools(need_srt: bool, need_onair: bool) -> None:
    missing = []
    if not shutil.which("ffmpeg"):
        missing.append("ffmpeg")
    if need_srt and not shutil.which("srt-live-transmit"):
        missing.append("srt-live-transmit (apt-get install srt-tools)")
    if need_onair and not AWS.exists():
        missing.append(f"{AWS} (scripts/setup.sh test)")
    if missing:
        sys.exit("bench: missing " + ", ".join(missing) + "; run scripts/setup.sh test")


def build(need_onair: bool) -> None:
    pkgs = ["-p", "onair-load"] + (["-p", "onair"] if need_onair else [])
    log(f"cargo build --release {' '.join(pkgs)}")
    p = subprocess.run(["cargo", "build", "--release", *pkgs], cwd=ROOT, timeout=1800)
    if p.returncode != 0:
        sys.exit("bench: cargo build failed (use --relays srt to measure srt-live-transmit alone)")


def ts_file(mbps: int) -> Path:
    """A 4 s 720p25 H.264 test pattern muxed at exactly `mbps` (looped by the sender)."""
    CACHE.mkdir(parents=True, exist_ok=True)
    path = CACHE / f"testsrc2-720p25-{mbps}M.ts"
    if path.exists() and path.stat().st_size > 1_000_000:
        return path
    video = int(mbps * 0.8)
    log(f"ffmpeg: generating {path.name}")
    run(["ffmpeg", "-loglevel", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=25",
         "-t", "4", "-c:v", "libx264", "-preset", "ultrafast",
         "-b:v", f"{video}M", "-minrate", f"{video}M", "-maxrate", f"{video}M",
         "-bufsize", f"{video // 2}M", "-x264-params", "nal-hrd=cbr",
         "-muxrate", f"{mbps}M", "-f", "mpegts", str(path)], timeout=120)
    return path


# ---------------------------------------------------------------- relays

def onair_relay(batching: str) -> str:
    """The relay's name in the results: `onair`, or `onair 5ms` for flows run
    with `--flow-batching 5ms`."""
    return "onair" if batching == "auto" else f"onair {batching}"


class Onair:
    def __init__(self, workdir: Path, batching: str = "auto"):
        self.port = free_port(socket.SOCK_STREAM)
        self.relay = onair_relay(batching)
        self.data = workdir / f"onair-data-{batching}"
        self.logf = open(CACHE / f"onair-{batching}.log", "w")
        env = dict(os.environ, ONAIR_ACCESS_KEY_ID=ACCESS_KEY, ONAIR_SECRET_ACCESS_KEY=SECRET_KEY)
        self.proc = subprocess.Popen(
            [str(ONAIR_BIN), "serve", "--listen", f"127.0.0.1:{self.port}",
             "--data-dir", str(self.data), "--ingest-ip", "127.0.0.1", "--ingest-bind", "127.0.0.1",
             "--flow-batching", batching],
            stdout=self.logf, stderr=self.logf, env=env, cwd=workdir)
        self.env = dict(os.environ, AWS_ACCESS_KEY_ID=ACCESS_KEY, AWS_SECRET_ACCESS_KEY=SECRET_KEY,
                        AWS_DEFAULT_REGION="eu-west-3", AWS_ENDPOINT_URL=f"http://127.0.0.1:{self.port}",
                        AWS_PAGER="", AWS_MAX_ATTEMPTS="2")
        deadline = time.monotonic() + 20
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"onair serve exited ({self.proc.returncode}); see {CACHE / 'onair.log'}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("onair serve did not open its port within 20 s")
                time.sleep(0.1)

    @property
    def pids(self) -> list[int]:
        return [self.proc.pid]

    def aws(self, *args: str, timeout: float = 60) -> dict:
        out = run([str(AWS), "mediaconnect", *args, "--output", "json"], timeout, env=self.env)
        return json.loads(out) if out.strip() else {}

    def describe_status(self, arn: str) -> str:
        return self.aws("describe-flow", "--flow-arn", arn)["Flow"]["Status"]

    def start_flow(self, name: str, path: str, ingest: int, outs: list[int]) -> str:
        """A flow from `ingest` to `outs`: udp > udp, srt (listener) > udp,
        or srt > srt (listener outputs, which receivers call)."""
        source = {"Name": "load", "Protocol": "udp", "IngestPort": ingest,
                  "WhitelistCidr": "127.0.0.0/8", "Description": "onair-load"}
        if path != "udp":
            source |= {"Protocol": "srt-listener", "MinLatency": SRT_LATENCY_MS}
        if path == "srt-srt":
            outputs = [{"Name": f"out{i}", "Protocol": "srt-listener", "Port": p,
                        "MinLatency": SRT_LATENCY_MS, "CidrAllowList": ["127.0.0.0/8"]}
                       for i, p in enumerate(outs)]
        else:
            outputs = [{"Name": f"out{i}", "Protocol": "udp", "Destination": "127.0.0.1", "Port": p}
                       for i, p in enumerate(outs)]
        req = {"Name": name, "AvailabilityZone": "eu-west-3a", "Source": source, "Outputs": outputs}
        arn = self.aws("create-flow", "--cli-input-json", json.dumps(req))["Flow"]["FlowArn"]
        self.aws("start-flow", "--flow-arn", arn)
        self.aws("wait", "flow-active", "--flow-arn", arn, timeout=90)
        return arn

    def remove_flow(self, arn: str) -> None:
        self.aws("stop-flow", "--flow-arn", arn)
        deadline = time.monotonic() + 30
        while self.describe_status(arn) != "STANDBY":
            if time.monotonic() > deadline:
                raise RuntimeError(f"flow {arn} did not reach STANDBY within 30 s")
            time.sleep(0.3)
        self.aws("delete-flow", "--flow-arn", arn)

    def close(self) -> None:
        stop_proc(self.proc)
        self.logf.close()


def srt_url(port: int, host: str = "") -> str:
    return f"srt://{host}:{port}?latency={SRT_LATENCY_MS}"


def slt(src: str, dst: str) -> subprocess.Popen:
    return subprocess.Popen(["srt-live-transmit", "-q", src, dst],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def wait_bound(ports: list[int], procs: list[subprocess.Popen], what: str) -> None:
    """Waits (bounded) until every UDP port in `ports` is bound (SRT too: it
    runs over UDP)."""
    deadline = time.monotonic() + 10
    while not set(ports) <= set(udp_drops()):
        if time.monotonic() > deadline or any(p.poll() is not None for p in procs):
            raise RuntimeError(f"{what} did not bind ports {ports}")
        time.sleep(0.05)


class Procs:
    """srt-live-transmit processes started together: their pids, and one stop."""

    procs: list[subprocess.Popen]

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self.procs]

    def close(self) -> None:
        for p in self.procs:
            stop_proc(p)


class SrtRelays(Procs):
    """srt-live-transmit as the relay under test: for the udp path one
    instance per output, udp://:IN -> udp://127.0.0.1:OUT; for the SRT paths
    one instance, srt://:IN -> udp://127.0.0.1:OUT or srt://:OUT."""

    def __init__(self, path: str, ins: list[int], outs: list[int]):
        self.procs = []
        try:
            for i, o in zip(ins, outs):
                src = f"udp://:{i}" if path == "udp" else srt_url(i)
                dst = srt_url(o) if path == "srt-srt" else f"udp://127.0.0.1:{o}"
                self.procs.append(slt(src, dst))
            wait_bound(ins, self.procs, "srt-live-transmit")
        except RuntimeError:
            self.close()
            raise


class Converters(Procs):
    """For the SRT paths, what lets the UDP load tool talk to an SRT relay:
    srt-live-transmit udp://:LOAD -> srt://127.0.0.1:IN (a caller) in front,
    and for srt-srt srt://127.0.0.1:OUT -> udp://127.0.0.1:RECV behind. Their
    CPU is not the relay's; the drop table's "relay ingest" for these paths
    is the front converter's UDP socket."""

    def __init__(self, path: str, load_in: int, relay_in: int, relay_out: int, recv: int):
        # A large UDP receive buffer, so that the converter's own ingest does
        # not overflow at 100 Mb/s (the kernel caps it at net.core.rmem_max).
        self.procs = [slt(f"udp://:{load_in}?rcvbuf={8 << 20}", srt_url(relay_in, "127.0.0.1"))]
        if path == "srt-srt":
            self.procs.append(slt(srt_url(relay_out, "127.0.0.1"), f"udp://127.0.0.1:{recv}"))
        try:
            wait_bound([load_in], self.procs, "the srt-live-transmit converter")
        except RuntimeError:
            self.close()
            raise


# ---------------------------------------------------------------- measuring

def wait_quiet(max_wait: float, threshold_pct: float = 25.0) -> float:
    """Waits (at most max_wait s) until the machine is mostly idle; returns the
    last busy percentage seen. Other work on the machine (a build) skews CPU
    and latency numbers."""
    deadline = time.monotonic() + max_wait
    while True:
        b0 = busy_jiffies()
        time.sleep(0.5)
        b1 = busy_jiffies()
        pct = 100.0 * (b1[0] - b0[0]) / max(1, b1[1] - b0[1])
        if pct < threshold_pct or time.monotonic() > deadline:
            if pct >= threshold_pct:
                log(f"warning: machine still {pct:.0f} % busy before measuring")
            return pct


def cpu_of(pids: list[int]) -> float:
    return sum(proc_cpu_s(p) for p in pids)


def idle_rate(pids: list[int], seconds: float) -> float:
    """CPU-seconds per second the relay burns with no traffic."""
    c0, t0 = cpu_of(pids), time.monotonic()
    time.sleep(seconds)
    return (cpu_of(pids) - c0) / (time.monotonic() - t0)


def load(file: Path, mbps: int, dests: list[int], recvs: list[int], paired: bool,
         duration: float, drain_ms: int, max_drain_ms: int, pids: list[int],
         converter_pids: list[int] = ()) -> dict:
    cmd = [str(TARGET / "onair-load"), "--file", str(file), "--bitrate", str(mbps * 1_000_000),
           "--duration", str(duration), "--drain-ms", str(drain_ms),
           "--max-drain-ms", str(max_drain_ms)]
    for d in dests:
        cmd += ["--dest", f"127.0.0.1:{d}"]
    for r in recvs:
        cmd += ["--recv", f"127.0.0.1:{r}"]
    if paired:
        cmd.append("--paired")
    drops0, snmp0, busy0 = udp_drops(), snmp_udp(), busy_jiffies()
    self0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    x0 = ctx_switches(pids)
    c0, t0 = cpu_of(pids), time.monotonic()
    k0 = cpu_of(converter_pids)
    # Sample the relay's ingest queue while the load runs: a backlog there
    # means the relay does not read fast enough.
    rxq_max = [0]
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.05):
            q = udp_rx_queue()
            rxq_max[0] = max(rxq_max[0], max((q.get(d, 0) for d in dests), default=0))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=duration + max_drain_ms / 1000 + 30)
    finally:
        done.set()
        sampler.join(timeout=2)
    c1, t1 = cpu_of(pids), time.monotonic()
    k1 = cpu_of(converter_pids)
    x1 = ctx_switches(pids)
    self1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    drops1, snmp1, busy1 = udp_drops(), snmp_udp(), busy_jiffies()
    if p.returncode != 0:
        raise RuntimeError(f"onair-load failed: {p.stderr[-2000:]}")
    rep = json.loads(p.stdout)
    rep["window_s"] = t1 - t0
    rep["relay_cpu_s"] = c1 - c0
    rep["relay_ctx_switches"] = (x1[0] - x0[0]) + (x1[1] - x0[1])
    rep["relay_ctx_switches_involuntary"] = x1[1] - x0[1]
    rep["load_tool_cpu_s"] = (self1.ru_utime + self1.ru_stime) - (self0.ru_utime + self0.ru_stime)
    rep["converters_cpu_s"] = k1 - k0
    rep["machine_busy_pct"] = 100.0 * (busy1[0] - busy0[0]) / max(1, busy1[1] - busy0[1])
    # CPU used by everything else on the machine (other builds, the kernel's
    # own threads): contamination to watch, not part of any result.
    rep["other_cpu_s"] = ((busy1[0] - busy0[0]) / TICK - rep["relay_cpu_s"] - rep["load_tool_cpu_s"]
                          - rep["converters_cpu_s"])
    rep["relay_ingest_rxq_max_bytes"] = rxq_max[0]
    rep["relay_input_drops"] = sum(drops1.get(d, 0) - drops0.get(d, 0) for d in dests)
    rep["probe_socket_drops"] = sum(drops1.get(r, 0) - drops0.get(r, 0) for r in recvs)
    rep["udp_rcvbuf_errors"] = snmp1.get("RcvbufErrors", 0) - snmp0.get("RcvbufErrors", 0)
    rep["udp_sndbuf_errors"] = snmp1.get("SndbufErrors", 0) - snmp0.get("SndbufErrors", 0)
    return rep


def summarize(relay: str, path: str, mbps: int, n: int, rep: dict, idle: float, subtract_idle: bool) -> dict:
    outs = rep["outputs"]
    sent = sum(rep["sender"]["datagrams_per_dest"][o["dest_index"]] for o in outs)
    received = sum(o["received"] for o in outs)
    lost = sum(o["lost"] for o in outs)
    with_data = [o for o in outs if o["received"]]
    lat = lambda k: [o["latency"][k] for o in with_data]  # noqa: E731
    net = rep["relay_cpu_s"] - (idle * rep["window_s"] if subtract_idle else 0.0)
    forwarded_mb = mbps * n * rep["sender"]["elapsed_s"]  # Mb/s x outputs x seconds
    return {
        "relay": relay,
        "path": PATHS[path],
        "mbps": mbps,
        "outputs": n,
        "window_s": round(rep["window_s"], 3),
        "send_s": round(rep["sender"]["elapsed_s"], 3),
        "drain_s": round(rep["drain_s"], 3),
        "achieved_mbps": round(rep["sender"]["achieved_bps"] / 1e6, 3),
        "relay_cpu_s": round(rep["relay_cpu_s"], 3),
        "idle_cpu_per_s": round(idle, 5),
        "idle_subtracted": subtract_idle,
        "relay_cpu_net_s": round(net, 3),
        "forwarded_mb": round(forwarded_mb, 1),
        "cpu_s_per_mbps_s": net / forwarded_mb if forwarded_mb else None,
        "sent": sent,
        "received": received,
        "lost": lost,
        "loss_pct": 100.0 * lost / sent if sent else None,
        "duplicates": sum(o["duplicates"] for o in outs),
        "reordered": sum(o["reordered"] for o in outs),
        "unmatched": sum(o["unmatched"] for o in outs),
        "outputs_silent": sum(1 for o in outs if not o["received"]),
        # p50: median over outputs of each output's p50; p99 and max: worst output.
        "p50_us": statistics.median(lat("p50_us")) if with_data else None,
        "p99_us": max(lat("p99_us")) if with_data else None,
        "p999_us": max(lat("p999_us")) if with_data else None,
        "max_us": max(lat("max_us")) if with_data else None,
        "over_10ms": sum(o["over_10ms"] for o in outs),
        "relay_input_drops": rep["relay_input_drops"],
        "probe_socket_drops": rep["probe_socket_drops"],
        "relay_ingest_rxq_max_bytes": rep["relay_ingest_rxq_max_bytes"],
        "relay_ctx_switches": rep["relay_ctx_switches"],
        "relay_ctx_switches_involuntary": rep["relay_ctx_switches_involuntary"],
        "send_errors": sum(rep["sender"]["send_errors_per_dest"]),
        "late_sends_over_1ms": rep["sender"]["late_over_1ms"],
        "load_tool_cpu_s": round(rep["load_tool_cpu_s"], 3),
        "converters_cpu_s": round(rep["converters_cpu_s"], 3),
        "machine_busy_pct": round(rep["machine_busy_pct"], 1),
        "other_cpu_s": round(rep["other_cpu_s"], 2),
        "rcvbuf_bytes": min((o["rcvbuf_bytes"] for o in outs), default=0),
        "sndbuf_bytes": rep["sender"]["sndbuf_bytes"],
        "per_output": [{k: o[k] for k in ("addr", "received", "lost", "duplicates", "reordered",
                                          "latency", "over_10ms", "per_second")} for o in outs],
    }


def warm_up(file: Path, mbps: int, dests: list[int], recvs: list[int], paired: bool, pids: list[int]) -> None:
    """Until traffic gets through end to end (the SRT connections are up):
    short load runs, at most five, whose results are not kept."""
    for _ in range(5):
        rep = load(file, mbps, dests, recvs, paired, 0.5, 200, 1000, pids)
        if all(o["received"] for o in rep["outputs"]):
            return
        time.sleep(0.5)
    raise RuntimeError("no traffic got through the relay (SRT connections not up?)")


def measure(file: Path, path: str, mbps: int, n: int, args, taken: set[int],
            relay_pids: list[int], relay_ins: list[int], relay_outs: list[int]) -> tuple[dict, float, float]:
    """Runs the traffic of a case through a started relay. Returns the load
    report, the relay's idle CPU rate and the machine's busy % before."""
    converters = None
    try:
        if path == "udp":
            dests, recvs = relay_ins, relay_outs
        else:
            dests, recvs = free_ports(1, taken), free_ports(1, taken)
            if path == "srt-udp":
                recvs = relay_outs
            converters = Converters(path, dests[0], relay_ins[0], relay_outs[0], recvs[0])
        paired = len(dests) > 1
        if path != "udp":
            warm_up(file, mbps, dests, recvs, paired, relay_pids)
        time.sleep(0.3)
        busy = wait_quiet(args.quiet_wait)
        idle = idle_rate(relay_pids, args.idle)
        rep = load(file, mbps, dests, recvs, paired, args.duration, args.drain_ms, args.max_drain_ms,
                   relay_pids, converters.pids if converters else [])
    finally:
        if converters:
            converters.close()
    return rep, idle, busy


def case_onair(srv: Onair, file: Path, path: str, mbps: int, n: int, args, taken: set[int]) -> dict:
    ingest, *outs = free_ports(n + 1, taken)
    # The server's own idle rate (API, metrics), before the flow exists: what
    # is subtracted. What the flow costs while idle (its SRT connections'
    # timers, any polling) is its own and stays charged to it.
    wait_quiet(args.quiet_wait)
    server_idle = idle_rate(srv.pids, args.idle)
    arn = srv.start_flow(f"bench-{path}-{mbps}M-{n}out-{ingest}", path, ingest, outs)
    try:
        time.sleep(0.5)
        rep, idle, busy = measure(file, path, mbps, n, args, taken, srv.pids, [ingest], outs)
    finally:
        try:
            srv.remove_flow(arn)
        except (RuntimeError, subprocess.SubprocessError) as e:
            log(f"warning: could not remove flow: {e}")
    return summarize(srv.relay, path, mbps, n, rep, server_idle, True) | {
        "busy_before_pct": round(busy, 1), "idle_with_flow_cpu_per_s": round(idle, 5)}


def case_srt(file: Path, path: str, mbps: int, n: int, args, taken: set[int]) -> dict:
    ins = free_ports(n, taken)
    outs = free_ports(n, taken)
    relays = SrtRelays(path, ins, outs)
    try:
        time.sleep(0.3)
        rep, idle, busy = measure(file, path, mbps, n, args, taken, relays.pids, ins, outs)
    finally:
        relays.close()
    return summarize("srt-live-transmit", path, mbps, n, rep, idle, False) | {"busy_before_pct": round(busy, 1)}


# ---------------------------------------------------------------- reporting

def cpu_us_per_mb(r: dict):
    v = r.get("cpu_s_per_mbps_s")
    return None if v is None else v * 1e6


def cpu_us_per_mb_both_idle(r: dict):
    """As cpu_us_per_mb, with the relay's idle rate subtracted whatever the relay."""
    if not r.get("forwarded_mb"):
        return None
    idle = r.get("idle_with_flow_cpu_per_s", r["idle_cpu_per_s"])  # onair: with its flow up
    net = r["relay_cpu_s"] - idle * r["window_s"]
    return net / r["forwarded_mb"] * 1e6


def path_of(r: dict) -> str:
    return r.get("path", "udp>udp")  # results written before the SRT cases


def tables(results: list[dict]) -> str:
    lines = [
        "| path | rate | outputs | relay | CPU µs per Mb forwarded | relay CPU s (net) | loss | p50 µs | p99 µs | max µs | machine busy |",
        "|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        lines.append(
            f"| {path_of(r)} | {r['mbps']} Mb/s | {r['outputs']} | {r['relay']} | {fmt(cpu_us_per_mb(r), '.1f')} "
            f"| {fmt(r['relay_cpu_net_s'], '.2f')} | {fmt(r['loss_pct'], '.3f')} % ({r['lost']}/{r['sent']}) "
            f"| {fmt(r['p50_us'])} | {fmt(r['p99_us'])} | {fmt(r['max_us'])} | {fmt(r['machine_busy_pct'], '.0f')} % |")
    lines += [
        "",
        "Ratios onair / srt-live-transmit (< 1: onair uses less, or is faster):",
        "",
        "| path | rate | outputs | onair | CPU per Mb | CPU per Mb, idle subtracted from both | p50 latency | p99 latency | loss onair | loss srt-live-transmit |",
        "|---|---:|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    by = {(r["relay"], path_of(r), r["mbps"], r["outputs"]): r for r in results}
    cases = list(dict.fromkeys((path_of(r), r["mbps"], r["outputs"]) for r in results))
    onairs = list(dict.fromkeys(r["relay"] for r in results if r["relay"].startswith("onair")))
    for (path, mbps, n), onair in [(c, o) for c in cases for o in onairs]:
        a, b = by.get((onair, path, mbps, n)), by.get(("srt-live-transmit", path, mbps, n))
        if not a or not b:
            continue
        lines.append(
            f"| {path} | {mbps} Mb/s | {n} | {onair} | {fmt(ratio(cpu_us_per_mb(a), cpu_us_per_mb(b)), '.2f')} "
            f"| {fmt(ratio(cpu_us_per_mb_both_idle(a), cpu_us_per_mb_both_idle(b)), '.2f')} "
            f"| {fmt(ratio(a['p50_us'], b['p50_us']), '.3f')} | {fmt(ratio(a['p99_us'], b['p99_us']), '.3f')} "
            f"| {fmt(a['loss_pct'], '.3f')} % | {fmt(b['loss_pct'], '.3f')} % |")
    return "\n".join(lines)


def write_doc(doc: dict) -> None:
    m = doc["machine"]
    body = "\n".join([
        BEGIN,
        "",
        f"Run of {doc['started']} ({doc['duration_s']:g} s of traffic per case, "
        f"idle baseline {doc['idle_s']:g} s), on {m['nproc']} × {m['cpu_model']}, "
        f"{m['mem_gib']} GiB, Linux {m['kernel']}, net.core.rmem_max = {m['net.core.rmem_max']}, "
        f"srt-tools {m['srt_tools']}. Raw numbers: `bench/results.json`.",
        "",
        tables(doc["results"]),
        "",
        "Drops by the kernel on the relays' ingest sockets during the traffic window "
        "(from `/proc/net/udp`; for the SRT paths the ingest port is the converter's), "
        "and on the load tool's receive sockets:",
        "",
        "| path | rate | outputs | relay | relay ingest drops | relay ingest queue max (KiB) | relay context switches (involuntary) | load-tool socket drops | relay idle CPU (ms/s) | load tool CPU s | converters CPU s | other processes CPU s (approx.) |",
        "|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|",
        *[f"| {path_of(r)} | {r['mbps']} Mb/s | {r['outputs']} | {r['relay']} | {r['relay_input_drops']} "
          f"| {r['relay_ingest_rxq_max_bytes'] // 1024} | {r['relay_ctx_switches']} ({r['relay_ctx_switches_involuntary']}) "
          f"| {r['probe_socket_drops']} | {r['idle_cpu_per_s'] * 1000:.1f} | {r['load_tool_cpu_s']:.2f} "
          f"| {r.get('converters_cpu_s', 0.0):.2f} | {max(0.0, r['other_cpu_s']):.1f} |"
          for r in doc["results"]],
        "",
        END,
    ])
    replace_section(DOC, BEGIN, END, body, empty="# Benchmarks\n\n## Results\n\n")


# ---------------------------------------------------------------- main

def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--duration", type=float, default=10.0, help="seconds of traffic per case (default 10)")
    ap.add_argument("--idle", type=float, default=5.0, help="seconds of the idle CPU baseline (default 5)")
    ap.add_argument("--drain-ms", type=int, default=500,
                    help="after sending, stop receiving once nothing arrived for this long (default 500)")
    ap.add_argument("--max-drain-ms", type=int, default=5000,
                    help="...or after this long in any case; later datagrams count as lost (default 5000)")
    ap.add_argument("--quiet-wait", type=float, default=10.0,
                    help="before each case, wait up to this many seconds for other load to settle")
    ap.add_argument("--relays", default="onair,srt", help="comma list of onair, srt (default both)")
    ap.add_argument("--onair-batching", default="auto",
                    help="comma list of `onair serve --flow-batching` values, one onair per value "
                         "(default auto), e.g. auto,5ms")
    ap.add_argument("--cases", default="",
                    help="comma list like 20x1,100x10,srt-udp:20x1,srt-srt:100x1 (default all: "
                         "udp at {20,100}x{1,10}, srt-udp and srt-srt at {20,100}x1)")
    ap.add_argument("--skip-build", action="store_true")
    ap.add_argument("--no-doc", action="store_true", help="do not rewrite docs/BENCHMARKS.md")
    ap.add_argument("--out", type=Path, default=RESULTS)
    ap.add_argument("--render-only", action="store_true",
                    help="measure nothing: print and write the doc from an existing --out file")
    args = ap.parse_args()
    if args.render_only:
        doc = json.loads(args.out.read_text())
        print(tables(doc["results"]))
        if not args.no_doc:
            write_doc(doc)
        return 0

    relays = {r.strip() for r in args.relays.split(",") if r.strip()}
    if not relays <= {"onair", "srt"}:
        ap.error("--relays takes onair and/or srt")
    batchings = list(dict.fromkeys(b.strip() for b in args.onair_batching.split(",") if b.strip()))
    cases = DEFAULT_CASES
    if args.cases:
        cases = [parse_case(c.strip(), ap) for c in args.cases.split(",") if c.strip()]
    check_tools("srt" in relays, "onair" in relays)
    if not args.skip_build:
        build("onair" in relays)
    started = dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat()
    t_start = time.monotonic()
    files = {m: ts_file(m) for m in sorted({m for _, m, _ in cases})}
    results: list[dict] = []
    taken: set[int] = set()
    with tempfile.TemporaryDirectory(prefix="onair-bench-") as tmp:
        srvs = [Onair(Path(tmp), b) for b in batchings] if "onair" in relays else []
        try:
            for path, mbps, n in cases:
                for srv in srvs:
                    log(f"{srv.relay}: {PATHS[path]}, {mbps} Mb/s, {n} output(s)")
                    results.append(case_onair(srv, files[mbps], path, mbps, n, args, taken))
                    log(f"  -> {brief(results[-1])}")
                if "srt" in relays:
                    log(f"srt-live-transmit: {PATHS[path]}, {mbps} Mb/s, {n} output(s)")
                    results.append(case_srt(files[mbps], path, mbps, n, args, taken))
                    log(f"  -> {brief(results[-1])}")
        finally:
            for srv in srvs:
                srv.close()
    doc = {
        "started": started,
        "wall_s": round(time.monotonic() - t_start, 1),
        "duration_s": args.duration,
        "idle_s": args.idle,
        "machine": machine(),
        "method": {
            "datagram": "7 x 188-byte TS packets, raw UDP; the 7th replaced by a probe null packet",
            "cpu": "utime+stime of the relay processes over the traffic window; onair minus the server's idle "
                   "rate (measured before the flow is created) x window",
            "onair_batching": "relay `onair`: onair serve --flow-batching auto; `onair X`: --flow-batching X",
            "cpu_s_per_mbps_s": "relay CPU-seconds / (input Mb/s x outputs x seconds sent)",
            "srt_live_transmit": "udp path: one instance per output, each fed its own copy by the load tool",
            "srt_paths": "srt-live-transmit converters (udp -> srt caller in front, srt caller -> udp "
                         f"behind for srt>srt) around the relay, not counted; SRT latency {SRT_LATENCY_MS} ms",
        },
        "results": results,
    }
    args.out.write_text(json.dumps(doc, indent=2) + "\n")
    print(tables(results))
    print(f"\nwrote {args.out.relative_to(ROOT) if args.out.is_relative_to(ROOT) else args.out}"
          f" in {doc['wall_s']} s")
    if not args.no_doc:
        write_doc(doc)
        print(f"updated {DOC.relative_to(ROOT)}")
    return 0


def parse_case(text: str, ap: argparse.ArgumentParser) -> tuple[str, int, int]:
    """'20x1' or 'srt-udp:20x1' -> (path, Mb/s, outputs)."""
    path, _, rate = text.rpartition(":")
    path = path or "udp"
    try:
        mbps, n = (int(x) for x in rate.split("x"))
    except ValueError:
        ap.error(f"bad case {text!r}: want [PATH:]RATExOUTPUTS, e.g. 20x1 or srt-srt:20x1")
    if path not in PATHS:
        ap.error(f"bad case {text!r}: path is one of {', '.join(PATHS)}")
    if path != "udp" and n != 1:
        ap.error(f"bad case {text!r}: the SRT paths have one output")
    return path, mbps, n


def brief(r: dict) -> str:
    return (f"cpu {fmt(cpu_us_per_mb(r), '.1f')} µs/Mb, loss {fmt(r['loss_pct'], '.3f')} %, "
            f"p50 {fmt(r['p50_us'])} µs, p99 {fmt(r['p99_us'])} µs, max {fmt(r['max_us'])} µs, "
            f"ingest drops {r['relay_input_drops']}, ingest queue max {r['relay_ingest_rxq_max_bytes']} B, busy {r['machine_busy_pct']:.0f} %")


if __name__ == "__main__":
    sys.exit(main())
