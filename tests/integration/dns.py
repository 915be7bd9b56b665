"""A real DNS server for the integration tests: dnsmasq inside a test's network namespace,
answering for names kept in a hosts file of its own, and the namespace's resolv.conf pointing
at it (`ip netns exec` bind-mounts /etc/netns/NAME/resolv.conf over /etc/resolv.conf).

    dns = DnsServer(netns, run_dir, {"sip-a.test": "127.0.0.2"}).start()
    dns.set("sip-a.test", "127.0.0.4")   # re-read by dnsmasq before this returns
    dns.stop()                            # a dead DNS server (queries get ICMP errors)
    netns.drop(dns.addr, 53, "udp")       # a silent one
    dns.close()                           # stopped, resolv.conf emptied again

Only names under `domain` (default "test") are answered; any other name in that domain gets
NXDOMAIN at once, and nothing is forwarded anywhere."""

import os
import shutil
import signal
import subprocess
import sys
import time

DNSMASQ = os.environ.get("DNSMASQ") or shutil.which("dnsmasq") or "/usr/sbin/dnsmasq"

_RESOLVE_SNIPPET = r"""
import socket, sys
try:
    infos = socket.getaddrinfo(sys.argv[1], 5060, type=socket.SOCK_DGRAM)
except socket.gaierror as e:
    print("error", e)
    sys.exit(0)
print(" ".join(sorted({i[4][0] for i in infos})))
"""


class DnsServer:
    """dnsmasq on addr:53 (UDP and TCP) inside netns, started by the test itself.

    names: {name: address or [addresses]}. resolv_options: the `options` line given to the
    namespace's resolvers (glibc's defaults would wait 5 s per try for a silent server)."""

    def __init__(self, netns, run_dir, names=None, addr="127.0.0.53", domain="test",
                 resolv_options="timeout:1 attempts:2"):
        self.netns = netns
        self.addr = addr
        self.domain = domain
        self.resolv_options = resolv_options
        self.run_dir = str(run_dir)
        os.makedirs(self.run_dir, exist_ok=True)
        self.hosts_path = os.path.join(self.run_dir, "hosts")
        self.log_path = os.path.join(self.run_dir, "dnsmasq.log")
        self.resolv_path = os.path.join("/etc/netns", netns.name, "resolv.conf")
        self.names = {}
        for name, value in (names or {}).items():
            self.names[name] = [value] if isinstance(value, str) else list(value)
        self.proc = None
        self._log = None
        self._write_hosts()

    # -- configuration -----------------------------------------------------------------------

    def _write_hosts(self):
        tmp = self.hosts_path + ".new"
        with open(tmp, "w", encoding="utf-8") as f:
            for name, addrs in self.names.items():
                for a in addrs:
                    f.write(f"{a} {name}\n")
        os.replace(tmp, self.hosts_path)

    def _write_resolv_conf(self):
        with open(self.resolv_path, "w", encoding="utf-8") as f:
            f.write(f"nameserver {self.addr}\n")
            if self.resolv_options:
                f.write(f"options {self.resolv_options}\n")

    def check_resolv_conf(self):
        """What a process in the namespace reads as /etc/resolv.conf names our server (the
        bind mount of `ip netns exec` is in place); raises otherwise."""
        res = self.netns.run(["cat", "/etc/resolv.conf"])
        text = res.stdout.decode(errors="replace")
        if f"nameserver {self.addr}" not in text:
            raise RuntimeError(f"/etc/resolv.conf in {self.netns.name} is not ours: {text!r}")

    def set(self, name, value, timeout=10):
        """Points name at value (an address, a list of them, or None to drop the name), and
        waits until the running server answers accordingly."""
        if value is None:
            self.names.pop(name, None)
        else:
            self.names[name] = [value] if isinstance(value, str) else list(value)
        self._write_hosts()
        if self.running():
            # SIGHUP: dnsmasq clears its cache and re-reads --addn-hosts.
            self.proc.send_signal(signal.SIGHUP)
            want = " ".join(sorted(self.names.get(name, []))) or None
            deadline = time.monotonic() + timeout
            while self.resolve(name) != want:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"dnsmasq still answers {self.resolve(name)!r} for "
                                       f"{name}, not {want!r}")
                time.sleep(0.05)

    def resolve(self, name):
        """name looked up from inside the namespace (the system's resolver, as the daemon
        does): the addresses, space-separated and sorted, or None if it does not resolve."""
        res = self.netns.run([sys.executable, "-c", _RESOLVE_SNIPPET, name], timeout=30)
        out = res.stdout.decode().strip()
        return None if out.startswith("error") or not out else out

    # -- process -----------------------------------------------------------------------------

    def command(self):
        return [DNSMASQ, "--keep-in-foreground", "--conf-file=/dev/null", "--no-resolv",
                "--no-hosts", f"--addn-hosts={self.hosts_path}", f"--local=/{self.domain}/",
                f"--listen-address={self.addr}", "--bind-interfaces", "--port=53",
                "--user=root", "--group=root", "--pid-file=", "--cache-size=0",
                "--log-queries", "--log-facility=-"]

    def start(self, timeout=10):
        """Starts dnsmasq, points the namespace's resolv.conf at it, and waits until it
        answers."""
        if self.running():
            return self
        self._write_resolv_conf()
        # A name of its own, answered once dnsmasq serves (read with the rest at start).
        probe = f"probe-{os.getpid()}.{self.domain}"
        self.names[probe] = ["127.0.0.254"]
        self._write_hosts()
        self._log = open(self.log_path, "ab")
        self._log.write(f"==== start {time.strftime('%H:%M:%S')} ====\n".encode())
        self._log.flush()
        self.proc = self.netns.popen(self.command(), stdout=self._log,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        self.check_resolv_conf()
        deadline = time.monotonic() + timeout
        try:
            while self.resolve(probe) != "127.0.0.254":
                if self.proc.poll() is not None:
                    raise RuntimeError(f"dnsmasq exited ({self.proc.returncode}):\n"
                                       f"{self.log()}")
                if time.monotonic() > deadline:
                    raise TimeoutError(f"dnsmasq does not answer:\n{self.log()}")
                time.sleep(0.05)
        finally:
            self.names.pop(probe, None)
            self._write_hosts()
            if self.running():
                self.proc.send_signal(signal.SIGHUP)
        return self

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout=10):
        """A dead DNS server: dnsmasq killed (queries to its address get ICMP errors)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout)
        if self._log is not None:
            self._log.close()
            self._log = None

    def close(self):
        """Stops dnsmasq and empties the namespace's resolv.conf again."""
        self.stop()
        if os.path.isdir(os.path.dirname(self.resolv_path)):
            with open(self.resolv_path, "w", encoding="utf-8"):
                pass

    def log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode(errors="replace")
        except FileNotFoundError:
            return ""

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.close()
