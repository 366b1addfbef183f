"""`onair testsrc` against real peers on loopback.

ffprobe and ffmpeg read what it sends (codecs, picture size and frame rate of every
format, the tone's frequency; ffmpeg's blackdetect, freezedetect and silencedetect for
the impairments), an onair flow created with the aws CLI takes its RTP-FEC with packets
dropped on purpose and repairs them, and commands typed on stdin change a running
source. No timing is asserted beyond bounded waits.
"""

import re
import subprocess
import time

import pytest

import mediatools as m
from conftest import REGION, needs_ffmpeg, wait_for


@pytest.fixture
def testsrc(tmp_path):
    """`testsrc(destination, *flags, name=…)` starts `onair testsrc`; all are stopped at teardown."""
    started = []

    def start(destination, *args, **kw):
        t = m.Testsrc(tmp_path, destination, *args, **kw)
        started.append(t)
        return t

    yield start
    for t in started:
        t.stop()


def udp(port, host="127.0.0.1"):
    return f"udp://{host}:{port}?timeout=8000000&fifo_size=1000000&overrun_nonfatal=1"


def streams(url):
    found = {s["codec_type"]: s for s in m.probe(url)}
    assert "video" in found and "audio" in found, found
    return found["video"], found["audio"]


DETECTED = {
    "black": re.compile(r"blackdetect.*black_start"),
    "freeze": re.compile(r"freezedetect.*freeze_start"),
    "silence": re.compile(r"silencedetect.*silence_start"),
}


def detect(url, seconds=4.0):
    """Which of black, freeze and silence ffmpeg's detectors find (each lasting at least
    a second) in `seconds` of a live URL, and how many frames it decoded."""
    p = subprocess.run(
        ["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "info", "-i", url, "-t", str(seconds),
         "-vf", "blackdetect=d=1:pic_th=0.98,freezedetect=n=-60dB:d=1",
         "-af", "silencedetect=n=-60dB:d=1", "-f", "null", "-"],
        capture_output=True, text=True, timeout=seconds + 25, stdin=subprocess.DEVNULL,
    )
    assert p.returncode == 0, p.stderr[-3000:]
    frames = re.findall(r"frame=\s*(\d+)", p.stderr)
    assert frames and int(frames[-1]) > 0, p.stderr[-3000:]
    return {name for name, pattern in DETECTED.items() if pattern.search(p.stderr)}


# ---------------------------------------------------------------- formats

@needs_ffmpeg
@pytest.mark.parametrize("fmt, size, rate, tone, transport", [
    ("1080p30", (1920, 1080), "30/1", 440, "rtp"),
    ("720p30", (1280, 720), "30/1", 1000, "udp"),
    ("720p25", (1280, 720), "25/1", 600, "udp6"),
])
def test_each_format_has_its_size_rate_codecs_and_tone(testsrc, ports, fmt, size, rate, tone, transport):
    port = ports()
    if transport == "rtp":
        t = testsrc(f"rtp://127.0.0.1:{port}", "--format", fmt, "--tone", tone)
        url = m.rtp_url(port)
    elif transport == "udp":
        t = testsrc(f"udp://127.0.0.1:{port}", "--format", fmt, "--tone", tone)
        url = udp(port)
    else:
        t = testsrc(f"[::1]:{port}", "--protocol", "udp", "--format", fmt, "--tone", tone)
        url = udp(port, "[::1]")
    video, audio = streams(url)
    assert video["codec_name"] == "h264" and video["profile"] == "High", video
    assert (video["width"], video["height"]) == size, video
    assert video["r_frame_rate"] == rate and video["avg_frame_rate"] == rate, video
    assert video["pix_fmt"] == "yuv420p" and video.get("color_space") == "bt709", video
    assert audio["codec_name"] == "aac" and audio["profile"] == "LC", audio
    assert (audio["sample_rate"], audio["channels"]) == ("48000", 2), audio
    hz = m.tone_hz(url)
    assert abs(hz - tone) < tone * 0.02, f"tone {hz:.1f} Hz, expected {tone}"
    # What it said it sends, and progress while it sends.
    w, h = size
    first = t.log().splitlines()[0]
    assert f"{w}x{h} {rate.split('/')[0]} fps H.264" in first and f"{tone} Hz tone" in first, first
    assert f"to {'rtp' if transport == 'rtp' else 'udp'} " in first, first
    status = wait_for(lambda: re.search(r"frames (\d+)  sent (\d+) .*encode (\d+)% of real time", t.log()), 15,
                      what="a status line")
    assert int(status.group(1)) > 0 and int(status.group(2)) > 0, t.log()
    # Encoding keeps real time (with room to spare even in a debug build).
    assert int(status.group(3)) < 100, t.log()


# ---------------------------------------------------------------- impairments

@needs_ffmpeg
def test_black_freeze_and_silence_are_what_ffmpeg_detects(testsrc, ports):
    clean, black, frozen = ports(), ports(), ports()
    t = testsrc(f"udp://127.0.0.1:{clean}", name="clean")
    assert detect(udp(clean)) == set(), t.log()
    t.stop()
    t = testsrc(f"udp://127.0.0.1:{black}", "--black", name="black")
    found = detect(udp(black))
    assert "black" in found and "silence" not in found, (found, t.log())
    t.stop()
    t = testsrc(f"udp://127.0.0.1:{frozen}", "--freeze", "--silence", name="frozen")
    assert detect(udp(frozen)) == {"freeze", "silence"}, t.log()


@needs_ffmpeg
def test_stdin_commands_change_a_running_source(testsrc, ports):
    port = ports()
    t = testsrc(f"udp://127.0.0.1:{port}", stdin=True, name="live")
    assert detect(udp(port), 3) == set(), t.log()
    assert t.say("black") == "ok: black; impairments: black"
    assert "black" in detect(udp(port), 3)
    assert t.say("restore") == "ok: restore; impairments: none"
    assert t.say("silence") == "ok: silence; impairments: silence"
    assert detect(udp(port), 3) == {"silence"}
    assert t.say("drop 20") == "ok: drop 20; impairments: drop 20%, silence"
    time.sleep(1)
    line = t.say("status")
    dropped = re.search(r"dropped (\d+) \((\d+\.\d)%\)", line)
    assert dropped and int(dropped.group(1)) > 0, line
    assert "drop" in t.say("help") and "restore" in t.log()
    assert t.say("explode").startswith("error: unknown command 'explode'")
    assert t.say("drop 101").startswith("error:")
    assert t.say("stop") == "ok: stop; impairments: stop, drop 20%, silence"
    time.sleep(0.3)
    assert m.count_datagrams(port, 1.0) == 0
    assert t.say("restore").endswith("impairments: none")
    assert m.count_datagrams(port, 1.0) > 100
    assert detect(udp(port), 3) == set()
    # SIGINT (Ctrl-C) stops it with a last status line.
    t.stop()
    assert t.proc.returncode == 0, t.log()
    assert t.log().rstrip().endswith("stopped"), t.log()


# ---------------------------------------------------------------- into a flow

@needs_ffmpeg
def test_rtp_fec_with_loss_is_repaired_by_a_flow(server, testsrc, ports):
    """3 % of the media datagrams are dropped (FEC all arrives); the flow's rtp-fec
    source rebuilds them and its output is clean."""
    ingest, out = ports(), ports()
    arn = server.aws(
        "mediaconnect", "create-flow", "--name", "testsrc-fec", "--availability-zone", f"{REGION}a",
        "--source", f"Name=cam,Protocol=rtp-fec,IngestPort={ingest},WhitelistCidr=127.0.0.0/8",
        "--outputs", f"Name=program,Protocol=udp,Destination=127.0.0.1,Port={out}",
    )["Flow"]["FlowArn"]
    server.aws("mediaconnect", "start-flow", "--flow-arn", arn)
    server.aws("mediaconnect", "wait", "flow-active", "--flow-arn", arn, timeout=130)
    t = testsrc(f"rtp://127.0.0.1:{ingest}", "--protocol", "rtp-fec", "--drop", "3", "--seed", "7", name="cam")
    st = wait_for(lambda: (s := server.source_stats(arn, "cam")) and s["fec_recovered"] > 20 and s, 20,
                  what="the flow to rebuild packets")
    r = m.read(udp(out), 4)
    assert r.rc == 0 and r.video == ("h264", 1280, 720) and r.audio == "aac", r.describe()
    assert r.frames > 0 and r.errors == [], "\n".join(r.errors[:20]) + r.describe()
    st = server.source_stats(arn, "cam")
    assert st["fec_packets"] > 0 and st["fec_recovered"] > 0, st
    assert st["not_recovered"] == 0, st
    dropped = wait_for(lambda: re.findall(r"dropped (\d+)", t.log()), 15, what="a status line")
    assert int(dropped[-1]) > 0, t.log()
    assert f"to rtp-fec 127.0.0.1:{ingest} (FEC 5x5" in t.log(), t.log()
