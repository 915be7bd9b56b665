"""Connections against real Kamailio sites in a private network namespace: registration on every
site, a site killed or silently dropped and brought back, runtime changes, digest auth, TCP and
TLS, both config formats, and shutdown. The daemon is driven only through its control socket."""

import os
import sys
import time

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from sites import (SITE_A, StatusWatch, TlsCa, connection, render_config,  # noqa: E402
                   render_sipendpoint_config)
from softphoned import RpcError  # noqa: E402

# The site fixtures (netns, site_factory, two_sites, tls_ca); harmless if conftest has it too.
pytest_plugins = ["fixtures_sites"]

DN = "5001"
EVENT = "ConnectionStatusChanged"
WAIT = 30  # generous bound for one status change; the real figures are in bench/failover

# Short timers (seconds) so that faults and revivals are seen in a few seconds.
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


def get_connection(client, cid):
    for c in client.call("GetConnections"):
        if c["connectionId"] == cid:
            return c
    return None


def start(daemon_factory, netns, connections, **kw):
    """A daemon in netns with these [connection N] groups; returns (daemon, client, watch),
    the client subscribed before anything else happens on it."""
    d = daemon_factory(config_text=render_config(connections, **kw), netns=netns.name).start()
    client = d.client()
    client.subscribe()
    return d, client, StatusWatch(client)


def wait_notify_status(daemon, text, timeout=WAIT):
    """Waits for an sd_notify STATUS= line containing text."""
    deadline = time.monotonic() + timeout
    while True:
        lines = [line for msg in list(daemon.notifications) for line in msg.split("\n")
                 if line.startswith("STATUS=")]
        if any(text in line for line in lines):
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"no STATUS= with {text!r}; got {lines!r}")
        time.sleep(0.05)


def one_contact(site):
    """The single contact of DN on site, once there is one."""
    contacts = site.wait_location(lambda cs: len(cs) == 1, aor=DN)
    return contacts[0]


def no_contact(site):
    site.wait_location(lambda cs: cs == [], aor=DN)


# -- start-up ------------------------------------------------------------------------------------


def test_both_sites_register_the_same_dn_at_start(two_sites, netns, daemon_factory):
    a, b = two_sites
    d, client, watch = start(daemon_factory, netns, [conn(a), conn(b)])
    watch.wait_ready([0, 1])

    conns = client.call("GetConnections")
    assert [(c["connectionId"], c["user"], c["server"], c["protocol"]) for c in conns] == [
        (0, DN, a.server, "udp"), (1, DN, b.server, "udp")]

    # Each registrar has its own registration of the same DN.
    ca, cb = one_contact(a), one_contact(b)
    assert ca["socket"] == f"udp:{a.server}"
    assert cb["socket"] == f"udp:{b.server}"
    assert ca["call_id"] != cb["call_id"]
    wait_notify_status(d, "2/2 sites ready")


def test_events_from_registering_to_ready(two_sites, netns, daemon_factory):
    a, b = two_sites
    d, client, watch = start(daemon_factory, netns, [conn(a)])
    watch.wait_ready([0])
    client.call("AddConnection", {"connectionId": 1, "user": DN, "server": b.server,
                                  "protocol": "udp"})
    reg = watch.wait(1, "Registering")
    ready = watch.wait(1, "Ready")
    assert ready["previousStatus"] == "Registering"
    assert reg["user"] == DN and reg["server"] == b.server and reg["protocol"] == "udp"
    assert isinstance(ready["time"], str) and ready["time"].endswith("Z")
    one_contact(b)


# -- faults --------------------------------------------------------------------------------------


def test_killed_site_fails_while_the_other_stays_ready(two_sites, netns, daemon_factory):
    a, b = two_sites
    d, client, watch = start(daemon_factory, netns, [conn(a), conn(b)])
    watch.wait_ready([0, 1])
    wait_notify_status(d, "2/2 sites ready")

    a.kill()
    failed = watch.wait(0, "Failed")
    assert failed["previousStatus"] == "Ready"
    assert failed["code"] in (408, 503)
    assert watch.since_mark(1) == [], "site B emitted a status change"
    assert get_connection(client, 1)["status"] == "Ready"
    wait_notify_status(d, "1/2 sites ready")

    # The site comes back empty: the connection registers again by itself.
    watch.mark()
    a.start()
    watch.wait(0, "Ready")
    one_contact(a)
    assert watch.since_mark(1) == []
    assert get_connection(client, 1)["status"] == "Ready"


def test_silently_dropped_site_fails_with_408(two_sites, netns, daemon_factory):
    a, b = two_sites
    d, client, watch = start(daemon_factory, netns, [conn(a), conn(b)])
    watch.wait_ready([0, 1])

    netns.drop(a.addr, a.port, "udp")
    failed = watch.wait(0, "Failed")
    assert failed["code"] == 408
    assert watch.since_mark(1) == []

    watch.mark()
    netns.undrop(a.addr, a.port, "udp")
    watch.wait(0, "Ready")
    one_contact(a)
    assert watch.since_mark(1) == []


def test_tcp_site_registers_and_its_death_is_seen(site_factory, netns, daemon_factory):
    a = site_factory(SITE_A, name="A")
    d, client, watch = start(daemon_factory, netns, [conn(a, "tcp")])
    watch.wait_ready([0])
    assert one_contact(a)["socket"] == f"tcp:{a.server}"

    a.kill()
    watch.wait(0, "Failed")
    watch.mark()
    a.start()
    watch.wait(0, "Ready")
    assert one_contact(a)["socket"] == f"tcp:{a.server}"


def test_silently_dropped_tcp_site_fails(site_factory, netns, daemon_factory):
    a = site_factory(SITE_A, name="A")
    d, client, watch = start(daemon_factory, netns, [conn(a, "tcp")])
    watch.wait_ready([0])
    netns.drop(a.addr, a.port, "tcp")
    watch.wait(0, "Failed")
    watch.mark()
    netns.undrop(a.addr, a.port, "tcp")
    watch.wait(0, "Ready")


# -- runtime changes -----------------------------------------------------------------------------


def test_add_disable_enable_remove_at_runtime(two_sites, netns, daemon_factory):
    a, b = two_sites
    d, client, watch = start(daemon_factory, netns, [conn(a)])
    watch.wait_ready([0])
    no_contact(b)

    added = client.call("AddConnection", {"connectionId": 1, "user": DN, "server": b.server,
                                          "protocol": "udp", "keepaliveInterval": 1})
    assert added["connectionId"] == 1 and added["server"] == b.server
    watch.wait(1, "Ready")
    one_contact(b)

    with pytest.raises(RpcError) as e:
        client.call("AddConnection", {"connectionId": 1, "user": DN, "server": b.server})
    assert e.value.kind == "Exists"

    watch.mark()
    assert client.call("DisableConnection", {"connectionId": 1}) is True
    watch.wait(1, "Disabled")
    no_contact(b)  # the un-REGISTER reached the registrar
    assert get_connection(client, 1)["status"] == "Disabled"
    with pytest.raises(RpcError) as e:
        client.call("DisableConnection", {"connectionId": 1})
    assert e.value.kind == "WrongState"

    watch.mark()
    assert client.call("EnableConnection", {"connectionId": 1}) is True
    watch.wait(1, "Ready")
    one_contact(b)
    with pytest.raises(RpcError) as e:
        client.call("EnableConnection", {"connectionId": 1})
    assert e.value.kind == "WrongState"

    watch.mark()
    assert client.call("RemoveConnection", {"connectionId": 1}) is True
    watch.wait(1, "Removed")
    no_contact(b)
    events = watch.since_mark(1)
    assert events[-1]["status"] == "Removed"
    assert get_connection(client, 1) is None
    assert [c["connectionId"] for c in client.call("GetConnections")] == [0]
    # Connection 0 was never disturbed.
    assert watch.since_mark(0) == []
    one_contact(a)

    for method in ("RemoveConnection", "EnableConnection", "DisableConnection"):
        with pytest.raises(RpcError) as e:
            client.call(method, {"connectionId": 1})
        assert e.value.kind == "NotFound", method

    # Without an id the lowest free one is taken.
    added = client.call("AddConnection", {"user": DN, "server": b.server})
    assert added["connectionId"] == 1
    watch.wait(1, "Ready")


def test_add_connection_disabled(two_sites, netns, daemon_factory):
    a, b = two_sites
    d, client, watch = start(daemon_factory, netns, [conn(a)])
    watch.wait_ready([0])
    added = client.call("AddConnection", {"connectionId": 4, "user": DN, "server": b.server,
                                          "enabled": False})
    assert added["status"] == "Disabled"
    assert client.call("EnableConnection", {"connectionId": 4}) is True
    watch.wait(4, "Ready")
    one_contact(b)


@pytest.mark.parametrize("params", [
    {"server": "127.0.0.3:5060"},                                     # no user
    {"user": DN},                                                     # no server
    {"user": DN, "server": "127.0.0.3:5060", "protocol": "sctp"},
    {"user": DN, "server": "127.0.0.3:5060", "connectionId": "one"},
    {"user": DN, "server": "127.0.0.3:5060", "connectionId": -1},
    {"user": DN, "server": "127.0.0.3:5060", "keepaliveInterval": "soon"},
    {"user": DN, "server": "127.0.0.3:5060", "enabled": "maybe"},
    {"user": "", "server": "127.0.0.3:5060"},
    {"user": DN, "server": ""},
])
def test_add_connection_rejects_invalid_params(daemon_factory, params):
    d = daemon_factory(config_text="").start()
    client = d.client()
    with pytest.raises(RpcError) as e:
        client.call("AddConnection", params)
    assert e.value.code == -32602
    assert client.call("GetConnections") == []


@pytest.mark.parametrize("method", ["EnableConnection", "DisableConnection", "RemoveConnection"])
@pytest.mark.parametrize("params", [None, {}, {"connectionId": "0"}, {"connectionId": 1.5},
                                    {"connectionId": -3}])
def test_connection_methods_reject_invalid_params(daemon_factory, method, params):
    d = daemon_factory(config_text="").start()
    with pytest.raises(RpcError) as e:
        d.client().call(method, params)
    assert e.value.code == -32602


# -- authentication ------------------------------------------------------------------------------


def test_digest_auth_registers(site_factory, netns, daemon_factory):
    a = site_factory(SITE_A, name="A", users={DN: "s3cret"})
    d, client, watch = start(daemon_factory, netns, [conn(a, password="s3cret")])
    watch.wait_ready([0])
    one_contact(a)
    assert "s3cret" not in d.log()


def test_wrong_password_fails_and_keeps_retrying(site_factory, netns, daemon_factory):
    a = site_factory(SITE_A, name="A", users={DN: "s3cret"})
    d, client, watch = start(daemon_factory, netns, [conn(a, password="wrong-one")])
    failed = watch.wait(0, "Failed")
    assert failed["code"] in (401, 403)
    assert failed["reason"]
    no_contact(a)

    # Still retrying: the site keeps receiving REGISTERs with the bad credentials.
    def rejected():
        return a.log().count(f"REGISTER of {DN}: bad credentials")

    seen = rejected()
    deadline = time.monotonic() + WAIT
    while rejected() <= seen:
        assert time.monotonic() < deadline, "no new REGISTER attempt after the failure"
        time.sleep(0.1)

    # Once the site accepts that password, the connection gets Ready by itself.
    watch.mark()
    a.set_password(DN, "wrong-one")
    watch.wait(0, "Ready")
    one_contact(a)
    assert "wrong-one" not in d.log()


# -- TLS -----------------------------------------------------------------------------------------


def test_tls_site_with_the_test_ca(site_factory, netns, daemon_factory, tls_ca):
    a = site_factory(SITE_A, name="A", tls=True, tls_ca=tls_ca)
    d, client, watch = start(daemon_factory, netns,
                             [conn(a, "tls", ca_file=tls_ca.cert, tls_verify=True)])
    watch.wait_ready([0])
    c = get_connection(client, 0)
    assert c["protocol"] == "tls" and c["server"] == a.tls_server
    assert one_contact(a)["socket"] == f"tls:{a.tls_server}"

    a.kill()
    watch.wait(0, "Failed")
    watch.mark()
    a.start()
    watch.wait(0, "Ready")


def test_tls_site_with_an_unknown_ca_fails(site_factory, netns, daemon_factory, tls_ca,
                                           tmp_path):
    rogue = TlsCa(tmp_path / "rogue-ca", name="unknown CA")
    a = site_factory(SITE_A, name="A", tls=True, tls_ca=rogue)
    d, client, watch = start(daemon_factory, netns,
                             [conn(a, "tls", ca_file=tls_ca.cert, tls_verify=True)])
    watch.wait(0, "Failed")
    assert get_connection(client, 0)["status"] != "Ready"
    no_contact(a)


# -- configs -------------------------------------------------------------------------------------

# Fields of a connection that describe what it is, not how it is doing.
VOLATILE = {"status", "previousStatus", "code", "reason", "retryInMs", "expiresInS", "time"}


def describe(connections):
    return [{k: v for k, v in c.items() if k not in VOLATILE and not isinstance(v, dict)}
            for c in connections]


def test_xml_and_key_file_configs_give_the_same_connections(two_sites, netns, daemon_factory):
    a, b = two_sites
    entries = [connection(a, "udp", user=DN, password="pw0", reregister_in_seconds=120),
               connection(b, "tcp", user="5002", password="pw1", reregister_in_seconds=240)]
    proxies = [{"password": "pw0", "reregister_in_seconds": 120},
               {"password": "pw1", "reregister_in_seconds": 240}]
    keyfile = daemon_factory(config_text=render_config(entries), netns=netns.name).start()
    xml = daemon_factory(config_text=render_sipendpoint_config(entries, proxies),
                         netns=netns.name).start()
    from_keyfile = keyfile.client().call("GetConnections")
    from_xml = xml.client().call("GetConnections")
    assert len(from_keyfile) == 2
    assert [c["reregisterInSeconds"] for c in from_xml] == [120, 240]
    assert [c["protocol"] for c in from_xml] == ["udp", "tcp"]
    assert describe(from_xml) == describe(from_keyfile)
    for c in from_keyfile:
        assert "pw0" not in str(c) and "pw1" not in str(c)


# -- shutdown ------------------------------------------------------------------------------------


def test_shutdown_unregisters_everywhere(two_sites, netns, daemon_factory):
    a, b = two_sites
    d, client, watch = start(daemon_factory, netns, [conn(a), conn(b)])
    watch.wait_ready([0, 1])
    one_contact(a)
    one_contact(b)
    assert d.stop(timeout=60) == 0
    assert a.location(DN) == []
    assert b.location(DN) == []
    d.wait_notify("STOPPING=1", timeout=5)


def test_shutdown_with_a_silently_dead_site_still_exits_0(two_sites, netns, daemon_factory):
    a, b = two_sites
    d, client, watch = start(daemon_factory, netns, [conn(a), conn(b)])
    watch.wait_ready([0, 1])
    netns.drop(a.addr, a.port, "udp")
    assert d.stop(timeout=60) == 0
    assert b.location(DN) == []
