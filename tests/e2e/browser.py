"""A page in headless Debian Chromium, driven through tests/e2e/page_driver.mjs
(playwright-core from web/node_modules; never a downloaded browser). Every call
is bounded; `close()` ends the browser."""

import json
import os
import queue
import shutil
import subprocess
import threading

import pytest

from conftest import REPO

CHROMIUM = os.environ.get("ONAIR_CHROMIUM", "/usr/bin/chromium")
DRIVER = REPO / "tests" / "e2e" / "page_driver.mjs"

needs_chromium = pytest.mark.skipif(
    not os.access(CHROMIUM, os.X_OK) or shutil.which("node") is None
    or not (REPO / "web" / "node_modules" / "playwright-core").is_dir(),
    reason=f"needs Debian's chromium at {CHROMIUM}, node and web/node_modules "
           "(make test installs them: scripts/setup.sh test)",
)


class Page:
    def __init__(self, url, size="1366x768", timeout=60):
        self.proc = subprocess.Popen(
            ["node", str(DRIVER), url, CHROMIUM, size], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True, start_new_session=True)
        self._lines = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        first = self._answer(timeout)
        assert first.get("ready"), first

    def _read(self):
        for line in self.proc.stdout:
            self._lines.put(line)
        self._lines.put(None)

    def _answer(self, timeout):
        try:
            line = self._lines.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"the page driver did not answer in {timeout} s") from None
        if line is None:
            raise AssertionError(f"the page driver exited {self.proc.wait(timeout=5)}:\n"
                                 + self.proc.stderr.read()[-3000:])
        return json.loads(line)

    def _ask(self, timeout, **cmd):
        self.proc.stdin.write(json.dumps(cmd) + "\n")
        self.proc.stdin.flush()
        return self._answer(timeout)

    def eval(self, expr):
        """The value of a JavaScript expression (or of an async function's result)."""
        r = self._ask(30, op="eval", expr=expr)
        assert r["ok"], r
        return r.get("value")

    def wait(self, expr, timeout):
        """Waits until `expr` is truthy in the page; returns (ok, milliseconds waited, value)."""
        r = self._ask(timeout + 30, op="wait", expr=expr, timeout_ms=int(timeout * 1000))
        return r["ok"], r["ms"], r.get("value")

    def screenshot(self, path):
        r = self._ask(30, op="screenshot", path=str(path))
        assert r["ok"], r

    def console(self):
        """Everything the page printed to its console, its uncaught errors and failed requests."""
        return self._ask(30, op="console")["value"]

    def close(self):
        if self.proc.poll() is None:
            try:
                self._ask(15, op="quit")
                self.proc.wait(timeout=15)
            except (AssertionError, OSError, subprocess.TimeoutExpired):
                pass
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, 9)
            self.proc.wait(timeout=5)
