"""The MediaLive control plane through the real aws CLI and boto3.

Inputs (RTP_PUSH, MEDIACONNECT), a channel built from recipe step 6 (with the
two fixes the real CLI needs: `SelectorSettings.VideoSelectorProgramId` and
`TimecodeConfig`, plus the automatic input failover the recipe intends), and
its lifecycle through the CLI's own waiters. No media flows here: the channel
engine starts with no input delivering and the channel is RUNNING anyway (as
on AWS, which reports input loss); test_channel.py carries media through.
Responses are checked against botocore's MediaLive model (tests/e2e/models/).
"""

import json
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from conftest import ACCESS_KEY, REGION, SECRET_KEY, medialive_role

MODEL_PATH = Path(__file__).resolve().parent / "models" / "medialive-2017-10-14.service-2.json"


@pytest.fixture(scope="module")
def ml_model():
    with open(MODEL_PATH) as f:
        return json.load(f)


def unknown_members(model, shape_name, value, path=""):
    """Members of a CLI/boto3 response (member names) the model lacks."""
    shape = model["shapes"][shape_name]
    out = []
    if shape["type"] == "structure" and isinstance(value, dict):
        for k, v in value.items():
            m = shape["members"].get(k)
            if m is None:
                out.append(f"{path}.{k}")
            else:
                out += unknown_members(model, m["shape"], v, f"{path}.{k}")
    elif shape["type"] == "list" and isinstance(value, list):
        for i, v in enumerate(value):
            out += unknown_members(model, shape["member"]["shape"], v, f"{path}[{i}]")
    elif shape["type"] == "map" and isinstance(value, dict):
        for k, v in value.items():
            out += unknown_members(model, shape["value"]["shape"], v, f"{path}.{k}")
    return out


def create_flow(server, name, port):
    return server.aws(
        "mediaconnect", "create-flow", "--name", name, "--availability-zone", f"{REGION}a",
        "--source", f"Name={name}-source,Protocol=rtp,IngestPort={port},WhitelistCidr=127.0.0.0/8",
    )["Flow"]["FlowArn"]


def selectors():
    return {
        "AudioSelectors": [{"Name": "default", "SelectorSettings": {"AudioPidSelection": {"Pid": 256}}}],
        "VideoSelector": {"SelectorSettings": {"VideoSelectorProgramId": {"ProgramId": 1}}},
    }


def channel_config(name, primary, backup, role_arn, video_description_name="video_720p30"):
    """Recipe step 6, fixed as issue 3 describes; `role_arn` names a role that
    exists (conftest.medialive_role)."""
    return {
        "Name": name,
        "RoleArn": role_arn,
        "InputAttachments": [
            {
                "InputAttachmentName": "primary-input",
                "InputId": primary,
                "InputSettings": selectors(),
                "AutomaticInputFailoverSettings": {
                    "SecondaryInputId": backup,
                    "InputPreference": "PRIMARY_INPUT_PREFERRED",
                    "ErrorClearTimeMsec": 3000,
                    "FailoverConditions": [
                        {"FailoverConditionSettings": {"InputLossSettings": {"InputLossThresholdMsec": 1000}}},
                    ],
                },
            },
            {"InputAttachmentName": "backup-input", "InputId": backup, "InputSettings": selectors()},
        ],
        "Destinations": [{"Id": "mediapackage-destination", "MediaPackageSettings": [{"ChannelId": "pkg-1"}]}],
        "EncoderSettings": {
            "TimecodeConfig": {"Source": "SYSTEMCLOCK"},
            "AudioDescriptions": [{
                "AudioSelectorName": "default",
                "CodecSettings": {"AacSettings": {
                    "Bitrate": 128000, "CodingMode": "CODING_MODE_2_0", "InputType": "BROADCASTER_MIXED_AD",
                    "Profile": "LC", "SampleRate": 48000}},
                "Name": "audio_1",
            }],
            "VideoDescriptions": [{
                "CodecSettings": {"H264Settings": {
                    "Bitrate": 2000000, "FramerateControl": "SPECIFIED", "FramerateDenominator": 1,
                    "FramerateNumerator": 30, "GopBReference": "DISABLED", "GopClosedCadence": 1,
                    "GopNumBFrames": 2, "GopSize": 90, "GopSizeUnits": "FRAMES", "Level": "H264_LEVEL_4_1",
                    "LookAheadRateControl": "MEDIUM", "MaxBitrate": 2000000, "NumRefFrames": 3,
                    "ParControl": "INITIALIZE_FROM_SOURCE", "Profile": "MAIN", "RateControlMode": "CBR",
                    "Syntax": "DEFAULT"}},
                "Height": 720, "Name": "video_720p30", "RespondToAfd": "NONE", "Sharpness": 50, "Width": 1280,
            }],
            "OutputGroups": [{
                "Name": "mediapackage-output-group",
                "OutputGroupSettings": {"MediaPackageGroupSettings": {
                    "Destination": {"DestinationRefId": "mediapackage-destination"}}},
                "Outputs": [{
                    "AudioDescriptionNames": ["audio_1"], "OutputName": "720p30",
                    "OutputSettings": {"MediaPackageOutputSettings": {}},
                    "VideoDescriptionName": video_description_name,
                }],
            }],
        },
        "InputSpecification": {"Codec": "AVC", "Resolution": "HD", "MaximumBitrate": "MAX_10_MBPS"},
    }


def medialive(server):
    import boto3
    from botocore.config import Config

    return boto3.client(
        "medialive", endpoint_url=server.endpoint, region_name=REGION, aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
        config=Config(retries={"max_attempts": 2, "mode": "standard"}, connect_timeout=5, read_timeout=30),
    )


def test_inputs_and_channel_lifecycle(server, ports, tmp_path, ml_model):
    flow_arn = create_flow(server, "live-primary", ports())
    role = medialive_role(server)

    mc = server.aws("medialive", "create-input", "--name", "live-primary-input", "--type", "MEDIACONNECT",
                    "--media-connect-flows", f"FlowArn={flow_arn}", "--role-arn", role)["Input"]
    assert mc["Type"] == "MEDIACONNECT" and mc["State"] == "DETACHED"
    assert mc["MediaConnectFlows"] == [{"FlowArn": flow_arn}]
    assert mc["RoleArn"] == role
    assert mc["Arn"].startswith(f"arn:aws:medialive:{REGION}:") and mc["Arn"].endswith(f":input:{mc['Id']}")
    assert mc["Id"].isdigit() and len(mc["Id"]) == 7

    rtp = server.aws("medialive", "create-input", "--name", "backup-input", "--type", "RTP_PUSH")["Input"]
    urls = [d["Url"] for d in rtp["Destinations"]]
    assert len(urls) == 2 and all(u.startswith("rtp://127.0.0.1:") for u in urls), urls
    assert len({d["Port"] for d in rtp["Destinations"]}) == 2

    # The recipe's way to find an input id.
    ids = server.aws("medialive", "list-inputs", "--query", "Inputs[?Name=='live-primary-input'].Id")
    assert ids == [mc["Id"]]
    assert unknown_members(ml_model, "Input", server.aws("medialive", "describe-input",
                                                          "--input-id", rtp["Id"])) == []

    cfg = tmp_path / "channel.json"
    cfg.write_text(json.dumps(channel_config("live-event", mc["Id"], rtp["Id"], role)))
    created = server.aws("medialive", "create-channel", "--cli-input-json", f"file://{cfg}")["Channel"]
    cid = created["Id"]
    assert created["State"] in ("CREATING", "IDLE")
    assert created["RoleArn"] == role

    server.aws("medialive", "wait", "channel-created", "--channel-id", cid, timeout=60)
    ch = server.aws("medialive", "describe-channel", "--channel-id", cid)
    assert ch["State"] == "IDLE"
    assert ch["EncoderSettings"]["VideoDescriptions"][0]["CodecSettings"]["H264Settings"]["Bitrate"] == 2000000
    assert ch["InputAttachments"][0]["AutomaticInputFailoverSettings"]["SecondaryInputId"] == rtp["Id"]
    assert unknown_members(ml_model, "DescribeChannelResponse", ch) == []
    listed = server.aws("medialive", "list-channels")["Channels"]
    assert unknown_members(ml_model, "ListChannelsResponse", {"Channels": listed}) == []
    assert unknown_members(ml_model, "ListInputsResponse", server.aws("medialive", "list-inputs")) == []
    assert [c["Id"] for c in listed] == [cid] and "EncoderSettings" not in listed[0]

    for inp in (mc, rtp):
        attached = server.aws("medialive", "describe-input", "--input-id", inp["Id"])
        assert attached["State"] == "ATTACHED" and attached["AttachedChannels"] == [cid]
    server.aws("medialive", "wait", "input-attached", "--input-id", rtp["Id"], timeout=60)

    p = server.aws_run("medialive", "delete-input", "--input-id", rtp["Id"])
    assert p.returncode != 0 and "ConflictException" in p.stderr, p.stderr

    started = server.aws("medialive", "start-channel", "--channel-id", cid)
    assert started["State"] in ("STARTING", "RUNNING")
    server.aws("medialive", "wait", "channel-running", "--channel-id", cid, timeout=60)
    running = server.aws("medialive", "describe-channel", "--channel-id", cid)
    assert running["State"] == "RUNNING"
    assert running["PipelineDetails"][0]["ActiveInputAttachmentName"] == "primary-input"

    # No updates while running.
    p = server.aws_run("medialive", "update-channel", "--channel-id", cid, "--name", "renamed")
    assert p.returncode != 0 and "ConflictException" in p.stderr, p.stderr

    server.aws("medialive", "stop-channel", "--channel-id", cid)
    server.aws("medialive", "wait", "channel-stopped", "--channel-id", cid, timeout=60)

    updated = server.aws("medialive", "update-channel", "--channel-id", cid, "--name", "renamed")["Channel"]
    assert updated["Name"] == "renamed" and updated["State"] == "IDLE"

    deleted = server.aws("medialive", "delete-channel", "--channel-id", cid)
    assert deleted["State"] in ("DELETING", "DELETED")
    server.aws("medialive", "wait", "channel-deleted", "--channel-id", cid, timeout=60)
    assert server.aws("medialive", "describe-channel", "--channel-id", cid)["State"] == "DELETED"

    server.aws("medialive", "wait", "input-detached", "--input-id", rtp["Id"], timeout=60)
    server.aws("medialive", "delete-input", "--input-id", rtp["Id"])
    server.aws("medialive", "wait", "input-deleted", "--input-id", rtp["Id"], timeout=60)
    assert [i["Id"] for i in server.aws("medialive", "list-inputs")["Inputs"]] == [mc["Id"]]


def test_unprocessable_channel_names_the_element(server):
    ml = medialive(server)
    role = medialive_role(server)
    a = ml.create_input(Name="a", Type="RTP_PUSH")["Input"]["Id"]
    b = ml.create_input(Name="b", Type="UDP_PUSH")["Input"]["Id"]
    assert ml.describe_input(InputId=b)["Destinations"][0]["Url"].startswith("udp://")

    with pytest.raises(ml.exceptions.UnprocessableEntityException) as e:
        ml.create_channel(**channel_config("bad", a, b, role, video_description_name="video_1080p"))
    err = e.value.response
    assert err["ResponseMetadata"]["HTTPStatusCode"] == 422
    assert err["ValidationErrors"] == [{
        "ElementPath": "encoderSettings.outputGroups[0].outputs[0].videoDescriptionName",
        "ErrorMessage": "no video description named 'video_1080p'",
    }], err

    cfg = channel_config("bad", a, "1234567", role)
    with pytest.raises(ml.exceptions.UnprocessableEntityException) as e:
        ml.create_channel(**cfg)
    paths = [v["ElementPath"] for v in e.value.response["ValidationErrors"]]
    assert paths == ["inputAttachments[1].inputId"], paths

    cfg = channel_config("bad", a, b, role)
    cfg["InputAttachments"][0]["AutomaticInputFailoverSettings"]["SecondaryInputId"] = a
    with pytest.raises(ml.exceptions.UnprocessableEntityException) as e:
        ml.create_channel(**cfg)
    paths = [v["ElementPath"] for v in e.value.response["ValidationErrors"]]
    assert paths == ["inputAttachments[0].automaticInputFailoverSettings.secondaryInputId"], paths

    cfg = channel_config("bad", a, b, role)
    cfg["EncoderSettings"]["VideoDescriptions"][0]["CodecSettings"]["H264Settings"]["Bitrate"] = 500
    with pytest.raises(ml.exceptions.UnprocessableEntityException) as e:
        ml.create_channel(**cfg)
    assert e.value.response["ValidationErrors"][0]["ElementPath"] == \
        "encoderSettings.videoDescriptions[0].codecSettings.h264Settings.bitrate"

    # Nothing was attached by the rejected requests.
    assert ml.describe_input(InputId=a)["State"] == "DETACHED"


def test_unknown_member_and_unsupported_type(server):
    ml = medialive(server)
    role = medialive_role(server)
    with pytest.raises(ClientError) as e:
        ml.create_input(Name="x", Type="RTMP_PULL")
    assert e.value.response["Error"]["Code"] == "BadRequestException"
    assert "RTMP_PULL" in e.value.response["Error"]["Message"]

    # The CLI refuses unknown members itself, so send the body by hand.
    a = ml.create_input(Name="a", Type="RTP_PUSH")["Input"]["Id"]
    b = ml.create_input(Name="b", Type="RTP_PUSH")["Input"]["Id"]

    def add_member(request, **_):
        body = json.loads(request.body)
        body["encoderSettings"]["videoDescriptions"][0]["turbo"] = True
        request.data = json.dumps(body).encode()
        request.headers["Content-Length"] = str(len(request.data))

    ml.meta.events.register("before-sign.medialive.CreateChannel", add_member)
    with pytest.raises(ml.exceptions.UnprocessableEntityException) as e:
        ml.create_channel(**channel_config("x", a, b, role))
    assert e.value.response["ValidationErrors"][0]["ElementPath"] == "encoderSettings.videoDescriptions[0].turbo"


def test_batch_start_stop_and_tags(server, tmp_path):
    ml = medialive(server)
    a = ml.create_input(Name="a", Type="RTP_PUSH")["Input"]["Id"]
    b = ml.create_input(Name="b", Type="RTP_PUSH")["Input"]["Id"]
    ch = ml.create_channel(**channel_config("batch", a, b, medialive_role(server)), Tags={"event": "awards"})["Channel"]
    ml.get_waiter("channel_created").wait(ChannelId=ch["Id"], WaiterConfig={"Delay": 1, "MaxAttempts": 10})

    out = ml.batch_start(ChannelIds=[ch["Id"], "7777777"])
    assert [s["Id"] for s in out["Successful"]] == [ch["Id"]]
    assert out["Failed"][0]["Id"] == "7777777" and out["Failed"][0]["Code"] == "NotFoundException"
    ml.get_waiter("channel_running").wait(ChannelId=ch["Id"], WaiterConfig={"Delay": 1, "MaxAttempts": 10})
    out = ml.batch_stop(ChannelIds=[ch["Id"]])
    assert out["Successful"][0]["State"] == "STOPPING" and out["Failed"] == []

    arn = ch["Arn"]
    assert ml.list_tags_for_resource(ResourceArn=arn)["Tags"] == {"event": "awards"}
    ml.create_tags(ResourceArn=arn, Tags={"tier": "gold"})
    ml.delete_tags(ResourceArn=arn, TagKeys=["event"])
    assert ml.list_tags_for_resource(ResourceArn=arn)["Tags"] == {"tier": "gold"}
    out = server.aws("medialive", "list-tags-for-resource", "--resource-arn", arn)
    assert out["Tags"] == {"tier": "gold"}

    page = ml.list_inputs(MaxResults=1)
    assert len(page["Inputs"]) == 1 and page["NextToken"]
    rest = ml.list_inputs(MaxResults=1, NextToken=page["NextToken"])
    assert len(rest["Inputs"]) == 1 and not rest.get("NextToken")

    with pytest.raises(ClientError) as e:
        ml.describe_channel(ChannelId="1111111")
    assert e.value.response["Error"]["Code"] == "NotFoundException"
