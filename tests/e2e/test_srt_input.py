"""MediaLive SRT_CALLER inputs through the real aws CLI: an input naming an upstream
SRT listener (`srt-live-transmit` in listener mode with a passphrase, fed by ffmpeg
sending MPEG-TS over UDP), a channel with a MediaPackage output, and the HLS endpoint
read back with ffprobe. The listener going away is input loss; when it is back the
channel calls it again and segments resume. Loopback only; every wait is bounded."""
import json
import subprocess
import time

import pytest

from conftest import needs_ffmpeg, wait_for
from test_channel import channel_config, run_channel
from test_healing import input_state
from test_rtmp import codecs, segment_names
from test_srt import needs_srt, secret, slt, srt_url, ts_encoder

PASSPHRASE = "correct-horse-battery-staple"


def create_srt_input(srv, sources, name="srt-cam", check=True):
    args = ["medialive", "create-input", "--name", name, "--type", "SRT_CALLER",
            "--srt-settings", json.dumps({"SrtCallerSources": sources})]
    return srv.aws(*args)["Input"] if check else srv.aws_run(*args)


def test_srt_caller_inputs_are_validated_and_shown_as_aws_shows_them(server, ports):
    arn = secret(server, "live/srt", PASSPHRASE)
    port = ports()
    source = {"SrtListenerAddress": "127.0.0.1", "SrtListenerPort": str(port), "StreamId": "cam1",
              "MinimumLatency": 200, "Decryption": {"Algorithm": "AES128", "PassphraseSecretArn": arn}}
    made = create_srt_input(server, [source])
    assert made["Type"] == "SRT_CALLER" and made["InputClass"] == "SINGLE_PIPELINE", made
    assert made["SrtSettings"]["SrtCallerSources"] == [source], made
    assert made["Destinations"] == [], made
    described = server.aws("medialive", "describe-input", "--input-id", made["Id"])
    assert described["SrtSettings"] == made["SrtSettings"]
    listed = server.aws("medialive", "list-inputs")["Inputs"]
    assert [i["SrtSettings"] for i in listed if i["Id"] == made["Id"]] == [made["SrtSettings"]]

    at = "srtSettings.srtCallerSources[0]"
    for change, message in [
        ({"SrtListenerAddress": "encoder.example"}, f"{at}.srtListenerAddress"),
        ({"SrtListenerPort": "0"}, f"{at}.srtListenerPort"),
        ({"SrtListenerPort": "70000"}, f"{at}.srtListenerPort"),
        ({"MinimumLatency": 50}, f"{at}.minimumLatency"),
        ({"Decryption": {"Algorithm": "AES128", "PassphraseSecretArn":
                         arn.rsplit(":", 1)[0] + ":missing-AbCdEf"}}, f"{at}.decryption.passphraseSecretArn"),
    ]:
        out = create_srt_input(server, [{**source, **change}], check=False)
        assert out.returncode != 0 and message in out.stderr, (change, out.stderr)
    out = server.aws_run("medialive", "create-input", "--type", "SRT_CALLER")
    assert out.returncode != 0 and "srtSettings.srtCallerSources" in out.stderr, out.stderr
    out = server.aws_run("medialive", "create-input", "--type", "SRT_LISTENER")
    assert out.returncode != 0 and "SRT_LISTENER" in out.stderr, out.stderr

    server.aws("medialive", "delete-input", "--input-id", made["Id"])
    assert all(i["Id"] != made["Id"] for i in server.aws("medialive", "list-inputs")["Inputs"])


@needs_srt
@needs_ffmpeg
@pytest.mark.deadline(240)
def test_srt_caller_input_plays_out_of_hls_and_survives_listener_loss(server, ports, tmp_path):
    udp_in, srt_port = ports(), ports() + 2
    arn = secret(server, "live/srt-cam", PASSPHRASE)
    input_id = create_srt_input(server, [{
        "SrtListenerAddress": "127.0.0.1", "SrtListenerPort": str(srt_port), "MinimumLatency": 200,
        "Decryption": {"Algorithm": "AES256", "PassphraseSecretArn": arn}}])["Id"]
    listener_url = srt_url(srt_port, passphrase=PASSPHRASE, mode="listener")

    ts_encoder(server, udp_in, log_name="srt-input-ffmpeg")
    listener = slt(server, f"udp://127.0.0.1:{udp_in}", listener_url, "slt-listener")
    cid, media_url = run_channel(server, tmp_path, channel_config(input_id))
    try:
        wait_for(lambda: input_state(server, cid)["state"] == "CONNECTED", 30, interval=0.5,
                 what="the channel's call to the SRT listener")
        names = wait_for(lambda: len(segment_names(media_url)) >= 3 and segment_names(media_url), 60,
                         interval=0.5, what="3 segments in the endpoint's media playlist")
    except AssertionError as e:
        raise AssertionError(f"{e}\n{server.log_tail(60)}") from None
    base = media_url.rsplit("/", 1)[0]
    for name in names[-2:]:
        assert codecs(f"{base}/{name}") == {"aac", "h264"}, name
    assert f"input connected to the SRT listener srt://127.0.0.1:{srt_port}" in server.log_tail(400)

    # The listener goes away: input loss, and the channel keeps calling.
    server.kill_child(listener)
    try:
        wait_for(lambda: "input loss started" in server.log_tail(400), 20, interval=0.5, what="input loss")
        state = wait_for(lambda: (s := input_state(server, cid))["state"] == "WAITING" and s, 20,
                         interval=0.5, what="the input waiting")
    except AssertionError as e:
        raise AssertionError(f"{e}\n{server.log_tail(60)}") from None
    assert state["losses"] >= 1, state
    assert f"srt://127.0.0.1:{srt_port}" in state["reason"], state

    # The listener is back: the channel calls it again, the loss ends, segments resume.
    before = segment_names(media_url)
    time.sleep(1)
    slt(server, f"udp://127.0.0.1:{udp_in}", listener_url, "slt-listener-2")
    try:
        wait_for(lambda: input_state(server, cid)["state"] == "CONNECTED", 30, interval=0.5,
                 what="the call to the listener again")
        wait_for(lambda: "input loss ended" in server.log_tail(400), 30, interval=0.5, what="input loss to end")
        wait_for(lambda: (now := segment_names(media_url)) and now[-1] not in before, 30,
                 interval=0.5, what="new segments")
    except AssertionError as e:
        raise AssertionError(f"{e}\n{server.log_tail(60)}") from None
    last = segment_names(media_url)[-1]
    assert codecs(f"{base}/{last}") == {"aac", "h264"}, last


@needs_srt
@needs_ffmpeg
@pytest.mark.deadline(240)
def test_srt_listener_input_takes_a_caller_its_security_group_admits(server, ports, tmp_path):
    """An SRT_LISTENER input listens on the port onair allocated (its `Destinations`); a
    caller with the wrong passphrase is refused and counted, with the reason shown; a
    caller (`srt-live-transmit` relaying ffmpeg's TS) with the passphrase plays out of HLS.
    A security group that no longer admits loopback drops the caller (input loss) and
    refusals are counted; admitted again, the caller comes back and segments resume."""
    udp_in = ports()
    arn = secret(server, "live/srt-listen", PASSPHRASE)
    group = server.aws("medialive", "create-input-security-group",
                       "--whitelist-rules", "Cidr=127.0.0.0/8")["SecurityGroup"]["Id"]
    made = server.aws("medialive", "create-input", "--name", "srt-in", "--type", "SRT_LISTENER",
                      "--input-security-groups", group, "--srt-settings", json.dumps({
                          "SrtListenerSettings": {"MinimumLatency": 200, "Decryption": {
                              "Algorithm": "AES256", "PassphraseSecretArn": arn}}}))["Input"]
    assert made["SrtSettings"]["SrtListenerSettings"]["MinimumLatency"] == 200, made
    dest = made["Destinations"][0]
    assert dest["Url"] == f"srt://127.0.0.1:{dest['Port']}", made
    caller_url = srt_url(int(dest["Port"]), passphrase=PASSPHRASE, mode="caller")

    ts_encoder(server, udp_in, log_name="srt-listen-ffmpeg")
    cid, media_url = run_channel(server, tmp_path, channel_config(made["Id"]))
    wrong = slt(server, f"udp://127.0.0.1:{udp_in}",
                srt_url(int(dest["Port"]), passphrase="not-the-passphrase", mode="caller"),
                "slt-wrong-passphrase")
    try:
        wait_for(lambda: input_state(server, cid)["refused"] >= 1, 30, interval=0.5,
                 what="the caller with the wrong passphrase refused and counted")
        shown = input_state(server, cid)
        assert shown["state"] != "CONNECTED", shown
        assert "wrong passphrase" in (shown.get("reason") or ""), shown
    except AssertionError as e:
        raise AssertionError(f"{e}\n{server.log_tail(60)}") from None
    server.kill_child(wrong)
    refused_before = input_state(server, cid)["refused"]
    caller = slt(server, f"udp://127.0.0.1:{udp_in}", caller_url, "slt-caller")
    try:
        wait_for(lambda: input_state(server, cid)["state"] == "CONNECTED", 30, interval=0.5,
                 what="a caller on the SRT listener")
        names = wait_for(lambda: len(segment_names(media_url)) >= 3 and segment_names(media_url), 60,
                         interval=0.5, what="3 segments in the endpoint's media playlist")
    except AssertionError as e:
        raise AssertionError(f"{e}\n{server.log_tail(60)}") from None
    base = media_url.rsplit("/", 1)[0]
    assert codecs(f"{base}/{names[-1]}") == {"aac", "h264"}, names[-1]

    server.aws("medialive", "update-input-security-group", "--input-security-group-id", group,
               "--whitelist-rules", "Cidr=10.0.0.0/8")
    try:
        wait_for(lambda: "input loss started" in server.log_tail(400), 20, interval=0.5, what="input loss")
        wait_for(lambda: input_state(server, cid)["refused"] > refused_before, 20, interval=0.5,
                 what="the refused caller counted")
    except AssertionError as e:
        raise AssertionError(f"{e}\n{server.log_tail(60)}") from None
    before = segment_names(media_url)
    server.aws("medialive", "update-input-security-group", "--input-security-group-id", group,
               "--whitelist-rules", "Cidr=127.0.0.0/8")
    # A new caller (srt-live-transmit's own reconnection gives up after refusals).
    server.kill_child(caller)
    time.sleep(1.5)  # the supervisor renews the rules on its next pass (within 1 s)
    slt(server, f"udp://127.0.0.1:{udp_in}", caller_url, "slt-caller-2")
    try:
        wait_for(lambda: input_state(server, cid)["state"] == "CONNECTED", 30, interval=0.5,
                 what="the caller admitted again")
        wait_for(lambda: (now := segment_names(media_url)) and now[-1] not in before, 30,
                 interval=0.5, what="new segments")
    except AssertionError as e:
        raise AssertionError(f"{e}\n{server.log_tail(60)}") from None
