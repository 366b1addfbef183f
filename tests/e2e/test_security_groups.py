"""MediaLive input security groups and UpdateInput (issue 11) through the real
aws CLI and boto3.

A group allowing 127.0.0.1/32, an RTP_PUSH input restricted by it and a
channel on that input: the encoder on 127.0.0.1 plays (segments on the
MediaPackage endpoint) while datagrams from 127.0.0.2 are refused and
counted; the group changed to 10.0.0.0/8 under the running channel refuses
the encoder too (input loss), and changed back lets it in again — no
restart. The control plane: create / describe / list with paging / update /
delete, IN_USE while an input names the group, delete refused meanwhile,
UpdateInput attaching and detaching groups, and the errors boto3 raises.
"""

import socket
import time

import pytest

from conftest import medialive_role, needs_ffmpeg, wait_for
from mediatools import encoder
from test_channel import channel_config, run_channel
from test_healing import health, segments
from test_medialive import ml_model, unknown_members  # noqa: F401 - ml_model is a fixture


def create_group(server, *cidrs):
    rules = [f"Cidr={c}" for c in cidrs]
    return server.aws("medialive", "create-input-security-group", "--whitelist-rules", *rules)["SecurityGroup"]


def describe_group(server, gid):
    return server.aws("medialive", "describe-input-security-group", "--input-security-group-id", gid)


def test_groups_through_the_cli_and_boto3(server, ml_model):
    ml = server.client("medialive")
    g = server.aws("medialive", "create-input-security-group", "--whitelist-rules", "Cidr=127.0.0.1/32",
                   "--tags", "team=news")["SecurityGroup"]
    gid = g["Id"]
    assert g["Arn"].startswith(f"arn:aws:medialive:{server.region}:"), g
    assert g["Arn"].endswith(f":inputSecurityGroup:{gid}"), g
    assert (g["State"], g["Inputs"], g["WhitelistRules"], g["Tags"]) == (
        "IDLE", [], [{"Cidr": "127.0.0.1/32"}], {"team": "news"})
    assert unknown_members(ml_model, "InputSecurityGroup", g) == []
    d = describe_group(server, gid)
    assert unknown_members(ml_model, "DescribeInputSecurityGroupResponse", d) == []
    assert d["WhitelistRules"] == g["WhitelistRules"]

    # Paging: the CLI follows nextToken; boto3's paginator sees one group a page.
    others = [create_group(server, f"10.{i}.0.0/16")["Id"] for i in range(2)]
    listed = server.aws("medialive", "list-input-security-groups", "--page-size", "2")["InputSecurityGroups"]
    assert [x["Id"] for x in listed] == [gid, *others]
    pages = list(ml.get_paginator("list_input_security_groups").paginate(PaginationConfig={"PageSize": 1}))
    assert [len(p["InputSecurityGroups"]) for p in pages] == [1, 1, 1]

    # Errors name the member; boto3 raises the modeled exceptions.
    with pytest.raises(ml.exceptions.BadRequestException, match=r"whitelistRules\[1\]\.cidr"):
        ml.create_input_security_group(WhitelistRules=[{"Cidr": "10.0.0.0/8"}, {"Cidr": "10.0.0.300/8"}])
    with pytest.raises(ml.exceptions.BadRequestException, match="whitelistRules: .*(required|at least one)"):
        ml.create_input_security_group(WhitelistRules=[])
    with pytest.raises(ml.exceptions.BadRequestException, match="at most 10"):
        ml.create_input_security_group(WhitelistRules=[{"Cidr": f"10.{i}.0.0/16"} for i in range(11)])
    with pytest.raises(ml.exceptions.NotFoundException):
        ml.describe_input_security_group(InputSecurityGroupId="404")
    with pytest.raises(ml.exceptions.BadRequestException, match="no input security group 404"):
        ml.create_input(Name="x", Type="RTP_PUSH", InputSecurityGroups=["404"])
    with pytest.raises(ml.exceptions.BadRequestException, match="one input security group"):
        ml.create_input(Name="x", Type="RTP_PUSH", InputSecurityGroups=[gid, others[0]])

    # Update: the rules (IPv6 too) and the tags are replaced.
    u = ml.update_input_security_group(InputSecurityGroupId=gid,
                                       WhitelistRules=[{"Cidr": "127.0.0.0/8"}, {"Cidr": "2001:db8::/32"}])
    assert u["SecurityGroup"]["WhitelistRules"] == [{"Cidr": "127.0.0.0/8"}, {"Cidr": "2001:db8::/32"}]
    assert u["SecurityGroup"]["Tags"] == {"team": "news"}

    # A push input that names the group: IN_USE, and it cannot be deleted.
    inp = server.aws("medialive", "create-input", "--name", "push", "--type", "RTP_PUSH",
                     "--input-security-groups", gid)["Input"]
    assert inp["SecurityGroups"] == [gid]
    d = describe_group(server, gid)
    assert (d["State"], d["Inputs"]) == ("IN_USE", [inp["Id"]])
    p = server.aws_run("medialive", "delete-input-security-group", "--input-security-group-id", gid)
    assert p.returncode == 255 and "BadRequestException" in p.stderr and inp["Id"] in p.stderr, p.stderr
    with pytest.raises(ml.exceptions.BadRequestException, match="in use"):
        ml.delete_input_security_group(InputSecurityGroupId=gid)

    # UpdateInput moves the input to another group, then to none (open).
    moved = server.aws("medialive", "update-input", "--input-id", inp["Id"], "--name", "push-2",
                       "--input-security-groups", others[0])["Input"]
    assert (moved["Name"], moved["SecurityGroups"]) == ("push-2", [others[0]])
    assert describe_group(server, gid)["State"] == "IDLE"
    assert describe_group(server, others[0])["Inputs"] == [inp["Id"]]
    opened = ml.update_input(InputId=inp["Id"], InputSecurityGroups=[])["Input"]
    assert opened["SecurityGroups"] == []
    with pytest.raises(ml.exceptions.NotFoundException):
        ml.update_input(InputId="404", Name="x")
    with pytest.raises(ml.exceptions.BadRequestException, match="inputDevices"):
        ml.update_input(InputId=inp["Id"], InputDevices=[{"Id": "hd-1"}])

    # Delete: DELETED while still describable, no longer listed or attachable.
    assert server.aws("medialive", "delete-input-security-group", "--input-security-group-id", gid) in (None, {})
    assert describe_group(server, gid)["State"] == "DELETED"
    listed = server.aws("medialive", "list-input-security-groups")["InputSecurityGroups"]
    assert gid not in [x["Id"] for x in listed]
    with pytest.raises(ml.exceptions.BadRequestException, match="deleted"):
        ml.update_input(InputId=inp["Id"], InputSecurityGroups=[gid])
    with pytest.raises(ml.exceptions.NotFoundException):
        ml.delete_input_security_group(InputSecurityGroupId=gid)

    # Tags through the MediaLive tag operations.
    arn = describe_group(server, others[1])["Arn"]
    server.aws("medialive", "create-tags", "--resource-arn", arn, "--tags", "site=paris")
    assert server.aws("medialive", "list-tags-for-resource", "--resource-arn", arn)["Tags"] == {"site": "paris"}


def refused(server, cid):
    return health(server, cid)["inputs"][0]["refused"]


def send_from(address, port, count):
    """`count` datagrams of TS null packets to 127.0.0.1:port from `address`."""
    null = b"\x47\x1f\xff\x10" + b"\xff" * 184
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.bind((address, 0))
        for _ in range(count):
            s.sendto(null * 7, ("127.0.0.1", port))
    finally:
        s.close()


@needs_ffmpeg
def test_a_push_input_restricted_by_its_group(server, tmp_path):
    gid = create_group(server, "127.0.0.1/32")["Id"]
    inp = server.aws("medialive", "create-input", "--name", "camera-input", "--type", "RTP_PUSH",
                     "--input-security-groups", gid, "--role-arn", medialive_role(server))["Input"]
    port = int(inp["Destinations"][0]["Port"])
    encoder(server, f"rtp://127.0.0.1:{port}", log_name="camera")
    cid, media_url = run_channel(server, tmp_path, channel_config(inp["Id"]))
    wait_for(lambda: len(segments(media_url)) >= 2, 25, interval=0.5, what="segments of the admitted encoder")
    state = health(server, cid)["inputs"][0]
    assert (state["state"], state["refused"]) == ("CONNECTED", 0), state

    # Another sender on the same machine is refused and counted; the encoder plays on.
    send_from("127.0.0.2", port, 50)
    wait_for(lambda: refused(server, cid) >= 50, 5, what="50 refused datagrams in onairHealth")
    assert "refusing datagrams from 127.0.0.2" in server.log_tail(200)
    seen = len(segments(media_url))
    wait_for(lambda: len(segments(media_url)) > seen, 10, interval=0.5, what="a new segment")
    assert not health(server, cid)["inputLoss"]

    # The group now admits 10.0.0.0/8 only: the running channel refuses the encoder.
    server.aws("medialive", "update-input-security-group", "--input-security-group-id", gid,
               "--whitelist-rules", "Cidr=10.0.0.0/8")
    before = refused(server, cid)
    h = wait_for(lambda: (h := health(server, cid))["inputLoss"] and h["inputs"][0]["refused"] > before + 100 and h,
                 10, interval=0.3, what="input loss with the encoder refused")
    assert "refused" in h["inputs"][0].get("reason", ""), h
    assert "refusing datagrams from 127.0.0.1" in server.log_tail(200)
    assert server.aws("medialive", "describe-channel", "--channel-id", cid)["State"] == "RUNNING"

    # Back to 127.0.0.0/8: the encoder's picture returns, nothing more is refused.
    server.aws("medialive", "update-input-security-group", "--input-security-group-id", gid,
               "--whitelist-rules", "Cidr=127.0.0.0/8")
    wait_for(lambda: not health(server, cid)["inputLoss"], 15, interval=0.3, what="input loss to end")
    settled = refused(server, cid)
    time.sleep(1.5)
    assert refused(server, cid) == settled

    # The refusals are a metric too (onair's own name).
    now = time.time()
    stats = server.aws(
        "cloudwatch", "get-metric-statistics", "--namespace", "AWS/MediaLive",
        "--metric-name", "RefusedInputDatagrams", "--dimensions", f"Name=ChannelId,Value={cid}",
        "--start-time", str(int(now - 300)), "--end-time", str(int(now + 60)), "--period", "60",
        "--statistics", "Sum",
    )
    assert sum(p["Sum"] for p in stats["Datapoints"]) >= 100, stats

    # UpdateInput on the running channel's input: the group can go (open to
    # all), the name can change.
    server.aws("medialive", "update-input", "--input-id", inp["Id"], "--name", "camera-renamed")
    ml = server.client("medialive")
    assert ml.update_input(InputId=inp["Id"], InputSecurityGroups=[])["Input"]["SecurityGroups"] == []
    send_from("127.0.0.2", port, 20)
    time.sleep(1.0)
    assert refused(server, cid) == settled
    server.aws("medialive", "stop-channel", "--channel-id", cid)
    server.aws("medialive", "wait", "channel-stopped", "--channel-id", cid, timeout=30)
