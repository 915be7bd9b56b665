"""The agent's headset, as a user handles it: GetAudioDevices / SetAudioDevices (and softphonectl
devices / set-devices) switch a live call to other ALSA devices without dropping it, an unplugged
speaker mid-call gives AudioDeviceError and silence while the call and its RTP go on, and the
call takes the device back by itself once it is plugged in again (AudioDeviceRecovered); the
headset policy ([policy] reject-when-no-device, reject-code) refuses inbound calls from a SIPp
caller while a device cannot be opened and takes them once it can.

Two phones on one Kamailio site in a private network namespace (test_audio.py's AudioEnv); every
device is an ALSA file PCM in the phone's HOME (a tone file as a microphone, a raw file as a
speaker), so what a phone heard is judged on its recordings with Goertzel windows. An unplugged
headset is a file PCM writing into a FIFO: the test kills the FIFO's reader (the write fails
with EPIPE, as an unplugged USB device fails) after moving the FIFO's folder away (so reopening
fails, as it does while the headset is out), and "plugs it in" by making the folder again.
Sleeps say when they are measurement time (audio has to run for a while), never
synchronisation: events, statistics and recordings are awaited with bounded polls.
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
from farend import Sipp, env_with_farends  # noqa: E402
from softphoned import RpcError  # noqa: E402
from test_audio import HEAD, HZ_A, HZ_B, TAIL, WAIT, AudioEnv, assert_hears  # noqa: E402

pytest_plugins = ["fixtures_sites"]

HZ_C = 2000                    # the second microphone's tone
CALLER = "127.0.0.11:5070"     # a SIPp caller
CALLER2 = "127.0.0.12:5070"
INVALID_PARAMS = -32602
SOFTPHONECTL = os.environ.get("SOFTPHONECTL") or os.path.join(
    _HERE, "..", "..", "build", "tools", "softphonectl")

# More devices for a phone's HOME, beside AudioHome's tone_in and rec_out.
EXTRA = """
pcm.tone2_in {{
	type file
	slave.pcm "null"
	file "/dev/null"
	infile "{home}/tone2.raw"
	format "raw"
	hint {{ show on description "Second microphone ({hz} Hz)" }}
}}
pcm.rec2_out {{
	type file
	slave.pcm "null"
	file "{home}/rec2.raw"
	format "raw"
	truncate true
	perm 0644
	hint {{ show on description "Second speaker (a recording)" }}
}}
pcm.headset_out {{
	type file
	slave.pcm "null"
	file "{home}/usb/speaker"
	format "raw"
	truncate true
	perm 0644
	hint {{ show on description "USB headset (a FIFO)" }}
}}
pcm.full_out {{
	type file
	slave.pcm "null"
	file "/dev/full"
	format "raw"
}}
pcm.missing_in {{
	type file
	slave.pcm "null"
	file "/dev/null"
	infile "{home}/missing.raw"
	format "raw"
}}
"""


def add_devices(phone):
    """Adds EXTRA's devices to phone's HOME; the second microphone plays HZ_C."""
    home = phone.home.path
    audio.write_raw(os.path.join(home, "tone2.raw"), audio.tone(HZ_C, 40))
    with open(os.path.join(home, ".asoundrc"), "a", encoding="utf-8") as f:
        f.write(EXTRA.format(home=home, hz=HZ_C))


def path(phone, name):
    return os.path.join(phone.home.path, name)


def size(p):
    try:
        return os.path.getsize(p)
    except FileNotFoundError:
        return 0


def wait_growing(p, since=0, timeout=WAIT):
    """Polls (bounded) until the file at p holds more than since bytes; returns its size."""
    deadline = time.monotonic() + timeout
    while size(p) <= since:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{p} never grew past {since} bytes")
        time.sleep(0.02)
    return size(p)


def names(devices):
    return {d["name"]: d for d in devices["devices"]}


def ctl(phone, *args):
    return subprocess.run([SOFTPHONECTL, "--socket", phone.daemon.socket_path] +
                          [str(a) for a in args], capture_output=True, text=True, timeout=20,
                          stdin=subprocess.DEVNULL)


@pytest.fixture
def env(netns, site_factory, daemon_factory, tmp_path):
    yield from env_with_farends(AudioEnv(netns, site_factory, daemon_factory, tmp_path))


def phones(env, b_audio=None, before_start=None):
    """A (HZ_A) and B (HZ_B), each with EXTRA's devices, started; before_start(a, b) runs
    once their HOMEs exist."""
    a = env.phone(HZ_A, start=False)
    b = env.phone(HZ_B, b_audio, start=False)
    for p in (a, b):
        add_devices(p)
    if before_start is not None:
        before_start(a, b)
    for p in (a, b):
        p.daemon.start(wait_ready=False)
    for p in (a, b):
        p.daemon.wait_notify("READY=1")
        p.start()
    return a, b


# -- 1. listing and switching -------------------------------------------------------------------


def test_set_devices_moves_a_live_call(env):
    a, b = phones(env)
    devs = b.call("GetAudioDevices")
    assert (devs["capture"], devs["playback"]) == ("tone_in", "rec_out")
    listed = names(devs)
    for name, desc in (("tone_in", "Test microphone (a tone file)"),
                       ("rec_out", "Test speaker (a recording)"),
                       ("rec2_out", "Second speaker (a recording)"),
                       ("tone2_in", f"Second microphone ({HZ_C} Hz)")):
        assert listed[name]["description"] == desc, listed
        assert listed[name]["direction"] == "both", listed
    assert b.call("GetStatus")["audioDevices"] == {"capture": "tone_in", "playback": "rec_out"}

    call = env.call(a, b)
    _, sb = env.flowing(call)
    time.sleep(1.0)  # measurement: B hears A in rec.raw
    res = b.call("SetAudioDevices", {"playback": "rec2_out"})
    assert (res["capture"], res["playback"]) == ("tone_in", "rec2_out")
    wait_growing(path(b, "rec2.raw"))
    first_len = size(path(b, "rec.raw"))
    time.sleep(1.5)  # measurement: B hears A in rec2.raw
    # The first recording ended with the switch (a frame in flight at most).
    assert size(path(b, "rec.raw")) - first_len <= 2 * 960 * 2, first_len
    res = a.call("SetAudioDevices", {"capture": "tone2_in"})
    assert (res["capture"], res["playback"]) == ("tone2_in", "rec_out")
    time.sleep(2.0)  # measurement: A's second microphone reaches B

    # One call all along, and its RTP stream never stopped.
    later = b.stats(call.sid_b)
    assert later["packetsReceived"] >= sb["packetsReceived"] + 150, (sb, later)
    assert later["localAddress"] == sb["localAddress"], (sb, later)
    assert [s["status"] for s in b.call("GetSessions")] == ["Connected"]
    assert [s["status"] for s in a.call("GetSessions")] == ["Connected"]
    assert not [n for n, _ in a.client.events_seen() + b.client.events_seen()
                if n == "AudioDeviceError"]
    assert b.call("GetAudioDevices")["playback"] == "rec2_out"
    env.hangup(call)
    env.stop_phones()

    rec1 = audio.read_raw(path(b, "rec.raw"))
    assert_hears(rec1, HZ_A, [HZ_B, HZ_C], who="B before the switch")
    rec2 = audio.read_raw(path(b, "rec2.raw"))
    # rec2: A's first microphone, then (after A's switch) its second one.
    assert_hears(rec2, HZ_A, [HZ_B, HZ_C], start=HEAD, end=1.2, who="B after its switch")
    assert_hears(rec2, HZ_C, [HZ_B, HZ_A], start=len(rec2) / audio.RATE - 1.5, end=-TAIL,
                 who="B after A's switch")


def test_next_call_uses_the_new_devices(env):
    a, b = phones(env)
    r = ctl(b, "set-devices", "--playback", "rec2_out")
    assert r.returncode == 0, r.stderr
    assert "playback: rec2_out" in r.stdout, r.stdout
    r = ctl(b, "devices")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("capture:  tone_in\nplayback: rec2_out\n"), r.stdout
    assert "rec2_out" in r.stdout and "Second speaker (a recording)" in r.stdout, r.stdout
    r = ctl(b, "--json", "devices")
    assert r.returncode == 0, r.stderr
    assert '"playback":"rec2_out"' in r.stdout, r.stdout

    call = env.call(a, b)
    env.flowing(call)
    time.sleep(1.5)  # measurement
    env.hangup(call)
    env.stop_phones()
    assert size(path(b, "rec.raw")) == 0
    assert_hears(audio.read_raw(path(b, "rec2.raw")), HZ_A, [HZ_B], who="B on rec2_out")


# -- 2. bad names change nothing ---------------------------------------------------------------


def test_unknown_device_is_invalid_params_and_changes_nothing(env):
    a, b = phones(env)
    call = env.call(a, b)
    env.flowing(call)
    before = b.call("GetAudioDevices")
    for params in ({"capture": "no_such_pcm"},
                   {"playback": "no_such_pcm"},
                   {"capture": "tone2_in", "playback": "no_such_pcm"},   # nothing half-done
                   {"capture": "missing_in"},                            # its file is not there
                   {}):
        with pytest.raises(RpcError) as e:
            b.call("SetAudioDevices", params)
        assert e.value.code == INVALID_PARAMS, (params, e.value)
        bad = [v for v in params.values() if v in ("no_such_pcm", "missing_in")]
        assert all(v in e.value.message for v in bad), (params, e.value)
        assert b.call("GetAudioDevices") == before, params
    r = ctl(b, "set-devices", "--capture", "no_such_pcm")
    assert r.returncode == 1 and "no_such_pcm" in r.stderr, (r.returncode, r.stderr)
    r = ctl(b, "set-devices")
    assert r.returncode == 2, (r.returncode, r.stderr)
    assert b.call("GetAudioDevices") == before

    # A name ALSA does not list but that opens is taken (plug over null: silence).
    res = b.call("SetAudioDevices", {"playback": "plug:null"})
    assert res["playback"] == "plug:null" and "plug:null" not in names(res)
    assert [s["status"] for s in b.call("GetSessions")] == ["Connected"]
    env.hangup(call)
    assert not [n for n, _ in b.client.events_seen() if n == "AudioDeviceError"]


# -- 3. unplugged and plugged in again -----------------------------------------------------------


def test_unplugged_headset_mid_call_comes_back_by_itself(env):
    readers = []

    def plug_fifo(a, b):
        usb = path(b, "usb")
        os.makedirs(usb)
        os.mkfifo(os.path.join(usb, "speaker"))
        out = open(path(b, "before.raw"), "wb")
        readers.append(subprocess.Popen(["cat", os.path.join(usb, "speaker")], stdout=out))
        out.close()

    a, b = phones(env, b_audio={"playback": "headset_out"}, before_start=plug_fifo)
    try:
        call = env.call(a, b)
        env.flowing(call)
        wait_growing(path(b, "before.raw"))
        time.sleep(1.0)  # measurement: B hears A through the headset
        # Unplug: the headset's folder goes (reopening fails), then its FIFO's reader.
        os.rename(path(b, "usb"), path(b, "usb.gone"))
        readers[0].kill()
        readers[0].wait(10)
        ev = b.client.wait_event("AudioDeviceError", lambda p: p["device"] == "headset_out",
                                 WAIT)
        assert ev["error"] and ev["time"].endswith("Z"), ev
        unplugged = b.stats(call.sid_b)
        time.sleep(2.5)  # measurement: the call goes on without a speaker (retries included)
        st = b.stats(call.sid_b)
        assert st["packetsReceived"] >= unplugged["packetsReceived"] + 100, (unplugged, st)
        assert st["packetsSent"] >= unplugged["packetsSent"] + 100, (unplugged, st)
        assert [s["status"] for s in b.call("GetSessions")] == ["Connected"]
        # The headset stays chosen while it is out.
        assert b.call("GetAudioDevices")["playback"] == "headset_out"

        # Plug it in again: the folder is back (the file PCM writes a plain file now).
        os.makedirs(path(b, "usb"))
        ev = b.client.wait_event("AudioDeviceRecovered", lambda p: p["device"] == "headset_out",
                                 WAIT)
        assert ev["time"].endswith("Z"), ev
        wait_growing(path(b, os.path.join("usb", "speaker")))
        time.sleep(1.5)  # measurement: B hears A through the headset again
        assert [s["status"] for s in b.call("GetSessions")] == ["Connected"]
        assert [s["status"] for s in a.call("GetSessions")] == ["Connected"]
        env.hangup(call)
        env.stop_phones()
    finally:
        for r in readers:
            if r.poll() is None:
                r.kill()
                r.wait(10)

    # Reported once, and once back: the retries while it was out said nothing more.
    seen = [(n, p["device"]) for n, p in b.client.events_seen()
            if n in ("AudioDeviceError", "AudioDeviceRecovered")]
    assert seen == [("AudioDeviceError", "headset_out"), ("AudioDeviceRecovered", "headset_out")]
    before = audio.read_raw(path(b, "before.raw"))
    assert_hears(before, HZ_A, [HZ_B], start=HEAD, end=len(before) / audio.RATE - 0.3,
                 who="B before the unplug")
    again = audio.read_raw(path(b, os.path.join("usb", "speaker")))
    assert_hears(again, HZ_A, [HZ_B], who="B after the replug")
    # A went on hearing B all along.
    assert_hears(a.recording(), HZ_B, [HZ_A], who="A")


def test_failed_device_chosen_again_is_retried(env):
    """SetAudioDevices with a device that opens but fails (a file PCM on a full disk):
    AudioDeviceError once, silence; switching back to a good one gives the recording back."""
    a, b = phones(env)
    call = env.call(a, b)
    env.flowing(call)
    assert b.call("SetAudioDevices", {"playback": "full_out"})["playback"] == "full_out"
    ev = b.client.wait_event("AudioDeviceError", lambda p: p["device"] == "full_out", WAIT)
    assert ev["error"], ev
    time.sleep(2.5)  # measurement: retried (and failing) without more events
    assert b.call("SetAudioDevices", {"playback": "rec2_out"})["playback"] == "rec2_out"
    wait_growing(path(b, "rec2.raw"))
    time.sleep(1.5)  # measurement
    assert [s["status"] for s in b.call("GetSessions")] == ["Connected"]
    env.hangup(call)
    env.stop_phones()
    errors = [p["device"] for n, p in b.client.events_seen() if n == "AudioDeviceError"]
    assert errors == ["full_out"], errors
    assert_hears(audio.read_raw(path(b, "rec2.raw")), HZ_A, [HZ_B], who="B on rec2_out")


# -- 4. the headset policy -------------------------------------------------------------------------


def caller(env, phone, local):
    s = Sipp(env.netns, "uac-call", env.tmp, local, remote=env.site.server,
             service=phone.dn).start()
    env.sipps.append(s)
    return s


def wait_received(sipp, prefix, timeout=WAIT):
    """Polls SIPp's trace (bounded) until it received a message starting with prefix."""
    deadline = time.monotonic() + timeout
    while True:
        got = [m for m in sipp.received() if m.startswith(prefix)]
        if got:
            return got[0]
        if time.monotonic() > deadline:
            raise TimeoutError(f"{sipp!r}: no {prefix!r}; trace:\n{sipp.trace()!r}")
        time.sleep(0.05)


def test_headset_policy_rejects_inbound_calls_while_a_device_cannot_open(env):
    a = env.phone(HZ_A, audio_keys={"capture": "missing_in"},
                  policy={"reject-when-no-device": "true", "reject-code": 410}, start=False)
    add_devices(a)
    a.daemon.start()
    a.start()

    first = caller(env, a, CALLER)
    ev = a.wait_session("Disconnected")
    assert ev["direction"] == "inbound" and ev["previousStatus"] is None, ev
    assert ev["reason"] == "Rejected" and ev["code"] == 410, ev
    assert ev["deviceError"]["device"] == "missing_in" and ev["deviceError"]["error"], ev
    assert ev["remote"]["dn"] == "9001", ev
    reply = wait_received(first, "SIP/2.0 410")
    assert "Warning: 399" in reply, reply
    first.stop()
    assert a.call("GetSessions") == []
    assert not [p for n, p in a.client.events_seen()
                if n == "SessionStatusChanged" and p["status"] == "Alerting"]

    # The microphone is plugged in (its file appears): the next call rings and is answered.
    audio.write_raw(path(a, "missing.raw"), audio.tone(HZ_A, 40))
    second = caller(env, a, CALLER2)
    ev = a.wait_session("Alerting")
    sid = ev["sessionId"]
    assert a.call("Answer", {"sessionId": sid}) is True
    a.wait_session("Connected", sid)
    wait_received(second, "SIP/2.0 200")
    a.wait_stats(sid, lambda s: (s["packetsSent"] or 0) > 20, what="RTP to the caller")
    assert a.call("Hangup", {"sessionId": sid}) is True
    a.wait_session("Disconnected", sid)
    assert second.wait(WAIT) == 0, second.output()
    assert not [n for n, p in a.client.events_seen()
                if n == "AudioDeviceError" and p["device"] == "missing_in"]


def test_without_the_policy_a_call_rings_despite_a_missing_device(env):
    a = env.phone(HZ_A, audio_keys={"capture": "missing_in"}, start=False)
    add_devices(a)
    a.daemon.start()
    a.start()
    c = caller(env, a, CALLER)
    sid = a.wait_session("Alerting")["sessionId"]
    assert a.call("Answer", {"sessionId": sid}) is True
    a.wait_session("Connected", sid)
    ev = a.client.wait_event("AudioDeviceError", lambda p: p["device"] == "missing_in", WAIT)
    assert ev["error"], ev
    a.wait_stats(sid, lambda s: (s["packetsSent"] or 0) > 20, what="silence to the caller")
    assert a.call("Hangup", {"sessionId": sid}) is True
    a.wait_session("Disconnected", sid)
    assert c.wait(WAIT) == 0, c.output()
