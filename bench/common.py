"""What the benchmark drivers share: running commands, reading /proc, the machine's
description, number formatting and rewriting their section of docs/BENCHMARKS.md.
Standard library only."""

from __future__ import annotations

import os
import platform
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TICK = os.sysconf("SC_CLK_TCK")


def run(cmd: list, timeout: float, env: dict | None = None, check: bool = True) -> str:
    """The command's stdout; with `check`, an error carrying its stderr when it fails."""
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env, cwd=ROOT)
    if check and p.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, cmd[:6]))}... failed ({p.returncode}):\n{p.stderr[-3000:]}")
    return p.stdout


def stop_proc(p: subprocess.Popen) -> None:
    """SIGTERM, then SIGKILL after 5 s."""
    if p.poll() is None:
        p.terminate()
        try:
            p.wait(timeout=5)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(timeout=5)


def proc_cpu_s(pid: int) -> float:
    """utime + stime of a process (all its threads, live and exited), seconds; 0 once
    it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            rest = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(rest[11]) + int(rest[12])) / TICK


def busy_jiffies() -> tuple[int, int]:
    """(busy, total) jiffies of all CPUs from /proc/stat (idle and iowait are not
    busy; guest time is already in user time)."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:9]]
    idle = v[3] + (v[4] if len(v) > 4 else 0)
    return sum(v) - idle, sum(v)


def first_line(cmd: list[str]) -> str:
    """The first line a command prints (stdout or stderr), or "?"."""
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=10)
        return (out.stdout + out.stderr).strip().splitlines()[0]
    except (OSError, subprocess.SubprocessError, IndexError):
        return "?"


def dpkg_version(package: str) -> str:
    """The installed Debian package's version, or "?"."""
    try:
        return run(["dpkg-query", "-W", "-f=${Version}", package], 10, check=False).strip() or "?"
    except (OSError, subprocess.SubprocessError):
        return "?"


def machine_base() -> dict:
    """Cores, CPU model, memory and kernel: what every results table names."""
    model = ""
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    mem_kib = 0
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                mem_kib = int(line.split()[1])
    return {
        "nproc": os.cpu_count() or 1,
        "cpu_model": model,
        "mem_gib": round(mem_kib / 2**20, 1),
        "kernel": platform.release(),
    }


def fmt(v, spec: str = ".0f", none: str = "—") -> str:
    return none if v is None else format(v, spec)


def ratio(a, b):
    return None if a is None or b is None or b <= 0 else a / b


def replace_section(doc: Path, begin: str, end: str, body: str, empty: str = "# Benchmarks\n") -> None:
    """Puts `body` (which starts with `begin` and ends with `end`) in place of the
    section between those markers in `doc`, or appends it."""
    text = doc.read_text() if doc.exists() else empty
    if begin in text and end in text:
        head, rest = text.split(begin, 1)
        text = head + body + rest.split(end, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n" + body + "\n"
    doc.write_text(text)
