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
WS = "127.0.0.1:8088"  # inside the test's own namespace: no other user of the port
WAIT = 30


def token_of(daemon):
    with open(os.path.join(os.path.dirname(daemon.socket_path), "websocket-token"),
              encoding="ascii") as f:
        return f.read().strip()


def status_of(browser, css):
    return browser.attr(css, "data-status")


@pytest.fixture
def shots(tmp_path):
    return os.environ.get("SP_SCREENSHOTS") or str(tmp_path / "screenshots")


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

            a.start()
            br.wait("connection 0 Ready again",
                    lambda d: status_of(br, "#connection-0") == "Ready", timeout=WAIT)
            assert "ok" in br.attr("#connection-0", "class")
            print("screenshot:", br.screenshot("4-site-a-back"))
            assert br.console_errors() == []
    finally:
        far.stop()
    for name in ("1-registered", "2-connected", "3-site-a-failed", "4-site-a-back"):
        assert os.path.getsize(os.path.join(shots, f"{name}.png")) > 0
