"""Codec settings a channel cannot be encoded with are refused at CreateChannel and
UpdateChannel (422, the element named), not when StartChannel bounces the channel back
to IDLE; settings onair encodes are accepted. Driven by boto3 and the real aws CLI."""

import copy
import json

import pytest

from conftest import medialive_role
from test_medialive import channel_config, medialive

H264 = "encoderSettings.videoDescriptions[0].codecSettings.h264Settings"
AAC = "encoderSettings.audioDescriptions[0].codecSettings.aacSettings"


def inputs(ml):
    a = ml.create_input(Name="a", Type="RTP_PUSH")["Input"]["Id"]
    b = ml.create_input(Name="b", Type="RTP_PUSH")["Input"]["Id"]
    return a, b


def h264(cfg):
    return cfg["EncoderSettings"]["VideoDescriptions"][0]["CodecSettings"]["H264Settings"]


def aac(cfg):
    return cfg["EncoderSettings"]["AudioDescriptions"][0]["CodecSettings"]["AacSettings"]


def refused(ml, cfg):
    with pytest.raises(ml.exceptions.UnprocessableEntityException) as e:
        ml.create_channel(**cfg)
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 422
    return e.value.response["ValidationErrors"]


def test_create_refuses_what_the_encoder_cannot_honour(server):
    ml = medialive(server)
    a, b = inputs(ml)
    role = medialive_role(server)
    cases = [
        ({"ScanType": "INTERLACED"}, f"{H264}.scanType", "PROGRESSIVE"),
        ({"Syntax": "RP2027"}, f"{H264}.syntax", "DEFAULT"),
        ({"FlickerAq": "ENABLED"}, f"{H264}.flickerAq", "flicker"),
        ({"GopClosedCadence": 0}, f"{H264}.gopClosedCadence", "IDR"),
        ({"MinIInterval": 5}, f"{H264}.minIInterval", "cadence"),
        ({"RateControlMode": "QVBR", "QvbrQualityLevel": 8, "MaxBitrate": None}, f"{H264}.maxBitrate", "QVBR"),
    ]
    for change, path, words in cases:
        cfg = channel_config("bad", a, b, role)
        for k, v in change.items():
            if v is None:
                h264(cfg).pop(k, None)
            else:
                h264(cfg)[k] = v
        if h264(cfg).get("RateControlMode") == "QVBR":
            h264(cfg).pop("Bitrate", None)
        errors = refused(ml, cfg)
        assert [e["ElementPath"] for e in errors] == [path], (change, errors)
        assert words in errors[0]["ErrorMessage"], errors
    cfg = channel_config("bad", a, b, role)
    aac(cfg)["RateControlMode"] = "VBR"
    aac(cfg)["Spec"] = "MPEG2"
    errors = refused(ml, cfg)
    assert [e["ElementPath"] for e in errors] == [f"{AAC}.rateControlMode"], errors
    cfg = channel_config("bad", a, b, role)
    cfg["InputAttachments"][0]["InputSettings"]["AudioSelectors"][0]["SelectorSettings"] = {
        "AudioTrackSelection": {"Tracks": [{"Track": 1}]}}
    errors = refused(ml, cfg)
    assert errors[0]["ElementPath"] == \
        "inputAttachments[0].inputSettings.audioSelectors[0].selectorSettings.audioTrackSelection", errors
    # Nothing was created or attached by the refused requests.
    assert ml.list_channels()["Channels"] == []
    assert ml.describe_input(InputId=a)["State"] == "DETACHED"


def test_settings_onair_encodes_are_accepted_and_kept(server):
    ml = medialive(server)
    a, b = inputs(ml)
    cfg = channel_config("qvbr", a, b, medialive_role(server))
    h = h264(cfg)
    h.pop("Bitrate")
    h.update({
        "RateControlMode": "QVBR", "QvbrQualityLevel": 8, "MaxBitrate": 3000000, "BufSize": 6000000,
        "BufFillPct": 50, "AdaptiveQuantization": "HIGH", "SpatialAq": "ENABLED", "TemporalAq": "ENABLED",
        "FlickerAq": "DISABLED", "SceneChangeDetect": "ENABLED", "SubgopLength": "DYNAMIC",
        "GopBReference": "ENABLED", "EntropyEncoding": "CABAC", "Slices": 2, "ParControl": "SPECIFIED",
        "ParNumerator": 1, "ParDenominator": 1, "ScanType": "PROGRESSIVE", "MinIInterval": 0,
    })
    cfg["InputAttachments"][0]["InputSettings"]["AudioSelectors"][0]["SelectorSettings"] = {
        "AudioLanguageSelection": {"LanguageCode": "spa", "LanguageSelectionPolicy": "STRICT"}}
    ch = ml.create_channel(**cfg)["Channel"]
    got = ch["EncoderSettings"]["VideoDescriptions"][0]["CodecSettings"]["H264Settings"]
    assert got["RateControlMode"] == "QVBR" and got["QvbrQualityLevel"] == 8
    sel = ch["InputAttachments"][0]["InputSettings"]["AudioSelectors"][0]["SelectorSettings"]
    assert sel["AudioLanguageSelection"]["LanguageCode"] == "spa"


def test_update_refuses_with_the_cli(server, tmp_path):
    ml = medialive(server)
    a, b = inputs(ml)
    role = medialive_role(server)
    cid = ml.create_channel(**channel_config("upd", a, b, role))["Channel"]["Id"]
    server.aws("medialive", "wait", "channel-created", "--channel-id", cid, timeout=60)
    enc = copy.deepcopy(channel_config("upd", a, b, role)["EncoderSettings"])
    h264({"EncoderSettings": enc})["ScanType"] = "INTERLACED"
    body = tmp_path / "update.json"
    body.write_text(json.dumps({"ChannelId": cid, "EncoderSettings": enc}))
    p = server.aws_run("medialive", "update-channel", "--cli-input-json", f"file://{body}")
    assert p.returncode != 0
    assert "UnprocessableEntityException" in p.stderr, p.stderr
    # The CLI prints the message: the first error's element path and reason.
    assert f"{H264}.scanType: " in p.stderr and "PROGRESSIVE" in p.stderr, p.stderr
    # The stored channel is unchanged.
    kept = ml.describe_channel(ChannelId=cid)["EncoderSettings"]
    assert h264({"EncoderSettings": kept}).get("ScanType") != "INTERLACED"
    assert role == ml.describe_channel(ChannelId=cid)["RoleArn"]
