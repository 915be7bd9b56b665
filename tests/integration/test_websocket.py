"""The WebSocket transport as a browser-based desktop and a script meet it: the same methods,
errors and events as the Unix socket; the Host and Origin checks and the token, in the
Authorization header or the first message; limits (message size, 64 clients, a reader that
does not keep up); the token file; the config's refusal of a non-loopback address; and the
Unix socket (softphonectl) going on beside it."""

import json
import os
import re
import shutil
import socket
import stat
import subprocess
import sys
import urllib.error
import urllib.request

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from sites import free_port  # noqa: E402
from softphoned import EX_CONFIG, MAX_CLIENTS, MAX_LINE, SOFTPHONECTL, SOFTPHONED  # noqa: E402
from wsclient import Closed, HandshakeRefused, WsClient  # noqa: E402

ADDR = "127.0.0.1"
DESKTOP = "https://agent.example.com"
POLICY_VIOLATION = 1008


def unused_udp_port():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((ADDR, 0))
        return s.getsockname()[1]


class Ws:
    """A daemon with the WebSocket on a free loopback port, DESKTOP allowed as an origin."""

    def __init__(self, daemon_factory, extra=""):
        self.port = free_port(addr=ADDR, proto="tcp")
        self.daemon = daemon_factory(
            config_text=f"[daemon]\nwebsocket={ADDR}:{self.port}\n"
            f"websocket-origins={DESKTOP}\n{extra}").start()
        self.token_path = os.path.join(os.path.dirname(self.daemon.socket_path),
                                       "websocket-token")
        with open(self.token_path, encoding="ascii") as f:
            self.token = f.read().strip()
        self.page_origin = f"http://{ADDR}:{self.port}"

    def client(self, **kw):
        return WsClient(ADDR, self.port, **kw)

    def authed(self, origin=DESKTOP):
        """A browser-like client: an allowed Origin, the token in its first message."""
        c = self.client(origin=origin)
        assert c.authenticate(self.token) == {"jsonrpc": "2.0", "id": 1, "result": True}
        return c

    def script(self):
        """A non-browser client: no Origin, the token in the Authorization header."""
        return self.client(token=self.token)


@pytest.fixture
def ws(daemon_factory):
    return Ws(daemon_factory)


def refused(ws, **kw):
    with pytest.raises(HandshakeRefused) as e:
        ws.client(**kw)
    return e.value


# ---- the token and the origin ----------------------------------------------------------------

def test_token_file_is_private_and_stable(ws, daemon_factory):
    st = os.stat(ws.token_path)
    assert stat.S_IMODE(st.st_mode) == 0o600 and st.st_uid == os.getuid()
    assert stat.S_IMODE(os.stat(os.path.dirname(ws.token_path)).st_mode) == 0o700
    assert len(ws.token) == 64 and int(ws.token, 16) >= 0
    # Never in the log, not even when a client presents a wrong one.
    refused(ws, token="0" * 64)
    c = ws.authed()
    c.close()
    log = ws.daemon.log()
    assert ws.token not in log and "0" * 64 not in log
    assert "wrong token" in log


def wait_clients(daemon, n):
    """Waits (bounded) until GetStatus counts n clients besides the Unix one asking."""
    unix = daemon.client()
    for _ in range(5000):
        if unix.call("GetStatus")["clients"] == n + 1:
            unix.close()
            return
    pytest.fail(f"never {n} clients")


def test_good_origin_and_token_in_first_message(ws):
    for origin in (DESKTOP, ws.page_origin, f"http://localhost:{ws.port}"):
        c = ws.authed(origin)
        assert c.result("GetStatus")["clients"] == 1
        c.close()
        wait_clients(ws.daemon, 0)


def test_bad_origin_refused_before_the_upgrade(ws):
    for origin in ("https://evil.example", DESKTOP + "/", "HTTPS://agent.example.com",
                   "null", f"http://127.0.0.2:{ws.port}"):
        e = refused(ws, origin=origin, token=ws.token)
        assert e.status == 403 and "origin" in e.body
    assert "origin \\\"https://evil.example\\\" is not allowed" in ws.daemon.log() or \
        'origin "https://evil.example" is not allowed' in ws.daemon.log()


def test_no_origin_needs_the_token_in_the_header(ws):
    e = refused(ws)
    assert e.status == 401 and "Authorization: Bearer" in e.body
    e = refused(ws, token="not-the-token-but-long-enough")
    assert e.status == 401
    c = ws.script()
    assert c.result("GetStatus")["version"]
    # Already authenticated: Authenticate again with the right token is fine.
    assert c.authenticate(ws.token)["result"] is True


def test_browser_without_token_or_with_a_bad_one(ws):
    c = ws.client(origin=DESKTOP)
    reply = c.call("GetStatus")
    assert reply["error"]["code"] == -32006 and reply["error"]["data"]["kind"] == "Unauthorized"
    assert c.wait_closed() == POLICY_VIOLATION

    c = ws.client(origin=DESKTOP)
    reply = c.authenticate("x" * 64)
    assert reply["id"] == 1 and reply["error"]["data"]["kind"] == "Unauthorized"
    assert c.wait_closed() == POLICY_VIOLATION

    c = ws.client(origin=DESKTOP)
    reply = c.call("Authenticate", {"token": 5})
    assert reply["error"]["data"]["kind"] == "Unauthorized"
    assert c.wait_closed() == POLICY_VIOLATION

    # A bad token in the header of a browser-like client: refused before the upgrade.
    assert refused(ws, origin=DESKTOP, token="y" * 64).status == 401


def test_silent_client_is_closed_after_the_auth_timeout(ws):
    c = ws.client(origin=DESKTOP)
    assert c.wait_closed(timeout=30) == POLICY_VIOLATION
    assert "no Authenticate within" in ws.daemon.log()


def test_unknown_host_refused(ws):
    """DNS rebinding: a page of evil.example resolved to 127.0.0.1 sends its own Host."""
    e = refused(ws, host=f"evil.example:{ws.port}", origin=f"http://evil.example:{ws.port}")
    assert e.status == 403
    req = urllib.request.Request(f"http://{ADDR}:{ws.port}/",
                                 headers={"Host": f"evil.example:{ws.port}"})
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(req, timeout=10)
    assert err.value.code == 403


def test_page_served_without_secrets_or_cors(ws):
    for path, ctype in (("/", "text/html"), ("/app.js", "text/javascript"),
                        ("/style.css", "text/css")):
        with urllib.request.urlopen(f"http://{ADDR}:{ws.port}{path}", timeout=10) as r:
            body = r.read().decode()
            assert r.status == 200 and r.headers["Content-Type"].startswith(ctype)
            assert ws.token not in body
            assert r.headers["X-Frame-Options"] == "DENY"
            assert "frame-ancestors 'none'" in r.headers["Content-Security-Policy"]
            assert r.headers.get("Access-Control-Allow-Origin") is None
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(f"http://{ADDR}:{ws.port}/websocket-token", timeout=10)
    assert err.value.code == 404
    # No request body is ever read: the connection is cut off on its headers.
    for path in ("/", "/rpc"):
        for head in ("Content-Length: 99999999999", "Transfer-Encoding: chunked"):
            with socket.create_connection((ADDR, ws.port), timeout=10) as s:
                s.sendall(f"POST {path} HTTP/1.1\r\nHost: {ADDR}:{ws.port}\r\n"
                          f"{head}\r\n\r\n".encode())
                assert s.recv(4096) == b""
    with urllib.request.urlopen(f"http://{ADDR}:{ws.port}/", timeout=10) as r:
        assert r.status == 200
    # Only GET.
    req = urllib.request.Request(f"http://{ADDR}:{ws.port}/", method="DELETE")
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(req, timeout=10)
    assert err.value.code == 405
    # /rpc is only a WebSocket.
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(f"http://{ADDR}:{ws.port}/rpc", timeout=10)
    assert err.value.code in (400, 401, 403)


# ---- one protocol, two transports ------------------------------------------------------------

def first_reply(recv):
    """The next message recv() returns that is not an event: both clients are subscribed, and
    connection 7's later status changes may arrive between a raw request and its reply."""
    while True:
        msg = recv()
        if not (isinstance(msg, dict) and "method" in msg and "id" not in msg):
            return msg


def test_same_methods_errors_and_events_as_the_unix_socket(ws):
    c = ws.authed()
    unix = ws.daemon.client()
    assert c.result("Subscribe") is True
    unix.subscribe()
    port = unused_udp_port()
    added = c.result("AddConnection", {"connectionId": 7, "user": "5001",
                                       "server": f"{ADDR}:{port}"})
    assert added["connectionId"] == 7
    ev_ws = c.wait_event("ConnectionStatusChanged", lambda p: p["connectionId"] == 7)
    ev_unix = unix.wait_event("ConnectionStatusChanged", lambda p: p["connectionId"] == 7)
    assert ev_ws == ev_unix
    assert c.result("GetConnections") == unix.call("GetConnections") or \
        [x["connectionId"] for x in c.result("GetConnections")] == [7]
    # The same errors: codes, messages and kinds.
    for method, params in (("Hangup", {"sessionId": "99"}), ("NoSuchMethod", None),
                           ("Dial", {"connectionId": "x"})):
        err_ws = c.call(method, params)["error"]
        unix_line = json.dumps({"jsonrpc": "2.0", "id": 5, "method": method,
                                **({"params": params} if params else {})}).encode() + b"\n"
        unix.send_raw(unix_line)
        err_unix = first_reply(unix.recv_json)["error"]
        assert err_ws == err_unix
    # Parse errors and batches.
    c.send_text("{not json")
    assert first_reply(c.recv_json)["error"]["code"] == -32700
    c.send_text(json.dumps([{"jsonrpc": "2.0", "id": "a", "method": "GetStatus"},
                            {"jsonrpc": "2.0", "method": "GetStatus"}]))
    batch = first_reply(c.recv_json)
    assert isinstance(batch, list) and len(batch) == 1 and batch[0]["id"] == "a"
    # GetStatus counts the clients and subscribers of both transports.
    st = unix.call("GetStatus")
    assert st["clients"] == 2 and st["subscribers"] == 2
    assert c.result("RemoveConnection", {"connectionId": 7}) is True
    c.wait_event("ConnectionStatusChanged", lambda p: p["status"] == "Removed")


def test_unsubscribed_client_gets_no_events(ws):
    quiet = ws.authed()
    loud = ws.script()
    loud.result("Subscribe", {"events": ["ConnectionStatusChanged"]})
    loud.result("AddConnection", {"connectionId": 3, "user": "5001",
                                  "server": f"{ADDR}:{unused_udp_port()}"})
    loud.wait_event("ConnectionStatusChanged")
    # quiet's next reply is the very next thing it receives: no event before it.
    assert quiet.call("GetStatus")["id"] == 2


def test_binary_message_closes_only_that_client(ws):
    other = ws.authed()
    c = ws.authed()
    c.send_frame(0x2, b'{"jsonrpc":"2.0","id":1,"method":"GetStatus"}')
    assert c.wait_closed() == 1003
    wait_clients(ws.daemon, 1)
    assert other.result("GetStatus")["version"]


def test_softphonectl_keeps_using_the_unix_socket(ws):
    out = subprocess.run([SOFTPHONECTL, "--socket", ws.daemon.socket_path, "--json", "status"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
    assert out.returncode == 0, out.stderr
    c = ws.authed()
    assert c.result("GetStatus")["pid"] == ws.daemon.pid


# ---- limits ------------------------------------------------------------------------------------

def test_oversized_message_closes_only_that_client(ws):
    other = ws.authed()
    c = ws.authed()
    # The longest text accepted is the longest line of the Unix socket.
    pad = " " * (MAX_LINE - len('{"jsonrpc":"2.0","id":2,"method":"GetStatus"}'))
    c.send_text('{"jsonrpc":"2.0","id":2,"method":"GetStatus"}' + pad)
    assert c.recv_json()["id"] == 2
    try:
        c.send_text("[" + " " * MAX_LINE + "]")
    except (BrokenPipeError, ConnectionResetError):
        pass
    assert c.wait_closed() in (1009, None)
    assert "larger than" in ws.daemon.log()
    wait_clients(ws.daemon, 1)
    assert other.result("GetStatus")["version"]


def test_fragmented_oversized_message(ws):
    """Fragments each below the limit, together above it: an error reply, then the close."""
    other = ws.authed()
    c = ws.authed()
    c.send_frame(0x1, b"[" + b" " * 40000, fin=False)
    c.send_frame(0x0, b" " * 40000 + b"]", fin=True)
    reply = c.recv_json()
    assert reply["id"] is None and reply["error"]["code"] == -32600
    assert "longer than 65536" in reply["error"]["message"]
    assert c.wait_closed() == 1009
    wait_clients(ws.daemon, 1)
    assert other.result("GetStatus")["version"]


def test_endless_fragments_are_cut_off(ws):
    """A message that never ends is not held without bound: the client is closed."""
    other = ws.authed()
    c = ws.authed()
    c.send_frame(0x1, b"[", fin=False)
    try:
        for _ in range(1000):
            c.send_frame(0x0, b" " * 1024, fin=False)
    except (BrokenPipeError, ConnectionResetError):
        pass
    else:
        c.wait_closed()  # a TimeoutError if the daemon kept taking them
    assert "without a complete message" in ws.daemon.log()
    wait_clients(ws.daemon, 1)
    assert other.result("GetStatus")["version"]


def test_65_clients(ws):
    clients = []
    try:
        for i in range(MAX_CLIENTS):
            clients.append(ws.authed() if i % 2 else ws.script())
        e = refused(ws, token=ws.token)
        assert e.status == 503
        e = refused(ws, origin=DESKTOP)
        assert e.status == 503
        for c in clients:
            assert c.result("GetStatus")["clients"] == MAX_CLIENTS
        # The Unix socket has its own 64 places.
        unix = ws.daemon.client()
        assert unix.call("GetStatus")["clients"] == MAX_CLIENTS + 1
        unix.close()
        # A place freed is a place taken.
        clients.pop().close()
        wait_clients(ws.daemon, MAX_CLIENTS - 1)
        clients.append(ws.script())
        # The Unix client wait_clients asked with may not be counted out yet.
        assert clients[-1].result("GetStatus")["clients"] in (MAX_CLIENTS, MAX_CLIENTS + 1)
    finally:
        for c in clients:
            c.close()


def test_slow_reader_closed_others_go_on(ws):
    """A subscriber that never reads is closed once 1 MiB waits for it; the daemon goes on."""
    slow = ws.client(token=ws.token, rcvbuf=4096)
    assert slow.result("Subscribe") is True
    fast = ws.authed()
    fast.result("Subscribe", {"events": ["SessionStatusChanged"]})
    ctl = ws.daemon.client()
    port = unused_udp_port()
    user = "5" * 200
    for i in range(5000):
        ctl.call("AddConnection", {"connectionId": 1000 + i, "user": user,
                                   "server": f"{ADDR}:{port}"})
        ctl.call("RemoveConnection", {"connectionId": 1000 + i})
        if ctl.call("GetStatus")["subscribers"] == 1:
            break
    else:
        pytest.fail("the slow WebSocket subscriber was never closed")
    assert re.search(r"websocket client \d+: more than 1048576 bytes of output not taken",
                     ws.daemon.log())
    assert fast.result("GetStatus")["subscribers"] == 1
    assert slow.wait_closed(timeout=60) in (POLICY_VIOLATION, None)
    slow.close()


# ---- configuration -----------------------------------------------------------------------------

@pytest.mark.parametrize("value", ["0.0.0.0:8088", "192.168.1.10:8088", "[::]:8088",
                                   "localhost:8088", "127.0.0.1", "127.0.0.1:0",
                                   "127.0.0.1:70000", "[::1:8088"])
def test_non_loopback_address_is_a_config_error(tmp_path, value):
    conf = tmp_path / "c.conf"
    conf.write_text(f"[daemon]\nwebsocket={value}\n")
    out = subprocess.run([SOFTPHONED, "--check-config", "--config", str(conf)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
    assert out.returncode == EX_CONFIG
    err = out.stderr.decode()
    assert f"{conf}:2" in err and "websocket" in err


@pytest.mark.parametrize("value", ["agent.example.com", "https://agent.example.com/",
                                   "https://agent.example.com/path", "ftp://x"])
def test_bad_origin_is_a_config_error(tmp_path, value):
    conf = tmp_path / "c.conf"
    conf.write_text(f"[daemon]\nwebsocket=127.0.0.1:8088\nwebsocket-origins={value}\n")
    out = subprocess.run([SOFTPHONED, "--check-config", "--config", str(conf)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
    assert out.returncode == EX_CONFIG
    assert "websocket-origins" in out.stderr.decode()


def test_token_file_readable_by_others_is_refused(daemon_factory, tmp_path):
    token_file = tmp_path / "tok"
    token_file.write_text("a" * 40 + "\n")
    os.chmod(token_file, 0o644)
    port = free_port(addr=ADDR, proto="tcp")
    d = daemon_factory(config_text=f"[daemon]\nwebsocket={ADDR}:{port}\n"
                       f"websocket-token-file={token_file}\n")
    d.start(wait_ready=False)
    assert d.proc.wait(30) != 0
    assert "only we may read" in d.log() and "a" * 40 not in d.log()


def test_token_file_and_credential(daemon_factory, tmp_path):
    token_file = tmp_path / "tok"
    token_file.write_text("b" * 40 + "\n")
    os.chmod(token_file, 0o600)
    port = free_port(addr=ADDR, proto="tcp")
    d = daemon_factory(config_text=f"[daemon]\nwebsocket={ADDR}:{port}\n"
                       f"websocket-token-file={token_file}\n").start()
    c = WsClient(ADDR, port, token="b" * 40)
    assert c.result("GetStatus")["pid"] == d.pid
    c.close()
    d.stop()

    creds = tmp_path / "creds"
    creds.mkdir()
    (creds / "softphoned-websocket-token").write_text("c" * 40)
    port = free_port(addr=ADDR, proto="tcp")
    d = daemon_factory(config_text=f"[daemon]\nwebsocket={ADDR}:{port}\n",
                       env={"CREDENTIALS_DIRECTORY": str(creds)}).start()
    assert refused_status(port, "b" * 40) == 401
    c = WsClient(ADDR, port, token="c" * 40)
    assert c.result("GetStatus")["pid"] == d.pid
    assert "systemd credential" in d.log()


def refused_status(port, token):
    try:
        WsClient(ADDR, port, token=token)
    except HandshakeRefused as e:
        return e.status
    return 101


def test_off_by_default(daemon):
    assert "WebSocket" not in daemon.log()
    assert not os.path.exists(os.path.join(os.path.dirname(daemon.socket_path),
                                           "websocket-token"))


def test_failed_handshakes_do_not_disturb_others(ws):
    """Refused upgrades, garbage, and a client that goes away mid-request: a subscriber in
    the middle of it all keeps its replies and its events."""
    sub = ws.authed()
    assert sub.result("Subscribe", {"events": ["ConnectionStatusChanged"]}) is True
    for kw in ({"origin": "https://evil.example"}, {}, {"token": "z" * 64},
               {"origin": DESKTOP, "token": "z" * 64}):
        refused(ws, **kw)
    for junk in (b"\x00\xff\xfe garbage\r\n\r\n", b"GET /rpc HTTP/1.1\r\nHost: ",
                 b"GET /rpc HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999\r\n\r\n"):
        with socket.create_connection((ADDR, ws.port), timeout=10) as s:
            s.sendall(junk)
    half = ws.client(origin=DESKTOP)
    half.send_frame(0x1, b'{"jsonrpc":"2.0","id":1,"met', fin=False)
    half.close()
    sub.result("AddConnection", {"connectionId": 9, "user": "5001",
                                 "server": f"{ADDR}:{unused_udp_port()}"})
    assert sub.wait_event("ConnectionStatusChanged",
                          lambda p: p["connectionId"] == 9)["user"] == "5001"
    wait_clients(ws.daemon, 1)
    assert sub.result("GetStatus")["subscribers"] == 1


def mapped_libraries(pid):
    with open(f"/proc/{pid}/maps", encoding="ascii", errors="replace") as f:
        return {line.split()[-1] for line in f if "/" in line}


def test_libsoup_is_loaded_only_with_a_websocket(daemon_factory):
    """The transport is a module: a daemon without websocket= never maps libsoup."""
    plain = daemon_factory(config_text="[daemon]\n").start()
    assert not [p for p in mapped_libraries(plain.pid) if "libsoup" in p]
    ws = Ws(daemon_factory)
    assert [p for p in mapped_libraries(ws.daemon.pid) if "libsoup" in p]
    assert [p for p in mapped_libraries(ws.daemon.pid) if p.endswith("/websocket.so")]


def test_a_missing_websocket_module_is_a_clear_error(tmp_path):
    """A daemon copied out of its build tree looks in the installed module directory, where
    nothing is: it says so and exits, rather than running without the configured transport."""
    (tmp_path / "bin").mkdir()
    exe = tmp_path / "bin" / "softphoned"
    shutil.copy(SOFTPHONED, exe)
    conf = tmp_path / "c.conf"
    conf.write_text(f"[daemon]\nwebsocket={ADDR}:{free_port(addr=ADDR, proto='tcp')}\n")
    out = subprocess.run([str(exe), "--config", str(conf), "--socket", str(tmp_path / "s")],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60,
                         env=dict(os.environ, XDG_STATE_HOME=str(tmp_path)))
    err = out.stderr.decode()
    assert out.returncode == 69, err
    assert "cannot load the WebSocket module" in err and "websocket.so" in err, err
