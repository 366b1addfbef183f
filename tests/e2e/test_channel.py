"""The first end-to-end media slice of issue 3: an ffmpeg test signal into a
MediaConnect flow, a MediaLive channel transcoding the flow's tap, and the
MediaPackage HLS endpoint serving what the channel encodes — all through the
real aws CLI, checked with ffprobe."""
import json
import re
import subprocess
import urllib.error
import urllib.request

from conftest import REGION, needs_ffmpeg, wait_for
from mediatools import encoder

ROLE = "arn:aws:iam::000000000000:role/MediaLiveAccessRole"
HLS = (
    "PlaylistType=NONE,PlaylistWindowSeconds=30,SegmentDurationSeconds=2,"
    "StreamSelection={MaxVideoBitsPerSecond=2147483647,MinVideoBitsPerSecond=0,StreamOrder=ORIGINAL}"
)
WIDTH, HEIGHT = 480, 270


def get(url, timeout=10):
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()
    except OSError:
        return 0, b""


def channel_config(input_id):
    return {
        "Name": "e2e-event",
        "RoleArn": ROLE,
        "ChannelClass": "SINGLE_PIPELINE",
        "InputAttachments": [{
            "InputAttachmentName": "camera",
            "InputId": input_id,
            "InputSettings": {"AudioSelectors": [{"Name": "default"}]},
        }],
        "Destinations": [{"Id": "mp", "MediaPackageSettings": [{"ChannelId": "e2e-pkg"}]}],
        "EncoderSettings": {
            "TimecodeConfig": {"Source": "SYSTEMCLOCK"},
            "AudioDescriptions": [{
                "Name": "audio", "AudioSelectorName": "default",
                "CodecSettings": {"AacSettings": {
                    "Bitrate": 128000, "SampleRate": 48000, "CodingMode": "CODING_MODE_2_0", "Profile": "LC"}},
            }],
            "VideoDescriptions": [{
                "Name": "video", "Width": WIDTH, "Height": HEIGHT,
                "CodecSettings": {"H264Settings": {
                    "Bitrate": 800000, "RateControlMode": "CBR", "FramerateControl": "SPECIFIED",
                    "FramerateNumerator": 25, "FramerateDenominator": 1, "GopSize": 2,
                    "GopSizeUnits": "SECONDS", "GopNumBFrames": 0, "Profile": "MAIN",
                    "Level": "H264_LEVEL_3_1"}},
            }],
            "OutputGroups": [{
                "OutputGroupSettings": {"MediaPackageGroupSettings": {"Destination": {"DestinationRefId": "mp"}}},
                "Outputs": [{
                    "OutputName": "main", "VideoDescriptionName": "video", "AudioDescriptionNames": ["audio"],
                    "OutputSettings": {"MediaPackageOutputSettings": {}},
                }],
            }],
        },
    }


@needs_ffmpeg
def test_flow_to_channel_to_endpoint(server, ports, tmp_path):
    port = ports()
    flow = server.aws(
        "mediaconnect", "create-flow", "--name", "cam", "--availability-zone", f"{REGION}a",
        "--source", f"Name=cam-source,Protocol=rtp,IngestPort={port},WhitelistCidr=127.0.0.0/8",
    )["Flow"]["FlowArn"]
    server.aws("mediaconnect", "start-flow", "--flow-arn", flow)
    encoder(server, f"rtp://127.0.0.1:{port}", log_name="camera")

    server.aws("mediapackage", "create-channel", "--id", "e2e-pkg")
    url = server.aws("mediapackage", "create-origin-endpoint", "--channel-id", "e2e-pkg",
                     "--id", "e2e-pkg-hls", "--hls-package", HLS)["Url"]

    inp = server.aws("medialive", "create-input", "--name", "cam-input", "--type", "MEDIACONNECT",
                     "--media-connect-flows", f"FlowArn={flow}", "--role-arn", ROLE)["Input"]
    cfg = tmp_path / "channel.json"
    cfg.write_text(json.dumps(channel_config(inp["Id"])))
    cid = server.aws("medialive", "create-channel", "--cli-input-json", f"file://{cfg}")["Channel"]["Id"]
    server.aws("medialive", "wait", "channel-created", "--channel-id", cid, timeout=30)
    server.aws("medialive", "start-channel", "--channel-id", cid)
    server.aws("medialive", "wait", "channel-running", "--channel-id", cid, timeout=30)
    running = server.aws("medialive", "describe-channel", "--channel-id", cid)
    assert running["PipelineDetails"][0]["ActiveInputAttachmentName"] == "camera"

    media_url = url.rsplit("/", 1)[0] + "/index_1.m3u8"

    def segments():
        status, body = get(media_url)
        text = body.decode(errors="replace") if status == 200 else ""
        return len(re.findall(r"^[^#\s].*\.ts$", text, re.MULTILINE)) >= 2 and text

    playlist = wait_for(segments, 25, interval=0.5, what="segments in the endpoint's media playlist")
    durations = [float(d) for d in re.findall(r"#EXTINF:([\d.]+),", playlist)]
    assert all(1.5 <= d <= 2.5 for d in durations), playlist

    probe = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "stream=codec_name,width,height,sample_rate,channels",
         "-of", "csv=p=0", url], capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL,
    )
    assert probe.returncode == 0, probe.stderr
    assert f"h264,{WIDTH},{HEIGHT}" in probe.stdout, probe.stdout
    assert "aac,48000,2" in probe.stdout, probe.stdout

    server.aws("medialive", "stop-channel", "--channel-id", cid)
    server.aws("medialive", "wait", "channel-stopped", "--channel-id", cid, timeout=30)
    assert server.aws("medialive", "describe-channel", "--channel-id", cid)["PipelineDetails"] == []


def newest_segment(media_url):
    status, body = get(media_url)
    assert status == 200, (status, body)
    names = re.findall(r"^[^#\s].*\.ts$", body.decode(), re.MULTILINE)
    return media_url.rsplit("/", 1)[0] + "/" + names[-1], names[-1]


@needs_ffmpeg
def test_input_failover_follows_the_encoders(server, ports, tmp_path):
    """Primary (1000 Hz) and backup (2000 Hz) flows; killing the primary
    encoder moves the channel to the backup, restarting it moves it back after
    errorClearTimeMsec."""
    from mediatools import tone_hz

    inputs = {}
    encoders = {}
    for name, tone in (("primary", 1000), ("backup", 2000)):
        port = ports()
        flow = server.aws(
            "mediaconnect", "create-flow", "--name", name, "--availability-zone", f"{REGION}a",
            "--source", f"Name={name}-source,Protocol=rtp,IngestPort={port},WhitelistCidr=127.0.0.0/8",
        )["Flow"]["FlowArn"]
        server.aws("mediaconnect", "start-flow", "--flow-arn", flow)
        encoders[name] = (port, tone, encoder(server, f"rtp://127.0.0.1:{port}", tone=tone, log_name=name))
        inputs[name] = server.aws("medialive", "create-input", "--name", f"{name}-input", "--type", "MEDIACONNECT",
                                  "--media-connect-flows", f"FlowArn={flow}", "--role-arn", ROLE)["Input"]["Id"]
    server.aws("mediapackage", "create-channel", "--id", "e2e-pkg")
    url = server.aws("mediapackage", "create-origin-endpoint", "--channel-id", "e2e-pkg",
                     "--id", "e2e-pkg-hls", "--hls-package", HLS)["Url"]
    config = channel_config(inputs["primary"])
    config["InputAttachments"][0]["AutomaticInputFailoverSettings"] = {
        "SecondaryInputId": inputs["backup"], "InputPreference": "PRIMARY_INPUT_PREFERRED",
        "ErrorClearTimeMsec": 2000,
        "FailoverConditions": [{"FailoverConditionSettings": {"InputLossSettings": {"InputLossThresholdMsec": 1000}}}],
    }
    config["InputAttachments"].append({
        "InputAttachmentName": "backup", "InputId": inputs["backup"],
        "InputSettings": {"AudioSelectors": [{"Name": "default"}]},
    })
    cfg = tmp_path / "channel.json"
    cfg.write_text(json.dumps(config))
    cid = server.aws("medialive", "create-channel", "--cli-input-json", f"file://{cfg}")["Channel"]["Id"]
    server.aws("medialive", "wait", "channel-created", "--channel-id", cid, timeout=30)
    server.aws("medialive", "start-channel", "--channel-id", cid)
    server.aws("medialive", "wait", "channel-running", "--channel-id", cid, timeout=30)
    media_url = url.rsplit("/", 1)[0] + "/index_1.m3u8"

    def active():
        return server.aws("medialive", "describe-channel", "--channel-id", cid)["PipelineDetails"][0][
            "ActiveInputAttachmentName"]

    def tone_of_new_segment(after):
        seg_url, name = newest_segment(media_url)
        return name != after and tone_hz(seg_url, seconds=1.5)

    first = wait_for(lambda: newest_segment(media_url), 25, interval=0.5, what="a first segment")[1]
    assert abs(wait_for(lambda: tone_of_new_segment(first), 15, what="a segment") - 1000) < 60

    server.kill_child(encoders["primary"][2])
    wait_for(lambda: active() == "backup", 10, interval=0.5, what="the backup input to be active")
    seen = newest_segment(media_url)[1]
    # The segment after the next holds only backup media.
    after = wait_for(lambda: newest_segment(media_url)[1] != seen and newest_segment(media_url)[1], 10,
                     interval=0.3, what="a new segment")
    assert abs(wait_for(lambda: tone_of_new_segment(after), 10, what="a backup segment") - 2000) < 100

    port, tone, _ = encoders["primary"]
    encoder(server, f"rtp://127.0.0.1:{port}", tone=tone, log_name="primary-again")
    wait_for(lambda: active() == "camera", 15, interval=0.5, what="the primary input to be active again")
