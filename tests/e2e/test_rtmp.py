"""MediaLive RTMP_PUSH inputs through the real aws CLI: an input with app/key stream
names on onair's one RTMP port (a free port here, `ONAIR_RTMP_PORT`), a channel with a
MediaPackage output, real ffmpeg pushing `-f flv rtmp://…`, and the HLS endpoint read
back with ffprobe. A wrong key, a wrong app and a sender outside the input's security
group are refused. Loopback only; every wait is bounded."""
import re
import subprocess
import time

import pytest

from conftest import Server, _free_tcp_port, needs_ffmpeg, wait_for
from test_channel import channel_config, get, run_channel
from test_healing import input_state


@pytest.fixture
def rtmp_server(tmp_path):
    """`onair serve` with its RTMP listener on a free TCP port (never 1935 or 5000/5001)."""
    srv = Server(tmp_path)
    port = _free_tcp_port()
    while port in (1935, 5000, 5001):
        port = _free_tcp_port()
    srv.env["ONAIR_RTMP_PORT"] = str(port)
    srv.rtmp_port = port
    try:
        srv.start()
        yield srv
    finally:
        srv.close()


def push_args(url, seconds=None):
    """ffmpeg pushing a 640x360 test pattern and a 1 kHz tone as FLV to `url`, in real time."""
    return ["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "warning", "-re",
            "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=25", "-f", "lavfi", "-i", "sine=f=1000",
            *(["-t", str(seconds)] if seconds else []),
            "-c:v", "libx264", "-preset", "ultrafast", "-g", "50", "-c:a", "aac", "-f", "flv", url]


def refused_push(url, limit=20):
    """Runs a 5 s push that must be refused: returns (exit code, seconds taken, log)."""
    started = time.monotonic()
    p = subprocess.run(push_args(url, seconds=5), capture_output=True, text=True, timeout=limit,
                       stdin=subprocess.DEVNULL)
    return p.returncode, time.monotonic() - started, p.stderr


def segment_names(media_url):
    status, body = get(media_url)
    if status != 200:
        return []
    return re.findall(r"^[^#\s].*\.ts$", body.decode(errors="replace"), re.MULTILINE)


def codecs(url):
    p = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "stream=codec_name", "-of", "csv=p=0", url],
                       capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL)
    assert p.returncode == 0, p.stderr
    return set(p.stdout.split())


def test_rtmp_push_inputs_are_validated_and_show_their_url(rtmp_server):
    srv, port = rtmp_server, rtmp_server.rtmp_port
    made = srv.aws("medialive", "create-input", "--name", "obs", "--type", "RTMP_PUSH",
                   "--destinations", "StreamName=live/cam", "StreamName=live/cam-b")["Input"]
    assert made["InputClass"] == "STANDARD"
    want = [f"rtmp://127.0.0.1:{port}/live/cam", f"rtmp://127.0.0.1:{port}/live/cam-b"]
    assert [d["Url"] for d in made["Destinations"]] == want, made
    assert {d["Port"] for d in made["Destinations"]} == {str(port)}
    described = srv.aws("medialive", "describe-input", "--input-id", made["Id"])
    assert [d["Url"] for d in described["Destinations"]] == want
    listed = srv.aws("medialive", "list-inputs")["Inputs"]
    assert [d["Url"] for i in listed if i["Id"] == made["Id"] for d in i["Destinations"]] == want

    for destinations, message in [
        (["StreamName=nokey"], "destinations[0].streamName"),
        (["StreamName=live/a b"], "destinations[0].streamName"),
        (["StreamName=live/cam-b"], "is already used by RTMP_PUSH input 'obs'"),
        (["StreamName=x/y", "StreamName=x/y"], "destinations[1].streamName"),
    ]:
        out = srv.aws_run("medialive", "create-input", "--type", "RTMP_PUSH", "--destinations", *destinations)
        assert out.returncode != 0 and "BadRequestException" in out.stderr and message in out.stderr, out.stderr
    out = srv.aws_run("medialive", "create-input", "--type", "RTMP_PUSH")
    assert out.returncode != 0 and "destinations:" in out.stderr, out.stderr


@needs_ffmpeg
@pytest.mark.deadline(240)
def test_ffmpeg_rtmp_push_plays_out_of_hls(rtmp_server, tmp_path):
    srv, port = rtmp_server, rtmp_server.rtmp_port
    input_id = srv.aws("medialive", "create-input", "--name", "obs", "--type", "RTMP_PUSH",
                       "--destinations", "StreamName=live/cam")["Input"]["Id"]
    url = f"rtmp://127.0.0.1:{port}/live/cam"
    # Nothing listens until a channel with the input runs: the push is refused.
    code, _, log = refused_push(url)
    assert code != 0, log

    cid, media_url = run_channel(srv, tmp_path, channel_config(input_id))
    waiting = wait_for(lambda: input_state(srv, cid).get("reason"), 10, what="the input's waiting reason")
    assert f"waiting for an RTMP publisher on rtmp://127.0.0.1:{port}/live/cam" in waiting, waiting
    encoder_log = open(tmp_path / "rtmp-encoder.log", "ab")
    srv.popen(push_args(url), stdout=encoder_log, stderr=subprocess.STDOUT)

    try:
        names = wait_for(lambda: len(segment_names(media_url)) >= 3 and segment_names(media_url), 60,
                         interval=0.5, what="3 segments in the endpoint's media playlist")
    except AssertionError as e:
        raise AssertionError(f"{e}\n{srv.log_tail(60)}") from None
    base = media_url.rsplit("/", 1)[0]
    for name in names[-2:]:
        assert codecs(f"{base}/{name}") == {"aac", "h264"}, name
    log = srv.log_tail(400)
    assert "RTMP publisher accepted" in log, log
    assert input_state(srv, cid)["state"] == "CONNECTED"

    # A wrong key and a wrong app are refused quickly, and the publisher keeps running.
    for wrong in ("live/other", "other/cam"):
        code, took, out = refused_push(f"rtmp://127.0.0.1:{port}/{wrong}")
        assert code != 0 and took < 10, (wrong, code, took, out)
    # A second publisher on the same key is refused: one publisher per input.
    code, took, out = refused_push(url)
    assert code != 0 and took < 10, (code, took, out)
    before = len(segment_names(media_url))
    assert before >= 3

    # A security group that does not admit loopback: the running publisher is dropped
    # (input loss) and a new one refused before the handshake, counted in the
    # channel's health.
    group = srv.aws("medialive", "create-input-security-group",
                    "--whitelist-rules", "Cidr=10.0.0.0/8")["SecurityGroup"]["Id"]
    srv.aws("medialive", "update-input", "--input-id", input_id, "--input-security-groups", group)
    wait_for(lambda: "no longer admits" in srv.log_tail(400), 15, interval=0.5,
             what="the publisher to be dropped")
    state = input_state(srv, cid)
    assert state["state"] == "WAITING" and "left" in state["reason"] and state["losses"] >= 1, state
    wait_for(lambda: "input loss started" in srv.log_tail(400), 15, interval=0.5, what="input loss")
    refused_before = input_state(srv, cid)["refused"]
    code, took, out = refused_push(url)
    assert code != 0 and took < 10, (code, took, out)
    wait_for(lambda: "RTMP connection refused" in srv.log_tail(400), 10, what="the refusal in the log")
    wait_for(lambda: input_state(srv, cid)["refused"] > refused_before, 5, what="the refusal counted")

    # Loopback admitted again: a new publisher is a new stream, and the loss ends.
    srv.aws("medialive", "update-input-security-group", "--input-security-group-id", group,
            "--whitelist-rules", "Cidr=127.0.0.0/8")
    time.sleep(1.5)  # the supervisor renews the rules on its next pass (at once, or within 1 s)
    srv.popen(push_args(url), stdout=encoder_log, stderr=subprocess.STDOUT)
    wait_for(lambda: input_state(srv, cid)["state"] == "CONNECTED", 15, interval=0.5,
             what="the new publisher to be connected")
    wait_for(lambda: "input loss ended" in srv.log_tail(400), 20, interval=0.5, what="input loss to end")
    wait_for(lambda: len(segment_names(media_url)) > before and segment_names(media_url)[-1] != names[-1], 20,
             interval=0.5, what="new segments")
    last = segment_names(media_url)[-1]
    assert codecs(f"{base}/{last}") == {"aac", "h264"}, last


@needs_ffmpeg
@pytest.mark.deadline(200)
def test_rtmp_publisher_loss_fails_over_to_the_backup_and_back(rtmp_server, tmp_path):
    """An RTMP_PUSH input as the primary, an RTP_PUSH input fed by ffmpeg as the
    backup: the RTMP publisher stopping is input loss, so the channel switches to the
    backup, and a new publisher brings it back after ErrorClearTimeMsec."""
    from mediatools import encoder

    srv, port = rtmp_server, rtmp_server.rtmp_port
    primary = srv.aws("medialive", "create-input", "--name", "obs", "--type", "RTMP_PUSH",
                      "--destinations", "StreamName=live/main")["Input"]["Id"]
    backup = srv.aws("medialive", "create-input", "--name", "backup", "--type", "RTP_PUSH")["Input"]
    config = channel_config(primary)
    config["InputAttachments"][0]["AutomaticInputFailoverSettings"] = {
        "SecondaryInputId": backup["Id"], "InputPreference": "PRIMARY_INPUT_PREFERRED",
        "ErrorClearTimeMsec": 2000,
        "FailoverConditions": [
            {"FailoverConditionSettings": {"InputLossSettings": {"InputLossThresholdMsec": 1000}}}],
    }
    config["InputAttachments"].append({
        "InputAttachmentName": "backup", "InputId": backup["Id"],
        "InputSettings": {"AudioSelectors": [{"Name": "default"}]},
    })
    encoder(srv, f"rtp://127.0.0.1:{backup['Destinations'][0]['Port']}", tone=2000, log_name="backup")
    cid, _ = run_channel(srv, tmp_path, config)
    url = f"rtmp://127.0.0.1:{port}/live/main"
    log = open(tmp_path / "rtmp-encoder.log", "ab")

    def active():
        details = srv.aws("medialive", "describe-channel", "--channel-id", cid)["PipelineDetails"]
        return details[0].get("ActiveInputAttachmentName") if details else None

    publisher = srv.popen(push_args(url), stdout=log, stderr=subprocess.STDOUT)
    wait_for(lambda: input_state(srv, cid)["state"] == "CONNECTED", 20, interval=0.5,
             what="the RTMP publisher to be connected")
    wait_for(lambda: active() == "camera", 20, interval=0.5, what="the channel on the RTMP input")

    srv.kill_child(publisher)
    try:
        wait_for(lambda: active() == "backup", 15, interval=0.5, what="the switch to the backup")
    except AssertionError as e:
        raise AssertionError(f"{e}\n{srv.log_tail(60)}") from None
    state = input_state(srv, cid)
    assert state["state"] == "WAITING" and "left" in state["reason"] and state["losses"] >= 1, state

    srv.popen(push_args(url), stdout=log, stderr=subprocess.STDOUT)
    wait_for(lambda: active() == "camera", 25, interval=0.5, what="the switch back to the RTMP input")
