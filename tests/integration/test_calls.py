"""Calls against real Kamailio sites and SIPp far ends in a private network namespace: dialling
through a site and failing over from a dead one, inbound calls on either site, one active call
and call waiting, hold, 3pcc NOTIFY talk/hold, auto-answer, hangups from both sides, busy,
cancel, transfer, DTMF, and the errors of the control API. Driven only through the socket."""

import os
import shutil
import sys
import time

import pytest

_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, _HERE)
sys.path.insert(0, os.path.join(_HERE, "sipp"))

from farend import Sipp, env_with_farends  # noqa: E402
from sites import SITE_A, SITE_B, connection, render_config  # noqa: E402
from softphoned import RpcError  # noqa: E402

# The site fixtures (netns, site_factory); harmless if conftest has them too.
pytest_plugins = ["fixtures_sites"]

DN = "5001"
EVENT = "SessionStatusChanged"
WAIT = 30          # bound for one expected event; real timings live in bench/calls
FAREND = "127.0.0.10:5070"   # SIPp answering for DNs 9xxx behind both sites
CALLER = "127.0.0.11:5070"   # SIPp calling the agent
CALLER2 = "127.0.0.12:5070"  # a second caller (call waiting)
FAREND_A = "127.0.0.13:5070"  # with env_split: the far end behind site A only

# Every field of SessionStatusChanged in the SPEC's example.
FIELDS = {"sessionId", "connectionId", "status", "previousStatus", "direction", "remote", "holdBy",
          "failoverFrom", "properties", "code", "reason", "sipReason", "time"}


class Env:
    """Two Kamailio sites (A: connection 0, B: connection 1) relaying DNs 9xxx to FAREND (site
    A to farend_a), one softphoned registered as DN on both, and a subscribed control client."""

    def __init__(self, netns, site_factory, daemon_factory, tmp_path, farend_a=FAREND):
        self.netns = netns
        self.tmp = tmp_path
        self.a = site_factory(SITE_A, name="A", farend=farend_a)
        self.b = site_factory(SITE_B, name="B", farend=FAREND)
        self.daemon_factory = daemon_factory
        self.daemon = None
        self.client = None
        self.sipps = []

    def start(self, policy=None, **conn_keys):
        conns = [connection(self.a, user=DN, **conn_keys),
                 connection(self.b, user=DN, **conn_keys)]
        self.daemon = self.daemon_factory(render_config(conns, policy=policy),
                                          netns=self.netns.name).start()
        self.client = self.daemon.client()
        self.client.subscribe()
        self.wait_connection(0, "Ready")
        self.wait_connection(1, "Ready")
        return self

    # -- connections ---------------------------------------------------------------------

    def connection_status(self, cid):
        for c in self.client.call("GetConnections"):
            if c["connectionId"] == cid:
                return c["status"]
        return None

    def wait_connection(self, cid, status, timeout=WAIT):
        if self.connection_status(cid) == status:
            return
        self.client.wait_event("ConnectionStatusChanged",
                               lambda p: p["connectionId"] == cid and p["status"] == status,
                               timeout)

    # -- far ends --------------------------------------------------------------------------

    def farend(self, scenario, local=FAREND, **kw):
        """A SIPp far end (UAS) for DNs 9xxx, listening before this returns."""
        s = Sipp(self.netns, scenario, self.tmp, local, **kw).start()
        self.sipps.append(s)
        return s

    def caller(self, scenario, site, local=CALLER, **kw):
        """A SIPp caller (UAC) calling DN through site."""
        s = Sipp(self.netns, scenario, self.tmp, local, remote=site.server, service=DN,
                 **kw).start()
        self.sipps.append(s)
        return s

    def close(self):
        for s in self.sipps:
            s.stop()

    # -- sessions ----------------------------------------------------------------------------

    def wait_session(self, status, sid=None, timeout=WAIT, pred=lambda p: True):
        return self.client.wait_event(
            EVENT, lambda p: p["status"] == status and (sid is None or p["sessionId"] == sid)
            and pred(p), timeout)

    def sessions(self):
        return {s["sessionId"]: s for s in self.client.call("GetSessions")}

    def dial(self, destination="9001", cid=0):
        return self.client.call("Dial", {"connectionId": cid, "destination": destination})

    def hangup(self, sid):
        assert self.client.call("Hangup", {"sessionId": sid}) is True
        return self.wait_session("Disconnected", sid)


_env = env_with_farends


@pytest.fixture
def env(netns, site_factory, daemon_factory, tmp_path):
    yield from _env(Env(netns, site_factory, daemon_factory, tmp_path))


@pytest.fixture
def env_split(netns, site_factory, daemon_factory, tmp_path):
    """Env whose sites relay to different far ends: site A to FAREND_A, site B to FAREND."""
    yield from _env(Env(netns, site_factory, daemon_factory, tmp_path, farend_a=FAREND_A))


def finished(sipp, timeout=WAIT):
    rc = sipp.wait(timeout)
    assert rc == 0, f"{sipp!r} failed ({rc}):\n{sipp.output()}"


def sdp_direction(msg):
    for line in msg.splitlines():
        if line.strip() in ("a=sendonly", "a=recvonly", "a=inactive", "a=sendrecv"):
            return line.strip()[2:]
    return "sendrecv"


def header(msg, name):
    for line in msg.splitlines():
        if line.lower().startswith(name.lower() + ":"):
            return line.split(":", 1)[1].strip()
    return None


def unique(msgs):
    """msgs without UDP retransmissions (the same CSeq again)."""
    seen, out = set(), []
    for m in msgs:
        key = (header(m, "Call-ID"), header(m, "CSeq"))
        if key not in seen:
            seen.add(key)
            out.append(m)
    return out


def reinvites(sipp):
    """The re-INVITEs a far end received (INVITEs after the first one of its dialog)."""
    invites = unique(sipp.received("INVITE"))
    if sipp.remote is None:
        return invites[1:]
    return invites


def wait_trace(sipp, pred, timeout=WAIT):
    """Polls a SIPp trace (bounded) until pred(sipp) holds; for what has no event."""
    deadline = time.monotonic() + timeout
    while not pred(sipp):
        if time.monotonic() > deadline:
            raise TimeoutError(f"{sipp!r}: never matched; trace:\n{sipp.trace()!r}")
        time.sleep(0.05)


# -- outbound --------------------------------------------------------------------------------


def test_dial_through_first_site(env):
    env.start()
    far = env.farend("uas-answer")
    res = env.dial("9001", 0)
    assert res["connectionId"] == 0
    sid = res["sessionId"]
    assert isinstance(sid, str) and sid.isdigit()

    ev = env.wait_session("InProgress", sid)
    assert set(ev) == FIELDS
    assert ev["previousStatus"] is None
    assert ev["direction"] == "outbound"
    assert ev["connectionId"] == 0 and ev["properties"] == {"connectionId": 0, "callUuid": None}
    assert ev["failoverFrom"] is None
    assert ev["remote"]["dn"] == "9001" and ev["remote"]["uri"].startswith("sip:9001@")
    assert ev["code"] is None and ev["reason"] is None and ev["sipReason"] is None
    assert ev["time"].endswith("Z")

    ev = env.wait_session("Connected", sid)
    assert ev["previousStatus"] == "InProgress" and ev["connectionId"] == 0
    assert set(env.sessions()[sid]) >= FIELDS - {"time"}
    assert env.sessions()[sid]["status"] == "Connected"

    ev = env.hangup(sid)
    assert ev["reason"] == "Normal" and ev["previousStatus"] == "Connected"
    assert env.sessions() == {}
    finished(far)
    assert len(unique(far.received("BYE"))) == 1
    invite = far.received("INVITE")[0]
    assert "m=audio " in invite and "PCMU/8000" in invite and "PCMA/8000" in invite
    assert "telephone-event/8000" in invite


def test_dial_fails_over_from_a_silently_dead_site(env):
    # Probes far apart, so the site is still Ready when the INVITE goes out.
    env.start(keepalive_interval=60000)
    far = env.farend("uas-answer")
    env.netns.drop(SITE_A, 5060, "udp")
    assert env.connection_status(0) == "Ready"

    res = env.dial("9001", 0)
    sid = res["sessionId"]
    assert res["connectionId"] == 0
    first = env.wait_session("InProgress", sid)
    assert first["connectionId"] == 0 and first["failoverFrom"] is None
    moved = env.wait_session("InProgress", sid, pred=lambda p: p["connectionId"] == 1)
    assert moved["failoverFrom"] == 0
    ev = env.wait_session("Connected", sid)
    assert ev["connectionId"] == 1 and ev["failoverFrom"] == 0
    assert ev["properties"] == {"connectionId": 1, "callUuid": None}
    assert ev["remote"]["uri"] == f"sip:9001@{SITE_B}"
    env.hangup(sid)
    finished(far)


def statuses(env, sid):
    """(status, connectionId) of every SessionStatusChanged of sid seen so far."""
    return [(p["status"], p["connectionId"]) for n, p in env.client.events_seen()
            if n == EVENT and p["sessionId"] == sid]


NFT = shutil.which("nft") or "/usr/sbin/nft"
ONEWAY_TABLE = "sp_calls_oneway"


def lose_replies(netns, site, port=5060):
    """What site (udp) sends to the agent is dropped, nothing else: the site relays the agent's
    requests to its far end, whose answers go no further than the site."""
    netns.run([NFT, "-f", "-"], input=(
        f"table inet {ONEWAY_TABLE} {{\n\tchain input {{\n"
        "\t\ttype filter hook input priority 0; policy accept;\n"
        f"\t\tip saddr {site} udp sport {port} ip daddr 127.0.0.1 drop\n\t}}\n}}\n").encode())


def keep_replies(netns):
    netns.run([NFT, "delete", "table", "inet", ONEWAY_TABLE])


def revive_site_a_slowly(env, far_a):
    """Site A, silent so far, gets the INVITE that sofia still retransmits and relays it to its
    far end, which answers 200; that answer only reaches the agent once the far end has
    the INVITE (no race with the agent's CANCEL, which goes once a provisional response comes).
    """
    lose_replies(env.netns, SITE_A)
    env.netns.undrop(SITE_A, 5060, "udp")
    wait_trace(far_a, lambda f: f.received("INVITE"))
    keep_replies(env.netns)


@pytest.mark.parametrize("hangup_first", [False, True], ids=["talking", "hung-up"])
def test_invite_given_up_by_failover_is_ended_when_answered_late(env_split, hangup_first):
    # sofia still retransmits the INVITE that site A did not answer: once A is back, the far end
    # behind it gets it and answers. That call must be ended (BYE), not left up as a ghost.
    env = env_split
    env.start(keepalive_interval=60000)
    far_a = env.farend("uas-answer-wants-bye", local=FAREND_A)
    far_b = env.farend("uas-answer")
    env.netns.drop(SITE_A, 5060, "udp")
    assert env.connection_status(0) == "Ready"

    sid = env.dial("9001", 0)["sessionId"]
    moved = env.wait_session("InProgress", sid, pred=lambda p: p["connectionId"] == 1)
    assert moved["failoverFrom"] == 0
    ev = env.wait_session("Connected", sid)
    assert ev["connectionId"] == 1 and ev["failoverFrom"] == 0
    if hangup_first:
        env.hangup(sid)
        finished(far_b)
    assert far_a.received() == []

    revive_site_a_slowly(env, far_a)
    finished(far_a)  # INVITE, 200, ACK, and then the BYE it waits for
    assert len(unique(far_a.received("INVITE"))) == 1
    assert len(unique(far_a.received("BYE"))) == 1

    # The session saw none of it.
    expected = [("InProgress", 0), ("InProgress", 1), ("Connected", 1)]
    if hangup_first:
        assert env.sessions() == {}
        assert statuses(env, sid) == expected + [("Disconnected", 1)]
    else:
        assert env.sessions()[sid]["status"] == "Connected"
        assert statuses(env, sid) == expected
        env.hangup(sid)
        finished(far_b)
        assert statuses(env, sid) == expected + [("Disconnected", 1)]
    assert len(unique(far_b.received("BYE"))) == 1


def test_removing_the_connection_failed_over_from_keeps_the_call(env):
    # The INVITE given up on connection 0 lived on its SIP stack, which goes; the call via 1
    # stays.
    env.start(keepalive_interval=60000)
    far = env.farend("uas-answer")
    env.netns.drop(SITE_A, 5060, "udp")
    sid = env.dial("9001", 0)["sessionId"]
    ev = env.wait_session("Connected", sid)
    assert ev["connectionId"] == 1 and ev["failoverFrom"] == 0
    assert env.client.call("RemoveConnection", {"connectionId": 0}) is True
    env.client.wait_event("ConnectionStatusChanged",
                          lambda p: p["connectionId"] == 0 and p["status"] == "Removed", WAIT)
    assert env.sessions()[sid]["status"] == "Connected"
    env.hangup(sid)
    finished(far)
    assert env.sessions() == {}


def test_hangup_before_any_response_ends_a_late_answer(env_split):
    # Site A silent while the agent hangs up: sofia cannot CANCEL an INVITE that has had no
    # response (RFC 3261 9.1) and keeps sending it; once A is back the far end answers 200,
    # and that call must be ended too.
    env = env_split
    env.start(keepalive_interval=60000, policy={"invite-failover-timeout": "60"})
    far_a = env.farend("uas-answer-wants-bye", local=FAREND_A)
    env.netns.drop(SITE_A, 5060, "udp")
    assert env.connection_status(0) == "Ready"

    sid = env.dial("9001", 0)["sessionId"]
    env.wait_session("InProgress", sid)
    ev = env.hangup(sid)
    assert ev["reason"] == "Cancelled" and ev["connectionId"] == 0
    assert env.sessions() == {}

    revive_site_a_slowly(env, far_a)
    finished(far_a)
    assert len(unique(far_a.received("BYE"))) == 1
    assert statuses(env, sid) == [("InProgress", 0), ("Disconnected", 0)]


def test_hangup_before_the_far_end_answers_ends_its_late_answer(env):
    # The site is up (its 100 Trying lets the CANCEL go), the far end silent for a while and
    # then answering 200 without a provisional response: the site cannot CANCEL it (no
    # response on that branch), so the 200 comes through and must get a BYE.
    env.start()
    far = env.farend("uas-answer-wants-bye", args=["-d", "2000"])
    sid = env.dial("9001", 0)["sessionId"]
    env.wait_session("InProgress", sid)
    wait_trace(far, lambda f: f.received("INVITE"))
    ev = env.hangup(sid)
    assert ev["reason"] == "Cancelled"
    finished(far)
    assert len(unique(far.received("BYE"))) == 1
    assert statuses(env, sid) == [("InProgress", 0), ("Disconnected", 0)]


def test_slow_far_end_behind_a_live_site_does_not_fail_over(env):
    env.start()
    far = env.farend("uas-answer-late", args=["-d", "3000"])  # beyond the 2 s failover
    sid = env.dial("9001", 0)["sessionId"]
    ev = env.wait_session("Connected", sid)
    assert ev["connectionId"] == 0 and ev["failoverFrom"] is None
    assert [p["connectionId"] for n, p in env.client.events_seen()
            if n == EVENT and p["sessionId"] == sid] == [0, 0]
    env.hangup(sid)
    finished(far)


def test_dial_while_first_site_failed_goes_to_second_at_once(env):
    env.start()
    far = env.farend("uas-answer")
    env.a.kill()
    env.wait_connection(0, "Failed")

    res = env.dial("9001", 0)
    sid = res["sessionId"]
    assert res["connectionId"] == 1
    ev = env.wait_session("InProgress", sid)
    assert ev["connectionId"] == 1 and ev["failoverFrom"] == 0
    ev = env.wait_session("Connected", sid)
    assert ev["connectionId"] == 1 and ev["failoverFrom"] == 0
    env.hangup(sid)
    finished(far)


def test_unavailable_when_no_connection_is_ready(env):
    env.start()
    env.a.kill()
    env.b.kill()
    env.wait_connection(0, "Failed")
    env.wait_connection(1, "Failed")
    with pytest.raises(RpcError) as e:
        env.dial("9001", 0)
    assert e.value.kind == "Unavailable"
    assert env.sessions() == {}


def test_busy(env):
    env.start()
    far = env.farend("uas-busy")
    sid = env.dial("9001")["sessionId"]
    ev = env.wait_session("Disconnected", sid)
    assert ev["reason"] == "Busy" and ev["code"] == 486 and ev["sipReason"] == "Busy Here"
    assert ev["previousStatus"] == "InProgress"
    finished(far)


def ringing(far):
    return any(m.startswith("SIP/2.0 180") for m in far.sent())


def test_hangup_while_in_progress_cancels(env):
    env.start()
    far = env.farend("uas-ring")
    sid = env.dial("9001")["sessionId"]
    env.wait_session("InProgress", sid)
    wait_trace(far, ringing)
    ev = env.hangup(sid)
    assert ev["reason"] == "Cancelled" and ev["previousStatus"] == "InProgress"
    finished(far)
    assert len(unique(far.received("CANCEL"))) == 1


def test_far_end_hangs_up(env):
    env.start()
    far = env.farend("uas-answer-bye", args=["-d", "300"])
    sid = env.dial("9001")["sessionId"]
    env.wait_session("Connected", sid)
    ev = env.wait_session("Disconnected", sid)
    assert ev["reason"] == "Normal" and ev["code"] is None
    finished(far)
    assert env.sessions() == {}


def test_hold_and_retrieve(env):
    env.start()
    far = env.farend("uas-answer")
    sid = env.dial("9001")["sessionId"]
    env.wait_session("Connected", sid)

    with pytest.raises(RpcError) as e:
        env.client.call("Retrieve", {"sessionId": sid})
    assert e.value.kind == "WrongState"

    assert env.client.call("Hold", {"sessionId": sid}) is True
    ev = env.wait_session("Held", sid)
    assert ev["previousStatus"] == "Connected"
    assert [sdp_direction(m) for m in reinvites(far)] == ["sendonly"]
    with pytest.raises(RpcError) as e:
        env.client.call("Hold", {"sessionId": sid})
    assert e.value.kind == "WrongState"

    assert env.client.call("Retrieve", {"sessionId": sid}) is True
    ev = env.wait_session("Connected", sid)
    assert ev["previousStatus"] == "Held"
    assert [sdp_direction(m) for m in reinvites(far)] == ["sendonly", "sendrecv"]
    env.hangup(sid)
    finished(far)


def test_removing_the_connection_ends_its_calls(env):
    env.start()
    far = env.farend("uas-answer")
    sid = env.dial("9001", 0)["sessionId"]
    env.wait_session("Connected", sid)
    assert env.client.call("RemoveConnection", {"connectionId": 0}) is True
    ev = env.wait_session("Disconnected", sid)
    assert ev["connectionId"] == 0
    env.wait_connection(1, "Ready")
    assert env.sessions() == {}
    finished(far)
    assert len(unique(far.received("BYE"))) == 1


def test_dtmf_as_sip_info(env):
    env.start(policy={"dtmf-method": "info"})
    far = env.farend("uas-answer")
    sid = env.dial("9001")["sessionId"]
    env.wait_session("Connected", sid)
    assert env.client.call("SendDtmf", {"sessionId": sid, "digits": "12#"}) is True
    wait_trace(far, lambda f: len(unique(f.received("INFO"))) == 3)
    infos = unique(far.received("INFO"))
    assert all("application/dtmf-relay" in m for m in infos)
    assert [m.split("Signal=")[1][0] for m in infos] == ["1", "2", "#"]
    env.hangup(sid)
    finished(far)


def test_blind_transfer(env):
    env.start()
    far = env.farend("uas-refer")
    sid = env.dial("9001")["sessionId"]
    env.wait_session("Connected", sid)
    assert env.client.call("Transfer", {"sessionId": sid, "destination": "9002"}) is True
    ev = env.wait_session("Disconnected", sid)
    assert ev["reason"] == "Normal"
    finished(far)
    refer = unique(far.received("REFER"))
    assert len(refer) == 1 and "sip:9002@" in refer[0]


# -- inbound ---------------------------------------------------------------------------------


def test_inbound_through_second_site_while_first_is_down(env):
    env.start()
    env.a.kill()
    env.wait_connection(0, "Failed")
    caller = env.caller("uac-call", env.b)
    ev = env.wait_session("Alerting")
    sid = ev["sessionId"]
    assert set(ev) == FIELDS
    assert ev["direction"] == "inbound" and ev["connectionId"] == 1
    assert ev["properties"] == {"connectionId": 1, "callUuid": None} and ev["failoverFrom"] is None
    assert ev["remote"]["dn"] == "9001" and ev["remote"]["displayName"] == "Far End"
    assert env.sessions()[sid]["status"] == "Alerting"

    assert env.client.call("Answer", {"sessionId": sid}) is True
    env.wait_session("Connected", sid)
    with pytest.raises(RpcError) as e:
        env.client.call("Answer", {"sessionId": sid})
    assert e.value.kind == "WrongState"
    env.hangup(sid)
    finished(caller)
    assert any(m.startswith("SIP/2.0 180") for d, m in caller.trace() if d == "received")


def test_reject_inbound(env):
    env.start()
    caller = env.caller("uac-call", env.a)
    sid = env.wait_session("Alerting")["sessionId"]
    ev = env.hangup(sid)
    assert ev["reason"] == "Rejected" and ev["previousStatus"] == "Alerting"
    # The caller's scenario wanted an answer: it is stopped once it got the 603.
    wait_trace(caller, lambda c: any(m.startswith("SIP/2.0 603") for m in c.received()))
    caller.stop()


def test_second_call_rings_and_answering_it_holds_the_first(env):
    env.start()
    first = env.caller("uac-call", env.a, local=CALLER)
    s1 = env.wait_session("Alerting")["sessionId"]
    env.client.call("Answer", {"sessionId": s1})
    env.wait_session("Connected", s1)

    second = env.caller("uac-call", env.b, local=CALLER2)
    ev = env.wait_session("Alerting")
    s2 = ev["sessionId"]
    assert s2 != s1 and ev["connectionId"] == 1
    assert {k: v["status"] for k, v in env.sessions().items()} == \
        {s1: "Connected", s2: "Alerting"}

    env.client.call("Answer", {"sessionId": s2})
    env.wait_session("Held", s1)
    env.wait_session("Connected", s2)
    assert [sdp_direction(m) for m in reinvites(first)] == ["sendonly"]
    assert reinvites(second) == []

    # Retrieving the first holds the second.
    env.client.call("Retrieve", {"sessionId": s1})
    env.wait_session("Held", s2)
    env.wait_session("Connected", s1)
    assert [sdp_direction(m) for m in reinvites(second)] == ["sendonly"]

    env.hangup(s1)
    env.hangup(s2)
    finished(first)
    finished(second)


def test_dial_holds_the_current_call(env):
    env.start()
    caller = env.caller("uac-call", env.a)
    s1 = env.wait_session("Alerting")["sessionId"]
    env.client.call("Answer", {"sessionId": s1})
    env.wait_session("Connected", s1)
    far = env.farend("uas-answer")
    s2 = env.dial("9001", 1)["sessionId"]
    env.wait_session("Held", s1)
    env.wait_session("Connected", s2)
    assert [sdp_direction(m) for m in reinvites(caller)] == ["sendonly"]
    env.hangup(s2)
    env.hangup(s1)
    finished(caller)
    finished(far)


def test_far_end_holds_the_agent(env):
    env.start()
    caller = env.caller("uac-reinvite-hold", env.a)
    sid = env.wait_session("Alerting")["sessionId"]
    env.client.call("Answer", {"sessionId": sid})
    env.wait_session("Connected", sid)
    wait_trace(caller, lambda c: any(m.startswith("SIP/2.0 200") and "a=recvonly" in m
                                     for d, m in c.trace() if d == "received"))
    assert env.wait_session("Held", sid)["holdBy"] == "remote"
    # Holding a call that the far end holds too makes it inactive.
    env.client.call("Hold", {"sessionId": sid})
    env.wait_session("Held", sid, pred=lambda p: p["holdBy"] == "both")
    assert [sdp_direction(m) for m in reinvites(caller)] == ["inactive"]
    env.hangup(sid)
    finished(caller)


# -- 3pcc and auto-answer ----------------------------------------------------------------------


def test_notify_talk_answers(env):
    env.start()
    caller = env.caller("uac-notify-talk", env.a)
    sid = env.wait_session("Alerting")["sessionId"]
    ev = env.wait_session("Connected", sid)
    assert ev["previousStatus"] == "Alerting"
    env.hangup(sid)
    finished(caller)


def test_notify_hold_holds_and_notify_talk_retrieves(env):
    env.start()
    caller = env.caller("uac-notify-hold", env.b)
    sid = env.wait_session("Alerting")["sessionId"]
    env.client.call("Answer", {"sessionId": sid})
    env.wait_session("Connected", sid)
    env.wait_session("Held", sid)
    env.wait_session("Connected", sid, pred=lambda p: p["previousStatus"] == "Held")
    assert [sdp_direction(m) for m in reinvites(caller)] == ["sendonly", "sendrecv"]
    env.hangup(sid)
    finished(caller)
    answer = [m for d, m in caller.trace() if d == "received" and m.startswith("SIP/2.0 200")
              and "CSeq: 1 INVITE" in m][0]
    assert "talk" in answer and "hold" in answer  # Allow-Events: talk, hold
    for method in ("INVITE", "ACK", "BYE", "CANCEL", "OPTIONS", "INFO", "REFER", "NOTIFY",
                   "UPDATE"):
        assert method in answer.split("Allow:")[1].splitlines()[0]


def test_auto_answer_by_policy(env):
    env.start(policy={"auto-answer": True})
    caller = env.caller("uac-call", env.a)
    sid = env.wait_session("Alerting")["sessionId"]
    env.wait_session("Connected", sid)
    env.hangup(sid)
    finished(caller)


@pytest.mark.parametrize("scenario,keys", [
    ("uac-call-alert-autoanswer", {}),
    ("uac-call-answer-after", {"after": "0"}),
    ("uac-call-answer-after", {"after": "1"}),
])
def test_auto_answer_by_header(env, scenario, keys):
    env.start()
    caller = env.caller(scenario, env.a, keys=keys)
    sid = env.wait_session("Alerting")["sessionId"]
    env.wait_session("Connected", sid)
    env.hangup(sid)
    finished(caller)


# -- errors ----------------------------------------------------------------------------------


def test_bad_params_and_unknown_sessions(env):
    env.start()

    def error(method, params):
        with pytest.raises(RpcError) as e:
            env.client.call(method, params)
        return e.value

    assert error("Dial", {"connectionId": 7, "destination": "9001"}).kind == "NotFound"
    for bad in ("", "90 01", "sip:", "sip:@", "mailto:x@y", "<sip:9001@x>", "9" * 65):
        e = error("Dial", {"connectionId": 0, "destination": bad})
        assert e.code == -32602, bad
    assert error("Dial", {"connectionId": 0}).code == -32602
    for method in ("Answer", "Hangup", "Hold", "Retrieve"):
        e = error(method, {"sessionId": "999"})
        assert e.kind == "NotFound", method
    assert error("SendDtmf", {"sessionId": "999", "digits": "1"}).kind == "NotFound"
    assert error("Transfer", {"sessionId": "999", "destination": "9002"}).kind == "NotFound"

    far = env.farend("uas-ring")
    sid = env.dial("9001")["sessionId"]
    env.wait_session("InProgress", sid)
    wait_trace(far, ringing)
    for method in ("Answer", "Hold", "Retrieve"):
        assert error(method, {"sessionId": sid}).kind == "WrongState", method
    assert error("SendDtmf", {"sessionId": sid, "digits": "1"}).kind == "WrongState"
    assert error("Transfer", {"sessionId": sid, "destination": "9002"}).kind == "WrongState"
    env.hangup(sid)
    # A Disconnected session is gone.
    assert error("Hangup", {"sessionId": sid}).kind == "NotFound"
    finished(far)
