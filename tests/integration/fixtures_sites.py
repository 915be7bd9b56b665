"""pytest fixtures for SIP Server sites: a private network namespace and Kamailio sites in it.

List these fixtures before daemon_factory in a test's arguments, so that daemons are stopped
before their sites and namespace go away:

    def test_x(two_sites, netns, daemon_factory): ...
"""

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from sites import SITE_A, SITE_B, KamailioSite, Netns, TlsCa  # noqa: E402


@pytest.fixture
def netns():
    """A private network namespace (Netns), deleted at teardown with whatever was started
    in it through netns.popen()."""
    with Netns() as ns:
        yield ns


@pytest.fixture
def site_factory(netns, tmp_path):
    """site_factory(addr, port=5060, **kw) -> a started KamailioSite in `netns` (kw: tls,
    tls_port, users, farend, tls_ca, name). All are stopped at teardown and their logs
    printed (pytest shows them for failed tests)."""
    made = []

    def make(addr, port=5060, name=None, **kw):
        name = name or f"{addr}:{port}"
        run_dir = tmp_path / f"site-{addr}-{port}"
        site = KamailioSite(netns, addr, port, run_dir=run_dir, name=name, **kw)
        made.append(site)
        return site.start()

    yield make

    for site in made:
        site.close()
        print(f"---- kamailio site {site.name} log ({site.log_path}) ----")
        print(site.log())


@pytest.fixture
def two_sites(site_factory):
    """Sites A (127.0.0.2:5060) and B (127.0.0.3:5060), UDP and TCP, no auth."""
    return site_factory(SITE_A, name="A"), site_factory(SITE_B, name="B")


@pytest.fixture
def tls_ca(tmp_path):
    """A throwaway CA (TlsCa): .cert is its certificate, .issue(ip) -> (cert, key)."""
    return TlsCa(tmp_path / "ca")
