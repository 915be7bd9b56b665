"""The SDK's policy/endpoint settings softphoned has as keys of its own, seen on the wire: the
OS release in User-Agent, DSCP marks on SIP and RTP packets, the SIP port range, and a public
address in Contact, Via and SDP. Real Kamailio sites (and a SIPp far end) in a private network
namespace; the daemon is driven only through its control socket."""

import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from sites import StatusWatch, connection, render_config  # noqa: E402

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
