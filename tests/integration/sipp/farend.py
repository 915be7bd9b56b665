"""SIPp far ends for the call tests: one scenario of this folder run inside a network namespace,
always under `timeout`, with its SIP trace kept for assertions on what went over the wire."""

import os
import re
import shutil
import subprocess
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SIPP = os.environ.get("SIPP") or shutil.which("sipp") or "/usr/bin/sipp"
TIMEOUT = shutil.which("timeout") or "/usr/bin/timeout"
SS = shutil.which("ss") or "/usr/bin/ss"


def scenario(name):
    """Path of a scenario of this folder ("uas-answer" or "uas-answer.xml")."""
    if not name.endswith(".xml"):
        name += ".xml"
    return os.path.join(HERE, name)


class Sipp:
    """One SIPp process running one call of a scenario.

    A UAS (no remote) listens on local "ip:port"; a UAC (remote "ip:port", service = the DN to
    call) sends its INVITE there. keys become `-key name value` ([name] in the scenario).
    limit bounds the whole run (seconds, enforced by `timeout`)."""

    def __init__(self, netns, name, workdir, local, remote=None, service=None, keys=None,
                 args=(), limit=60):
        self.netns = netns
        self.name = name
        self.local_ip, self.local_port = local.rsplit(":", 1)
        self.remote = remote
        self.service = service
        self.keys = dict(keys or {})
        self.args = list(args)
        self.limit = limit
        tag = f"{name}-{self.local_ip}-{self.local_port}-{time.monotonic_ns()}"
        self.dir = os.path.join(str(workdir), tag)
        os.makedirs(self.dir, exist_ok=True)
        self.msg_path = os.path.join(self.dir, "messages.log")
        self.err_path = os.path.join(self.dir, "errors.log")
        self.out_path = os.path.join(self.dir, "sipp.out")
        self.proc = None
        self._out = None

    def command(self):
        cmd = [TIMEOUT, "-k", "2", str(self.limit), SIPP, "-sf", scenario(self.name),
               "-i", self.local_ip, "-p", self.local_port, "-mi", self.local_ip,
               "-m", "1", "-nostdin", "-nd",
               "-trace_msg", "-message_file", self.msg_path,
               "-trace_err", "-error_file", self.err_path]
        if self.service is not None:
            cmd += ["-s", str(self.service)]
        for k, v in self.keys.items():
            cmd += ["-key", str(k), str(v)]
        cmd += self.args
        if self.remote is not None:
            cmd.append(self.remote)
        return cmd

    def start(self, timeout=10):
        """Starts SIPp; a UAS is only returned once its SIP port is bound (bounded)."""
        self._out = open(self.out_path, "wb")
        self.proc = self.netns.popen(self.command(), stdout=self._out, stderr=subprocess.STDOUT,
                                     cwd=self.dir)
        if self.remote is None:
            self._wait_bound(timeout)
        return self

    def _wait_bound(self, timeout):
        deadline = time.monotonic() + timeout
        while True:
            res = self.netns.run([SS, "-Hlun", "src", f"{self.local_ip}:{self.local_port}"],
                                 check=False)
            if res.stdout.strip():
                return
            if self.proc.poll() is not None:
                raise RuntimeError(f"sipp {self.name} exited ({self.proc.returncode}):\n"
                                   f"{self.output()}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"sipp {self.name} did not bind {self.local_ip}:"
                                   f"{self.local_port}:\n{self.output()}")
            time.sleep(0.02)

    def wait(self, timeout=30):
        """Waits for SIPp to finish; returns its exit code (0: the call went as scripted)."""
        try:
            return self.proc.wait(timeout)
        finally:
            self._close()

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self):
        """Ends SIPp (by PID) if it still runs."""
        if self.running():
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self._close()

    def _close(self):
        if self._out is not None:
            self._out.close()
            self._out = None

    def output(self):
        text = ""
        for path in (self.out_path, self.err_path):
            try:
                with open(path, "rb") as f:
                    text += f.read().decode(errors="replace")
            except FileNotFoundError:
                pass
        return text

    def trace(self):
        """The SIP messages SIPp saw, in order: a list of (direction, text) where direction is
        "received" or "sent"."""
        try:
            with open(self.msg_path, "rb") as f:
                raw = f.read().decode(errors="replace")
        except FileNotFoundError:
            return []
        out = []
        for block in re.split(r"^-{10,}.*$", raw, flags=re.M):
            block = block.strip("\r\n")
            if not block:
                continue
            head, _, body = block.partition("\n")
            direction = "received" if "received" in head else "sent"
            out.append((direction, body.strip("\r\n")))
        return out

    def received(self, method=None):
        """Requests (or, with method=None, every message) SIPp received, as text."""
        msgs = [text for d, text in self.trace() if d == "received"]
        if method is None:
            return msgs
        return [m for m in msgs if m.split(" ", 1)[0] == method]

    def sent(self):
        return [text for d, text in self.trace() if d == "sent"]

    def __repr__(self):
        return f"<Sipp {self.name} {self.local_ip}:{self.local_port} in {self.dir}>"


def env_with_farends(env):
    """For a fixture: yields env (anything with close() and a list of Sipp in .sipps), then
    closes it and prints every far end's output, so a failing test shows what SIPp saw."""
    yield env
    env.close()
    for s in env.sipps:
        print(f"---- sipp {s!r} ----")
        print(s.output())
