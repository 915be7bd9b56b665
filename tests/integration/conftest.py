"""pytest fixtures: daemons started per test and always stopped, their logs shown on failure."""

import os
import subprocess
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from softphoned import Daemon  # noqa: E402

SANITIZER_MARKS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
                   "WARNING: ThreadSanitizer")


@pytest.fixture
def daemon_factory(tmp_path):
    """Makes Daemons (not started): daemon_factory(config_text=..., netns=..., ...).
    Each gets its own subdirectory of tmp_path; all are stopped at teardown (killed by PID if
    SIGTERM does not end them) and their logs printed, which pytest shows for failed tests."""
    made = []

    def make(config_text=None, **kwargs):
        d = Daemon(tmp_path / f"daemon{len(made)}", config_text=config_text, **kwargs)
        made.append(d)
        return d

    yield make

    reports = []
    for d in made:
        try:
            d.stop(timeout=15)
        except subprocess.TimeoutExpired:
            print(f"softphoned pid {d.pid} did not stop on SIGTERM; killing it")
            d.kill()
        finally:
            d.cleanup()
        print(f"---- softphoned log ({d.log_path}) ----")
        log = d.log()
        print(log)
        reports += [f"{d.log_path}: {line.strip()}" for line in log.splitlines()
                    if any(m in line for m in SANITIZER_MARKS)]
    # The suite runs the ASan/UBSan build of the daemon: any report fails the test.
    if reports:
        pytest.fail("sanitizer report in the daemon's log:\n" + "\n".join(reports[:10]))


@pytest.fixture
def daemon(daemon_factory):
    """A softphoned started with an empty config."""
    return daemon_factory(config_text="").start()
