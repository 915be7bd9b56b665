"""The control socket as a user meets it: framing, errors, limits, events, access, lifecycle."""

import json
import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
import time

import pytest

from softphoned import (EX_CONFIG, MAX_CLIENTS, MAX_LINE, SOFTPHONED, RpcClient, RpcError)

GET_STATUS = b'{"jsonrpc":"2.0","id":1,"method":"GetStatus"}\n'


def unused_udp_port():
    """A port on 127.0.0.1 that nobody listens on (SIP to it gets ICMP errors)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def error_of(line):
    msg = json.loads(line)
    assert msg["jsonrpc"] == "2.0"
    assert "result" not in msg
    return msg["id"], msg["error"]


# ---- start-up and the socket file ------------------------------------------------------------

def test_ready_notified(daemon):
    assert daemon.wait_notify("READY=1") == "READY=1"
    assert daemon.wait_notify("MAINPID=") == f"MAINPID={daemon.pid}"
    assert daemon.wait_notify("STATUS=").startswith("STATUS=")


def test_socket_and_directory_modes(daemon):
    st = os.lstat(daemon.socket_path)
    assert stat.S_ISSOCK(st.st_mode)
    assert stat.S_IMODE(st.st_mode) == 0o600
    st = os.stat(os.path.dirname(daemon.socket_path))
    assert stat.S_IMODE(st.st_mode) == 0o700
    assert st.st_uid == os.getuid()


def test_stale_socket_replaced(daemon_factory):
    d = daemon_factory(config_text="")
    os.makedirs(os.path.dirname(d.socket_path), mode=0o700)
    # What a killed daemon leaves behind: a socket file nobody listens on.
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(d.socket_path)
    s.close()
    d.start()
    with d.client() as c:
        assert c.call("GetStatus")["pid"] == d.pid
    assert "stale" in d.log()


def test_live_socket_not_stolen(daemon, daemon_factory):
    second = daemon_factory(config_text="", socket_path=daemon.socket_path)
    second.start(wait_ready=False)
    rc = second.proc.wait(20)
    assert rc != 0
    assert "listens on" in second.log() or "already running" in second.log()
    # The first daemon keeps its socket.
    with daemon.client() as c:
        assert c.call("GetStatus")["pid"] == daemon.pid


def test_socket_activation(daemon_factory, tmp_path):
    path = os.path.join(str(tmp_path), "activated.sock")
    d = daemon_factory(config_text="", wrapper=[
        shutil.which("systemd-socket-activate"), "-l", path, "-E", "NOTIFY_SOCKET"])
    d.start(wait_ready=False)
    # The activator binds first and starts the daemon on the first connection.
    deadline = time.monotonic() + 20
    while not os.path.exists(path):
        assert d.proc.poll() is None, d.log()
        assert time.monotonic() < deadline, "systemd-socket-activate did not bind"
        time.sleep(0.05)
    with RpcClient(path) as c:
        status = c.call("GetStatus", timeout=20)
    assert status["pid"] == d.pid
    d.wait_notify("READY=1")
    assert "activated socket" in d.log()
    # --socket was ignored: nothing was bound there.
    assert not os.path.exists(d.socket_path)
    assert d.stop() == 0


# ---- requests through the socket -------------------------------------------------------------

def test_get_status_raw_line(daemon):
    with daemon.client() as c:
        c.send_raw(GET_STATUS)
        reply = json.loads(c.recv_line())
    assert reply["jsonrpc"] == "2.0"
    assert reply["id"] == 1
    result = reply["result"]
    assert result["pid"] == daemon.pid
    assert result["version"]
    assert result["clients"] == 1
    assert result["subscribers"] == 0
    assert isinstance(result["uptimeS"], int)


def test_socat(daemon):
    out = subprocess.run(["socat", "-t", "5", "-", "UNIX-CONNECT:" + daemon.socket_path],
                         input=GET_STATUS, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         timeout=30, check=True).stdout
    lines = out.splitlines()
    assert len(lines) == 1
    assert json.loads(lines[0])["result"]["pid"] == daemon.pid


def test_crlf_and_split_lines(daemon):
    with daemon.client() as c:
        c.send_raw(GET_STATUS[:-1] + b"\r\n")
        assert json.loads(c.recv_line())["id"] == 1
        half = len(GET_STATUS) // 2
        c.send_raw(GET_STATUS[:half])
        c.send_raw(GET_STATUS[half:] + GET_STATUS)
        assert json.loads(c.recv_line())["id"] == 1
        assert json.loads(c.recv_line())["id"] == 1


@pytest.mark.parametrize("line,code,reply_id", [
    (b'{"jsonrpc":"2.0","id":1,"method":"GetStatus"', -32700, None),
    (b'{"jsonrpc":"2.0","id":1,"method":"GetStatus"} trailing', -32700, None),
    (b'{"jsonrpc":"2.0","id":"\xff","method":"GetStatus"}', -32700, None),
    (b"{'jsonrpc':'2.0','id':1,'method':'GetStatus'}", -32700, None),
    (b'[]', -32600, None),
    (b'42', -32600, None),
    (b'{"jsonrpc":"1.0","id":2,"method":"GetStatus"}', -32600, 2),
    (b'{"jsonrpc":"2.0","id":3,"method":7}', -32600, 3),
    (b'{"jsonrpc":"2.0","id":{"a":1},"method":"GetStatus"}', -32600, None),
    (b'{"jsonrpc":"2.0","id":4,"method":"GetStatus","params":"x"}', -32600, 4),
    (b'{"jsonrpc":"2.0","id":5,"method":"NoSuchMethod"}', -32601, 5),
    (b'{"jsonrpc":"2.0","id":6,"method":"GetStatus","params":{"x":1}}', -32602, 6),
    (b'{"jsonrpc":"2.0","id":7,"method":"Dial","params":{"connectionId":-1,'
     b'"destination":"5002"}}', -32602, 7),
    (b'{"jsonrpc":"2.0","id":8,"method":"SendDtmf","params":["1","12X"]}', -32602, 8),
    (b'{"jsonrpc":"2.0","id":9,"method":"Subscribe","params":{"events":["Nope"]}}', -32602, 9),
])
def test_protocol_errors(daemon, line, code, reply_id):
    with daemon.client() as c:
        c.send_raw(line + b"\n")
        rid, err = error_of(c.recv_line())
        assert err["code"] == code
        assert rid == reply_id
        assert err["message"]
        # The connection goes on.
        assert c.call("GetStatus")["pid"] == daemon.pid


def test_application_errors(daemon):
    """-32000..-32099 with a stable data.kind: NotFound and Exists here; Unavailable below
    (too many clients)."""
    port = unused_udp_port()
    with daemon.client() as c:
        with pytest.raises(RpcError) as e:
            c.call("RemoveConnection", {"connectionId": 4242})
        assert (e.value.code, e.value.kind) == (-32001, "NotFound")
        assert -32099 <= e.value.code <= -32000

        c.call("AddConnection", {"connectionId": 7, "user": "5001",
                                 "server": f"127.0.0.1:{port}"})
        with pytest.raises(RpcError) as e:
            c.call("AddConnection", {"connectionId": 7, "user": "5001",
                                     "server": f"127.0.0.1:{port}"})
        assert (e.value.code, e.value.kind) == (-32004, "Exists")
        assert c.call("RemoveConnection", {"connectionId": 7}) is True


def test_batch(daemon):
    with daemon.client() as c:
        c.send_raw(b'[{"jsonrpc":"2.0","id":1,"method":"GetStatus"},'
                   b'{"jsonrpc":"2.0","method":"GetStatus"},'
                   b'{"jsonrpc":"2.0","id":2,"method":"NoSuchMethod"},'
                   b'7,'
                   b'{"jsonrpc":"2.0","id":3,"method":"Unsubscribe","params":[]}]\n')
        replies = json.loads(c.recv_line())
        assert [r["id"] for r in replies] == [1, 2, None, 3]
        assert replies[0]["result"]["pid"] == daemon.pid
        assert replies[1]["error"]["code"] == -32601
        assert replies[2]["error"]["code"] == -32600
        assert replies[3]["result"] is True

        # A batch of notifications only: no reply at all, so the next line answers the next
        # request.
        c.send_raw(b'[{"jsonrpc":"2.0","method":"GetStatus"},'
                   b'{"jsonrpc":"2.0","method":"NoSuchMethod"}]\n')
        c.send_raw(b'{"jsonrpc":"2.0","id":"after","method":"GetStatus"}\n')
        assert json.loads(c.recv_line())["id"] == "after"


def test_notification_gets_no_reply(daemon):
    with daemon.client() as c:
        c.send_raw(b'{"jsonrpc":"2.0","method":"GetStatus"}\n')
        c.send_raw(b'{"jsonrpc":"2.0","method":"NoSuchMethod"}\n')
        c.send_raw(b'{"jsonrpc":"2.0","method":"Dial","params":{"bad":true}}\n')
        c.send_raw(b'{"jsonrpc":"2.0","id":"next","method":"GetStatus"}\n')
        assert json.loads(c.recv_line())["id"] == "next"


# ---- limits ----------------------------------------------------------------------------------

def test_line_too_long(daemon):
    with daemon.client() as other, daemon.client() as c:
        other.call("GetStatus")
        line = b'{"jsonrpc":"2.0","id":1,"method":"GetStatus","params":{"pad":"' + \
            b"x" * (65 * 1024) + b'"}}\n'
        assert len(line) > MAX_LINE
        try:
            c.send_raw(line)
        except (BrokenPipeError, ConnectionResetError):
            pass  # closed before all of it was taken; the reply is still there
        rid, err = error_of(c.recv_line())
        assert rid is None
        assert err["code"] == -32600
        assert "long" in err["message"]
        assert c.wait_closed()
        # The other client never noticed.
        assert other.call("GetStatus")["clients"] == 1


def test_longest_line_accepted(daemon):
    with daemon.client() as c:
        head = b'{"jsonrpc":"2.0","id":1,"method":"GetStatus"}'
        c.send_raw(head + b" " * (MAX_LINE - len(head)) + b"\n")
        assert json.loads(c.recv_line())["result"]["pid"] == daemon.pid


def test_too_many_clients(daemon):
    clients = []
    try:
        for _ in range(MAX_CLIENTS):
            c = daemon.client()
            c.call("GetStatus")
            clients.append(c)
        extra = daemon.client()
        rid, err = error_of(extra.recv_line())
        assert rid is None
        assert -32099 <= err["code"] <= -32000
        assert err["data"]["kind"] == "Unavailable"
        assert extra.wait_closed()
        extra.close()
        # All 64 stay connected and served.
        for c in clients:
            assert c.call("GetStatus")["clients"] == MAX_CLIENTS
        # A place freed is a place taken, once the daemon has seen the close.
        clients.pop().close()
        deadline = time.monotonic() + 20
        while clients[0].call("GetStatus")["clients"] != MAX_CLIENTS - 1:
            assert time.monotonic() < deadline, "the closed client is still counted"
        c = daemon.client()
        clients.append(c)
        assert c.call("GetStatus")["clients"] == MAX_CLIENTS
    finally:
        for c in clients:
            c.close()


def test_slow_subscriber_closed(daemon):
    """A subscriber that never reads is closed once 1 MiB waits for it; the daemon goes on."""
    port = unused_udp_port()
    slow = daemon.client()
    slow.subscribe()
    ctl = daemon.client()
    assert ctl.call("GetStatus")["subscribers"] == 1
    user = "5" * 200  # big events: user and server are in every ConnectionStatusChanged
    for i in range(5000):
        # A fresh id each time: a removal may still be finishing in the background.
        ctl.call("AddConnection", {"connectionId": 1000 + i, "user": user,
                                   "server": f"127.0.0.1:{port}"})
        ctl.call("RemoveConnection", {"connectionId": 1000 + i})
        if ctl.call("GetStatus")["clients"] == 1:
            break
    else:
        pytest.fail("the slow subscriber was never closed")
    # It can read what was sent before, then the end.
    assert slow.wait_closed(timeout=30)
    slow.close()
    assert ctl.call("GetStatus")["subscribers"] == 0
    assert "output not taken" in daemon.log()


# ---- events ----------------------------------------------------------------------------------

def test_events_only_to_subscribers(daemon):
    port = unused_udp_port()
    with daemon.client() as everything, daemon.client() as sessions, \
            daemon.client() as nobody, daemon.client() as ctl:
        everything.subscribe()
        sessions.subscribe(["SessionStatusChanged"])
        assert ctl.call("GetStatus")["subscribers"] == 2
        ctl.call("AddConnection", {"connectionId": 3, "user": "5001",
                                   "server": f"127.0.0.1:{port}"})
        ev = everything.wait_event("ConnectionStatusChanged",
                                   lambda p: p["connectionId"] == 3)
        assert ev["user"] == "5001"
        assert ev["status"]
        ctl.call("RemoveConnection", {"connectionId": 3})
        everything.wait_event("ConnectionStatusChanged",
                              lambda p: p["connectionId"] == 3 and p["status"] == "Removed")
        # Neither the filtered subscriber nor the non-subscriber got anything: the next line
        # each reads is its own reply.
        assert sessions.call("GetStatus")["subscribers"] == 2
        assert sessions.events_seen() == []
        nobody.send_raw(GET_STATUS)
        assert json.loads(nobody.recv_line())["id"] == 1
        # Subscribe again replaces the filter.
        sessions.subscribe(["ConnectionStatusChanged"])
        ctl.call("AddConnection", {"connectionId": 4, "user": "5001",
                                   "server": f"127.0.0.1:{port}"})
        sessions.wait_event("ConnectionStatusChanged", lambda p: p["connectionId"] == 4)
        ctl.call("RemoveConnection", {"connectionId": 4})


def test_half_closed_subscriber_keeps_its_events(daemon):
    """`jq ... | socat - UNIX-CONNECT:...` shuts down its sending side at the end of its input and
    still reads: a subscriber doing that gets its events until it hangs up."""
    port = unused_udp_port()
    with daemon.client() as ctl:
        listener = daemon.client()
        listener.send_raw(b'{"jsonrpc":"2.0","id":1,"method":"Subscribe"}\n')
        listener.sock.shutdown(socket.SHUT_WR)
        assert json.loads(listener.recv_line())["result"] is True
        ctl.call("AddConnection", {"connectionId": 5, "user": "5001",
                                   "server": f"127.0.0.1:{port}"})
        ev = listener.wait_event("ConnectionStatusChanged", lambda p: p["connectionId"] == 5)
        assert ev["user"] == "5001"
        assert ctl.call("GetStatus")["subscribers"] == 1
        listener.close()
        ctl.call("RemoveConnection", {"connectionId": 5})
        # Gone for good: the daemon notices the hang-up and drops the subscriber.
        for _ in range(200):
            if ctl.call("GetStatus")["subscribers"] == 0:
                break
            time.sleep(0.05)
        assert ctl.call("GetStatus")["subscribers"] == 0


def test_half_closed_client_gets_its_replies(daemon):
    """`echo ... | socat`: a client that is not subscribed gets its replies, then is closed."""
    c = daemon.client()
    c.send_raw(GET_STATUS + b'{"jsonrpc":"2.0","id":2,"method":"GetStatus"}\n')
    c.sock.shutdown(socket.SHUT_WR)
    assert json.loads(c.recv_line())["id"] == 1
    assert json.loads(c.recv_line())["id"] == 2
    assert c.wait_closed()
    c.close()


# ---- who may connect -------------------------------------------------------------------------

def test_other_uid_refused(daemon):
    run_dir = os.path.dirname(daemon.socket_path)
    # Open the file system path so that only the credential check can stop the client.
    os.chmod(run_dir, 0o755)
    os.chmod(daemon.socket_path, 0o666)
    probe = (
        "import socket, sys\n"
        "s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)\n"
        "s.settimeout(20)\n"
        f"s.connect({daemon.socket_path!r})\n"
        "try:\n"
        f"    s.sendall({GET_STATUS!r})\n"
        "    data = s.recv(4096)\n"
        "except (BrokenPipeError, ConnectionResetError):\n"
        "    data = b''\n"
        "print('ANSWERED' if data else 'REFUSED')\n"
    )
    out = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                          sys.executable, "-c", probe],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.decode().strip() == "REFUSED"
    assert "uid 65534" in daemon.log()
    with daemon.client() as c:
        assert c.call("GetStatus")["clients"] == 1


# ---- lifecycle -------------------------------------------------------------------------------

def test_sigterm(daemon):
    path = daemon.socket_path
    assert daemon.stop(signal.SIGTERM) == 0
    assert daemon.wait_notify("STOPPING=1", timeout=1) == "STOPPING=1"
    assert not os.path.exists(path)
    # No watchdog was asked for, so none was sent.
    assert not any("WATCHDOG=1" in n for n in daemon.notifications)


def test_watchdog(daemon_factory):
    """Under WatchdogSec= systemd sets WATCHDOG_USEC; the main loop pings at half of it."""
    d = daemon_factory(env={"WATCHDOG_USEC": "200000"}).start()
    assert d.wait_notify("WATCHDOG=1") == "WATCHDOG=1"
    # The loop still serves while it pings.
    with d.client() as c:
        assert c.call("GetStatus")["version"]
    assert d.stop() == 0


def test_version():
    out = subprocess.run([SOFTPHONED, "--version"], stdout=subprocess.PIPE, timeout=30)
    assert out.returncode == 0
    assert out.stdout.decode().startswith("softphoned ")


def test_check_config_bad_file(tmp_path):
    bad = tmp_path / "bad.conf"
    bad.write_text("[daemon\nthis is = not a config\n")
    out = subprocess.run([SOFTPHONED, "--check-config", "--config", str(bad)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
    assert out.returncode == EX_CONFIG
    assert str(bad) in out.stderr.decode()
