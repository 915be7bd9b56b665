"""The agent page in a real browser: headless Chromium opens the page the daemon serves on its
WebSocket port, against a daemon registered on two Kamailio sites; it dials a SIPp far end by
clicking, sees the call Connected with its statistics, hangs up, and follows site A's
connection to Failed and back when the site is killed and restarted. A screenshot of each state
is saved (SP_SCREENSHOTS, else the test's tmp_path/screenshots)."""

import os
import sys

import pytest

_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, _HERE)
sys.path.insert(0, os.path.join(_HERE, "sipp"))

from browser import Browser  # noqa: E402
from farend import Sipp  # noqa: E402
from sites import SITE_A, SITE_B, connection, render_config  # noqa: E402

pytest_plugins = ["fixtures_sites"]

DN = "5001"
FAREND = "127.0.0.10:5070"
CALLER = "127.0.0.11:5070"
WS = "127.0.0.1:8088"  # inside the test's own namespace: no other user of the port
WAIT = 30


def token_of(daemon):
    with open(os.path.join(os.path.dirname(daemon.socket_path), "websocket-token"),
              encoding="ascii") as f:
        return f.read().strip()


def status_of(browser, css):
    return browser.attr(css, "data-status")


def infos_of(sipp):
    """The INFOs SIPp received, each once (UDP retransmissions dropped), in order."""
    seen, out = set(), []
    for m in sipp.received("INFO"):
        cseq = m.split("CSeq:")[1].split()[0]
        if cseq not in seen:
            seen.add(cseq)
            out.append(m)
    return out


@pytest.fixture
def shots(tmp_path):
    return os.environ.get("SP_SCREENSHOTS") or str(tmp_path / "screenshots")


def start_phone(netns, site_factory, daemon_factory, policy=None):
    a = site_factory(SITE_A, name="A", farend=FAREND)
    b = site_factory(SITE_B, name="B", farend=FAREND)
    conns = [connection(a, user=DN), connection(b, user=DN)]
    daemon = daemon_factory(render_config(conns, daemon={"websocket": WS}, policy=policy),
                            netns=netns.name).start()
    ctl = daemon.client()
    ctl.subscribe()
    return a, b, daemon, ctl


def open_page(br, daemon):
    br.get(f"http://{WS}/#token={token_of(daemon)}")
    br.wait_css('#link[data-state="open"]')
    br.wait("both connections Ready",
            lambda d: status_of(br, "#connection-0") == "Ready"
            and status_of(br, "#connection-1") == "Ready")


def test_agent_page_dials_and_follows_a_site_failure(netns, site_factory, daemon_factory,
                                                     tmp_path, shots):
    a = site_factory(SITE_A, name="A", farend=FAREND)
    b = site_factory(SITE_B, name="B", farend=FAREND)
    conns = [connection(a, user=DN), connection(b, user=DN)]
    daemon = daemon_factory(render_config(conns, daemon={"websocket": WS}),
                            netns=netns.name).start()
    ctl = daemon.client()
    ctl.subscribe(["ConnectionStatusChanged", "SessionStatusChanged"])
    far = Sipp(netns, "uas-answer", tmp_path, FAREND).start()
    token = token_of(daemon)

    try:
        with Browser(netns, tmp_path, shots) as br:
            br.get(f"http://{WS}/#token={token}")
            br.wait_css('#link[data-state="open"]')
            br.wait("both connections Ready",
                    lambda d: status_of(br, "#connection-0") == "Ready"
                    and status_of(br, "#connection-1") == "Ready")
            # The token left the address bar and the history at once.
            assert token not in br.driver.current_url
            assert br.text("#connection-0").startswith(f"#0 {DN}@{a.server}")
            print("screenshot:", br.screenshot("1-registered"))

            # Dial 9001 from connection 0 with the pad.
            for k in "9001":
                br.click(f'#pad button[data-digit="{k}"]')
            assert br.attr("#destination", "value") == "9001"
            br.click('#dial-connection option[value="0"]')
            br.click("#dial")
            br.wait_css('#sessions li[data-status="Connected"]')
            sid = br.attr('#sessions li[data-status="Connected"]', "id").removeprefix("session-")
            ev = ctl.wait_event("SessionStatusChanged",
                                lambda p: p["sessionId"] == sid and p["status"] == "Connected")
            assert ev["connectionId"] == 0 and ev["remote"]["dn"] == "9001"
            card = br.text(f"#session-{sid}")
            assert "connection #0" in card and "9001" in card
            assert not br.finds(f"#session-{sid} [data-role=failover]")
            # Live statistics and the call timer.
            br.wait_css(f"#session-{sid} [data-role=stats][data-codec]")
            br.wait("the call timer", lambda d: (br.text(
                f"#session-{sid} [data-role=timer]") or "").strip().startswith("00:0"))
            print("screenshot:", br.screenshot("2-connected"))

            br.click(f'#session-{sid} button[data-action="Hangup"]')
            ev = ctl.wait_event("SessionStatusChanged",
                                lambda p: p["sessionId"] == sid and p["status"] == "Disconnected")
            assert ev["reason"] == "Normal"
            br.wait("the call ended", lambda d: status_of(br, f"#session-{sid}") in
                    ("Disconnected", None))
            assert far.wait(WAIT) == 0, far.output()

            # Site A dies: its card turns Failed (red) with the code, the reason and a retry
            # countdown; site B's stays Ready.
            a.kill()
            br.wait("connection 0 Failed", lambda d: status_of(br, "#connection-0") == "Failed",
                    timeout=WAIT)
            failed = ctl.wait_event("ConnectionStatusChanged",
                                    lambda p: p["connectionId"] == 0 and p["status"] == "Failed")
            text = br.text("#connection-0")
            assert f"last: {failed['code']}" in text
            assert "bad" in br.attr("#connection-0", "class")
            assert status_of(br, "#connection-1") == "Ready"
            if failed["retryInMs"] is not None:
                br.wait("a retry countdown", lambda d: "retry in" in (br.text(
                    "#connection-0 [data-role=retry]") or ""))
            print("screenshot:", br.screenshot("3-site-a-failed"))

            # A call dialled from connection 0 now goes through site B, and says so.
            far2 = Sipp(netns, "uas-answer", tmp_path, FAREND).start()
            br.click('#dial-connection option[value="0"]')
            br.click("#dial")
            br.wait_css('#sessions li[data-status="Connected"]')
            sid2 = br.attr('#sessions li[data-status="Connected"]', "id").removeprefix("session-")
            assert sid2 != sid
            ev = ctl.wait_event("SessionStatusChanged",
                                lambda p: p["sessionId"] == sid2 and p["status"] == "Connected")
            assert ev["connectionId"] == 1 and ev["failoverFrom"] == 0
            assert br.text(f"#session-{sid2} [data-role=failover]").strip() == \
                "· failed over from #0"
            assert "connection #1" in br.text(f"#session-{sid2}")
            print("screenshot:", br.screenshot("3b-failed-over"))
            br.click(f'#session-{sid2} button[data-action="Hangup"]')
            ctl.wait_event("SessionStatusChanged",
                           lambda p: p["sessionId"] == sid2 and p["status"] == "Disconnected")
            assert far2.wait(WAIT) == 0, far2.output()

            a.start()
            br.wait("connection 0 Ready again",
                    lambda d: status_of(br, "#connection-0") == "Ready", timeout=WAIT)
            assert "ok" in br.attr("#connection-0", "class")
            print("screenshot:", br.screenshot("4-site-a-back"))
            assert br.console_errors() == []
    finally:
        far.stop()
    for name in ("1-registered", "2-connected", "3-site-a-failed", "3b-failed-over",
                 "4-site-a-back"):
        assert os.path.getsize(os.path.join(shots, f"{name}.png")) > 0


def test_agent_page_answers_holds_mutes_and_sends_dtmf(netns, site_factory, daemon_factory,
                                                      tmp_path, shots):
    """An inbound call through site B: Answer, Hold, Retrieve, Mute and DTMF by clicking, each
    seen by the far end or the Unix socket; the device pickers show the devices in use."""
    a, b, daemon, ctl = start_phone(netns, site_factory, daemon_factory,
                                    policy={"dtmf-method": "info"})
    caller = None
    try:
        with Browser(netns, tmp_path, shots) as br:
            open_page(br, daemon)
            devices = ctl.call("GetAudioDevices")
            assert br.attr("#capture", "value") == devices["capture"]
            assert br.attr("#playback", "value") == devices["playback"]

            caller = Sipp(netns, "uac-call", tmp_path, CALLER, remote=b.server,
                          service=DN).start()
            br.wait_css('#sessions li[data-status="Alerting"]')
            sid = br.attr('#sessions li[data-status="Alerting"]', "id").removeprefix("session-")
            card = br.text(f"#session-{sid}")
            assert card.startswith("From Far End <sip:9001@") and "connection #1" in card
            print("screenshot:", br.screenshot("5-ringing"))

            def session_is(status):
                ctl.wait_event("SessionStatusChanged",
                               lambda p: p["sessionId"] == sid and p["status"] == status)
                br.wait(f"the call {status}",
                        lambda d: status_of(br, f"#session-{sid}") == status)

            br.click(f'#session-{sid} button[data-action="Answer"]')
            session_is("Connected")
            br.click(f'#session-{sid} button[data-action="Hold"]')
            session_is("Held")
            assert "on hold" in br.text(f"#session-{sid}")
            print("screenshot:", br.screenshot("6-held"))
            br.click(f'#session-{sid} button[data-action="Retrieve"]')
            session_is("Connected")

            br.click("#mute")
            assert ctl.wait_event("MuteChanged")["muted"] is True
            br.wait("the Mute button pressed",
                    lambda d: br.attr("#mute", "aria-pressed") == "true")
            assert ctl.call("GetStatus")["muted"] is True
            print("screenshot:", br.screenshot("7-muted"))
            br.click("#mute")
            assert ctl.wait_event("MuteChanged")["muted"] is False

            br.type(f"#session-{sid} [data-role=dtmf-digits]", "12#")
            br.click(f'#session-{sid} button[data-action="DTMF"]')
            br.wait("three INFOs at the far end", lambda d: len(infos_of(caller)) == 3)
            assert [m.split("Signal=")[1][0] for m in infos_of(caller)] == ["1", "2", "#"]

            br.click(f'#session-{sid} button[data-action="Hangup"]')
            session_is("Disconnected")
            assert caller.wait(WAIT) == 0, caller.output()
            assert br.console_errors() == []
    finally:
        if caller is not None:
            caller.stop()


def restarted(daemon_factory, daemon, netns):
    return daemon_factory(config_path=daemon.config_path, netns=netns.name,
                          socket_path=daemon.socket_path).start()


def test_agent_page_comes_back_with_the_daemon(netns, daemon_factory, tmp_path, shots):
    """A daemon restart: the page says the daemon is unreachable and counts down, then
    reconnects by itself with the token it kept (the token file outlives the restart)."""
    daemon = daemon_factory(render_config([], daemon={"websocket": WS}),
                            netns=netns.name).start()
    token = token_of(daemon)
    with Browser(netns, tmp_path, shots) as br:
        br.get(f"http://{WS}/#token={token}")
        br.wait_css('#link[data-state="open"]')
        assert br.text("#no-sessions") == "No call."
        daemon.stop()
        br.wait("the daemon unreachable", lambda d: "daemon unreachable, retrying in" in
                (br.text("#link") or ""))
        print("screenshot:", br.screenshot("8-daemon-gone"))
        # The same config and socket directory, as after `systemctl restart`.
        daemon = restarted(daemon_factory, daemon, netns)
        assert token_of(daemon) == token
        br.wait_css('#link[data-state="open"]')
        assert br.attr("#login", "hidden") is not None
        print("screenshot:", br.screenshot("9-daemon-back"))
        # A token that is no longer right (the file was replaced) brings the token form back.
        daemon.stop()
        os.unlink(os.path.join(os.path.dirname(daemon.socket_path), "websocket-token"))
        daemon = restarted(daemon_factory, daemon, netns)
        assert token_of(daemon) != token
        br.wait("the token form", lambda d: br.attr("#login", "hidden") is None)
        assert "refused this token" in br.text("#login-error")
        br.type("#token", token_of(daemon))
        br.click('#login-form button[type="submit"]')
        br.wait_css('#link[data-state="open"]')
        assert br.attr("#login", "hidden") is not None
