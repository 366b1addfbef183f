"""CloudWatch Logs through the real aws CLI and boto3: the recipe's
create-log-group / delete-log-group, events in and out, pagination, errors,
durability across kill -9, and the sink that writes a flow's events to
`/aws/mediaconnect/{flowName}`."""

import json
import time

import pytest

from conftest import REGION, wait_for


def now_ms():
    return int(time.time() * 1000)


def cli_fails(server, code, *args):
    """Runs the CLI, expects exit 255 with `code`; returns stderr."""
    p = server.aws_run(*args)
    assert p.returncode == 255, f"exit {p.returncode}: {p.stdout}{p.stderr}"
    assert f"({code})" in p.stderr, p.stderr
    return p.stderr


def put(server, group, stream, messages, start=None):
    start = now_ms() if start is None else start
    events = [{"timestamp": start + i, "message": m} for i, m in enumerate(messages)]
    return server.aws("logs", "put-log-events", "--log-group-name", group, "--log-stream-name", stream,
                      "--log-events", json.dumps(events))


def test_recipe_create_and_delete_log_group(server):
    flow_name = "live-event-primary"
    group = f"/aws/mediaconnect/{flow_name}"
    assert server.aws("logs", "create-log-group", "--log-group-name", group) is None
    groups = server.aws("logs", "describe-log-groups", "--log-group-name-prefix", "/aws/mediaconnect/")["logGroups"]
    assert [g["logGroupName"] for g in groups] == [group]
    g = groups[0]
    arn = f"arn:aws:logs:{REGION}:"
    assert g["logGroupArn"].startswith(arn) and g["logGroupArn"].endswith(f":log-group:{group}"), g
    assert g["arn"] == g["logGroupArn"] + ":*"
    assert g["storedBytes"] == 0 and "retentionInDays" not in g
    assert abs(g["creationTime"] - now_ms()) < 60_000

    cli_fails(server, "ResourceAlreadyExistsException", "logs", "create-log-group", "--log-group-name", group)
    assert server.aws("logs", "delete-log-group", "--log-group-name", group) is None
    assert server.aws("logs", "describe-log-groups", "--log-group-name-prefix", "/aws/")["logGroups"] == []
    cli_fails(server, "ResourceNotFoundException", "logs", "delete-log-group", "--log-group-name", group)
    cli_fails(server, "InvalidParameterException", "logs", "create-log-group", "--log-group-name", "has space")


def test_events_in_and_out_with_cli_and_boto3(server):
    group, stream = "/app/events", "flow-a"
    server.aws("logs", "create-log-group", "--log-group-name", group)
    server.aws("logs", "create-log-stream", "--log-group-name", group, "--log-stream-name", stream)
    start = now_ms() - 1000
    out = put(server, group, stream, ["flow started", "source switched to b", "ERROR input lost", "flow stopped"],
              start=start)
    assert out["nextSequenceToken"] and "rejectedLogEventsInfo" not in out

    got = server.aws("logs", "get-log-events", "--log-group-name", group, "--log-stream-name", stream,
                     "--start-from-head")
    assert [e["message"] for e in got["events"]] == [
        "flow started", "source switched to b", "ERROR input lost", "flow stopped"]
    assert got["events"][0]["timestamp"] == start
    assert got["nextForwardToken"] and got["nextBackwardToken"]
    # At the end, the forward token comes back unchanged.
    again = server.aws("logs", "get-log-events", "--log-group-name", group, "--log-stream-name", stream,
                       "--start-from-head", "--next-token", got["nextForwardToken"])
    assert again["events"] == [] and again["nextForwardToken"] == got["nextForwardToken"]

    found = server.aws("logs", "filter-log-events", "--log-group-name", group, "--filter-pattern", "flow")
    assert [e["message"] for e in found["events"]] == ["flow started", "flow stopped"]
    assert all(e["logStreamName"] == stream and e["eventId"] for e in found["events"])
    phrase = server.aws("logs", "filter-log-events", "--log-group-name", group,
                        "--filter-pattern", '"switched to" -ERROR')
    assert [e["message"] for e in phrase["events"]] == ["source switched to b"]
    # The CLI pages on (one event a page) and never sees a token twice.
    paged = server.aws("logs", "filter-log-events", "--log-group-name", group, "--page-size", "1")
    assert len(paged["events"]) == 4

    logs = server.client("logs")
    resp = logs.filter_log_events(logGroupName=group, filterPattern="?ERROR ?stopped", startFromHead=False)
    assert [e["message"] for e in resp["events"]] == ["flow stopped", "ERROR input lost"]
    pages = logs.get_paginator("filter_log_events").paginate(logGroupName=group, PaginationConfig={"PageSize": 3})
    assert sum(len(p["events"]) for p in pages) == 4
    tail = logs.get_log_events(logGroupName=group, logStreamName=stream, limit=2)
    assert [e["message"] for e in tail["events"]] == ["ERROR input lost", "flow stopped"]
    window = logs.filter_log_events(logGroupName=group, startTime=start + 1, endTime=start + 2)
    assert [e["message"] for e in window["events"]] == ["source switched to b", "ERROR input lost"]

    # Events too far in the future are set aside by index; the rest is kept.
    out = logs.put_log_events(logGroupName=group, logStreamName=stream, logEvents=[
        {"timestamp": now_ms(), "message": "kept"},
        {"timestamp": now_ms() + 3 * 3600_000, "message": "from the future"},
    ])
    assert out["rejectedLogEventsInfo"] == {"tooNewLogEventStartIndex": 1}
    with pytest.raises(logs.exceptions.InvalidParameterException) as e:
        logs.put_log_events(logGroupName=group, logStreamName=stream, logEvents=[
            {"timestamp": now_ms(), "message": "b"}, {"timestamp": now_ms() - 5000, "message": "a"}])
    assert "chronological" in e.value.response["Error"]["Message"]

    streams = logs.describe_log_streams(logGroupName=group)["logStreams"]
    assert [s["logStreamName"] for s in streams] == [stream]
    assert streams[0]["lastEventTimestamp"] >= start + 3
    assert logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"][0]["storedBytes"] > 0


def test_describe_log_groups_by_prefix_and_page(server):
    names = [f"/onair-test/g{i}" for i in range(7)]
    for n in names:
        server.aws("logs", "create-log-group", "--log-group-name", n)
    server.aws("logs", "create-log-group", "--log-group-name", "/elsewhere")
    listed = server.aws("logs", "describe-log-groups", "--log-group-name-prefix", "/onair-test/",
                        "--page-size", "2")
    assert [g["logGroupName"] for g in listed["logGroups"]] == names

    logs = server.client("logs")
    first = logs.describe_log_groups(logGroupNamePrefix="/onair-test/", limit=3)
    assert len(first["logGroups"]) == 3 and first["nextToken"]
    rest = logs.describe_log_groups(logGroupNamePrefix="/onair-test/", limit=50, nextToken=first["nextToken"])
    assert [g["logGroupName"] for g in first["logGroups"] + rest["logGroups"]] == names
    assert "nextToken" not in rest
    everything = [g["logGroupName"] for p in logs.get_paginator("describe_log_groups").paginate(
        PaginationConfig={"PageSize": 1}) for g in p["logGroups"]]
    assert everything == sorted(names + ["/elsewhere"])


def test_retention_policy_and_validation(server):
    group = "/aws/mediaconnect/kept"
    server.aws("logs", "create-log-group", "--log-group-name", group)
    err = cli_fails(server, "InvalidParameterException", "logs", "put-retention-policy",
                    "--log-group-name", group, "--retention-in-days", "2")
    assert "retentionInDays" in err
    server.aws("logs", "put-retention-policy", "--log-group-name", group, "--retention-in-days", "30")
    g = server.aws("logs", "describe-log-groups", "--log-group-name-prefix", group)["logGroups"][0]
    assert g["retentionInDays"] == 30
    server.aws("logs", "delete-retention-policy", "--log-group-name", group)
    g = server.aws("logs", "describe-log-groups", "--log-group-name-prefix", group)["logGroups"][0]
    assert "retentionInDays" not in g

    logs = server.client("logs")
    with pytest.raises(logs.exceptions.InvalidParameterException) as e:
        logs.put_retention_policy(logGroupName=group, retentionInDays=4)
    assert "retentionInDays" in e.value.response["Error"]["Message"]
    with pytest.raises(logs.exceptions.InvalidParameterException) as e:
        logs.filter_log_events(logGroupName=group, filterPattern='{ $.level = "error" }')
    assert "filterPattern" in e.value.response["Error"]["Message"]


def test_missing_group_and_stream_are_resource_not_found(server):
    logs = server.client("logs")
    with pytest.raises(logs.exceptions.ResourceNotFoundException):
        logs.get_log_events(logGroupName="/nope", logStreamName="s")
    with pytest.raises(logs.exceptions.ResourceNotFoundException):
        logs.delete_log_group(logGroupName="/nope")
    with pytest.raises(logs.exceptions.ResourceNotFoundException):
        logs.put_retention_policy(logGroupName="/nope", retentionInDays=1)
    logs.create_log_group(logGroupName="/there")
    with pytest.raises(logs.exceptions.ResourceNotFoundException) as e:
        logs.put_log_events(logGroupName="/there", logStreamName="s",
                            logEvents=[{"timestamp": now_ms(), "message": "x"}])
    assert e.value.response["Error"]["Message"] == "The specified log stream does not exist."
    with pytest.raises(logs.exceptions.ResourceAlreadyExistsException):
        logs.create_log_group(logGroupName="/there")
    arn = logs.describe_log_groups(logGroupNamePrefix="/there")["logGroups"][0]["logGroupArn"]
    logs.tag_resource(resourceArn=arn, tags={"team": "news"})
    assert logs.list_tags_for_resource(resourceArn=arn)["tags"] == {"team": "news"}
    logs.untag_resource(resourceArn=arn, tagKeys=["team"])
    assert logs.list_tags_log_group(logGroupName="/there")["tags"] == {}


def test_groups_and_events_survive_kill9(server):
    group, stream = "/aws/mediaconnect/durable", "durable"
    server.aws("logs", "create-log-group", "--log-group-name", group)
    server.aws("logs", "put-retention-policy", "--log-group-name", group, "--retention-in-days", "7")
    server.aws("logs", "create-log-stream", "--log-group-name", group, "--log-stream-name", stream)
    put(server, group, stream, ["before the crash"])
    server.restart(kill9=True)
    g = server.aws("logs", "describe-log-groups", "--log-group-name-prefix", group)["logGroups"][0]
    assert g["retentionInDays"] == 7
    got = server.aws("logs", "get-log-events", "--log-group-name", group, "--log-stream-name", stream)
    assert [e["message"] for e in got["events"]] == ["before the crash"]


def test_a_started_flow_writes_to_its_recipe_log_group(server, ports):
    flow_name = "logged-flow"
    group = f"/aws/mediaconnect/{flow_name}"
    server.aws("logs", "create-log-group", "--log-group-name", group)
    mc = server.client()
    source = {"Name": "a", "Protocol": "rtp", "IngestPort": ports(), "WhitelistCidr": "127.0.0.0/8"}
    arn = mc.create_flow(Name=flow_name, Source=source)["Flow"]["FlowArn"]
    # A flow without a recipe group writes to the default group.
    other = mc.create_flow(Name="unlogged", Source=dict(source, IngestPort=ports()))["Flow"]["FlowArn"]
    mc.start_flow(FlowArn=arn)
    mc.start_flow(FlowArn=other)
    mc.get_waiter("flow_active").wait(FlowArn=arn, WaiterConfig={"Delay": 1, "MaxAttempts": 60})

    def events(pattern, where=group):
        return server.aws("logs", "filter-log-events", "--log-group-name", where,
                          "--filter-pattern", pattern)["events"]

    started = wait_for(lambda: events("started"), 30, what="a 'flow started' event")
    assert started[0]["logStreamName"] == flow_name
    assert started[0]["message"].startswith("flow started") and arn in started[0]["message"]
    default = wait_for(lambda: events("started", "/onair/events"), 30, what="the default group")
    assert default[0]["logStreamName"] == "mediaconnect/unlogged"
    assert server.aws("logs", "describe-log-groups", "--log-group-name-prefix", "/onair/events")[
        "logGroups"][0]["retentionInDays"] == 30

    mc.stop_flow(FlowArn=arn)
    stopped = wait_for(lambda: events("stopped"), 30, what="a 'flow stopped' event")
    assert stopped[0]["message"].startswith("flow stopped")
    streams = server.aws("logs", "describe-log-streams", "--log-group-name", group)["logStreams"]
    assert [s["logStreamName"] for s in streams] == [flow_name]
