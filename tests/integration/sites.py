"""SIP Server sites for the integration tests: a private network namespace with nft faults, real
Kamailio registrars inside it, TLS certificates made on the spot, and softphoned configs."""

import os
import random
import re
import shutil
import signal
import string
import subprocess
import sys
import tempfile
import time

_HERE = os.path.dirname(os.path.abspath(__file__))
KAMAILIO_TEMPLATE = os.path.join(_HERE, "kamailio.cfg.in")
KAMAILIO = os.environ.get("KAMAILIO") or shutil.which("kamailio") or "/usr/sbin/kamailio"
KAMCMD = os.environ.get("KAMCMD") or shutil.which("kamcmd") or "/usr/sbin/kamcmd"
NFT = shutil.which("nft") or "/usr/sbin/nft"
IP = shutil.which("ip") or "/usr/sbin/ip"
OPENSSL = shutil.which("openssl") or "/usr/bin/openssl"

NFT_TABLE = "sp_fault"

# Addresses of the usual two sites (loopback inside a namespace: nothing to set up).
SITE_A = "127.0.0.2"
SITE_B = "127.0.0.3"


def _deadline(timeout):
    return time.monotonic() + timeout


def _short_rand(n=6):
    return "".join(random.choice(string.ascii_lowercase + string.digits) for _ in range(n))


def _descendants(pid):
    """PIDs of every live descendant of pid, and of every live member of process group pid
    (children whose parent died are reparented, but stay in the group), read from /proc."""
    children = {}
    group = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                stat = f.read().decode(errors="replace")
        except OSError:
            continue
        # "pid (comm) state ppid pgrp ...": comm may hold spaces and parentheses.
        rest = stat[stat.rfind(")") + 2:].split()
        if len(rest) < 3 or rest[0] == "Z":
            continue
        children.setdefault(int(rest[1]), []).append(int(entry))
        if int(rest[2]) == pid and int(entry) != pid:
            group.append(int(entry))
    out, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out + [p for p in group if p not in out]


def _alive(pid):
    """True while pid exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read().decode(errors="replace")
    except OSError:
        return False
    return stat[stat.rfind(")") + 2:].split()[0] != "Z"


def _kill_tree(proc, sig=signal.SIGKILL, timeout=10):
    """Sends sig to proc (a Popen we started) and to every descendant it has, by PID, then
    reaps proc and waits until the descendants are gone (bounded)."""
    if proc is None or proc.poll() is not None:
        return  # reaped: its PID may belong to someone else by now
    pids = [proc.pid] + _descendants(proc.pid)
    for pid in pids:
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout)
    deadline = _deadline(timeout)
    while any(_alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.02)


# -- network namespace ------------------------------------------------------------------------


class Netns:
    """A private network namespace "sp-<rand>" with lo up and an empty resolv.conf, deleted
    (with every process started through it still running) on close()/exit.

    Faults: drop() installs nft rules in table inet sp_fault (hook input) that silently drop
    the packets of a site, both to it and from it; undrop()/clear_drops() lift them."""

    def __init__(self, name=None):
        self.name = name or f"sp-{_short_rand()}"
        self._procs = []
        self._drops = []      # (addr, port, proto)
        self._created = False
        self._etc_dir = os.path.join("/etc/netns", self.name)

    def __enter__(self):
        return self.open()

    def __exit__(self, *exc):
        self.close()

    def open(self):
        subprocess.run([IP, "netns", "add", self.name], check=True)
        self._created = True
        # `ip netns exec` bind-mounts /etc/netns/NAME/* over /etc/*: an empty resolv.conf keeps
        # resolvers inside (sofia's sres reads it even for numeric hosts) off the host's DNS.
        os.makedirs(self._etc_dir, exist_ok=True)
        with open(os.path.join(self._etc_dir, "resolv.conf"), "w", encoding="utf-8"):
            pass
        self.run([IP, "link", "set", "lo", "up"])
        return self

    def close(self):
        for proc in self._procs:
            if proc.poll() is None:
                _kill_tree(proc)
        self._procs = []
        if self._created:
            subprocess.run([IP, "netns", "delete", self.name], check=False)
            self._created = False
        shutil.rmtree(self._etc_dir, ignore_errors=True)

    def prefix(self, cmd):
        """cmd (a list) run inside the namespace."""
        return [IP, "netns", "exec", self.name] + list(cmd)

    def run(self, cmd, check=True, timeout=30, **kw):
        """Runs cmd inside the namespace and waits (bounded); returns the CompletedProcess."""
        kw.setdefault("stdout", subprocess.PIPE)
        kw.setdefault("stderr", subprocess.PIPE)
        if "input" not in kw:
            kw.setdefault("stdin", subprocess.DEVNULL)
        res = subprocess.run(self.prefix(cmd), timeout=timeout, **kw)
        if check and res.returncode != 0:
            raise RuntimeError(f"{' '.join(map(str, cmd))} failed ({res.returncode}) in "
                               f"{self.name}: {res.stderr!r}")
        return res

    def popen(self, cmd, **kw):
        """Starts cmd inside the namespace (`ip netns exec` execs, so the PID is cmd's own).
        The process and its descendants are killed by PID when the namespace closes."""
        kw.setdefault("stdin", subprocess.DEVNULL)
        proc = subprocess.Popen(self.prefix(cmd), **kw)
        self._procs.append(proc)
        return proc

    # -- faults ----------------------------------------------------------------------------

    def drop(self, addr, port=None, proto="udp"):
        """A silent death: drops everything to addr[:port] and from it (proto: udp, tcp or
        all; port None: every port)."""
        key = (addr, port, proto)
        if key not in self._drops:
            self._drops.append(key)
        self._apply_drops()

    def undrop(self, addr, port=None, proto="udp"):
        key = (addr, port, proto)
        if key in self._drops:
            self._drops.remove(key)
        self._apply_drops()

    def clear_drops(self):
        self._drops = []
        self._apply_drops()

    def drops(self):
        return list(self._drops)

    def _apply_drops(self):
        rules = []
        for addr, port, proto in self._drops:
            if proto == "all":
                rules += [f"ip daddr {addr} drop", f"ip saddr {addr} drop"]
                continue
            if proto not in ("udp", "tcp"):
                raise ValueError(f"proto {proto!r}: udp, tcp or all")
            dport = f" {proto} dport {port}" if port else f" meta l4proto {proto}"
            sport = f" {proto} sport {port}" if port else f" meta l4proto {proto}"
            rules += [f"ip daddr {addr}{dport} drop", f"ip saddr {addr}{sport} drop"]
        # Creating then deleting the table makes the delete valid whether or not it existed;
        # the whole script is one atomic transaction.
        script = f"table inet {NFT_TABLE}\ndelete table inet {NFT_TABLE}\n"
        if rules:
            body = "\n".join("\t\t" + r for r in rules)
            script += (f"table inet {NFT_TABLE} {{\n\tchain input {{\n"
                       f"\t\ttype filter hook input priority 0; policy accept;\n{body}\n\t}}\n}}\n")
        self.run([NFT, "-f", "-"], input=script.encode())


# -- SIP probes -------------------------------------------------------------------------------

_OPTIONS_SNIPPET = r"""
import random, socket, ssl, sys, time
addr, port, proto, timeout = sys.argv[1], int(sys.argv[2]), sys.argv[3], float(sys.argv[4])
uri = sys.argv[5] or f"sip:{addr}:{port}"
cafile = sys.argv[6] or None
kind = socket.SOCK_DGRAM if proto == "udp" else socket.SOCK_STREAM
s = socket.socket(socket.AF_INET, kind)
s.settimeout(timeout)
try:
    s.connect((addr, port))
    if proto == "tls":
        ctx = ssl.create_default_context(cafile=cafile)
        if cafile is None:
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        s = ctx.wrap_socket(s, server_hostname=addr)
    lhost, lport = s.getsockname()
    tag, branch = random.getrandbits(32), random.getrandbits(48)
    msg = (f"OPTIONS {uri} SIP/2.0\r\n"
           f"Via: SIP/2.0/{proto.upper()} {lhost}:{lport};branch=z9hG4bK{branch:x};rport\r\n"
           f"Max-Forwards: 70\r\nFrom: <sip:probe@{lhost}>;tag={tag:x}\r\nTo: <{uri}>\r\n"
           f"Call-ID: {branch:x}@{lhost}\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n")
    s.send(msg.encode())
    deadline = time.monotonic() + timeout
    buf = b""
    while time.monotonic() < deadline:
        s.settimeout(max(0.01, deadline - time.monotonic()))
        chunk = s.recv(65535)
        if not chunk:
            break
        buf += chunk
        while b"\r\n" in buf:
            line, buf = buf.split(b"\r\n", 1)
            words = line.split()
            if len(words) >= 2 and words[0] == b"SIP/2.0" and words[1].isdigit() \
                    and int(words[1]) >= 200:
                print(int(words[1]))
                sys.exit(0)
except OSError as e:
    print("error", e, file=sys.stderr)
sys.exit(1)
"""


def sip_options(netns, addr, port, proto="udp", timeout=1.0, uri=None, cafile=None):
    """Sends one SIP OPTIONS to addr:port (proto udp, tcp or tls; cafile: verify the server's
    certificate with it) from inside netns; returns the final status code, or None on timeout,
    ICMP error, refused connection or failed handshake. Bounded by timeout (+ process start)."""
    try:
        res = netns.run([sys.executable, "-c", _OPTIONS_SNIPPET, addr, str(port), proto,
                         str(timeout), uri or "", cafile or ""], check=False,
                        timeout=timeout + 10)
    except subprocess.TimeoutExpired:
        return None
    if res.returncode != 0:
        return None
    return int(res.stdout.split()[0])


def wait_listening(netns, port, proto="udp", timeout=10):
    """Waits until something in netns listens on port (UDP bound / TCP listening), read with
    ss; for far ends such as SIPp, which cannot be probed without disturbing their scenario."""
    deadline = _deadline(timeout)
    flag = "-Hlun" if proto == "udp" else "-Hltn"
    while True:
        res = netns.run(["ss", flag, f"sport = :{port}"], check=False)
        if res.stdout.strip():
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"nothing listens on {proto} port {port} in {netns.name}")
        time.sleep(0.02)


def free_port(netns=None, addr="127.0.0.1", proto="udp"):
    """A port that is free for both UDP and TCP on addr (inside netns if given)."""
    snippet = (
        "import socket,sys\n"
        "for _ in range(200):\n"
        "    u=socket.socket(socket.AF_INET,socket.SOCK_DGRAM); u.bind((sys.argv[1],0))\n"
        "    p=u.getsockname()[1]\n"
        "    t=socket.socket(socket.AF_INET,socket.SOCK_STREAM)\n"
        "    try:\n"
        "        t.bind((sys.argv[1],p))\n"
        "    except OSError:\n"
        "        continue\n"
        "    print(p); break\n")
    cmd = [sys.executable, "-c", snippet, addr]
    if netns is not None:
        res = netns.run(cmd)
    else:
        res = subprocess.run(cmd, check=True, stdout=subprocess.PIPE, timeout=30)
    return int(res.stdout.split()[0])


# -- TLS ----------------------------------------------------------------------------------------


class TlsCa:
    """A throwaway certificate authority in directory `path` (made with openssl), issuing
    server certificates for an IP address. Keys never leave that directory."""

    def __init__(self, path, name="softphoned test CA"):
        self.path = str(path)
        os.makedirs(self.path, exist_ok=True)
        self.key = os.path.join(self.path, "ca.key")
        self.cert = os.path.join(self.path, "ca.crt")
        self._openssl(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                       "-nodes", "-keyout", self.key, "-out", self.cert, "-days", "2",
                       "-subj", f"/CN={name}",
                       "-addext", "basicConstraints=critical,CA:TRUE",
                       "-addext", "keyUsage=critical,keyCertSign,cRLSign"])

    def _openssl(self, args):
        subprocess.run([OPENSSL] + args, check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE, timeout=60, cwd=self.path)

    def issue(self, ip, name=None):
        """A server certificate for ip (as CN and subjectAltName); returns (cert, key)."""
        name = name or f"server-{ip}"
        key = os.path.join(self.path, f"{name}.key")
        csr = os.path.join(self.path, f"{name}.csr")
        cert = os.path.join(self.path, f"{name}.crt")
        ext = os.path.join(self.path, f"{name}.ext")
        with open(ext, "w", encoding="utf-8") as f:
            f.write(f"subjectAltName=IP:{ip}\nbasicConstraints=CA:FALSE\n"
                    "keyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n")
        self._openssl(["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                       "-nodes", "-keyout", key, "-out", csr, "-subj", f"/CN={ip}"])
        self._openssl(["x509", "-req", "-in", csr, "-CA", self.cert, "-CAkey", self.key,
                       "-CAcreateserial", "-out", cert, "-days", "2", "-extfile", ext])
        return cert, key


# -- Kamailio -----------------------------------------------------------------------------------

class KamailioSite:
    """One SIP Server site: a real Kamailio inside netns on addr:port (UDP and TCP; TLS on
    tls_port too when tls is true).

    users: {"5001": "secret"} makes REGISTER need digest auth with those passwords.
    farend: "host:port" to which requests for DNs 9xxx are relayed (a SIPp far end).
    invite_auth: INVITEs from one of users are challenged (407) too, not only REGISTERs.
    tls_ca: the TlsCa that issues the TLS listener's certificate; default: a CA of the site's
    own. Its certificate is .ca_file either way.
    Everything else: REGISTER saves the contact; OPTIONS to the site → 200; initial requests to
    a registered DN are relayed to it (record-routed), to anyone else → 404.
    """

    def __init__(self, netns, addr, port=5060, run_dir=None, tls=False, tls_port=None,
                 users=None, farend=None, tls_ca=None, name=None, invite_auth=False):
        self.netns = netns
        self.invite_auth = bool(invite_auth)
        self.addr = addr
        self.port = int(port)
        self.tls = bool(tls)
        self.tls_port = int(tls_port or (self.port + 1)) if self.tls else None
        self.users = dict(users) if users else None
        self.farend = farend
        self.name = name or f"{addr}:{port}"
        self.run_dir = str(run_dir) if run_dir else tempfile.mkdtemp(prefix="site-")
        os.makedirs(self.run_dir, exist_ok=True)
        # Unix socket paths are short (108 bytes); pytest's tmp_path may not be.
        self._sock_dir = tempfile.mkdtemp(prefix="kam-")
        self.ctl_socket = os.path.join(self._sock_dir, "kamctl.sock")
        self.cfg_path = os.path.join(self.run_dir, "kamailio.cfg")
        self.log_path = os.path.join(self.run_dir, "kamailio.log")
        self.pid_path = os.path.join(self._sock_dir, "kamailio.pid")
        self.ca_file = None
        self.tls_cert = None
        if self.tls:
            if tls_ca is None:
                tls_ca = TlsCa(os.path.join(self.run_dir, "ca"), name=f"site {self.name} CA")
            self.ca_file = tls_ca.cert
            self.tls_cert = tls_ca.issue(self.addr, name=f"site-{self.addr}-{self.tls_port}")
        self.proc = None
        self._log = None
        self.render()

    # -- addresses for softphoned configs -----------------------------------------------------

    @property
    def server(self):
        """"addr:port" of the UDP/TCP listener."""
        return f"{self.addr}:{self.port}"

    @property
    def tls_server(self):
        return f"{self.addr}:{self.tls_port}"

    def server_for(self, protocol):
        return self.tls_server if protocol == "tls" else self.server

    # -- config ----------------------------------------------------------------------------

    def render(self):
        defines = []
        if self.users is not None:
            defines.append("#!define WITH_AUTH")
            if self.invite_auth:
                defines.append("#!define WITH_INVITE_AUTH")
        if self.tls:
            defines.append("#!define WITH_TLS")
        if self.farend:
            defines.append("#!define WITH_FAREND")
        users = "\n".join(f'\t$sht(users=>{_kam_str(dn)}) = "{_kam_str(pw)}";'
                          for dn, pw in (self.users or {}).items()) or "\t$var(none) = 0;"
        with open(KAMAILIO_TEMPLATE, encoding="utf-8") as f:
            text = f.read()
        fields = {"DEFINES": "\n".join(defines), "NAME": self.name, "ADDR": self.addr,
                  "PORT": str(self.port), "TLS_PORT": str(self.tls_port or 0),
                  "RUN": self._sock_dir, "FAREND": self.farend or "", "USERS": users}
        text = re.sub(r"@([A-Z_]+)@", lambda m: fields[m.group(1)], text)
        with open(self.cfg_path, "w", encoding="utf-8") as f:
            f.write(text)
        if self.tls:
            cert, key = self.tls_cert
            with open(os.path.join(self._sock_dir, "tls.cfg"), "w", encoding="utf-8") as f:
                f.write("[server:default]\nmethod = TLSv1.2+\nverify_certificate = no\n"
                        f"require_certificate = no\ncertificate = {cert}\n"
                        f"private_key = {key}\n\n"
                        "[client:default]\nmethod = TLSv1.2+\nverify_certificate = no\n"
                        "require_certificate = no\n")
        res = subprocess.run([KAMAILIO, "-c", "-f", self.cfg_path], stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, timeout=60)
        if res.returncode != 0:
            raise RuntimeError(f"kamailio -c rejected {self.cfg_path}:\n"
                               f"{res.stdout.decode(errors='replace')}")

    def set_password(self, dn, password):
        """Changes (or adds) a user's password in the running site."""
        self.users = dict(self.users or {})
        self.users[dn] = password
        self.kamcmd("htable.sets", "users", f"s:{dn}", f"s:{password}")

    # -- process ---------------------------------------------------------------------------

    def start(self, timeout=20):
        """Starts Kamailio and waits until it answers an OPTIONS on every listener."""
        if self.running():
            return self
        self._log = open(self.log_path, "ab")
        self._log.write(f"==== start {time.strftime('%H:%M:%S')} ====\n".encode())
        self._log.flush()
        try:
            os.unlink(self.ctl_socket)
        except FileNotFoundError:
            pass
        cmd = [KAMAILIO, "-f", self.cfg_path, "-P", self.pid_path, "-Y", self._sock_dir,
               "-DD", "-E", "-m", "32", "-M", "8"]
        # Its own session: a Ctrl-C meant for the test run or the demo does not reach it.
        self.proc = self.netns.popen(cmd, stdout=self._log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        self.wait_ready(timeout)
        return self

    def wait_ready(self, timeout=20):
        deadline = _deadline(timeout)
        checks = [("udp", self.port), ("tcp", self.port)]
        if self.tls:
            checks.append(("tls", self.tls_port))
        while checks:
            if self.proc.poll() is not None:
                raise RuntimeError(f"kamailio site {self.name} exited ({self.proc.returncode})"
                                   f":\n{self.log()}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"kamailio site {self.name} does not answer {checks}:\n"
                                   f"{self.log()}")
            proto, port = checks[0]
            if sip_options(self.netns, self.addr, port, proto, timeout=0.5,
                           cafile=self.ca_file) == 200:
                checks.pop(0)
            else:
                time.sleep(0.05)
    def running(self):
        return self.proc is not None and self.proc.poll() is None

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def kill(self):
        """A site that dies loudly: SIGKILL to Kamailio and all its children (ports close,
        UDP gets ICMP port unreachable, TCP connections are reset)."""
        if self.proc is not None:
            _kill_tree(self.proc, signal.SIGKILL)
        self._close_log()

    def stop(self, timeout=10):
        """SIGTERM, then SIGKILL if Kamailio has not exited within timeout."""
        if self.proc is None:
            return
        if self.proc.poll() is not None:
            self._close_log()
            return
        pids = _descendants(self.proc.pid)
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                pass
        _kill_tree(self.proc, signal.SIGKILL)
        for pid in pids:
            if _alive(pid):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        self._close_log()

    def restart(self, timeout=20):
        """Back on the same address and ports, with an empty location table."""
        self.stop()
        return self.start(timeout)

    def close(self):
        self.stop()
        shutil.rmtree(self._sock_dir, ignore_errors=True)

    def _close_log(self):
        if self._log is not None:
            self._log.close()
            self._log = None

    def log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode(errors="replace")
        except FileNotFoundError:
            return ""

    # -- control ---------------------------------------------------------------------------

    def kamcmd(self, *args, timeout=10):
        """Runs a kamcmd RPC on the site's control socket; returns its stdout (str)."""
        res = subprocess.run([KAMCMD, "-s", f"unix:{self.ctl_socket}"] + [str(a) for a in args],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)
        if res.returncode != 0:
            raise RuntimeError(f"kamcmd {' '.join(map(str, args))} on site {self.name}: "
                               f"{res.stdout!r} {res.stderr!r}")
        return res.stdout.decode(errors="replace")

    def location(self, aor=None):
        """The registered contacts: a list of dicts {aor, contact, expires, received, socket,
        user_agent, call_id, cseq, q, ...}, all of them or only those of aor (a DN)."""
        out = self.kamcmd("ul.dump")
        contacts = parse_ul_dump(out)
        if aor is not None:
            contacts = [c for c in contacts if c["aor"] == aor or
                        c["aor"].split("@", 1)[0] == aor]
        return contacts

    def wait_location(self, pred, timeout=20, aor=None):
        """Polls location(aor) until pred(contacts) is true (bounded); returns the contacts."""
        deadline = _deadline(timeout)
        while True:
            contacts = self.location(aor)
            if pred(contacts):
                return contacts
            if time.monotonic() > deadline:
                raise TimeoutError(f"site {self.name}: location table never matched; "
                                   f"last: {contacts!r}")
            time.sleep(0.05)


def _kam_str(s):
    """s as the inside of a Kamailio double-quoted string."""
    if not re.fullmatch(r"[A-Za-z0-9 _.,:;@%+=/!?#*~^-]*", str(s)):
        raise ValueError(f"{s!r}: keep test users and passwords to plain characters")
    return str(s)


def parse_ul_dump(text):
    """Parses `kamcmd ul.dump` output (nested "Name: {" blocks of "Name: value" lines) into a
    flat list of contact dicts: aor, contact (the Address), expires, received, socket,
    call_id, cseq, user_agent, ... (lower-case names, dashes as underscores)."""
    contacts = []
    aor = None
    current = None
    for raw in text.splitlines():
        line = raw.strip()
        m = re.match(r"^([A-Za-z-]+):\s*(.*)$", line)
        if not m:
            continue
        key, value = m.group(1), m.group(2)
        if key == "AoR":
            aor, current = value, None
        elif key == "Contact" and value == "{" and aor is not None:
            current = {"aor": aor}
            contacts.append(current)
        elif value == "{":
            current = None
        elif current is not None:
            norm = key.lower().replace("-", "_")
            current["contact" if norm == "address" else norm] = value
    for c in contacts:
        for k in ("expires", "cseq"):
            try:
                c[k] = int(c[k])
            except (KeyError, ValueError):
                pass
    return contacts


# -- softphoned -----------------------------------------------------------------------


STATUS_EVENT = "ConnectionStatusChanged"


class StatusWatch:
    """Follows the ConnectionStatusChanged events of one subscribed RpcClient (of
    softphoned.py) from a mark on, so that a status reached before the mark never satisfies a
    later wait."""

    def __init__(self, client):
        self.client = client
        self.pos = 0

    def mark(self):
        """Later wait() calls only accept events received from now on."""
        self.pos = len(self.client.events_seen())

    def since_mark(self, cid=None):
        return [p for name, p in self.client.events_seen()[self.pos:]
                if name == STATUS_EVENT and (cid is None or p["connectionId"] == cid)]

    def wait(self, cid, status, timeout=30, pred=lambda p: True):
        """The first event since the mark that puts connection cid in status (and satisfies
        pred), waiting for it if it has not come yet."""
        def match(p):
            return p["connectionId"] == cid and p["status"] == status and pred(p)

        deadline = time.monotonic() + timeout
        while True:
            for p in self.since_mark(cid):
                if match(p):
                    return p
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"connection {cid} never became {status}; events since "
                                   f"mark: {self.since_mark()!r}")
            # Consumes queued matches older than the mark too; the loop then looks again.
            self.client.wait_event(STATUS_EVENT, match, left)

    def status(self, cid):
        """The status GetConnections gives for connection cid (None: no such connection)."""
        for c in self.client.call("GetConnections"):
            if c["connectionId"] == cid:
                return c["status"]
        return None

    def wait_ready(self, cids, timeout=30):
        """Waits until every connection in cids is Ready (already, or by an event), then
        marks."""
        for cid in cids:
            status = self.status(cid)
            if status is None:
                raise KeyError(f"no connection {cid}")
            if status != "Ready":
                self.wait(cid, "Ready", timeout)
        self.mark()


def connection(site=None, protocol="udp", user="5001", **keys):
    """One [connection N] group's keys: user, server (from site, the right port for
    protocol), protocol, plus any key given (underscores become dashes; None drops a key;
    booleans become true/false)."""
    entry = {"user": user, "protocol": protocol}
    if site is not None:
        entry["server"] = site.server_for(protocol)
        if protocol == "tls" and getattr(site, "ca_file", None):
            entry["ca-file"] = site.ca_file
    for k, v in keys.items():
        entry[k.replace("_", "-")] = v
    return {k: v for k, v in entry.items() if v is not None}


def _kf_value(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def render_config(connections, daemon=None, policy=None, audio=None, first_id=0):
    """A softphoned key-file config: [daemon], [policy], [audio] (each a dict, optional) and
    one [connection N] group per entry of connections (dicts from connection(); a "connectionId"
    key sets N, else they are numbered from first_id)."""
    out = []
    for group, keys in (("daemon", daemon), ("policy", policy), ("audio", audio)):
        if keys:
            out.append(f"[{group}]")
            out += [f"{k.replace('_', '-')}={_kf_value(v)}" for k, v in keys.items()]
            out.append("")
    for i, entry in enumerate(connections):
        entry = dict(entry)
        cid = entry.pop("connectionId", first_id + i)
        out.append(f"[connection {cid}]")
        out += [f"{k}={_kf_value(v)}" for k, v in entry.items()]
        out.append("")
    return "\n".join(out)


def write_config(tmp_path, connections, name="softphoned.conf", **kw):
    """render_config() written to tmp_path/name; returns the path."""
    path = os.path.join(str(tmp_path), name)
    with open(path, "w", encoding="utf-8") as f:
        f.write(render_config(connections, **kw))
    return path


def render_sipendpoint_config(connections, proxies=None, session=None):
    """The SDK's SipEndpoint.config XML for the same connections: one <Connectivity> per entry
    (ids 0, 1, ... in order); proxies (a list of dicts, one per connection) fill the settings of
    <domain name="proxies"><section name="proxyN">, session those of policy/session."""
    lines = ['<?xml version="1.0" encoding="utf-8"?>', '<Container name="Endpoint">',
             '  <Container name="Basic">']
    for c in connections:
        lines.append(f'    <Connectivity user="{c["user"]}" server="{c["server"]}" '
                     f'protocol="{c.get("protocol", "udp").upper()}"/>')
    lines += ["  </Container>", '  <Container name="Genesys">']
    if session:
        lines += ['    <domain name="policy">', '      <section name="session">']
        lines += [f'        <setting name="{k}" value="{_kf_value(v)}"/>'
                  for k, v in session.items()]
        lines += ["      </section>", "    </domain>"]
    if proxies:
        lines.append('    <domain name="proxies">')
        for i, settings in enumerate(proxies):
            lines.append(f'      <section name="proxy{i}">')
            lines += [f'        <setting name="{k}" value="{_kf_value(v)}"/>'
                      for k, v in settings.items()]
            lines.append("      </section>")
        lines.append("    </domain>")
    lines += ["  </Container>", "</Container>"]
    return "\n".join(lines) + "\n"
