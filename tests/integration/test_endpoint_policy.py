"""The SDK's policy/endpoint settings softphoned has as keys of its own, seen on the wire: the
OS release in User-Agent, DSCP marks on SIP and RTP packets, the SIP port range, and a public
address in Contact, Via and SDP. Real Kamailio sites (and a SIPp far end) in a private network
namespace; the daemon is driven only through its control socket."""

import os
import re
import shutil
import signal
import sys
import time

import pytest

_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, _HERE)
sys.path.insert(0, os.path.join(_HERE, "sipp"))

from farend import Sipp  # noqa: E402
from sites import SITE_A, StatusWatch, connection, render_config  # noqa: E402
from softphoned import RpcError  # noqa: E402

pytest_plugins = ["fixtures_sites"]

DN = "5001"


def start(daemon_factory, netns, connections, **kw):
    d = daemon_factory(config_text=render_config(connections, **kw), netns=netns.name).start()
    client = d.client()
    client.subscribe()
    return d, client, StatusWatch(client)


def one_contact(site):
    contacts = site.wait_location(lambda cs: len(cs) == 1, aor=DN)
    return contacts[0]


def test_user_agent_names_the_os_release_when_asked(two_sites, netns, daemon_factory):
    a, b = two_sites
    d, client, watch = start(daemon_factory, netns,
                             [connection(a, user=DN), connection(b, user=DN)],
                             daemon={"user-agent-os-version": True})
    watch.wait_ready([0])
    u = os.uname()
    ua = one_contact(a)["user_agent"]
    assert re.fullmatch(r"softphoned/\S+ \(" + re.escape(f"{u.sysname} {u.release}") + r"\)",
                        ua), ua


def test_user_agent_is_the_bare_version_by_default(two_sites, netns, daemon_factory):
    a, _ = two_sites
    d, client, watch = start(daemon_factory, netns, [connection(a, user=DN)])
    watch.wait_ready([0])
    ua = one_contact(a)["user_agent"]
    assert re.fullmatch(r"softphoned/[^\s()]+", ua), ua


# -- DSCP ---------------------------------------------------------------------------------

TCPDUMP = shutil.which("tcpdump") or "/usr/bin/tcpdump"
FAREND = "127.0.0.10:5070"  # SIPp answering for DNs 9xxx behind site A
WAIT = 30


class TextCapture:
    """tcpdump -v on the namespace's lo, its text kept: every packet's IP header (with its TOS
    byte) and the addresses it went between."""

    def __init__(self, netns, path):
        self.path = str(path)
        self.err = self.path + ".err"
        with open(self.path, "wb") as out, open(self.err, "wb") as err:
            self.proc = netns.popen([TCPDUMP, "-i", "lo", "-U", "-l", "-n", "-v", "udp"],
                                    stdout=out, stderr=err)
        deadline = time.monotonic() + 10
        while "listening on" not in self._read(self.err):
            assert self.proc.poll() is None, f"tcpdump ended: {self._read(self.err)}"
            assert time.monotonic() < deadline, "tcpdump did not start"
            time.sleep(0.05)

    @staticmethod
    def _read(path):
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()

    def packets(self):
        """[(tos, src "ip.port", dst "ip.port", text)] of what was captured so far."""
        out = []
        # A packet: its IP header line, then "src > dst: ..." and any payload lines.
        for block in re.split(r"^(?=\d\d:\d\d:\d\d\.\d+ IP)", self._read(self.path),
                              flags=re.M):
            m = re.match(r"\S+ IP6? \(tos (0x[0-9a-f]+)[^\n]*\n\s+(\S+) > (\S+):(.*)",
                         block, re.S)
            if m:
                out.append((int(m.group(1), 16), m.group(2), m.group(3).rstrip(":"),
                            m.group(4)))
        return out

    def wait(self, pred, what):
        deadline = time.monotonic() + WAIT
        while True:
            found = [p for p in self.packets() if pred(p)]
            if found:
                return found
            assert time.monotonic() < deadline, f"no {what} captured:\n{self._read(self.path)}"
            time.sleep(0.05)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            self.proc.wait(10)


def test_sip_and_rtp_packets_carry_their_dscp(netns, site_factory, daemon_factory, tmp_path):
    a = site_factory(SITE_A, name="A", farend=FAREND)
    cap = TextCapture(netns, tmp_path / "dump.txt")
    far = Sipp(netns, "uas-answer", tmp_path, FAREND).start()
    try:
        d, client, watch = start(daemon_factory, netns, [connection(a, user=DN)],
                                 daemon={"sip-dscp": 26, "rtp-dscp": 46})
        watch.wait_ready([0])
        # REGISTER from the phone to the site: DSCP 26 (AF31) is TOS byte 0x68.
        sent = cap.wait(lambda p: p[2] == f"{SITE_A}.5060" and "REGISTER" in p[3],
                        "REGISTER")
        assert all(p[0] == 26 << 2 for p in sent), sent

        sid = client.call("Dial", {"connectionId": 0, "destination": "9001"})["sessionId"]
        client.wait_event("SessionStatusChanged",
                          lambda p: p["sessionId"] == sid and p["status"] == "Connected", WAIT)
        offer = far.received("INVITE")[0]
        port = int(re.search(r"^m=audio (\d+) ", offer, re.M).group(1))
        ip = re.search(r"^c=IN IP4 (\S+)", offer, re.M).group(1)
        # RTP from the port the phone offered, RTCP from the next one: DSCP 46 (EF), 0xb8.
        sources = (f"{ip}.{port}", f"{ip}.{port + 1}")
        cap.wait(lambda p: p[1] == sources[0], "RTP from the phone")
        media = [p for p in cap.packets() if p[1] in sources]
        assert all(p[0] == 46 << 2 for p in media), media
        client.call("Hangup", {"sessionId": sid})
    finally:
        cap.stop()
        far.stop()


# -- SIP port range ---------------------------------------------------------------------------


def contact_port(contact):
    return int(re.match(r"<?sips?:[^@]+@[^:;>]+:(\d+)", contact).group(1))


def test_each_connection_listens_on_a_port_of_the_range(two_sites, netns, daemon_factory):
    a, b = two_sites
    d, client, watch = start(daemon_factory, netns,
                             [connection(a, user=DN), connection(b, user=DN)],
                             daemon={"sip-port-min": 5100, "sip-port-max": 5102})
    watch.wait_ready([0, 1])
    ports = [contact_port(one_contact(site)["contact"]) for site in (a, b)]
    # Both stacks bind 127.0.0.1 (the route to both sites): the first free ports, in turn.
    assert sorted(ports) == [5100, 5101], ports


def test_no_free_port_in_the_range_is_a_clear_error(two_sites, netns, daemon_factory):
    a, b = two_sites
    d = daemon_factory(config_text=render_config(
        [connection(a, user=DN), connection(b, user=DN)],
        daemon={"sip-port-min": 5100, "sip-port-max": 5100}), netns=netns.name)
    d.start(wait_ready=False)
    assert d.proc.wait(WAIT) != 0
    assert "connection 1: no free SIP port in 5100..5100" in d.log(), d.log()


# -- public address ---------------------------------------------------------------------------

PUBLIC = "127.0.0.77"  # on the namespace's lo, but not bound by the phone


def test_public_address_is_in_contact_via_and_sdp(netns, site_factory, daemon_factory,
                                                  tmp_path):
    a = site_factory(SITE_A, name="A", farend=FAREND)
    cap = TextCapture(netns, tmp_path / "dump.txt")
    far = Sipp(netns, "uas-answer", tmp_path, FAREND).start()
    try:
        d, client, watch = start(daemon_factory, netns,
                                 [connection(a, user=DN, public_address=PUBLIC)])
        watch.wait_ready([0])
        register = cap.wait(lambda p: "REGISTER sip:" in p[3], "REGISTER")[0][3]
        assert f"Via: SIP/2.0/UDP {PUBLIC}:" in register, register
        assert re.search(rf"^\s*Contact: <sip:{DN}@{re.escape(PUBLIC)}:\d+[;>]", register,
                         re.M), register
        conn = client.call("GetConnections")[0]
        assert (conn["publicAddress"], conn["localAddress"]) == (PUBLIC, "127.0.0.1"), conn
        reg = one_contact(a)
        assert re.match(rf"<?sip:{DN}@{re.escape(PUBLIC)}:\d+[;>]", reg["contact"]), reg
        # ... while the phone sends from its local address, which the site saw.
        assert "127.0.0.1" in reg["received"], reg

        sid = client.call("Dial", {"connectionId": 0, "destination": "9001"})["sessionId"]
        client.wait_event("SessionStatusChanged",
                          lambda p: p["sessionId"] == sid and p["status"] == "Connected", WAIT)
        invite = far.received("INVITE")[0]
        vias = [line for line in invite.splitlines() if line.lower().startswith("via:")]
        contact = next(line for line in invite.splitlines()
                       if line.lower().startswith(("contact:", "m:")))
        # Kamailio's Via on top, the phone's below it.
        assert f"SIP/2.0/UDP {PUBLIC}:" in vias[-1], vias
        assert f"@{PUBLIC}:" in contact, contact
        assert re.search(rf"^c=IN IP4 {re.escape(PUBLIC)}\s*$", invite, re.M), invite
        assert re.search(rf"^o=\S+ \S+ \S+ IN IP4 {re.escape(PUBLIC)}\s*$", invite, re.M), invite
        assert "127.0.0.1" not in invite.split("\r\n\r\n", 1)[-1], invite
        client.call("Hangup", {"sessionId": sid})

        # The same from the control API.
        added = client.call("AddConnection", {"user": "5002", "server": a.server,
                                              "publicAddress": "127.0.0.78", "enabled": False})
        assert added["publicAddress"] == "127.0.0.78", added
        with pytest.raises(RpcError):
            client.call("AddConnection", {"user": "5003", "server": a.server,
                                          "publicAddress": "nat.example", "enabled": False})
    finally:
        cap.stop()
        far.stop()
