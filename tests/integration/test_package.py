"""The Debian package: built from debian/ with dpkg-buildpackage, lintian clean of errors,
installed with apt-get, its units verified where they were installed, then purged leaving
the machine as it was (the softphoned system user stays, as documented in README.Debian)."""

import os
import pwd
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

sys.path.insert(0, os.path.dirname(__file__))
from sites import free_port  # noqa: E402

SOURCE = Path(__file__).resolve().parents[2]
VERSION = re.search(r"version\s*:\s*'([^']+)'", (SOURCE / "meson.build").read_text()).group(1)
# Guards against a hung build or apt, never an assertion about speed.
HANG_GUARD_S = 1800
APT = ["apt-get", "-y", "-q", "-o", "DPkg::Lock::Timeout=600"]
ENV = dict(os.environ, DEBIAN_FRONTEND="noninteractive", LC_ALL="C.UTF-8")

# Everything the package may leave anywhere, looked at before installing and after purging.
WATCHED = ["/etc/softphoned", "/etc/systemd", "/var/lib/softphoned",
           "/var/lib/private/softphoned", "/var/lib/systemd/deb-systemd-helper-enabled",
           "/var/lib/systemd/deb-systemd-user-helper-enabled",
           "/var/lib/systemd/deb-systemd-helper-masked",
           "/var/lib/systemd/deb-systemd-user-helper-masked",
           "/usr/share/doc/softphoned", "/usr/share/bash-completion/completions/softphonectl"]

INSTALLED = [
    "/usr/bin/softphoned", "/usr/bin/softphonectl",
    "/lib/systemd/system/softphoned.service", "/lib/systemd/system/softphoned.socket",
    "/usr/lib/systemd/user/softphoned.service", "/usr/lib/systemd/user/softphoned.socket",
    "/usr/share/man/man8/softphoned.8.gz", "/usr/share/man/man1/softphonectl.1.gz",
    "/usr/share/man/man5/softphoned.conf.5.gz",
    "/usr/share/bash-completion/completions/softphonectl",
    "/etc/softphoned/softphoned.conf.example", "/etc/softphoned/SipEndpoint.config.example",
    "/usr/share/doc/softphoned/PROTOCOL.md.gz",
]

ENABLED = [
    "/etc/systemd/system/multi-user.target.wants/softphoned.service",
    "/etc/systemd/system/sockets.target.wants/softphoned.socket",
    "/etc/systemd/user/default.target.wants/softphoned.service",
    "/etc/systemd/user/sockets.target.wants/softphoned.socket",
]


def run(cmd, cwd=None, env=ENV, check=True):
    r = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True,
                       timeout=HANG_GUARD_S, stdin=subprocess.DEVNULL)
    if check:
        assert r.returncode == 0, f"{cmd}: exit {r.returncode}\n{r.stdout}\n{r.stderr}"
    return r


def installed():
    r = run(["dpkg-query", "-W", "-f=${Status}", "softphoned"], check=False)
    return r.returncode == 0 and "installed" in r.stdout.split()[-1:]


def snapshot():
    """Every path under WATCHED (symlinks with their targets)."""
    seen = set()
    for top in WATCHED:
        if not os.path.lexists(top):
            continue
        if not os.path.isdir(top) or os.path.islink(top):
            seen.add(top)
            continue
        for root, dirs, files in os.walk(top):
            for name in dirs + files:
                p = os.path.join(root, name)
                seen.add(p + (" -> " + os.readlink(p) if os.path.islink(p) else ""))
        seen.add(top)
    return seen


def user_exists(name):
    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False


def running_softphoned():
    """PIDs of processes running the installed /usr/bin/softphoned."""
    pids = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if os.readlink(f"/proc/{pid}/exe") == "/usr/bin/softphoned":
                pids.append(int(pid))
        except OSError:
            pass
    return pids


def serve_agent_page():
    """Runs the installed daemon with a loopback WebSocket and no connection; returns its /."""
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port(addr="127.0.0.1", proto="tcp")
        conf = Path(tmp) / "softphoned.conf"
        conf.write_text(f"[daemon]\nwebsocket=127.0.0.1:{port}\n")
        log = open(Path(tmp) / "log", "w+")
        proc = subprocess.Popen(["/usr/bin/softphoned", "--config", str(conf), "--socket",
                                 str(Path(tmp) / "control")], stdin=subprocess.DEVNULL,
                                stdout=log, stderr=subprocess.STDOUT,
                                env=dict(ENV, XDG_STATE_HOME=tmp, XDG_RUNTIME_DIR=tmp))
        try:
            deadline = time.monotonic() + 30
            while True:
                log.seek(0)
                text = log.read()
                if "agent page and WebSocket at" in text:
                    break
                assert proc.poll() is None, f"the installed daemon exited:\n{text}"
                assert time.monotonic() < deadline, f"no agent page:\n{text}"
                time.sleep(0.1)
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10) as r:
                return r.read().decode()
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=30)
            log.close()


@pytest.fixture(scope="module")
def deb(tmp_path_factory):
    """Builds the package from a copy of the source tree; returns its directory."""
    assert os.geteuid() == 0, "the package test installs a package: run it as root"
    out = tmp_path_factory.mktemp("package")
    src = out / "src"
    everywhere = shutil.ignore_patterns(".git", "__pycache__", ".pytest_cache", "*.pyc")
    top = shutil.ignore_patterns("build*", "obj-*")

    def ignore(path, names):
        # Build directories only at the top: a source file may be called build-something.
        return everywhere(path, names) | (top(path, names) if Path(path) == SOURCE else set())

    shutil.copytree(SOURCE, src, symlinks=True, ignore=ignore)
    # No test suite in the package build (nocheck): the tests are what runs it.
    env = dict(ENV, DEB_BUILD_OPTIONS="nocheck parallel=2")
    run(["dpkg-buildpackage", "-us", "-uc", "-b"], cwd=src, env=env)
    return out


def test_package_builds_lintian_clean(deb):
    changes = deb / f"softphoned_{VERSION}_amd64.changes"
    assert changes.exists(), sorted(os.listdir(deb))
    r = run(["lintian", "--fail-on", "error", "--no-tag-display-limit", str(changes)],
            check=False)
    errors = [line for line in r.stdout.splitlines() if line.startswith("E:")]
    assert r.returncode == 0 and not errors, r.stdout + r.stderr

    listing = run(["dpkg-deb", "-c", str(deb / f"softphoned_{VERSION}_amd64.deb")]).stdout
    paths = {line.split()[5].lstrip(".") for line in listing.splitlines()}
    for p in INSTALLED:
        assert p in paths, f"{p} not in the package:\n{listing}"


def test_install_verify_and_purge(deb):
    debfile = deb / f"softphoned_{VERSION}_amd64.deb"
    assert not installed(), "softphoned is installed already: this test would remove it"
    user_before = user_exists("softphoned")
    before = snapshot()
    try:
        # --no-install-recommends: bash-completion would be fetched from a mirror.
        run(APT + ["install", "--no-install-recommends", f"./{debfile.name}"], cwd=deb)
        assert installed()

        r = run(["softphoned", "--version"])
        assert r.stdout.strip() == f"softphoned {VERSION}"
        r = run(["softphonectl", "--version"])
        assert r.stdout.strip() == f"softphonectl {VERSION}"
        for p in INSTALLED:
            assert os.path.exists(p), p
        # The example configuration is one the installed daemon reads.
        r = run(["softphoned", "--check-config", "--config",
                 "/etc/softphoned/softphoned.conf.example"])
        assert "OK (2 connections)" in r.stdout, r.stdout
        conffiles = run(["dpkg-query", "-W", "-f=${Conffiles}", "softphoned"]).stdout
        for f in ("/etc/softphoned/softphoned.conf.example",
                  "/etc/softphoned/SipEndpoint.config.example"):
            assert f in conffiles, conffiles

        # The system user of the system unit.
        user = pwd.getpwnam("softphoned")
        assert user.pw_uid < 1000 and user.pw_shell in ("/usr/sbin/nologin", "/bin/false")
        unit = Path("/lib/systemd/system/softphoned.service").read_text()
        assert "\nUser=softphoned\n" in unit and "\nStateDirectory=softphoned\n" in unit

        # Enabled, not started.
        for link in ENABLED:
            assert os.path.islink(link), link
        assert running_softphoned() == []

        # The units as installed, where systemd looks for them.
        r = run(["systemd-analyze", "verify", "softphoned.service", "softphoned.socket"],
                check=False)
        assert r.returncode == 0 and "softphoned" not in r.stderr, r.stdout + r.stderr
        with tempfile.TemporaryDirectory() as runtime:
            r = run(["systemd-analyze", "--user", "verify",
                     "/usr/lib/systemd/user/softphoned.service",
                     "/usr/lib/systemd/user/softphoned.socket"],
                    env=dict(ENV, XDG_RUNTIME_DIR=runtime), check=False)
        assert r.returncode == 0 and "softphoned" not in r.stderr, r.stdout + r.stderr

        # The man pages, found by man, rendering without a warning.
        for page in ("8 softphoned", "1 softphonectl", "5 softphoned.conf"):
            section, name = page.split()
            r = run(["man", "-w", section, name])
            assert r.stdout.strip().startswith(f"/usr/share/man/man{section}/"), r.stdout
            r = run(["man", "--warnings", section, name], env=dict(ENV, MANWIDTH="80"))
            assert r.stderr == "" and "NAME" in r.stdout, r.stderr

        # The installed daemon finds its WebSocket module where the package put it: the
        # agent page is served.
        listing = run(["dpkg", "-L", "softphoned"]).stdout.split()
        assert any(re.fullmatch(r"/usr/lib/[^/]+/softphoned/websocket\.so", p)
                   for p in listing), listing
        page = serve_agent_page()
        assert "<html" in page.lower(), page[:200]

        # The completion, as bash-completion would load it.
        r = run(["bash", "-c", "source /usr/share/bash-completion/completions/softphonectl"
                 " && complete -p softphonectl"])
        assert r.stdout.strip() == "complete -F _softphonectl softphonectl"
    finally:
        if installed() or run(["dpkg-query", "-W", "softphoned"], check=False).returncode == 0:
            run(APT + ["purge", "softphoned"])

    assert not installed()
    assert run(["dpkg-query", "-W", "softphoned"], check=False).returncode != 0
    for p in INSTALLED + ENABLED + ["/etc/softphoned", "/var/lib/softphoned"]:
        assert not os.path.lexists(p), f"{p} left after purge"
    assert snapshot() == before, sorted(snapshot() ^ before)

    # As documented: the system user stays after a purge. Then the test removes the one it
    # made, so the machine is as it was.
    assert user_exists("softphoned")
    if not user_before:
        run(["deluser", "--system", "--quiet", "softphoned"])
        run(["delgroup", "--system", "--quiet", "softphoned"], check=False)
        assert not user_exists("softphoned")
        assert run(["getent", "group", "softphoned"], check=False).returncode != 0
