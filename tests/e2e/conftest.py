"""End-to-end fixtures: a real `onair serve` on loopback, driven by the real
aws CLI (the venv's awscli 1.46.3), boto3 and ffmpeg.

Every test gets its own server (fresh data dir, free TCP port, fixed
credentials) and its own block of UDP ports, so tests never collide. Every
wait is bounded; every process a test starts is ended at teardown.
"""

import itertools
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BIN = Path(os.environ.get("ONAIR_BIN", REPO / "target" / "debug" / "onair")).absolute()
VENV_BIN = Path(sys.executable).parent
AWS = str(VENV_BIN / "aws") if (VENV_BIN / "aws").exists() else str(REPO / ".venv" / "bin" / "aws")
MODEL = Path(__file__).resolve().parent / "models" / "mediaconnect-2018-11-14.service-2.json"

ACCESS_KEY = "AKIAONAIRE2ETEST0001"
SECRET_KEY = "e2e-secret-0123456789abcdefghijklmnopqrstuv"
REGION = "us-west-2"

# The test process itself (boto3, botocore) must not read ~/.aws either.
for _k, _v in {
    "AWS_CONFIG_FILE": "/dev/null",
    "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
    "AWS_PAGER": "",
    "AWS_EC2_METADATA_DISABLED": "true",
}.items():
    os.environ[_k] = _v
for _k in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL_MEDIACONNECT"):
    os.environ.pop(_k, None)

HAVE_FFMPEG = shutil.which("ffmpeg") is not None and shutil.which("ffprobe") is not None
needs_ffmpeg = pytest.mark.skipif(
    not HAVE_FFMPEG,
    reason="ffmpeg/ffprobe not installed (scripts/setup.sh test installs them; `make test` runs it)",
)


# ---------------------------------------------------------------- UDP ports

_PORT_BLOCK = 10  # rtp-fec uses port, +1 (RTCP from ffmpeg), +2, +4

# Under pytest-xdist (`make e2e` runs two workers) each worker takes its UDP
# blocks, and its servers their push-input ports, from a band of its own, so
# two tests running at once never reach for the same port.
_WORKER = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw") or 0)
_WORKERS = max(1, int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")))
_BAND = (40000 - 20000) // _WORKERS // _PORT_BLOCK * _PORT_BLOCK
_BAND_START = 20000 + _WORKER * _BAND
_first = random.Random(os.getpid() ^ int(time.time())).randrange(0, _BAND, _PORT_BLOCK)
_ports = (_BAND_START + (_first + i) % _BAND for i in itertools.count(0, _PORT_BLOCK))
# `--input-ports` of every server this worker starts: 40000-44999 shared out.
_INPUT_BAND = 5000 // _WORKERS
INPUT_PORTS = f"{40000 + _WORKER * _INPUT_BAND}-{40000 + (_WORKER + 1) * _INPUT_BAND - 1}"


def _udp_free(port):
    for p in (port, port + 1, port + 2, port + 4):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            s.bind(("127.0.0.1", p))
        except OSError:
            return False
        finally:
            s.close()
    return True


def udp_port():
    """A UDP port whose block (port..port+9) is free now; unique in this run."""
    for _ in range(400):
        p = next(_ports)
        if p + _PORT_BLOCK > 65000:
            continue
        if _udp_free(p):
            return p
    raise RuntimeError("no free UDP port block found")


def _free_tcp_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


# ---------------------------------------------------------------- helpers

def wait_for(predicate, timeout, interval=0.2, what="condition"):
    """Polls predicate() until it returns a truthy value; fails after timeout."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        try:
            last = predicate()
        except Exception as e:  # noqa: BLE001 - remembered for the message
            last = e
        else:
            if last:
                return last
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}; last: {last!r}")
        time.sleep(interval)


class AwsCliError(AssertionError):
    pass


# The trust policy of the recipe's MediaLive role (Preparation).
MEDIALIVE_TRUST_POLICY = {
    "Version": "2012-10-17",
    "Statement": [{
        "Effect": "Allow",
        "Principal": {"Service": "medialive.amazonaws.com"},
        "Action": "sts:AssumeRole",
    }],
}


def medialive_role(server, name="MediaLiveAccessRole"):
    """The ARN of the IAM role `name` on `server`, created with the recipe's
    trust policy the first time it is asked for. A MediaLive channel's RoleArn
    must name a role that exists (422 otherwise, as on AWS), and the ARN
    carries the server's own account id (random per data dir), so tests ask
    for it here rather than writing one by hand."""
    iam = server.client("iam")
    try:
        return iam.get_role(RoleName=name)["Role"]["Arn"]
    except iam.exceptions.NoSuchEntityException:
        return iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(MEDIALIVE_TRUST_POLICY),
                               Description="MediaLive channels of the e2e tests")["Role"]["Arn"]


class Server:
    """A running `onair serve` plus everything a test started around it."""

    def __init__(self, tmp: Path):
        self.tmp = tmp
        self.data_dir = tmp / "data"
        self.port = _free_tcp_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.region = REGION
        self.access_key = ACCESS_KEY
        self.secret_key = SECRET_KEY
        self.env = dict(os.environ)
        self.env.update(
            AWS_ENDPOINT_URL=self.endpoint,
            AWS_ACCESS_KEY_ID=ACCESS_KEY,
            AWS_SECRET_ACCESS_KEY=SECRET_KEY,
            AWS_DEFAULT_REGION=REGION,
            AWS_REGION=REGION,
            AWS_PAGER="",
            AWS_CONFIG_FILE="/dev/null",
            AWS_SHARED_CREDENTIALS_FILE="/dev/null",
            AWS_MAX_ATTEMPTS="2",
        )
        self.proc = None
        # The server's working directory (None: the test's); onair reads nothing from it.
        self.cwd = None
        # Where flow sources and outputs listen (`--ingest-bind`); a test whose
        # peers are not on loopback sets it before start().
        self.ingest_bind = "127.0.0.1"
        # More `onair serve` options, set before start().
        self.extra_args = []
        self.log_path = tmp / "onair.log"
        self._log = None
        self._children = []
        self._starts = 0

    # -- server lifecycle

    def start(self, timeout=20):
        if not BIN.exists():
            pytest.fail(f"{BIN} does not exist: run `cargo build -p onair` first (make e2e does)")
        self._starts += 1
        self._log = open(self.log_path, "ab")
        self._log.write(f"\n===== start #{self._starts}\n".encode())
        self._log.flush()
        env = dict(self.env)
        env.update(ONAIR_ACCESS_KEY_ID=ACCESS_KEY, ONAIR_SECRET_ACCESS_KEY=SECRET_KEY,
                   ONAIR_LOG=os.environ.get("ONAIR_LOG", "info"))
        self.proc = subprocess.Popen(
            [str(BIN), "serve", "--listen", f"127.0.0.1:{self.port}", "--data-dir", str(self.data_dir),
             "--ingest-ip", "127.0.0.1", "--ingest-bind", self.ingest_bind, "--region", REGION,
             "--input-ports", INPUT_PORTS, *self.extra_args],
            stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
            start_new_session=True, cwd=self.cwd,
        )
        wait_for(self._answers, timeout, what=f"onair to answer on {self.endpoint}\n{self.log_tail()}")

    def _answers(self):
        if self.proc.poll() is not None:
            raise AssertionError(f"onair exited with {self.proc.returncode}:\n{self.log_tail()}")
        try:
            urllib.request.urlopen(self.endpoint + "/v1/flows", timeout=2)
        except urllib.error.HTTPError:
            return True  # 403 without a signature: it is up
        except OSError:
            return False
        return True

    def stop(self, kill9=False, timeout=10):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            if kill9:
                self.proc.kill()
            else:
                self.proc.terminate()
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        self.proc = None
        if self._log:
            self._log.close()
            self._log = None

    def restart(self, kill9=True):
        """Stops the server (SIGKILL by default) and starts it on the same
        port with the same data dir."""
        self.stop(kill9=kill9)
        deadline = time.monotonic() + 15
        while True:
            try:
                self.start()
                return
            except (AssertionError, pytest.fail.Exception):
                if time.monotonic() > deadline or "cannot listen" not in self.log_tail():
                    raise
                self.stop()
                time.sleep(0.5)

    def log_tail(self, n=40):
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""

    # -- clients

    def aws(self, *args, timeout=60):
        """Runs `aws ARGS --output json`; returns the parsed JSON (None when
        the command prints nothing). Fails with stderr on a non-zero exit."""
        p = self.aws_run(*args, timeout=timeout)
        if p.returncode != 0:
            raise AwsCliError(f"aws {' '.join(map(str, args))} exited {p.returncode}:\n{p.stderr}")
        out = p.stdout.strip()
        return json.loads(out) if out else None

    def aws_run(self, *args, timeout=60, env=None):
        """Runs the CLI and returns the CompletedProcess, whatever the exit."""
        return subprocess.run(
            [AWS, *map(str, args), "--output", "json"], capture_output=True, text=True,
            env=env or self.env, timeout=timeout, stdin=subprocess.DEVNULL,
        )

    def client(self, service="mediaconnect", **kw):
        """A boto3 client of `service` (mediaconnect unless named) for this server."""
        import boto3
        from botocore.config import Config

        args = dict(
            endpoint_url=self.endpoint, region_name=REGION, aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
            config=Config(retries={"max_attempts": 2, "mode": "standard"}, connect_timeout=5, read_timeout=30),
        )
        args.update(kw)
        return boto3.client(service, **args)

    def stats(self, flow_arn):
        """GET /_onair/flows/{arn}/stats, SigV4-signed; None when the flow does
        not run (404)."""
        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest
        from botocore.credentials import Credentials

        url = f"{self.endpoint}/_onair/flows/{urllib.parse.quote(flow_arn, safe='')}/stats"
        req = AWSRequest(method="GET", url=url)
        SigV4Auth(Credentials(ACCESS_KEY, SECRET_KEY), "mediaconnect", REGION).add_auth(req)
        r = urllib.request.Request(url, headers=dict(req.headers.items()), method="GET")
        try:
            with urllib.request.urlopen(r, timeout=10) as resp:
                return json.loads(resp.read())
        except urllib.error.HTTPError as e:
            if e.code == 404:
                return None
            raise AssertionError(f"stats {e.code}: {e.read()!r}") from e

    def source_stats(self, flow_arn, name):
        st = self.stats(flow_arn) or {}
        for s in st.get("sources", []):
            if s.get("name") == name:
                return s
        return None

    def status_text(self, timeout=20):
        """`onair flows status` against this server, with the AWS_* env."""
        p = subprocess.run([str(BIN), "flows", "status", "--endpoint", self.endpoint], capture_output=True,
                           text=True, env=self.env, timeout=timeout, stdin=subprocess.DEVNULL)
        assert p.returncode == 0, f"onair flows status exited {p.returncode}:\n{p.stdout}\n{p.stderr}"
        return p.stdout

    # -- child processes (encoders, readers, relays)

    def popen(self, args, **kw):
        kw.setdefault("stdin", subprocess.DEVNULL)
        kw.setdefault("start_new_session", True)
        p = subprocess.Popen(args, **kw)
        self._children.append(p)
        return p

    def kill_child(self, p):
        if p.poll() is None:
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        try:
            p.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass

    def close(self):
        for p in self._children:
            self.kill_child(p)
        self._children.clear()
        self.stop()


TEST_DEADLINE_S = 150


def pytest_configure(config):
    config.addinivalue_line("markers", "deadline(seconds): a test's bound instead of TEST_DEADLINE_S")


@pytest.fixture(autouse=True)
def _deadline(request):
    """A last-resort bound on every test (each wait inside is bounded too);
    `@pytest.mark.deadline(s)` gives a long test its own."""
    marker = request.node.get_closest_marker("deadline")
    seconds = marker.args[0] if marker else TEST_DEADLINE_S

    def expired(_sig, _frame):
        raise TimeoutError(f"test ran longer than {seconds} s")

    old = signal.signal(signal.SIGALRM, expired)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


@pytest.fixture
def server(tmp_path):
    srv = Server(tmp_path)
    try:
        srv.start()
        yield srv
    finally:
        srv.close()


class Demo:
    """`onair demo` on a free port, started by the `demo` fixture in a directory
    outside the repository (everything it serves is compiled in): `hls` is its
    printed HLS URL, `player` its browser URL, `dashboard` its dashboard URL,
    `log()` what it printed so far."""

    HLS_LINE = re.compile(r"HLS \(channel with input failover, 640x360 \+ 320x180\): (\S+)")

    def __init__(self, tmp: Path, seconds=90):
        self.port = _free_tcp_port()
        self._log = open(tmp / "demo.log", "w+")
        self.proc = subprocess.Popen(
            [str(BIN), "demo", "--listen", f"127.0.0.1:{self.port}", "--data-dir", str(tmp / "data"),
             "--seconds", str(seconds)],
            stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=tmp)
        self.hls = self.player = self.dashboard = None
        deadline = time.monotonic() + 40
        while self.player is None and time.monotonic() < deadline and self.proc.poll() is None:
            time.sleep(0.5)
            text = self.log()
            found = self.HLS_LINE.search(text)
            self.hls = found and found.group(1)
            found = re.search(r"browser: (\S+)", text)
            self.player = found and found.group(1)
            found = re.search(r"dashboard: (\S+)", text)
            self.dashboard = found and found.group(1)
        assert self.hls and self.player and self.dashboard, f"demo printed no URLs (exit {self.proc.poll()}):\n{self.log()[-3000:]}"

    def log(self):
        self._log.seek(0)
        return self._log.read()

    def media_playlist(self):
        return self.hls.rsplit("/", 1)[0] + "/index_1.m3u8"

    def close(self):
        """SIGTERM, as a user's Ctrl-C or service manager would; the demo stops its
        encoders before it exits."""
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self._log.close()


@pytest.fixture
def demo(tmp_path):
    d = Demo(tmp_path)
    try:
        yield d
    finally:
        d.close()


@pytest.fixture
def ports():
    """`ports()` returns a fresh UDP port block (port..port+9) for this test."""
    return udp_port


@pytest.fixture(scope="session")
def model():
    with open(MODEL) as f:
        return json.load(f)
