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
