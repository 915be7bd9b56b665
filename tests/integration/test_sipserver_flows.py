"""SIP Server's own call flows against real Kamailio sites and SIPp playing SIP Server: the
desktop answering with NOTIFY talk in the early dialog and an offerless re-INVITE, 3pcc
MakeCall with the ACK withheld, hold and retrieve from the desktop (c=0.0.0.0 and offerless
re-INVITE, inactive/sendrecv), session timers, INVITEs the site challenges, CallUUID and the
exposed headers, and a dialled URI naming the dead site. Driven only through the socket."""

import os
import sys

import pytest

_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, _HERE)
sys.path.insert(0, os.path.join(_HERE, "sipp"))

from sites import SITE_A, SITE_B, connection, render_config  # noqa: E402
from farend import env_with_farends  # noqa: E402
from test_calls import (CALLER, DN, FAREND, Env, finished, header, sdp_direction,  # noqa: E402
                        unique, wait_trace)

pytest_plugins = ["fixtures_sites"]

UUID = "00F0020A5C2B8A1C"


@pytest.fixture
def env(netns, site_factory, daemon_factory, tmp_path):
    yield from env_with_farends(Env(netns, site_factory, daemon_factory, tmp_path))


def responses(sipp, code, cseq_method):
    """The responses with this code to cseq_method that SIPp received (retransmissions too)."""
    return [m for d, m in sipp.trace() if d == "received" and m.startswith(f"SIP/2.0 {code} ")
            and (header(m, "CSeq") or "").endswith(" " + cseq_method)]


def has_sdp(msg):
    return "\nv=0" in msg.replace("\r", "")


def wait_reinvite_answered(caller):
    """Until the 200 to the caller's re-INVITE (CSeq 3) has reached it."""
    wait_trace(caller, lambda c: any(header(m, "CSeq") == "3 INVITE"
                                     for m in responses(c, 200, "INVITE")))


def events(env, sid):
    return [p for n, p in env.client.events_seen()
            if n == "SessionStatusChanged" and p["sessionId"] == sid]


# -- Answer Call Functionality -----------------------------------------------------------------


def test_notify_talk_in_early_dialog_then_offerless_reinvite(env):
    env.start()
    caller = env.caller("uac-sipserver-answer", env.a,
                        keys={"callUuid": UUID, "trace": "abc;x=1"})
    alerting = env.wait_session("Alerting")
    sid = alerting["sessionId"]
    # The correlation the desktop needs comes with the first event.
    props = alerting["properties"]
    assert props["callUuid"] == UUID
    assert props["sipHeaders"] == {"X-Genesys-CallUUID": UUID, "X-Genesys-Trace": "abc;x=1"}
    ev = env.wait_session("Connected", sid)
    assert ev["previousStatus"] == "Alerting" and ev["holdBy"] is None
    # The offerless re-INVITE: we offer in the 200 (sendrecv), the answer comes in the ACK.
    wait_reinvite_answered(caller)
    reoffer = [m for m in responses(caller, 200, "INVITE") if header(m, "CSeq") == "3 INVITE"]
    assert has_sdp(reoffer[0]) and sdp_direction(reoffer[0]) == "sendrecv"
    env.hangup(sid)
    finished(caller)
    assert [p["status"] for p in events(env, sid)] == ["Alerting", "Connected", "Disconnected"]


def test_expose_headers_policy(env):
    env.start(policy={"expose-headers": "X-Other, x-genesys-trace"})
    caller = env.caller("uac-sipserver-answer", env.a, keys={"callUuid": UUID, "trace": "t"})
    props = env.wait_session("Alerting")["properties"]
    # callUuid whatever the policy; the headers only as configured, matched without case.
    assert props["callUuid"] == UUID
    assert props["sipHeaders"] == {"X-Genesys-Trace": "t", "X-Other": "not exposed"}
    sid = env.wait_session("Connected")["sessionId"]
    wait_reinvite_answered(caller)  # a BYE crossing it is not what SIPp's script expects
    env.hangup(sid)
    finished(caller)


# -- T-Lib-Initiated MakeCall INVITE -------------------------------------------------------------


@pytest.mark.parametrize("answered,reg_timeout", [(True, None), (False, None), (True, 2)],
                         ids=["party-answers", "never-answers", "party-answers-reg-timeout-2s"])
def test_makecall_with_ack_withheld(env, answered, reg_timeout):
    """With reg-timeout=2 (a short REGISTER transaction lifetime, for fast detection of a dead
    site) the withheld ACK (4 s) must still be waited for: the answer's retransmissions run
    for sofia's full 32 s, not for the REGISTER's lifetime."""
    env.start(reg_timeout=reg_timeout)
    ackip = CALLER.split(":")[0] if answered else "0.0.0.0"
    caller = env.caller("uac-sipserver-makecall", env.b,
                        keys={"callUuid": UUID, "trace": "m", "ackip": ackip})
    sid = env.wait_session("Alerting")["sessionId"]
    ev = env.wait_session("Connected", sid)
    assert ev["properties"]["callUuid"] == UUID and ev["connectionId"] == 1
    ended = env.wait_session("Disconnected", sid)
    assert ended["reason"] == "Normal"
    finished(caller)
    # Our 200 (the offer) was sent again and again while SIP Server withheld the ACK, and the
    # phone never gave up on the call: the BYE came from SIP Server.
    answers = responses(caller, 200, "INVITE")
    assert len(answers) >= 4 and all(has_sdp(m) for m in answers)
    assert not caller.received("BYE")
    seen = [(p["status"], p["holdBy"]) for p in events(env, sid)]
    if answered:
        assert seen == [("Alerting", None), ("Connected", None), ("Disconnected", None)]
    else:
        # The ACK's c=0.0.0.0 is SIP Server holding the call (nobody to talk to).
        assert seen == [("Alerting", None), ("Connected", None), ("Held", "remote"),
                        ("Disconnected", None)]


# -- T-Lib-Initiated Hold-Retrieve ---------------------------------------------------------------


def test_hold_from_the_desktop_and_offerless_retrieve(env):
    env.start()
    caller = env.caller("uac-sipserver-hold", env.a)
    sid = env.wait_session("Alerting")["sessionId"]
    env.client.call("Answer", {"sessionId": sid})
    env.wait_session("Connected", sid)
    held = env.wait_session("Held", sid)
    assert held["holdBy"] == "remote" and held["previousStatus"] == "Connected"
    back = env.wait_session("Connected", sid)
    assert back["previousStatus"] == "Held" and back["holdBy"] is None
    # The retrieve was offerless: our 200 carried the offer.
    retr = [m for m in responses(caller, 200, "INVITE") if header(m, "CSeq") == "3 INVITE"]
    assert has_sdp(retr[0]) and sdp_direction(retr[0]) == "sendrecv"
    env.hangup(sid)
    finished(caller)


def test_far_end_hold_and_our_hold_on_top(env):
    env.start()
    caller = env.caller("uac-hold-both", env.a)
    sid = env.wait_session("Alerting")["sessionId"]
    env.client.call("Answer", {"sessionId": sid})
    env.wait_session("Connected", sid)
    assert env.wait_session("Held", sid)["holdBy"] == "remote"
    # Retrieve is ours to do only once we hold.
    assert env.client.call("Hold", {"sessionId": sid}) is True
    both = env.wait_session("Held", sid, pred=lambda p: p["holdBy"] == "both")
    assert both["previousStatus"] == "Held"
    # The far end retrieves (sendrecv offer): still held, by us.
    local = env.wait_session("Held", sid, pred=lambda p: p["holdBy"] == "local")
    assert env.sessions()[sid]["holdBy"] == "local"
    assert local["status"] == "Held"
    assert env.client.call("Retrieve", {"sessionId": sid}) is True
    env.wait_session("Connected", sid)
    ours = [m for m in unique(caller.received("INVITE"))]
    assert [sdp_direction(m) for m in ours] == ["inactive", "sendrecv"]
    env.hangup(sid)
    finished(caller)


# -- session timers ------------------------------------------------------------------------------


def test_session_timer_refreshed_by_sip_server(env):
    env.start(policy={"min-session-expires": 4})
    caller = env.caller("uac-session-timer", env.a, keys={"se": "4"})
    sid = env.wait_session("Alerting")["sessionId"]
    env.client.call("Answer", {"sessionId": sid})
    env.wait_session("Connected", sid)
    ended = env.wait_session("Disconnected", sid)
    finished(caller)
    # SIP Server hung up after three refreshes: the call stayed up across them.
    assert ended["reason"] == "Normal" and not caller.received("BYE")
    first = [m for m in responses(caller, 200, "INVITE") if header(m, "CSeq") == "1 INVITE"][0]
    assert header(first, "Session-Expires").replace(" ", "") == "4;refresher=uac"
    assert "timer" in header(first, "Require")
    assert len({header(m, "CSeq") for m in responses(caller, 200, "INVITE")}) == 4


def test_session_timer_refreshed_by_the_phone(env):
    env.start(policy={"min-session-expires": 4})
    caller = env.caller("uac-session-timer-uas", env.a, keys={"se": "4"})
    sid = env.wait_session("Alerting")["sessionId"]
    env.client.call("Answer", {"sessionId": sid})
    env.wait_session("Connected", sid)
    ended = env.wait_session("Disconnected", sid)
    finished(caller)
    assert ended["reason"] == "Normal"
    first = [m for m in responses(caller, 200, "INVITE") if header(m, "CSeq") == "1 INVITE"][0]
    assert header(first, "Session-Expires").replace(" ", "") == "4;refresher=uas"
    refreshes = unique([m for m in caller.received() if m.split(" ", 1)[0] in ("INVITE",
                                                                               "UPDATE")])
    assert len(refreshes) == 3


def test_session_interval_below_min_se_is_refused(env):
    env.start()  # Min-SE 90 by default
    caller = env.caller("uac-session-timer", env.a, keys={"se": "4"})
    wait_trace(caller, lambda c: any(m.startswith("SIP/2.0 422") for m in c.received()))
    msg = [m for m in caller.received() if m.startswith("SIP/2.0 422")][0]
    assert header(msg, "Min-SE").startswith("90")
    caller.stop()


# -- INVITE challenged by the site -------------------------------------------------------------


def challenging_site_env(netns, site_factory, daemon_factory, tmp_path):
    """One site, A, that challenges its users' INVITEs, re-INVITEs and REFERs as well as their
    REGISTERs, and the phone registered on it (connection 0) with the password."""
    a = site_factory(SITE_A, name="A", farend=FAREND, users={DN: "s3cret"}, invite_auth=True)
    e = Env.__new__(Env)
    e.netns, e.tmp, e.a, e.daemon_factory, e.sipps = netns, tmp_path, a, daemon_factory, []
    e.daemon = daemon_factory(render_config([connection(a, user=DN, password="s3cret")]),
                              netns=netns.name).start()
    e.client = e.daemon.client()
    e.client.subscribe()
    e.wait_connection(0, "Ready")
    return e


def test_invite_challenged_by_the_site(netns, site_factory, daemon_factory, tmp_path):
    e = challenging_site_env(netns, site_factory, daemon_factory, tmp_path)
    a = e.a
    try:
        far = e.farend("uas-answer")
        sid = e.dial("9001")["sessionId"]
        ev = e.wait_session("Connected", sid)
        assert ev["connectionId"] == 0 and ev["failoverFrom"] is None
        # Hold and retrieve: their re-INVITEs are challenged as well.
        assert e.client.call("Hold", {"sessionId": sid}) is True
        assert e.wait_session("Held", sid)["holdBy"] == "local"
        assert e.client.call("Retrieve", {"sessionId": sid}) is True
        e.wait_session("Connected", sid)
        e.hangup(sid)
        finished(far)
        assert f"INVITE from {DN}: challenged" in a.log()
        # sofia answers with the credentials it keeps for the dialog (a stale nonce would get
        # a 407, answered like the first).
        assert a.log().count(f"re-INVITE from {DN}: authenticated") == 2
        assert [sdp_direction(m) for m in unique(far.received("INVITE"))[1:]] == [
            "sendonly", "sendrecv"]
        assert "s3cret" not in e.daemon.log()
    finally:
        e.close()


def test_refer_challenged_by_the_site(netns, site_factory, daemon_factory, tmp_path):
    """A site that authenticates its users' requests challenges a blind transfer's REFER as
    well: answered with the credentials, the far end gets the REFER and the call ends as
    transferred."""
    e = challenging_site_env(netns, site_factory, daemon_factory, tmp_path)
    a = e.a
    try:
        far = e.farend("uas-refer")
        sid = e.dial("9001")["sessionId"]
        e.wait_session("Connected", sid)
        assert e.client.call("Transfer", {"sessionId": sid, "destination": "9002"}) is True
        ev = e.wait_session("Disconnected", sid)
        assert ev["reason"] == "Normal"
        finished(far)
        refer = unique(far.received("REFER"))
        assert len(refer) == 1 and "sip:9002@" in refer[0]
        assert f"REFER from {DN}: challenged" in a.log()
        assert f"REFER from {DN}: authenticated" in a.log()
        assert "s3cret" not in e.daemon.log()
    finally:
        e.close()


# -- a dialled URI naming the dead site ------------------------------------------------------------


@pytest.mark.parametrize("dialled,expected", [
    (f"sip:9001@{SITE_A};user=phone", f"sip:9001@{SITE_B};user=phone"),
    (f"sip:9001@{SITE_A}:5060", f"sip:9001@{SITE_B}"),
    (f"sip:9001@{FAREND}", f"sip:9001@{FAREND}"),
], ids=["site-a-host", "site-a-server", "other-host"])
def test_dialled_uri_follows_the_failover(env, dialled, expected):
    env.start(keepalive_interval=60000)
    far = env.farend("uas-answer")
    env.netns.drop(SITE_A, 5060, "udp")
    sid = env.dial(dialled, 0)["sessionId"]
    ev = env.wait_session("Connected", sid)
    assert ev["connectionId"] == 1 and ev["failoverFrom"] == 0
    assert ev["remote"]["uri"].split(";")[0] == expected.split(";")[0]
    invite = unique(far.received("INVITE"))[0]
    assert invite.split(" ")[1] == expected
    env.hangup(sid)
    finished(far)


# -- transfers as a desk phone does them ---------------------------------------------------------


def sipfrags(sipp):
    """The first status line of every message/sipfrag NOTIFY body SIPp received, in order."""
    out = []
    for m in unique(sipp.received("NOTIFY")):
        body = m.replace("\r", "").split("\n\n", 1)
        if len(body) == 2 and body[1].startswith("SIP/2.0 "):
            out.append(int(body[1].split(" ")[1]))
    return out


def test_being_transferred_calls_the_target_and_ends_the_old_call(env):
    env.start()
    far = env.farend("uas-answer")
    caller = env.caller("uac-refer-agent", env.a, keys={"target": "9002"})
    old = env.wait_session("Alerting")["sessionId"]
    env.client.call("Answer", {"sessionId": old})
    env.wait_session("Connected", old)
    new = env.wait_session("InProgress", pred=lambda p: p["sessionId"] != old)
    # On the same connection, to the Refer-To target, and said to come from the old call.
    assert new["transferredFrom"] == old and new["connectionId"] == 0
    assert new["remote"]["dn"] == "9002" and new["failoverFrom"] is None
    env.wait_session("Connected", new["sessionId"])
    ended = env.wait_session("Disconnected", old)
    assert ended["transferredTo"] == new["sessionId"] and ended["reason"] == "Normal"
    finished(caller)
    # The transferor heard how it went: message/sipfrag NOTIFYs ending with 200.
    frags = sipfrags(caller)
    assert frags and frags[-1] == 200 and all(f < 300 for f in frags)
    notify = unique(caller.received("NOTIFY"))[-1]
    assert header(notify, "Event").startswith("refer")
    assert "message/sipfrag" in header(notify, "Content-Type")
    assert header(notify, "Subscription-State").startswith("terminated")
    invite = unique(far.received("INVITE"))[0]
    assert invite.split(" ")[1].startswith("sip:9002@")
    assert not caller.received("INVITE")  # the referring call was not held by us meanwhile
    env.hangup(new["sessionId"])
    finished(far)


def test_transfer_to_a_busy_target_keeps_the_call(env):
    """Referred to a target that answers 486: the new session ends Busy, the transferor's last
    sipfrag says 486 and ends the subscription, and the call we were referred from stays up
    (a failed transfer never costs the agent the customer)."""
    env.start()
    far = env.farend("uas-busy")
    caller = env.caller("uac-refer-agent", env.a, keys={"target": "9002"})
    old = env.wait_session("Alerting")["sessionId"]
    env.client.call("Answer", {"sessionId": old})
    env.wait_session("Connected", old)
    new = env.wait_session("InProgress", pred=lambda p: p["sessionId"] != old)
    assert new["transferredFrom"] == old
    ended = env.wait_session("Disconnected", new["sessionId"])
    assert ended["reason"] == "Busy" and ended["code"] == 486
    wait_trace(caller, lambda c: 486 in sipfrags(c))
    assert sipfrags(caller)[-1] == 486
    notify = unique(caller.received("NOTIFY"))[-1]
    assert header(notify, "Subscription-State").startswith("terminated")
    # Left as the transferor left it: not held by us for the new call, and not ended.
    assert env.sessions()[old]["status"] == "Connected"
    assert not caller.received("INVITE") and not caller.received("BYE")
    env.hangup(old)
    finished(caller)
    finished(far)


def test_attended_transfer_sends_refer_with_replaces(netns, site_factory, daemon_factory,
                                                     tmp_path):
    from test_calls import FAREND_A
    e = Env(netns, site_factory, daemon_factory, tmp_path, farend_a=FAREND_A)
    try:
        e.start()
        transferor = e.farend("uas-refer", local=FAREND_A)
        target = e.farend("uas-answer")
        s1 = e.dial("9001", 0)["sessionId"]
        e.wait_session("Connected", s1)
        s2 = e.dial("9002", 1)["sessionId"]
        e.wait_session("Connected", s2)
        e.wait_session("Held", s1)
        assert e.client.call("Transfer", {"sessionId": s1, "toSessionId": s2}) is True
        e.wait_session("Disconnected", s1)
        refer = unique(transferor.received("REFER"))
        assert len(refer) == 1
        refer_to = header(refer[0], "Refer-To")
        call_id = header(unique(target.received("INVITE"))[0], "Call-ID")
        assert refer_to.startswith("<sip:9002@") and "?Replaces=" in refer_to
        replaces = refer_to.split("?Replaces=", 1)[1]
        assert call_id.replace("@", "%40") in replaces or call_id in replaces
        assert "to-tag%3D" in replaces and "from-tag%3D" in replaces
        e.hangup(s2)
        finished(transferor)
        finished(target)
    finally:
        e.close()


def test_transfer_params(env):
    env.start()
    from softphoned import RpcError
    for params in ({"sessionId": "1"}, {"sessionId": "1", "destination": "9002",
                                        "toSessionId": "2"}):
        with pytest.raises(RpcError) as err:
            env.client.call("Transfer", params)
        assert err.value.code == -32602
    with pytest.raises(RpcError) as err:
        env.client.call("Transfer", {"sessionId": "1", "toSessionId": "2"})
    assert err.value.kind == "NotFound"
