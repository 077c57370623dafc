"""Hostile and broken requests through MQTT: each gets one clear error on the
topic, nothing changes on the board, the sim keeps running; error reports are
rate-limited."""
import time

import pytest

from sim_harness import (SLOW, counter, error_text, is_error, is_full_state,
                         rig_factory)  # noqa: F401 (fixture)

BAD_REQUESTS = [
    ("invalid JSON", b'{"GP16":'),
    ("not JSON at all", b"switch GP16 on"),
    ("empty payload", b""),
    ("array, not object", b"[1,2]"),
    ("bare number", b"1"),
    ("unknown pin", b'{"GP5":1}'),
    ("pin the board does not have", b'{"GP99":1}'),
    ("pin number that wraps 32 bits to 16", b'{"GP4294967312":1}'),
    ("negative pin", b'{"GP-16":1}'),
    ("contact addressed as relay", b'{"GP1":1}'),
    ("string value", b'{"GP16":"on"}'),
    ("value 2", b'{"GP16":2}'),
    ("value -1", b'{"GP16":-1}'),
    ("fractional value", b'{"GP16":0.5}'),
    ("null value", b'{"GP16":null}'),
    ("array value", b'{"GP16":[1]}'),
    ("object value", b'{"GP16":{"on":1}}'),
    ("number out of range", b'{"GP16":1e999}'),
    ("huge integer", b'{"GP16":100000000000000000000001}'),
    ("unknown command", b'{"CMD":"reboot"}'),
    ("command of wrong type", b'{"CMD":5}'),
    ("valid key then invalid key", b'{"GP16":1,"GP99":1}'),
    ("valid key then bad value", b'{"GP17":1,"GP16":"x"}'),
    ("non-UTF-8 key", b'{"GP\xff":1}'),
    ("non-UTF-8 in a string", b'{"GP16":1,"x":"\xc3\x28"}'),
    ("deeply nested, fits the message limit", b'{"a":' * 60 + b"1" + b"}" * 60),
    ("deeply nested arrays", b'{"GP16":' + b"[" * 200 + b"]" * 200 + b"}"),
    ("deeply nested, 12 KB", b'{"a":' * 2000 + b"1" + b"}" * 2000),
    ("64 KB payload", b'{"GP16":1,"pad":"' + b"A" * 65536 + b'"}'),
    ("NUL byte inside", b'{"GP16":1}\x00{"GP17":1}'),
    ("trailing garbage", b'{"GP16":1} x'),
    ("duplicate key", b'{"GP16":1,"GP16":0}'),
]


@pytest.mark.parametrize("payload", [p for _, p in BAD_REQUESTS], ids=[n for n, _ in BAD_REQUESTS])
def test_bad_request_gets_one_clear_error_and_changes_nothing(broker, rig_factory, payload):
    rig = rig_factory(broker)
    rig.phone.wait_device(is_full_state, 5)
    before = rig.board.pins()
    mark_b, mark_p = rig.board.events.mark(), rig.phone.mark()
    rig.phone.send(payload)
    err = rig.phone.wait_error(5, mark_p)
    assert len(error_text(err)) >= 8, f"error text should say what is wrong: {err}"
    assert rig.board.pins() == before
    # Requests are handled in order: once the next one has taken effect,
    # anything the bad one did would show.
    rig.phone.send({"GP17": 1})
    out = rig.board.wait_output(17, True, 3, mark_b)
    assert rig.board.outputs(None, mark_b) == [out], "the bad request changed an output"
    rig.phone.wait_state(17, 1, 3, mark_p)
    device = rig.phone.device_msgs(mark_p)
    assert len(device) == 2, f"one error, then the GP17 state: {device}"
    assert rig.sim.alive()


def test_error_reports_are_rate_limited(broker, rig_factory):
    rig = rig_factory(broker)
    rig.phone.wait_device(is_full_state, 5)
    mark_p = rig.phone.mark()
    t0 = time.monotonic()
    for i in range(50):
        rig.phone.send(b'{"GP99":1}', qos=1, wait=(i == 49))
    elapsed = time.monotonic() - t0
    time.sleep(1.5)
    errors = [j for j in rig.phone.device_msgs(mark_p) if is_error(j)]
    # one per second, plus a summary of the suppressed ones
    assert 1 <= len(errors) <= 2 + int(elapsed + 1.5), errors
    stats = rig.board.stats()
    assert counter(stats, "errors") == 50
    assert counter(stats, "errors_suppressed") >= 50 - len(errors)


def test_garbage_burst_leaves_state_and_process_intact(broker, rig_factory):
    import random
    rng = random.Random(1234)
    rig = rig_factory(broker)
    rig.phone.wait_device(is_full_state, 5)
    before = rig.board.pins()
    mark_b = rig.board.events.mark()
    for i in range(300):
        n = rng.randrange(0, 300)
        blob = bytes(rng.randrange(0, 256) for _ in range(n))
        # a third of them look almost like commands
        if i % 3 == 0:
            blob = b'{"GP' + blob[:8] + b'":' + blob[8:16] + b"}"
        rig.phone.send(blob, qos=1, wait=(i == 299))
    time.sleep(0.5 * SLOW)
    assert rig.sim.alive()
    assert rig.board.outputs(None, mark_b) == []
    assert rig.board.pins() == before
    mark_p = rig.phone.mark()
    rig.phone.send({"CMD": "refresh"})
    rig.phone.wait_device(is_full_state, 5, mark_p)
