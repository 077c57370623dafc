"""Contact debounce and momentary pulse timing, measured on the board's own
clock ("t_ms" of the board events)."""
import time

from sim_harness import (LOOSE_GUARDS, SLOW, controller_config, is_full_state,
                         rig_factory)  # noqa: F401 (fixture)

# Pulse tolerance: the sim's loop wakes at the controller's deadline; a
# sanitizer build on a busy 2-core machine gets more slack.
PULSE_TOLERANCE_MS = 60 * SLOW


def test_bounce_shorter_than_debounce_is_not_published(broker, rig_factory):
    rig = rig_factory(broker, config=controller_config(guards=LOOSE_GUARDS, debounce_ms=300))
    rig.phone.wait_device(is_full_state, 5)
    mark_p = rig.phone.mark()
    # a 20 ms bounce, several times, each well under 300 ms
    for _ in range(5):
        rig.board.contact(2, closed=True)
        time.sleep(0.02)
        rig.board.contact(2, closed=False)
        time.sleep(0.05)
    time.sleep(0.6)
    assert [j for j in rig.phone.device_msgs(mark_p) if "GP2" in j] == []
    assert rig.board.pins()[2]["on"] is False
    # a real change is published after the debounce time, not before
    mark_b, mark_p = rig.board.events.mark(), rig.phone.mark()
    rig.board.contact(2, closed=True)
    applied = rig.board.events.wait(lambda e: e.get("ev") == "input" and e.get("pin") == 2, 2, mark_b)
    pub = rig.board.events.wait(lambda e: e.get("ev") == "published" and '"GP2"' in e["payload"], 2, mark_b)
    delay = pub["t_ms"] - applied["t_ms"]
    assert 300 <= delay <= 300 + 100 * SLOW, delay
    rig.phone.wait_state(2, 1, 2, mark_p)


def test_momentary_pulse_length_within_tolerance(broker, rig_factory):
    pulse = 400
    rig = rig_factory(broker, config=controller_config(guards=LOOSE_GUARDS, pulse_ms=pulse))
    rig.phone.wait_device(is_full_state, 5)
    lengths = []
    for _ in range(3):
        mark_b, mark_p = rig.board.events.mark(), rig.phone.mark()
        rig.phone.send({"GP19": 1})
        on = rig.board.wait_output(19, True, 3, mark_b)
        off = rig.board.wait_output(19, False, 3, mark_b)
        assert on["level"] == 0 and off["level"] == 1  # active-low by default
        lengths.append(off["t_ms"] - on["t_ms"])
        rig.phone.wait_state(19, 1, 3, mark_p)
        rig.phone.wait_state(19, 0, 3, mark_p)
        ones = [j for j in rig.phone.device_msgs(mark_p) if j.get("GP19") == 1]
        assert len(ones) == 1
    for n in lengths:
        assert pulse <= n <= pulse + PULSE_TOLERANCE_MS, lengths


def test_momentary_press_while_pulsing_does_not_extend_or_repeat(broker, rig_factory):
    rig = rig_factory(broker, config=controller_config(guards=LOOSE_GUARDS, pulse_ms=500))
    rig.phone.wait_device(is_full_state, 5)
    mark_b = rig.board.events.mark()
    rig.phone.send({"GP18": 1})
    on = rig.board.wait_output(18, True, 3, mark_b)
    rig.phone.send({"GP18": 1})
    off = rig.board.wait_output(18, False, 3, mark_b)
    assert off["t_ms"] - on["t_ms"] <= 500 + PULSE_TOLERANCE_MS
    time.sleep(0.3)
    assert len(rig.board.outputs(18, mark_b)) == 2
