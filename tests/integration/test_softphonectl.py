"""softphonectl against a real softphoned: output formats, exit codes, the events stream."""

import json
import os
import re
import selectors
import signal
import socket
import subprocess
import threading
import time

import pytest

from softphoned import SOFTPHONECTL

# The site fixtures (netns, site_factory) for the test with a real call.
pytest_plugins = ["fixtures_sites"]

# Guards against a hung process, never an assertion about speed.
HANG_GUARD_S = 60

EXIT_OK = 0
EXIT_RPC_ERROR = 1
EXIT_USAGE = 2
EXIT_NO_DAEMON = 3
EXIT_LOST = 4


@pytest.fixture(scope="module", autouse=True)
def softphonectl_built():
    assert os.access(SOFTPHONECTL, os.X_OK), \
        f"{SOFTPHONECTL} is not built (set SOFTPHONECTL or build tools/softphonectl)"


def ctl(socket_path, *args, env=None):
    """Runs softphonectl --socket socket_path args...; returns the CompletedProcess."""
    cmd = [SOFTPHONECTL]
    if socket_path is not None:
        cmd += ["--socket", str(socket_path)]
    cmd += [str(a) for a in args]
    run_env = dict(os.environ)
    run_env.pop("SOFTPHONED_SOCKET", None)
    run_env.update(env or {})
    return subprocess.run(cmd, capture_output=True, text=True, timeout=HANG_GUARD_S,
                          env=run_env, stdin=subprocess.DEVNULL)


def free_udp_port():
    """A 127.0.0.1 UDP port that nobody listens on once this returns."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Stream:
    """A running `softphonectl events` (or another command), read line by line with a
    deadline."""

    def __init__(self, socket_path, *names, command=("events",)):
        self.proc = subprocess.Popen(
            [SOFTPHONECTL, "--socket", str(socket_path), *command, *names],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
        self._sel = selectors.DefaultSelector()
        self._sel.register(self.proc.stdout, selectors.EVENT_READ)
        self._buf = b""

    def readline(self, timeout=30):
        """The next line (bytes, no newline); None at EOF; TimeoutError if none in time."""
        deadline = time.monotonic() + timeout
        while b"\n" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0 or not self._sel.select(left):
                raise TimeoutError("softphonectl events printed nothing in time")
            chunk = os.read(self.proc.stdout.fileno(), 65536)
            if not chunk:
                if self._buf:
                    line, self._buf = self._buf, b""
                    return line
                return None
            self._buf += chunk
        line, self._buf = self._buf.split(b"\n", 1)
        return line

    def wait_event(self, name, pred=lambda p: True, timeout=30):
        """Params of the next event called name matching pred; others are skipped."""
        deadline = time.monotonic() + timeout
        while True:
            line = self.readline(max(deadline - time.monotonic(), 0))
            assert line is not None, "softphonectl events ended: " + self.stderr()
            msg = json.loads(line)
            assert "id" not in msg and msg.get("jsonrpc") == "2.0", line
            if msg["method"] == name and pred(msg["params"]):
                return msg["params"]

    def interrupt(self):
        """SIGINT, then the exit code."""
        self.proc.send_signal(signal.SIGINT)
        return self.proc.wait(HANG_GUARD_S)

    def stderr(self):
        if self.proc.poll() is None:
            return ""
        return self.proc.stderr.read().decode(errors="replace")

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(HANG_GUARD_S)
        self._sel.close()
        self.proc.stdout.close()
        self.proc.stderr.close()


def wait_subscribers(daemon, n, timeout=20):
    """Waits until the daemon counts n subscribers (so no event can be missed)."""
    deadline = time.monotonic() + timeout
    with daemon.client() as c:
        while True:
            status = c.call("GetStatus")
            if status["subscribers"] >= n:
                return
            assert time.monotonic() < deadline, f"subscribers stayed at {status['subscribers']}"
            time.sleep(0.05)


# ---- output formats ------------------------------------------------------------------------

def test_status_human(daemon):
    r = ctl(daemon.socket_path, "status")
    assert r.returncode == EXIT_OK, r.stderr
    assert re.search(r"^version:\s+\S+", r.stdout, re.M), r.stdout
    assert re.search(rf"^pid:\s+{daemon.pid}$", r.stdout, re.M), r.stdout
    assert r.stderr == ""


def test_status_json_is_one_line_for_jq(daemon):
    r = ctl(daemon.socket_path, "--json", "status")
    assert r.returncode == EXIT_OK, r.stderr
    assert r.stdout.count("\n") == 1
    status = json.loads(r.stdout)
    assert status["pid"] == daemon.pid
    jq = subprocess.run(["jq", "-e", "-r", ".version"], input=r.stdout, capture_output=True,
                        text=True, timeout=HANG_GUARD_S)
    assert jq.returncode == 0, jq.stderr
    assert jq.stdout.strip() == status["version"]


def test_options_after_the_command(daemon):
    r = ctl(None, "status", "--json", "--socket", daemon.socket_path)
    assert r.returncode == EXIT_OK, r.stderr
    assert json.loads(r.stdout)["pid"] == daemon.pid


def test_socket_from_environment(daemon):
    r = ctl(None, "--json", "status", env={"SOFTPHONED_SOCKET": daemon.socket_path})
    assert r.returncode == EXIT_OK, r.stderr
    assert json.loads(r.stdout)["pid"] == daemon.pid


def test_default_socket_under_xdg_runtime_dir(daemon):
    runtime = os.path.dirname(os.path.dirname(daemon.socket_path))
    assert daemon.socket_path == os.path.join(runtime, "softphoned", "control")
    r = ctl(None, "--json", "status", env={"XDG_RUNTIME_DIR": runtime})
    assert r.returncode == EXIT_OK, r.stderr
    assert json.loads(r.stdout)["pid"] == daemon.pid


def test_call_get_status(daemon):
    r = ctl(daemon.socket_path, "call", "GetStatus")
    assert r.returncode == EXIT_OK, r.stderr
    assert json.loads(r.stdout)["pid"] == daemon.pid
    r = ctl(daemon.socket_path, "--json", "call", "GetStatus", "{}")
    assert r.returncode == EXIT_OK, r.stderr
    assert json.loads(r.stdout)["pid"] == daemon.pid
    r = ctl(daemon.socket_path, "call", "Subscribe", '{"events": ["SessionStatusChanged"]}')
    assert r.returncode == EXIT_OK, r.stderr
    assert json.loads(r.stdout) is True


# ---- exit codes ----------------------------------------------------------------------------

def test_unknown_method_is_rpc_error(daemon):
    r = ctl(daemon.socket_path, "call", "NoSuchMethod")
    assert r.returncode == EXIT_RPC_ERROR
    assert r.stdout == ""
    assert re.fullmatch(r"softphonectl: .*NoSuchMethod.* \(-32601\)\n", r.stderr), r.stderr


def test_invalid_params_is_rpc_error(daemon):
    r = ctl(daemon.socket_path, "call", "GetStatus", '{"bogus": 1}')
    assert r.returncode == EXIT_RPC_ERROR
    assert re.fullmatch(r"softphonectl: .*bogus.* \(-32602\)\n", r.stderr), r.stderr
    r = ctl(daemon.socket_path, "events", "NoSuchEvent")
    assert r.returncode == EXIT_RPC_ERROR
    assert r.stderr.endswith("(-32602)\n"), r.stderr


def test_application_error_names_its_kind(daemon):
    # No connection 4000000000 and no session "no-such-session": NotFound once the phone
    # knows them, Unsupported while it does not; either way an error with a kind.
    for args in (["remove", "4000000000"], ["hangup", "no-such-session"]):
        r = ctl(daemon.socket_path, *args)
        assert r.returncode == EXIT_RPC_ERROR, (args, r.stdout, r.stderr)
        assert re.fullmatch(r"softphonectl: .+ \([A-Z][A-Za-z]+\)\n", r.stderr), r.stderr


@pytest.mark.parametrize("params", ["{", "[1,", '"text"', "42", "{} trailing", "null"])
def test_bad_json_params_is_usage_error(daemon, params):
    r = ctl(daemon.socket_path, "call", "GetStatus", params)
    assert r.returncode == EXIT_USAGE, (params, r.stderr)
    assert r.stderr.startswith("softphonectl: "), r.stderr
    assert r.stdout == ""


@pytest.mark.parametrize("args", [
    [],
    ["no-such-command"],
    ["status", "extra"],
    ["dial", "0"],
    ["dial", "zero", "5002"],
    ["dial", "-1", "5002"],
    ["enable", "4294967295"],
    ["add-connection", "5001"],
    ["add-connection", "5001", "127.0.0.1", "udp", "not-an-option"],
    ["add-connection", "5001", "127.0.0.1", "connectionId=x"],
    ["--timeout", "-1", "status"],
    ["--no-such-option", "status"],
])
def test_usage_errors(tmp_path, args):
    # No daemon needed: usage is checked before connecting.
    r = ctl(tmp_path / "absent", *args)
    assert r.returncode == EXIT_USAGE, (args, r.stderr)
    assert r.stderr.startswith("softphonectl: "), r.stderr


def test_help_documents_exit_codes(tmp_path):
    r = ctl(None, "--help")
    assert r.returncode == EXIT_OK
    for code in range(5):
        assert re.search(rf"^\s+{code}\s+\S", r.stdout, re.M), r.stdout
    for command in ("status", "connections", "sessions", "events", "call", "dial", "answer",
                    "hangup", "hold", "retrieve", "dtmf", "transfer", "add-connection",
                    "enable", "disable", "remove"):
        assert re.search(rf"^\s+{command}\b", r.stdout, re.M), command


def test_no_daemon(tmp_path):
    r = ctl(tmp_path / "absent", "status")
    assert r.returncode == EXIT_NO_DAEMON
    assert "absent" in r.stderr

    # A socket file nobody listens on: connection refused.
    dead = tmp_path / "dead"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.bind(str(dead))
        r = ctl(dead, "status")
    assert r.returncode == EXIT_NO_DAEMON, r.stderr

    r = ctl(None, "status", env={"XDG_RUNTIME_DIR": str(tmp_path)})
    assert r.returncode == EXIT_NO_DAEMON
    assert os.path.join(str(tmp_path), "softphoned", "control") in r.stderr


def test_no_reply_in_time_is_lost(tmp_path):
    # A listener that never accepts: the connection is queued, no reply ever comes.
    path = tmp_path / "mute"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.bind(str(path))
        s.listen(4)
        r = ctl(path, "--timeout", "0.2", "status")
    assert r.returncode == EXIT_LOST
    assert "no reply" in r.stderr


def test_daemon_gone_while_waiting_is_lost(daemon):
    stream = Stream(daemon.socket_path)
    try:
        wait_subscribers(daemon, 1)
        daemon.stop()
        assert stream.readline() is None
        assert stream.proc.wait(HANG_GUARD_S) == EXIT_LOST
        assert "closed" in stream.stderr()
    finally:
        stream.close()


# ---- a scripted peer: what the real daemon cannot be made to do on demand ------------------

def serve_once(path, script):
    """Accepts one client on path and runs script(conn, request) in a thread."""
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(str(path))
    srv.listen(1)

    def run():
        conn, _ = srv.accept()
        with conn, conn.makefile("rb") as f:
            script(conn, json.loads(f.readline()))
        srv.close()

    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t


def test_reply_found_among_events_and_other_ids(tmp_path):
    path = tmp_path / "peer"

    def script(conn, req):
        assert req["method"] == "GetConnections" and "params" not in req
        ev = {"jsonrpc": "2.0", "method": "ConnectionStatusChanged",
              "params": {"connectionId": 0, "status": "Registering"}}
        reply = {"jsonrpc": "2.0", "id": req["id"],
                 "result": [{"connectionId": 0, "status": "Ready", "user": "5001",
                             "server": "127.0.0.1:5060", "protocol": "udp", "code": 200,
                             "reason": "OK"}]}
        data = (json.dumps(ev) + "\n" + json.dumps({"jsonrpc": "2.0", "id": 99, "result": 1})
                + "\n\n" + json.dumps(reply) + "\n").encode()
        # The reply arrives split over several writes.
        for i in range(0, len(data), 7):
            conn.sendall(data[i:i + 7])

    t = serve_once(path, script)
    r = ctl(path, "connections")
    t.join(HANG_GUARD_S)
    assert r.returncode == EXIT_OK, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].split() == ["ID", "STATUS", "USER", "SERVER", "PROTOCOL", "CODE/REASON"]
    assert lines[1].split() == ["0", "Ready", "5001", "127.0.0.1:5060", "udp", "200", "OK"]
    assert len(lines) == 2


def test_error_with_null_id_ends_the_wait(tmp_path):
    path = tmp_path / "peer"

    def script(conn, req):
        conn.sendall(b'{"jsonrpc":"2.0","id":null,"error":{"code":-32003,'
                     b'"message":"too many control clients","data":{"kind":"Unavailable"}}}\n')

    t = serve_once(path, script)
    r = ctl(path, "status")
    t.join(HANG_GUARD_S)
    assert r.returncode == EXIT_RPC_ERROR
    assert r.stderr == "softphonectl: too many control clients (Unavailable)\n"


def test_garbage_reply_is_lost(tmp_path):
    path = tmp_path / "peer"
    t = serve_once(path, lambda conn, req: conn.sendall(b"this is not json\n"))
    r = ctl(path, "status")
    t.join(HANG_GUARD_S)
    assert r.returncode == EXIT_LOST


def test_shortcuts_send_spec_params(tmp_path):
    cases = [
        (["dial", "1", "5002"], "Dial", {"connectionId": 1, "destination": "5002"}),
        (["answer", "7"], "Answer", {"sessionId": "7"}),
        (["hangup", "7"], "Hangup", {"sessionId": "7"}),
        (["hold", "7"], "Hold", {"sessionId": "7"}),
        (["retrieve", "7"], "Retrieve", {"sessionId": "7"}),
        (["dtmf", "7", "12#"], "SendDtmf", {"sessionId": "7", "digits": "12#"}),
        (["transfer", "7", "sip:5003@b"], "Transfer",
         {"sessionId": "7", "destination": "sip:5003@b"}),
        (["add-connection", "5001", "h:5060"], "AddConnection",
         {"user": "5001", "server": "h:5060"}),
        (["add-connection", "5001", "h", "tcp", "connectionId=3", "reregisterInSeconds=60"],
         "AddConnection", {"user": "5001", "server": "h", "protocol": "tcp",
                           "connectionId": 3, "reregisterInSeconds": "60"}),
        (["enable", "2"], "EnableConnection", {"connectionId": 2}),
        (["disable", "2"], "DisableConnection", {"connectionId": 2}),
        (["remove", "2"], "RemoveConnection", {"connectionId": 2}),
        (["events"], "Subscribe", None),
        (["events", "SessionStatusChanged"], "Subscribe", {"events": ["SessionStatusChanged"]}),
        (["call", "Mute", "[true]"], "Mute", [True]),
    ]
    for i, (args, method, params) in enumerate(cases):
        path = tmp_path / f"peer{i}"
        seen = {}

        def script(conn, req, seen=seen):
            seen.update(req)
            conn.sendall(json.dumps({"jsonrpc": "2.0", "id": req["id"],
                                     "error": {"code": -32000, "message": "stop"}}).encode()
                         + b"\n")

        t = serve_once(path, script)
        r = ctl(path, *args)
        t.join(HANG_GUARD_S)
        assert r.returncode == EXIT_RPC_ERROR, (args, r.stderr)
        assert seen["jsonrpc"] == "2.0" and seen["method"] == method, (args, seen)
        assert seen.get("params") == params, (args, seen)


# ---- events and connections against the real daemon ----------------------------------------

def test_events_stream_connection_status_and_table(daemon):
    port = free_udp_port()
    server = f"127.0.0.1:{port}"
    stream = Stream(daemon.socket_path, "ConnectionStatusChanged")
    try:
        wait_subscribers(daemon, 1)

        r = ctl(daemon.socket_path, "--json", "add-connection", "5001", server, "udp",
                "connectionId=4")
        assert r.returncode == EXIT_OK, r.stderr
        added = json.loads(r.stdout)
        assert added["connectionId"] == 4
        assert added["server"] == server

        params = stream.wait_event("ConnectionStatusChanged",
                                   lambda p: p["connectionId"] == 4)
        assert params["user"] == "5001"
        assert params["server"] == server
        assert params["protocol"] == "udp"
        assert params["status"] in ("Registering", "Failed")

        r = ctl(daemon.socket_path, "connections")
        assert r.returncode == EXIT_OK, r.stderr
        lines = r.stdout.splitlines()
        assert lines[0].split() == ["ID", "STATUS", "USER", "SERVER", "PROTOCOL",
                                    "CODE/REASON"]
        rows = [line.split() for line in lines[1:]]
        assert any(row[0] == "4" and row[2] == "5001" and row[3] == server and row[4] == "udp"
                   for row in rows), r.stdout

        r = ctl(daemon.socket_path, "--json", "connections")
        assert r.returncode == EXIT_OK, r.stderr
        conns = json.loads(r.stdout)
        assert [c["server"] for c in conns if c["connectionId"] == 4] == [server]

        r = ctl(daemon.socket_path, "remove", "4")
        assert r.returncode == EXIT_OK, r.stderr
        assert r.stdout == ""
        stream.wait_event("ConnectionStatusChanged",
                          lambda p: p["connectionId"] == 4 and p["status"] == "Removed")

        assert stream.interrupt() == EXIT_OK
    finally:
        stream.close()


# ---- for people: colour on a terminal, watch, bash completion -------------------------------

SGR = re.compile(r"\x1b\[[0-9;]*m")
CLEAR = "\x1b[H\x1b[2J"
HIDE_CURSOR = "\x1b[?25l"
SHOW_CURSOR = "\x1b[?25h"
SOURCE = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
COMPLETION = os.path.join(SOURCE, "completion", "softphonectl")


class Tty:
    """softphonectl with its stdout on a pseudo-terminal, read with a deadline."""

    def __init__(self, *args, env=None):
        import pty
        master, slave = pty.openpty()
        run_env = dict(os.environ, TERM="xterm")
        run_env.pop("NO_COLOR", None)
        run_env.pop("SOFTPHONED_SOCKET", None)
        run_env.update(env or {})
        self.proc = subprocess.Popen([SOFTPHONECTL, *[str(a) for a in args]], stdout=slave,
                                     stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                                     env=run_env)
        os.close(slave)
        self.fd = master
        self._sel = selectors.DefaultSelector()
        self._sel.register(master, selectors.EVENT_READ)
        self.out = ""
        self._eof = False

    def _read(self, timeout):
        if self._eof or not self._sel.select(timeout):
            return False
        try:
            chunk = os.read(self.fd, 65536)
        except OSError:  # EIO: the child closed the terminal
            chunk = b""
        if not chunk:
            self._eof = True
            return False
        self.out += chunk.decode(errors="replace")
        return True

    def wait_for(self, pred, timeout=30):
        """Reads until pred(output so far) holds; TimeoutError if it never does."""
        deadline = time.monotonic() + timeout
        while not pred(self.out):
            left = deadline - time.monotonic()
            if left <= 0 or (not self._read(left) and self._eof):
                raise TimeoutError(f"softphonectl never showed it; output: {self.out!r}")
        return self.out

    def finish(self):
        """Reads to the end; the exit code."""
        rc = self.proc.wait(HANG_GUARD_S)
        while self._read(1):
            pass
        return rc

    def frames(self):
        """The views drawn so far (watch), without colour."""
        return [SGR.sub("", f) for f in self.out.split(CLEAR)[1:]]

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(HANG_GUARD_S)
        self._sel.close()
        os.close(self.fd)
        self.proc.stderr.close()


def tty_run(*args, env=None):
    """Runs softphonectl to its end on a terminal: (exit code, output with \\r\\n as \\n)."""
    t = Tty(*args, env=env)
    try:
        rc = t.finish()
        return rc, t.out.replace("\r\n", "\n")
    finally:
        t.close()


def add_unreachable_connection(daemon, cid):
    """A connection to a UDP port nobody listens on; returns its server."""
    server = f"127.0.0.1:{free_udp_port()}"
    r = ctl(daemon.socket_path, "add-connection", "5001", server, "udp", f"connectionId={cid}")
    assert r.returncode == EXIT_OK, r.stderr
    return server


def test_tables_coloured_on_a_terminal_plain_when_piped(daemon):
    server = add_unreachable_connection(daemon, 4)
    piped = ctl(daemon.socket_path, "connections")
    assert piped.returncode == EXIT_OK and "\x1b" not in piped.stdout, piped.stdout

    rc, out = tty_run("--socket", daemon.socket_path, "connections")
    assert rc == EXIT_OK
    lines = out.splitlines()
    assert lines[0].startswith("\x1b[1mID") and lines[0].endswith("\x1b[0m"), lines[0]
    row = next(line for line in lines if server in line)
    status = SGR.sub("", row).split()[1]
    colour = {"Registering": "33", "Failed": "31"}[status]
    assert f"\x1b[{colour}m{status}\x1b[0m" in row, row
    # Without the colour it is the piped table, columns aligned alike: the status starts
    # under STATUS on every line.
    plain = SGR.sub("", out)
    assert plain.splitlines()[0].split() == piped.stdout.splitlines()[0].split()
    col = plain.splitlines()[0].index("STATUS")
    for line in plain.splitlines()[1:]:
        assert line[col - 2:col] == "  " and line[col] != " ", (line, col)

    # --json is the same on a terminal and in a pipe; NO_COLOR and --color=never are plain;
    # --color=always colours a pipe.
    rc, out = tty_run("--socket", daemon.socket_path, "--json", "connections")
    assert rc == EXIT_OK and "\x1b" not in out
    assert out.count("\n") == 1
    on_tty = json.loads(out)
    piped = json.loads(ctl(daemon.socket_path, "--json", "connections").stdout)
    assert [sorted(c) for c in on_tty] == [sorted(c) for c in piped]
    assert [(c["connectionId"], c["server"]) for c in on_tty] == [(4, server)]
    for args, env in ((["connections"], {"NO_COLOR": "1"}),
                      (["--color", "never", "connections"], None),
                      (["connections"], {"TERM": "dumb"})):
        rc, out = tty_run("--socket", daemon.socket_path, *args, env=env)
        assert rc == EXIT_OK and "\x1b" not in out and server in out, (args, out)
    r = ctl(daemon.socket_path, "--color=always", "connections")
    assert r.returncode == EXIT_OK and "\x1b[1mID" in r.stdout
    r = ctl(daemon.socket_path, "--color", "sometimes", "connections")
    assert r.returncode == EXIT_USAGE and "--color" in r.stderr


def test_watch_redraws_on_events_and_ends_on_ctrl_c(daemon):
    t = Tty("--socket", daemon.socket_path, "watch")
    try:
        t.wait_for(lambda out: "(no calls)" in out)
        first = t.frames()[-1]
        assert "softphoned" in first and "0/0 sites ready, 0 calls" in first, first
        assert first.splitlines()[2] == "Connections"
        assert first.splitlines()[3].split() == ["ID", "STATUS", "USER", "SERVER",
                                                 "PROTOCOL", "CODE/REASON"]
        assert t.out.startswith(HIDE_CURSOR)

        # A connection added by someone else shows up, redrawn from its event.
        server = add_unreachable_connection(daemon, 4)
        t.wait_for(lambda out: server in SGR.sub("", out.split(CLEAR)[-1]))
        row = next(line for line in t.frames()[-1].splitlines() if server in line)
        assert row.split()[:5] == ["4", row.split()[1], "5001", server, "udp"]
        assert row.split()[1] in ("Registering", "Failed")
        assert "/1 sites ready" in t.frames()[-1]

        # And goes away when it is removed.
        assert ctl(daemon.socket_path, "remove", "4").returncode == EXIT_OK
        t.wait_for(lambda out: server not in out.split(CLEAR)[-1]
                   and "(no calls)" in out.split(CLEAR)[-1])

        t.proc.send_signal(signal.SIGINT)
        assert t.finish() == EXIT_OK
        assert t.out.endswith(SHOW_CURSOR + "\r\n"), t.out[-40:]
        assert t.proc.stderr.read() == b""
    finally:
        t.close()


def test_watch_fits_a_resized_terminal(daemon):
    """The view is drawn again when the terminal is resized (SIGWINCH), every line cut to its
    width, colour or not, so that a narrow terminal never wraps it."""
    import fcntl
    import struct
    import termios
    t = Tty("--socket", daemon.socket_path, "watch")
    try:
        t.wait_for(lambda out: "(no calls)" in out)
        wide = t.frames()[-1]
        assert max(len(line) for line in wide.splitlines()) > 30, wide
        fcntl.ioctl(t.fd, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 30, 0, 0))
        n = len(t.frames())
        # The child has no controlling terminal here, so the kernel's SIGWINCH is ours to send.
        t.proc.send_signal(signal.SIGWINCH)
        t.wait_for(lambda out: len(out.split(CLEAR)) - 1 > n and "Ctrl-C" in out.split(CLEAR)[-1])
        narrow = t.frames()[-1]
        lines = narrow.replace("\r", "").splitlines()
        assert all(len(line) <= 30 for line in lines), lines
        assert lines[0] == wide.replace("\r", "").splitlines()[0][:30]
        assert "Connections" in lines and "(no calls)" in lines
        # Colour codes were kept whole: nothing but SGR sequences left once they are removed.
        assert "\x1b" not in narrow
        t.proc.send_signal(signal.SIGINT)
        assert t.finish() == EXIT_OK
    finally:
        t.close()


def test_watch_ends_when_the_daemon_goes_away(daemon):
    t = Tty("--socket", daemon.socket_path, "watch")
    try:
        t.wait_for(lambda out: "(no calls)" in out)
        daemon.stop()
        assert t.finish() == EXIT_LOST
        assert t.out.endswith(SHOW_CURSOR + "\r\n")
        assert b"closed the connection" in t.proc.stderr.read()
    finally:
        t.close()


def test_watch_piped_prints_each_view_and_json_lines(daemon):
    plain = subprocess.Popen([SOFTPHONECTL, "--socket", daemon.socket_path, "watch"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             stdin=subprocess.DEVNULL)
    js = Stream(daemon.socket_path, command=("--json", "watch"))
    try:
        view = json.loads(js.readline())
        assert set(view) == {"status", "connections", "sessions"}
        assert view["connections"] == [] and view["sessions"] == []
        assert view["status"]["pid"] == daemon.pid
        wait_subscribers(daemon, 2)
        server = add_unreachable_connection(daemon, 7)
        while True:
            view = json.loads(js.readline())
            if view["connections"]:
                break
        assert [c["server"] for c in view["connections"]] == [server]

        assert js.interrupt() == EXIT_OK
        plain.send_signal(signal.SIGINT)
        out, err = plain.communicate(timeout=HANG_GUARD_S)
        assert plain.returncode == EXIT_OK, err
        text = out.decode()
        assert "\x1b" not in text
        views = text.split("\n\n" + "softphoned ")
        assert len(views) >= 2, text
        assert server in views[-1] and "Ctrl-C" not in text
    finally:
        js.close()
        if plain.poll() is None:
            plain.kill()
            plain.wait(HANG_GUARD_S)


def complete(*words, env=None):
    """What bash completes for softphonectl WORDS... (the last word is the one completed)."""
    script = ("source \"$COMPLETION\"\n"
              "COMP_WORDS=(softphonectl \"$@\"); COMP_CWORD=$#\n"
              "COMP_LINE=\"${COMP_WORDS[*]}\"; COMP_POINT=${#COMP_LINE}\n"
              "_softphonectl softphonectl \"${COMP_WORDS[COMP_CWORD]}\" "
              "\"${COMP_WORDS[COMP_CWORD-1]}\"\n"
              "printf '%s\\n' \"${COMPREPLY[@]}\"\n")
    run_env = dict(os.environ, COMPLETION=COMPLETION,
                   PATH=os.path.dirname(os.path.abspath(SOFTPHONECTL)) + ":"
                   + os.environ.get("PATH", "/usr/bin:/bin"))
    run_env.pop("SOFTPHONED_SOCKET", None)
    run_env.update(env or {})
    r = subprocess.run(["bash", "--norc", "--noprofile", "-c", script, "bash", *words],
                       capture_output=True, text=True, timeout=HANG_GUARD_S, env=run_env)
    assert r.returncode == 0 and r.stderr == "", r.stderr
    return sorted(line for line in r.stdout.splitlines() if line)


def test_completion_of_commands_and_options(tmp_path):
    # Every command of --help, and nothing else.
    r = ctl(None, "--help")
    listed = re.findall(r"^  ([a-z][a-z-]*)(?: |$)", r.stdout.split("Commands:")[1]
                        .split("\n\n")[0], re.M)
    assert "watch" in listed
    assert complete("") == sorted(listed + ["help"])
    assert complete("h") == ["hangup", "help", "hold"]
    assert complete("--col") == ["--color"]
    assert complete("--color", "") == ["always", "auto", "never"]
    assert complete("--json", "ev") == ["events"]
    assert complete("events", "Sess") == ["SessionStatusChanged"]
    assert complete("call", "GetS") == ["GetSessions", "GetStatus"]
    assert complete("add-connection", "5001", "h:5060", "t") == ["tcp", "tls"]
    assert complete("set-devices", "--ca") == ["--capture"]
    assert complete("set-devices", "--p") == ["--playback"]
    assert complete("dial", "--ca") == []
    # No daemon: nothing to offer, and nothing printed.
    absent = str(tmp_path / "absent")
    assert complete("--socket", absent, "answer", "") == []
    assert complete("--socket", absent, "enable", "") == []



def test_completion_and_watch_of_a_real_call(netns, site_factory, daemon_factory, tmp_path):
    from test_calls import Env
    env = Env(netns, site_factory, daemon_factory, tmp_path)
    try:
        env.start()
        sock = str(env.daemon.socket_path)
        t = Tty("--socket", sock, "watch")
        try:
            t.wait_for(lambda out: "2/2 sites ready, 0 calls" in SGR.sub("", out))
            env.farend("uas-ring")
            sid = env.dial("9001", 1)["sessionId"]
            env.wait_session("InProgress", sid)
            t.wait_for(lambda out: "1 call" in SGR.sub("", out.split(CLEAR)[-1])
                       and "InProgress" in out.split(CLEAR)[-1])
            frame = t.out.split(CLEAR)[-1]
            assert "\x1b[33mInProgress\x1b[0m" in frame
            sessions = SGR.sub("", frame).split("\nSessions\r\n")[1]
            assert sessions.splitlines()[0].split() == ["ID", "CONN", "STATUS", "DIRECTION",
                                                        "REMOTE", "REASON"]
            row = next(line for line in sessions.splitlines() if line.startswith(sid + " "))
            assert row.split()[:5] == [sid, "1", "InProgress", "outbound", "9001"], row
            t.proc.send_signal(signal.SIGINT)
            assert t.finish() == EXIT_OK
        finally:
            t.close()

        # Session ids and connection ids, from the daemon named on the command line or in
        # the environment.
        for cmd in ("answer", "hangup", "hold", "retrieve", "stats", "dtmf", "transfer"):
            assert complete("--socket", sock, cmd, "") == [sid], cmd
        assert complete(f"--socket={sock}", "hangup", sid[0]) == [sid]
        assert complete("hangup", "", env={"SOFTPHONED_SOCKET": sock}) == [sid]
        assert complete("--socket", sock, "dtmf", sid, "") == []
        for cmd in ("dial", "enable", "disable", "remove"):
            assert complete("-s", sock, cmd, "") == ["0", "1"], cmd
        assert complete("-s", sock, "dial", "0", "") == []
        env.hangup(sid)
    finally:
        env.close()
