"""The MediaPackage v1 API through the real aws CLI and boto3.

Recipe steps 4 (create-channel, ingest URL and credentials read back with
--query) and 8 (create-origin-endpoint with the recipe's HLS settings, its
URL read back), then the rest of the control plane: list with pagination,
update, credential rotation, delete (refused while endpoints remain), tags,
the modelled errors, and persistence across `kill -9`.

onair's URLs: ingest `{base}/in/v2/{channelId}/{ingestEndpointId}/channel`,
origin `{base}/out/v1/{channelId}/{endpointId}/{manifestName}.m3u8`.
"""

import re

import pytest

from conftest import ACCESS_KEY, REGION, SECRET_KEY, AwsCliError

RECIPE_HLS = (
    "AdMarkers=NONE,IncludeIframeOnlyStream=false,PlaylistType=EVENT,PlaylistWindowSeconds=60,"
    "ProgramDateTimeIntervalSeconds=0,SegmentDurationSeconds=6,"
    "StreamSelection={MaxVideoBitsPerSecond=2147483647,MinVideoBitsPerSecond=0,StreamOrder=ORIGINAL}"
)


def mp(server):
    import boto3
    from botocore.config import Config

    return boto3.client(
        "mediapackage", endpoint_url=server.endpoint, region_name=REGION, aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
        config=Config(retries={"max_attempts": 1, "mode": "standard"}, connect_timeout=5, read_timeout=30),
    )


def create_channel(server, cid, description="Live event broadcasting channel"):
    return server.aws("mediapackage", "create-channel", "--id", cid, "--description", description)


def create_endpoint(server, cid, eid=None, *extra):
    return server.aws("mediapackage", "create-origin-endpoint", "--channel-id", cid, "--id", eid or f"{cid}-hls",
                      "--description", "HLS endpoint for live event broadcasting", "--hls-package", RECIPE_HLS,
                      *extra)


def cli_error(server, *args):
    p = server.aws_run(*args)
    assert p.returncode == 255, f"expected a failure, got {p.returncode}: {p.stdout}"
    return p.stderr


def test_recipe_step_4_channel_with_ingest_endpoints(server):
    cid = "live-event-package-abc123"
    created = create_channel(server, cid)
    assert created["Id"] == cid
    assert created["Description"] == "Live event broadcasting channel"
    assert re.fullmatch(rf"arn:aws:mediapackage:{REGION}:\d{{12}}:channels/[0-9a-f]{{32}}", created["Arn"])
    assert created["CreatedAt"]

    arn = server.aws("mediapackage", "describe-channel", "--id", cid, "--query", "Arn")
    assert arn == created["Arn"]
    url = server.aws("mediapackage", "describe-channel", "--id", cid, "--query", "HlsIngest.IngestEndpoints[0].Url")
    user = server.aws("mediapackage", "describe-channel", "--id", cid,
                      "--query", "HlsIngest.IngestEndpoints[0].Username")
    password = server.aws("mediapackage", "describe-channel", "--id", cid,
                          "--query", "HlsIngest.IngestEndpoints[0].Password")
    # URLs point at the server the client is talking to.
    assert re.fullmatch(rf"{re.escape(server.endpoint)}/in/v2/{cid}/[0-9a-f]{{32}}/channel", url), url
    assert re.fullmatch(r"[0-9a-f]{32}", user)
    assert re.fullmatch(r"[A-Za-z0-9]{32}", password)

    eps = created["HlsIngest"]["IngestEndpoints"]
    assert len(eps) == 2
    assert eps[0]["Id"] != eps[1]["Id"] and eps[0]["Password"] != eps[1]["Password"]

    dup = cli_error(server, "mediapackage", "create-channel", "--id", cid)
    assert "UnprocessableEntityException" in dup and "already exists" in dup


def test_recipe_step_8_hls_origin_endpoint(server):
    cid = "live-event-package-abc123"
    create_channel(server, cid)
    ep = create_endpoint(server, cid)
    assert ep["ChannelId"] == cid and ep["Id"] == f"{cid}-hls"
    assert ep["ManifestName"] == "index"
    assert ep["Origination"] == "ALLOW"
    hls = ep["HlsPackage"]
    assert hls["AdMarkers"] == "NONE"
    assert hls["IncludeIframeOnlyStream"] is False
    assert hls["PlaylistType"] == "EVENT"
    assert hls["PlaylistWindowSeconds"] == 60
    assert hls["ProgramDateTimeIntervalSeconds"] == 0
    assert hls["SegmentDurationSeconds"] == 6
    assert hls["StreamSelection"] == {"MaxVideoBitsPerSecond": 2147483647, "MinVideoBitsPerSecond": 0,
                                      "StreamOrder": "ORIGINAL"}
    url = server.aws("mediapackage", "describe-origin-endpoint", "--id", f"{cid}-hls", "--query", "Url")
    assert url == f"{server.endpoint}/out/v1/{cid}/{cid}-hls/index.m3u8", url


def test_list_update_rotate_delete(server):
    for i in range(3):
        create_channel(server, f"pkg-{i}", description=f"channel {i}")
    # --page-size 1 makes the CLI follow nextToken page by page.
    listed = server.aws("mediapackage", "list-channels", "--page-size", "1")
    assert [c["Id"] for c in listed["Channels"]] == ["pkg-0", "pkg-1", "pkg-2"]

    create_endpoint(server, "pkg-0", "pkg-0-a")
    create_endpoint(server, "pkg-0", "pkg-0-b")
    create_endpoint(server, "pkg-1", "pkg-1-a")
    mine = server.aws("mediapackage", "list-origin-endpoints", "--channel-id", "pkg-0", "--page-size", "1")
    assert [e["Id"] for e in mine["OriginEndpoints"]] == ["pkg-0-a", "pkg-0-b"]
    assert len(server.aws("mediapackage", "list-origin-endpoints")["OriginEndpoints"]) == 3

    up = server.aws("mediapackage", "update-channel", "--id", "pkg-0", "--description", "renamed")
    assert up["Description"] == "renamed"
    assert server.aws("mediapackage", "describe-channel", "--id", "pkg-0")["Description"] == "renamed"

    before = server.aws("mediapackage", "describe-channel", "--id", "pkg-0")["HlsIngest"]["IngestEndpoints"]
    rotated = server.aws("mediapackage", "rotate-ingest-endpoint-credentials", "--id", "pkg-0",
                         "--ingest-endpoint-id", before[1]["Id"])["HlsIngest"]["IngestEndpoints"]
    assert rotated[0]["Password"] == before[0]["Password"]
    assert rotated[1]["Password"] != before[1]["Password"]
    assert rotated[1]["Username"] != before[1]["Username"]

    ep = server.aws("mediapackage", "update-origin-endpoint", "--id", "pkg-0-a", "--manifest-name", "main",
                    "--time-delay-seconds", "10", "--startover-window-seconds", "300",
                    "--whitelist", "10.0.0.0/8", "192.0.2.7/32")
    assert ep["Url"].endswith("/out/v1/pkg-0/pkg-0-a/main.m3u8")
    assert ep["TimeDelaySeconds"] == 10 and ep["StartoverWindowSeconds"] == 300
    assert ep["Whitelist"] == ["10.0.0.0/8", "192.0.2.7/32"]
    assert ep["HlsPackage"]["PlaylistType"] == "EVENT"  # untouched

    refused = cli_error(server, "mediapackage", "delete-channel", "--id", "pkg-0")
    assert "UnprocessableEntityException" in refused and "pkg-0-a" in refused
    assert server.aws("mediapackage", "delete-origin-endpoint", "--id", "pkg-0-a") in (None, {})
    assert server.aws("mediapackage", "delete-origin-endpoint", "--id", "pkg-0-b") in (None, {})
    assert server.aws("mediapackage", "delete-channel", "--id", "pkg-0") in (None, {})
    gone = cli_error(server, "mediapackage", "describe-channel", "--id", "pkg-0")
    assert "NotFoundException" in gone
    gone = cli_error(server, "mediapackage", "describe-origin-endpoint", "--id", "pkg-0-a")
    assert "NotFoundException" in gone


def test_tags_on_channels_and_endpoints(server):
    ch = server.aws("mediapackage", "create-channel", "--id", "tagged", "--tags", "Event=Awards,Tier=gold")
    assert ch["Tags"] == {"Event": "Awards", "Tier": "gold"}
    ep = create_endpoint(server, "tagged")
    for arn in (ch["Arn"], ep["Arn"]):
        server.aws("mediapackage", "tag-resource", "--resource-arn", arn, "--tags", "Owner=ops,Env=test")
        tags = server.aws("mediapackage", "list-tags-for-resource", "--resource-arn", arn)["Tags"]
        assert tags["Owner"] == "ops" and tags["Env"] == "test"
        server.aws("mediapackage", "untag-resource", "--resource-arn", arn, "--tag-keys", "Owner", "Env")
        tags = server.aws("mediapackage", "list-tags-for-resource", "--resource-arn", arn)["Tags"]
        assert "Owner" not in tags and "Env" not in tags
    assert server.aws("mediapackage", "describe-channel", "--id", "tagged")["Tags"] == {
        "Event": "Awards", "Tier": "gold"}
    missing = cli_error(server, "mediapackage", "list-tags-for-resource", "--resource-arn",
                        f"arn:aws:mediapackage:{REGION}:000000000000:channels/{'0' * 32}")
    assert "NotFoundException" in missing


def test_boto3_modelled_errors(server):
    c = mp(server)
    with pytest.raises(c.exceptions.NotFoundException):
        c.describe_channel(Id="nope")
    with pytest.raises(c.exceptions.NotFoundException):
        c.delete_origin_endpoint(Id="nope")
    c.create_channel(Id="errs")
    cases = [
        (dict(ChannelId="ghost", Id="e1", HlsPackage={}), "channelId"),
        (dict(ChannelId="errs", Id="e1", HlsPackage={}, Whitelist=["10.0.0.0/33"]), "whitelist[0]"),
        (dict(ChannelId="errs", Id="e1", DashPackage={"SegmentDurationSeconds": 2}), "dashPackage"),
        (dict(ChannelId="errs", Id="e1", HlsPackage={"AdMarkers": "SCTE35_ENHANCED"}), "hlsPackage.adMarkers"),
        (dict(ChannelId="errs", Id="e1", HlsPackage={"PlaylistType": "LIVE"}), "hlsPackage.playlistType"),
        (dict(ChannelId="errs", Id="e1", HlsPackage={"SegmentDurationSeconds": 0}),
         "hlsPackage.segmentDurationSeconds"),
        (dict(ChannelId="errs", Id="bad id", HlsPackage={}), "id"),
        (dict(ChannelId="errs", Id="e1"), "hlsPackage"),
    ]
    for kwargs, member in cases:
        with pytest.raises(c.exceptions.UnprocessableEntityException) as e:
            c.create_origin_endpoint(**kwargs)
        assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 422
        assert e.value.response["Error"]["Message"].startswith(f"{member}:"), (member, e.value.response["Error"])
    assert c.list_origin_endpoints()["OriginEndpoints"] == []


def test_unknown_member_is_refused_by_name(server):
    """botocore drops unknown parameters client-side, so send raw JSON."""
    import json
    import urllib.request

    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    body = json.dumps({"id": "raw", "colour": "red"})
    req = AWSRequest(method="POST", url=f"{server.endpoint}/channels", data=body,
                     headers={"Content-Type": "application/json"})
    SigV4Auth(Credentials(ACCESS_KEY, SECRET_KEY), "mediapackage", REGION).add_auth(req)
    r = urllib.request.Request(req.url, data=body.encode(), headers=dict(req.headers.items()), method="POST")
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(r, timeout=10)
    assert e.value.code == 422
    assert e.value.headers["x-amzn-ErrorType"] == "UnprocessableEntityException"
    assert json.loads(e.value.read()) == {"message": "colour: onair does not support this member"}


def test_survives_kill9(server):
    ch = create_channel(server, "durable")
    ep = create_endpoint(server, "durable")
    server.aws("mediapackage", "tag-resource", "--resource-arn", ep["Arn"], "--tags", "Keep=yes")
    server.restart(kill9=True)
    assert server.aws("mediapackage", "describe-channel", "--id", "durable") == ch
    after = server.aws("mediapackage", "describe-origin-endpoint", "--id", "durable-hls")
    assert after["Tags"] == {"Keep": "yes"}
    after.pop("Tags")
    ep.pop("Tags", None)
    assert after == ep
    with pytest.raises(AwsCliError):
        create_channel(server, "durable")
