"""The first end-to-end media slice of issue 3: an ffmpeg test signal into a
MediaConnect flow, a MediaLive channel transcoding the flow's tap, and the
MediaPackage HLS endpoint serving what the channel encodes — all through the
real aws CLI, checked with ffprobe."""
import json
import re
import subprocess
import urllib.error
import urllib.request

from conftest import REGION, medialive_role, needs_ffmpeg, wait_for
from mediatools import encoder

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
    """The e2e channel on one input; start_channel gives it its RoleArn."""
    return {
        "Name": "e2e-event",
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
    input_id = flow_input(server, "cam", port)
    encoder(server, f"rtp://127.0.0.1:{port}", log_name="camera")

    server.aws("mediapackage", "create-channel", "--id", "e2e-pkg")
    url = server.aws("mediapackage", "create-origin-endpoint", "--channel-id", "e2e-pkg",
                     "--id", "e2e-pkg-hls", "--hls-package", HLS)["Url"]
    cid = start_channel(server, tmp_path, channel_config(input_id))
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
        inputs[name] = flow_input(server, name, port)
        encoders[name] = (port, tone, encoder(server, f"rtp://127.0.0.1:{port}", tone=tone, log_name=name))
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
    cid = start_channel(server, tmp_path, config)
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
    # A new segment carries the backup's tone. (The output holds the primary's last
    # picture, with silence, from its last picture to the backup's first IDR — about
    # 2 s here — so the segment after the next may still be mostly that hold.)

    def backup_tone():
        seg_url, newest = newest_segment(media_url)
        return newest != seen and abs(tone_hz(seg_url, seconds=1.5) - 2000) < 100
    wait_for(backup_tone, 15, interval=0.5, what="the backup's tone in a new segment")

    port, tone, _ = encoders["primary"]
    encoder(server, f"rtp://127.0.0.1:{port}", tone=tone, log_name="primary-again")
    try:
        wait_for(lambda: active() == "camera", 15, interval=0.5, what="the primary input to be active again")
    except AssertionError as e:
        raise AssertionError(f"{e}\n{server.log_tail(40)}") from None


# ------------------------------------------------ input loss and failover conditions

def send(server, port, video="testsrc2=size=640x360:rate=25", audio="sine=frequency=1000",
         log_name="encoder"):
    """Like mediatools.encoder, with the lavfi video and audio sources given:
    RTP/MPEG-TS in real time to 127.0.0.1:port. Ended by the server fixture."""
    log = open(server.tmp / f"{log_name}.log", "ab")
    return server.popen(
        ["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "warning", "-re",
         "-f", "lavfi", "-i", video, "-f", "lavfi", "-i", audio,
         "-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-g", "25",
         "-c:a", "aac", "-f", "rtp_mpegts", f"rtp://127.0.0.1:{port}"],
        stdout=log, stderr=subprocess.STDOUT,
    )


def flow_input(server, name, port):
    """A started MediaConnect flow on `port` and a MediaLive input of it."""
    flow = server.aws(
        "mediaconnect", "create-flow", "--name", name, "--availability-zone", f"{REGION}a",
        "--source", f"Name={name}-source,Protocol=rtp,IngestPort={port},WhitelistCidr=127.0.0.0/8",
    )["Flow"]["FlowArn"]
    server.aws("mediaconnect", "start-flow", "--flow-arn", flow)
    return server.aws("medialive", "create-input", "--name", f"{name}-input", "--type", "MEDIACONNECT",
                      "--media-connect-flows", f"FlowArn={flow}", "--role-arn", medialive_role(server))["Input"]["Id"]


def start_channel(server, tmp_path, config):
    """CreateChannel from `config` with the CLI, its RoleArn the recipe's role
    (created on the server if needed), then StartChannel; returns its id once RUNNING."""
    cfg = tmp_path / "channel.json"
    cfg.write_text(json.dumps(dict(config, RoleArn=medialive_role(server))))
    cid = server.aws("medialive", "create-channel", "--cli-input-json", f"file://{cfg}")["Channel"]["Id"]
    server.aws("medialive", "wait", "channel-created", "--channel-id", cid, timeout=30)
    server.aws("medialive", "start-channel", "--channel-id", cid)
    server.aws("medialive", "wait", "channel-running", "--channel-id", cid, timeout=30)
    return cid


def run_channel(server, tmp_path, config):
    """Creates and starts the channel and an HLS endpoint; returns (channel id, media playlist URL)."""
    server.aws("mediapackage", "create-channel", "--id", "e2e-pkg")
    url = server.aws("mediapackage", "create-origin-endpoint", "--channel-id", "e2e-pkg",
                     "--id", "e2e-pkg-hls", "--hls-package", HLS)["Url"]
    return start_channel(server, tmp_path, config), url.rsplit("/", 1)[0] + "/index_1.m3u8"


def with_backup(config, primary_id, backup_id, condition):
    config["InputAttachments"][0]["AutomaticInputFailoverSettings"] = {
        "SecondaryInputId": backup_id, "InputPreference": "PRIMARY_INPUT_PREFERRED",
        "ErrorClearTimeMsec": 2000,
        "FailoverConditions": [
            {"FailoverConditionSettings": {"InputLossSettings": {"InputLossThresholdMsec": 1000}}},
            {"FailoverConditionSettings": condition},
        ],
    }
    config["InputAttachments"].append({
        "InputAttachmentName": "backup", "InputId": backup_id,
        "InputSettings": {"AudioSelectors": [{"Name": "default"}]},
    })
    return config


def segment_after(media_url, seen, timeout=20):
    """The URL of the first segment newer than the segment named `seen` (and its name)."""
    def newer():
        seg_url, name = newest_segment(media_url)
        return name != seen and (seg_url, name)
    return wait_for(newer, timeout, interval=0.3, what=f"a segment after {seen}")


def luma_and_peak(seg_url):
    """(average luma YAVG, max_volume dB) of one segment, from ffmpeg's
    signalstats and volumedetect."""
    p = subprocess.run(
        ["ffmpeg", "-hide_banner", "-nostdin", "-i", seg_url,
         "-vf", "signalstats,metadata=print:key=lavfi.signalstats.YAVG", "-af", "volumedetect",
         "-f", "null", "-"],
        capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL,
    )
    assert p.returncode == 0, p.stderr[-2000:]
    yavg = [float(v) for v in re.findall(r"lavfi\.signalstats\.YAVG=([\d.]+)", p.stderr)]
    peak = re.search(r"max_volume: (-?[\d.]+|-inf) dB", p.stderr)
    assert yavg and peak, p.stderr[-2000:]
    return max(yavg), float(peak.group(1))


@needs_ffmpeg
def test_output_goes_on_through_input_loss_and_continues(server, ports, tmp_path):
    """The only encoder stops sending: the playlist keeps advancing with black,
    silent segments; it sends again: its tone returns, with no discontinuity."""
    from mediatools import Testsrc, tone_hz

    port = ports()
    camera = Testsrc(server.tmp, f"rtp://127.0.0.1:{port}", "--tone", 1000, name="camera", stdin=True,
                     popen=server.popen)
    config = channel_config(flow_input(server, "cam", port))
    config["EncoderSettings"]["GlobalConfiguration"] = {
        "InputLossBehavior": {"RepeatFrameMsec": 500, "BlackFrameMsec": 1000000},
    }
    cid, media_url = run_channel(server, tmp_path, config)
    first = wait_for(lambda: newest_segment(media_url), 25, interval=0.5, what="a first segment")[1]
    seg_url, name = segment_after(media_url, first)
    assert abs(tone_hz(seg_url, seconds=1.5) - 1000) < 60

    assert camera.say("stop").endswith("impairments: stop")
    # The segment being cut when the input went holds some of it; the two after it are fill.
    seg_url, name = segment_after(media_url, name, timeout=15)
    seg_url, name = segment_after(media_url, name, timeout=15)
    seg_url, name = segment_after(media_url, name, timeout=15)
    yavg, peak = luma_and_peak(seg_url)
    assert yavg <= 20, f"fill video is not black: YAVG {yavg}"
    assert peak <= -60, f"fill audio is not silent: max_volume {peak} dB"
    seg_url, name = segment_after(media_url, name, timeout=15)
    assert luma_and_peak(seg_url)[0] <= 20

    assert camera.say("start").endswith("impairments: none")

    def tone_back():
        seg_url, newest = newest_segment(media_url)
        return newest != name and abs(tone_hz(seg_url, seconds=1.5) - 1000) < 60
    wait_for(tone_back, 30, interval=0.5, what="the camera's tone in a new segment")
    status, body = get(media_url)
    assert status == 200
    # (#EXT-X-DISCONTINUITY-SEQUENCE in the header is fine: no tag between segments.)
    assert not re.search(r"^#EXT-X-DISCONTINUITY\s*$", body.decode(), re.MULTILINE), body.decode()


def failover_to_backup(server, ports, tmp_path, primary, condition):
    """Primary sends `primary` (video, audio sources), the backup testsrc2 and
    2000 Hz; with `condition`, the channel's segments end up carrying the
    backup's tone."""
    from mediatools import tone_hz

    ids = {}
    for name, (video, audio) in (("primary", primary),
                                 ("backup", ("testsrc2=size=640x360:rate=25", "sine=frequency=2000"))):
        port = ports()
        send(server, port, video=video, audio=audio, log_name=name)
        ids[name] = flow_input(server, name, port)
    config = with_backup(channel_config(ids["primary"]), ids["primary"], ids["backup"], condition)
    cid, media_url = run_channel(server, tmp_path, config)

    def active():
        return server.aws("medialive", "describe-channel", "--channel-id", cid)["PipelineDetails"][0][
            "ActiveInputAttachmentName"]

    wait_for(lambda: active() == "backup", 25, interval=0.5, what="the backup input to be active")
    first = wait_for(lambda: newest_segment(media_url), 25, interval=0.5, what="a first segment")[1]
    # The segment after the next holds only backup media.
    _, name = segment_after(media_url, first)

    def backup_tone():
        seg_url, newest = newest_segment(media_url)
        return newest != name and abs(tone_hz(seg_url, seconds=1.5) - 2000) < 100
    wait_for(backup_tone, 20, interval=0.5, what="the backup's tone in a new segment")
    assert active() == "backup"


@needs_ffmpeg
def test_black_primary_fails_over_to_the_backup(server, ports, tmp_path):
    failover_to_backup(
        server, ports, tmp_path, ("color=black:size=640x360:rate=25", "sine=frequency=1000"),
        {"VideoBlackSettings": {"BlackDetectThreshold": 0.1, "VideoBlackThresholdMsec": 1000}},
    )


@needs_ffmpeg
def test_silent_primary_fails_over_to_the_backup(server, ports, tmp_path):
    failover_to_backup(
        server, ports, tmp_path, ("testsrc2=size=640x360:rate=25", "anullsrc=r=48000:cl=stereo"),
        {"AudioSilenceSettings": {"AudioSelectorName": "default", "AudioSilenceThresholdMsec": 1000}},
    )
