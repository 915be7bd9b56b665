"""Reliability of the connections against real peers in a private network namespace: SIP Server
sites named in DNS (a real dnsmasq), a DNS server that dies or goes silent while a site is being
revived, a site that moves to another address, a restart after kill -9 (one binding per
connection, inbound calls ring the new process only), and a TCP site silenced for a few seconds.
The daemon is driven only through its control socket; no timing is asserted (bench/failover
has the figures)."""

import os
import re
import sys

import pytest

_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, _HERE)
sys.path.insert(0, os.path.join(_HERE, "sipp"))

from dns import DnsServer  # noqa: E402
from farend import Sipp  # noqa: E402
from sites import SITE_A, SITE_B, StatusWatch, connection, render_config  # noqa: E402

# The site fixtures (netns, site_factory, two_sites); harmless if conftest has them too.
pytest_plugins = ["fixtures_sites"]

DN = "5001"
WAIT = 30  # generous bound for one status change
CALLER = "127.0.0.11:5070"
NAME_A = "sip-a.test"
NAME_B = "sip-b.test"

FAST = {
    "keepalive-interval": 1,
    "probe-timeout": 0.5,
    "probe-failures": 2,
    "down-probe-interval": 0.5,
    "retry-min": 0.2,
    "retry-max": 1,
}


def conn(site, protocol="udp", **keys):
    return connection(site, protocol, user=DN, **{**FAST, **keys})


def named(server, protocol="udp", **keys):
    """A connection to a site given by name ("sip-a.test:5060", or without a port)."""
    return {"user": DN, "server": server, "protocol": protocol, **FAST, **keys}


def start(daemon_factory, netns, connections, env=None, **kw):
    d = daemon_factory(config_text=render_config(connections, **kw), netns=netns.name,
                       env=env).start()
    client = d.client()
    client.subscribe()
    return d, client, StatusWatch(client)


def get_connection(client, cid):
    for c in client.call("GetConnections"):
        if c["connectionId"] == cid:
            return c
    return None


def one_contact(site):
    return site.wait_location(lambda cs: len(cs) == 1, aor=DN)[0]


def line_of(contact):
    """The line= value of a Contact URI as the registrar lists it."""
    m = re.search(r";line=([0-9a-fA-F]+)", contact)
    assert m, f"no line= in {contact!r}"
    return m.group(1)


def status_now_or_later(watch, cid, status, pred=lambda p: True):
    """Connection cid in status (and pred): as GetConnections has it now (it may have got
    there before the client subscribed), or from the first such event since the mark."""
    c = get_connection(watch.client, cid)
    if c is not None and c["status"] == status and pred(c):
        return c
    return watch.wait(cid, status, WAIT, pred=pred)


def dns_failure(p):
    return p["code"] == 503 and (p["reason"] or "").startswith("DNS:")


@pytest.fixture
def dns(netns, tmp_path):
    """dnsmasq in the namespace answering sip-a.test (site A) and sip-b.test (site B)."""
    server = DnsServer(netns, tmp_path / "dns", {NAME_A: SITE_A, NAME_B: SITE_B}).start()
    yield server
    server.close()
    print(f"---- dnsmasq log ({server.log_path}) ----")
    print(server.log())


# -- DNS -----------------------------------------------------------------------------------------


def test_sites_by_name_register(two_sites, netns, dns, daemon_factory):
    a, b = two_sites
    d, client, watch = start(daemon_factory, netns,
                             [named(f"{NAME_A}:5060"), named(NAME_B)])  # B: no port, 5060
    watch.wait_ready([0, 1])
    conns = {c["connectionId"]: c for c in client.call("GetConnections")}
    assert conns[0]["server"] == f"{NAME_A}:5060" and conns[0]["serverAddress"] == SITE_A
    assert conns[1]["server"] == NAME_B and conns[1]["serverAddress"] == SITE_B
    assert conns[0]["domain"] == NAME_A
    assert one_contact(a)["socket"] == f"udp:{a.server}"
    assert one_contact(b)["socket"] == f"udp:{b.server}"
    # Both names were looked up through our DNS server, plain A/AAAA (no SRV without port).
    log = dns.log()
    assert f"query[A] {NAME_A}" in log and f"query[A] {NAME_B}" in log
    assert "query[SRV]" not in log


def test_name_that_does_not_resolve_fails_then_registers_once_it_does(two_sites, netns, dns,
                                                                      daemon_factory):
    a, b = two_sites
    d, client, watch = start(daemon_factory, netns,
                             [named(f"{NAME_A}:5060"), named("sip-new.test:5060")])
    status_now_or_later(watch, 0, "Ready")
    status_now_or_later(watch, 1, "Failed", dns_failure)
    assert get_connection(client, 1)["serverAddress"] is None

    # Looked up again on the down clock: once the name exists, the site is used.
    watch.mark()
    dns.set("sip-new.test", SITE_B)
    watch.wait(1, "Ready")
    one_contact(b)
    assert watch.since_mark(0) == []


def test_connection_whose_name_never_resolved_can_be_disabled_and_removed(netns, dns,
                                                                         daemon_factory):
    d, client, watch = start(daemon_factory, netns, [])
    client.call("AddConnection", {"connectionId": 0, "user": DN, "server": "sip-none.test"})
    status_now_or_later(watch, 0, "Failed", dns_failure)
    watch.mark()
    assert client.call("DisableConnection", {"connectionId": 0}) is True
    watch.wait(0, "Disabled")
    watch.mark()
    assert client.call("EnableConnection", {"connectionId": 0}) is True
    watch.wait(0, "Registering")
    watch.wait(0, "Failed", WAIT, pred=dns_failure)
    assert client.call("RemoveConnection", {"connectionId": 0}) is True
    watch.wait(0, "Removed")
    assert client.call("GetConnections") == []


@pytest.mark.parametrize("how", ["stopped", "dropped"])
def test_dead_dns_while_a_site_is_revived(two_sites, netns, dns, daemon_factory, how):
    a, b = two_sites
    d, client, watch = start(daemon_factory, netns, [named(f"{NAME_A}:5060"),
                                                     named(f"{NAME_B}:5060")])
    watch.wait_ready([0, 1])

    # The DNS server dies (queries refused) or goes silent (queries dropped), then site A.
    if how == "stopped":
        dns.stop()
    else:
        netns.drop(dns.addr, 53, "udp")
    netns.drop(a.addr, a.port, "udp")
    watch.wait(0, "Failed", WAIT, pred=dns_failure)

    # Meanwhile the control socket serves as usual, even a connection added by name (whose
    # lookup once blocked the main loop), and site B is left alone.
    for _ in range(3):
        assert client.call("GetStatus")["ready"] == 1
    added = client.call("AddConnection", {"connectionId": 2, "user": DN,
                                          "server": "sip-c.test:5060"})
    assert added["connectionId"] == 2
    watch.wait(2, "Failed", WAIT, pred=dns_failure)
    assert client.call("GetStatus")["ready"] == 1
    assert watch.since_mark(1) == []
    assert get_connection(client, 1)["status"] == "Ready"

    # DNS and site A back: A registers again; B never noticed.
    watch.mark()
    if how == "stopped":
        dns.start()
    else:
        netns.undrop(dns.addr, 53, "udp")
    netns.undrop(a.addr, a.port, "udp")
    watch.wait(0, "Ready")
    one_contact(a)
    assert watch.since_mark(1) == []


@pytest.mark.parametrize("new_addr", ["127.0.0.4", "10.77.0.2"])
def test_site_that_moves_is_followed_at_the_next_revival(site_factory, netns, dns,
                                                         daemon_factory, new_addr):
    """127.0.0.4 is reached from the same local address (127.0.0.1); 10.77.0.2, an address of
    the namespace's own, from itself: then the connection's SIP stack is bound anew."""
    if not new_addr.startswith("127."):
        netns.run(["ip", "addr", "add", f"{new_addr}/32", "dev", "lo"])
    a = site_factory(SITE_A, name="A")
    b = site_factory(SITE_B, name="B")
    moved = site_factory(new_addr, name="A-moved")
    d, client, watch = start(daemon_factory, netns, [named(f"{NAME_A}:5060"),
                                                     named(f"{NAME_B}:5060")])
    watch.wait_ready([0, 1])
    assert get_connection(client, 0)["localAddress"] == "127.0.0.1"
    one_contact(a)

    # The site moves: the name points elsewhere, the old address dies.
    dns.set(NAME_A, new_addr)
    a.kill()
    watch.wait(0, "Failed")
    watch.wait(0, "Ready")
    contact = one_contact(moved)
    c0 = get_connection(client, 0)
    assert c0["serverAddress"] == new_addr
    local = "127.0.0.1" if new_addr.startswith("127.") else new_addr
    assert c0["localAddress"] == local
    assert f"@{local}:" in contact["contact"]
    assert moved.location(DN) and b.location(DN)
    assert watch.since_mark(1) == []


# -- restart safety -------------------------------------------------------------------------------


_LISTEN_SNIPPET = r"""
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((sys.argv[1], int(sys.argv[2])))
print("bound", flush=True)
out = open(sys.argv[3], "ab", buffering=0)
while True:
    data, peer = s.recvfrom(65535)
    out.write(data.split(b"\r\n", 1)[0] + b"\n")
"""


def test_restart_after_kill_keeps_one_binding_and_calls_ring_the_new_process(
        site_factory, netns, daemon_factory, tmp_path):
    a = site_factory(SITE_A, name="A")
    b = site_factory(SITE_B, name="B")
    env = {"XDG_STATE_HOME": str(tmp_path / "state")}
    conns = [conn(a, "udp", reregister_in_seconds=3600),
             conn(b, "tcp", reregister_in_seconds=3600)]
    d1, client1, watch1 = start(daemon_factory, netns, conns, env=env)
    watch1.wait_ready([0, 1])
    old_a, old_b = one_contact(a)["contact"], one_contact(b)["contact"]
    assert os.path.exists(tmp_path / "state" / "softphoned" / "instance-id")

    # kill -9: no un-REGISTER. Whatever reaches the dead process's UDP contact from now on is
    # recorded by a listener on its address and port.
    d1.kill()
    host, port = re.search(r"@([0-9.]+):(\d+)", old_a).groups()
    seen = tmp_path / "dead-contact.log"
    listener = netns.popen([sys.executable, "-u", "-c", _LISTEN_SNIPPET, host, port, str(seen)],
                           stdout=open(tmp_path / "listener.out", "wb"))
    assert a.location(DN)[0]["contact"] == old_a

    d2, client2, watch2 = start(daemon_factory, netns, conns, env=env)
    watch2.wait_ready([0, 1])
    # Exactly one binding per connection: the new one, recognised as ours by its stable part.
    new_a = a.wait_location(lambda cs: len(cs) == 1 and cs[0]["contact"] != old_a,
                            aor=DN)[0]["contact"]
    new_b = b.wait_location(lambda cs: len(cs) == 1 and cs[0]["contact"] != old_b,
                            aor=DN)[0]["contact"]
    assert line_of(new_a)[:10] == line_of(old_a)[:10] and line_of(new_a) != line_of(old_a)
    assert line_of(new_b)[:10] == line_of(old_b)[:10] and line_of(new_b) != line_of(old_b)
    assert line_of(new_a)[:10] != line_of(new_b)[:10]

    # An inbound call through site A rings the new process, and only it.
    caller = Sipp(netns, "uac-call", tmp_path, CALLER, remote=a.server, service=DN).start()
    try:
        ev = client2.wait_event("SessionStatusChanged", lambda p: p["status"] == "Alerting",
                                WAIT)
        assert ev["connectionId"] == 0 and ev["direction"] == "inbound"
        assert client2.call("Answer", {"sessionId": ev["sessionId"]}) is True
        client2.wait_event("SessionStatusChanged",
                           lambda p: p["status"] == "Connected", WAIT)
        assert client2.call("Hangup", {"sessionId": ev["sessionId"]}) is True
        assert caller.wait(WAIT) == 0, caller.output()
    finally:
        caller.stop()
    assert a.location(DN)[0]["contact"] == new_a
    listener.kill()
    listener.wait(10)
    got = seen.read_text() if seen.exists() else ""
    assert "INVITE" not in got, f"the dead contact got: {got!r}"


def test_two_daemons_sharing_a_state_directory_keep_both_bindings(site_factory, netns,
                                                                  daemon_factory, tmp_path):
    """The second daemon finds the instance id locked and takes an id of its own, so neither
    takes the other's binding for a stale one of its own."""
    a = site_factory(SITE_A, name="A")
    env = {"XDG_STATE_HOME": str(tmp_path / "state")}
    conns = [conn(a, "udp", reregister_in_seconds=2)]
    d1, c1, w1 = start(daemon_factory, netns, conns, env=env)
    w1.wait_ready([0])
    d2, c2, w2 = start(daemon_factory, netns, conns, env=env)
    w2.wait_ready([0])
    first = a.wait_location(lambda cs: len(cs) == 2, aor=DN)
    assert line_of(first[0]["contact"])[:10] != line_of(first[1]["contact"])[:10]
    # Both refresh (every second or so) and both stay.
    cseq = {c["contact"]: c["cseq"] for c in first}
    a.wait_location(lambda cs: len(cs) == 2 and all(c["cseq"] > cseq.get(c["contact"], 1 << 30)
                                                    for c in cs), aor=DN)
    assert "in use by another softphoned" in d2.log()


# -- TCP short outage -------------------------------------------------------------------------------


def test_tcp_site_silenced_briefly_revives_on_a_fresh_stack(site_factory, netns,
                                                          daemon_factory):
    """A few seconds of silence leave the registration's TCP connection stalled (the kernel
    retransmits into it with a growing back-off): the revival must not wait for it."""
    a = site_factory(SITE_A, name="A")
    d, client, watch = start(daemon_factory, netns, [conn(a, "tcp")])
    watch.wait_ready([0])
    before = one_contact(a)

    netns.drop(a.addr, a.port, "tcp")
    watch.wait(0, "Failed")
    watch.mark()
    netns.undrop(a.addr, a.port, "tcp")
    watch.wait(0, "Ready")

    # One binding, from a new SIP stack (same stable part) over a new TCP connection.
    after = a.wait_location(lambda cs: len(cs) == 1 and cs[0]["contact"] != before["contact"],
                            aor=DN)[0]
    assert line_of(after["contact"])[:10] == line_of(before["contact"])[:10]
    if before.get("received") and after.get("received"):
        assert after["received"] != before["received"]
    assert "new SIP stack" in d.log()


def test_call_through_a_briefly_silent_tcp_site_goes_on_and_new_calls_use_the_new_stack(
        site_factory, netns, daemon_factory, tmp_path):
    """The revival's new SIP stack leaves the old one running for the call made on it: that
    call can still be hung up, and the next inbound call rings on the new stack."""
    farend = "127.0.0.10:5070"
    a = site_factory(SITE_A, name="A", farend=farend)
    d, client, watch = start(daemon_factory, netns, [conn(a, "tcp")])
    watch.wait_ready([0])
    far = Sipp(netns, "uas-answer", tmp_path, farend).start()
    try:
        sid = client.call("Dial", {"connectionId": 0, "destination": "9001"})["sessionId"]
        client.wait_event("SessionStatusChanged",
                          lambda p: p["sessionId"] == sid and p["status"] == "Connected", WAIT)

        netns.drop(a.addr, a.port, "tcp")
        watch.wait(0, "Failed")
        watch.mark()
        netns.undrop(a.addr, a.port, "tcp")
        watch.wait(0, "Ready")
        assert "new SIP stack" in d.log()
        assert {s["sessionId"]: s["status"] for s in client.call("GetSessions")} == {
            sid: "Connected"}

        # The old call ends normally (its BYE goes out on the stack it was made on).
        assert client.call("Hangup", {"sessionId": sid}) is True
        client.wait_event("SessionStatusChanged",
                          lambda p: p["sessionId"] == sid and p["status"] == "Disconnected",
                          WAIT)
        assert far.wait(WAIT) == 0, far.output()
    finally:
        far.stop()

    caller = Sipp(netns, "uac-call", tmp_path, CALLER, remote=a.server, service=DN,
                  args=["-t", "t1"]).start()
    try:
        ev = client.wait_event("SessionStatusChanged", lambda p: p["status"] == "Alerting",
                               WAIT)
        assert ev["connectionId"] == 0
        assert client.call("Answer", {"sessionId": ev["sessionId"]}) is True
        client.wait_event("SessionStatusChanged",
                          lambda p: p["sessionId"] == ev["sessionId"] and
                          p["status"] == "Connected", WAIT)
        assert client.call("Hangup", {"sessionId": ev["sessionId"]}) is True
        assert caller.wait(WAIT) == 0, caller.output()
    finally:
        caller.stop()
