"""One-time codes (issue #5.4) end to end: the real sim with TOTP secrets in its
config, a phone computing RFC 6238 codes from the same secret.

The controller's unit tests cover the details (skew, lockout growth, grants);
here we check that the pieces fit: config -> sim -> mbedTLS HMAC -> broker.
"""
import base64
import hashlib
import hmac
import struct
import time

import pytest

from sim_harness import (LOOSE_GUARDS, controller_config, counter, error_text, is_error,
                         is_full_state, rig_factory)  # noqa: F401 (fixture)

SECRET = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"  # RFC 6238's SHA-1 key in base32


def totp(secret, t=None, step=30, digits=6):
    """RFC 6238 code for the time t (default: now)."""
    key = base64.b32decode(secret)
    counter_bytes = struct.pack(">Q", int((time.time() if t is None else t) // step))
    mac = hmac.new(key, counter_bytes, hashlib.sha1).digest()
    offset = mac[-1] & 0x0F
    value = struct.unpack(">I", mac[offset:offset + 4])[0] & 0x7FFFFFFF
    return value % (10 ** digits)


def test_totp_helper_matches_rfc6238():
    assert totp(SECRET, 59, digits=8) == 94287082
    assert totp(SECRET, 1111111109, digits=8) == 7081804


@pytest.fixture
def rig(broker, rig_factory):
    guards = dict(LOOSE_GUARDS)
    cfg = controller_config(pulse_ms=300, guards=guards, extra={
        "momentary": [{"pin": 18, "pulse_ms": 300, "otp": [SECRET]}, {"pin": 19, "pulse_ms": 300}],
    })
    return rig_factory(broker, config=cfg)


def wait_error_containing(rig, text, mark, timeout=5):
    return rig.phone.wait_device(lambda j: is_error(j) and text in error_text(j), timeout, mark,
                                 what=f"error containing {text!r}")


def test_press_needs_a_code_and_a_code_works_once(rig):
    mark_b, mark_p = rig.board.events.mark(), rig.phone.mark()
    rig.phone.send({"GP18": 1})
    wait_error_containing(rig, "needs a one-time code", mark_p)
    assert rig.board.outputs(18, mark_b) == []

    code = totp(SECRET)
    mark_p = rig.phone.mark()
    rig.phone.send({"MFA": code, "GP18": 1})
    rig.board.wait_output(18, True, 5, mark_b)
    rig.board.wait_output(18, False, 5, mark_b)
    rig.phone.wait_state(18, 0, 5, mark_p)

    # The same code again, well after the pulse and the cooldown: a replay.
    time.sleep(1.2)  # past the error rate limit of the first error
    mark_b, mark_p = rig.board.events.mark(), rig.phone.mark()
    rig.phone.send({"MFA": code, "GP18": 1})
    wait_error_containing(rig, "already used", mark_p)
    time.sleep(0.5)
    assert rig.board.outputs(18, mark_b) == [], "a replayed code must not pulse the relay"

    # Relays without secrets need no code.
    mark_b = rig.board.events.mark()
    rig.phone.send({"GP19": 1})
    rig.board.wait_output(19, True, 5, mark_b)


def test_wrong_codes_are_refused_and_counted(rig):
    mark_b, mark_p = rig.board.events.mark(), rig.phone.mark()
    wrong = (totp(SECRET) + 500000) % 1000000
    rig.phone.send({"MFA": wrong, "GP18": 1})
    wait_error_containing(rig, "wrong one-time code", mark_p)
    time.sleep(0.3)
    assert rig.board.outputs(18, mark_b) == []
    assert counter(rig.sim.stats(), "otp_failures", "OTP_FAILURES") >= 1


def test_code_just_before_the_command(rig):
    mark_b, mark_p = rig.board.events.mark(), rig.phone.mark()
    rig.phone.send({"MFA": f"{totp(SECRET):06d}"})
    rig.phone.wait_device(lambda j: j.get("MFA") == "accepted", 5, mark_p, what="MFA accepted")
    rig.phone.send({"GP18": 1})
    rig.board.wait_output(18, True, 5, mark_b)
    # The grant served one command.
    time.sleep(1.2)
    mark_b, mark_p = rig.board.events.mark(), rig.phone.mark()
    rig.phone.send({"GP18": 1})
    wait_error_containing(rig, "needs a one-time code", mark_p)
    assert rig.board.outputs(18, mark_b) == []
