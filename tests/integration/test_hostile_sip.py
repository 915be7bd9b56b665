"""Hostile SIP sent straight to the daemon's own SIP ports (not through a site): garbage, broken
and oversized requests, stray in-dialog requests, bad offers, a burst of OPTIONS. The daemon must
keep running, keep both connections Ready, answer what deserves an answer, and still take a call."""

import base64
import json
import os
import queue
import random
import re
import subprocess
import sys
import threading
import time

import pytest

_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, _HERE)
sys.path.insert(0, os.path.join(_HERE, "sipp"))

from farend import Sipp  # noqa: E402
from sites import StatusWatch, connection, render_config  # noqa: E402

# The site fixtures (netns, site_factory, two_sites); harmless if conftest has them too.
pytest_plugins = ["fixtures_sites"]

DN = "5001"
WAIT = 30              # bound for one expected event or answer
CALLER = "127.0.0.11:5070"
BURST = 2000

# A relay run inside the namespace: every line on stdin is {"to": [host, port], "data": b64},
# sent as one datagram (or, with "tcp": true, on a new TCP connection); every datagram or TCP chunk
# received is printed as {"from": [host, port], "data": b64}. Its first line gives its own
# address. It ends at EOF on stdin or after its life time, whichever comes first.
_RELAY = r"""
import base64, json, os, select, socket, sys, time
life = float(sys.argv[1])
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
u.bind(("127.0.0.1", 0))
print(json.dumps({"local": list(u.getsockname())}), flush=True)
tcp = {}
end = time.monotonic() + life
buf = b""
stdin = sys.stdin.buffer.raw
while time.monotonic() < end:
    socks = [u] + list(tcp.values())
    r, _, _ = select.select([stdin] + socks, [], [], min(1.0, max(0.0, end - time.monotonic())))
    for s in r:
        if s is stdin:
            chunk = os.read(stdin.fileno(), 1 << 20)
            if not chunk:
                sys.exit(0)
            buf += chunk
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                cmd = json.loads(line)
                to, data = tuple(cmd["to"]), base64.b64decode(cmd["data"])
                if cmd.get("tcp"):
                    try:
                        t = socket.create_connection(to, timeout=5)
                        tcp[t.getsockname()] = t
                        t.sendall(data)
                    except OSError as e:
                        print(json.dumps({"error": "tcp: " + str(e)}), flush=True)
                else:
                    try:
                        u.sendto(data, to)
                    except OSError as e:
                        print(json.dumps({"error": str(e)}), flush=True)
        elif s is u:
            data, frm = u.recvfrom(70000)
            print(json.dumps({"from": list(frm), "data": base64.b64encode(data).decode()}),
                  flush=True)
        else:
            try:
                data = s.recv(70000)
                frm = s.getpeername()
            except OSError:
                data = b""
            if not data:
                for k, v in list(tcp.items()):
                    if v is s:
                        del tcp[k]
                s.close()
                continue
            print(json.dumps({"from": list(frm), "data": base64.b64encode(data).decode(),
                              "tcp": True}), flush=True)
"""


def _token(n=10):
    return "%0*x" % (n, random.getrandbits(4 * n))


class RawSip:
    """A raw SIP endpoint inside the namespace (the relay above), driven from the test."""

    def __init__(self, netns, life=600):
        self.proc = netns.popen([sys.executable, "-c", _RELAY, str(life)],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        first = json.loads(self.proc.stdout.readline())
        self.host, self.port = first["local"]
        self.received = queue.Queue()
        self.kept = []          # messages looked at but not yet matched
        self.errors = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self):
        for line in self.proc.stdout:
            msg = json.loads(line)
            if "error" in msg:
                self.errors.append(msg["error"])
                continue
            self.received.put((tuple(msg["from"]), base64.b64decode(msg["data"])))

    def send(self, dest, data, tcp=False):
        line = {"to": list(dest), "data": base64.b64encode(data).decode(), "tcp": tcp}
        self.proc.stdin.write(json.dumps(line).encode() + b"\n")
        self.proc.stdin.flush()

    def wait(self, pred, timeout=WAIT):
        """The first received message (bytes) for which pred holds; None if none in time.
        Messages that do not match are kept for later waits."""
        for i, m in enumerate(self.kept):
            if pred(m):
                return self.kept.pop(i)
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            try:
                _, m = self.received.get(timeout=left)
            except queue.Empty:
                return None
            if pred(m):
                return m
            self.kept.append(m)

    def drain(self):
        """Every message received so far and not matched yet."""
        while True:
            try:
                self.kept.append(self.received.get_nowait()[1])
            except queue.Empty:
                break
        out, self.kept = self.kept, []
        return out

    def close(self):
        try:
            self.proc.stdin.close()
        except OSError:
            pass
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)


# -- SIP text -------------------------------------------------------------------------------------


def call_id_of(msg):
    m = re.search(rb"^(?:Call-ID|i)[ \t]*:[ \t]*(\S+)", msg, re.M | re.I)
    return m.group(1).decode(errors="replace") if m else None


def status_of(msg):
    m = re.match(rb"SIP/2\.0 (\d{3}) ", msg)
    return int(m.group(1)) if m else None


def cseq_method(msg):
    m = re.search(rb"^CSeq[ \t]*:[ \t]*\d+[ \t]+(\S+)", msg, re.M | re.I)
    return m.group(1).decode() if m else None


def header(msg, name):
    m = re.search(rb"^" + name.encode() + rb"[ \t]*:[ \t]*(.*?)\r?$", msg, re.M | re.I)
    return m.group(1).decode(errors="replace") if m else None


class Req:
    """One request from the raw endpoint to target (host, port), with its own Call-ID, tags and
    branch; text() builds it, with any header dropped or added."""

    def __init__(self, raw, target, method, uri=None, call_id=None, to_tag=None, cseq=1,
                 tcp=False):
        self.raw = raw
        self.tcp = tcp
        self.target = target
        self.method = method
        self.uri = uri or f"sip:{DN}@{target[0]}:{target[1]}"
        self.call_id = call_id or f"hostile-{_token()}@{raw.host}"
        self.from_tag = _token(8)
        self.to_tag = to_tag
        self.branch = "z9hG4bK" + _token(12)
        self.cseq = cseq

    def headers(self, method=None):
        method = method or self.method
        to = f"<sip:{DN}@{self.target[0]}:{self.target[1]}>"
        if self.to_tag:
            to += f";tag={self.to_tag}"
        return [
            f"Via: SIP/2.0/{'TCP' if self.tcp else 'UDP'} {self.raw.host}:{self.raw.port}"
            f";branch={self.branch};rport",
            "Max-Forwards: 70",
            f"From: <sip:9666@{self.raw.host}:{self.raw.port}>;tag={self.from_tag}",
            f"To: {to}",
            f"Call-ID: {self.call_id}",
            f"CSeq: {self.cseq} {method}",
            f"Contact: <sip:9666@{self.raw.host}:{self.raw.port}>",
        ]

    def text(self, body=b"", drop=(), extra=(), content_length=None, method=None):
        method = method or self.method
        hs = [h for h in self.headers(method) if h.split(":", 1)[0] not in drop]
        hs += list(extra)
        if body and not any(h.lower().startswith("content-type") for h in hs):
            hs.append("Content-Type: application/sdp")
        hs.append(f"Content-Length: {len(body) if content_length is None else content_length}")
        head = f"{method} {self.uri} SIP/2.0\r\n" + "".join(h + "\r\n" for h in hs) + "\r\n"
        return head.encode() + body

    def send(self, data):
        self.raw.send(self.target, data, self.tcp)

    def final(self, timeout=WAIT, retransmit=None):
        """The final response to this request (by Call-ID and CSeq method), None if none came
        in time. retransmit: bytes sent again every 0.5 s while waiting (UDP loss)."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            m = self.raw.wait(lambda m: call_id_of(m) == self.call_id and
                              cseq_method(m) == self.method and (status_of(m) or 0) >= 200,
                              min(left, 0.5) if retransmit else left)
            if m is not None:
                return m
            if retransmit:
                self.send(retransmit)

    def ack(self, response):
        """ACK for a non-2xx final response to this INVITE (same branch, the response's To)."""
        to = header(response, "To") or header(response, "t")
        hs = [h if not h.startswith("To:") else f"To: {to}"
              for h in self.headers("ACK") if not h.startswith("Contact:")]
        data = (f"ACK {self.uri} SIP/2.0\r\n" + "".join(h + "\r\n" for h in hs) +
                "Content-Length: 0\r\n\r\n").encode()
        self.send(data)


GOOD_SDP = ("v=0\r\no=hostile 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
            "m=audio 40000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n").encode()
BAD_SDPS = {
    "not-sdp": b"this is not a session description\r\n\x01\x02\xff\r\n",
    "no-media": b"v=0\r\no=x 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n",
    "bad-lines": (b"v=9\r\no=\r\ns\r\nc=IN IP4 999.999.1.1\r\nt=x y\r\n"
                  b"m=audio 99999999 RTP/AVP 0 \r\na=rtpmap:0\r\n"),
    "no-common-codec": (b"v=0\r\no=x 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\n"
                        b"t=0 0\r\nm=audio 40000 RTP/AVP 96\r\na=rtpmap:96 FOO/8000\r\n"),
    "video-only": (b"v=0\r\no=x 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
                   b"m=video 40000 RTP/AVP 31\r\n"),
    # Found by fuzz-sdp: sofia-sip's SDP parser loops, allocating, for ever on these m= lines
    # (a format that is not a token after a transport that is not RTP). Unguarded, one such
    # INVITE took the main loop and gigabytes within seconds.
    "parser-bomb": GOOD_SDP.replace(b"m=audio 40000 RTP/AVP 0", b"m=audio 6A ;"),
    "parser-bomb-binary": GOOD_SDP.replace(b"m=audio 40000 RTP/AVP 0",
                                           b"m=audio 0R\xff\xff"),
}


# -- the daemon -----------------------------------------------------------------------------------


class Phone:
    """One daemon registered as DN on both sites, a subscribed client and its SIP ports."""

    def __init__(self, netns, a, b, daemon_factory, protocols=("udp", "udp")):
        self.netns = netns
        self.a, self.b = a, b
        conns = [connection(a, protocols[0], user=DN, keepalive_interval=1),
                 connection(b, protocols[1], user=DN, keepalive_interval=1)]
        self.daemon = daemon_factory(render_config(conns), netns=netns.name).start()
        self.client = self.daemon.client()
        self.client.subscribe()
        self.watch = StatusWatch(self.client)
        self.watch.wait_ready([0, 1], timeout=WAIT)
        for site in (a, b):
            site.wait_location(lambda cs: len(cs) == 1, aor=DN)

    def sockets(self, proto="udp"):
        """The (addr, port) the daemon's process has bound for proto, read with ss."""
        flag = "-Hlunp" if proto == "udp" else "-Hltnp"
        out = self.netns.run(["ss", flag]).stdout.decode()
        found = []
        for line in out.splitlines():
            if f"pid={self.daemon.pid}," not in line:
                continue
            local = line.split()[3]
            addr, port = local.rsplit(":", 1)
            addr = addr.strip("[]")
            if addr in ("0.0.0.0", "*"):
                addr = "127.0.0.1"
            if ":" in addr:
                continue  # IPv6: the namespace only has IPv4 sites
            found.append((addr, int(port)))
        return sorted(set(found))

    def contact_ports(self):
        """(host, port) of the Contact each site holds for DN."""
        out = []
        for site in (self.a, self.b):
            contact = site.location(DN)[0]["contact"]
            m = re.search(r"sip:[^@]*@([0-9.]+):(\d+)", contact)
            assert m, contact
            out.append((m.group(1), int(m.group(2))))
        return out

    def assert_unharmed(self):
        """Running, both connections Ready without a single status change since the mark, and
        GetStatus answering."""
        assert self.daemon.returncode is None, self.daemon.log()[-4000:]
        status = self.client.call("GetStatus")
        assert isinstance(status, dict)
        assert self.watch.since_mark() == [], "a connection changed status"
        assert [c["status"] for c in self.client.call("GetConnections")] == ["Ready", "Ready"]

    def stops_cleanly(self):
        """SIGTERM ends it with status 0 (under valgrind --error-exitcode, also: no error)."""
        assert self.daemon.stop(timeout=60) == 0, self.daemon.log()[-4000:]


@pytest.fixture
def phone(two_sites, netns, daemon_factory):
    a, b = two_sites
    return Phone(netns, a, b, daemon_factory)


@pytest.fixture
def tcp_phone(two_sites, netns, daemon_factory):
    """Registered over UDP on site A and over TCP on site B."""
    a, b = two_sites
    return Phone(netns, a, b, daemon_factory, ("udp", "tcp"))


@pytest.fixture
def raw(netns):
    r = RawSip(netns)
    yield r
    r.close()


def alive(raw, target, tcp=False):
    """Sends an OPTIONS to the phone and returns its final response's status (None: no answer
    in WAIT despite retransmissions). Also the sync point after a message that gets no answer:
    whatever the phone answers to it comes before this."""
    req = Req(raw, target, "OPTIONS", tcp=tcp)
    data = req.text(extra=["Accept: application/sdp"])
    req.send(data)
    resp = req.final(retransmit=None if tcp else data)
    return status_of(resp) if resp is not None else None


def ringing(phone):
    """The one session there is, which must be Alerting (the phone has it before it sends
    its 180)."""
    sessions = phone.client.call("GetSessions")
    assert len(sessions) == 1 and sessions[0]["status"] == "Alerting", sessions
    return sessions[0]


def session_events(client):
    return [p for name, p in client.events_seen() if name == "SessionStatusChanged"]


# -- the hostile messages -------------------------------------------------------------------------


def hostile_messages(raw, target):
    """[(name, request-or-None, bytes)]: fire-and-forget messages, no answer asserted."""
    out = []

    def add(name, req, data):
        out.append((name, req, data))

    rnd = random.Random(4242)
    add("garbage", None, bytes(rnd.getrandbits(8) for _ in range(1200)))
    add("garbage-text", None, b"HELLO THERE\r\n\r\n")
    add("nul-bytes", None, b"\0" * 512)
    add("crlf-keepalive", None, b"\r\n\r\n")
    r = Req(raw, target, "OPTIONS")
    add("nul-in-request", r, r.text().replace(b"Max-Forwards: 70", b"Max-Forw\0ards: 7\0\0"))
    r = Req(raw, target, "INVITE")
    add("truncated", r, r.text(GOOD_SDP)[:150])
    r = Req(raw, target, "INVITE")
    add("no-blank-line", r, r.text(GOOD_SDP).split(b"\r\n\r\n")[0])
    r = Req(raw, target, "OPTIONS")
    add("header-60k", r, r.text(extra=["X-Hostile: " + "A" * 60000]))
    r = Req(raw, target, "OPTIONS")
    add("many-headers", r, r.text(extra=[f"X-H{i}: {i}" for i in range(3000)]))
    r = Req(raw, target, "INVITE")
    add("invite-no-callid-cseq", r, r.text(GOOD_SDP, drop=("Call-ID", "CSeq")))
    r = Req(raw, target, "INVITE")
    add("invite-no-callid", r, r.text(GOOD_SDP, drop=("Call-ID",)))
    r = Req(raw, target, "INVITE")
    add("invite-no-cseq", r, r.text(GOOD_SDP, drop=("CSeq",)))
    r = Req(raw, target, "INVITE")
    add("invite-no-via-from-to", r, r.text(GOOD_SDP, drop=("Via", "From", "To")))
    r = Req(raw, target, "INVITE")
    add("content-length-too-big", r, r.text(GOOD_SDP, content_length=len(GOOD_SDP) + 5000))
    r = Req(raw, target, "INVITE")
    add("content-length-negative", r, r.text(GOOD_SDP, content_length=-20))
    r = Req(raw, target, "INVITE")
    add("content-length-huge", r, r.text(GOOD_SDP, content_length=2 ** 64))
    r = Req(raw, target, "OPTIONS", uri=f"sip:{'9' * 8000}@{target[0]}:{target[1]}")
    add("long-uri-options", r, r.text())
    r = Req(raw, target, "INVITE", uri=f"sip:{'x' * 20000}@{target[0]}:{target[1]}")
    add("long-uri-invite", r, r.text(GOOD_SDP))
    r = Req(raw, target, "OPTIONS", uri="sip:" + "@" * 300 + ":::;;;<>")
    add("broken-uri", r, r.text())
    r = Req(raw, target, "INVITE")
    add("bad-via", r, r.text(GOOD_SDP).replace(b"SIP/2.0/UDP", b"SIP/9.9/XYZ", 1))
    r = Req(raw, target, "INVITE")
    add("bad-cseq", r, r.text(GOOD_SDP).replace(b"CSeq: 1 INVITE", b"CSeq: -1 BYE"))
    r = Req(raw, target, "INVITE")
    add("multipart-garbage", r, r.text(b"--x\r\n\r\n\0\0--", extra=[
        "Content-Type: multipart/mixed;boundary=x"]))
    r = Req(raw, target, "ACK")
    add("stray-ack", r, r.text())
    r = Req(raw, target, "PRACK")
    add("stray-prack", r, r.text(extra=["RAck: 1 1 INVITE"]))
    add("stray-response", None,
        b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bKnothing\r\n"
        b"From: <sip:a@b>;tag=1\r\nTo: <sip:c@d>;tag=2\r\nCall-ID: nope\r\n"
        b"CSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n")
    return out


def check_hostile(raw, phone, target, log, rang):
    """Sends every fire-and-forget message to target; after each one the phone must still
    answer an OPTIONS and must not have answered a broken INVITE with 2xx. An INVITE that sofia
    takes despite its flaws may ring: it is then rejected through the API, as a user would, and
    its name noted in rang."""
    for name, req, data in hostile_messages(raw, target):
        raw.send(target, data)
        assert alive(raw, target) == 200, f"no answer to OPTIONS after {name}"
        # GetSessions also reads every event the daemon sent before it.
        for ses in phone.client.call("GetSessions"):
            assert ses["status"] == "Alerting", (name, ses)
            rang.append(name)
            assert phone.client.call("Hangup", {"sessionId": ses["sessionId"]}) is True
            phone.client.wait_event("SessionStatusChanged",
                                    lambda p, sid=ses["sessionId"]: p["sessionId"] == sid and
                                    p["status"] == "Disconnected", WAIT)
            if req is not None and req.method == "INVITE":
                resp = req.final()
                assert resp is not None and status_of(resp) >= 300, resp
        for m in raw.drain():
            code = status_of(m)
            log.append((name, code))
            if req is not None and call_id_of(m) == req.call_id and code is not None:
                if req.method == "INVITE":
                    assert not 200 <= code < 300, f"{name}: {m[:300]!r}"
                    if code >= 300:
                        req.ack(m)
        assert phone.client.call("GetSessions") == [], name


def check_answers(raw, phone, target):
    """Requests that deserve an answer, and the answer they get."""
    # NOTIFY talk outside any dialog: nothing to answer or retrieve.
    r = Req(raw, target, "NOTIFY", to_tag=_token(8))
    data = r.text(extra=["Event: talk", "Subscription-State: terminated"])
    r.send(data)
    resp = r.final(retransmit=data)
    assert resp is not None, "no answer to an out-of-dialog NOTIFY"
    assert status_of(resp) == 481, resp[:200]

    # Same without a To tag (an out-of-dialog request by its form): no call to act on either.
    r = Req(raw, target, "NOTIFY")
    data = r.text(extra=["Event: talk", "Subscription-State: terminated"])
    r.send(data)
    resp = r.final(retransmit=data)
    assert resp is not None and status_of(resp) == 481, resp

    # BYE for a dialog that does not exist.
    r = Req(raw, target, "BYE", to_tag=_token(8))
    data = r.text()
    r.send(data)
    resp = r.final(retransmit=data)
    assert resp is not None and status_of(resp) == 481, resp

    # CANCEL for a transaction that does not exist.
    r = Req(raw, target, "CANCEL")
    data = r.text()
    r.send(data)
    resp = r.final(retransmit=data)
    assert resp is not None and status_of(resp) == 481, resp

    # A REGISTER sent to the phone: it is no registrar.
    r = Req(raw, target, "REGISTER", uri=f"sip:{target[0]}:{target[1]}")
    data = r.text(extra=["Expires: 60"])
    r.send(data)
    resp = r.final(retransmit=data)
    assert resp is not None and status_of(resp) == 405, resp

    # Other stray requests outside any dialog. Not checked here because the daemon gets them
    # wrong: INFO is answered 200 OK and REFER 202 Accepted (then ignored), both deserve 481.
    for method, extra, code in (("MESSAGE", ["Content-Type: text/plain"], 405),
                                ("SUBSCRIBE", ["Event: presence", "Expires: 60"], 405),
                                ("PUBLISH", ["Event: presence"], 405),
                                ("UPDATE", [], 481),
                                ("BREW", [], 501)):
        r = Req(raw, target, method)
        data = r.text(extra=extra)
        r.send(data)
        resp = r.final(retransmit=data)
        assert resp is not None and status_of(resp) == code, (method, resp)

    # INVITEs whose offer cannot be used are refused before they ring: 488 when the SDP is
    # readable but leaves no PCMU/PCMA audio, some 4xx when it is not SDP at all.
    outcomes = {}
    for name, sdp in BAD_SDPS.items():
        r = Req(raw, target, "INVITE")
        data = r.text(sdp)
        r.send(data)
        resp = raw.wait(lambda m: call_id_of(m) == r.call_id and (status_of(m) or 0) > 100)
        assert resp is not None, f"no answer to INVITE with {name} SDP"
        outcomes[name] = status_of(resp)
        assert 400 <= status_of(resp) < 500, f"{name}: {resp[:300]!r}"
        r.ack(resp)
    print(f"INVITEs with bad SDP to {target}: {outcomes}")
    for name in ("no-media", "no-common-codec", "video-only"):
        assert outcomes[name] == 488, outcomes
    assert phone.client.call("GetSessions") == []

    # An INVITE without an offer is valid SIP (the answerer offers): either refused or it
    # rings; if it rings, the caller cancels it and the session ends.
    r = Req(raw, target, "INVITE")
    data = r.text()
    r.send(data)
    resp = raw.wait(lambda m: call_id_of(m) == r.call_id and (status_of(m) or 0) > 100)
    assert resp is not None, "no answer to an INVITE without SDP"
    if status_of(resp) < 200:
        ev = ringing(phone)
        cancel = r.text(method="CANCEL")
        r.method = "CANCEL"
        r.send(cancel)
        assert status_of(r.final(retransmit=cancel)) == 200
        r.method = "INVITE"
        resp = r.final()
        assert resp is not None and status_of(resp) == 487, resp
        r.ack(resp)
        phone.client.wait_event("SessionStatusChanged",
                                lambda p: p["sessionId"] == ev["sessionId"] and
                                p["status"] == "Disconnected", WAIT)
    else:
        if status_of(resp) < 300:
            pytest.fail(f"INVITE without SDP answered 2xx by itself: {resp[:300]!r}")
        r.ack(resp)
    assert phone.client.call("GetSessions") == []


def burst(raw, target, count=BURST):
    """count OPTIONS at once; returns how many got a 200 by the time a last one is answered."""
    reqs = [Req(raw, target, "OPTIONS") for _ in range(count)]
    ids = {r.call_id for r in reqs}
    for r in reqs:
        raw.send(target, r.text())
    assert alive(raw, target) == 200, "no answer to OPTIONS after the burst"
    answered = {call_id_of(m) for m in raw.drain() if status_of(m) == 200} & ids
    return len(answered)


# -- tests ----------------------------------------------------------------------------------------


def test_phone_listens_where_it_registered(phone):
    contacts = phone.contact_ports()
    bound = phone.sockets("udp")
    assert bound, "the daemon has no UDP socket"
    for c in contacts:
        assert c in bound or ("127.0.0.1", c[1]) in bound, (contacts, bound)


def test_hostile_udp_leaves_the_phone_unharmed(phone, raw, netns, tmp_path):
    targets = sorted(set(phone.sockets("udp")) | set(phone.contact_ports()))
    assert targets
    phone.watch.mark()
    log, rang = [], []
    for target in targets:
        assert alive(raw, target) == 200, f"{target} does not answer a plain OPTIONS"
        check_hostile(raw, phone, target, log, rang)
        check_answers(raw, phone, target)
        answered = burst(raw, target)
        print(f"{target}: {answered} of {BURST} OPTIONS of the burst answered")
        assert answered > 0, "not one OPTIONS of the burst answered"
        phone.assert_unharmed()
    print("responses to hostile messages:", log)
    print("broken INVITEs that rang:", rang)
    assert not raw.errors, raw.errors

    # The registrations are still in place, and a real call still comes in and connects.
    for site in (phone.a, phone.b):
        assert len(site.location(DN)) == 1
    assert phone.client.call("GetSessions") == []
    known = {p["sessionId"] for p in session_events(phone.client)}
    caller = Sipp(netns, "uac-call", tmp_path, CALLER, remote=phone.a.server, service=DN).start()
    try:
        ev = phone.client.wait_event("SessionStatusChanged",
                                     lambda p: p["status"] == "Alerting" and
                                     p["sessionId"] not in known, WAIT)
        sid = ev["sessionId"]
        assert phone.client.call("Answer", {"sessionId": sid}) is True
        phone.client.wait_event("SessionStatusChanged",
                                lambda p: p["sessionId"] == sid and p["status"] == "Connected",
                                WAIT)
        assert phone.client.call("Hangup", {"sessionId": sid}) is True
        phone.client.wait_event("SessionStatusChanged",
                                lambda p: p["sessionId"] == sid and p["status"] ==
                                "Disconnected", WAIT)
        assert caller.wait(WAIT) == 0, caller.output()
    finally:
        caller.stop()
    phone.assert_unharmed()
    phone.stops_cleanly()


def test_hostile_tcp_leaves_the_phone_unharmed(tcp_phone, raw):
    phone = tcp_phone
    targets = phone.sockets("tcp")
    assert targets, "the daemon listens on no TCP port"
    phone.watch.mark()
    for target in targets:
        assert alive(raw, target, tcp=True) == 200, f"{target} does not answer over TCP"
        raw.send(target, b"\0" * 2048 + bytes(range(256)) * 8, tcp=True)
        r = Req(raw, target, "OPTIONS", tcp=True)
        raw.send(target, r.text(extra=["X-Hostile: " + "B" * 60000]), tcp=True)
        r = Req(raw, target, "INVITE", tcp=True)
        raw.send(target, r.text(GOOD_SDP, content_length=len(GOOD_SDP) + 5000), tcp=True)
        r = Req(raw, target, "INVITE", tcp=True)
        raw.send(target, r.text(GOOD_SDP)[:200], tcp=True)
        r = Req(raw, target, "BYE", to_tag=_token(8), tcp=True)
        raw.send(target, r.text(), tcp=True)
        resp = r.final()
        assert resp is not None and status_of(resp) == 481, resp
        assert alive(raw, target, tcp=True) == 200, f"{target} no longer answers over TCP"
        phone.assert_unharmed()
    assert phone.client.call("GetSessions") == []
    phone.stops_cleanly()
