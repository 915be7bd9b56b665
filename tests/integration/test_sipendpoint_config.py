"""A SipEndpoint.config in the SIP Endpoint SDK's own 8.5+ layout (CRLF, byte order mark,
comments, nested sections) drives the real daemon: reg_timeout is the Expires the site's
location table holds, rtp_port_min/max bound the port of the m= line a far end receives,
auto_answer answers an inbound call with no Answer. Driven only through the socket, against
Kamailio sites and SIPp far ends in a private network namespace."""

import os
import re
import subprocess
import sys

import pytest

_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, _HERE)
sys.path.insert(0, os.path.join(_HERE, "sipp"))

from farend import Sipp, env_with_farends  # noqa: E402
from sites import SITE_A, SITE_B  # noqa: E402
from softphoned import SOFTPHONED  # noqa: E402

# The site fixtures (netns, site_factory); harmless if conftest has them too.
pytest_plugins = ["fixtures_sites"]

DN = "5001"
EVENT = "SessionStatusChanged"
WAIT = 30                    # bound for one expected event
FAREND = "127.0.0.10:5070"   # SIPp answering for DNs 9xxx behind both sites
CALLER = "127.0.0.11:5070"   # SIPp calling the agent


def sipendpoint_config(sites, endpoint=None, session=None, proxy=None):
    """The SDK's 8.5+ SipEndpoint.config for one Connectivity per site, as bytes: a BOM, CRLF
    line ends, blanks around '=', a commented-out Connectivity and nested proxy sections, as
    real installations have them. endpoint/session/proxy: settings (name -> value) of
    policy/endpoint, policy/session and every proxyN."""
    def settings(d, indent):
        return [f'{indent}<setting name="{k}" value="{v}"/>' for k, v in (d or {}).items()]

    lines = ['<?xml version="1.0" encoding="utf-8"?>',
             '<SipEndpoint xmlns="http://schemas.genesyslab.com/2009/sipendpoint">',
             '  <Container name ="Basic">']
    for s in sites:
        lines.append(f'    <Connectivity user ="{DN}" server= "{s.server_for("udp")}" '
                     'protocol = "UDP"/>')
    lines += ['    <!-- <Connectivity user="5001" server="old.example.net:5060"/> -->',
              '  </Container>',
              '  <Container name="Genesys">',
              '    <settings version="1.0" xmlns="http://www.genesyslab.com/sip">',
              '      <domain name="policy">',
              '        <section name="endpoint">']
    lines += settings(endpoint, "          ")
    lines += ['        </section>', '        <section name="session">']
    lines += settings(session, "          ")
    lines += ['          <setting name="dtmf_method" value="Rfc2833"/>',
              '        </section>',
              '      </domain>',
              '      <domain name="proxies">']
    for i, _ in enumerate(sites):
        lines.append(f'        <section name="proxy{i}">')
        lines += settings(proxy, "          ")
        lines += ['          <section name="nat">',
                  '            <setting name="ice_enabled" value="false"/>',
                  '          </section>',
                  '        </section>']
    lines += ['      </domain>', '    </settings>', '  </Container>', '</SipEndpoint>']
    return b"\xef\xbb\xbf" + "\r\n".join(lines).encode() + b"\r\n"


class Env:
    """Kamailio sites A and B relaying DNs 9xxx to FAREND, and softphoned started from a
    SipEndpoint.config with a subscribed control client."""

    def __init__(self, netns, site_factory, daemon_factory, tmp_path):
        self.netns = netns
        self.tmp = tmp_path
        self.a = site_factory(SITE_A, name="A", farend=FAREND)
        self.b = site_factory(SITE_B, name="B", farend=FAREND)
        self.daemon_factory = daemon_factory
        self.sipps = []
        self.client = None

    def start(self, **settings):
        path = os.path.join(str(self.tmp), "SipEndpoint.config")
        with open(path, "wb") as f:
            f.write(sipendpoint_config([self.a, self.b], **settings))
        self.config_path = path
        daemon = self.daemon_factory(config_path=path, netns=self.netns.name).start()
        self.client = daemon.client()
        self.client.subscribe()
        for cid in (0, 1):
            self.wait_connection(cid, "Ready")
        return self

    def connection(self, cid):
        return [c for c in self.client.call("GetConnections") if c["connectionId"] == cid][0]

    def wait_connection(self, cid, status):
        if self.connection(cid)["status"] == status:
            return
        self.client.wait_event("ConnectionStatusChanged",
                               lambda p: p["connectionId"] == cid and p["status"] == status,
                               WAIT)

    def wait_session(self, status, sid=None):
        return self.client.wait_event(
            EVENT, lambda p: p["status"] == status and (sid is None or p["sessionId"] == sid),
            WAIT)

    def sipp(self, scenario, local, **kw):
        s = Sipp(self.netns, scenario, self.tmp, local, **kw).start()
        self.sipps.append(s)
        return s

    def close(self):
        for s in self.sipps:
            s.stop()


@pytest.fixture
def env(netns, site_factory, daemon_factory, tmp_path):
    yield from env_with_farends(Env(netns, site_factory, daemon_factory, tmp_path))


def finished(sipp):
    rc = sipp.wait(WAIT)
    assert rc == 0, f"{sipp!r} failed ({rc}):\n{sipp.output()}"


def test_reg_timeout_is_the_expires_the_site_holds(env):
    env.start(proxy={"reg_timeout": 97, "reg_interval": 5})
    for cid, site in ((0, env.a), (1, env.b)):
        assert env.connection(cid)["reregisterInSeconds"] == 97
        assert env.connection(cid)["retryMaxMs"] == 5000
        contacts = site.wait_location(lambda cs: len(cs) == 1, aor=DN)
        # What the registrar granted from our Expires, a few seconds of it gone at most.
        assert 90 <= contacts[0]["expires"] <= 97, contacts


def test_rtp_port_range_is_the_port_of_the_offer(env):
    env.start(endpoint={"rtp_port_min": 31000, "rtp_port_max": 31003})
    far = env.sipp("uas-answer", FAREND)
    sid = env.client.call("Dial", {"connectionId": 0, "destination": "9001"})["sessionId"]
    env.wait_session("Connected", sid)
    assert env.client.call("Hangup", {"sessionId": sid}) is True
    env.wait_session("Disconnected", sid)
    finished(far)
    invite = far.received("INVITE")[0]
    port = int(re.search(r"^m=audio (\d+) ", invite, re.M).group(1))
    assert port in (31000, 31002), invite


def test_auto_answer_answers_with_no_answer_request(env):
    env.start(session={"auto_answer": 1})
    caller = env.sipp("uac-call", CALLER, remote=env.a.server, service=DN)
    sid = env.wait_session("Alerting")["sessionId"]
    ev = env.wait_session("Connected", sid)
    assert ev["direction"] == "inbound"
    assert env.client.call("Hangup", {"sessionId": sid}) is True
    env.wait_session("Disconnected", sid)
    finished(caller)


class _Server:
    def __init__(self, server):
        self.server = server

    def server_for(self, protocol):
        return self.server


def test_check_config_explains_the_file(tmp_path):
    """--check-config on such a file: one screen of what became of each setting."""
    path = tmp_path / "SipEndpoint.config"
    path.write_bytes(sipendpoint_config(
        [_Server("siteA.example.net:5060"), _Server("siteB.example.net:5060")],
        endpoint={"rtp_port_min": 31000, "public_address": "192.0.2.9"},
        proxy={"reg_timeout": 97, "password": "pw-secret"}))
    out = subprocess.run([SOFTPHONED, "--check-config", "--config", str(path)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
    text = out.stdout.decode()
    assert out.returncode == 0, out.stderr
    assert "layout 8.5+" in text
    assert re.search(r"proxies/proxy1/reg_timeout = \"97\" +-> \[connection 1\] "
                     r"reregister-in-seconds=97", text), text
    assert "-> [connection 0] password=(hidden)" in text
    assert "policy/endpoint/public_address = \"192.0.2.9\"" in text
    assert "pw-secret" not in text and "pw-secret" not in out.stderr.decode()
    assert re.search(r"policy/endpoint/public_address = \"192.0.2.9\" +-> \[policy\] "
                     r"public-address=192.0.2.9", text), text
    assert "public_address" not in out.stderr.decode()
    assert text.strip().endswith("OK (2 connections)")
