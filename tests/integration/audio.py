"""Audio for the integration tests, the demo and the audio benchmark, without a sound card: HOMEs
whose .asoundrc defines ALSA file PCMs (a tone file as the microphone, a raw file as the
speaker), tone and DTMF generators, Goertzel analysis of 20 ms windows, G.711, RTP and pcap
framing. Plain Python (no numpy): samples are array('h'), S16_LE mono, 48000 Hz unless said.
"""

import array
import math
import operator
import os
import struct
import sys

RATE = 48000          # what the daemon opens its devices at
FRAME_MS = 20
AMPLITUDE = 8000      # peak of the test tones (about -12 dBFS)
FULL_SCALE = 32768.0

# DTMF: (row Hz, column Hz) of each key.
DTMF_ROWS = (697, 770, 852, 941)
DTMF_COLS = (1209, 1336, 1477, 1633)
DTMF_KEYS = ("123A", "456B", "789C", "*0#D")
DTMF_PAIRS = {DTMF_KEYS[r][c]: (DTMF_ROWS[r], DTMF_COLS[c]) for r in range(4) for c in range(4)}


# -- samples ----------------------------------------------------------------------------------


def _period_chunk(freq, amplitude, rate):
    """One second of a sine at an integer freq (a whole number of cycles, so it repeats
    seamlessly), else one period rounded to samples."""
    n = rate if float(freq).is_integer() else max(1, round(rate / freq))
    w = 2.0 * math.pi * freq / rate
    return array.array("h", (int(round(amplitude * math.sin(w * i))) for i in range(n)))


def tone(freq, seconds, amplitude=AMPLITUDE, rate=RATE):
    """A sine of freq Hz, seconds long (array('h'))."""
    total = int(round(seconds * rate))
    if freq <= 0 or amplitude == 0:
        return silence(seconds, rate)
    chunk = _period_chunk(freq, amplitude, rate)
    out = chunk * (total // len(chunk) + 1)
    del out[total:]
    return out


def silence(seconds, rate=RATE):
    return array.array("h", bytes(2 * int(round(seconds * rate))))


def mix(*parts):
    """The sample-wise sum of arrays (clipped), as long as the longest."""
    n = max(len(p) for p in parts)
    out = [0] * n
    for p in parts:
        for i, v in enumerate(p):
            out[i] += v
    return array.array("h", (max(-32768, min(32767, v)) for v in out))


def dtmf(digits, duration=0.1, gap=0.07, amplitude=6000, rate=RATE):
    """DTMF tones for digits (each duration s of its row+column pair, then gap s silence)."""
    out = array.array("h")
    for d in digits:
        lo, hi = DTMF_PAIRS[d.upper()]
        out += mix(tone(lo, duration, amplitude, rate), tone(hi, duration, amplitude, rate))
        out += silence(gap, rate)
    return out


def bursts(freq, period, burst, seconds, amplitude=AMPLITUDE, lead=0.0, rate=RATE):
    """Tone bursts: lead s of silence, then every period s a burst s long tone (sharp onset
    at a whole sample), seconds long in all. Onsets at lead + k*period."""
    out = silence(lead, rate)
    per = int(round(period * rate))
    on = tone(freq, burst, amplitude, rate)
    block = on + silence((per - len(on)) / rate, rate)
    total = int(round(seconds * rate))
    while len(out) < total:
        out += block
    del out[total:]
    return out


def write_raw(path, samples):
    with open(path, "wb") as f:
        a = array.array("h", samples)
        if sys.byteorder != "little":
            a.byteswap()
        f.write(a.tobytes())


def read_raw(path):
    """The S16_LE samples of a raw file (empty if it does not exist)."""
    a = array.array("h")
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        return a
    a.frombytes(data[:len(data) & ~1])
    if sys.byteorder != "little":
        a.byteswap()
    return a


# -- a HOME with ALSA file devices ------------------------------------------------------------

ASOUNDRC = """\
# ALSA devices of one test phone: no sound card, files instead (the null PCM has no clock, so
# the daemon paces them itself).
pcm.{capture} {{
	type file
	slave.pcm "null"
	file "/dev/null"
	infile "{tone}"
	format "raw"
	hint {{ show on description "Test microphone (a tone file)" }}
}}
pcm.{playback} {{
	type file
	slave.pcm "null"
	file "{rec}"
	format "raw"
	truncate true
	perm 0644
	hint {{ show on description "Test speaker (a recording)" }}
}}
"""


class AudioHome:
    """A HOME directory (path, made if missing) whose .asoundrc gives one phone a microphone
    that plays `capture` (a frequency in Hz, an array of 48 kHz samples, or None: silence) and
    a speaker that records into rec.raw.

    env is what to pass to the daemon (Daemon(..., env=home.env)); audio() the [audio] keys that
    name those devices. Reading past the end of the capture file gives silence, so make it
    longer than the call (seconds)."""

    def __init__(self, path, capture=None, seconds=30, amplitude=AMPLITUDE,
                 capture_name="tone_in", playback_name="rec_out"):
        self.path = os.path.abspath(str(path))
        os.makedirs(self.path, exist_ok=True)
        self.capture_name = capture_name
        self.playback_name = playback_name
        self.tone_path = os.path.join(self.path, "tone.raw")
        self.rec_path = os.path.join(self.path, "rec.raw")
        if capture is None:
            samples = silence(seconds)
        elif isinstance(capture, (int, float)):
            samples = tone(capture, seconds, amplitude)
        else:
            samples = capture
        self.capture = samples
        write_raw(self.tone_path, samples)
        with open(os.path.join(self.path, ".asoundrc"), "w", encoding="utf-8") as f:
            f.write(ASOUNDRC.format(capture=capture_name, playback=playback_name,
                                    tone=self.tone_path, rec=self.rec_path))
        self.env = {"HOME": self.path}

    def audio(self, **keys):
        """[audio] keys for render_config(): capture and playback set to this HOME's devices,
        plus keys (underscores become dashes there)."""
        out = {"capture": self.capture_name, "playback": self.playback_name}
        out.update(keys)
        return out

    def recording(self):
        """What the phone played so far (array('h'), 48 kHz)."""
        return read_raw(self.rec_path)

    def recorded_seconds(self):
        try:
            return os.path.getsize(self.rec_path) / (2.0 * RATE)
        except FileNotFoundError:
            return 0.0

    def clear_recording(self):
        try:
            os.unlink(self.rec_path)
        except FileNotFoundError:
            pass


def make_audio_home(path, tone_hz=None, seconds=30, amplitude=AMPLITUDE):
    """An AudioHome in path whose microphone plays a tone_hz sine (None: silence); for the
    demo: Daemon(..., env=home.env), config [audio] from home.audio()."""
    return AudioHome(path, tone_hz, seconds, amplitude)


# -- analysis -----------------------------------------------------------------------------------

_TABLES = {}


def _table(freq, n, rate):
    key = (freq, n, rate)
    t = _TABLES.get(key)
    if t is None:
        w = 2.0 * math.pi * freq / rate
        t = (array.array("d", (math.cos(w * i) for i in range(n))),
             array.array("d", (math.sin(w * i) for i in range(n))))
        _TABLES[key] = t
    return t


def goertzel(samples, freq, start=0, n=None, rate=RATE):
    """The amplitude at freq of samples[start:start+n], as a fraction of full scale: the
    magnitude of the DFT bin at freq (what the Goertzel recurrence computes), scaled so a sine
    of peak A (a whole number of cycles in the window) gives A/32768."""
    if n is None:
        n = len(samples) - start
    if n <= 0:
        return 0.0
    c, s = _table(freq, n, rate)
    w = samples[start:start + n]
    if len(w) < n:
        return 0.0
    re = sum(map(operator.mul, w, c))
    im = sum(map(operator.mul, w, s))
    return 2.0 * math.hypot(re, im) / n / FULL_SCALE


def level(samples, start=0, n=None):
    """The RMS of samples[start:start+n] as the peak of a sine with that power (fraction of
    full scale), so it compares with goertzel()."""
    if n is None:
        n = len(samples) - start
    w = samples[start:start + n]
    if not w:
        return 0.0
    return math.sqrt(2.0 * sum(map(operator.mul, w, w)) / len(w)) / FULL_SCALE


class Window:
    """One analysis window: its start (seconds into the recording), overall level and the
    amplitude at each frequency asked for."""

    __slots__ = ("t", "level", "amp")

    def __init__(self, t, lvl, amp):
        self.t = t
        self.level = lvl
        self.amp = amp

    def __repr__(self):
        amps = " ".join(f"{f}:{a:.3f}" for f, a in self.amp.items())
        return f"<{self.t:.2f}s level {self.level:.3f} {amps}>"


def windows(samples, freqs, start=0.0, end=None, ms=FRAME_MS, rate=RATE):
    """Windows of ms milliseconds from start to end seconds (end None: the end; negative: that
    many seconds before the end), each with goertzel() at every freq in freqs. They lie on the
    recording's own grid (from sample 0, which the daemon writes in 20 ms periods), so that a
    window is one played frame, not the seam between two."""
    n = int(rate * ms / 1000)
    total = len(samples) / rate
    if end is None:
        end = total
    elif end < 0:
        end = total + end
    out = []
    i = -(-int(max(0.0, start) * rate) // n) * n
    stop = min(len(samples), int(end * rate))
    while i + n <= stop:
        out.append(Window(i / rate, level(samples, i, n),
                          {f: goertzel(samples, f, i, n, rate) for f in freqs}))
        i += n
    return out


# A window holds a tone when its amplitude there is at least PRESENT of what was sent and it
# carries most of the window's power; it lacks it below ABSENT of what was sent. Silence is a
# level below SILENT of full scale (about -52 dBFS). Chosen from measurements through every
# codec (see test_audio.py).
PRESENT = 0.4
DOMINANT = 0.7
ABSENT = 0.05
SILENT = 0.0025


def has_tone(w, freq, amplitude=AMPLITUDE):
    a = w.amp[freq]
    return a >= PRESENT * amplitude / FULL_SCALE and a >= DOMINANT * w.level


def lacks_tone(w, freq, amplitude=AMPLITUDE):
    return w.amp[freq] < ABSENT * amplitude / FULL_SCALE


def is_silent(w):
    return w.level < SILENT


def fraction(ws, pred):
    """The share of windows ws for which pred(window) holds (0 when there are none)."""
    if not ws:
        return 0.0
    return sum(1 for w in ws if pred(w)) / len(ws)


def describe(ws, limit=12):
    """A short text for assertion messages: the first windows that matter."""
    return " ".join(repr(w) for w in ws[:limit])


def dtmf_digits(samples, start=0.0, end=None, ms=10, rate=RATE, min_ms=40, amplitude=6000):
    """The DTMF digits heard in samples, in order, as (digit, start s, duration s): in each
    ms-millisecond step, a 30 ms window whose strongest row and column tones are both at least
    a third of amplitude and well above the other tones (and above half the window's level)
    holds that key; runs of one key at least min_ms long are digits."""
    n = int(rate * 0.03)
    step = int(rate * ms / 1000)
    stop = len(samples) if end is None else min(len(samples), int(end * rate))
    floor = amplitude / FULL_SCALE / 3
    keys = []
    i = int(start * rate)
    while i + n <= stop:
        rows = [goertzel(samples, f, i, n, rate) for f in DTMF_ROWS]
        cols = [goertzel(samples, f, i, n, rate) for f in DTMF_COLS]
        r = max(range(4), key=rows.__getitem__)
        c = max(range(4), key=cols.__getitem__)
        others = sorted(rows)[-2:-1] + sorted(cols)[-2:-1]
        lvl = level(samples, i, n)
        key = None
        if rows[r] >= floor and cols[c] >= floor and max(others) < 0.5 * min(rows[r], cols[c]) \
                and math.hypot(rows[r], cols[c]) >= 0.5 * lvl:
            key = DTMF_KEYS[r][c]
        keys.append((i / rate, key))
        i += step
    out = []
    run_key, run_start, run_len = None, 0.0, 0
    for t, k in keys + [(None, None)]:
        if k == run_key and k is not None:
            run_len += 1
            continue
        if run_key is not None and run_len * ms >= min_ms:
            out.append((run_key, run_start, (run_len * ms + 30 - ms) / 1000.0))
        run_key, run_start, run_len = k, t, 1
    return out


def envelope(samples, ms=FRAME_MS, rate=RATE):
    """The level of each ms window, in dB of full scale (floor -90)."""
    n = int(rate * ms / 1000)
    out = []
    for i in range(0, len(samples) - n + 1, n):
        lv = level(samples, i, n)
        out.append(20 * math.log10(lv) if lv > 10 ** -4.5 else -90.0)
    return out


def best_correlation(ref, sig, max_lag):
    """The highest Pearson correlation of ref with sig shifted by 0..max_lag windows (sig
    lagging ref), and that lag: (r, lag)."""
    best = (-1.0, 0)
    for lag in range(0, max_lag + 1):
        m = min(len(ref), len(sig) - lag)
        if m < max(10, len(ref) // 2):   # at least half of ref overlaps
            break
        a, b = ref[:m], sig[lag:lag + m]
        ma, mb = sum(a) / m, sum(b) / m
        va = sum((x - ma) ** 2 for x in a)
        vb = sum((y - mb) ** 2 for y in b)
        if va <= 0 or vb <= 0:
            continue
        r = sum((x - ma) * (y - mb) for x, y in zip(a, b)) / math.sqrt(va * vb)
        if r > best[0]:
            best = (r, lag)
    return best


def upsample(samples, factor):
    """samples at factor times the rate, by linear interpolation (good enough for levels)."""
    out = array.array("h")
    for i in range(len(samples)):
        a = samples[i]
        b = samples[i + 1] if i + 1 < len(samples) else a
        out.extend(int(a + (b - a) * k / factor) for k in range(factor))
    return out


# -- G.711 (ITU-T G.711 segment coding) ----------------------------------------------------------


def lin2ulaw(v):
    """One 16-bit linear sample to mu-law."""
    bias, clip = 0x84, 32635
    sign = 0x80 if v < 0 else 0
    v = min(clip, -v if v < 0 else v) + bias
    exp = 7
    mask = 0x4000
    while exp > 0 and not v & mask:
        exp -= 1
        mask >>= 1
    mant = (v >> (exp + 3)) & 0x0F
    return ~(sign | (exp << 4) | mant) & 0xFF


def ulaw2lin(u):
    u = ~u & 0xFF
    sign, exp, mant = u & 0x80, (u >> 4) & 7, u & 0x0F
    v = (((mant << 3) + 0x84) << exp) - 0x84
    return -v if sign else v


def lin2alaw(v):
    """One 16-bit linear sample to A-law."""
    sign = 0x80 if v >= 0 else 0
    v = (v if v >= 0 else -v - 1) >> 3
    if v < 32:
        code = v >> 1
    else:
        exp = 1
        while exp < 7 and v >= (64 << (exp - 1)):
            exp += 1
        code = (exp << 4) | ((v >> exp) & 0x0F)
    return (sign | min(code, 0x7F)) ^ 0x55


def alaw2lin(a):
    a ^= 0x55
    sign, exp, mant = a & 0x80, (a >> 4) & 7, a & 0x0F
    if exp == 0:
        v = (mant << 4) + 8
    else:
        v = ((mant << 4) + 0x108) << (exp - 1)
    return v if sign else -v


_ULAW_ENC = bytes(lin2ulaw(v) for v in range(-32768, 32768))
_ALAW_ENC = bytes(lin2alaw(v) for v in range(-32768, 32768))
_ULAW_DEC = array.array("h", (ulaw2lin(u) for u in range(256)))
_ALAW_DEC = array.array("h", (alaw2lin(a) for a in range(256)))


def encode_g711(samples, codec="PCMU"):
    """8 kHz linear samples to PCMU or PCMA bytes."""
    table = _ULAW_ENC if codec.upper() == "PCMU" else _ALAW_ENC
    return bytes(table[v + 32768] for v in samples)


def decode_g711(data, codec="PCMU"):
    table = _ULAW_DEC if codec.upper() == "PCMU" else _ALAW_DEC
    return array.array("h", (table[b] for b in data))


# -- RTP and pcap -----------------------------------------------------------------------------

PT_OF = {"PCMU": 0, "PCMA": 8, "G722": 9}


def rtp_packet(pt, seq, ts, ssrc, payload, marker=False, csrcs=(), ext=None, pad=0,
               version=2, cc=None, ext_words=None, pad_len=None):
    """An RTP packet (RFC 3550). ext: (profile, bytes) header extension; pad: padding bytes
    added. cc, ext_words and pad_len override what the header claims (to make lying ones)."""
    b0 = (version << 6) | (0x20 if pad else 0) | (0x10 if ext is not None else 0)
    b0 |= (len(csrcs) if cc is None else cc) & 0x0F
    hdr = struct.pack("!BBHII", b0, (0x80 if marker else 0) | (pt & 0x7F), seq & 0xFFFF,
                      ts & 0xFFFFFFFF, ssrc & 0xFFFFFFFF)
    hdr += b"".join(struct.pack("!I", c) for c in csrcs)
    if ext is not None:
        profile, data = ext
        data = data + bytes(-len(data) % 4)
        words = len(data) // 4 if ext_words is None else ext_words
        hdr += struct.pack("!HH", profile, words) + data
    tail = b""
    if pad:
        tail = bytes(pad - 1) + bytes([(pad if pad_len is None else pad_len) & 0xFF])
    return hdr + payload + tail


def parse_rtp(data):
    """(pt, seq, ts, ssrc, marker, payload) of a well-formed RTP packet, else None."""
    if len(data) < 12 or data[0] >> 6 != 2:
        return None
    b0, b1, seq, ts, ssrc = struct.unpack("!BBHII", data[:12])
    off = 12 + 4 * (b0 & 0x0F)
    if b0 & 0x10:
        if len(data) < off + 4:
            return None
        off += 4 + 4 * struct.unpack("!H", data[off + 2:off + 4])[0]
    end = len(data)
    if b0 & 0x20:
        if end == 0 or data[-1] == 0:
            return None
        end -= data[-1]
    if off > end:
        return None
    return b1 & 0x7F, seq, ts, ssrc, bool(b1 & 0x80), data[off:end]


def telephone_event(payload):
    """(event, end, volume, duration) of an RFC 4733 payload."""
    ev, fl, dur = struct.unpack("!BBH", payload[:4])
    return ev, bool(fl & 0x80), fl & 0x3F, dur


TE_DIGITS = "0123456789*#ABCD"


def read_pcap(path):
    """The UDP datagrams of a classic pcap (Ethernet or Linux cooked link type), as a list of
    (time, src, sport, dst, dport, payload)."""
    with open(path, "rb") as f:
        data = f.read()
    magic = struct.unpack("<I", data[:4])[0]
    e = "<" if magic in (0xA1B2C3D4, 0xA1B23C4D) else ">"
    nano = magic in (0xA1B23C4D, 0x4D3CB2A1)
    link = struct.unpack(e + "I", data[20:24])[0]
    off = 24
    out = []
    while off + 16 <= len(data):
        sec, frac, incl, _ = struct.unpack(e + "IIII", data[off:off + 16])
        off += 16
        pkt = data[off:off + incl]
        off += incl
        if link == 1:
            l2, ethertype = 14, pkt[12:14]
        elif link == 113:
            l2, ethertype = 16, pkt[14:16]
        else:
            continue
        if ethertype != b"\x08\x00" or len(pkt) < l2 + 28:
            continue
        ip = pkt[l2:]
        ihl = (ip[0] & 0x0F) * 4
        if ip[9] != 17:
            continue
        src, dst = ".".join(map(str, ip[12:16])), ".".join(map(str, ip[16:20]))
        sport, dport, ulen = struct.unpack("!HHH", ip[ihl:ihl + 6])
        out.append((sec + frac / (1e9 if nano else 1e6), src, sport, dst, dport,
                    ip[ihl + 8:ihl + ulen]))
    return out


def pcap_audio(path, codec="PCMA"):
    """The 8 kHz audio of the G.711 RTP packets in a pcap, in sequence order."""
    pkts = []
    for *_, payload in read_pcap(path):
        r = parse_rtp(payload)
        if r and r[0] == PT_OF[codec]:
            pkts.append((r[1], r[5]))
    pkts.sort()
    out = array.array("h")
    for _, p in pkts:
        out += decode_g711(p, codec)
    return out


def pcap_digits(path):
    """The RFC 4733 digits of a pcap, in order, as (digit, duration in ms at 8 kHz)."""
    seen = {}
    order = []
    for *_, payload in read_pcap(path):
        r = parse_rtp(payload)
        if not r or len(r[5]) < 4:
            continue
        ev, end, _, dur = telephone_event(r[5])
        key = (r[3], r[2])   # ssrc, timestamp: one event
        if key not in seen:
            order.append(key)
        seen[key] = (TE_DIGITS[ev] if ev < 16 else None, dur)
    return [(seen[k][0], seen[k][1] / 8.0) for k in order]
