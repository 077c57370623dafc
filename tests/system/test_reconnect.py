"""Right after a connect and after a broker comes back (issue 12): live presses
are carried out, the backlog is told apart by evidence (session-present and
the device's own echo), refused or unanswered subscriptions are never a silent
"connected", and a busy board client does not starve the loop."""
import socket
import struct
import threading
import time

import fakebroker as fb
from sim_harness import (LOOSE_GUARDS, SLOW, Board, Sim, controller_config, counter, is_error,
                         is_full_state, rig_factory, unique)  # noqa: F401 (fixture)


def press_config(pulse_ms=500):
    return controller_config(guards=LOOSE_GUARDS, pulse_ms=pulse_ms)


def test_live_press_right_after_the_first_connect(broker, rig_factory):
    """A clean session holds no backlog: a press 0.2 s after the device came
    up is live (it used to be refused for the whole backlog window)."""
    rig = rig_factory(broker, settle=False, config=press_config())
    rig.phone.wait_device(is_full_state, 5)
    mark_b, mark_p = rig.board.events.mark(), rig.phone.mark()
    time.sleep(0.2)
    rig.phone.send({"GP18": 1})
    rig.board.wait_output(18, True, 3, mark_b)
    assert not [m for m in rig.phone.device_msgs(mark_p) if is_error(m)]
    assert counter(rig.board.stats(), "stale_refused") == 0


def test_live_press_after_a_broker_restart_that_lost_the_session(broker, rig_factory):
    rig = rig_factory(broker, config=press_config())
    rig.reconnect_once()                    # persistent from here on
    rig.phone.close()
    mark_b = rig.board.events.mark()
    broker.kill()                           # no persistence: the session is gone
    rig.board.wait_mqtt("disconnected", 5, mark_b)
    broker.start()
    rig.board.wait_mqtt("connected", 5, mark_b)
    rig.phone = type(rig.phone)(broker.port, rig.topic)
    rig.phone.send({"GP18": 1})
    rig.board.wait_output(18, True, 3, mark_b)
    assert counter(rig.board.stats(), "stale_refused") == 0


def test_backlog_ends_when_the_device_hears_its_own_echo(broker, rig_factory):
    """A resumed session: the press queued while away is refused, a press sent
    0.3 s after the reconnect (after the echo, well inside the cap) is live."""
    rig = rig_factory(broker, config=controller_config(guards=dict(LOOSE_GUARDS, backlog_window_ms=10000),
                                                       pulse_ms=300))
    rig.reconnect_once()
    mark = rig.board.events.mark()
    rig.sim.wifi(False)
    rig.board.wait_mqtt("disconnected", 3, mark)
    mark_b, mark_p = rig.board.events.mark(), rig.phone.mark()
    rig.phone.send({"GP18": 1})             # queued for the session: stale on arrival
    time.sleep(0.2)
    rig.sim.wifi(True)
    rig.board.wait_mqtt("connected", 5, mark_b)
    err = rig.phone.wait_error(5, mark_p)
    assert "GP18 press refused" in err["ERROR"], err
    time.sleep(0.3)
    rig.phone.send({"GP18": 1})
    rig.board.wait_output(18, True, 3, mark_b)
    stats = rig.board.stats()
    assert counter(stats, "stale_refused") == 1
    assert counter(stats, "backlog_ended_by_echo") >= 1


def subscribe_id(body):
    return struct.unpack_from("!H", body)[0]


def test_refused_subscription_is_reported_and_retried(make_fake_broker, tmp_path):
    """SUBACK 0x80: the device publishes its state and the error, and asks
    again about a second later on the same connection."""
    seen = {"subscribes": [], "publishes": []}

    def handler(conn):
        info = conn.read_connect()
        conn.send(fb.connack())
        if info["clean"]:
            conn.serve(timeout=5)           # clean-first: DISCONNECT, then persistent
            return
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            ptype, flags, body = conn.read_packet(deadline - time.monotonic())
            if ptype == fb.SUBSCRIBE:
                seen["subscribes"].append(time.monotonic())
                conn.send(fb.suback(subscribe_id(body), 0x80 if len(seen["subscribes"]) < 3 else 1))
            elif ptype == fb.PUBLISH:
                n = struct.unpack_from("!H", body)[0]
                seen["publishes"].append(body[2 + n + 2:].decode())
                conn.send(fb.puback(struct.unpack_from("!H", body, 2 + n)[0]))
            elif ptype == fb.PINGREQ:
                conn.send(fb.pingresp())
            if len(seen["subscribes"]) >= 3 and len(seen["publishes"]) >= 2:
                conn.serve(timeout=5)
                return

    fake = make_fake_broker(handler)
    sim = Sim(tmp_path / "sim", fake.url, unique("mtc/sub"), backoff_first_ms=None, backoff_max_ms=None)
    sim.start(wait_connected=False)
    try:
        deadline = time.monotonic() + 15 * SLOW
        while len(seen["subscribes"]) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(seen["subscribes"]) == 3, seen
        gaps = [b - a for a, b in zip(seen["subscribes"], seen["subscribes"][1:])]
        # the client's defaults: 0.5-1 s, then doubling (1-2 s)
        assert 0.45 <= gaps[0] <= 1.3 * SLOW and 0.95 <= gaps[1] <= 2.3 * SLOW, gaps
        assert any('"GP16":0' in p for p in seen["publishes"]), seen["publishes"]
        assert any("refused the subscription" in p for p in seen["publishes"]), seen["publishes"]
        stats = sim.stats()
        assert stats["mqtt_subscribe_refusals"] == 2
        assert stats["subscribe_refusals"] == 2
        assert stats["mqtt_connected"] is True
    finally:
        sim.stop()
        assert not fake.errors, fake.errors


def test_broker_that_never_sends_suback_is_left(make_fake_broker, tmp_path):
    """No SUBACK within the connect timeout (10 s): the device leaves and
    connects again instead of staying "connected" for ever."""
    def handler(conn):
        info = conn.read_connect()
        conn.send(fb.connack())
        if info["clean"] or conn.index > 2:
            conn.serve(timeout=30)
            return
        while True:                          # swallow everything, answer nothing
            conn.read_packet(30)

    fake = make_fake_broker(handler)
    sim = Sim(tmp_path / "sim", fake.url, unique("mtc/nosub"))
    sim.start(wait_connected=False)
    try:
        deadline = time.monotonic() + 25 * SLOW
        while len(fake.connections) < 3 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert len(fake.connections) >= 3, fake.failure_log()
        gap = fake.accept_times[2] - fake.accept_times[1]
        assert 9.5 <= gap <= 12 * SLOW, gap
        sim.wait_connected(15 * SLOW)
    finally:
        sim.stop()
        assert not fake.errors, fake.errors


def test_board_client_writing_without_pause_does_not_starve_the_loop(broker, rig_factory, tmp_path):
    """Board clients write one endless line at kernel speed (sendfile; the sim
    discards it as too long): a 500 ms pulse still ends on time and an MQTT
    command is carried out at once. Times are the sim's own log stamps."""
    rig = rig_factory(broker, config=press_config(500))
    blob = tmp_path / "blob"
    blob.write_bytes(b"x" * (16 << 20))
    stop = threading.Event()
    socks = [socket.create_connection(rig.sim.board_addr, timeout=5) for _ in range(2)]

    def flood(sock):
        with open(blob, "rb") as f:
            while not stop.is_set():
                try:
                    f.seek(0)
                    sock.sendfile(f)
                except OSError:
                    return

    threads = [threading.Thread(target=flood, args=(s,), daemon=True) for s in socks]
    for t in threads:
        t.start()
    try:
        time.sleep(0.5)
        mark_b = rig.board.events.mark()
        rig.phone.send({"GP18": 1}, wait=False)
        rig.board.wait_output(18, True, 15, mark_b)
        rig.board.wait_output(18, False, 15, mark_b)
    finally:
        stop.set()
        for s in socks:
            s.close()
        for t in threads:
            t.join(5)
    log = rig.sim.log_paths[-1].read_text()
    stamps = [int(line.split("]")[0].strip("[ ")) for line in log.splitlines()
              if "GP18 -> on" in line or "GP18 -> off" in line]
    on_ms, off_ms = stamps[-2], stamps[-1]
    assert off_ms - on_ms < 700 * SLOW, (on_ms, off_ms)
