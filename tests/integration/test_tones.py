"""Ring, call-waiting and ringback tones and early media, as a user hears them: softphoned phones
on one Kamailio site in a private namespace (test_audio.py's AudioEnv), their speakers and ring
devices ALSA file PCMs whose recordings are judged with Goertzel on 20 ms windows, SIPp far ends
and a Python RTP peer (rtp_peer.py) for the early media.

The default tones (daemon/media/tones.h): ring 440+480 Hz 2 s on / 4 s off, ringback 425 Hz
1 s on / 4 s off, call waiting 440 Hz for 0.3 s every 10 s, each at a peak of 0.25 of full
scale (a two-frequency tone shares it: 0.125 each). A frequency counts as present in a window at
0.4 of what is played, and absent below 0.05 of it (audio.py's PRESENT/ABSENT). The windows
within 0.1 s of a cadence edge (4 ms ramps, the device period's grid) are not judged. Where
audio has to run for a while the sleeps say so: that is measurement time, not synchronisation.
"""

import os
import subprocess
import sys
import time

import pytest

_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, _HERE)
sys.path.insert(0, os.path.join(_HERE, "sipp"))

import audio  # noqa: E402
from audio import RATE  # noqa: E402
from farend import Sipp, env_with_farends  # noqa: E402
from sites import render_config  # noqa: E402
from softphoned import EX_CONFIG, SOFTPHONED  # noqa: E402
from test_audio import PEER_IP, WAIT, AudioEnv  # noqa: E402

pytest_plugins = ["fixtures_sites"]

HZ_A, HZ_B = 1000, 1500            # the phones' microphones
HZ_EARLY = 1300                    # what the far end's early media plays
RING = (440, 480)
RINGBACK = 425
BEEP = 440
RING_LEVEL = 0.125                 # each of the ring's two frequencies
TONE_LEVEL = 0.25                  # a one-frequency tone
CALLER = "127.0.0.11:5071"         # a SIPp caller (the second, waiting call)
EDGE = 0.1

RING_PCM = """
pcm.ring_out {{
	type file
	slave.pcm "null"
	file "{path}"
	format "raw"
	truncate true
	perm 0644
}}
"""


@pytest.fixture
def env(netns, site_factory, daemon_factory, tmp_path):
    yield from env_with_farends(AudioEnv(netns, site_factory, daemon_factory, tmp_path))


def with_ring_device(env, capture, audio_keys=None, policy=None):
    """A phone (not started) whose [audio] ring is a file PCM of its own, ring_out."""
    p = env.phone(capture, dict(audio_keys or {}, ring="ring_out"), policy, start=False)
    p.ring_path = os.path.join(p.home.path, "ring.raw")
    with open(os.path.join(p.home.path, ".asoundrc"), "a", encoding="utf-8") as f:
        f.write(RING_PCM.format(path=p.ring_path))
    return p


def start(*phones):
    for p in phones:
        p.daemon.start(wait_ready=False)
    for p in phones:
        p.daemon.wait_notify("READY=1")
        p.start()


def seconds(path):
    try:
        return os.path.getsize(path) / (2.0 * RATE)
    except FileNotFoundError:
        return 0.0


def wait_recorded(path, secs, timeout=WAIT):
    """Waits until the recording at path holds secs of audio (it grows in real time)."""
    deadline = time.monotonic() + timeout
    while seconds(path) < secs:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{path}: only {seconds(path):.2f} s recorded, {secs} wanted")
        time.sleep(0.05)


def wait_stopped(path, timeout=WAIT):
    """Waits until the recording at path stops growing (0.3 s without a byte more, where a
    playing device adds 20 ms every 20 ms); returns its length in seconds."""
    deadline = time.monotonic() + timeout
    last, since = seconds(path), time.monotonic()
    while time.monotonic() - since < 0.3:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{path} still grows after {timeout} s: {seconds(path):.2f} s")
        time.sleep(0.05)
        now = seconds(path)
        if now != last:
            last, since = now, time.monotonic()
    return last


def has(w, freq, level):
    return w.amp[freq] >= audio.PRESENT * level


def lacks(w, freq, level):
    return w.amp[freq] < audio.ABSENT * level


def span(samples, freqs, start, end):
    ws = audio.windows(samples, freqs, start, end)
    assert len(ws) >= 3, f"only {len(ws)} windows in [{start:.2f}, {end:.2f}] of " \
                         f"{len(samples) / RATE:.2f} s"
    return ws


def no_ringback(w):
    """No ringback in a window of the call's own sound: the ringback plays at TONE_LEVEL, and
    the far end's tone leaks a few per cent of its level into 425 Hz where a frame was
    concealed or the sound starts (a phase step), so the line is drawn at a fifth of it."""
    return w.amp[RINGBACK] < 0.2 * TONE_LEVEL


def without_onsets(ws):
    """ws less the two windows in which a sound starts after silence: a tone's first packet
    after a silent jitter buffer is a step, whose spectrum spreads over every frequency
    judged, and it may straddle two windows."""
    keep = []
    for i, w in enumerate(ws):
        before = ws[max(0, i - 2):i]
        if audio.is_silent(w) or not any(audio.is_silent(p) for p in before):
            keep.append(w)
    return keep


def assert_all(ws, pred, what):
    bad = [w for w in ws if not pred(w)]
    assert not bad, f"{what}: {len(bad)} of {len(ws)} windows: {audio.describe(bad)}"


def assert_ring_cadence(samples, start, end):
    """The ring's 2 s on / 4 s off from the start of the recording, judged on [start, end]."""
    for t0 in range(0, int(end) + 6, 6):
        on = span(samples, RING, max(start, t0 + EDGE), min(end, t0 + 2 - EDGE)) \
            if min(end, t0 + 2 - EDGE) - max(start, t0 + EDGE) > 0.1 else []
        assert_all(on, lambda w: all(has(w, f, RING_LEVEL) for f in RING),
                   f"ring on at {t0} s")
        lo, hi = max(start, t0 + 2 + EDGE), min(end, t0 + 6 - EDGE)
        if hi - lo > 0.1:
            assert_all(span(samples, RING, lo, hi), audio.is_silent, f"ring off after {t0} s")


def test_ring_on_its_device_until_answer_and_ringback_at_the_caller(env):
    """B calls A. A rings on its ring device (not its speaker) with the ring's cadence until
    Answer, then the device is closed; B hears ringback after A's 180 until the 200."""
    a = with_ring_device(env, HZ_A)
    b = env.phone(HZ_B, start=False)
    start(a, b)

    sid_b = b.call("Dial", {"connectionId": 0, "destination": a.dn})["sessionId"]
    sid_a = a.wait_session("Alerting")["sessionId"]
    # Measurement: two ring bursts and the silence between them.
    wait_recorded(a.ring_path, 7.0)
    assert a.call("Answer", {"sessionId": sid_a}) is True
    a.wait_session("Connected", sid_a)
    b.wait_session("Connected", sid_b)
    b_conn = b.home.recorded_seconds()
    # The device closes on the media thread a moment after the Answer, and the file plugin
    # writes what its buffer held (80 ms) at the close: wait for that, then for nothing more.
    rang = wait_stopped(a.ring_path)
    time.sleep(1.0)  # measurement: a second of the call, in which nothing may ring
    assert seconds(a.ring_path) == rang, "the ring device still plays after Answer"
    a.call("Hangup", {"sessionId": sid_a})
    a.wait_session("Disconnected", sid_a)
    b.wait_session("Disconnected", sid_b)
    env.stop_phones()

    ring = audio.read_raw(a.ring_path)
    assert 7.0 <= len(ring) / RATE < 9.0, f"{len(ring) / RATE:.2f} s of ring"
    assert_ring_cadence(ring, 0.0, len(ring) / RATE - EDGE)
    # A's speaker did not ring: it only played B once the call was up.
    for w in audio.windows(a.recording(), RING, 0.0):
        assert lacks(w, RING[0], RING_LEVEL) and lacks(w, RING[1], RING_LEVEL), w

    # B: ringback from the 180 (1 s on, 4 s off, on again at 5 s), none once Connected.
    rec = b.recording()
    assert_all(span(rec, (RINGBACK,), EDGE, 1 - EDGE),
               lambda w: has(w, RINGBACK, TONE_LEVEL), "ringback on")
    assert_all(span(rec, (RINGBACK,), 1 + EDGE, 5 - EDGE), audio.is_silent, "ringback off")
    assert_all(span(rec, (RINGBACK,), 5 + EDGE, 6 - EDGE),
               lambda w: has(w, RINGBACK, TONE_LEVEL), "ringback on again")
    after = span(rec, (RINGBACK, HZ_A), b_conn + 0.2, len(rec) / RATE - 0.2)
    assert_all(without_onsets(after), no_ringback, "ringback after the 200")
    assert audio.fraction(after, lambda w: audio.has_tone(w, HZ_A)) >= 0.9


def test_ring_shares_the_playback_device(env):
    """No [audio] ring: the ring plays on the speaker, and the call follows on the same open
    device (one recording, never truncated by a second open)."""
    a = env.phone(HZ_A, start=False)
    b = env.phone(HZ_B, start=False)
    start(a, b)
    sid_b = b.call("Dial", {"connectionId": 0, "destination": a.dn})["sessionId"]
    sid_a = a.wait_session("Alerting")["sessionId"]
    wait_recorded(a.home.rec_path, 1.5)  # measurement: most of the first burst
    assert a.call("Answer", {"sessionId": sid_a}) is True
    a.wait_session("Connected", sid_a)
    answered = a.home.recorded_seconds()
    b.wait_session("Connected", sid_b)
    time.sleep(1.5)  # measurement: the call's sound after the ring
    a.call("Hangup", {"sessionId": sid_a})
    a.wait_session("Disconnected", sid_a)
    env.stop_phones()

    rec = a.recording()
    assert_all(span(rec, RING, EDGE, 1.4), lambda w: all(has(w, f, RING_LEVEL) for f in RING),
               "ring on the speaker")
    after = span(rec, RING + (HZ_B,), answered + 0.2, len(rec) / RATE - 0.2)
    assert_all(after, lambda w: all(lacks(w, f, RING_LEVEL) for f in RING), "ring after Answer")
    assert audio.fraction(after, lambda w: audio.has_tone(w, HZ_B)) >= 0.9


def test_call_waiting_beep_over_the_call(env):
    """A talks to B; a second call alerts: A hears a short beep over B (not the ring, and the
    ring device stays shut); rejecting the second call leaves the call as it was."""
    a = with_ring_device(env, HZ_A)
    b = env.phone(HZ_B, start=False)
    start(a, b)
    call = env.call(b, a)
    env.flowing(call)
    wait_recorded(a.home.rec_path, 1.0)

    caller = Sipp(env.netns, "uac-call", env.tmp, CALLER, remote=env.site.server,
                  service=a.dn).start()
    env.sipps.append(caller)
    sid2 = a.wait_session("Alerting")["sessionId"]
    alerted = a.home.recorded_seconds()
    time.sleep(1.0)  # measurement: the beep (0.3 s) and what follows it
    assert a.call("Hangup", {"sessionId": sid2}) is True   # reject: 603
    a.wait_session("Disconnected", sid2)
    rejected = a.home.recorded_seconds()
    time.sleep(0.5)  # measurement: the call goes on
    env.hangup(call)
    env.stop_phones()

    assert seconds(a.ring_path) == 0.0, "the ring device rang over a call"
    rec = a.recording()
    before = span(rec, (BEEP, HZ_B), 0.3, alerted - 0.05)
    assert_all(before, lambda w: lacks(w, BEEP, TONE_LEVEL), "a beep before the second call")
    beep = audio.windows(rec, (BEEP, HZ_B), alerted - 0.1, alerted + 0.6)
    loud = [w for w in beep if has(w, BEEP, TONE_LEVEL)]
    # 0.3 s of beep: about 15 windows; at least 10 clear of its ramps and the window grid.
    assert 10 <= len(loud) <= 17, f"beep in {len(loud)} windows: {audio.describe(beep, 40)}"
    # Mixed, not in place of the call: B's voice goes on under the beep (a window or two may
    # lose it to a late packet on a loaded machine; a beep replacing the call loses them all).
    voiced = [w for w in loud if w.amp[HZ_B] >= audio.PRESENT * audio.AMPLITUDE / audio.FULL_SCALE]
    assert len(voiced) >= 0.8 * len(loud), \
        f"B's voice went away under the beep: {audio.describe(loud, 20)}"
    rest = span(rec, (BEEP, HZ_B), loud[-1].t + 0.1, len(rec) / RATE - 0.2)
    assert_all(rest, lambda w: lacks(w, BEEP, TONE_LEVEL), "a second beep")
    assert rejected > alerted


def call_answered_with_no_early_sound(env, scenario):
    """A dials a SIPp far end playing scenario, which sends no RTP before its 200; once
    Connected an RTP peer plays HZ_A to A for 2 s, and A hangs up. Returns A's speaker
    recording and how much of it there was at the Connected event."""
    a = env.phone(None)
    port = env.peer_port()
    far = env.farend(scenario, keys={"rtp_ip": PEER_IP, "rtp_port": port, "pt": 0})
    sid = a.call("Dial", {"connectionId": 0, "destination": "9001"})["sessionId"]
    a.wait_session("Connected", sid)
    connected = a.home.recorded_seconds()
    local = a.local_rtp(sid)
    proc, report = env.rtp_peer("send", "--bind", f"{PEER_IP}:{port}", "--to", local,
                                "--tone", HZ_A, "--seconds", 2)
    env.peer_report(proc, report)
    a.call("Hangup", {"sessionId": sid})
    a.wait_session("Disconnected", sid)
    assert far.wait(WAIT) == 0, far.output()
    a.stop()
    return a.recording(), connected


def assert_answered_sound(rec, connected):
    """From the 200 on: the far end's tone, and no ringback. (The recording's length read at
    the event lags what the daemon wrote by a period or two.)"""
    after = span(rec, (RINGBACK, HZ_A), connected + 0.1, len(rec) / RATE - 0.2)
    assert_all(without_onsets(after), no_ringback, "ringback after the 200")
    assert audio.fraction(after, lambda w: audio.has_tone(w, HZ_A)) >= 0.5


def test_ringback_from_a_farend_after_180_until_200(env):
    """A SIPp far end answers 180, rings for 5.5 s and answers: A hears the ringback cadence,
    then the far end's RTP, and no ringback from the 200 on."""
    rec, connected = call_answered_with_no_early_sound(env, "uas-ringback")
    assert connected >= 5.0, f"Connected after {connected:.2f} s of recording"
    assert_all(span(rec, (RINGBACK,), EDGE, 1 - EDGE),
               lambda w: has(w, RINGBACK, TONE_LEVEL), "ringback on")
    assert_all(span(rec, (RINGBACK,), 1 + EDGE, 5 - EDGE), audio.is_silent, "ringback off")
    assert_all(span(rec, (RINGBACK,), 5 + EDGE, connected - 0.15),
               lambda w: has(w, RINGBACK, TONE_LEVEL), "ringback on again")
    assert_answered_sound(rec, connected)


def feed_when_known(a, sid, path):
    """Tells a peer started with --to file:PATH where the stream of sid receives."""
    local = a.local_rtp(sid)
    with open(path + ".new", "w", encoding="utf-8") as f:
        f.write(local)
    os.rename(path + ".new", path)


def test_early_media_is_heard_instead_of_ringback(env):
    """A SIPp far end answers 183 with SDP and its RTP peer plays a tone before the 200: A
    hears that tone while InProgress, and never the ringback (the peer sends well within the
    second of grace the daemon gives early media before it rings back)."""
    a = env.phone(None)
    port = env.peer_port()
    target = os.path.join(str(env.tmp), "early-target")
    # Started first, so that it sends as soon as the stream's address is known.
    proc, report = env.rtp_peer("send", "--bind", f"{PEER_IP}:{port}", "--to", f"file:{target}",
                                "--tone", HZ_EARLY, "--seconds", 6)
    far = env.farend("uas-early-media", keys={"rtp_ip": PEER_IP, "rtp_port": port, "pt": 0})
    sid = a.call("Dial", {"connectionId": 0, "destination": "9001"})["sessionId"]
    feed_when_known(a, sid, target)  # the stream exists before any answer: early media
    assert a.call("GetSessions")[0]["status"] == "InProgress"
    a.wait_session("Connected", sid)
    connected = a.home.recorded_seconds()
    env.peer_report(proc, report)
    a.call("Hangup", {"sessionId": sid})
    a.wait_session("Disconnected", sid)
    assert far.wait(WAIT) == 0, far.output()
    a.stop()

    rec = a.recording()
    assert connected >= 2.0, f"Connected after {connected:.2f} s of recording"
    ws = span(rec, (RINGBACK, HZ_EARLY), 0.0, len(rec) / RATE)
    assert_all(without_onsets(ws), no_ringback, "ringback with early media")
    early = [w for w in ws if w.t < connected - 0.1]
    heard = audio.fraction(early, lambda w: audio.has_tone(w, HZ_EARLY))
    assert heard >= 0.8, f"early media in {heard:.0%}: {audio.describe(early, 30)}"


def test_ringback_while_announced_early_media_stays_silent(env):
    """A SIPp far end answers 183 with SDP, sends no RTP for the 4 s until its 200: after a
    second of grace A hears the ringback cadence (on 1 s, off), then the far end's RTP once
    answered, and no ringback after the 200."""
    rec, connected = call_answered_with_no_early_sound(env, "uas-early-media")
    # The speaker opens with the early stream, at the 183: the recording starts there.
    assert connected >= 3.0, f"Connected after {connected:.2f} s of recording"
    assert_all(span(rec, (RINGBACK,), EDGE, 1 - EDGE), audio.is_silent, "the second of grace")
    assert_all(span(rec, (RINGBACK,), 1 + EDGE, 2 - EDGE),
               lambda w: has(w, RINGBACK, TONE_LEVEL), "ringback on")
    assert_all(span(rec, (RINGBACK,), 2 + EDGE, connected - 0.15), audio.is_silent,
               "ringback off")
    assert_answered_sound(rec, connected)


def test_auto_answered_call_does_not_ring(env):
    """With auto-answer, an inbound call is answered at once and its ring device never opens."""
    a = with_ring_device(env, HZ_A, policy={"auto-answer": True})
    b = env.phone(HZ_B, start=False)
    start(a, b)
    call_sid = b.call("Dial", {"connectionId": 0, "destination": a.dn})["sessionId"]
    sid_a = a.wait_session("Connected")["sessionId"]
    b.wait_session("Connected", call_sid)
    time.sleep(1.0)  # measurement: a second in which nothing may ring
    a.call("Hangup", {"sessionId": sid_a})
    a.wait_session("Disconnected", sid_a)
    env.stop_phones()
    assert not os.path.exists(a.ring_path), "an auto-answered call rang"


def media_threads(daemon):
    """How many threads of the daemon are its media thread (named sp-media)."""
    n = 0
    for tid in os.listdir(f"/proc/{daemon.pid}/task"):
        try:
            with open(f"/proc/{daemon.pid}/task/{tid}/comm", encoding="ascii") as f:
                n += f.read().strip() == "sp-media"
        except OSError:
            pass  # the thread ended meanwhile
    return n


def wait_media_threads(daemon, n, timeout=WAIT):
    deadline = time.monotonic() + timeout
    while media_threads(daemon) != n:
        if time.monotonic() > deadline:
            names = []
            for tid in os.listdir(f"/proc/{daemon.pid}/task"):
                with open(f"/proc/{daemon.pid}/task/{tid}/comm", encoding="ascii") as f:
                    names.append(f.read().strip())
            raise AssertionError(f"media threads: {media_threads(daemon)}, not {n}: {names}")
        time.sleep(0.05)


def test_media_thread_runs_only_while_a_tone_or_a_call_needs_it(env):
    """Idle: no media thread (no 50 Hz wake-ups). Ringing with no call: one, for the ring. The
    caller gives up: it goes again."""
    a = with_ring_device(env, HZ_A)
    b = env.phone(HZ_B, start=False)
    start(a, b)
    assert media_threads(a.daemon) == 0
    call_sid = b.call("Dial", {"connectionId": 0, "destination": a.dn})["sessionId"]
    sid_a = a.wait_session("Alerting")["sessionId"]
    wait_media_threads(a.daemon, 1)
    b.call("Hangup", {"sessionId": call_sid})
    a.wait_session("Disconnected", sid_a)
    wait_media_threads(a.daemon, 0)
    env.stop_phones()


def test_ring_off_and_bad_tones(env, tmp_path):
    """[audio] ring= (empty) turns the ring off; a bad tone spec is a config error (78) that
    names the key."""
    a = env.phone(HZ_A, {"ring": ""}, start=False)
    b = env.phone(HZ_B, start=False)
    start(a, b)
    sid_b = b.call("Dial", {"connectionId": 0, "destination": a.dn})["sessionId"]
    sid_a = a.wait_session("Alerting")["sessionId"]
    wait_recorded(b.home.rec_path, 1.0)  # B's ringback plays: A has had time to ring
    assert a.home.recorded_seconds() == 0.0, "A rang with ring= empty"
    a.call("Hangup", {"sessionId": sid_a})
    b.wait_session("Disconnected", sid_b)
    env.stop_phones()

    for key, value in (("ring-tone", "440/abc"), ("ringback-tone", "0/1000"),
                       ("call-waiting-tone", "440+480+620/100")):
        path = tmp_path / f"bad-{key}.conf"
        path.write_text(render_config([], audio={key: value}))
        out = subprocess.run([SOFTPHONED, "--check-config", "--config", str(path)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
        assert out.returncode == EX_CONFIG, out
        assert key in out.stderr.decode(), out.stderr.decode()
    good = tmp_path / "good.conf"
    good.write_text(render_config([], audio={"ring-tone": "400+450/400,0/200,400+450/400,0/2000",
                                             "ringback-tone": "", "ring": "plughw:1"}))
    out = subprocess.run([SOFTPHONED, "--check-config", "--config", str(good)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
    assert out.returncode == 0, out
