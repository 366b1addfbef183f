"""MediaPackage HLS ingest and origin with real peers.

A packaging channel and an HLS origin endpoint are made with the aws CLI;
ffmpeg pushes ~10 s of a test signal to the channel's ingest URL with
`-f hls -method PUT` and the ingest credentials as an `Authorization: Basic`
header (`-headers`): ffmpeg 5.1's HLS muxer does not turn URL userinfo into
Basic auth — it sends `Expect: 100-continue` without credentials, gets the
401 challenge and drops the upload while still exiting 0). The endpoint URL then serves
a multivariant playlist, a media playlist re-cut at the endpoint's segment
duration and TS segments that ffprobe decodes as H.264 + AAC.
"""

import base64
import os
import re
import subprocess
import urllib.error
import urllib.request

from conftest import needs_ffmpeg, wait_for
from mediatools import first_video_pts, video_frames

HLS = (
    "AdMarkers=NONE,IncludeIframeOnlyStream=false,PlaylistType=NONE,PlaylistWindowSeconds=12,"
    "ProgramDateTimeIntervalSeconds=0,SegmentDurationSeconds=2,"
    "StreamSelection={MaxVideoBitsPerSecond=2147483647,MinVideoBitsPerSecond=0,StreamOrder=ORIGINAL}"
)


def get(url, timeout=10, headers=None):
    """(status, headers, body) of a GET, whatever the status."""
    req = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


def put(url, body, auth=None):
    req = urllib.request.Request(url, data=body, method="PUT")
    if auth:
        req.add_header("Authorization", "Basic " + base64.b64encode(auth.encode()).decode())
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


def setup(server, cid, hls=HLS):
    ch = server.aws("mediapackage", "create-channel", "--id", cid)
    ingest = ch["HlsIngest"]["IngestEndpoints"][0]
    ep = server.aws("mediapackage", "create-origin-endpoint", "--channel-id", cid, "--id", f"{cid}-hls",
                    "--hls-package", hls)
    return ingest, ep["Url"]


def push_test_signal(server, ingest, seconds, realtime):
    """ffmpeg pushes `seconds` of a 640x360p25 test signal (IDR every 2 s) with a tone
    to the ingest endpoint as HLS over PUT, with the endpoint's credentials; waits
    for it to finish."""
    token = base64.b64encode(f"{ingest['Username']}:{ingest['Password']}".encode()).decode()
    enc = server.popen(
        ["ffmpeg", "-hide_banner", "-loglevel", "error", *(["-re"] if realtime else []),
         "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=25",
         "-f", "lavfi", "-i", "sine=frequency=1000:sample_rate=48000",
         "-t", str(seconds), "-c:v", "libx264", "-preset", "veryfast", "-g", "50", "-keyint_min", "50",
         "-sc_threshold", "0", "-pix_fmt", "yuv420p", "-c:a", "aac", "-ar", "48000",
         "-f", "hls", "-hls_time", "2", "-method", "PUT", "-headers", f"Authorization: Basic {token}\r\n",
         ingest["Url"] + ".m3u8"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    _, err = enc.communicate(timeout=60)
    assert enc.returncode == 0, f"ffmpeg failed: {err.decode(errors='replace')}\n{server.log_tail()}"


def check_media_playlist(text):
    assert text.startswith("#EXTM3U\n"), text
    target = int(re.search(r"#EXT-X-TARGETDURATION:(\d+)", text).group(1))
    assert re.search(r"#EXT-X-MEDIA-SEQUENCE:\d+", text), text
    extinfs = [float(x) for x in re.findall(r"#EXTINF:([\d.]+),", text)]
    assert extinfs, text
    assert all(round(d) <= target for d in extinfs), text
    return extinfs


@needs_ffmpeg
def test_ffmpeg_push_is_served_by_the_endpoint(server):
    ingest, url = setup(server, "live")
    base = url.rsplit("/", 1)[0]
    push_test_signal(server, ingest, seconds=10, realtime=True)

    status, headers, body = wait_for(lambda: (r := get(url))[0] == 200 and r, 10, what="the multivariant playlist")
    assert headers["Content-Type"] == "application/vnd.apple.mpegurl"
    assert re.fullmatch(r"max-age=\d+", headers["Cache-Control"]), headers["Cache-Control"]
    master = body.decode()
    assert master.startswith("#EXTM3U\n"), master
    inf = re.search(r"#EXT-X-STREAM-INF:(.*)\n(.*)\n", master)
    assert inf, master
    attrs, media_uri = inf.group(1), inf.group(2)
    assert re.search(r"(^|,)BANDWIDTH=\d+", attrs), attrs
    assert "AVERAGE-BANDWIDTH=" in attrs, attrs
    assert "RESOLUTION=640x360" in attrs, attrs
    assert re.search(r'CODECS="avc1\.[0-9A-F]{6},mp4a\.40\.2"', attrs), attrs
    assert media_uri == "index_1.m3u8", master

    status, headers, body = get(f"{base}/{media_uri}")
    assert status == 200
    assert headers["Content-Type"] == "application/vnd.apple.mpegurl"
    assert re.fullmatch(r"max-age=\d+", headers["Cache-Control"]), headers["Cache-Control"]
    media = body.decode()
    extinfs = check_media_playlist(media)
    # Re-cut at 2 s on the encoder's 2 s GOPs; the last GOP is flushed by EXT-X-ENDLIST.
    assert 8.0 <= sum(extinfs) <= 10.5, media
    segments = [l for l in media.splitlines() if l and not l.startswith("#")]
    assert all(re.fullmatch(r"index_1_\d+\.ts", s) for s in segments), media

    status, headers, body = get(f"{base}/{segments[-1]}")
    assert status == 200 and len(body) % 188 == 0 and body[0] == 0x47
    assert headers["Content-Type"] == "video/mp2t"
    assert headers["Cache-Control"] == "max-age=86400"
    assert get(f"{base}/index_1_999999.ts")[0] == 404

    probe = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "stream=codec_name,width,height,sample_rate",
         "-of", "csv=p=0", url], capture_output=True, text=True, timeout=60,
    )
    assert probe.returncode == 0, probe.stderr
    assert "h264,640,360" in probe.stdout, probe.stdout
    assert "aac,48000" in probe.stdout, probe.stdout


def test_wrong_credentials_are_refused_and_nothing_is_stored(server):
    ingest, url = setup(server, "guarded")
    seg_url = ingest["Url"].rsplit("/", 1)[0] + "/channel0.ts"
    ts = bytes([0x47]) + bytes(187)
    assert put(seg_url, ts) == 401
    assert put(seg_url, ts, auth=f"{ingest['Username']}:wrong") == 401
    assert put(seg_url, ts, auth=f"nobody:{ingest['Password']}") == 401
    other = ingest["Url"].replace("/guarded/", "/nochannel/").rsplit("/", 1)[0] + "/channel0.ts"
    assert put(other, ts, auth=f"{ingest['Username']}:{ingest['Password']}") == 401
    assert get(url)[0] == 404
    # The right credentials are accepted (an undecodable body yields no segment yet).
    assert put(seg_url, ts, auth=f"{ingest['Username']}:{ingest['Password']}") == 201
    assert get(url)[0] == 404


def test_unknown_endpoint_and_denied_origination(server):
    _, url = setup(server, "known")
    base = url.rsplit("/", 2)[0]
    assert get(f"{base}/known-nope/index.m3u8")[0] == 404
    assert get(url.replace("/known/", "/other/"))[0] == 404
    assert get(url.replace("index.m3u8", "other.m3u8"))[0] == 404
    server.aws("mediapackage", "update-origin-endpoint", "--id", "known-hls", "--origination", "DENY")
    assert get(url)[0] == 403
    server.aws("mediapackage", "update-origin-endpoint", "--id", "known-hls", "--origination", "ALLOW",
               "--whitelist", "10.0.0.0/8")
    assert get(url)[0] == 403
    server.aws("mediapackage", "update-origin-endpoint", "--id", "known-hls", "--whitelist", "127.0.0.0/8")
    assert get(url)[0] == 404  # allowed, but nothing ingested yet


def stream_infs(master):
    """[(attributes, uri)] of the EXT-X-STREAM-INF entries."""
    return re.findall(r"#EXT-X-STREAM-INF:(.*)\n(.*)\n", master)


def segment_uris(media):
    return [line for line in media.splitlines() if line and not line.startswith("#")]


@needs_ffmpeg
def test_two_variant_push_is_served_aligned_with_iframes(server, tmp_path):
    hls = HLS.replace("IncludeIframeOnlyStream=false", "IncludeIframeOnlyStream=true")
    ingest, url = setup(server, "abr", hls)
    base = url.rsplit("/", 1)[0]
    ingest_dir = ingest["Url"].rsplit("/", 1)[0]
    token = base64.b64encode(f"{ingest['Username']}:{ingest['Password']}".encode()).decode()
    enc = server.popen(
        ["ffmpeg", "-hide_banner", "-loglevel", "error", "-re",
         "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=25",
         "-f", "lavfi", "-i", "sine=frequency=1000:sample_rate=48000", "-t", "12",
         "-filter_complex", "[0:v]split=2[hi][lo0];[lo0]scale=320:180[lo]",
         "-map", "[hi]", "-map", "[lo]", "-map", "1:a", "-map", "1:a",
         "-c:v", "libx264", "-preset", "veryfast", "-g", "50", "-keyint_min", "50", "-sc_threshold", "0",
         "-pix_fmt", "yuv420p", "-b:v:0", "1200k", "-b:v:1", "150k", "-c:a", "aac", "-ar", "48000",
         "-f", "hls", "-hls_time", "2", "-method", "PUT", "-headers", f"Authorization: Basic {token}\r\n",
         "-var_stream_map", "v:0,a:0 v:1,a:1",
         "-hls_segment_filename", f"{ingest_dir}/channel_%v_%d.ts",
         f"{ingest_dir}/channel_%v.m3u8"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    _, err = enc.communicate(timeout=60)
    assert enc.returncode == 0, f"ffmpeg failed: {err.decode(errors='replace')}\n{server.log_tail()}"

    status, headers, body = wait_for(lambda: (r := get(url))[0] == 200 and r, 10, what="the multivariant playlist")
    master = body.decode()
    infs = stream_infs(master)
    assert [uri for _, uri in infs] == ["index_1.m3u8", "index_2.m3u8"], master
    for (attrs, _), size in zip(infs, ["640x360", "320x180"]):
        assert f"RESOLUTION={size}" in attrs, master
        assert re.search(r'CODECS="avc1\.[0-9A-F]{6},mp4a\.40\.2"', attrs), master
        assert "FRAME-RATE=25.000" in attrs, master
    iframes = re.findall(r'#EXT-X-I-FRAME-STREAM-INF:.*URI="(.*)"', master)
    assert iframes == ["index_1_iframe.m3u8", "index_2_iframe.m3u8"], master

    medias = [get(f"{base}/index_{n}.m3u8")[2].decode() for n in (1, 2)]
    for media in medias:
        check_media_playlist(media)
    seqs = [int(re.search(r"#EXT-X-MEDIA-SEQUENCE:(\d+)", m).group(1)) for m in medias]
    assert seqs[0] == seqs[1], medias
    segs = [segment_uris(m) for m in medias]
    assert len(segs[0]) == len(segs[1]) >= 4, medias
    assert re.findall(r"#EXTINF:([\d.]+)", medias[0]) == re.findall(r"#EXTINF:([\d.]+)", medias[1]), medias

    # Every segment decodes at its variant's size; segment N starts at the same PTS in both.
    for a, b in zip(segs[0], segs[1]):
        frames, w, h = video_frames(f"{base}/{a}")
        assert (w, h) == (640, 360) and frames > 0, a
        frames, w, h = video_frames(f"{base}/{b}")
        assert (w, h) == (320, 180) and frames > 0, b
        pa, pb = first_video_pts(f"{base}/{a}"), first_video_pts(f"{base}/{b}")
        assert abs(pa - pb) <= 0.04 + 1e-6, (a, pa, b, pb)

    # An I-frame playlist entry fetched with its byte range is exactly one picture.
    status, _, body = get(f"{base}/index_2_iframe.m3u8")
    assert status == 200
    text = body.decode()
    assert "#EXT-X-I-FRAMES-ONLY" in text and "#EXT-X-VERSION:4" in text, text
    length, offset = map(int, re.search(r"#EXT-X-BYTERANGE:(\d+)@(\d+)", text).group(1, 2))
    uri = segment_uris(text)[0]
    status, headers, part = get(f"{base}/{uri}", headers={"Range": f"bytes={offset}-{offset + length - 1}"})
    assert status == 206 and len(part) == length, (status, headers)
    assert headers["Content-Range"].startswith(f"bytes {offset}-{offset + length - 1}/"), headers
    iframe = tmp_path / "iframe.ts"
    iframe.write_bytes(part)
    assert video_frames(iframe) == (1, 320, 180)

    # ETag and If-None-Match, on a segment and a playlist; Range past the end.
    for path in (segs[0][0], "index_1.m3u8"):
        status, headers, body = get(f"{base}/{path}")
        etag = headers["ETag"]
        assert status == 200 and etag.startswith('"'), headers
        assert get(f"{base}/{path}", headers={"If-None-Match": etag})[0] == 304
    size = len(get(f"{base}/{segs[0][0]}")[2])
    status, headers, _ = get(f"{base}/{segs[0][0]}", headers={"Range": f"bytes={size}-"})
    assert status == 416 and headers["Content-Range"] == f"bytes */{size}", headers

    # streamSelection: filter by video bit rate, then order.
    def update(selection):
        package = hls.replace(
            "StreamSelection={MaxVideoBitsPerSecond=2147483647,MinVideoBitsPerSecond=0,StreamOrder=ORIGINAL}",
            f"StreamSelection={{{selection}}}")
        server.aws("mediapackage", "update-origin-endpoint", "--id", "abr-hls", "--hls-package", package)
        return [uri for _, uri in stream_infs(get(url)[2].decode())]

    assert update("MinVideoBitsPerSecond=500000") == ["index_1.m3u8"]
    assert update("MaxVideoBitsPerSecond=500000") == ["index_2.m3u8"]
    assert update("StreamOrder=VIDEO_BITRATE_ASCENDING") == ["index_2.m3u8", "index_1.m3u8"]
    assert update("StreamOrder=VIDEO_BITRATE_DESCENDING") == ["index_1.m3u8", "index_2.m3u8"]
    # The packaging did not restart: the same segments are still there.
    assert segment_uris(get(f"{base}/index_1.m3u8")[2].decode()) == segs[0]


def test_whitelist_reads_forwarded_for_only_from_trusted_proxies(server):
    _, url = setup(server, "proxied")
    server.aws("mediapackage", "update-origin-endpoint", "--id", "proxied-hls", "--whitelist", "203.0.113.0/24")
    # No trusted proxy (the default): the TCP peer (loopback) is the client and
    # X-Forwarded-For is ignored, whatever it says.
    assert get(url)[0] == 403
    assert get(url, headers={"X-Forwarded-For": "203.0.113.9"})[0] == 403

    # Behind a proxy on this host: its X-Forwarded-For is walked from the right.
    server.env["ONAIR_TRUSTED_PROXIES"] = "127.0.0.1,10.0.0.0/8"
    server.restart(kill9=False)
    assert get(url)[0] == 403  # no header: the proxy itself asked
    assert get(url, headers={"X-Forwarded-For": "203.0.113.9"})[0] == 404  # allowed; nothing ingested
    # nginx's $proxy_add_x_forwarded_for puts what the client claimed first and the
    # address it saw last: the claim does not count.
    assert get(url, headers={"X-Forwarded-For": "203.0.113.9, 198.51.100.1"})[0] == 403
    assert get(url, headers={"X-Forwarded-For": "198.51.100.1, 203.0.113.9"})[0] == 404
    # A second trusted hop is skipped; an entry that is not an address is nobody.
    assert get(url, headers={"X-Forwarded-For": "198.51.100.1, 203.0.113.9, 10.0.0.7"})[0] == 404
    assert get(url, headers={"X-Forwarded-For": "203.0.113.9, unknown"})[0] == 403
    server.aws("mediapackage", "update-origin-endpoint", "--id", "proxied-hls", "--whitelist", "127.0.0.0/8")
    # The forwarded address decides, not the proxy's.
    assert get(url, headers={"X-Forwarded-For": "203.0.113.9"})[0] == 403
    assert get(url)[0] == 404


def raw_exchange(port, data, responses, timeout=10):
    """Sends `data` on one new connection and reads `responses` HTTP responses:
    [(status, {lowercase name: value}, body)], then whether the server closed."""
    import socket

    def read_response(f, head_only):
        status_line = f.readline()
        if not status_line:
            return None
        status = int(status_line.split()[1])
        headers = {}
        while (line := f.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode().partition(":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0"))
        body = b"" if head_only or status == 304 else f.read(length)
        return status, headers, body

    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(data)
        f = s.makefile("rb")
        heads = [r.startswith(b"HEAD ") for r in data.split(b"\r\n\r\n") if r]
        out = [read_response(f, heads[i] if i < len(heads) else False) for i in range(responses)]
        s.settimeout(2)
        try:
            closed = f.read(1) == b""
        except OSError:
            closed = False
        return out, closed


@needs_ffmpeg
def test_the_short_path_and_hyper_answer_alike(server):
    """Origin GETs over HTTP/1.1 take onair's own short path (sendfile for segments);
    HTTP/1.0 is handed to hyper. Both must answer every origin request the same:
    status, headers (but Date and the request id) and bytes; keep-alive, pipelining,
    a hand-over in the middle of a connection and Connection: close must work."""
    # Segments go to unnamed files in the segment directory (--segment-dir).
    segment_dir = server.tmp / "segments"
    server.stop()
    server.env["ONAIR_SEGMENT_DIR"] = str(segment_dir)
    server.start()
    ingest, url = setup(server, "twopaths")
    push_test_signal(server, ingest, seconds=6, realtime=False)
    wait_for(lambda: get(url)[0] == 200, 10, what="the multivariant playlist")
    path = "/" + url.split("/", 3)[3]
    base = path.rsplit("/", 1)[0]
    media = get(url.rsplit("/", 1)[0] + "/index_1.m3u8")[2].decode()
    segment = f"{base}/{segment_uris(media)[0]}"
    port = server.port
    volatile = {"date", "x-amzn-requestid", "connection", "keep-alive"}

    def ask(version, method, target, extra=""):
        req = f"{method} {target} HTTP/{version}\r\nHost: 127.0.0.1\r\n{extra}\r\n".encode()
        if version == "1.1":
            req = req.replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n")
        (answer,), closed = raw_exchange(port, req, 1)
        assert closed, f"{version} {method} {target}: connection not closed"
        status, headers, body = answer
        return status, {k: v for k, v in headers.items() if k not in volatile}, body

    held = [os.readlink(f"/proc/{server.proc.pid}/fd/{fd}") for fd in os.listdir(f"/proc/{server.proc.pid}/fd")]
    in_dir = [link for link in held if link.startswith(str(segment_dir)) and link.endswith("(deleted)")]
    assert len(in_dir) >= 3, f"no segment files in {segment_dir}: {held}"
    assert list(segment_dir.iterdir()) == [], "segment files have no names"

    seg_full = ask("1.1", "GET", segment)
    assert seg_full[0] == 200 and len(seg_full[2]) > 10_000 and seg_full[2][0] == 0x47
    etag = seg_full[1]["etag"]
    cases = [("GET", t, "") for t in (segment, f"{base}/index_1.m3u8", path)]
    cases += [("HEAD", segment, ""), ("HEAD", path, "")]
    cases += [("GET", segment, f"Range: {r}\r\n")
              for r in ("bytes=100-299", "bytes=-50", "bytes=1000-", "bytes=99999999-", "bytes=1-2,5-6")]
    cases += [("GET", segment, f"If-None-Match: {etag}\r\n"), ("GET", segment, 'If-None-Match: "other"\r\n')]
    cases += [("GET", f"{base}/index_1_999999.ts", ""), ("GET", f"{base}/nothing.txt", "")]
    for method, target, extra in cases:
        short, hyper = ask("1.1", method, target, extra), ask("1.0", method, target, extra)
        assert short == hyper, f"{method} {target} {extra!r}:\nshort path {short[:2]}\nhyper {hyper[:2]}"
    assert ask("1.1", "GET", segment, "Range: bytes=100-299\r\n")[2] == seg_full[2][100:300]
    assert ask("1.1", "GET", segment, "Range: bytes=-50\r\n")[2] == seg_full[2][-50:]
    assert ask("1.1", "GET", segment, f"If-None-Match: {etag}\r\n")[0] == 304

    # Pipelined on one keep-alive connection: short path, a 404 (handed to hyper),
    # then hyper serves the rest of the connection.
    pipelined = b"".join(
        f"GET {t} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode()
        for t in (f"{base}/index_1.m3u8", segment, f"{base}/index_1_999999.ts", segment)
    ) + f"GET {base}/index_1.m3u8 HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode()
    answers, closed = raw_exchange(port, pipelined, 5)
    assert [a[0] for a in answers] == [200, 200, 404, 200, 200], [a[:2] for a in answers]
    assert answers[1][2] == seg_full[2] and answers[3][2] == seg_full[2]
    assert answers[0][2] == answers[4][2] and answers[0][2].startswith(b"#EXTM3U")
    assert closed
