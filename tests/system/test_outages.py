"""The original README's three outage cases, automated (issue #5.1), plus
duplicate-delivery safety for momentary relays (#5.2).

Each campaign puts QoS1 messages in flight at the moment of failure (a
command from the phone on its way to the device, and a contact change the
device is publishing), then checks: the sim never hangs (its board answers
throughout), the loss is detected, the connection is back within a stated
bound after the link returns, commands sent during the outage are applied,
the state that changed is republished, and the outage is counted.

Bounds (with --backoff-max-ms 1000, the sim's reconnect cap in these tests):
  half-open detection   <= 1.5 x keepalive (keepalive 2 s -> 3 s) + 0.5 s
  reconnect after link  <= RECOVERY_BOUND_S
Case 3 ("WiFi gone for minutes") is run with a 20 s outage to keep the
suite short; nothing in the sim depends on the length once the link is down
(no connection is attempted while WiFi is down).
"""
import time

import pytest

from sim_harness import LOOSE_GUARDS, SLOW, controller_config, counter, rig_factory  # noqa: F401

KEEPALIVE_S = 2
BACKOFF_MAX_MS = 1000
RECOVERY_BOUND_S = 2.0
LONG_OUTAGE_S = 20


def outage_rig(broker, rig_factory, proxy, config=None):
    """A sim behind the proxy that has been through one WiFi blip already:
    its session is persistent from then on (what happens to commands in the
    first outage after boot is tested in test_controller_offline.py)."""
    rig = rig_factory(broker, via=proxy, keepalive=KEEPALIVE_S, backoff_first_ms=100,
                      backoff_max_ms=BACKOFF_MAX_MS,
                      config=config or controller_config(guards=LOOSE_GUARDS))
    rig.reconnect_once()
    return rig


def board_alive_during(rig, seconds):
    """Polls the board while the link is down: the sim must keep answering."""
    end = time.monotonic() + seconds
    polls = 0
    while time.monotonic() < end:
        t0 = time.monotonic()
        rig.board.pins()
        assert time.monotonic() - t0 < 1.0 * SLOW, "board reply took over a second: loop blocked"
        polls += 1
        time.sleep(0.25)
    return polls


def put_messages_in_flight(rig):
    """A command towards the device and a publication from it, both QoS1,
    at the moment of failure."""
    rig.phone.send({"GP16": 1}, wait=False)
    rig.board.contact(0, closed=True)


def check_after_recovery(rig, mark_b, mark_p):
    # the command in flight at the failure and the one sent during the outage
    rig.board.wait_output(16, True, 5, mark_b)
    rig.board.wait_output(17, True, 5, mark_b)
    # the contact change that was being published, and the relays, republished
    rig.phone.wait_state(0, 1, 5, mark_p)
    rig.phone.wait_state(16, 1, 5, mark_p)
    rig.phone.wait_state(17, 1, 5, mark_p)
    pins = rig.board.pins()
    assert pins[16]["on"] and pins[17]["on"] and pins[0]["on"]
    assert counter(rig.board.stats(), "outages") == 2, "the blip before and this outage"


def test_case1_blackhole_half_open_detected_by_keepalive(broker, make_proxy, rig_factory):
    proxy = make_proxy(broker)
    rig = outage_rig(broker, rig_factory, proxy)
    mark_b, mark_p = rig.board.events.mark(), rig.phone.mark()

    proxy.set_mode("blackhole")
    t_fail = time.monotonic()
    put_messages_in_flight(rig)
    lost = rig.board.events.wait_timed(
        lambda e: e.get("ev") == "mqtt" and e.get("state") == "disconnected",
        (1.5 * KEEPALIVE_S + 0.5) * SLOW + 0.5, mark_b)
    assert lost is not None, "half-open link not detected within 1.5 x keepalive"
    detected = lost[0] - t_fail
    assert detected <= (1.5 * KEEPALIVE_S + 0.5) * SLOW, detected
    rig.phone.send({"GP17": 1})             # sent during the outage
    board_alive_during(rig, 3)
    assert not rig.board.outputs(None, mark_b)

    # The link comes back. The proxy dropped the bytes of the attempt in
    # progress (TCP would have retransmitted them), so it also resets that
    # connection: the client then retries within its backoff cap.
    mark_up = rig.board.events.mark()
    proxy.set_mode("pass")
    proxy.cut()
    t_up = time.monotonic()
    back = rig.board.events.wait_timed(
        lambda e: e.get("ev") == "mqtt" and e.get("state") == "connected", 10, mark_up)
    assert back is not None, "no reconnect after the link returned"
    assert back[0] - t_up <= RECOVERY_BOUND_S * SLOW, back[0] - t_up
    check_after_recovery(rig, mark_b, mark_p)
    print(f"\nblackhole: detected after {detected:.2f} s, connected {back[0] - t_up:.2f} s after the link returned")


def _wifi_campaign(broker, make_proxy, rig_factory, outage_s):
    proxy = make_proxy(broker)
    rig = outage_rig(broker, rig_factory, proxy)
    mark_b, mark_p = rig.board.events.mark(), rig.phone.mark()
    put_messages_in_flight(rig)
    rig.sim.wifi(False)
    rig.board.wait_mqtt("disconnected", 1 * SLOW, mark_b)
    accepted = proxy.accepted
    rig.phone.send({"GP17": 1})
    board_alive_during(rig, outage_s)
    assert proxy.accepted == accepted, "the sim tried to connect while WiFi was down"
    mark_up = rig.board.events.mark()
    t_up = time.monotonic()
    rig.sim.wifi(True)
    back = rig.board.events.wait_timed(
        lambda e: e.get("ev") == "mqtt" and e.get("state") == "connected", 10, mark_up)
    assert back is not None, "no reconnect after WiFi returned"
    assert back[0] - t_up <= RECOVERY_BOUND_S * SLOW, back[0] - t_up
    check_after_recovery(rig, mark_b, mark_p)
    print(f"\nWiFi down {outage_s} s: connected {back[0] - t_up:.2f} s after WiFi returned")


def test_case2_wifi_dropped_then_back_after_seconds(broker, make_proxy, rig_factory):
    _wifi_campaign(broker, make_proxy, rig_factory, 3)


def test_case3_wifi_gone_for_a_long_time(broker, make_proxy, rig_factory):
    _wifi_campaign(broker, make_proxy, rig_factory, LONG_OUTAGE_S)


def test_broker_killed_and_restarted(broker, rig_factory):
    rig = rig_factory(broker, backoff_first_ms=100, backoff_max_ms=BACKOFF_MAX_MS)
    mark_b = rig.board.events.mark()
    rig.phone.close()
    broker.kill()
    rig.board.wait_mqtt("disconnected", 3, mark_b)
    board_alive_during(rig, 2)
    mark_up = rig.board.events.mark()
    broker.start()
    t_up = time.monotonic()
    back = rig.board.events.wait_timed(
        lambda e: e.get("ev") == "mqtt" and e.get("state") == "connected", 10, mark_up)
    assert back is not None
    assert back[0] - t_up <= RECOVERY_BOUND_S * SLOW
    print(f"\nbroker kill: connected {back[0] - t_up:.2f} s after the broker listened again")
    # the broker lost every session (no persistence): the state is republished
    # and commands work again
    rig.phone = type(rig.phone)(broker.port, rig.topic)
    rig.board.events.wait(lambda e: e.get("ev") == "published", 5, mark_up)
    rig.settle()
    mark_b = rig.board.events.mark()
    rig.phone.send({"GP16": 1})
    rig.board.wait_output(16, True, 5, mark_b)


@pytest.mark.parametrize("allow_backlog", [False, True], ids=["default", "allow_backlog"])
def test_redelivered_press_pulses_only_once(broker, make_proxy, rig_factory, allow_backlog):
    """Force a QoS1 redelivery: the PUBACK for a press never reaches the broker
    (the proxy drops device -> broker bytes), the connection is then cut, and
    the broker sends the press again with DUP on the persistent session."""
    proxy = make_proxy(broker)
    cfg = controller_config(guards=LOOSE_GUARDS, pulse_ms=300)
    for m in cfg["momentary"]:
        m["allow_backlog"] = allow_backlog
    rig = outage_rig(broker, rig_factory, proxy, config=cfg)
    mark_b = rig.board.events.mark()
    proxy.set_mode("blackhole_up")
    rig.phone.send({"GP18": 1})
    rig.board.wait_output(18, True, 3, mark_b)
    rig.board.wait_output(18, False, 3, mark_b)
    before = counter(rig.board.stats(), "messages")
    mark_up = rig.board.events.mark()
    proxy.set_mode("pass")
    proxy.cut()
    rig.board.wait_mqtt("connected", 5, mark_up)
    # the redelivery arrives right after the reconnect
    deadline = time.monotonic() + 3 * SLOW
    while time.monotonic() < deadline:
        stats = rig.board.stats()
        if counter(stats, "duplicates") + counter(stats, "stale_refused") >= 1:
            break
        time.sleep(0.1)
    time.sleep(0.6 * SLOW)          # longer than a pulse: a second pulse would show
    stats = rig.board.stats()
    assert counter(stats, "duplicates") + counter(stats, "stale_refused") >= 1, \
        f"the broker did not redeliver (messages before {before}): {stats}"
    assert len(rig.board.outputs(18, mark_b)) == 2, rig.board.outputs(18, mark_b)
    if allow_backlog:
        assert counter(stats, "duplicates") >= 1, stats
