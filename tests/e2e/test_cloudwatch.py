"""CloudWatch against a real `onair serve`: engine metrics with AWS names,
alarms that behave as CloudWatch's, the recipe's monitoring steps, through
the real aws CLI and boto3."""

import gzip
import json
import time

import pytest

from conftest import REGION, needs_ffmpeg, wait_for
from mediatools import Relay, encoder, rtp_url


def flow(server, name, port):
    f = server.aws(
        "mediaconnect", "create-flow", "--name", name, "--availability-zone", f"{REGION}a",
        "--source", f"Name={name}-src,Protocol=rtp,IngestPort={port},WhitelistCidr=127.0.0.0/8",
    )["Flow"]
    server.aws("mediaconnect", "start-flow", "--flow-arn", f["FlowArn"])
    mc = server.client()
    wait_for(lambda: mc.describe_flow(FlowArn=f["FlowArn"])["Flow"]["Status"] == "ACTIVE", 20,
             what="the flow to be ACTIVE")
    return f


def alarm_state(cw, name):
    alarms = cw.describe_alarms(AlarmNames=[name])["MetricAlarms"]
    return alarms[0]["StateValue"] if alarms else None


@needs_ffmpeg
def test_a_bitrate_alarm_fires_within_30s_of_the_encoder_dying_and_clears(server, ports):
    """The issue's acceptance: SourceBitRate, Period 10, EvaluationPeriods 1,
    LessThanThreshold goes to ALARM within 30 s of the encoder being killed
    and back to OK after it returns; get-metric-statistics returns the bit
    rate the encoder sends (within 10 %)."""
    port, relay_port = ports(), ports()
    f = flow(server, "cw-primary", port)
    arn = f["FlowArn"]
    relay = Relay(relay_port, [port])
    try:
        enc = encoder(server, rtp_url(relay_port), log_name="cw-encoder")
        cw = server.client("cloudwatch")
        server.aws(
            "cloudwatch", "put-metric-alarm", "--alarm-name", "cw-primary-bitrate",
            "--namespace", "AWS/MediaConnect", "--metric-name", "SourceBitRate",
            "--dimensions", f"Name=FlowARN,Value={arn}", "--statistic", "Average",
            "--period", "10", "--evaluation-periods", "1", "--threshold", "100000",
            "--comparison-operator", "LessThanThreshold",
        )
        assert alarm_state(cw, "cw-primary-bitrate") == "INSUFFICIENT_DATA"
        server.aws("cloudwatch", "wait", "alarm-exists", "--alarm-names", "cw-primary-bitrate")
        wait_for(lambda: alarm_state(cw, "cw-primary-bitrate") == "OK", 40, interval=1,
                 what="the alarm to go OK while the encoder sends")

        # The bit rate the encoder sends, measured on the wire by the relay,
        # against what CloudWatch reports for the same 20 seconds.
        time.sleep(1.5)
        b0, t0 = relay.received_bytes, time.time()
        time.sleep(20)
        b1, t1 = relay.received_bytes, time.time()
        sent_bps = (b1 - b0) * 8 / (t1 - t0)
        time.sleep(2.5)  # the last second's datapoint is in
        start, end = int(t0) + 1, int(t1)
        stats = server.aws(
            "cloudwatch", "get-metric-statistics", "--namespace", "AWS/MediaConnect",
            "--metric-name", "SourceBitRate", "--dimensions", f"Name=FlowARN,Value={arn}",
            "--start-time", str(start), "--end-time", str(end), "--period", "60",
            "--statistics", "Average", "SampleCount", "Maximum",
        )
        points = stats["Datapoints"]
        assert points, stats
        total = sum(p["SampleCount"] for p in points)
        average = sum(p["Average"] * p["SampleCount"] for p in points) / total
        assert total >= end - start - 2, stats
        assert abs(average - sent_bps) / sent_bps < 0.10, (average, sent_bps, stats)
        assert points[0]["Unit"] == "Bits/Second"

        # Kill the encoder: ALARM within 30 s.
        server.kill_child(enc)
        killed = time.monotonic()
        wait_for(lambda: alarm_state(cw, "cw-primary-bitrate") == "ALARM", 30, interval=0.5,
                 what="the alarm to go to ALARM within 30 s of the encoder dying")
        took = time.monotonic() - killed
        alarm = cw.describe_alarms(AlarmNames=["cw-primary-bitrate"])["MetricAlarms"][0]
        assert alarm["StateReason"].startswith("Threshold Crossed: 1 datapoint [0.0 ("), alarm
        reason_data = json.loads(alarm["StateReasonData"])
        assert reason_data["threshold"] == 100000.0 and reason_data["period"] == 10
        print(f"ALARM {took:.1f} s after the encoder was killed")

        # It comes back: OK again.
        encoder(server, rtp_url(relay_port), log_name="cw-encoder-2")
        wait_for(lambda: alarm_state(cw, "cw-primary-bitrate") == "OK", 40, interval=0.5,
                 what="the alarm to return to OK after the encoder is back")

        history = cw.describe_alarm_history(AlarmName="cw-primary-bitrate",
                                            HistoryItemType="StateUpdate")["AlarmHistoryItems"]
        summaries = [h["HistorySummary"] for h in history]
        assert summaries[:3] == ["Alarm updated from ALARM to OK", "Alarm updated from OK to ALARM",
                                 "Alarm updated from INSUFFICIENT_DATA to OK"], summaries
        # The alarm and its state survive kill -9.
        server.restart(kill9=True)
        cw = server.client("cloudwatch")
        assert alarm_state(cw, "cw-primary-bitrate") == "OK"
    finally:
        relay.close()


@needs_ffmpeg
def test_the_recipe_monitoring_steps(server, ports):
    """Recipe step 9 (two alarms, one on the SourceConnectionErrors/FlowName
    pair AWS does not publish), validation 3 (get-metric-statistics with the
    FlowName dimension and a 300 s period) and validation 5 (the alarm table)."""
    port = ports()
    name = "live-primary-flow"
    f = flow(server, name, port)
    encoder(server, rtp_url(port), log_name="recipe-encoder")
    channel_name = "live-channel"
    server.aws(
        "cloudwatch", "put-metric-alarm", "--alarm-name", f"{name}-source-errors",
        "--alarm-description", "Alert on MediaConnect primary flow source errors",
        "--metric-name", "SourceConnectionErrors", "--namespace", "AWS/MediaConnect",
        "--statistic", "Sum", "--period", "300", "--threshold", "1",
        "--comparison-operator", "GreaterThanOrEqualToThreshold", "--evaluation-periods", "1",
        "--dimensions", f"Name=FlowName,Value={name}",
    )
    server.aws(
        "cloudwatch", "put-metric-alarm", "--alarm-name", f"{channel_name}-input-errors",
        "--alarm-description", "Alert on MediaLive channel input errors",
        "--metric-name", "InputVideoFrameRate", "--namespace", "AWS/MediaLive",
        "--statistic", "Average", "--period", "300", "--threshold", "1",
        "--comparison-operator", "LessThanThreshold", "--evaluation-periods", "2",
        "--dimensions", "Name=ChannelId,Value=1234567",
    )
    mc = server.client()
    wait_for(lambda: mc.describe_flow(FlowArn=f["FlowArn"])["Flow"]["Status"] == "ACTIVE", 20)
    time.sleep(6)
    now = time.time()
    stats = server.aws(
        "cloudwatch", "get-metric-statistics", "--namespace", "AWS/MediaConnect",
        "--metric-name", "SourceBitRate", "--dimensions", f"Name=FlowName,Value={name}",
        "--start-time", time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now - 300)),
        "--end-time", time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)),
        "--period", "300", "--statistics", "Average",
    )
    assert stats["Label"] == "SourceBitRate"
    assert len(stats["Datapoints"]) >= 1, stats
    assert stats["Datapoints"][0]["Average"] > 100_000, stats
    table = server.aws_run(
        "cloudwatch", "describe-alarms", "--alarm-names", f"{name}-source-errors",
        f"{channel_name}-input-errors", "--query", "MetricAlarms[*].[AlarmName,StateValue]",
        "--output", "table",
    )
    assert table.returncode == 0, table.stderr
    assert f"{name}-source-errors" in table.stdout and f"{channel_name}-input-errors" in table.stdout
    assert "INSUFFICIENT_DATA" in table.stdout
    # ListMetrics shows the AWS names with their dimensions.
    listed = server.client("cloudwatch").list_metrics(
        Namespace="AWS/MediaConnect", Dimensions=[{"Name": "FlowARN", "Value": f["FlowArn"]}])
    names = {m["MetricName"] for m in listed["Metrics"]}
    for want in ("SourceBitRate", "SourceTotalPackets", "SourceNotRecoveredPackets",
                 "SourceContinuityCounter", "SourcePATError", "SourceConnected", "ConnectedOutputs"):
        assert want in names, names
    server.aws("cloudwatch", "delete-alarms", "--alarm-names", f"{name}-source-errors",
               f"{channel_name}-input-errors")
    assert server.aws("cloudwatch", "describe-alarms")["MetricAlarms"] == []


def test_put_metric_data_and_errors_as_boto3_expects(server):
    cw = server.client("cloudwatch")
    now = time.time()
    cw.put_metric_data(Namespace="Studio/Encoders", MetricData=[
        {"MetricName": "Temperature", "Dimensions": [{"Name": "Rack", "Value": "A"}],
         "Value": 41.5, "Unit": "None", "Timestamp": now - 30},
        {"MetricName": "Temperature", "Dimensions": [{"Name": "Rack", "Value": "A"}],
         "StatisticValues": {"SampleCount": 3, "Sum": 129, "Minimum": 42, "Maximum": 44},
         "Timestamp": now - 20},
        {"MetricName": "Temperature", "Dimensions": [{"Name": "Rack", "Value": "A"}],
         "Values": [40, 50], "Counts": [1, 2], "Timestamp": now - 10},
    ])
    # 150 datums: the CLI and boto3 gzip a body this large.
    cw.put_metric_data(Namespace="Studio/Encoders", MetricData=[
        {"MetricName": "Fan", "Dimensions": [{"Name": "Unit", "Value": str(i)}], "Value": float(i),
         "Timestamp": now - 5} for i in range(150)
    ])
    stats = cw.get_metric_statistics(
        Namespace="Studio/Encoders", MetricName="Temperature", Dimensions=[{"Name": "Rack", "Value": "A"}],
        StartTime=now - 600, EndTime=now + 60, Period=600,
        Statistics=["SampleCount", "Sum", "Minimum", "Maximum", "Average"], ExtendedStatistics=["p50"])
    (point,) = stats["Datapoints"]
    assert point["SampleCount"] == 7
    assert point["Sum"] == 41.5 + 129 + 40 + 100
    assert (point["Minimum"], point["Maximum"]) == (40, 50)
    assert "p50" in point["ExtendedStatistics"]
    fans = cw.list_metrics(Namespace="Studio/Encoders", MetricName="Fan")
    assert len(fans["Metrics"]) == 150

    data = cw.get_metric_data(
        MetricDataQueries=[{"Id": "t", "MetricStat": {"Metric": {
            "Namespace": "Studio/Encoders", "MetricName": "Temperature",
            "Dimensions": [{"Name": "Rack", "Value": "A"}]}, "Period": 10, "Stat": "Maximum"}}],
        StartTime=now - 600, EndTime=now + 60)
    (result,) = data["MetricDataResults"]
    assert result["StatusCode"] == "Complete"
    assert result["Values"] == [50, 44, 41.5]  # newest first

    with pytest.raises(cw.exceptions.InvalidParameterValueException) as e:
        cw.put_metric_data(Namespace="AWS/MediaConnect", MetricData=[{"MetricName": "x", "Value": 1}])
    assert "Namespace" in str(e.value)
    with pytest.raises(cw.exceptions.ResourceNotFound):
        cw.delete_alarms(AlarmNames=["no-such-alarm"])
    with pytest.raises(cw.exceptions.InvalidParameterCombinationException):
        cw.get_metric_statistics(Namespace="Studio/Encoders", MetricName="Temperature",
                                 StartTime=now - 86400, EndTime=now, Period=1, Statistics=["Average"])
    with pytest.raises(cw.exceptions.ClientError) as e:
        cw.put_metric_alarm(AlarmName="bad", Namespace="n", MetricName="m", Statistic="Average",
                            Period=7, EvaluationPeriods=1, Threshold=1,
                            ComparisonOperator="LessThanThreshold")
    assert e.value.response["Error"]["Code"] == "ValidationError"
    assert "Period" in e.value.response["Error"]["Message"]

    # SetAlarmState, history, tags, actions.
    cw.put_metric_alarm(AlarmName="hot", Namespace="Studio/Encoders", MetricName="Temperature",
                        Dimensions=[{"Name": "Rack", "Value": "A"}], Statistic="Maximum", Period=60,
                        EvaluationPeriods=1, Threshold=45, ComparisonOperator="GreaterThanThreshold",
                        Tags=[{"Key": "team", "Value": "ops"}])
    cw.set_alarm_state(AlarmName="hot", StateValue="ALARM", StateReason="testing the pager")
    alarm = cw.describe_alarms(AlarmNames=["hot"])["MetricAlarms"][0]
    assert (alarm["StateValue"], alarm["StateReason"]) == ("ALARM", "testing the pager")
    arn = alarm["AlarmArn"]
    assert arn.startswith(f"arn:aws:cloudwatch:{REGION}:") and arn.endswith(":alarm:hot")
    assert cw.list_tags_for_resource(ResourceARN=arn)["Tags"] == [{"Key": "team", "Value": "ops"}]
    cw.disable_alarm_actions(AlarmNames=["hot"])
    assert cw.describe_alarms(AlarmNames=["hot"])["MetricAlarms"][0]["ActionsEnabled"] is False
    for_metric = cw.describe_alarms_for_metric(Namespace="Studio/Encoders", MetricName="Temperature",
                                               Dimensions=[{"Name": "Rack", "Value": "A"}])
    assert [a["AlarmName"] for a in for_metric["MetricAlarms"]] == ["hot"]
    items = cw.describe_alarm_history(AlarmName="hot")["AlarmHistoryItems"]
    assert [i["HistoryItemType"] for i in items] == ["StateUpdate", "ConfigurationUpdate"]
    # Paging through DescribeAlarms.
    for i in range(7):
        cw.put_metric_alarm(AlarmName=f"page-{i}", Namespace="n", MetricName="m", Statistic="Sum",
                            Period=60, EvaluationPeriods=1, Threshold=1,
                            ComparisonOperator="GreaterThanThreshold")
    pages = list(cw.get_paginator("describe_alarms").paginate(AlarmNamePrefix="page-",
                                                              PaginationConfig={"PageSize": 3}))
    assert [len(p["MetricAlarms"]) for p in pages] == [3, 3, 1]
    assert gzip  # (the CLI gzips large PutMetricData bodies: covered above through boto3)


@needs_ffmpeg
def test_channel_and_origin_metrics_alerts_prometheus_and_metric_math(server, ports, tmp_path):
    """A flow into a channel into an HLS endpoint: AWS/MediaLive and
    AWS/MediaPackage metrics appear, the channel raises an input-loss alert
    that ListAlerts shows and ActiveAlerts counts, GetMetricData computes an
    expression, and /metrics passes `promtool check metrics`."""
    import shutil
    import subprocess
    import urllib.request

    from test_channel import channel_config, flow_input, run_channel

    port = ports()
    input_id = flow_input(server, "cam", port)
    enc = encoder(server, rtp_url(port), log_name="camera")
    config = channel_config(input_id)
    config["EncoderSettings"]["GlobalConfiguration"] = {
        "InputLossBehavior": {"BlackFrameMsec": 1000, "InputLossImageType": "COLOR",
                              "InputLossImageColor": "000000", "RepeatFrameMsec": 1000}}
    cid, media_url = run_channel(server, tmp_path, config)
    cw = server.client("cloudwatch")

    def fetch(url):
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.read()

    wait_for(lambda: b".ts" in fetch(media_url), 30, interval=0.5, what="segments on the endpoint")
    for _ in range(5):
        fetch(media_url)
    time.sleep(4)
    now = time.time()

    def stat(namespace, name, dims, statistic="Average", window=10):
        points = cw.get_metric_statistics(
            Namespace=namespace, MetricName=name, Dimensions=[{"Name": k, "Value": v} for k, v in dims],
            StartTime=now - window, EndTime=now, Period=1, Statistics=[statistic])["Datapoints"]
        return [p[statistic] for p in points]

    fps = stat("AWS/MediaLive", "InputVideoFrameRate", [("ChannelId", cid), ("Pipeline", "0")])
    assert fps and 20 <= max(fps) <= 30, fps
    assert stat("AWS/MediaLive", "InputVideoFrameRate", [("ChannelId", cid)]), "the recipe's ChannelId-only dimension"
    assert max(stat("AWS/MediaLive", "NetworkIn", [("ChannelId", cid), ("Pipeline", "0")])) > 0.1
    assert max(stat("AWS/MediaLive", "EncoderSpeed", [("ChannelId", cid), ("Pipeline", "0")])) > 1.0
    assert stat("AWS/MediaLive", "ActiveAlerts", [("ChannelId", cid), ("Pipeline", "0")], "Maximum") == \
        [0.0] * len(stat("AWS/MediaLive", "ActiveAlerts", [("ChannelId", cid), ("Pipeline", "0")], "Maximum"))
    egress = stat("AWS/MediaPackage", "EgressRequestCount", [("Channel", "e2e-pkg"), ("OriginEndpoint", "e2e-pkg-hls")],
                  "Sum", window=30)
    assert sum(egress) >= 5, egress
    assert sum(stat("AWS/MediaPackage", "IngressBytes", [("Channel", "e2e-pkg")], "Sum", window=30)) > 0

    # Metric math over two MetricStats.
    data = cw.get_metric_data(StartTime=now - 10, EndTime=now, MetricDataQueries=[
        {"Id": "fps", "ReturnData": False, "MetricStat": {"Metric": {
            "Namespace": "AWS/MediaLive", "MetricName": "InputVideoFrameRate",
            "Dimensions": [{"Name": "ChannelId", "Value": cid}, {"Name": "Pipeline", "Value": "0"}]},
            "Period": 1, "Stat": "Average"}},
        {"Id": "double", "Expression": "fps * 2", "Label": "twice the frame rate"},
    ])
    (double,) = data["MetricDataResults"]
    assert double["Label"] == "twice the frame rate" and double["Values"], double
    values = sorted(double["Values"])
    # Pictures arrive in bursts, so single seconds vary; the median is twice 25 fps.
    assert 44 <= values[len(values) // 2] <= 56, values

    # Prometheus.
    text = fetch(server.endpoint + "/metrics").decode()
    assert "aws_media_live_input_video_frame_rate{" in text, text[:2000]
    assert text.endswith("# EOF\n")
    if shutil.which("promtool"):
        check = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True, text=True,
                               timeout=30)
        assert check.returncode == 0, check.stdout + check.stderr
    else:
        pytest.fail("promtool is not installed (scripts/setup.sh test installs Debian's prometheus package)")

    # The encoder dies: the channel fills and raises an input-loss alert.
    server.kill_child(enc)
    ml = server.client("medialive")
    wait_for(lambda: any(a["AlertType"] == "Input Loss" and a["State"] == "SET"
                         for a in ml.list_alerts(ChannelId=cid)["Alerts"]), 20, interval=0.5,
             what="an Input Loss alert")
    set_alerts = server.aws("medialive", "list-alerts", "--channel-id", cid, "--state-filter", "SET")["Alerts"]
    assert [a["AlertType"] for a in set_alerts] == ["Input Loss"], set_alerts
    assert set_alerts[0]["PipelineId"] == "0" and "SetTimestamp" in set_alerts[0]
    time.sleep(2.5)
    now = time.time()
    assert max(stat("AWS/MediaLive", "ActiveAlerts", [("ChannelId", cid), ("Pipeline", "0")], "Maximum",
                    window=3)) == 1.0
    assert max(stat("AWS/MediaLive", "InputLossSeconds", [("ChannelId", cid), ("Pipeline", "0")], "Sum",
                    window=3)) >= 1.0
    # It comes back: the alert is cleared.
    encoder(server, rtp_url(port), log_name="camera-2")
    wait_for(lambda: all(a["State"] == "CLEARED" for a in ml.list_alerts(ChannelId=cid)["Alerts"]), 30,
             interval=0.5, what="the alert to clear")
