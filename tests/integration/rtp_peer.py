#!/usr/bin/python3
"""A small RTP peer for the audio tests and the audio benchmark, run inside a test network
namespace (it needs root there for its raw sockets). Modes:

  send     G.711 RTP of a tone (and/or inband DTMF) from --bind to --to, every --ptime ms, with
           0..--jitter-ms random extra delay per packet during the first --jitter-seconds and
           --reorder swapped neighbours; whatever arrives on --bind is counted and dropped.
  garbage  malformed RTP and RTCP at a phone's RTP (--to) and RTCP (--rtcp-to) ports: from the
           real sender's own address and port (--spoof, raw socket, its SSRC and sequence learnt
           by watching lo) and from other addresses (--other).
  relay    takes the packets --src sends to --dst off lo and sends them on, as if from --src,
           each after a random 0..--jitter-ms delay; the caller drops the originals with nft
           (`ip ttl != MARK_TTL`), which is what tells the re-sent ones apart.

Each mode stops by itself after --seconds and writes a JSON report to --report (or stdout).
"""

import argparse
import heapq
import json
import os
import random
import select
import signal
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import audio  # noqa: E402

MARK_TTL = 17          # TTL of the packets this peer re-sends or spoofs
ETH_P_IP = 0x0800
PACKET_HOST = 0


STOP = []   # SIGTERM: end the mode's loop, write the report, exit 0


def stopped():
    return bool(STOP)


def addr(text):
    host, port = text.rsplit(":", 1)
    return host, int(port)


# -- raw IPv4/UDP -----------------------------------------------------------------------------


class RawSender:
    """Sends UDP datagrams with any source address and port (IP_HDRINCL raw socket), TTL
    MARK_TTL and no UDP checksum (allowed over IPv4)."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
        self.ident = random.randrange(1, 0xFFFF)

    def send(self, src, dst, payload):
        udp = struct.pack("!HHHH", src[1], dst[1], 8 + len(payload), 0) + payload
        self.ident = (self.ident + 1) & 0xFFFF or 1
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), self.ident, 0x4000, MARK_TTL,
                         17, 0, socket.inet_aton(src[0]), socket.inet_aton(dst[0]))
        try:
            self.sock.sendto(ip + udp, (dst[0], 0))
        except OSError:
            pass


class Sniffer:
    """UDP datagrams from src to dst as lo delivers them (before the firewall's input hook),
    without the ones this peer sent (TTL MARK_TTL)."""

    def __init__(self, src, dst):
        self.src, self.dst = src, dst
        self.sock = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(ETH_P_IP))
        self.sock.bind(("lo", ETH_P_IP))
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        self.sock.setblocking(False)
        self._src = socket.inet_aton(src[0])
        self._dst = socket.inet_aton(dst[0])

    def fileno(self):
        return self.sock.fileno()

    def read(self):
        """Every matching payload queued now."""
        out = []
        while True:
            try:
                data, sa = self.sock.recvfrom(65535)
            except BlockingIOError:
                return out
            if sa[2] != PACKET_HOST or len(data) < 28 or data[9] != 17 or data[8] == MARK_TTL:
                continue
            if data[12:16] != self._src or data[16:20] != self._dst:
                continue
            ihl = (data[0] & 0x0F) * 4
            sport, dport, ulen = struct.unpack("!HHH", data[ihl:ihl + 6])
            if sport == self.src[1] and dport == self.dst[1]:
                out.append(data[ihl + 8:ihl + ulen])


# -- send ---------------------------------------------------------------------------------------


def wait_for_target(to, timeout=30.0):
    """--to ip:port, or file:PATH: a peer started ahead of the stream it will feed waits for
    the test to write the stream's "ip:port" there (written whole, by a rename), so that it
    sends the moment the address is known, without a process start in between."""
    if not to.startswith("file:"):
        return to
    path = to[len("file:"):]
    deadline = time.monotonic() + timeout
    while not os.path.exists(path):
        if time.monotonic() > deadline or stopped():
            sys.exit(f"no target in {path} after {timeout:.0f} s")
        time.sleep(0.005)
    with open(path, encoding="utf-8") as f:
        return f.read().strip()


def send_mode(a):
    rng = random.Random(a.seed)
    rate = 8000
    spp = rate * a.ptime // 1000
    total = int(a.seconds * 1000 // a.ptime)
    signal = audio.tone(a.tone, a.seconds + 1, a.amplitude, rate) if a.tone else \
        audio.silence(a.seconds + 1, rate)
    if a.dtmf:
        tones = audio.dtmf(a.dtmf, a.dtmf_duration, a.dtmf_gap, a.dtmf_amplitude, rate)
        at = int(a.dtmf_at * rate)
        signal[at:at + len(tones)] = tones
    # Nominal send times: t0 + i*ptime (CLOCK_MONOTONIC, shared with the test process).
    payloads = [audio.encode_g711(signal[i * spp:(i + 1) * spp], a.codec) for i in range(total)]
    pt = audio.PT_OF[a.codec]
    ssrc = rng.getrandbits(32)
    seq0, ts0 = rng.getrandbits(16), rng.getrandbits(32)

    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(addr(a.bind))
    sock.setblocking(False)
    dst = addr(wait_for_target(a.to))

    t0 = time.monotonic() + 0.05
    queue = []  # (send time, index)
    delays = []
    for i in range(total):
        nominal = i * a.ptime / 1000.0
        d = rng.uniform(0, a.jitter_ms / 1000.0) if nominal < a.jitter_seconds else 0.0
        delays.append(d)
        heapq.heappush(queue, (t0 + nominal + d, i))
    order = [heapq.heappop(queue) for _ in range(total)]
    swaps = 0
    for k in range(len(order) - 1):
        if order[k][1] * a.ptime / 1000.0 < a.jitter_seconds and rng.random() < a.reorder:
            (ta, ia), (tb, ib) = order[k], order[k + 1]
            order[k], order[k + 1] = (ta, ib), (tb, ia)
            swaps += 1

    received = 0
    sent = 0
    first = last = None
    reordered = 0
    highest = -1
    for when, i in order:
        if stopped():
            break
        while True:
            left = when - time.monotonic()
            if left <= 0:
                break
            r, _, _ = select.select([sock], [], [], left)
            if r:
                try:
                    while sock.recv(65535):
                        received += 1
                except (BlockingIOError, ConnectionRefusedError):
                    pass
        pkt = audio.rtp_packet(pt, seq0 + i, ts0 + i * spp, ssrc, payloads[i], marker=(i == 0))
        try:
            sock.sendto(pkt, dst)
            sent += 1
            last = time.monotonic()
            first = first or last
        except OSError:
            pass
        if i < highest:
            reordered += 1
        highest = max(highest, i)
    report = {"sent": sent, "received": received, "first": first, "last": last,
              "reordered": reordered, "swaps": swaps,
              "ssrc": ssrc, "mean_delay_ms": 1000 * sum(delays) / max(1, len(delays)),
              "max_delay_ms": 1000 * max(delays or [0])}
    return report


# -- garbage ------------------------------------------------------------------------------------


def rtp_garbage(rng, ssrc, seq, ts, legit):
    """Malformed or unwanted RTP, named: (kind, bytes). legit: a real packet seen (or None)."""
    hdr = audio.rtp_packet(0, seq, ts, ssrc, b"")
    pay = bytes(160)
    out = [
        ("random", rng.randbytes(rng.randrange(1, 300))),
        ("empty", b""),
        ("truncated", hdr[:rng.randrange(1, 12)]),
        ("version0", bytes([0x00]) + hdr[1:] + pay),
        ("version1", bytes([0x40]) + hdr[1:] + pay),
        ("version3", bytes([0xC0]) + hdr[1:] + pay),
        ("csrc-overrun", audio.rtp_packet(0, seq, ts, ssrc, b"", csrcs=(1, 2), cc=15)),
        ("ext-overrun", audio.rtp_packet(0, seq, ts, ssrc, pay[:8], ext=(0xBEDE, b"\1\2\3\4"),
                                         ext_words=1000)),
        ("ext-no-header", bytes([hdr[0] | 0x10]) + hdr[1:12] + b"\1"),
        ("pad-overrun", audio.rtp_packet(0, seq, ts, ssrc, pay[:10], pad=2, pad_len=255)),
        ("pad-zero", audio.rtp_packet(0, seq, ts, ssrc, pay[:10], pad=1, pad_len=0)),
        ("pad-only", audio.rtp_packet(0, seq, ts, ssrc, b"", pad=4)),
        ("unknown-pt", audio.rtp_packet(77, seq + 1, ts + 160, ssrc, pay)),
        ("pt-127", audio.rtp_packet(127, seq + 2, ts + 320, ssrc, rng.randbytes(160))),
        ("rtcp-on-rtp", struct.pack("!BBHI", 0x81, 201, 1, ssrc) + bytes(4)),
        ("huge", audio.rtp_packet(0, seq, ts, ssrc, rng.randbytes(1400))),
        ("odd-payload-te", audio.rtp_packet(101, seq + 3, ts, ssrc, b"\x05")),
    ]
    if legit is not None:
        out.append(("duplicate", legit))
        out.append(("old-seq", audio.rtp_packet(0, seq - 3000, ts - 480000, ssrc, pay)))
        out.append(("future-seq", audio.rtp_packet(0, seq + 20000, ts + 3200000, ssrc, pay)))
    return out


def rtcp_garbage(rng, ssrc):
    sr_body = struct.pack("!IIIIII", ssrc, 0, 0, 0, 0, 0)
    return [
        ("random", rng.randbytes(rng.randrange(1, 200))),
        ("empty", b""),
        ("short", b"\x80\xc8"),
        ("length-too-long", struct.pack("!BBH", 0x80, 200, 200) + sr_body),
        ("length-too-short", struct.pack("!BBH", 0x80, 200, 1) + sr_body),
        ("rc-overrun", struct.pack("!BBH", 0x9F, 200, 6) + sr_body),
        ("rr-rc-overrun", struct.pack("!BBHI", 0x9F, 201, 1, ssrc)),
        ("bad-version", struct.pack("!BBH", 0x40, 200, 6) + sr_body),
        ("sdes-lying", struct.pack("!BBHIBB", 0x81, 202, 2, ssrc, 1, 250) + b"ab"),
        ("bye-lying", struct.pack("!BBH", 0x9F, 203, 1) + struct.pack("!I", 0xDEADBEEF)),
        ("app-short", struct.pack("!BBH", 0x80, 204, 0)),
        ("compound-then-junk", struct.pack("!BBH", 0x80, 200, 6) + sr_body +
         rng.randbytes(37)),
        ("unknown-type", struct.pack("!BBH", 0x80, 210, 0)),
    ]


def garbage_mode(a):
    rng = random.Random(a.seed)
    dst = addr(a.to)
    rtcp_dst = addr(a.rtcp_to) if a.rtcp_to else None
    spoof = addr(a.spoof) if a.spoof else None
    raw = RawSender() if spoof else None
    sniff = Sniffer(spoof, dst) if spoof else None
    others = []
    for o in a.other:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(addr(o))
        s.setblocking(False)
        others.append(s)
    counts = {}
    ssrc, seq, ts, legit = rng.getrandbits(32), 0, 0, None
    intruder = audio.tone(a.intruder_tone, 0.02, audio.AMPLITUDE, 8000)
    intruder_payload = audio.encode_g711(intruder, "PCMU")
    stray = audio.tone(a.second_ssrc_tone, 0.02, audio.AMPLITUDE, 8000)
    stray_payload = audio.encode_g711(stray, "PCMU")
    learned = False
    deadline = time.monotonic() + a.seconds
    next_round = time.monotonic()
    while time.monotonic() < deadline and not stopped():
        if sniff is not None:
            select.select([sniff], [], [], max(0.0, min(next_round - time.monotonic(), 0.05)))
            for p in sniff.read():
                r = audio.parse_rtp(p)
                if r is not None:
                    _, seq, ts, ssrc, _, _ = r
                    legit = p
                    learned = True
        else:
            time.sleep(max(0.0, min(next_round - time.monotonic(), 0.05)))
        if time.monotonic() < next_round:
            continue
        next_round += a.interval
        for kind, pkt in rtp_garbage(rng, ssrc, seq, ts, legit):
            if raw is not None:
                raw.send(spoof, dst, pkt)
                counts["rtp-" + kind] = counts.get("rtp-" + kind, 0) + 1
        # A second SSRC from the real source, a few packets long.
        if raw is not None:
            other_ssrc = ssrc ^ 0x5A5A5A5A
            for k in range(3):  # never two in sequence: a stray source, not a new one
                raw.send(spoof, dst, audio.rtp_packet(0, rng.getrandbits(16), rng.getrandbits(32),
                                                      other_ssrc, stray_payload))
            counts["rtp-second-ssrc"] = counts.get("rtp-second-ssrc", 0) + 3
        # Well-formed audio (the intruder tone) from elsewhere, with the real SSRC.
        for s in others:
            for k in range(3):
                try:
                    s.sendto(audio.rtp_packet(0, seq + 1 + k, ts + 160 * (k + 1), ssrc,
                                              intruder_payload), dst)
                except OSError:
                    pass
                counts["rtp-other-source"] = counts.get("rtp-other-source", 0) + 1
            for kind, pkt in rtp_garbage(rng, ssrc, seq, ts, None)[:3]:
                try:
                    s.sendto(pkt, dst)
                except OSError:
                    pass
        if rtcp_dst is not None:
            rtcp_src = None
            if spoof:
                rtcp_src = spoof if a.rtcp_mux else (spoof[0], spoof[1] + 1)
            for kind, pkt in rtcp_garbage(rng, ssrc):
                if raw is not None:
                    raw.send(rtcp_src, rtcp_dst, pkt)
                for s in others:
                    try:
                        s.sendto(pkt, rtcp_dst)
                    except OSError:
                        pass
                counts["rtcp-" + kind] = counts.get("rtcp-" + kind, 0) + 1
    return {"learned": learned, "ssrc": ssrc, "counts": counts,
            "total": sum(counts.values())}


# -- relay --------------------------------------------------------------------------------------


def relay_mode(a):
    rng = random.Random(a.seed)
    src, dst = addr(a.src), addr(a.dst)
    sniff = Sniffer(src, dst)
    raw = RawSender()
    queue = []
    n = 0
    added = []
    deadline = time.monotonic() + a.seconds
    print("ready", flush=True)
    while time.monotonic() < deadline and not stopped():
        timeout = 0.05
        if queue:
            timeout = max(0.0, min(timeout, queue[0][0] - time.monotonic()))
        select.select([sniff], [], [], timeout)
        now = time.monotonic()
        for p in sniff.read():
            d = rng.uniform(0, a.jitter_ms / 1000.0) + a.delay_ms / 1000.0
            added.append(d)
            heapq.heappush(queue, (now + d, n, p))
            n += 1
        now = time.monotonic()
        while queue and queue[0][0] <= now:
            _, _, p = heapq.heappop(queue)
            raw.send(src, dst, p)
    for _, _, p in queue:
        raw.send(src, dst, p)
    return {"relayed": n, "mean_delay_ms": 1000 * sum(added) / max(1, len(added))}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="mode", required=True)
    s = sub.add_parser("send")
    s.add_argument("--bind", required=True)
    s.add_argument("--to", required=True, help="ip:port, or file:PATH holding it")
    s.add_argument("--codec", default="PCMU", choices=("PCMU", "PCMA"))
    s.add_argument("--tone", type=float, default=1000)
    s.add_argument("--amplitude", type=int, default=audio.AMPLITUDE)
    s.add_argument("--ptime", type=int, default=20)
    s.add_argument("--jitter-ms", type=float, default=0)
    s.add_argument("--jitter-seconds", type=float, default=0)
    s.add_argument("--reorder", type=float, default=0)
    s.add_argument("--dtmf", default="")
    s.add_argument("--dtmf-at", type=float, default=0.5)
    s.add_argument("--dtmf-duration", type=float, default=0.1)
    s.add_argument("--dtmf-gap", type=float, default=0.1)
    s.add_argument("--dtmf-amplitude", type=int, default=6000)
    g = sub.add_parser("garbage")
    g.add_argument("--to", required=True)
    g.add_argument("--rtcp-to")
    g.add_argument("--spoof")
    g.add_argument("--rtcp-mux", action="store_true", help="RTCP from --spoof's own port")
    g.add_argument("--other", action="append", default=[])
    g.add_argument("--interval", type=float, default=0.2)
    g.add_argument("--intruder-tone", type=float, default=3000,
                   help="what the other addresses send (PCMU, with the real SSRC)")
    g.add_argument("--second-ssrc-tone", type=float, default=2500,
                   help="what the stray second SSRC from the real source sends (PCMU)")
    r = sub.add_parser("relay")
    r.add_argument("--src", required=True)
    r.add_argument("--dst", required=True)
    r.add_argument("--delay-ms", type=float, default=0)
    r.add_argument("--jitter-ms", type=float, default=0)
    for p in (s, g, r):
        p.add_argument("--seconds", type=float, default=5)
        p.add_argument("--seed", type=int, default=None)
        p.add_argument("--report")
    a = ap.parse_args()
    a.seconds = min(a.seconds, 600)   # bounded whatever it is told
    signal.signal(signal.SIGTERM, lambda *_: STOP.append(True))
    report = {"send": send_mode, "garbage": garbage_mode, "relay": relay_mode}[a.mode](a)
    text = json.dumps(report)
    if a.report:
        with open(a.report + ".tmp", "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(a.report + ".tmp", a.report)
    else:
        print(text, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
