"""scripts/demo.py cleans up after itself: run under a pseudo-terminal until it is up, then its
terminal is closed (SIGHUP), or it gets SIGTERM, or Ctrl-C is typed (SIGINT). Every process it
started (softphoned, both Kamailio sites, SIPp: everything in its network namespace) and the
namespace itself must be gone once it has exited."""

import os
import pty
import re
import select
import shutil
import signal
import subprocess
import sys
import time

import pytest

_HERE = os.path.dirname(os.path.abspath(__file__))
_REPO = os.path.dirname(os.path.dirname(_HERE))
sys.path.insert(0, _HERE)

from softphoned import SOFTPHONED  # noqa: E402

DEMO = os.path.join(_REPO, "scripts", "demo.py")
IP = "/usr/sbin/ip" if os.path.exists("/usr/sbin/ip") else "ip"
WAIT = 60  # generous bound on the demo's start and on its exit; no timing is asserted


class Pty:
    """The demo running on a pseudo-terminal of its own (it is the session leader, the
    terminal its controlling one); its output is collected as it comes."""

    def __init__(self, argv):
        self.pid, self.fd = pty.fork()
        if self.pid == 0:  # the child: nothing of pytest's may run here
            try:
                os.execv(argv[0], argv)
            finally:
                os._exit(127)
        self.out = b""
        self.status = None

    def pump(self, timeout):
        """Reads what the demo wrote within timeout (keeps its writes from blocking)."""
        if self.fd is None:
            time.sleep(timeout)
            return
        ready, _, _ = select.select([self.fd], [], [], timeout)
        if ready:
            try:
                data = os.read(self.fd, 65536)
            except OSError:  # EIO: the demo closed its side
                data = b""
            self.out += data

    def expect(self, pattern, timeout=WAIT):
        deadline = time.monotonic() + timeout
        while True:
            m = re.search(pattern, self.out.decode(errors="replace"))
            if m:
                return m
            if self.exited() or time.monotonic() > deadline:
                raise AssertionError(f"no {pattern!r} from the demo; it wrote:\n"
                                     f"{self.out.decode(errors='replace')}")
            self.pump(0.2)

    def exited(self):
        if self.status is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid == self.pid:
                self.status = status
        return self.status is not None

    def wait(self, timeout=WAIT):
        deadline = time.monotonic() + timeout
        while not self.exited():
            if time.monotonic() > deadline:
                return False
            self.pump(0.1)
        return True

    def close_terminal(self):
        os.close(self.fd)
        self.fd = None

    def kill(self):
        if not self.exited():
            os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


def alive(pid):
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read().decode(errors="replace")
    except OSError:
        return False
    return stat[stat.rfind(")") + 2:].split()[0] != "Z"


def namespaces():
    res = subprocess.run([IP, "netns", "list"], stdout=subprocess.PIPE, timeout=30, check=True)
    return {line.split()[0] for line in res.stdout.decode().splitlines() if line.strip()}


@pytest.mark.parametrize("how", ["SIGHUP", "SIGTERM", "SIGINT"])
def test_demo_ends_everything_it_started(how):
    build_dir = os.path.dirname(os.path.dirname(os.path.abspath(SOFTPHONED)))
    demo = Pty([sys.executable, DEMO, "--no-build", "--build-dir", build_dir, "--fast"])
    ns = None
    pids = set()
    try:
        ns = demo.expect(r"network namespace (sp-[a-z0-9]+)").group(1)
        daemon_pid = int(demo.expect(r"softphoned pid (\d+)").group(1))
        demo.expect(r"keys: ")  # up: both sites, the far end and softphoned started
        res = subprocess.run([IP, "netns", "pids", ns], stdout=subprocess.PIPE, timeout=30,
                             check=True)
        pids = {int(p) for p in res.stdout.split()}
        assert daemon_pid in pids
        assert len(pids) >= 4, pids  # softphoned, SIPp, two Kamailio (with their children)

        if how == "SIGHUP":
            demo.close_terminal()  # the kernel hangs up on the session: SIGHUP
        elif how == "SIGTERM":
            os.kill(demo.pid, signal.SIGTERM)
        else:
            os.write(demo.fd, b"\x03")  # Ctrl-C: the terminal sends SIGINT

        assert demo.wait(), "the demo did not exit"
        assert os.WIFEXITED(demo.status), demo.status
        left = sorted(p for p in pids if alive(p))
        assert left == [], f"still running after the demo: {left}"
        assert ns not in namespaces()
        assert not os.path.exists(os.path.join("/etc/netns", ns))
    finally:
        # Whatever a failing demo left behind goes (by PID: all of it was started here).
        demo.kill()
        for pid in pids:
            if alive(pid):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        if ns is not None and ns in namespaces():
            subprocess.run([IP, "netns", "delete", ns], check=False, timeout=30)
        if ns is not None:
            shutil.rmtree(os.path.join("/etc/netns", ns), ignore_errors=True)
