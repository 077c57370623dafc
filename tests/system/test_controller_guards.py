"""The safeguards, driven through MQTT against the real sim: per-relay cooldown,
toggle limit per window, lock after repeated violations, publish halt.

Guard limits are shortened in a per-test config (the semantics are the
original's; only the numbers are smaller so that the suite stays quick).
"""
import time

from sim_harness import (LOOSE_GUARDS, SLOW, controller_config, counter, is_full_state,
                         rig_factory)  # noqa: F401 (fixture)


def guards(**kw):
    g = dict(LOOSE_GUARDS)
    g.update(kw)
    return g


def started(broker, rig_factory, **guard_kw):
    rig = rig_factory(broker, config=controller_config(guards=guards(**guard_kw)))
    rig.phone.wait_device(is_full_state, 5)
    rig.settle()
    return rig


def published_since(rig, mark):
    return [e["payload"] for e in rig.board.events.items(mark, lambda e: e.get("ev") == "published")]


def test_hammering_one_relay_inside_the_cooldown(broker, rig_factory):
    rig = started(broker, rig_factory, cooldown_ms=1500)
    mark_b, mark_p = rig.board.events.mark(), rig.phone.mark()
    rig.phone.send({"GP16": 1})
    rig.board.wait_output(16, True, 5, mark_b)
    for v in (0, 1, 0, 1, 0):
        rig.phone.send({"GP16": v})
    # The skipped requests leave the relay on, and clients are told so.
    time.sleep(0.3 * SLOW)
    assert len(rig.board.outputs(16, mark_b)) == 1
    assert rig.board.pins()[16]["on"] is True
    last = [j for j in rig.phone.device_msgs(mark_p) if "GP16" in j][-1]
    assert last["GP16"] == 1, "a client that asked for 0 must see the real state 1"
    assert counter(rig.board.stats(), "cooldown_skips") >= 1
    # Other relays have their own cooldown.
    rig.phone.send({"GP17": 1})
    rig.board.wait_output(17, True, 3, mark_b)
    # After the cooldown the relay answers again.
    time.sleep(1.5)
    mark_b = rig.board.events.mark()
    rig.phone.send({"GP16": 0})
    rig.board.wait_output(16, False, 3, mark_b)


def test_toggling_past_the_limit_counts_every_refused_change(broker, rig_factory):
    rig = started(broker, rig_factory, toggle_max=3, toggle_window_ms=2500, violation_max=10)
    mark_b, mark_p = rig.board.events.mark(), rig.phone.mark()
    t0 = time.monotonic()
    for i in range(10):
        rig.phone.send({"GP16": (i + 1) % 2})
    time.sleep(0.5 * SLOW)
    assert len(rig.board.outputs(16, mark_b)) == 3, rig.board.outputs(16, mark_b)
    stats = rig.board.stats()
    # the 7 later requests alternate; the 4 asking for a change are skipped,
    # each one a violation (the original's rule); the 3 asking for the state
    # the relay already has change nothing
    assert counter(stats, "violations") == 4, "one violation per refused change"
    assert counter(stats, "toggle_skips") == 4, stats
    notices = [j for j in rig.phone.device_msgs(mark_p) if j.get("GUARD") == "toggle"]
    assert len(notices) == 4, rig.phone.device_msgs(mark_p)
    assert "(violation 4, lock after 10)" in notices[-1]["ERROR"], notices
    assert notices[0].get("PIN") == 16 and "GP16" in notices[0]["ERROR"], notices
    # The window ends: the relay resumes by itself.
    time.sleep(max(0.0, 2.7 - (time.monotonic() - t0)))
    mark_b = rig.board.events.mark()
    state = rig.board.pins()[16]["on"]
    rig.phone.send({"GP16": 0 if state else 1})
    rig.board.wait_output(16, not state, 3, mark_b)


def test_repeated_violations_lock_the_relay_until_reset(broker, rig_factory):
    # more than 2 violations -> locked
    rig = started(broker, rig_factory, toggle_max=2, toggle_window_ms=1000, violation_max=2)
    mark_p = rig.phone.mark()
    value = 1
    for _ in range(3):
        for _ in range(4):
            rig.phone.send({"GP16": value})
            value ^= 1
        time.sleep(1.15)
    stats = rig.board.stats()
    assert counter(stats, "violations") == 3, stats
    mark_b = rig.board.events.mark()
    state = rig.board.pins()[16]["on"]
    for _ in range(3):
        rig.phone.send({"GP16": 0 if state else 1})
    time.sleep(0.4 * SLOW)
    assert rig.board.outputs(16, mark_b) == [], "a locked relay must not move"
    assert counter(rig.board.stats(), "locked_skips") >= 1
    locks = [j for j in rig.phone.device_msgs(mark_p) if j.get("GUARD") == "lock"]
    assert len(locks) == 1, rig.phone.device_msgs(mark_p)
    # The other relay is not affected.
    rig.phone.send({"GP17": 1})
    rig.board.wait_output(17, True, 3, mark_b)
    # Reset (restart) releases the lock.
    rig.sim.stop()
    rig.sim.start()
    rig.settle()
    mark_b = rig.board.events.mark()
    rig.phone.send({"GP16": 1})
    rig.board.wait_output(16, True, 3, mark_b)


def test_publish_halt_stops_all_publishing_until_reset(broker, rig_factory):
    rig = started(broker, rig_factory, publish_max=5, publish_window_ms=3000)
    mark_b = rig.board.events.mark()
    for _ in range(12):
        rig.phone.send({"CMD": "refresh"})
    time.sleep(0.5 * SLOW)
    sent = published_since(rig, mark_b)
    # the first full state counts too; at most publish_max in the window plus one halt notice
    assert len(sent) <= 6, sent
    halts = [p for p in sent if '"GUARD":"publish"' in p.replace(" ", "")]
    assert len(halts) == 1, sent
    assert counter(rig.board.stats(), "publish_halts") == 1
    # Still halted after the window: nothing goes out, relays still switch.
    time.sleep(3.2)
    mark_b = rig.board.events.mark()
    rig.phone.send({"GP17": 1})
    rig.board.wait_output(17, True, 3, mark_b)
    rig.phone.send({"CMD": "refresh"})
    time.sleep(0.5 * SLOW)
    assert published_since(rig, mark_b) == []
    # A reset publishes again.
    rig.sim.stop()
    mark_p = rig.phone.mark()
    rig.sim.start()
    rig.phone.wait_device(is_full_state, 5, mark_p)


def test_guards_count_in_stats(broker, rig_factory):
    rig = started(broker, rig_factory, cooldown_ms=5000)
    rig.phone.send({"GP16": 1})
    rig.phone.send({"GP16": 0})
    rig.phone.send({"GP16": 0})
    rig.phone.send({"GP16": 1})      # already on: not a change, not a skip
    time.sleep(0.3 * SLOW)
    stats = rig.board.stats()
    assert counter(stats, "relay_changes") == 1
    assert counter(stats, "cooldown_skips") == 2


def test_toggle_abuse_locks_after_the_limit_and_reset_is_off_by_default(broker, rig_factory):
    """The original's abuse scenario at a tenth of its time scale: a toggle
    every 0.3 s against 5 changes per 6 s and a lock after more than 3
    violations. 5 changes click the relay, the next 4 requests are refused,
    the 4th locks it 2.4 s after the first change; nothing clicks after
    that, and {"CMD":"reset"} is refused while guards.remote_reset is off."""
    rig = started(broker, rig_factory, toggle_max=5, toggle_window_ms=6000, violation_max=3)
    mark_b, mark_p = rig.board.events.mark(), rig.phone.mark()
    t0 = time.monotonic()
    value = 1
    while time.monotonic() - t0 < 4.5:
        rig.phone.send({"GP16": value})
        value ^= 1
        time.sleep(0.3)
    time.sleep(0.3 * SLOW)
    assert len(rig.board.outputs(16, mark_b)) == 5, rig.board.outputs(16, mark_b)
    stats = rig.board.stats()
    assert counter(stats, "violations") == 4, stats
    locks = [j for j in rig.phone.device_msgs(mark_p) if j.get("GUARD") == "lock"]
    assert len(locks) == 1 and "restart the device to unlock" in locks[0]["ERROR"], locks
    mark_p = rig.phone.mark()
    rig.phone.send({"CMD": "reset"})
    err = rig.phone.wait_device(lambda j: "ERROR" in j, 3, mark_p, what="reset refusal")
    assert "reset is off on this device (guards.remote_reset)" in err["ERROR"], err
    rig.phone.send({"GP16": value})
    time.sleep(0.3 * SLOW)
    assert len(rig.board.outputs(16, mark_b)) == 5, "still locked"


def test_reset_command_unlocks_relay_and_resumes_publishing(broker, rig_factory):
    rig = started(broker, rig_factory, toggle_max=1, toggle_window_ms=1000, violation_max=1,
                  publish_max=100, publish_window_ms=1000, remote_reset=True)
    value = 1
    for _ in range(2):
        for _ in range(3):
            rig.phone.send({"GP16": value})
            value ^= 1
        time.sleep(1.1)
    mark_b, mark_p = rig.board.events.mark(), rig.phone.mark()
    state = rig.board.pins()[16]["on"]
    rig.phone.send({"GP16": 0 if state else 1})
    time.sleep(0.3 * SLOW)
    assert rig.board.outputs(16, mark_b) == [], "locked"
    rig.phone.send({"CMD": "reset"})
    rig.phone.wait_device(lambda j: "RESET" in j, 3, mark_p, what="reset answer")
    rig.phone.send({"GP16": 0 if state else 1})
    rig.board.wait_output(16, not state, 3, mark_b)
