"""The site harness itself, checked with SIPp and a plain OPTIONS sender (no softphoned): a
Kamailio site answers, dies loudly or silently, comes back empty, registers, authenticates,
speaks TLS with the test's CA and relays calls."""

import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from sites import SITE_A, SITE_B, TlsCa, sip_options, wait_listening  # noqa: E402

pytest_plugins = ["fixtures_sites"]

REGISTER_XML = """<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="register">
  <send retrans="500"><![CDATA[
      REGISTER sip:[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:@DN@@[remote_ip]>;tag=[call_number]
      To: <sip:@DN@@[remote_ip]>
      Call-ID: [call_id]
      CSeq: 1 REGISTER
      Contact: <sip:@DN@@[local_ip]:[local_port];transport=[transport]>
      Max-Forwards: 70
      Expires: 60
      Content-Length: 0

  ]]></send>
  <recv response="401" auth="true" optional="true" next="auth"/>
  <recv response="200" next="done"/>
  <label id="auth"/>
  <send retrans="500"><![CDATA[
      REGISTER sip:[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:@DN@@[remote_ip]>;tag=[call_number]
      To: <sip:@DN@@[remote_ip]>
      Call-ID: [call_id]
      CSeq: 2 REGISTER
      Contact: <sip:@DN@@[local_ip]:[local_port];transport=[transport]>
      [authentication username=@DN@ password=@PASSWORD@]
      Max-Forwards: 70
      Expires: 60
      Content-Length: 0

  ]]></send>
  <recv response="200"/>
  <label id="done"/>
</scenario>
"""


def sipp(netns, args, timeout=20):
    """Runs SIPp in netns (bounded with timeout(1): SIPp may not exit on its own)."""
    return netns.run(["timeout", str(timeout), "sipp", "-nostdin", "-timeout", f"{timeout - 5}s"]
                     + args, check=False, timeout=timeout + 10).returncode


def register(netns, tmp_path, site, dn, port, password="x", transport="u1"):
    scenario = tmp_path / f"register-{dn}-{port}.xml"
    scenario.write_text(REGISTER_XML.replace("@DN@", dn).replace("@PASSWORD@", password))
    return sipp(netns, ["-sf", str(scenario), "-m", "1", "-i", "127.0.0.1", "-p", str(port),
                        "-t", transport, site.server])


def test_site_answers_dies_and_comes_back(site_factory, netns):
    a = site_factory(SITE_A)
    assert sip_options(netns, a.addr, a.port, "udp") == 200
    assert sip_options(netns, a.addr, a.port, "tcp") == 200
    a.kill()
    assert not a.running()
    assert sip_options(netns, a.addr, a.port, "udp", timeout=0.5) is None
    assert sip_options(netns, a.addr, a.port, "tcp", timeout=0.5) is None
    a.start()
    assert sip_options(netns, a.addr, a.port, "udp") == 200


def test_drop_is_silent_and_per_site(two_sites, netns):
    a, b = two_sites
    netns.drop(a.addr, a.port, "udp")
    assert sip_options(netns, a.addr, a.port, "udp", timeout=0.5) is None
    assert sip_options(netns, a.addr, a.port, "tcp") == 200
    assert sip_options(netns, b.addr, b.port, "udp") == 200
    netns.drop(a.addr, a.port, "tcp")
    assert sip_options(netns, a.addr, a.port, "tcp", timeout=0.5) is None
    netns.undrop(a.addr, a.port, "udp")
    assert sip_options(netns, a.addr, a.port, "udp") == 200
    assert sip_options(netns, a.addr, a.port, "tcp", timeout=0.5) is None
    netns.clear_drops()
    assert sip_options(netns, a.addr, a.port, "tcp") == 200
    netns.drop(b.addr, None, "all")
    assert sip_options(netns, b.addr, b.port, "udp", timeout=0.5) is None
    assert sip_options(netns, a.addr, a.port, "udp") == 200


def test_location_table_and_restart(site_factory, netns, tmp_path):
    a = site_factory(SITE_A)
    assert a.location() == []
    assert register(netns, tmp_path, a, "5001", 5091) == 0
    assert register(netns, tmp_path, a, "5001", 5092, transport="t1") == 0
    contacts = a.location("5001")
    assert sorted(c["contact"] for c in contacts) == [
        "sip:5001@127.0.0.1:5091;transport=UDP", "sip:5001@127.0.0.1:5092;transport=TCP"]
    assert sorted(c["socket"] for c in contacts) == [f"tcp:{a.server}", f"udp:{a.server}"]
    assert all(c["expires"] > 0 for c in contacts)
    assert a.location("5002") == []
    a.restart()
    assert a.location() == []


def test_digest_auth(site_factory, netns, tmp_path):
    a = site_factory(SITE_A, users={"5001": "s3cret"})
    assert register(netns, tmp_path, a, "5001", 5091, password="wrong") != 0
    assert a.location() == []
    assert "REGISTER of 5001: bad credentials" in a.log()
    assert register(netns, tmp_path, a, "5001", 5091, password="s3cret") == 0
    assert len(a.location("5001")) == 1
    a.set_password("5001", "n3w")
    assert register(netns, tmp_path, a, "5001", 5093, password="s3cret") != 0
    assert register(netns, tmp_path, a, "5001", 5093, password="n3w") == 0


def test_tls_listener_with_the_test_ca(site_factory, netns, tls_ca, tmp_path):
    a = site_factory(SITE_A, tls=True, tls_ca=tls_ca)
    assert a.ca_file == tls_ca.cert
    assert sip_options(netns, a.addr, a.tls_port, "tls", cafile=tls_ca.cert) == 200
    other = TlsCa(tmp_path / "other-ca", name="other CA")
    assert sip_options(netns, a.addr, a.tls_port, "tls", cafile=other.cert) is None


def test_calls_are_relayed_to_registered_users_and_the_far_end(site_factory, netns, tmp_path):
    a = site_factory(SITE_A, farend="127.0.0.1:5096")
    assert register(netns, tmp_path, a, "5002", 5097) == 0
    for target, uas_port in (("5002", 5097), ("9000", 5096)):
        uas = netns.popen(["timeout", "30", "sipp", "-sn", "uas", "-i", "127.0.0.1",
                           "-p", str(uas_port), "-m", "1", "-nostdin"],
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_listening(netns, uas_port)
        assert sipp(netns, ["-sn", "uac", "-s", target, "-i", "127.0.0.1", "-p", "5095",
                            "-m", "1", "-d", "100", a.server]) == 0, target
        uas.kill()
        uas.wait(10)
    assert "INVITE sip:5002@" in a.log() and "INVITE sip:9000@" in a.log()
    # Anyone else: 404.
    assert sipp(netns, ["-sn", "uac", "-s", "5003", "-i", "127.0.0.1", "-p", "5095", "-m", "1",
                        a.server]) != 0


def test_two_sites_have_separate_tables(two_sites, netns, tmp_path):
    a, b = two_sites
    assert {a.addr, b.addr} == {SITE_A, SITE_B}
    assert register(netns, tmp_path, a, "5001", 5091) == 0
    assert len(a.location("5001")) == 1
    assert b.location("5001") == []
