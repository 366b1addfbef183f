#!/usr/bin/env python3
"""Origin benchmark: onair's MediaPackage origin against nginx serving the same files.

    make bench                                  # runs this after bench/transcode.py
    bench/origin.py --duration 5 --conns 50     # a quick look

In one run:
  - `onair serve` (release build) with a packaging channel and an HLS origin endpoint
    (2 s segments, 20 s window, 600 s start-over so the measured segment stays), and a
    live push into its HTTP ingest: ffmpeg `-re -stream_loop -1` of a cached 60 s
    540p25 test TS (x264 CBR, about 350 KB per 2 s segment), `-f hls -method PUT`,
    as an encoder would; it keeps pushing during every measurement;
  - nginx (Debian `nginx-light`, `worker_processes` = cores, `sendfile on`,
    `access_log off`) serving copies of the same media playlist and segment from
    disk under the same paths;
  - `wrk -t2` against both, with 50 and 1000 connections, for the segment and for
    the media playlist (a short warm-up, then --duration seconds measured).
Per run: requests/s, latency p50/p99, transfer, non-2xx responses and socket errors
(wrk), CPU seconds of the server processes (utime+stime from /proc/PID/stat, all
threads; nginx: master and workers) per GB served, and the servers' memory (resident set, plus onair's segment files)
(sampled every 0.25 s, maximum). Writes bench/origin-results.json and the origin
results section of docs/BENCHMARKS.md. Standard library only; every subprocess has
a timeout. --perf adds a profiling pass (perf record -g on onair, one per case) whose
top symbols go to bench/results/perf-origin-*.txt and the JSON.
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import json
import os
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

from common import (ROOT, TICK, busy_jiffies, dpkg_version, first_line, fmt, machine_base, proc_cpu_s, ratio, replace_section, run, stop_proc)

TARGET = ROOT / "target" / "release"
AWS = ROOT / ".venv" / "bin" / "aws"
CACHE = ROOT / "bench" / "results"  # gitignored: generated TS, logs, perf reports
RESULTS = ROOT / "bench" / "origin-results.json"
DOC = ROOT / "docs" / "BENCHMARKS.md"
BEGIN, END = "<!-- BEGIN ORIGIN RESULTS (bench/origin.py) -->", "<!-- END ORIGIN RESULTS -->"
PAGE_KIB = os.sysconf("SC_PAGE_SIZE") // 1024
ONAIR_BIN = Path(os.environ.get("ONAIR_BIN", TARGET / "onair"))  # override: another build
ACCESS_KEY, SECRET_KEY = "AKIAONAIRBENCH000002", "onair-bench-secret-not-for-production"
CHANNEL, ENDPOINT, MANIFEST = "bench", "bench-hls", "index"
SOURCE_SECONDS = 60
OBJECTS = ("segment", "playlist")
SERVERS = ("nginx", "onair")


def log(msg: str) -> None:
    print(f"[origin {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------- system facts

def rss_kib(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/statm") as f:
            return int(f.read().split()[1]) * PAGE_KIB
    except (OSError, ValueError, IndexError):
        return 0


def segment_files_kib(pid: int) -> int:
    """Bytes in the process's unnamed files, in KiB: onair keeps stored segments in
    unnamed files in its data directory (or memfds), whose page cache is not part of
    its resident set. An upper bound of the memory they take."""
    total = 0
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return 0
    for fd in fds:
        path = f"/proc/{pid}/fd/{fd}"
        try:
            link = os.readlink(path)
            if link.startswith("/memfd:") or link.endswith(" (deleted)"):
                total += os.stat(path).st_size
        except OSError:
            pass
    return total // 1024


def memory_kib(pid: int) -> int:
    """What the process holds: its resident set and its segment files."""
    return rss_kib(pid) + segment_files_kib(pid)


def children(pid: int) -> list[int]:
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as f:
                    rest = f.read().rsplit(")", 1)[1].split()
                if int(rest[1]) == pid:
                    out.append(int(d))
            except (OSError, ValueError, IndexError):
                pass
    return out


def machine() -> dict:
    return {
        **machine_base(),
        "nginx": dpkg_version("nginx-light"),
        "wrk": dpkg_version("wrk"),
        "ffmpeg": first_line(["ffmpeg", "-version"]),
        "rustc": first_line(["rustc", "--version"]),
    }


# ---------------------------------------------------------------- preparation

def check_tools() -> None:
    missing = [t for t in ("wrk", "nginx", "ffmpeg") if shutil.which(t) is None]
    if missing:
        sys.exit(f"bench: {', '.join(missing)} not found. Install them with "
                 "`scripts/setup.sh bench` (apt-get install wrk nginx-light ffmpeg), "
                 "or `make bench`, which runs it.")
    if not AWS.exists():
        sys.exit("bench: .venv/bin/aws not found; run `scripts/setup.sh bench` first")


def build() -> None:
    log("cargo build --release -p onair")
    p = subprocess.run(["cargo", "build", "--release", "-p", "onair"], cwd=ROOT, timeout=3600)
    if p.returncode != 0:
        sys.exit("bench: cargo build failed")


def raise_fd_limit() -> int:
    """1000 connections need more than the usual 1024 descriptors (wrk, onair, nginx)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = hard if hard != resource.RLIM_INFINITY else 65536
    want = min(want, 65536)
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def make_source() -> Path:
    path = CACHE / f"origin-source-540p25-{SOURCE_SECONDS}s.ts"
    if path.exists() and path.stat().st_size > 0:
        return path
    CACHE.mkdir(parents=True, exist_ok=True)
    log(f"generating {path.name} (testsrc2 960x540p25 + tone, x264 CBR 1.3 Mb/s, IDR every 2 s)")
    tmp = path.with_suffix(".tmp.ts")
    run(["ffmpeg", "-v", "error", "-nostdin", "-y",
         "-f", "lavfi", "-i", "testsrc2=size=960x540:rate=25",
         "-f", "lavfi", "-i", "sine=frequency=1000:sample_rate=48000",
         "-t", str(SOURCE_SECONDS), "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p",
         "-b:v", "1300k", "-maxrate", "1300k", "-bufsize", "1300k", "-x264-params", "nal-hrd=cbr",
         "-g", "50", "-keyint_min", "50", "-sc_threshold", "0",
         "-c:a", "aac", "-b:a", "96k", "-ar", "48000", "-f", "mpegts", str(tmp)], timeout=600)
    tmp.rename(path)
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_get(url: str, timeout: float = 5) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, b""
    except (urllib.error.URLError, OSError):
        return 0, b""


# ---------------------------------------------------------------- servers

class Onair:
    def __init__(self, workdir: Path, source: Path, push_seconds: int):
        self.port = free_port()
        self.logf = open(CACHE / "origin-onair.log", "w")
        env = dict(os.environ, ONAIR_ACCESS_KEY_ID=ACCESS_KEY, ONAIR_SECRET_ACCESS_KEY=SECRET_KEY)
        self.proc = subprocess.Popen(
            [str(ONAIR_BIN), "serve", "--listen", f"127.0.0.1:{self.port}",
             "--data-dir", str(workdir / "onair-data"), "--ingest-ip", "127.0.0.1",
             "--ingest-bind", "127.0.0.1"],
            stdout=self.logf, stderr=self.logf, env=env, cwd=workdir)
        self.env = dict(os.environ, AWS_ACCESS_KEY_ID=ACCESS_KEY, AWS_SECRET_ACCESS_KEY=SECRET_KEY,
                        AWS_DEFAULT_REGION="eu-west-3", AWS_ENDPOINT_URL=f"http://127.0.0.1:{self.port}",
                        AWS_PAGER="", AWS_MAX_ATTEMPTS="2")
        self.pusher: subprocess.Popen | None = None
        deadline = time.monotonic() + 20
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"onair serve exited ({self.proc.returncode}); see {CACHE / 'origin-onair.log'}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("onair serve did not open its port within 20 s")
                time.sleep(0.1)
        ch = self.aws("create-channel", "--id", CHANNEL)
        ingest = ch["HlsIngest"]["IngestEndpoints"][0]
        ep = self.aws("create-origin-endpoint", "--channel-id", CHANNEL, "--id", ENDPOINT,
                      "--manifest-name", MANIFEST, "--startover-window-seconds", "600",
                      "--hls-package", json.dumps({"SegmentDurationSeconds": 2, "PlaylistWindowSeconds": 20}))
        self.base = ep["Url"].rsplit("/", 1)[0]
        token = base64.b64encode(f"{ingest['Username']}:{ingest['Password']}".encode()).decode()
        self.pushlog = open(CACHE / "origin-push.log", "w")
        self.pusher = subprocess.Popen(
            ["ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-re", "-stream_loop", "-1",
             "-i", str(source), "-t", str(push_seconds), "-c", "copy",
             "-f", "hls", "-hls_time", "2", "-method", "PUT",
             "-headers", f"Authorization: Basic {token}\r\n", ingest["Url"] + ".m3u8"],
            stdout=self.pushlog, stderr=self.pushlog)

    def aws(self, *args: str, timeout: float = 60) -> dict:
        out = run([str(AWS), "mediapackage", *args, "--output", "json"], timeout, env=self.env)
        return json.loads(out) if out.strip() else {}

    def pids(self) -> list[int]:
        return [self.proc.pid]

    def close(self) -> None:
        if self.pusher:
            stop_proc(self.pusher)
            self.pushlog.close()
        stop_proc(self.proc)
        self.logf.close()


class Nginx:
    def __init__(self, workdir: Path, files: dict[str, bytes]):
        self.port = free_port()
        self.dir = workdir / "nginx"
        root = self.dir / "root"
        for rel, data in files.items():
            p = root / rel.lstrip("/")
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_bytes(data)
        # Workers run as an unprivileged user: everything they read must be readable.
        for d in [workdir, *self.dir.rglob("*"), self.dir]:
            os.chmod(d, 0o755 if d.is_dir() else 0o644)
        cores = os.cpu_count() or 1
        conf = self.dir / "nginx.conf"
        conf.write_text(f"""
worker_processes {cores};
daemon off;
pid {self.dir}/nginx.pid;
error_log {self.dir}/error.log warn;
worker_rlimit_nofile 16384;
events {{ worker_connections 8192; }}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 100000000;
    types {{ application/vnd.apple.mpegurl m3u8; video/mp2t ts; }}
    default_type application/octet-stream;
    client_body_temp_path {self.dir}/tmp-body;
    proxy_temp_path {self.dir}/tmp-proxy;
    fastcgi_temp_path {self.dir}/tmp-fastcgi;
    uwsgi_temp_path {self.dir}/tmp-uwsgi;
    scgi_temp_path {self.dir}/tmp-scgi;
    server {{
        listen 127.0.0.1:{self.port};
        root {root};
    }}
}}
""")
        self.logf = open(CACHE / "origin-nginx.log", "w")
        self.proc = subprocess.Popen(["nginx", "-p", str(self.dir), "-c", str(conf)],
                                     stdout=self.logf, stderr=self.logf)
        deadline = time.monotonic() + 10
        while len(children(self.proc.pid)) < cores:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"nginx did not start; see {CACHE / 'origin-nginx.log'} "
                                   f"and {self.dir / 'error.log'}")
            time.sleep(0.1)
        self.base = f"http://127.0.0.1:{self.port}"

    def pids(self) -> list[int]:
        return [self.proc.pid, *children(self.proc.pid)]

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGQUIT)  # graceful: workers finish, then exit
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        self.logf.close()


# ---------------------------------------------------------------- measuring

UNITS_T = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}
UNITS_B = {"B": 1, "KB": 1024, "MB": 1024 ** 2, "GB": 1024 ** 3, "TB": 1024 ** 4}


def parse_wrk(out: str) -> dict:
    def latency(label: str) -> float | None:
        m = re.search(rf"^\s*{label}%\s+([\d.]+)(us|ms|s|m)\s*$", out, re.M)
        return float(m.group(1)) * UNITS_T[m.group(2)] if m else None

    m = re.search(r"(\d+) requests in ([\d.]+)(us|ms|s|m), ([\d.]+)(B|KB|MB|GB|TB) read", out)
    if not m:
        raise RuntimeError(f"cannot read wrk's output:\n{out}")
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    return {
        "requests": int(m.group(1)),
        "seconds": float(m.group(2)) * UNITS_T[m.group(3)] / 1e3,
        "bytes": int(float(m.group(4)) * UNITS_B[m.group(5)]),
        "rps": float(rps.group(1)) if rps else None,
        "p50_ms": latency("50"),
        "p90_ms": latency("90"),
        "p99_ms": latency("99"),
        "socket_errors": sum(int(x) for x in errors.groups()) if errors else 0,
        "non_2xx": int(non2xx.group(1)) if non2xx else 0,
    }


def wrk(url: str, conns: int, seconds: float) -> str:
    cmd = ["wrk", "-t2", f"-c{conns}", f"-d{seconds:g}s", "--latency", "--timeout", "5s", url]
    return run(cmd, timeout=seconds + 60)


def wait_quiet(max_wait: float, threshold_pct: float = 15.0) -> float:
    """Waits (up to max_wait s) until the machine is less than threshold_pct busy over 1 s;
    returns the last busy percentage seen."""
    deadline = time.monotonic() + max_wait
    while True:
        b0, t0 = busy_jiffies()
        time.sleep(1.0)
        b1, t1 = busy_jiffies()
        pct = 100.0 * (b1 - b0) / max(1, t1 - t0)
        if pct < threshold_pct or time.monotonic() > deadline:
            return pct


def measure(server, url: str, conns: int, seconds: float, warmup: float) -> dict:
    if warmup > 0:
        wrk(url, conns, warmup)
    pids = server.pids()
    mem_max = [0]
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            mem_max[0] = max(mem_max[0], sum(memory_kib(p) for p in pids))
            stop.wait(0.25)

    sampler = threading.Thread(target=sample, daemon=True)
    cpu0 = sum(proc_cpu_s(p) for p in pids)
    busy0, total0 = busy_jiffies()
    child0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    sampler.start()
    out = wrk(url, conns, seconds)
    stop.set()
    sampler.join(timeout=5)
    cpu1 = sum(proc_cpu_s(p) for p in pids)
    busy1, total1 = busy_jiffies()
    child1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    r = parse_wrk(out)
    r["server_cpu_s"] = round(cpu1 - cpu0, 3)
    r["wrk_cpu_s"] = round((child1.ru_utime + child1.ru_stime) - (child0.ru_utime + child0.ru_stime), 3)
    r["machine_busy_pct"] = round(100.0 * (busy1 - busy0) / max(1, total1 - total0), 1)
    ncpu = os.cpu_count() or 1
    busy_s = (busy1 - busy0) / TICK
    # What neither the server nor wrk used: other processes (the push, other work).
    r["other_cpu_s"] = round(max(0.0, busy_s - r["server_cpu_s"] - r["wrk_cpu_s"]), 2)
    r["other_share_pct"] = round(100.0 * r["other_cpu_s"] / (ncpu * r["seconds"]), 1) if r["seconds"] else None
    r["server_mem_max_kib"] = mem_max[0]
    gb = r["bytes"] / 1e9
    r["cpu_s_per_gb"] = round(r["server_cpu_s"] / gb, 3) if gb > 0 else None
    r["cpu_us_per_request"] = round(1e6 * r["server_cpu_s"] / r["requests"], 1) if r["requests"] else None
    return r


def measure_kept(server, url: str, conns: int, args) -> dict:
    """measure(), repeated (up to --retries times) while other processes took more than
    --max-other % of the machine; the attempt that shared it least is kept."""
    attempts = []
    for _ in range(1 + args.retries):
        wait_quiet(args.quiet_wait)
        r = measure(server, url, conns, args.duration, args.warmup)
        attempts.append(r)
        if (r["other_share_pct"] or 0) <= args.max_other:
            break
        log(f"  other processes took {r['other_share_pct']} % of the machine: again")
    kept = min(attempts, key=lambda a: a["other_share_pct"] or 0)
    kept["attempts"] = len(attempts)
    return kept


def profile(server: Onair, url: str, conns: int, seconds: float, name: str) -> list[str]:
    if shutil.which("perf") is None:
        log("perf not found (apt-get install linux-perf): no profile")
        return []
    data = CACHE / f"perf-origin-{name}.data"
    rec = subprocess.Popen(["perf", "record", "-F", "499", "-g", "-p", str(server.proc.pid),
                            "-o", str(data), "--", "sleep", f"{seconds:g}"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wrk(url, conns, seconds)
    rec.wait(timeout=seconds + 60)
    report = run(["perf", "report", "-i", str(data), "--stdio", "--no-children", "--sort", "symbol",
                  "--percent-limit", "1", "-g", "none"], timeout=300, check=False)
    lines = [ln for ln in report.splitlines() if ln.strip() and not ln.startswith("#")][:40]
    (CACHE / f"perf-origin-{name}.txt").write_text(report)
    return lines


# ---------------------------------------------------------------- report

def label(obj: str, size: int) -> str:
    return f"segment ({size / 1000:.0f} kB)" if obj == "segment" else f"media playlist ({size} B)"


def tables(doc: dict) -> str:
    rows = doc["results"]
    sizes = doc["objects"]
    out = [
        "| object | connections | server | requests/s | every round's requests/s | p50 ms | p99 ms | Gb/s served | CPU s per GB | CPU µs per request | server CPU s | wrk CPU s | other processes CPU s | memory max MiB | non-2xx | socket errors | machine busy |",
        "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        gbps = r["bytes"] * 8 / 1e9 / r["seconds"] if r["seconds"] else None
        out.append(
            f"| {label(r['object'], sizes[r['object']])} | {r['conns']} | {r['server']} | {fmt(r['rps'])} "
            f"| {' / '.join(fmt(x) for x in r.get('rounds_rps', [r['rps']]))} "
            f"| {fmt(r['p50_ms'], '.2f')} | {fmt(r['p99_ms'], '.2f')} | {fmt(gbps, '.2f')} "
            f"| {fmt(r['cpu_s_per_gb'], '.2f')} | {fmt(r.get('cpu_us_per_request'), '.1f')} | {r['server_cpu_s']:.2f} "
            f"| {r['wrk_cpu_s']:.2f} | {r.get('other_cpu_s', 0):.2f} | {r['server_mem_max_kib'] / 1024:.1f} "
            f"| {r['non_2xx']} | {r['socket_errors']} | {r['machine_busy_pct']:.0f} % |")
    out += [
        "",
        "Ratios onair / nginx (requests/s: ≥ 1 means onair serves at least as many; p99 and CPU per GB: < 1 means onair is faster or cheaper):",
        "",
        "| object | connections | requests/s | p99 latency | CPU per GB | onair memory max MiB |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for obj in OBJECTS:
        for conns in doc["conns"]:
            by = {r["server"]: r for r in rows if r["object"] == obj and r["conns"] == conns}
            if set(by) != set(SERVERS):
                continue
            o, n = by["onair"], by["nginx"]
            out.append(
                f"| {label(obj, sizes[obj])} | {conns} | **{fmt(ratio(o['rps'], n['rps']), '.2f')}** "
                f"| {fmt(ratio(o['p99_ms'], n['p99_ms']), '.2f')} | {fmt(ratio(o['cpu_s_per_gb'], n['cpu_s_per_gb']), '.2f')} "
                f"| {o['server_mem_max_kib'] / 1024:.1f} |")
    return "\n".join(out)


def write_doc(doc: dict) -> None:
    m = doc["machine"]
    body = "\n".join([
        BEGIN,
        "",
        f"Run of {doc['started']} ({doc['duration_s']:g} s measured per case after a "
        f"{doc['warmup_s']:g} s warm-up, `wrk -t2`, {doc.get('rounds', 1)} alternating rounds per case, "
        f"each server's median round shown), on {m['nproc']} × {m['cpu_model']}, "
        f"{m['mem_gib']} GiB, Linux {m['kernel']}, nginx-light {m['nginx']}, wrk {m['wrk']}. "
        f"onair's memory (resident set and segment files) with the channel pushing and no viewers: {doc['onair_idle_mem_kib'] / 1024:.1f} MiB. "
        "Raw numbers: `bench/origin-results.json`.",
        "",
        tables(doc),
        "",
        END,
    ])
    replace_section(DOC, BEGIN, END, body)


# ---------------------------------------------------------------- main

def wait_for_content(srv: Onair, min_segments: int, timeout: float) -> tuple[str, str]:
    """The media playlist once it lists `min_segments`, and its first segment's name."""
    url = f"{srv.base}/{MANIFEST}_1.m3u8"
    deadline = time.monotonic() + timeout
    while True:
        status, body = http_get(url)
        uris = [ln for ln in body.decode(errors="replace").splitlines() if ln and not ln.startswith("#")]
        if status == 200 and len(uris) >= min_segments:
            return body.decode(), uris[0]
        if time.monotonic() > deadline:
            raise RuntimeError(f"the origin listed {len(uris)} segments after {timeout:g} s "
                               f"(status {status}); see {CACHE / 'origin-push.log'} and origin-onair.log")
        time.sleep(0.5)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--duration", type=float, default=10.0, help="seconds measured per case (default 10)")
    ap.add_argument("--warmup", type=float, default=2.0, help="seconds of unmeasured load before each (default 2)")
    ap.add_argument("--conns", default="50,1000", help="comma list of connection counts (default 50,1000)")
    ap.add_argument("--objects", default="segment,playlist", help="comma list of segment, playlist")
    ap.add_argument("--perf", action="store_true", help="then profile onair per case with perf record -g")
    ap.add_argument("--quiet-wait", type=float, default=20.0,
                    help="before each run, wait up to this long for the machine to be under 15 %% busy")
    ap.add_argument("--max-other", type=float, default=10.0,
                    help="repeat a run in which other processes took more than this %% of the machine")
    ap.add_argument("--retries", type=int, default=1, help="repeats of a shared run (default 1)")
    ap.add_argument("--rounds", type=int, default=3,
                    help="alternating rounds per case; each server's median round is kept (default 3)")
    ap.add_argument("--skip-build", action="store_true")
    ap.add_argument("--no-doc", action="store_true", help="do not rewrite docs/BENCHMARKS.md")
    ap.add_argument("--out", type=Path, default=RESULTS)
    ap.add_argument("--render-only", action="store_true",
                    help="measure nothing: print and write the doc from an existing --out file")
    args = ap.parse_args()
    if args.render_only:
        doc = json.loads(args.out.read_text())
        print(tables(doc))
        if not args.no_doc:
            write_doc(doc)
        return 0
    conns = [int(c) for c in args.conns.split(",") if c.strip()]
    objects = [o.strip() for o in args.objects.split(",") if o.strip()]
    if not set(objects) <= set(OBJECTS) or not conns or max(conns) > 5000:
        ap.error("--objects takes segment and/or playlist; --conns 1 to 5000")
    check_tools()
    if not args.skip_build:
        build()
    fds = raise_fd_limit()
    if fds < 2 * max(conns) + 100:
        sys.exit(f"bench: only {fds} file descriptors allowed; raise the hard limit (ulimit -Hn)")
    CACHE.mkdir(parents=True, exist_ok=True)
    source = make_source()
    started = dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat()
    t0 = time.monotonic()
    runs = len(conns) * len(objects) * len(SERVERS) * args.rounds
    push_seconds = int(90 + runs * (1 + args.retries) * (args.duration + args.warmup + args.quiet_wait + 10)
                       + (120 if args.perf else 0))
    results: list[dict] = []
    perf: dict[str, list[str]] = {}
    with tempfile.TemporaryDirectory(prefix="onair-origin-bench-") as tmp:
        srv = Onair(Path(tmp), source, push_seconds)
        nginx = None
        try:
            log("waiting for the origin to list a full 20 s window (10 segments) of the live push")
            playlist, segment = wait_for_content(srv, 10, 90)
            status, seg_bytes = http_get(f"{srv.base}/{segment}")
            if status != 200:
                raise RuntimeError(f"GET {segment}: {status}")
            path = srv.base.split("127.0.0.1:", 1)[1].split("/", 1)[1]
            files = {f"{path}/{MANIFEST}_1.m3u8": playlist.encode(), f"{path}/{segment}": seg_bytes}
            nginx = Nginx(Path(tmp), files)
            urls = {
                "segment": {"onair": f"{srv.base}/{segment}", "nginx": f"{nginx.base}/{path}/{segment}"},
                "playlist": {"onair": f"{srv.base}/{MANIFEST}_1.m3u8",
                             "nginx": f"{nginx.base}/{path}/{MANIFEST}_1.m3u8"},
            }
            for server in SERVERS:
                for obj in objects:
                    st, _ = http_get(urls[obj][server])
                    if st != 200:
                        raise RuntimeError(f"{server} answers {st} for {urls[obj][server]}")
            idle_mem = memory_kib(srv.proc.pid)
            log(f"segment {segment}: {len(seg_bytes)} bytes; playlist: {len(playlist)} bytes; "
                f"onair memory {idle_mem / 1024:.1f} MiB")
            for obj in objects:
                for c in conns:
                    # Rounds alternate who goes first; each server keeps its median
                    # round (by requests/s), so one lucky or unlucky run decides nothing.
                    rounds: dict[str, list[dict]] = {s: [] for s in SERVERS}
                    order = list(SERVERS)
                    for i in range(args.rounds):
                        for server in order:
                            log(f"{server}: {obj}, {c} connections, {args.duration:g} s, round {i + 1}/{args.rounds}")
                            r = measure_kept(nginx if server == "nginx" else srv, urls[obj][server], c, args)
                            rounds[server].append(r)
                            log(f"  -> {fmt(r['rps'])} req/s, p99 {fmt(r['p99_ms'], '.2f')} ms, "
                                f"CPU {fmt(r['cpu_s_per_gb'], '.2f')} s/GB, memory {r['server_mem_max_kib'] / 1024:.1f} MiB, "
                                f"non-2xx {r['non_2xx']}, errors {r['socket_errors']}, busy {r['machine_busy_pct']:.0f} %, "
                                f"others {r['other_share_pct']} %")
                        order.reverse()
                    for server in SERVERS:
                        runs_ = sorted(rounds[server], key=lambda r: r["rps"] or 0)
                        kept = dict(runs_[len(runs_) // 2])
                        kept.update(server=server, object=obj, conns=c,
                                    rounds_rps=[r["rps"] for r in rounds[server]],
                                    server_mem_max_kib=max(r["server_mem_max_kib"] for r in rounds[server]))
                        results.append(kept)
            if args.perf:
                for obj in objects:
                    for c in conns:
                        name = f"{obj}-{c}"
                        log(f"perf: onair {name}")
                        perf[name] = profile(srv, urls[obj]["onair"], c, min(args.duration, 8), name)
        finally:
            if nginx:
                nginx.close()
            srv.close()
    doc = {
        "started": started,
        "wall_s": round(time.monotonic() - t0, 1),
        "duration_s": args.duration,
        "rounds": args.rounds,
        "warmup_s": args.warmup,
        "conns": conns,
        "machine": machine(),
        "objects": {"segment": len(seg_bytes), "playlist": len(playlist)},
        "onair_idle_mem_kib": idle_mem,
        "method": {
            "load": "wrk -t2 -cN --latency --timeout 5s, keep-alive; warm-up run first, not counted; "
                    "rounds alternate the servers and each server's median round (requests/s) is reported",
            "cpu": "utime+stime of the server processes (onair: one process; nginx: master + workers) over the measured run",
            "cpu_s_per_gb": "server CPU-seconds / (bytes read by wrk / 1e9)",
            "memory": "resident set of the server processes plus the size of their unnamed files (onair keeps segments in unnamed files in its data directory), sampled every 0.25 s during the run, maximum",
            "content": "onair: live HLS push (ffmpeg -re -stream_loop -1 -c copy -f hls -method PUT) during every run; "
                       "nginx: copies of the media playlist and one segment taken from onair before the runs",
        },
        "results": results,
        "perf": perf,
    }
    args.out.write_text(json.dumps(doc, indent=2) + "\n")
    print(tables(doc))
    print(f"\nwrote {args.out} in {doc['wall_s']} s")
    if not args.no_doc:
        write_doc(doc)
        print(f"updated {DOC.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
