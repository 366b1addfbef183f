"""Channel output groups other than MediaPackage, through the real aws CLI:
HLS pushed with HTTP PUT (here to an onair MediaPackage ingest endpoint, as a
MediaLive channel would push to MediaPackage v1), and TS over UDP / RTP with
SMPTE 2022-1 FEC, read back by ffmpeg."""
import json
import re

from conftest import medialive_role, needs_ffmpeg, wait_for
from mediatools import encoder, probe, read, rtp_url, udp_url
from test_channel import flow_input, get, start_channel

HLS = "PlaylistType=NONE,PlaylistWindowSeconds=30,SegmentDurationSeconds=2"


def video(name, width, height, bitrate):
    return {
        "Name": name, "Width": width, "Height": height,
        "CodecSettings": {"H264Settings": {
            "Bitrate": bitrate, "RateControlMode": "CBR", "FramerateControl": "SPECIFIED",
            "FramerateNumerator": 25, "FramerateDenominator": 1, "GopSize": 1,
            "GopSizeUnits": "SECONDS", "GopNumBFrames": 0, "Profile": "MAIN"}},
    }


def channel(input_id, destinations, groups, videos):
    return {
        "Name": "outputs", "ChannelClass": "SINGLE_PIPELINE",
        "InputAttachments": [{"InputAttachmentName": "camera", "InputId": input_id,
                              "InputSettings": {"AudioSelectors": [{"Name": "default"}]}}],
        "Destinations": destinations,
        "EncoderSettings": {
            "TimecodeConfig": {"Source": "SYSTEMCLOCK"},
            "AudioDescriptions": [{"Name": "audio", "AudioSelectorName": "default",
                                   "CodecSettings": {"AacSettings": {"Bitrate": 96000, "SampleRate": 48000}}}],
            "VideoDescriptions": videos,
            "OutputGroups": groups,
        },
    }


def camera_input(server, ports):
    port = ports()
    input_id = flow_input(server, "cam", port)
    encoder(server, f"rtp://127.0.0.1:{port}", log_name="camera")
    return input_id


@needs_ffmpeg
def test_hls_group_pushes_to_a_mediapackage_ingest_endpoint(server, ports, tmp_path):
    ingest = server.aws("mediapackage", "create-channel", "--id", "pushed")["HlsIngest"]["IngestEndpoints"][0]
    url = server.aws("mediapackage", "create-origin-endpoint", "--channel-id", "pushed",
                     "--id", "pushed-hls", "--hls-package", HLS)["Url"]
    config = channel(
        camera_input(server, ports),
        [{"Id": "hls", "Settings": [{"Url": ingest["Url"], "Username": ingest["Username"],
                                     "PasswordParam": ingest["Password"]}]}],
        [{"OutputGroupSettings": {"HlsGroupSettings": {
            "Destination": {"DestinationRefId": "hls"}, "SegmentLength": 2, "IndexNSegments": 5,
            "HlsCdnSettings": {"HlsBasicPutSettings": {"NumRetries": 2, "ConnectionRetryInterval": 1}}}},
          "Outputs": [
              {"OutputName": "hi", "VideoDescriptionName": "hi", "AudioDescriptionNames": ["audio"],
               "OutputSettings": {"HlsOutputSettings": {"NameModifier": "_hi", "HlsSettings": {
                   "StandardHlsSettings": {"M3u8Settings": {}}}}}},
              {"OutputName": "lo", "VideoDescriptionName": "lo", "AudioDescriptionNames": ["audio"],
               "OutputSettings": {"HlsOutputSettings": {"NameModifier": "_lo", "HlsSettings": {
                   "StandardHlsSettings": {"M3u8Settings": {}}}}}}]}],
        [video("hi", 480, 270, 700000), video("lo", 320, 180, 300000)],
    )
    # Pre-mixed audio description: signalled as audio_type 3 (visual impaired commentary).
    config["EncoderSettings"]["AudioDescriptions"][0]["CodecSettings"]["AacSettings"]["InputType"] = \
        "BROADCASTER_MIXED_AD"
    start_channel(server, tmp_path, config)

    def multivariant():
        status, body = get(url)
        return status == 200 and body.decode()

    try:
        text = wait_for(multivariant, 30, interval=0.5, what="the endpoint's multivariant playlist")
    except AssertionError as e:
        raise AssertionError(f"{e}\n{server.log_tail(60)}") from None
    assert "RESOLUTION=" in text, text
    streams = probe(url)
    sizes = {(s["width"], s["height"]) for s in streams if s["codec_type"] == "video"}
    assert (480, 270) in sizes or (320, 180) in sizes, streams
    audio = [s for s in streams if s["codec_type"] == "audio"]
    assert audio and all(s["codec_name"] == "aac" for s in audio), streams
    assert all(s["disposition"]["visual_impaired"] == 1 for s in audio), audio
    assert "output delivery problems" not in server.log_tail(200)


@needs_ffmpeg
def test_udp_group_sends_ts_and_rtp_with_fec(server, ports, tmp_path):
    udp_port, rtp_port = ports(), ports()
    config = channel(
        camera_input(server, ports),
        [{"Id": "udp", "Settings": [{"Url": f"udp://127.0.0.1:{udp_port}"}]},
         {"Id": "rtp", "Settings": [{"Url": f"rtp://127.0.0.1:{rtp_port}"}]}],
        [{"OutputGroupSettings": {"UdpGroupSettings": {}},
          "Outputs": [
              {"OutputName": "udp", "VideoDescriptionName": "v", "AudioDescriptionNames": ["audio"],
               "OutputSettings": {"UdpOutputSettings": {
                   "Destination": {"DestinationRefId": "udp"},
                   "ContainerSettings": {"M2tsSettings": {"ProgramNum": 3, "VideoPid": "0x100"}}}}},
              {"OutputName": "rtp", "VideoDescriptionName": "v", "AudioDescriptionNames": ["audio"],
               "OutputSettings": {"UdpOutputSettings": {
                   "Destination": {"DestinationRefId": "rtp"},
                   "ContainerSettings": {"M2tsSettings": {}},
                   "FecOutputSettings": {"ColumnDepth": 5, "RowLength": 5, "IncludeFec": "COLUMN_AND_ROW"}}}}]}],
        [video("v", 640, 360, 1000000)],
    )
    config["EncoderSettings"]["AudioDescriptions"][0].update(LanguageCode="spa", LanguageCodeControl="USE_CONFIGURED")
    start_channel(server, tmp_path, config)
    audio = [s for s in probe(udp_url(udp_port)) if s["codec_type"] == "audio"]
    assert [s.get("tags", {}).get("language") for s in audio] == ["spa"], audio
    for url in (udp_url(udp_port), rtp_url(rtp_port)):
        result = read(url, seconds=3)
        result.assert_clean_av()
        assert re.search(r"\[0x100\]|0x100", result.log) or url.startswith("rtp"), result.describe()


@needs_ffmpeg
def test_unimplemented_output_settings_are_refused_at_create(server, tmp_path):
    input_id = server.aws("medialive", "create-input", "--name", "push", "--type", "RTP_PUSH")["Input"]["Id"]
    config = channel(
        input_id,
        [{"Id": "udp", "Settings": [{"Url": "udp://127.0.0.1:9"}]}],
        [{"OutputGroupSettings": {"UdpGroupSettings": {}},
          "Outputs": [{"OutputName": "udp", "VideoDescriptionName": "v",
                       "OutputSettings": {"UdpOutputSettings": {
                           "Destination": {"DestinationRefId": "udp"}, "BufferMsec": 1000,
                           "ContainerSettings": {"M2tsSettings": {}}}}}]}],
        [video("v", 640, 360, 1000000)],
    )
    config["RoleArn"] = medialive_role(server)
    cfg = tmp_path / "channel.json"
    cfg.write_text(json.dumps(config))
    out = server.aws_run("medialive", "create-channel", "--cli-input-json", f"file://{cfg}")
    assert out.returncode != 0
    assert "bufferMsec" in out.stderr, out.stderr
