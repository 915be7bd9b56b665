"""Drives a real softphoned for the integration tests: start/stop, sd_notify, JSON-RPC client."""

import collections
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time

_REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

SOFTPHONED = os.environ.get("SOFTPHONED") or os.path.join(_REPO, "build", "daemon", "softphoned")
SOFTPHONECTL = os.environ.get("SOFTPHONECTL") or os.path.join(_REPO, "build", "tools",
                                                              "softphonectl")

# Longest line the daemon accepts (newline excluded), its client and unsent-output limits.
MAX_LINE = 64 * 1024
MAX_CLIENTS = 64
MAX_UNSENT = 1024 * 1024

EX_CONFIG = 78


class RpcError(Exception):
    """A JSON-RPC error reply: code, message, kind (data.kind or None), data (or None)."""

    def __init__(self, code, message, data=None):
        super().__init__(f"{code} {message}" + (f" {data!r}" if data is not None else ""))
        self.code = code
        self.message = message
        self.data = data
        self.kind = data.get("kind") if isinstance(data, dict) else None


def _deadline(timeout):
    return time.monotonic() + timeout


class RpcClient:
    """One connection to the control socket, newline-delimited JSON both ways.

    Lines the daemon sends are read in order. call() waits for the reply with its id; events
    (notifications) that arrive meanwhile are queued for wait_event() and recorded in
    events_seen(); other replies are kept for recv_line().
    """

    def __init__(self, socket_path, timeout=10):
        self.socket_path = socket_path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(socket_path)
        self._buf = b""
        self._eof = False
        self._next_id = 1
        self._events = collections.deque()   # (name, params) not yet consumed by wait_event
        self._history = []                   # every (name, params) received, in order
        self._lines = collections.deque()    # raw lines read by call()/wait_event() for others

    # -- raw lines -------------------------------------------------------------------------

    def send_raw(self, data: bytes):
        """Sends bytes as they are (add the b"\\n" yourself)."""
        self.sock.sendall(data)

    def _read_line(self, deadline):
        """The next line from the socket (without its newline), None at EOF; TimeoutError."""
        while True:
            nl = self._buf.find(b"\n")
            if nl >= 0:
                line, self._buf = self._buf[:nl], self._buf[nl + 1:]
                return line
            if self._eof:
                if self._buf:
                    line, self._buf = self._buf, b""
                    return line
                return None
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no line from {self.socket_path} in time")
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                raise TimeoutError(f"no line from {self.socket_path} in time") from None
            except (ConnectionResetError, BrokenPipeError):
                chunk = b""
            if not chunk:
                self._eof = True
            self._buf += chunk

    def _note_event(self, msg):
        """Records msg if it is a notification; True if it was one."""
        if isinstance(msg, dict) and "method" in msg and "id" not in msg:
            ev = (msg["method"], msg.get("params"))
            self._history.append(ev)
            return ev
        return None

    def recv_line(self, timeout=10):
        """The next line the daemon sent (bytes, no newline), or None once the daemon closed
        the connection. Raises TimeoutError if nothing arrives in time. Events read here are
        recorded in events_seen() but not queued for wait_event()."""
        if self._lines:
            return self._lines.popleft()
        line = self._read_line(_deadline(timeout))
        if line is not None:
            try:
                self._note_event(json.loads(line))
            except ValueError:
                pass
        return line

    def recv_json(self, timeout=10):
        """recv_line() decoded; None at EOF."""
        line = self.recv_line(timeout)
        return None if line is None else json.loads(line)

    def wait_closed(self, timeout=10):
        """Reads (and drops) whatever comes until the daemon closes the connection; True if it
        did, False on timeout."""
        deadline = _deadline(timeout)
        self._lines.clear()
        self._buf = b""
        while not self._eof:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            self.sock.settimeout(left)
            try:
                if not self.sock.recv(65536):
                    self._eof = True
            except socket.timeout:
                return False
            except OSError:
                self._eof = True
        return True

    # -- JSON-RPC --------------------------------------------------------------------------

    def _dispatch(self, line):
        """Routes one line read while waiting: events to the queue. Returns the decoded
        message if it is a reply (something with an "id"), else None."""
        try:
            msg = json.loads(line)
        except ValueError:
            self._lines.append(line)
            return None
        ev = self._note_event(msg)
        if ev is not None:
            self._events.append(ev)
            return None
        return msg

    def call(self, method, params=None, timeout=10):
        """Calls method and returns its result, or raises RpcError. Events arriving meanwhile
        are queued, not lost."""
        rid = self._next_id
        self._next_id += 1
        req = {"jsonrpc": "2.0", "id": rid, "method": method}
        if params is not None:
            req["params"] = params
        self.send_raw(json.dumps(req).encode() + b"\n")
        deadline = _deadline(timeout)
        while True:
            line = self._read_line(deadline)
            if line is None:
                raise ConnectionError(f"daemon closed the connection during {method}")
            msg = self._dispatch(line)
            if msg is None:
                continue
            if not isinstance(msg, dict) or msg.get("id") != rid:
                self._lines.append(line)
                continue
            if "error" in msg:
                err = msg["error"]
                raise RpcError(err.get("code"), err.get("message"), err.get("data"))
            return msg.get("result")

    def notify(self, method, params=None):
        """Sends a JSON-RPC notification (no id; the daemon never replies)."""
        req = {"jsonrpc": "2.0", "method": method}
        if params is not None:
            req["params"] = params
        self.send_raw(json.dumps(req).encode() + b"\n")

    def subscribe(self, events=None):
        """Subscribes to every event, or only to the names in events."""
        return self.call("Subscribe", {"events": list(events)} if events is not None else None)

    def wait_event(self, name, pred=lambda params: True, timeout=30):
        """Waits for the next event called name whose params satisfy pred, and returns its
        params. Consumes that event only; the events it skipped stay queued."""
        deadline = _deadline(timeout)
        for i, (ev_name, params) in enumerate(self._events):
            if ev_name == name and pred(params):
                del self._events[i]
                return params
        while True:
            try:
                line = self._read_line(deadline)
            except TimeoutError:
                raise TimeoutError(f"no {name} event matching in {timeout}s; seen: "
                                   f"{self._history[-20:]!r}") from None
            if line is None:
                raise ConnectionError(f"daemon closed the connection while waiting for {name}")
            msg = self._dispatch(line)
            if msg is not None:
                self._lines.append(line)
                continue
            if self._events and self._events[-1][0] == name and pred(self._events[-1][1]):
                return self._events.pop()[1]

    def events_seen(self):
        """Every event received so far, in order, as (name, params)."""
        return list(self._history)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class Daemon:
    """One softphoned process run by a test, with its own config, socket and NOTIFY_SOCKET.

    config_text is written to tmp_path/softphoned.conf (an empty file when neither it nor
    config_path is given). netns runs the daemon under `ip netns exec NETNS`; args are added to
    its command line, env to its environment. socket_path defaults to a fresh short directory
    (which the daemon creates) under /tmp; wrapper is a command put before the daemon's (e.g.
    systemd-socket-activate). The daemon always gets --config, --socket and --log-level debug;
    its stdout and stderr go to tmp_path/softphoned.log (see log()).

    Without netns the NOTIFY_SOCKET is an abstract AF_UNIX datagram socket; with netns it is a
    socket file, since abstract names do not cross network namespaces.
    """

    def __init__(self, tmp_path, config_text=None, config_path=None, netns=None, args=(),
                 env=None, socket_path=None, wrapper=()):
        self.tmp_path = str(tmp_path)
        os.makedirs(self.tmp_path, exist_ok=True)
        if config_text is not None or config_path is None:
            config_path = os.path.join(self.tmp_path, "softphoned.conf")
            with open(config_path, "w", encoding="utf-8") as f:
                f.write(config_text or "")
        self.config_path = str(config_path)
        self.netns = netns
        self.args = list(args)
        self.env = dict(env or {})
        # The instance id (restart safety) is kept per test, not in the HOME of whoever runs it.
        self.env.setdefault("XDG_STATE_HOME", os.path.join(self.tmp_path, "state"))
        self.wrapper = list(wrapper)
        # Unix socket paths are short (108 bytes), pytest's tmp_path may not be.
        self._rundir = tempfile.mkdtemp(prefix="sp-")
        os.chmod(self._rundir, 0o755)
        self.socket_path = str(socket_path) if socket_path else os.path.join(
            self._rundir, "softphoned", "control")
        self.log_path = os.path.join(self.tmp_path, "softphoned.log")
        self.proc = None
        self.notifications = []
        self._notify_cond = threading.Condition()
        self._notify_sock = None
        self._notify_thread = None
        self._notify_stop = False
        self._clients = []

    # -- sd_notify --------------------------------------------------------------------------

    def _open_notify(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        if self.netns:
            addr = os.path.join(self._rundir, "notify")
            s.bind(addr)
            env_value = addr
        else:
            name = f"softphoned-test-{os.getpid()}-{id(self)}-{time.monotonic_ns()}"
            s.bind("\0" + name)
            env_value = "@" + name
        s.settimeout(0.2)
        self._notify_sock = s
        self._notify_thread = threading.Thread(target=self._notify_loop, daemon=True)
        self._notify_thread.start()
        return env_value

    def _notify_loop(self):
        while not self._notify_stop:
            try:
                data = self._notify_sock.recv(65536)
            except socket.timeout:
                continue
            except OSError:
                return
            if not data and self._notify_stop:
                return
            with self._notify_cond:
                self.notifications.append(data.decode(errors="replace"))
                self._notify_cond.notify_all()

    def _find_notify(self, prefix):
        for msg in self.notifications:
            for line in msg.split("\n"):
                if line.startswith(prefix):
                    return line
        return None

    def wait_notify(self, prefix, timeout=20):
        """The first sd_notify line received so far (or arriving within timeout) that starts
        with prefix, e.g. "READY=1" or "STATUS=2/2". Does not consume it."""
        deadline = _deadline(timeout)
        with self._notify_cond:
            while True:
                line = self._find_notify(prefix)
                if line is not None:
                    return line
                if self.proc is not None and self.proc.poll() is not None:
                    # Give the reader a last chance at datagrams sent just before exit.
                    self._notify_cond.wait(0.3)
                    line = self._find_notify(prefix)
                    if line is not None:
                        return line
                    raise RuntimeError(f"softphoned exited ({self.proc.returncode}) without "
                                       f"{prefix!r}; log:\n{self.log()}")
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"no {prefix!r} from softphoned in {timeout}s; got "
                                       f"{self.notifications!r}")
                self._notify_cond.wait(min(left, 0.2))

    # -- process ----------------------------------------------------------------------------

    def command(self):
        """The command line start() runs."""
        cmd = self.wrapper + [SOFTPHONED, "--config", self.config_path, "--socket",
                              self.socket_path, "--log-level", "debug"] + self.args
        if self.netns:
            cmd = ["ip", "netns", "exec", self.netns] + cmd
        return cmd

    def start(self, wait_ready=True, timeout=20):
        env = dict(os.environ)
        for k in ("LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES", "WATCHDOG_USEC", "WATCHDOG_PID"):
            env.pop(k, None)
        env["NOTIFY_SOCKET"] = self._open_notify()
        env.update(self.env)
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(self.command(), env=env, stdin=subprocess.DEVNULL,
                                     stdout=self._log, stderr=subprocess.STDOUT)
        if wait_ready:
            self.wait_notify("READY=1", timeout)
        return self

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    @property
    def returncode(self):
        return self.proc.poll() if self.proc else None

    def client(self, timeout=10):
        c = RpcClient(self.socket_path, timeout)
        self._clients.append(c)
        return c

    def stop(self, sig=signal.SIGTERM, timeout=15):
        """Sends sig and waits for the exit; returns the exit code (negative: killed by a
        signal). Raises subprocess.TimeoutExpired if the daemon does not exit in time."""
        for c in self._clients:
            c.close()
        self._clients = []
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        rc = self.proc.wait(timeout)
        self._close_notify()
        return rc

    def kill(self):
        """SIGKILL by PID and reap; for teardown when stop() hung."""
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)
        self._close_notify()

    def _close_notify(self):
        if self._notify_thread is not None:
            self._notify_stop = True
            try:
                # Wakes the reader's recv() at once (it would otherwise see the flag at its
                # next timeout); what is queued can still be read below.
                self._notify_sock.shutdown(socket.SHUT_RD)
            except OSError:
                pass
            self._notify_thread.join(5)
            self._notify_thread = None
        if self._notify_sock is not None:
            # The process has exited: whatever it sent is already queued in the kernel.
            self._notify_sock.setblocking(False)
            while True:
                try:
                    data = self._notify_sock.recv(65536)
                except OSError:
                    break
                with self._notify_cond:
                    self.notifications.append(data.decode(errors="replace"))
        if self._notify_sock is not None:
            self._notify_sock.close()
            self._notify_sock = None
        if getattr(self, "_log", None) is not None:
            self._log.close()
            self._log = None

    def cleanup(self):
        """Removes the short-path run directory; call after stop()/kill()."""
        shutil.rmtree(self._rundir, ignore_errors=True)

    def log(self):
        """The daemon's stdout and stderr so far."""
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode(errors="replace")
        except FileNotFoundError:
            return ""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        try:
            self.stop()
        except subprocess.TimeoutExpired:
            self.kill()
        self.cleanup()
