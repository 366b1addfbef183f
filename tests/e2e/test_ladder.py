"""A 1080p/720p/480p/360p ladder in one MediaPackage output group, from a
1080p30 contribution: the endpoint's multivariant lists four variants, and
ffprobe checks each rendition's codec, profile, size, frame rate, audio, GOP
length and CBR bitrate (within 10 % over 30 s of packaged media)."""
import json
import re
import subprocess

from conftest import needs_ffmpeg, wait_for
from test_channel import flow_input, get, start_channel

FPS = 30
GOP_SECONDS = 2
RUNGS = [  # name, width, height, bitrate, profile
    ("1080p", 1920, 1080, 4_000_000, "HIGH"),
    ("720p", 1280, 720, 2_500_000, "MAIN"),
    ("480p", 854, 480, 1_200_000, "MAIN"),
    ("360p", 640, 360, 700_000, "MAIN"),
]
FFPROBE_PROFILE = {"HIGH": "High", "MAIN": "Main"}
HLS = "PlaylistType=NONE,PlaylistWindowSeconds=60,SegmentDurationSeconds=6"


def ffprobe_json(*args, timeout=60):
    p = subprocess.run(["ffprobe", "-v", "error", "-of", "json", *args], capture_output=True, text=True,
                       timeout=timeout, stdin=subprocess.DEVNULL)
    assert p.returncode == 0, p.stderr[-2000:]
    return json.loads(p.stdout)


def contribution(server, tmp_path, port):
    """A 1080p30 H.264 + AAC clip, encoded once, then sent in real time in a
    loop (stream copy, so the test machine spends its CPU on the channel)."""
    clip = tmp_path / "clip.ts"
    subprocess.run(
        ["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error",
         "-f", "lavfi", "-i", f"testsrc2=size=1920x1080:rate={FPS}", "-f", "lavfi", "-i", "sine=frequency=1000",
         "-t", "12", "-c:v", "libx264", "-preset", "ultrafast", "-g", str(FPS), "-b:v", "8M",
         "-c:a", "aac", "-ar", "48000", "-ac", "2", "-f", "mpegts", str(clip)],
        check=True, timeout=120,
    )
    log = open(server.tmp / "contribution.log", "ab")
    server.popen(["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "warning", "-re", "-stream_loop", "-1",
                  "-i", str(clip), "-c", "copy", "-f", "rtp_mpegts", f"rtp://127.0.0.1:{port}"],
                 stdout=log, stderr=subprocess.STDOUT)


def ladder_channel(input_id):
    videos = [{
        "Name": name, "Width": w, "Height": h,
        "CodecSettings": {"H264Settings": {
            "Bitrate": rate, "RateControlMode": "CBR", "BufSize": rate * 2, "FramerateControl": "SPECIFIED",
            "FramerateNumerator": FPS, "FramerateDenominator": 1, "GopSize": GOP_SECONDS,
            "GopSizeUnits": "SECONDS", "GopNumBFrames": 2, "Profile": profile}},
    } for name, w, h, rate, profile in RUNGS]
    return {
        "Name": "ladder", "ChannelClass": "SINGLE_PIPELINE",
        "InputAttachments": [{"InputAttachmentName": "camera", "InputId": input_id,
                              "InputSettings": {"AudioSelectors": [{"Name": "default"}]}}],
        "Destinations": [{"Id": "mp", "MediaPackageSettings": [{"ChannelId": "ladder-pkg"}]}],
        "EncoderSettings": {
            "TimecodeConfig": {"Source": "SYSTEMCLOCK"},
            "AudioDescriptions": [{"Name": "audio", "AudioSelectorName": "default", "CodecSettings": {
                "AacSettings": {"Bitrate": 128000, "SampleRate": 48000, "CodingMode": "CODING_MODE_2_0",
                                "Profile": "LC"}}}],
            "VideoDescriptions": videos,
            "OutputGroups": [{
                "OutputGroupSettings": {"MediaPackageGroupSettings": {"Destination": {"DestinationRefId": "mp"}}},
                "Outputs": [{"OutputName": name, "VideoDescriptionName": name, "AudioDescriptionNames": ["audio"],
                             "OutputSettings": {"MediaPackageOutputSettings": {}}} for name, *_ in RUNGS],
            }],
        },
    }


@needs_ffmpeg
def test_four_rung_ladder_in_one_output_group(server, ports, tmp_path):
    port = ports()
    input_id = flow_input(server, "cam", port)
    contribution(server, tmp_path, port)
    server.aws("mediapackage", "create-channel", "--id", "ladder-pkg")
    url = server.aws("mediapackage", "create-origin-endpoint", "--channel-id", "ladder-pkg",
                     "--id", "ladder-hls", "--hls-package", HLS)["Url"]
    start_channel(server, tmp_path, ladder_channel(input_id))
    base = url.rsplit("/", 1)[0]

    def variants():
        status, body = get(url)
        text = body.decode(errors="replace") if status == 200 else ""
        entries = re.findall(r"#EXT-X-STREAM-INF:([^\n]*)\n([^\n]+)", text)
        return len(entries) == len(RUNGS) and entries

    entries = wait_for(variants, 60, interval=1, what="four variants in the multivariant playlist")
    by_resolution = {}
    for attrs, uri in entries:
        res = re.search(r"RESOLUTION=(\d+)x(\d+)", attrs)
        assert res and "CODECS=" in attrs and "FRAME-RATE=30.000" in attrs, attrs
        by_resolution[(int(res.group(1)), int(res.group(2)))] = f"{base}/{uri}"
    assert set(by_resolution) == {(w, h) for _, w, h, *_ in RUNGS}, entries

    # 30 s of packaged media in every rendition (6 s segments).
    def segments(media_url):
        status, body = get(media_url)
        names = re.findall(r"^[^#\s].*\.ts$", body.decode(errors="replace"), re.MULTILINE) if status == 200 else []
        return names if len(names) >= 6 else None

    for name, w, h, rate, profile in RUNGS:
        media_url = by_resolution[(w, h)]
        names = wait_for(lambda: segments(media_url), 90, interval=2, what=f"30 s of {name} segments")
        first = f"{base}/{names[-5]}"
        streams = ffprobe_json("-show_streams", first)["streams"]
        video = next(s for s in streams if s["codec_type"] == "video")
        audio = next(s for s in streams if s["codec_type"] == "audio")
        assert (video["codec_name"], video["width"], video["height"]) == ("h264", w, h), video
        assert video["profile"] == FFPROBE_PROFILE[profile], video
        assert video["avg_frame_rate"] in ("30/1", "30000/1000"), video
        assert (audio["codec_name"], audio["profile"], int(audio["sample_rate"]), audio["channels"]) == \
            ("aac", "LC", 48000, 2), audio

        # GOP: key frames exactly every GOP_SECONDS * FPS frames.
        frames = ffprobe_json("-select_streams", "v", "-show_entries", "frame=key_frame,pict_type", first)["frames"]
        keys = [i for i, f in enumerate(frames) if f["key_frame"] == 1]
        assert keys and keys[0] == 0, keys
        assert all(b - a == GOP_SECONDS * FPS for a, b in zip(keys, keys[1:])), keys

        # CBR: video bytes over the last five segments (30 s) within 10 % of the bitrate.
        total_bytes, total_seconds = 0, 0.0
        for seg in names[-5:]:
            packets = ffprobe_json("-select_streams", "v", "-show_entries", "packet=size,duration_time",
                                   f"{base}/{seg}")["packets"]
            total_bytes += sum(int(p["size"]) for p in packets)
            total_seconds += len(packets) / FPS
        measured = total_bytes * 8 / total_seconds
        assert abs(measured - rate) <= 0.10 * rate, f"{name}: {measured:.0f} b/s over {total_seconds:.1f} s, " \
                                                    f"target {rate}"
