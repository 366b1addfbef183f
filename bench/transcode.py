#!/usr/bin/env python3
"""Transcoding benchmark: onair's channel engine against the ffmpeg CLI.

    make bench                      # runs this after bench/transport.py
    bench/transcode.py --runs 1 --cases single    # a quick look

One 1080p30 H.264 + AAC test TS (ffmpeg testsrc2 + sine, cached in bench/results/)
is transcoded, as fast as possible, by
  - onair-transcode-bench (bench/transcode): live::transcode::Pipeline, one decode,
    swscale bicubic, libx264 + aac in-process, muxed by media::mux::TsMuxer and dropped;
  - the ffmpeg CLI with the same x264 options (built from the settings
    `onair-transcode-bench --describe` prints), `-f mpegts /dev/null`.
Cases: `single` (the recipe's 720p30 rendition) and `ladder` (1080p/720p/480p/360p
from one decode: ffmpeg uses split=4 in one process with four outputs).
CPU seconds (utime+stime of the process and all its threads, from wait4) and wall time
per run; the median of --runs runs is reported. A short check run writes each output
to a file and ffprobes it (resolution, profile, level, GOP, bit rate, audio).
Writes bench/transcode-results.json and the transcoding results section of
docs/BENCHMARKS.md. Standard library only; every subprocess has a timeout.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

from common import (ROOT, busy_jiffies, machine_base, replace_section, run)

BENCH_BIN = ROOT / "target" / "release" / "onair-transcode-bench"
CACHE = ROOT / "bench" / "results"  # gitignored
RESULTS = ROOT / "bench" / "transcode-results.json"
DOC = ROOT / "docs" / "BENCHMARKS.md"
BEGIN, END = "<!-- BEGIN TRANSCODE RESULTS (bench/transcode.py) -->", "<!-- END TRANSCODE RESULTS -->"
CASES = ("single", "ladder")
TOOLS = ("onair", "ffmpeg")
CHECK_SECONDS = 4
AAC_BITRATE = 128_000


def log(msg: str) -> None:
    print(f"[transcode {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------- input and commands

def make_input(seconds: int) -> Path:
    path = CACHE / f"transcode-input-1080p30-{seconds}s.ts"
    if path.exists() and path.stat().st_size > 0:
        return path
    CACHE.mkdir(parents=True, exist_ok=True)
    log(f"generating {path.name} (1080p30 testsrc2 + 1 kHz stereo, x264 veryfast 8 Mb/s)")
    tmp = path.with_suffix(".tmp.ts")
    run(["ffmpeg", "-v", "error", "-nostdin", "-y",
         "-f", "lavfi", "-i", "testsrc2=size=1920x1080:rate=30",
         "-f", "lavfi", "-i", "sine=frequency=1000:sample_rate=48000",
         "-t", str(seconds), "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p",
         "-b:v", "8M", "-maxrate", "8M", "-bufsize", "8M", "-g", "60",
         "-c:a", "aac", "-b:a", "128k", "-ac", "2", "-ar", "48000", "-f", "mpegts", str(tmp)],
        timeout=300)
    tmp.rename(path)
    return path


def cut(src: Path, seconds: int) -> Path:
    """The first `seconds` of `src` (stream copy), for the output check."""
    path = CACHE / f"transcode-check-input-{seconds}s.ts"
    run(["ffmpeg", "-v", "error", "-nostdin", "-y", "-i", str(src), "-t", str(seconds),
         "-map", "0", "-c", "copy", "-f", "mpegts", str(path)], timeout=60)
    return path


def x264_params(v: dict) -> str:
    """The x264-params string crates/live/src/video.rs (open_x264) builds for `v`."""
    maxrate = v["bitrate"] if v["rate_control"] == "cbr" else (v["max_bitrate"] or v["bitrate"])
    buf = v["buf_size"] or maxrate
    # IDRs come on a forced cadence (ffmpeg_cmd's -force_key_frames); x264's own
    # placement is pushed past it, as onair does.
    g = v["gop_size"]
    p = [f"keyint={2 * g}", f"min-keyint={g + 1}", f"scenecut={40 if v['scene_change_detect'] else 0}",
         f"bframes={v['b_frames']}",
         f"vbv-maxrate={-(-maxrate // 1000)}", f"vbv-bufsize={-(-buf // 1000)}", "aud=1", "force-cfr=1"]
    if v["ref_frames"] is not None:
        p.append(f"ref={v['ref_frames']}")
    if v["rate_control"] == "cbr":
        p.append("nal-hrd=cbr")
    return ":".join(p)


def ffmpeg_cmd(desc: dict, src: Path, out_dir: Path | None) -> list[str]:
    """One ffmpeg process, one decode, split to every rung, one output per rung."""
    videos, a = desc["video"], desc["audio"]
    n = len(videos)
    chains = [f"[0:v:0]split={n}" + "".join(f"[s{i}]" for i in range(n))] if n > 1 else []
    for i, v in enumerate(videos):
        src_label = f"[s{i}]" if n > 1 else "[0:v:0]"
        chains.append(f"{src_label}scale={v['width']}:{v['height']}:flags=bicubic,format=yuv420p[v{i}]")
    cmd = ["ffmpeg", "-v", "error", "-nostdin", "-y", "-i", str(src), "-filter_complex", ";".join(chains)]
    for i, v in enumerate(videos):
        maxrate = v["bitrate"] if v["rate_control"] == "cbr" else (v["max_bitrate"] or v["bitrate"])
        cmd += ["-map", f"[v{i}]", "-map", "0:a:0",
                "-c:v", "libx264", "-preset", v["preset"], "-profile:v", v["profile"]]
        if v["level"]:
            cmd += ["-level", v["level"]]
        cmd += ["-r", f"{v['framerate'][0]}/{v['framerate'][1]}",
                "-b:v", str(v["bitrate"]), "-maxrate", str(maxrate), "-bufsize", str(v["buf_size"] or maxrate),
                "-g", str(2 * v["gop_size"]), "-bf", str(v["b_frames"]),
                "-forced-idr", "1", "-force_key_frames", f"expr:eq(mod(n,{v['gop_size']}),0)"]
        if v["ref_frames"] is not None:
            cmd += ["-refs", str(v["ref_frames"])]
        cmd += ["-x264-params", x264_params(v),
                "-c:a", "aac", "-b:a", str(a["bitrate"]), "-ar", str(a["sample_rate"]), "-ac", str(a["channels"]),
                "-f", "mpegts", str(out_dir / f"ffmpeg-{v['name']}.ts") if out_dir else "/dev/null"]
    return cmd


def onair_cmd(case: str, src: Path, preset: str, out_dir: Path | None) -> list[str]:
    cmd = [str(BENCH_BIN), "--case", case, "--input", str(src), "--preset", preset]
    return cmd + (["--out-dir", str(out_dir)] if out_dir else [])


# The glibc allocator settings `onair` gives itself at start (crates/onair/src/main.rs,
# "Memory" in docs/USER_GUIDE.md), so the bench binary allocates as the server does.
ONAIR_MALLOC_ENV = {"MALLOC_MMAP_THRESHOLD_": "131072", "MALLOC_ARENA_MAX": str(max(2, os.cpu_count() or 2))}


# ---------------------------------------------------------------- measuring

def measure(cmd: list[str], timeout: float, env: dict | None = None) -> dict:
    """Runs `cmd`; CPU of the process and all its threads from wait4, wall time around it."""
    busy0 = busy_jiffies()[0]
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         env={**os.environ, **env} if env else None)
    deadline = t0 + timeout
    while True:
        pid, status, ru = os.wait4(p.pid, os.WNOHANG)
        if pid:
            break
        if time.monotonic() > deadline:
            p.kill()
            os.wait4(p.pid, 0)
            raise RuntimeError(f"timed out after {timeout:.0f} s: {' '.join(cmd[:4])}")
        time.sleep(0.02)
    wall = time.monotonic() - t0
    busy = (busy_jiffies()[0] - busy0) / os.sysconf("SC_CLK_TCK")
    p.returncode = os.waitstatus_to_exitcode(status)
    out, err = p.communicate(timeout=10)
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[:4])} failed ({p.returncode}): {err.decode(errors='replace')[-2000:]}")
    cpu = ru.ru_utime + ru.ru_stime
    return {"cpu_s": cpu, "user_s": ru.ru_utime, "sys_s": ru.ru_stime, "wall_s": wall,
            "max_rss_mib": ru.ru_maxrss / 1024, "machine_busy_s": busy, "other_cpu_s": max(0.0, busy - cpu),
            "report": json.loads(out) if out.strip().startswith(b"{") else None}


def wait_quiet(limit: float) -> float:
    """Waits (at most `limit` s) until the machine is below 10 % busy over 0.5 s; returns that load."""
    end = time.monotonic() + limit
    hz = os.sysconf("SC_CLK_TCK")
    while True:
        b0 = busy_jiffies()[0]
        time.sleep(0.5)
        busy = (busy_jiffies()[0] - b0) / hz / 0.5 / (os.cpu_count() or 1)
        if busy < 0.10 or time.monotonic() > end:
            return busy


# ---------------------------------------------------------------- output check

def probe(path: Path) -> dict:
    info = json.loads(run(["ffprobe", "-v", "error", "-of", "json", "-show_streams", "-show_format", str(path)], 60))
    v = next(s for s in info["streams"] if s["codec_type"] == "video")
    a = next((s for s in info["streams"] if s["codec_type"] == "audio"), {})
    frames = json.loads(run(["ffprobe", "-v", "error", "-of", "json", "-select_streams", "v:0",
                             "-show_entries", "frame=pict_type,key_frame,pkt_size", str(path)], 60))["frames"]
    keys = [i for i, f in enumerate(frames) if int(f.get("key_frame", 0))]
    size = sum(int(f.get("pkt_size", 0)) for f in frames)
    fr = v.get("r_frame_rate", "0/1").split("/")
    fps = float(fr[0]) / float(fr[1]) if float(fr[1]) else 0.0
    return {
        "codec": v.get("codec_name"), "profile": v.get("profile"), "level": v.get("level"),
        "width": v.get("width"), "height": v.get("height"), "fps": round(fps, 3),
        "frames": len(frames), "b_frames": sum(1 for f in frames if f.get("pict_type") == "B"),
        "first_gop": (keys[1] - keys[0]) if len(keys) > 1 else None,
        "video_kbps": round(size * 8 / (len(frames) / fps) / 1000, 1) if frames and fps else None,
        "audio": f"{a.get('codec_name')} {a.get('profile')} {a.get('sample_rate')} Hz {a.get('channels')} ch",
    }


def x264_options(path: Path) -> dict[str, str]:
    """The option string libx264 writes in its SEI of the first IDR ("cabac=1 ref=3 ...")."""
    data = subprocess.run(["ffmpeg", "-v", "error", "-nostdin", "-i", str(path), "-map", "0:v:0", "-c", "copy",
                           "-frames:v", "1", "-f", "h264", "-"], capture_output=True, timeout=60).stdout
    i = data.find(b"x264 - core ")
    j = data.find(b"options: ", i) if i >= 0 else -1
    if j < 0:
        return {}
    raw = data[j + 9:data.find(b"\x00", j)].decode(errors="replace")
    return dict(kv.split("=", 1) for kv in raw.split() if "=" in kv)


def check_outputs(desc: dict[str, dict], src: Path, preset: str, cases: list[str]) -> list[dict]:
    short = cut(src, CHECK_SECONDS)
    rows = []
    for case in cases:
        out_dir = CACHE / "transcode-check" / case
        shutil.rmtree(out_dir, ignore_errors=True)
        out_dir.mkdir(parents=True)
        run(onair_cmd(case, short, preset, out_dir), timeout=120)
        run(ffmpeg_cmd(desc[case], short, out_dir), timeout=120)
        for v in desc[case]["video"]:
            opts = {tool: x264_options(out_dir / f"{tool}-{v['name']}.ts") for tool in TOOLS}
            differ = sorted(k for k in set(opts["onair"]) | set(opts["ffmpeg"])
                            if opts["onair"].get(k) != opts["ffmpeg"].get(k))
            for tool in TOOLS:
                r = probe(out_dir / f"{tool}-{v['name']}.ts")
                o = opts[tool]
                rows.append({"case": case, "tool": tool, "rendition": v["name"],
                             "target_kbps": v["bitrate"] / 1000, **r,
                             "x264": {k: o.get(k) for k in ("ref", "bframes", "keyint", "keyint_min", "scenecut",
                                                             "vbv_maxrate", "vbv_bufsize", "nal_hrd", "threads",
                                                             "lookahead_threads", "rc_lookahead")},
                             "x264_options": o, "x264_options_differ": differ})
    return rows


# ---------------------------------------------------------------- report

def machine() -> dict:
    ffv = run(["ffmpeg", "-version"], 10).splitlines()[0].split()[2]
    return {**machine_base(), "ffmpeg": ffv}


def x264_version(path: Path) -> str:
    data = path.read_bytes()[:2_000_000] if path.exists() else b""
    i = data.find(b"x264 - core ")
    return data[i:i + 40].split(b" - H.264")[0].decode(errors="replace") if i >= 0 else "?"


def summarize(runs: list[dict], media_s: float) -> dict:
    cpu = statistics.median(r["cpu_s"] for r in runs)
    wall = statistics.median(r["wall_s"] for r in runs)
    return {"cpu_s": cpu, "wall_s": wall, "cpu_per_media_s": cpu / media_s, "rtf": media_s / wall,
            "cpu_runs": [round(r["cpu_s"], 2) for r in runs], "wall_runs": [round(r["wall_s"], 2) for r in runs],
            "other_cpu_s_max": max(r["other_cpu_s"] for r in runs),
            "rtf_best": media_s / min(r["wall_s"] for r in runs),
            "contended_runs": sum(1 for r in runs if r.get("contended"))}


def render(doc: dict) -> str:
    m = doc["machine"]
    media = doc["media_s"]
    names = {"single": "720p30 (recipe)", "ladder": "4-rung ladder"}
    lines = [
        BEGIN, "",
        f"Run of {doc['started']}: {media:g} s of 1080p30 input, {doc['runs']} runs per case and tool "
        f"(median; a run shared with other work repeated up to {doc.get('retries', 1)} times), x264 preset `{doc['preset']}`, on {m['nproc']} × {m['cpu_model']}, {m['mem_gib']} GiB, "
        f"Linux {m['kernel']}, FFmpeg {m['ffmpeg']} ({doc.get('x264', '?')}) for both. "
        "Raw numbers: `bench/transcode-results.json`.", "",
        "| case | tool | CPU s | CPU s per media s | wall s | real-time factor (best run) | CPU s per run | wall s per run | other processes CPU s (max) | runs shared with other work |",
        "|---|---|---:|---:|---:|---:|---|---|---:|---:|",
    ]
    for case in doc["cases"]:
        for tool in TOOLS:
            s = doc["results"].get(case, {}).get(tool)
            if not s:
                continue
            lines.append(f"| {names[case]} | {tool} | {s['cpu_s']:.2f} | {s['cpu_per_media_s']:.3f} | {s['wall_s']:.2f} "
                         f"| {s['rtf']:.2f}× ({s['rtf_best']:.2f}×) | {', '.join(f'{c:.2f}' for c in s['cpu_runs'])} "
                         f"| {', '.join(f'{c:.2f}' for c in s['wall_runs'])} | {s['other_cpu_s_max']:.1f} "
                         f"| {s['contended_runs']} of {len(s['cpu_runs'])} |")
    lines += ["", "Ratios onair / ffmpeg CLI (< 1: onair uses less CPU, or is faster; the goal is CPU ≤ 1.0):", "",
              "| case | CPU per media second | CPU, ffmpeg's extra AAC encoders subtracted | wall time | real-time factor onair | real-time factor ffmpeg |",
              "|---|---:|---:|---:|---:|---:|"]
    aac = doc.get("aac_cpu_s", 0.0)
    for case in doc["cases"]:
        r = doc["results"].get(case, {})
        if "onair" in r and "ffmpeg" in r:
            a, b = r["onair"], r["ffmpeg"]
            extra = (len(doc["renditions"][case]["video"]) - 1) * aac
            lines.append(f"| {names[case]} | **{a['cpu_s'] / b['cpu_s']:.3f}** | {a['cpu_s'] / (b['cpu_s'] - extra):.3f} "
                         f"| {a['wall_s'] / b['wall_s']:.2f} | {a['rtf']:.2f}× | {b['rtf']:.2f}× |")
    lines += ["", f"One AAC decode + encode of the input costs ffmpeg {aac:.2f} CPU s ({aac / media * 100:.1f} % of a core); "
              "the ladder command line runs one AAC encoder per output, onair one in all."]
    if doc.get("check"):
        lines += ["", f"Output check (first {CHECK_SECONDS} s of the input transcoded by both to files, ffprobe; "
                  "kb/s is video packet bytes over the frames' duration, so it includes x264's CBR filler):", "",
                  "| case | rendition | tool | size | profile | level | fps | frames | B-frames | first GOP | x264 ref | video kb/s (target) | audio | x264 options that differ from the other tool's |",
                  "|---|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|---|---|"]
        for c in doc["check"]:
            differ = ", ".join(f"`{k}`" for k in c.get("x264_options_differ", [])) or "none"
            lines.append(f"| {c['case']} | {c['rendition']} | {c['tool']} | {c['width']}x{c['height']} | {c['profile']} "
                         f"| {c['level']} | {c['fps']:g} | {c['frames']} | {c['b_frames']} | {c['first_gop']} "
                         f"| {c.get('x264', {}).get('ref')} | {c['video_kbps']} ({c['target_kbps']:g}) | {c['audio']} | {differ} |")
    lines += ["", END]
    return "\n".join(lines)


def write_doc(doc: dict) -> None:
    body = render(doc)
    replace_section(DOC, BEGIN, END, body)


# ---------------------------------------------------------------- main

def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=int, default=20, help="length of the 1080p30 input (default 20)")
    ap.add_argument("--runs", type=int, default=2, help="runs per case and tool; the median is reported (default 2)")
    ap.add_argument("--cases", default=",".join(CASES), help="comma list of single, ladder")
    ap.add_argument("--preset", default="veryfast", help="x264 preset of every rendition (default veryfast)")
    ap.add_argument("--timeout", type=float, default=240, help="seconds any one transcode may take")
    ap.add_argument("--retries", type=int, default=1,
                    help="repeat a run this many times when other processes used > 10 %% of the machine (default 1)")
    ap.add_argument("--budget", type=float, default=240,
                    help="no more retries once the runs have taken this many seconds (default 240)")
    ap.add_argument("--skip-build", action="store_true")
    ap.add_argument("--no-check", action="store_true", help="skip the ffprobe output check")
    ap.add_argument("--no-doc", action="store_true", help="do not rewrite docs/BENCHMARKS.md")
    ap.add_argument("--out", type=Path, default=RESULTS)
    ap.add_argument("--render-only", action="store_true", help="rewrite the doc section from --out")
    args = ap.parse_args()

    if args.render_only:
        write_doc(json.loads(args.out.read_text()))
        return 0
    cases = [c for c in args.cases.split(",") if c]
    if any(c not in CASES for c in cases):
        ap.error(f"--cases: choose from {CASES}")
    for tool in ("ffmpeg", "ffprobe"):
        if not shutil.which(tool):
            log(f"{tool} not found (scripts/setup.sh test installs it)")
            return 1
    if not args.skip_build:
        log("cargo build --release -p onair-transcode-bench")
        subprocess.run(["cargo", "build", "--release", "-q", "-p", "onair-transcode-bench"],
                       cwd=ROOT, check=True, timeout=900)
    started = dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat()
    src = make_input(args.seconds)
    desc = {c: json.loads(run([str(BENCH_BIN), "--case", c, "--preset", args.preset, "--describe"], 30)) for c in cases}

    raw: dict[str, dict[str, list[dict]]] = {c: {t: [] for t in TOOLS} for c in cases}
    discarded: list[dict] = []
    t_start = time.monotonic()
    for case in cases:
        for i in range(args.runs):
            for tool in (TOOLS if i % 2 == 0 else TOOLS[::-1]):  # alternate who goes first
                cmd = onair_cmd(case, src, args.preset, None) if tool == "onair" else ffmpeg_cmd(desc[case], src, None)
                attempts = []
                for attempt in range(1 + args.retries):
                    load = wait_quiet(20)
                    r = measure(cmd, args.timeout, ONAIR_MALLOC_ENV if tool == "onair" else None)
                    r.update(busy_before=round(load, 3), case=case, tool=tool, run=i + 1, attempt=attempt + 1)
                    # Other processes took more than 10 % of the machine: a shared run.
                    r["contended"] = r["other_cpu_s"] > 0.10 * r["wall_s"] * (os.cpu_count() or 1)
                    attempts.append(r)
                    log(f"{case} run {i + 1} {tool}: CPU {r['cpu_s']:.2f} s, wall {r['wall_s']:.2f} s "
                        f"(real-time {args.seconds / r['wall_s']:.2f}×), other processes {r['other_cpu_s']:.1f} CPU s"
                        + (" [contended]" if r["contended"] else ""))
                    if not r["contended"] or time.monotonic() - t_start > args.budget:
                        break
                # Keep the attempt that shared the machine least; the others are in "discarded".
                best = min(attempts, key=lambda a: a["other_cpu_s"])
                raw[case][tool].append(best)
                discarded += [a for a in attempts if a is not best]
    results = {c: {t: summarize(raw[c][t], args.seconds) for t in TOOLS if raw[c][t]} for c in cases}
    # What one extra AAC encoder costs ffmpeg (decode + encode minus demux + mux of the same
    # input): its ladder has one per output, onair encodes once.
    base = ["ffmpeg", "-v", "error", "-nostdin", "-y", "-i", str(src), "-map", "0:a:0"]
    enc = measure(base + ["-c:a", "aac", "-b:a", str(AAC_BITRATE), "-ar", "48000", "-ac", "2", "-f", "mpegts", "/dev/null"], 60)
    copy = measure(base + ["-c:a", "copy", "-f", "mpegts", "/dev/null"], 60)
    aac_cpu_s = max(0.0, enc["cpu_s"] - copy["cpu_s"])
    log(f"one AAC decode + encode of the input: {aac_cpu_s:.2f} CPU s")

    check = []
    if not args.no_check:
        log(f"output check on the first {CHECK_SECONDS} s")
        check = check_outputs(desc, src, args.preset, cases)
    doc = {"started": started, "media_s": args.seconds, "runs": args.runs, "retries": args.retries, "preset": args.preset,
           "machine": machine(), "cases": cases, "renditions": desc, "results": results, "check": check, "aac_cpu_s": aac_cpu_s,
           "x264": x264_version(CACHE / "transcode-check" / cases[0] / f"onair-{desc[cases[0]]['video'][0]['name']}.ts"),
           "commands": {c: {"onair": onair_cmd(c, src, args.preset, None),
                            "ffmpeg": ffmpeg_cmd(desc[c], src, None)} for c in cases},
           "raw": raw, "discarded": discarded}
    args.out.write_text(json.dumps(doc, indent=2) + "\n")
    print(render(doc))
    if not args.no_doc:
        write_doc(doc)
        log(f"wrote {args.out.relative_to(ROOT)} and {DOC.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    sys.exit(main())
