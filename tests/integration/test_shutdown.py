"""SIGTERM with work in flight: a call ringing out, a call ringing in, a call up, a Dial failing
over, a site dead. Each time the daemon exits 0 before its hard stop, ends every call on the wire
(CANCEL, 603, BYE), leaves no binding on the live sites and, under the ASan build, leaks nothing
(the conftest fails a test on any sanitizer report in the daemon's log)."""

import os
import sys

_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, _HERE)
sys.path.insert(0, os.path.join(_HERE, "sipp"))

from sites import SITE_A  # noqa: E402
# The calls' fixtures themselves (env: one far end; env_split: one per site), not copies.
from test_calls import (DN, WAIT, env, env_split, finished, ringing, unique,  # noqa: E402,F401
                        wait_trace)

pytest_plugins = ["fixtures_sites"]

# The daemon's own words when its shutdown outlived the deadline and the loop was left anyway.
HARD_STOP = "shutdown did not finish in time"


def stop(env):
    """SIGTERM; the exit code must be 0 and the shutdown must have ended by itself."""
    rc = env.daemon.stop(timeout=60)
    log = env.daemon.log()
    assert rc == 0, log
    assert HARD_STOP not in log, log
    return log


def unregistered(*sites):
    for site in sites:
        assert site.location(DN) == [], site


def test_sigterm_while_dialing_cancels_the_invite(env):
    env.start()
    far = env.farend("uas-ring")
    sid = env.dial("9001")["sessionId"]
    env.wait_session("InProgress", sid)
    wait_trace(far, ringing)
    stop(env)
    finished(far)  # it got the CANCEL, answered 487 and got the ACK
    assert len(unique(far.received("CANCEL"))) == 1
    unregistered(env.a, env.b)


def test_sigterm_while_a_call_rings_in_declines_it(env):
    env.start()
    caller = env.caller("uac-call-declined", env.a)
    env.wait_session("Alerting")
    stop(env)
    finished(caller)  # 603, ACKed
    unregistered(env.a, env.b)


def test_sigterm_during_a_call_sends_bye(env):
    env.start()
    far = env.farend("uas-answer")
    sid = env.dial("9001")["sessionId"]
    env.wait_session("Connected", sid)
    stop(env)
    finished(far)
    assert len(unique(far.received("BYE"))) == 1
    unregistered(env.a, env.b)


def test_sigterm_while_a_dial_fails_over(env):
    # Site A went silent: the INVITE through it is still being retransmitted when SIGTERM
    # comes, before the Dial has moved to site B.
    env.start(keepalive_interval=60000)
    env.netns.drop(SITE_A, 5060, "udp")
    sid = env.dial("9001", 0)["sessionId"]
    env.wait_session("InProgress", sid)
    stop(env)
    unregistered(env.b)


def test_sigterm_after_a_dial_failed_over_cancels_on_the_new_site(env_split):
    env = env_split
    env.start(keepalive_interval=60000)
    far_b = env.farend("uas-ring")
    env.netns.drop(SITE_A, 5060, "udp")
    sid = env.dial("9001", 0)["sessionId"]
    moved = env.wait_session("InProgress", sid, pred=lambda p: p["connectionId"] == 1)
    assert moved["failoverFrom"] == 0
    wait_trace(far_b, ringing)
    stop(env)
    finished(far_b)
    assert len(unique(far_b.received("CANCEL"))) == 1
    unregistered(env.b)


def test_sigterm_with_a_dead_site_does_not_wait_for_it(env):
    env.start(keepalive_interval=1, probe_timeout=0.5, probe_failures=2)
    env.a.kill()
    env.wait_connection(0, "Failed", timeout=WAIT)
    log = stop(env)
    # The live site's un-REGISTER ended the shutdown; the dead one was not waited for.
    assert "every site unregistered" in log, log
    unregistered(env.b)
