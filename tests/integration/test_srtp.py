"""Encrypted audio (SRTP with SDES keys, RFC 4568) as a user sees it: two softphoned phones on
one Kamailio site (or a TLS one) call each other with srtp=mandatory/optional/default, SIPp
callers offer plain RTP or RTP/SAVP, and the wire (a tcpdump capture in the test's namespace)
shows what really went over it: RTP/SAVP and a=crypto in the SDP, no plaintext G.711 of the
tone in the RTP, and no key of the SDP in any log line of either daemon. Packets are forged
(nft flips a byte of every tenth one, from the real source) and replayed (a captured packet is
sent again from the real source with a raw socket): they are dropped and counted while the
tone goes on.
"""

import os
import re
import shutil
import signal
import subprocess
import sys
import time

import pytest

_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, _HERE)
sys.path.insert(0, os.path.join(_HERE, "sipp"))

import audio  # noqa: E402
from farend import Sipp, env_with_farends  # noqa: E402
from sites import connection, render_config  # noqa: E402
from test_audio import HZ_A, HZ_B, WAIT, AudioEnv, Phone, assert_hears  # noqa: E402
from audio import AudioHome  # noqa: E402

pytest_plugins = ["fixtures_sites"]

TCPDUMP = shutil.which("tcpdump") or "/usr/bin/tcpdump"
CALLER = "127.0.0.30:5080"  # SIPp callers
SUITE_80 = "AES_CM_128_HMAC_SHA1_80"
SUITE_32 = "AES_CM_128_HMAC_SHA1_32"
OFFER_KEY = "WVNfjtdeYNFyVmvRuYrQi2h7lX3iXiXQkSN3x7Tk"  # a key of SIPp's offers (not secret)
CRYPTO_RE = re.compile(r"a=crypto:(\d+) (\S+) inline:([A-Za-z0-9+/=]+)")


class Capture:
    """tcpdump on the namespace's lo, written to a pcap that audio.read_pcap() reads."""

    def __init__(self, netns, path):
        self.path = str(path)
        self.err = self.path + ".err"
        with open(self.err, "wb") as err:
            self.proc = netns.popen([TCPDUMP, "-i", "lo", "-U", "-n", "-s", "0", "-w",
                                     self.path, "udp"], stdout=subprocess.DEVNULL, stderr=err)
        deadline = time.monotonic() + 10
        while "listening on" not in self._stderr():
            assert self.proc.poll() is None, f"tcpdump ended: {self._stderr()}"
            assert time.monotonic() < deadline, f"tcpdump did not start: {self._stderr()}"
            time.sleep(0.05)

    def _stderr(self):
        with open(self.err, encoding="utf-8", errors="replace") as f:
            return f.read()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            self.proc.wait(10)
        return audio.read_pcap(self.path)


def sip_texts(packets):
    return [p[5].decode("utf-8", "replace") for p in packets
            if p[5][:3] in (b"INV", b"SIP", b"ACK", b"BYE")]


def rtp_between(packets, src_ip, dst):
    """The RTP datagrams (not RTCP) from src_ip to dst ("ip:port")."""
    ip, port = dst.rsplit(":", 1)
    out = []
    for _, s, _, d, dport, payload in packets:
        if s == src_ip and d == ip and dport == int(port) and len(payload) >= 12 and \
                payload[0] >> 6 == 2 and not 192 <= payload[1] <= 223:
            out.append(payload)
    return out


def tone_in_payloads(payloads, hz):
    """How many of the RTP packets' PCMU payloads (160 bytes after the 12-byte header) carry
    the tone when decoded as plain G.711: at least 0.1 of full scale and most of the packet's
    level (ciphertext decodes to loud noise, whose 1 kHz bin holds a small part of it)."""
    n = 0
    for p in payloads:
        pcm = audio.decode_g711(p[12:12 + 160], "PCMU")
        amp = audio.goertzel(pcm, hz, rate=8000) if len(pcm) == 160 else 0.0
        if amp > 0.1 and amp >= 0.7 * audio.level(pcm):
            n += 1
    return n


def assert_no_key_logged(phones, packets):
    """Every a=crypto key that went over the wire is absent from every daemon's log."""
    keys = {m.group(3) for t in sip_texts(packets) for m in CRYPTO_RE.finditer(t)}
    assert keys, "no a=crypto seen on the wire"
    for p in phones:
        log = p.daemon.log()
        assert "inline:[key hidden]" in log, f"{p.name}: the SDP is not in the debug log"
        for k in keys:
            assert k not in log, f"{p.name}: an SRTP key is in the log"


class SrtpEnv(AudioEnv):
    def phones_on(self, site, specs):
        """A and B registered on site, each as (protocol, connection keys) of specs."""
        out = []
        for i, ((protocol, keys), (name, hz)) in enumerate(zip(specs, (("A", HZ_A),
                                                                        ("B", HZ_B)))):
            dn, addr = f"500{i + 1}", f"127.0.0.{21 + i}"
            home = AudioHome(self.tmp / f"home-{name}", hz, seconds=40)
            lo = 20000 + 200 * i
            cfg = render_config([connection(site, protocol=protocol, user=dn,
                                            local_address=addr, **keys)],
                                daemon={"rtp-port-min": lo, "rtp-port-max": lo + 198},
                                audio=home.audio(codecs="PCMU"))
            d = self.daemon_factory(cfg, netns=self.netns.name, env=home.env)
            p = Phone(name, dn, addr, d, home)
            self.phones.append(p)
            out.append(p)
        for p in out:
            p.daemon.start(wait_ready=False)
        for p in out:
            p.daemon.wait_notify("READY=1")
            p.start()
        return out

    def caller(self, phone, profile="RTP/AVP", crypto=None):
        """A SIPp caller offering PCMU with profile and an a=crypto line (None: none)."""
        s = Sipp(self.netns, "uac-call-offer", self.tmp, CALLER, remote=self.site.server,
                 service=phone.dn,
                 keys={"profile": profile, "crypto": crypto or "a=sendrecv"}).start()
        self.sipps.append(s)
        return s

    def replay(self, src, dst, payload, times=3):
        """Sends payload from src ("ip:port") to dst again, with a raw socket: the source is
        the real one (its port is the phone's own RTP socket)."""
        code = (
            "import socket,struct,sys\n"
            "s_ip,s_port,d_ip,d_port,hexp,n=sys.argv[1:]\n"
            "p=bytes.fromhex(hexp)\n"
            "udp=struct.pack('!HHHH',int(s_port),int(d_port),8+len(p),0)+p\n"
            "ip=struct.pack('!BBHHHBBH4s4s',0x45,0,20+len(udp),0,0,64,17,0,"
            "socket.inet_aton(s_ip),socket.inet_aton(d_ip))\n"
            "r=socket.socket(socket.AF_INET,socket.SOCK_RAW,socket.IPPROTO_RAW)\n"
            "for _ in range(int(n)): r.sendto(ip+udp,(d_ip,0))\n")
        s_ip, s_port = src.rsplit(":", 1)
        d_ip, d_port = dst.rsplit(":", 1)
        self.netns.run([sys.executable, "-c", code, s_ip, s_port, d_ip, d_port,
                        payload.hex(), str(times)])


@pytest.fixture
def env(netns, site_factory, daemon_factory, tmp_path):
    yield from env_with_farends(SrtpEnv(netns, site_factory, daemon_factory, tmp_path))


def srtp_phones(env, mode="mandatory"):
    policy = {"srtp": mode}
    return env.phones_ab(a_audio={"codecs": "PCMU"}, b_audio={"codecs": "PCMU"},
                         a_policy=policy, b_policy=policy)


# -- 1. between two phones ----------------------------------------------------------------------


def test_srtp_both_ways_encrypted_on_the_wire(env):
    cap = Capture(env.netns, env.tmp / "call.pcap")
    a, b = srtp_phones(env, "mandatory")
    call = env.call(a, b)
    sa, sb = env.flowing(call)
    for st in (sa, sb):
        assert st["srtp"] == SUITE_80, st
        assert st["srtpAuthFailures"] == 0 and st["srtpReplays"] == 0, st
    time.sleep(2.0)  # measurement: two seconds of conversation
    later_a, later_b = a.stats(call.sid_a), b.stats(call.sid_b)
    assert later_b["packetsReceived"] > sb["packetsReceived"] + 50, (sb, later_b)
    # Nothing of the far end's (SRTCP included) was refused.
    for st in (later_a, later_b):
        assert st["packetsDiscarded"] == 0 and st["srtpAuthFailures"] == 0, st
    # SRTCP both ways: each side read the other's reports (a round trip needs both).
    a.wait_stats(call.sid_a, lambda s: s["rttMs"] is not None, timeout=20, what="SRTCP")
    b.wait_stats(call.sid_b, lambda s: s["rttMs"] is not None, timeout=20, what="SRTCP")
    ea, eb = env.hangup(call)
    assert ea["audio"]["srtp"] == SUITE_80 and eb["audio"]["srtp"] == SUITE_80
    packets = cap.stop()
    env.stop_phones()

    assert_hears(a.recording(), HZ_B, [HZ_A], who="A")
    assert_hears(b.recording(), HZ_A, [HZ_B], who="B")

    # The offer said RTP/SAVP with both suites, the answer one of them with the same tag.
    sips = sip_texts(packets)
    invite = next(t for t in sips if t.startswith("INVITE ") and "m=audio" in t)
    assert "RTP/SAVP" in invite, invite
    offered = CRYPTO_RE.findall(invite)
    assert [(t, s) for t, s, _ in offered] == [("1", SUITE_80), ("2", SUITE_32)], invite
    answer = next(t for t in sips if t.startswith("SIP/2.0 200") and "m=audio" in t)
    answered = CRYPTO_RE.findall(answer)
    assert [(t, s) for t, s, _ in answered] == [("1", SUITE_80)], answer
    assert answered[0][2] not in {k for _, _, k in offered}, "the answer reused the offer's key"

    # On the wire: RTP both ways, none of it the tone in plain G.711; a tag on every packet.
    a_to_b = rtp_between(packets, a.addr, sb["localAddress"])
    b_to_a = rtp_between(packets, b.addr, sa["localAddress"])
    assert len(a_to_b) > 100 and len(b_to_a) > 100, (len(a_to_b), len(b_to_a))
    assert {len(p) for p in a_to_b} == {12 + 160 + 10}, {len(p) for p in a_to_b}
    assert tone_in_payloads(a_to_b, HZ_A) == 0
    assert tone_in_payloads(b_to_a, HZ_B) == 0
    assert_no_key_logged((a, b), packets)


def test_plain_rtp_carries_the_tone_on_the_wire(env):
    """The control of the wire check above: without SRTP the same capture finds the tone. No
    srtp key on a UDP connection: off, by default."""
    cap = Capture(env.netns, env.tmp / "plain.pcap")
    a, b = env.phones_ab(a_audio={"codecs": "PCMU"}, b_audio={"codecs": "PCMU"})
    call = env.call(a, b)
    sa, sb = env.flowing(call)
    assert sa["srtp"] is None and sb["srtp"] is None, (sa, sb)
    time.sleep(1.0)  # measurement: a second of conversation
    env.hangup(call)
    packets = cap.stop()
    a_to_b = rtp_between(packets, a.addr, sb["localAddress"])
    assert len(a_to_b) > 25, len(a_to_b)
    assert tone_in_payloads(a_to_b, HZ_A) >= 0.8 * len(a_to_b) - 5
    invite = next(t for t in sip_texts(packets) if t.startswith("INVITE ") and "m=audio" in t)
    assert "RTP/AVP" in invite and "a=crypto" not in invite, invite


def test_hold_and_retrieve_renew_our_keys_and_audio_comes_back(env):
    cap = Capture(env.netns, env.tmp / "hold.pcap")
    a, b = srtp_phones(env, "optional")
    call = env.call(a, b)
    env.flowing(call)
    assert a.call("Hold", {"sessionId": call.sid_a}) is True
    a.wait_session("Held", call.sid_a)
    assert a.call("Retrieve", {"sessionId": call.sid_a}) is True
    a.wait_session("Connected", call.sid_a, pred=lambda p: p["previousStatus"] == "Held")
    t_back = time.monotonic()
    time.sleep(1.5)  # measurement: talking again
    sa, sb = a.stats(call.sid_a), b.stats(call.sid_b)
    assert sa["srtp"] == SUITE_80 and sb["srtp"] == SUITE_80, (sa, sb)
    env.hangup(call)
    packets = cap.stop()
    env.stop_phones()

    # Three offers from A (call, hold, retrieve): RTP/AVP with a=crypto, a new key each time.
    invites = [t for t in sip_texts(packets) if t.startswith("INVITE ") and "m=audio" in t and
               f"c=IN IP4 {a.addr}" in t]
    keys = []
    for t in invites:
        assert "RTP/AVP" in t, t
        keys.append(tuple(k for _, _, k in CRYPTO_RE.findall(t)))
    assert len(set(keys)) >= 3, keys
    for p, hz in ((a, HZ_B), (b, HZ_A)):
        assert_hears(p.recording(), hz, start=p.since(call.sid(p), t_back) + 0.4,
                     who=p.name + " retrieved")
    assert_no_key_logged((a, b), packets)


# -- 2. forged and replayed packets -------------------------------------------------------------


def test_forged_and_replayed_packets_are_dropped_and_counted(env):
    cap = Capture(env.netns, env.tmp / "forged.pcap")
    a, b = srtp_phones(env, "mandatory")
    call = env.call(a, b)
    sa, sb = env.flowing(call)
    time.sleep(1.0)  # measurement: audio before the attack
    b_rtp = sb["localAddress"]
    b_ip, b_port = b_rtp.rsplit(":", 1)
    # Every tenth datagram to B (RTP and, with rtcp-mux, RTCP) gets a payload byte flipped
    # on its way from A's real socket.
    env.nft([f"ip saddr {a.addr} ip daddr {b_ip} udp dport {b_port} numgen inc mod 10 0 "
             f"@th,200,8 set @th,200,8 ^ 0xff"])
    t_forged = time.monotonic()
    st = b.wait_stats(call.sid_b, lambda s: s["srtpAuthFailures"] >= 20,
                      what="20 forged packets")
    env.nft([])
    # Replays of a genuine packet A sent early in the call, from A's own address and port.
    early = rtp_between(audio.read_pcap(cap.path), a.addr, b_rtp)[5]
    env.replay(sa["localAddress"], b_rtp, early, times=3)
    st = b.wait_stats(call.sid_b, lambda s: s["srtpReplays"] >= 3, what="3 replays")
    t_end = time.monotonic()
    assert st["packetsDiscarded"] >= st["srtpAuthFailures"] + st["srtpReplays"], st
    assert st["srtp"] == SUITE_80, st
    # The call went on: no hangup, audio to the end.
    assert b.call("GetSessions")[0]["status"] == "Connected"
    time.sleep(0.5)  # measurement: audio after the attack
    env.hangup(call)
    cap.stop()
    env.stop_phones()
    rec = b.recording()
    sid = call.sid_b
    # A tenth of the packets lost to forgery is concealed; the tone stays in most windows.
    assert_hears(rec, HZ_A, [HZ_B], start=b.since(sid, t_forged),
                 end=b.since(sid, t_end) + 0.4, share=0.8, who="B under forgery")
    assert_hears(rec, HZ_A, [HZ_B], end=b.since(sid, t_forged), who="B before")


# -- 3. SIPp callers: what each mode accepts ----------------------------------------------------


def answer_of(caller):
    got = [m for m in caller.received() if m.startswith("SIP/2.0 200") and "m=audio" in m]
    return got[0] if got else None


def refused(phone, caller, code=488):
    deadline = time.monotonic() + WAIT
    while not any(m.startswith(f"SIP/2.0 {code}") for m in caller.received()):
        assert time.monotonic() < deadline, caller.output()
        time.sleep(0.05)
    assert caller.wait(WAIT) == 0, caller.output()
    assert phone.call("GetSessions") == []
    assert not [p for n, p in phone.client.events_seen() if n == "SessionStatusChanged"]


def test_mandatory_refuses_a_plain_offer(env):
    a = env.phone(HZ_A, {"codecs": "PCMU"}, {"srtp": "mandatory"})
    refused(a, env.caller(a, "RTP/AVP", None))


def test_off_refuses_an_savp_offer(env):
    a = env.phone(HZ_A, {"codecs": "PCMU"}, {"srtp": "off"})
    refused(a, env.caller(a, "RTP/SAVP", f"a=crypto:1 {SUITE_80} inline:{OFFER_KEY}"))


def test_mandatory_refuses_an_savp_offer_with_an_unknown_suite(env):
    a = env.phone(HZ_A, {"codecs": "PCMU"}, {"srtp": "mandatory"})
    refused(a, env.caller(a, "RTP/SAVP", f"a=crypto:1 F8_128_HMAC_SHA1_80 inline:{OFFER_KEY}"))


def answer_call(env, phone, caller):
    sid = phone.wait_session("Alerting")["sessionId"]
    assert phone.call("Answer", {"sessionId": sid}) is True
    phone.wait_session("Connected", sid)
    deadline = time.monotonic() + WAIT
    while answer_of(caller) is None:
        assert time.monotonic() < deadline, caller.output()
        time.sleep(0.05)
    return sid, answer_of(caller)


def test_optional_answers_a_plain_offer_with_plain_rtp(env):
    a = env.phone(HZ_A, {"codecs": "PCMU"}, {"srtp": "optional"})
    caller = env.caller(a)
    sid, answer = answer_call(env, a, caller)
    assert "RTP/AVP" in answer and "a=crypto" not in answer, answer
    st = a.wait_stats(sid, lambda s: s["packetsSent"] > 5, what="RTP to the caller")
    assert st["srtp"] is None, st
    a.call("Hangup", {"sessionId": sid})
    a.wait_session("Disconnected", sid)


def test_optional_answers_savp_with_the_offers_tag_and_suite(env):
    a = env.phone(HZ_A, {"codecs": "PCMU"}, {"srtp": "optional"})
    caller = env.caller(a, "RTP/SAVP", f"a=crypto:7 {SUITE_32} inline:{OFFER_KEY}|2^31")
    sid, answer = answer_call(env, a, caller)
    assert "m=audio" in answer and "RTP/SAVP" in answer, answer
    got = CRYPTO_RE.findall(answer)
    assert [(t, s) for t, s, _ in got] == [("7", SUITE_32)], answer
    assert got[0][2] != OFFER_KEY
    st = a.wait_stats(sid, lambda s: s["packetsSent"] > 5, what="SRTP to the caller")
    assert st["srtp"] == SUITE_32, st
    a.call("Hangup", {"sessionId": sid})
    a.wait_session("Disconnected", sid)
    assert got[0][2] not in a.daemon.log()


def test_mandatory_accepts_avp_with_crypto(env):
    a = env.phone(HZ_A, {"codecs": "PCMU"}, {"srtp": "mandatory"})
    caller = env.caller(a, "RTP/AVP", f"a=crypto:3 {SUITE_80} inline:{OFFER_KEY}")
    sid, answer = answer_call(env, a, caller)
    assert "RTP/AVP" in answer and f"a=crypto:3 {SUITE_80} inline:" in answer, answer
    st = a.wait_stats(sid, lambda s: s["packetsSent"] > 5, what="SRTP to the caller")
    assert st["srtp"] == SUITE_80, st
    a.call("Hangup", {"sessionId": sid})
    a.wait_session("Disconnected", sid)


# -- 4. TLS: SRTP by default ------------------------------------------------------------------


def test_tls_connections_use_srtp_by_default(env, site_factory):
    """B registers over TLS and says nothing of srtp: it answers A's a=crypto (A is on UDP
    with srtp=optional). B is the callee and A hangs up: the test site relays the INVITE to
    a TLS phone over its registration's connection, but its in-dialog requests (ACK, BYE)
    try a new TLS connection to the phone, which does not accept one; so B's side is judged
    up to A's hangup only."""
    tls_site = site_factory("127.0.0.3", tls=True, name="TLS")
    a, b = env.phones_on(tls_site, [("udp", {"srtp": "optional"}), ("tls", {})])
    call = env.call(a, b)
    sa, sb = env.flowing(call)
    assert sa["srtp"] == SUITE_80 and sb["srtp"] == SUITE_80, (sa, sb)
    time.sleep(1.0)  # measurement: a second of conversation
    assert b.stats(call.sid_b)["srtpAuthFailures"] == 0
    t_end = time.monotonic()
    assert a.call("Hangup", {"sessionId": call.sid_a}) is True
    a.wait_session("Disconnected", call.sid_a)
    env.stop_phones()
    assert_hears(a.recording(), HZ_B, [HZ_A], who="A")
    assert_hears(b.recording(), HZ_A, [HZ_B], end=b.since(call.sid_b, t_end), who="B")
    for p in (a, b):
        assert "inline:[key hidden]" in p.daemon.log()


# -- 5. an answer without a key to a mandatory offer ----------------------------------------------


def test_mandatory_hangs_up_on_a_plain_answer(env):
    """A far end that answers our RTP/SAVP offer with plain RTP/AVP: no audio is sent in the
    clear; the call is ended at once."""
    a = env.phone(HZ_A, {"codecs": "PCMU"}, {"srtp": "mandatory"})
    far = env.farend("uas-audio", keys={"rtp_ip": "127.0.0.20", "rtp_port": 40000, "pt": 0})
    sid = a.call("Dial", {"connectionId": 0, "destination": "9001"})["sessionId"]
    ev = a.wait_session("Disconnected", sid)
    assert ev.get("audio") is None, ev
    invite = far.received("INVITE")[0]
    assert "RTP/SAVP" in invite and "a=crypto:1 " in invite, invite
    deadline = time.monotonic() + WAIT
    while not far.received("BYE"):
        assert time.monotonic() < deadline, far.output()
        time.sleep(0.05)
    assert "hanging up" in a.daemon.log()
