"""The whole recipe — Preparation, steps 1-12, Validation 1-5, Cleanup 1-6 —
run as a user would (`examples/recipe/recipe.sh`, the real aws CLI) against a
fresh `onair serve`, with two real encoders sending to the ingest endpoints
the recipe prints. Run twice: after the second Cleanup the server's resident
memory is within 10 % of what it was after the first (nothing leaks per
event)."""

import json
import os
import re
import socket
import subprocess
import threading
import time
import urllib.parse
import urllib.request

import pytest

from conftest import AWS, BIN, REPO, wait_for

# The recipe and the demo both ingest on UDP 5000/5001: one xdist worker runs them in turn.
pytestmark = pytest.mark.xdist_group("ingest-5000")

RECIPE = REPO / "examples" / "recipe" / "recipe.sh"
PAUSE = "⏸"


class RecipeRun:
    """recipe.sh in one bash process with RECIPE_PAUSE=1: it stops before the
    Validation and before the Cleanup until a line arrives on its stdin. Its
    output is collected line by line as it comes."""

    def __init__(self, server):
        env = dict(server.env)
        env["PATH"] = os.path.dirname(AWS) + os.pathsep + env.get('PATH', '')
        env.pop("AWS_ACCOUNT_ID", None)
        env.update(RECIPE_PAUSE="1", RECIPE_ROLE_WAIT_SECONDS="1")
        self.log = open(server.tmp / "recipe.log", "a", encoding="utf-8")
        self.proc = subprocess.Popen(["bash", str(RECIPE)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True, env=env, cwd=server.tmp)
        self.lines = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self):
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))
            self.log.write(line)
            self.log.flush()

    @property
    def output(self):
        return "\n".join(self.lines)

    def pauses(self):
        return sum(1 for line in self.lines if line.startswith(PAUSE))

    def wait_pause(self, n, timeout):
        """Waits until the recipe has paused `n` times; the output since start."""
        def paused():
            if self.proc.poll() is not None and self.pauses() < n:
                raise AssertionError(f"recipe.sh exited {self.proc.returncode} before pause {n}:\n{self.output}")
            return self.pauses() >= n
        wait_for(paused, timeout, what=f"recipe pause {n}\n{self.output[-3000:]}")
        return self.output

    def go_on(self):
        self.proc.stdin.write("\n")
        self.proc.stdin.flush()

    def finish(self, timeout):
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise AssertionError(f"recipe.sh still running after {timeout} s:\n{self.output[-3000:]}")
        self._reader.join(timeout=5)
        assert rc == 0, f"recipe.sh exited {rc}:\n{self.output[-4000:]}"
        return self.output

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=5)
        self.log.close()


def section(output, name):
    """The output of one section of recipe.sh (`=== name` to the next `===`)."""
    start = output.index(f"=== {name}")
    end = output.find("\n=== ", start + 1)
    return output[start:] if end < 0 else output[start:end]


def resident_kib(pid):
    with open(f"/proc/{pid}/status", encoding="ascii") as f:
        return int(re.search(r"^VmRSS:\s+(\d+) kB", f.read(), re.M).group(1))


def udp_port_free(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.bind(("0.0.0.0", port))
        return True
    except OSError:
        return False
    finally:
        s.close()


def playlist_with_segments(url):
    """The media playlist behind the HLS endpoint's URL once it lists segments."""
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            master = r.read().decode()
        variant = next(line for line in master.splitlines() if line and not line.startswith("#"))
        with urllib.request.urlopen(urllib.parse.urljoin(url, variant), timeout=5) as r:
            media = r.read().decode()
        return media if "#EXTINF" in media else None
    except (OSError, StopIteration):
        return None


def run_recipe(server):
    """One run of the whole recipe with encoders; checks every step's
    expected output. Returns the random suffix it used."""
    run = RecipeRun(server)
    encoders = []
    try:
        out = run.wait_pause(1, timeout=240)

        # Preparation: STS, Secrets Manager and IAM answered.
        prep = section(out, "Preparation")
        role = re.search(r"✅ Created IAM role: (arn:aws:iam::(\d{12}):role/MediaLiveAccessRole-([a-z0-9]{6}))", prep)
        assert role, prep
        suffix = role.group(3)
        assert re.search(r"[a-z]", suffix) and re.search(r"[0-9]", suffix), suffix  # --require-each-included-type
        assert server.aws("iam", "get-role", "--role-name", f"MediaLiveAccessRole-{suffix}")["Role"]["Arn"] \
            == role.group(1)

        # Steps 1-10.
        for line in ("✅ Created primary MediaConnect flow: arn:aws:mediaconnect:",
                     "✅ Created backup MediaConnect flow: arn:aws:mediaconnect:",
                     "✅ Configured flow outputs for MediaLive integration",
                     "✅ Created MediaPackage channel: arn:aws:mediapackage:",
                     "✅ Created MediaLive inputs: ", "✅ Created MediaLive channel configuration",
                     "✅ Created MediaLive channel: ", "✅ Created MediaPackage HLS endpoint: http://",
                     "✅ Configured CloudWatch monitoring and alarms", "✅ Broadcasting pipeline is now active",
                     "✅ Configured additional security and monitoring",
                     "✅ Created flow monitoring script: /tmp/monitor-flows.sh"):
            assert line in out, f"missing {line!r}:\n{out}"
        ingest = dict(re.findall(r"^(Primary|Backup) flow ingest endpoint: (\S+:\d+)$", out, re.M))
        assert ingest == {"Primary": "127.0.0.1:5000", "Backup": "127.0.0.1:5001"}, out
        hls_url = re.search(r"^HLS playback URL: (http://\S+)$", out, re.M).group(1)

        flows = {f["Name"]: f for f in server.aws("mediaconnect", "list-flows")["Flows"]}
        assert sorted(flows) == [f"live-event-backup-{suffix}", f"live-event-primary-{suffix}"]
        for name, flow in flows.items():
            assert flow["Status"] == "ACTIVE", flow
            tags = server.aws("mediaconnect", "list-tags-for-resource", "--resource-arn", flow["FlowArn"])["Tags"]
            assert tags == {"Environment": "Production", "Application": "LiveBroadcast",
                            "MonitoringLevel": "Detailed"}, tags
        groups = [g["logGroupName"] for g in server.aws("logs", "describe-log-groups", "--log-group-name-prefix",
                                                         "/aws/mediaconnect/")["logGroups"]]
        assert sorted(groups) == sorted(f"/aws/mediaconnect/{n}" for n in flows), groups
        [channel] = server.aws("medialive", "list-channels")["Channels"]
        assert channel["State"] == "RUNNING" and channel["RoleArn"] == role.group(1), channel

        # Two real encoders on the ingest endpoints the recipe printed.
        for label, tone in (("Primary", 1000), ("Backup", 600)):
            log = open(server.tmp / f"testsrc-{label}.log", "ab")
            encoders.append(server.popen([str(BIN), "testsrc", "--name", label, "--tone", str(tone),
                                          f"rtp://{ingest[label]}"], stdout=log, stderr=subprocess.STDOUT))
        media = wait_for(lambda: playlist_with_segments(hls_url), 60, interval=1, what=f"segments at {hls_url}")
        assert media.startswith("#EXTM3U"), media

        # Step 12's script, one round of it.
        mon = subprocess.run(["timeout", "-s", "KILL", "15", "/tmp/monitor-flows.sh",
                              flows[f"live-event-primary-{suffix}"]["FlowArn"],
                              flows[f"live-event-backup-{suffix}"]["FlowArn"]],
                             capture_output=True, text=True, env=run_env(server), timeout=30)
        assert "Primary Flow Status: ACTIVE" in mon.stdout and "Backup Flow Status: ACTIVE" in mon.stdout, \
            mon.stdout + mon.stderr

        # Validation 1-5.
        run.go_on()
        out = run.wait_pause(2, timeout=120)
        val = section(out, "Validation")
        assert '"ACTIVE"' in val and '"RUNNING"' in val, val
        stats = json.loads(val[val.index('{\n    "Label": "SourceBitRate"'):val.index("\n}", val.index(
            '"Label": "SourceBitRate"')) + 2])
        assert stats["Datapoints"] and stats["Datapoints"][0]["Average"] > 100_000, stats
        assert re.search(r"^HTTP/1\.1 200", val, re.M), val
        assert re.search(r"^#EXTM3U$", val, re.M) and "#EXT-X-STREAM-INF" in val, val
        assert f"live-event-primary-{suffix}-source-errors" in val
        assert f"live-event-channel-{suffix}-input-errors" in val

        # Cleanup 1-6.
        run.go_on()
        out = run.finish(timeout=180)
        for line in ("✅ Stopped MediaLive channel", "✅ Stopped MediaConnect flows",
                     "✅ Deleted MediaPackage resources", "✅ Deleted MediaLive resources",
                     "✅ Deleted MediaConnect flows", "✅ Cleaned up all resources"):
            assert line in out, f"missing {line!r}:\n{out[-3000:]}"
        return suffix
    finally:
        for p in encoders:
            server.kill_child(p)
        run.close()


def run_env(server):
    env = dict(server.env)
    env["PATH"] = os.path.dirname(AWS) + os.pathsep + env.get('PATH', '')
    return env


def assert_nothing_left(server):
    """After the Cleanup: every list call is empty and no ingest port is open."""
    lists = {
        ("mediaconnect", "list-flows"): "Flows",
        ("medialive", "list-channels"): "Channels",
        ("medialive", "list-inputs"): "Inputs",
        ("mediapackage", "list-channels"): "Channels",
        ("mediapackage", "list-origin-endpoints"): "OriginEndpoints",
        ("cloudwatch", "describe-alarms"): "MetricAlarms",
        ("iam", "list-roles"): "Roles",
        ("secretsmanager", "list-secrets"): "SecretList",
    }
    for args, key in lists.items():
        assert server.aws(*args)[key] == [], (args, server.aws(*args))
    groups = server.aws("logs", "describe-log-groups", "--log-group-name-prefix", "/aws/")["logGroups"]
    assert groups == [], groups
    for port in (5000, 5001):
        wait_for(lambda: udp_port_free(port), 10, what=f"ingest port {port} closed")


@pytest.mark.deadline(600)
def test_the_whole_recipe_twice_leaves_nothing_behind(server):
    run_recipe(server)
    assert_nothing_left(server)
    time.sleep(3)
    after_first = resident_kib(server.proc.pid)

    run_recipe(server)
    assert_nothing_left(server)
    time.sleep(3)
    after_second = resident_kib(server.proc.pid)
    print(f"resident memory after the first run: {after_first} KiB, after the second: {after_second} KiB")
    # What a second event may add: the metric store keeps every metric of the
    # first for 15 days (about 3.5 MB here), nothing else.
    assert after_second <= after_first * 1.10, (
        f"resident memory grew from {after_first} KiB after the first run to "
        f"{after_second} KiB after the second (more than 10 %)")


def test_blocks_refuse_to_run_as_scripts():
    """Each block is sourced in one shell; run on its own it says so."""
    p = subprocess.run(["bash", str(RECIPE.with_name("steps-1-3.sh"))], capture_output=True, text=True, timeout=10)
    assert p.returncode == 2 and "source it" in p.stderr, p.stderr
