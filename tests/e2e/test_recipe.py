"""examples/recipe/steps-1-3.sh, run as a user would, against onair."""

import os
import subprocess

from conftest import AWS, REGION, REPO

SCRIPT = REPO / "examples" / "recipe" / "steps-1-3.sh"


def run_script(server, **extra):
    env = dict(server.env)
    env["PATH"] = os.path.dirname(AWS) + os.pathsep + env.get("PATH", "")
    env.pop("AWS_ACCOUNT_ID", None)
    env.update(extra)
    return subprocess.run(["bash", str(SCRIPT)], capture_output=True, text=True, env=env, timeout=120,
                          stdin=subprocess.DEVNULL, cwd=server.tmp)


def test_recipe_steps_1_to_3(server):
    p = run_script(server, RANDOM_SUFFIX="e2e123")
    assert p.returncode == 0, f"steps-1-3.sh exited {p.returncode}\nstdout:\n{p.stdout}\nstderr:\n{p.stderr}"

    c = server.client()
    flows = {f["Name"]: f for f in c.list_flows()["Flows"]}
    assert sorted(flows) == ["live-event-backup-e2e123", "live-event-primary-e2e123"]
    expect = {
        "live-event-primary-e2e123": ("a", "PrimarySource", 5000, "Primary encoder input", 5002,
                                      "Output to MediaLive primary input"),
        "live-event-backup-e2e123": ("b", "BackupSource", 5001, "Backup encoder input", 5003,
                                     "Output to MediaLive backup input"),
    }
    for name, (az, source, ingest, sdesc, port, odesc) in expect.items():
        arn = flows[name]["FlowArn"]
        assert f"✅ Created {'primary' if 'primary' in name else 'backup'} MediaConnect flow: {arn}" in p.stdout
        flow = c.describe_flow(FlowArn=arn)["Flow"]
        assert flow["Status"] == "STANDBY"
        assert flow["AvailabilityZone"] == f"{REGION}{az}"
        s = flow["Source"]
        assert (s["Name"], s["IngestPort"], s["WhitelistCidr"], s["Transport"]["Protocol"], s.get("Description")) == \
            (source, ingest, "0.0.0.0/0", "rtp", sdesc)
        assert len(flow["Outputs"]) == 1, flow["Outputs"]
        o = flow["Outputs"][0]
        assert (o["Name"], o["Transport"]["Protocol"], o["Destination"], o["Port"], o.get("Description")) == \
            ("MediaLiveOutput", "rtp-fec", "0.0.0.0", port, odesc)
    assert "✅ Configured flow outputs for MediaLive integration" in p.stdout


def test_recipe_generates_a_suffix(server):
    p = run_script(server)
    assert p.returncode == 0, f"stdout:\n{p.stdout}\nstderr:\n{p.stderr}"
    names = [f["Name"] for f in server.client().list_flows()["Flows"]]
    assert len(names) == 2 and all(len(n.rsplit("-", 1)[1]) == 6 for n in names), names


def test_recipe_steps_4_to_10(server):
    """Steps 4-10 after steps 1-3: MediaPackage channel, MediaLive
    inputs and channel from the recipe's own configuration, the HLS origin
    endpoint, the CloudWatch alarms, and the start of the whole pipeline with
    the CLI's waiters."""
    p = run_script(server, RANDOM_SUFFIX="e2e410")
    assert p.returncode == 0, f"steps-1-3.sh: {p.stderr}"
    p = subprocess.run(["bash", str(SCRIPT.with_name("steps-4-10.sh"))], capture_output=True, text=True,
                       env={**server.env, "RANDOM_SUFFIX": "e2e410",
                            "PATH": os.path.dirname(AWS) + os.pathsep + server.env.get("PATH", "")},
                       timeout=180, stdin=subprocess.DEVNULL, cwd=server.tmp)
    assert p.returncode == 0, f"steps-4-10.sh exited {p.returncode}\nstdout:\n{p.stdout}\nstderr:\n{p.stderr}"
    for line in ("✅ Created MediaPackage channel: arn:aws:mediapackage:", "✅ Created MediaLive inputs: ",
                 "✅ Created MediaLive channel: ", "✅ Created MediaPackage HLS endpoint: http://",
                 "✅ Configured CloudWatch monitoring and alarms",
                 "✅ Broadcasting pipeline is now active", "Primary flow ingest endpoint: 127.0.0.1:5000"):
        assert line in p.stdout, p.stdout

    env = {**server.env}
    out = subprocess.run([str(AWS), "medialive", "list-channels", "--output", "json"], capture_output=True,
                         text=True, env=env, timeout=60, check=True).stdout
    import json
    channels = json.loads(out)["Channels"]
    assert [c["Name"] for c in channels] == ["live-event-channel-e2e410"]
    assert channels[0]["State"] == "RUNNING"
    assert sorted(a["InputAttachmentName"] for a in channels[0]["InputAttachments"]) == ["backup-input", "primary-input"]
    url = subprocess.run([str(AWS), "mediapackage", "describe-origin-endpoint", "--id", "live-event-package-e2e410-hls",
                          "--query", "Url", "--output", "text"], capture_output=True, text=True, env=env,
                         timeout=60, check=True).stdout.strip()
    assert url == f"{server.endpoint}/out/v1/live-event-package-e2e410/live-event-package-e2e410-hls/index.m3u8"
    # Validation 5: the alarm table.
    table = subprocess.run(
        [str(AWS), "cloudwatch", "describe-alarms", "--alarm-names", "live-event-primary-e2e410-source-errors",
         "live-event-channel-e2e410-input-errors", "--query", "MetricAlarms[*].[AlarmName,StateValue]",
         "--output", "table"], capture_output=True, text=True, env=env, timeout=60, check=True).stdout
    assert "live-event-primary-e2e410-source-errors" in table and "live-event-channel-e2e410-input-errors" in table
    assert "INSUFFICIENT_DATA" in table, table
