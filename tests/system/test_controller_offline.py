"""Commands sent while the device is offline, restarts of the sim, and the
stale-command policy for momentary relays (issue #5.3)."""
import time

import pytest

from sim_harness import (ALL_PINS, LOOSE_GUARDS, SLOW, controller_config, counter, gp, is_error,
                         is_full_state, rig_factory)  # noqa: F401 (fixture)


def go_offline(rig):
    mark = rig.board.events.mark()
    rig.sim.wifi(False)
    rig.board.wait_mqtt("disconnected", 3, mark)


def come_back(rig):
    mark = rig.board.events.mark()
    t0 = time.monotonic()
    rig.sim.wifi(True)
    rig.board.wait_mqtt("connected", 5, mark)
    return time.monotonic() - t0


@pytest.mark.parametrize("outage", ["first_after_boot", "later"])
def test_relay_command_sent_while_offline_is_applied_after_reconnect(broker, rig_factory, outage):
    rig = rig_factory(broker)
    rig.phone.wait_device(is_full_state, 5)
    if outage == "later":
        rig.reconnect_once()
    go_offline(rig)
    mark_b, mark_p = rig.board.events.mark(), rig.phone.mark()
    rig.phone.send({"GP16": 1})       # broker queues it for the persistent session
    rig.phone.send({"GP17": 1})
    rig.phone.send({"GP17": 0})       # the last value wins
    time.sleep(0.5)
    assert rig.board.outputs(None, mark_b) == [], "nothing may arrive while WiFi is down"
    come_back(rig)
    rig.board.wait_output(16, True, 5, mark_b)
    rig.phone.wait_state(16, 1, 5, mark_p)
    time.sleep(0.5 * SLOW)
    pins = rig.board.pins()
    assert pins[16]["on"] is True and pins[17]["on"] is False


def test_contact_change_while_offline_is_published_after_reconnect(broker, rig_factory):
    """First outage after boot: the device's own pending state goes out."""
    rig = rig_factory(broker)
    rig.phone.wait_device(is_full_state, 5)
    go_offline(rig)
    mark_p = rig.phone.mark()
    rig.board.contact(3, closed=True)
    time.sleep(0.5)
    assert rig.phone.device_msgs(mark_p) == []
    come_back(rig)
    rig.phone.wait_state(3, 1, 5, mark_p)
    assert counter(rig.board.stats(), "outages") == 1


def test_press_sent_while_offline_is_refused_after_reconnect(broker, rig_factory):
    rig = rig_factory(broker, config=controller_config(guards=dict(LOOSE_GUARDS, backlog_window_ms=1000)))
    rig.phone.wait_device(is_full_state, 5)
    rig.reconnect_once()
    go_offline(rig)
    mark_b, mark_p = rig.board.events.mark(), rig.phone.mark()
    rig.phone.send({"GP18": 1})      # a garage-door press, hours old when it arrives
    rig.phone.send({"GP16": 1})      # a plain relay: last value wins, applies
    time.sleep(0.3)
    come_back(rig)
    rig.board.wait_output(16, True, 5, mark_b)
    err = rig.phone.wait_error(5, mark_p)
    assert "GP18" in err["ERROR"], err
    time.sleep(0.5 * SLOW)
    assert rig.board.outputs(18, mark_b) == [], "a stale press must not pulse the door"
    assert counter(rig.board.stats(), "stale_refused") == 1
    # A press sent now (live) works.
    time.sleep(rig.backlog_window_s())
    rig.phone.send({"GP18": 1})
    rig.board.wait_output(18, True, 5, mark_b)


def test_press_sent_while_offline_happens_with_allow_backlog(broker, rig_factory):
    cfg = controller_config(guards=LOOSE_GUARDS, pulse_ms=300)
    for m in cfg["momentary"]:
        m["allow_backlog"] = True
    rig = rig_factory(broker, config=cfg)
    rig.phone.wait_device(is_full_state, 5)
    rig.reconnect_once()
    go_offline(rig)
    mark_b = rig.board.events.mark()
    rig.phone.send({"GP18": 1})
    come_back(rig)
    rig.board.wait_output(18, True, 5, mark_b)
    rig.board.wait_output(18, False, 5, mark_b)
    time.sleep(0.5 * SLOW)
    assert len(rig.board.outputs(18, mark_b)) == 2, "exactly one pulse"


def test_full_state_after_sim_restart(broker, rig_factory):
    rig = rig_factory(broker)
    rig.phone.wait_device(is_full_state, 5)
    rig.phone.send({"GP16": 1})
    rig.board.contact(0, closed=True)
    rig.phone.wait_state(16, 1, 5)
    rig.phone.wait_state(0, 1, 5)
    # power cut: no clean shutdown
    rig.sim.kill()
    mark_p = rig.phone.mark()
    rig.sim.start()
    full = rig.phone.wait_device(is_full_state, 5, mark_p, what="full state after restart")
    # relays come back off (safe state at boot); the board's contacts start open
    assert {gp(p): full[gp(p)] for p in ALL_PINS} == {gp(p): 0 for p in ALL_PINS}


def test_full_state_republished_after_broker_restart(broker, rig_factory):
    rig = rig_factory(broker)
    rig.phone.wait_device(is_full_state, 5)
    rig.phone.send({"GP17": 1})
    rig.phone.wait_state(17, 1, 5)
    rig.phone.close()
    mark_b = rig.board.events.mark()
    broker.kill()
    rig.board.wait_mqtt("disconnected", 5, mark_b)
    broker.start()
    rig.phone = type(rig.phone)(broker.port, rig.topic)
    rig.board.wait_mqtt("connected", 5, mark_b)
    full = rig.phone.wait_device(is_full_state, 5, what="republished full state")
    assert full["GP17"] == 1
    assert counter(rig.board.stats(), "outages") >= 1


def test_requests_are_ignored_while_not_errors_for_own_publications(broker, rig_factory):
    """The device hears its own publications on the shared topic; they must
    never be treated as requests or answered with errors."""
    rig = rig_factory(broker)
    rig.phone.wait_device(is_full_state, 5)
    mark_p = rig.phone.mark()
    for i in range(5):
        rig.phone.send({"CMD": "refresh"})
    time.sleep(0.5 * SLOW)
    assert not any(is_error(j) for j in rig.phone.device_msgs(mark_p))
    stats = rig.board.stats()
    assert counter(stats, "echoes_ignored") >= 5
