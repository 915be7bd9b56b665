#!/usr/bin/env python3
"""Demo: two Kamailio SIP Server sites in a private network namespace and softphoned registered
on both, with the event stream on screen and keys to kill, drop and revive each site.

Usage: scripts/demo [--build-dir DIR] [--user DN] [--fast]   (scripts/demo installs python3 and
the rest with scripts/bootstrap, builds, then runs this file with --no-build.)
Needs root (network namespaces); re-runs itself through sudo otherwise. q, Ctrl-C (SIGINT),
SIGTERM and closing its terminal (SIGHUP) alike stop everything it started and delete the
namespace, within a few seconds."""

import argparse
import json
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import termios
import threading
import time
import tty

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(TOP, "tests", "integration"))

HELP = ("keys: a = kill site A, A = restart it, x = drop A's packets (silent death), X = undrop; "
        "b/B/y/Y the same for site B; d = dial 9000 (a far end) via connection 0, "
        "t = call phone 2 (DN 5002): a tone each way, recorded; h = hang up; "
        "s = GetConnections and GetSessions; q = quit")
FAREND = "127.0.0.4:5060"
FAREND_DN = "9000"
PHONE2_DN = "5002"
TONE_SECONDS = 180  # the microphones' tone files; past their end the phones send silence


_terminal_gone = False


def say(msg):
    """A line on the terminal; nothing once the terminal is gone (its writes fail with EIO),
    so that a closed terminal never stops the cleanup halfway."""
    global _terminal_gone
    if _terminal_gone:
        return
    try:
        sys.stdout.write(f"\r[demo] {msg}\n")
        sys.stdout.flush()
    except (OSError, ValueError):
        _terminal_gone = True


def become_root():
    if os.geteuid() == 0:
        return
    if not shutil.which("sudo"):
        sys.exit("demo: network namespaces need root, and sudo is not installed")
    os.execvp("sudo", ["sudo", "--preserve-env=BUILD_DIR", sys.executable,
                       os.path.abspath(__file__)] + sys.argv[1:])


def build(build_dir):
    subprocess.run([os.path.join(TOP, "scripts", "bootstrap")], check=True)
    if not os.path.exists(os.path.join(build_dir, "build.ninja")):
        subprocess.run(["meson", "setup", build_dir], check=True, cwd=TOP)
    subprocess.run(["ninja", "-C", build_dir], check=True, cwd=TOP)


class EventPrinter(threading.Thread):
    """Prints every event from the control socket as one JSON line."""

    def __init__(self, socket_path):
        super().__init__(daemon=True)
        self.socket_path = socket_path
        self.stopped = False

    def run(self):
        try:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.connect(self.socket_path)
            s.sendall(b'{"jsonrpc":"2.0","id":1,"method":"Subscribe"}\n')
            buf = b""
            while not self.stopped:
                chunk = s.recv(65536)
                if not chunk:
                    say("the daemon closed the event stream")
                    return
                buf += chunk
                while b"\n" in buf:
                    line, buf = buf.split(b"\n", 1)
                    self.show(line)
        except OSError as e:
            if not self.stopped:
                say(f"event stream: {e}")

    @staticmethod
    def show(line):
        try:
            msg = json.loads(line)
        except ValueError:
            return
        if "method" not in msg:
            return
        p = msg.get("params") or {}
        if msg["method"] == "ConnectionStatusChanged":
            extra = ""
            if p.get("code"):
                extra = f"  ({p.get('code')} {p.get('reason') or ''})"
            say(f"connection {p.get('connectionId')} {p.get('server')}: "
                f"{p.get('previousStatus')} -> {p.get('status')}{extra}")
        elif msg["method"] == "SessionStatusChanged":
            extra = ""
            if p.get("failoverFrom") is not None:
                extra += f"  (failover from connection {p.get('failoverFrom')})"
            if p.get("reason"):
                extra += f"  ({p.get('reason')} {p.get('code') or ''})"
            say(f"session {p.get('sessionId')} via connection {p.get('connectionId')} "
                f"{(p.get('remote') or {}).get('uri')}: {p.get('previousStatus')} -> "
                f"{p.get('status')}{extra}")
        else:
            say(json.dumps(msg))


def rpc(socket_path, method, params=None):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(5)
    s.connect(socket_path)
    req = {"jsonrpc": "2.0", "id": 1, "method": method}
    if params is not None:
        req["params"] = params
    s.sendall(json.dumps(req).encode() + b"\n")
    buf = b""
    while b"\n" not in buf:
        chunk = s.recv(65536)
        if not chunk:
            break
        buf += chunk
    s.close()
    return json.loads(buf.split(b"\n", 1)[0])


def wait_socket(path, proc, timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        if os.path.exists(path):
            try:
                rpc(path, "GetStatus")
                return True
            except OSError:
                pass
        time.sleep(0.1)
    return False


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build-dir", default=os.environ.get("BUILD_DIR", os.path.join(TOP, "build")))
    ap.add_argument("--user", default="5001", help="the DN to register (default 5001)")
    ap.add_argument("--fast", action="store_true",
                    help="1 s keepalive and down-probe intervals instead of the defaults")
    ap.add_argument("--no-build", action="store_true", help="skip bootstrap and build")
    ap.add_argument("--srtp", choices=("off", "optional", "mandatory"), default=None,
                    help="[policy] srtp of both phones: encrypted calls between them")
    args = ap.parse_args()

    become_root()
    build_dir = os.path.abspath(args.build_dir)
    if not args.no_build:
        build(build_dir)

    import sites  # noqa: E402 (needs the path set above)

    softphoned = os.path.join(build_dir, "daemon", "softphoned")
    if not os.access(softphoned, os.X_OK):
        sys.exit(f"demo: {softphoned} was not built")

    work = tempfile.mkdtemp(prefix="softphoned-demo-")
    os.chmod(work, 0o755)
    socket_path = os.path.join(work, "control")
    log_path = os.path.join(work, "softphoned.log")
    netns = sites.Netns()
    site_list = []
    farend = None
    daemon = None
    phone2 = None
    printer = None
    tty_saved = None

    def on_term(signum, frame):
        raise KeyboardInterrupt

    # SIGINT (Ctrl-C, even if started with it ignored), SIGTERM and SIGHUP (the terminal
    # closed) all end the demo the same way: through the finally block below.
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, on_term)
    try:
        netns.open()
        say(f"network namespace {netns.name}")
        for name, addr in (("A", "127.0.0.2"), ("B", "127.0.0.3")):
            site = sites.KamailioSite(netns, addr, 5060, run_dir=os.path.join(work, f"site{name}"),
                                      name=name, farend=FAREND)
            site.start()
            site_list.append(site)
            say(f"site {name}: Kamailio on {site.server} (UDP/TCP), log {site.log_path}")

        farend_ip, farend_port = FAREND.split(":")
        with open(os.path.join(work, "farend.log"), "ab") as log:
            farend = netns.popen([shutil.which("sipp") or "/usr/bin/sipp", "-sf",
                                  os.path.join(TOP, "tests", "integration", "sipp",
                                               "uas-answer.xml"),
                                  "-i", farend_ip, "-p", farend_port, "-mi", farend_ip,
                                  "-nostdin", "-nd", "-bind_local"],
                                 stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        say(f"far end: SIPp answering DN {FAREND_DN} at {FAREND} (both sites route 9xxx there)")

        # No sound card needed: each phone's microphone is a tone file and its speaker a
        # recording (ALSA file PCMs, tests/integration/audio.py), 1000 Hz here, 1500 Hz there.
        from audio import make_audio_home  # noqa: E402
        home1 = make_audio_home(os.path.join(work, "phone1"), 1000, TONE_SECONDS)
        home2 = make_audio_home(os.path.join(work, "phone2"), 1500, TONE_SECONDS)
        fast = {"keepalive-interval": 1, "down-probe-interval": 1} if args.fast else {}
        srtp = {"srtp": args.srtp} if args.srtp else {}
        config = sites.write_config(work, [sites.connection(s, "udp", user=args.user, **fast)
                                           for s in site_list], policy=srtp or None,
                                    audio=home1.audio())
        config2 = sites.write_config(work, [sites.connection(s, "udp", user=PHONE2_DN)
                                            for s in site_list], name="phone2.conf",
                                     policy={"auto-answer": True, **srtp}, audio=home2.audio())
        say(f"config {config}")
        socket2 = os.path.join(work, "phone2", "control")
        with open(os.path.join(work, "phone2.log"), "ab") as log:
            phone2 = netns.popen([softphoned, "--config", config2, "--socket", socket2,
                                  "--log-level", "info"], stdout=log, stderr=subprocess.STDOUT,
                                 start_new_session=True, env=dict(os.environ, **home2.env))
        with open(log_path, "ab") as log:
            daemon = netns.popen([softphoned, "--config", config, "--socket", socket_path,
                                  "--log-level", "info"], stdout=log, stderr=subprocess.STDOUT,
                                 start_new_session=True, env=dict(os.environ, **home1.env))
        if not wait_socket(socket_path, daemon):
            with open(log_path, encoding="utf-8", errors="replace") as f:
                say("softphoned did not come up; its log:\n" + f.read()[-4000:])
            return 1
        say(f"softphoned pid {daemon.pid}, control socket {socket_path}, log {log_path}")
        ctl = os.path.join(build_dir, "tools", "softphonectl")
        if os.access(ctl, os.X_OK):
            say(f"in another terminal: {ctl} --socket {socket_path} connections (or events)")
        say(f"or: echo '{{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"GetConnections\"}}' | "
            f"socat - UNIX-CONNECT:{socket_path} | jq .")
        say(f"a call: {ctl} --socket {socket_path} dial 0 {FAREND_DN}")
        wait_socket(socket2, phone2)
        say(f"phone 2: DN {PHONE2_DN}, answers by itself, socket {socket2}; press t to call it")
        say(f"what each phone hears is recorded: {home1.rec_path} (phone 1, hears 1500 Hz) and "
            f"{home2.rec_path} (phone 2, hears 1000 Hz); listen with "
            f"aplay -f S16_LE -r 48000 -c 1 FILE")

        printer = EventPrinter(socket_path)
        printer.start()
        for c in rpc(socket_path, "GetConnections").get("result", []):
            say(f"connection {c.get('connectionId')} {c.get('server')}: {c.get('status')}")
        say(HELP)

        if sys.stdin.isatty():
            tty_saved = termios.tcgetattr(sys.stdin.fileno())
            tty.setcbreak(sys.stdin.fileno())
        while daemon.poll() is None:
            ready, _, _ = select.select([sys.stdin], [], [], 0.5)
            if not ready:
                continue
            try:
                data = os.read(sys.stdin.fileno(), 64).decode(errors="replace")
            except OSError:  # EIO: the terminal is gone (its SIGHUP is on the way)
                return 0
            if not data:  # stdin closed: keep running until a signal
                signal.pause()
            for key in data:
                if key in "qQ":
                    return 0
                if key == "s":
                    for c in rpc(socket_path, "GetConnections").get("result", []):
                        say(f"connection {c.get('connectionId')} {c.get('server')}: "
                            f"{c.get('status')}")
                    for c in rpc(socket_path, "GetSessions").get("result", []):
                        say(f"session {c.get('sessionId')} via connection "
                            f"{c.get('connectionId')}: {c.get('status')}")
                    continue
                if key == "d":
                    reply = rpc(socket_path, "Dial",
                                {"connectionId": 0, "destination": FAREND_DN})
                    say(f"Dial: {json.dumps(reply.get('result', reply.get('error')))}")
                    continue
                if key == "t":
                    reply = rpc(socket_path, "Dial",
                                {"connectionId": 0, "destination": PHONE2_DN})
                    say(f"Dial {PHONE2_DN}: "
                        f"{json.dumps(reply.get('result', reply.get('error')))}; "
                        f"h hangs up; the recordings are in {work}/phone1 and phone2")
                    continue
                if key == "h":
                    for c in rpc(socket_path, "GetSessions").get("result", []):
                        reply = rpc(socket_path, "Hangup", {"sessionId": c["sessionId"]})
                        say(f"Hangup {c['sessionId']}: "
                            f"{json.dumps(reply.get('result', reply.get('error')))}")
                    continue
                idx = {"a": 0, "x": 0, "b": 1, "y": 1}.get(key.lower())
                if idx is None:
                    if not key.isspace():
                        say(HELP)
                    continue
                site = site_list[idx]
                if key == "a" or key == "b":
                    site.kill()
                    say(f"site {site.name} killed")
                elif key in "AB":
                    site.start()
                    say(f"site {site.name} restarted (empty location table)")
                elif key in "xy":
                    netns.drop(site.addr, site.port, "all")
                    say(f"site {site.name}: packets dropped (silent death)")
                else:
                    netns.undrop(site.addr, site.port, "all")
                    say(f"site {site.name}: packets flow again")
        say(f"softphoned exited ({daemon.returncode}); log {log_path}")
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        # Nothing may cut the cleanup short: further signals are ignored, and every step
        # runs even if one before it failed (the terminal may be gone by now).
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, signal.SIG_IGN)
        cleanup(tty_saved, printer, [daemon, phone2], farend, site_list, netns, work)


def _step(what, fn, *args):
    try:
        fn(*args)
    except Exception as e:  # noqa: BLE001 - the other steps must run whatever happened
        say(f"{what}: {e}")


def cleanup(tty_saved, printer, phones, farend, site_list, netns, work):
    """Ends everything the demo started: the phones first (SIGTERM: each un-REGISTERs within
    its 3 s shutdown deadline; SIGKILL after 5 s), then the far end and the sites, then every
    other process in the namespace, and the namespace itself."""
    if tty_saved is not None:
        _step("terminal", termios.tcsetattr, sys.stdin.fileno(), termios.TCSADRAIN, tty_saved)
    say("stopping")
    if printer is not None:
        printer.stopped = True

    def stop_phones():
        live = [p for p in phones if p is not None and p.poll() is None]
        for p in live:
            p.send_signal(signal.SIGTERM)  # all at once: they stop in parallel
        for p in live:
            try:
                say(f"softphoned {p.pid} exited {p.wait(5)}")
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(5)

    def stop_farend():
        if farend is not None and farend.poll() is None:
            farend.kill()
            farend.wait(5)

    _step("softphoned", stop_phones)
    _step("far end", stop_farend)
    for site in site_list:
        _step(f"site {site.name}", site.close)
    _step("namespace", netns.close)
    _step("namespace", forget_namespace, netns.name)
    say(f"namespace {netns.name} deleted; logs and recordings kept in {work} "
        f"(aplay -f S16_LE -r 48000 -c 1 {work}/phone1/rec.raw)")


def forget_namespace(name):
    """Deletes the namespace if it still exists (a signal during its creation leaves it
    unknown to Netns), with its /etc/netns directory."""
    ip = shutil.which("ip") or "/usr/sbin/ip"
    listed = subprocess.run([ip, "netns", "list"], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, timeout=10).stdout.decode()
    if any(line.split()[0] == name for line in listed.splitlines() if line.strip()):
        subprocess.run([ip, "netns", "delete", name], check=False, timeout=10)
    shutil.rmtree(os.path.join("/etc/netns", name), ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
