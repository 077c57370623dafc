"""The client against a scripted, hostile "broker" (fakebroker.py): malformed
packets, random bytes, absurd lengths, refusals, a broker that drops every
connection right after CONNACK. The client must close the connection with a
clear reason, reconnect within its backoff bounds and never crash."""

import random
import struct
import time

import pytest

import fakebroker as fb
from fakebroker import connack, packet, publish, puback, suback

FAST = dict(backoff_first_ms=20, backoff_base_ms=40, backoff_max_ms=80, connect_timeout_ms=1500)
BAD = ("MQTT_ERR_PROTOCOL", "MQTT_ERR_MALFORMED")


def hostile_then_normal(hostile_bytes, before_connack=False):
    """Connection 0: CONNECT, (CONNACK,) the hostile bytes, then wait for the
    client to hang up. Later connections: a normal broker that also delivers
    one message on "after/ok"."""
    def handler(conn):
        conn.read_connect()
        if conn.index == 0:
            if not before_connack:
                conn.send(connack())
            conn.send(hostile_bytes)
            conn.serve(timeout=5)
            return
        conn.send(connack())
        conn.send(publish("after/ok", b"recovered", qos=0))
        conn.serve(timeout=30)
    return handler


AFTER_CONNACK = {
    "length_with_five_bytes": b"\x30\xff\xff\xff\xff\x7f",
    "reserved_type_0": b"\x00\x00",
    "reserved_type_15": b"\xf0\x00",
    "second_connack": connack(),
    "publish_qos_3": packet(fb.PUBLISH, 0x06, b"\x00\x01a\x00\x01x"),
    "publish_topic_longer_than_packet": packet(fb.PUBLISH, 0, b"\x00\x10ab"),
    "publish_qos1_without_packet_id": packet(fb.PUBLISH, 0x02, b"\x00\x01a"),
    "publish_qos1_packet_id_0": packet(fb.PUBLISH, 0x02, b"\x00\x01a\x00\x00x"),
    "puback_length_3": packet(fb.PUBACK, 0, b"\x00\x01\x00"),
    "puback_bad_flags": bytes([0x41, 2, 0, 1]),
    "suback_unknown_id": suback(4242, 1),
    "suback_bad_return_code": suback(1, 0x03),
    "pingresp_with_body": b"\xd0\x01\x00",
    "connect_from_server": packet(fb.CONNECT, 0, b"\x00\x04MQTT\x04\x02\x00\x3c\x00\x01x"),
    "subscribe_from_server": packet(fb.SUBSCRIBE, 2, b"\x00\x01\x00\x01a\x01"),
    "pubrel_for_nothing": packet(fb.PUBREL, 2, b"\x00\x09"),
}


@pytest.mark.parametrize("name", sorted(AFTER_CONNACK))
def test_malformed_packet_after_connack(name, make_fake_broker, start_probe):
    fake = make_fake_broker(hostile_then_normal(AFTER_CONNACK[name]))
    probe = start_probe(fake, sub="after/#", sub_qos=1, keepalive=5, **FAST)
    probe.connected()
    lost = probe.wait_for("disconnected", timeout=5)
    assert lost["reason"] in BAD, lost
    probe.connected(count=2, timeout=5)
    probe.message("after/ok", since=lost["_n"])
    stats = probe.stats()
    assert stats["protocol_errors"] >= 1 and stats["connects"] == 2
    assert not fake.errors


def test_stray_puback_is_ignored(make_fake_broker, start_probe):
    """A PUBACK for an id the client never stored (the broker acked a packet
    twice) is counted and ignored: no reconnect."""
    def handler(conn):
        conn.read_connect()
        conn.send(connack())
        conn.send(puback(777))
        conn.send(publish("after/ok", b"still here", qos=0))
        conn.serve(timeout=30)

    fake = make_fake_broker(handler)
    probe = start_probe(fake, sub="after/#", sub_qos=1, keepalive=5, **FAST)
    probe.connected()
    probe.message("after/ok")
    time.sleep(0.3)
    stats = probe.stats()
    assert stats["protocol_errors"] == 0 and stats["connects"] == 1, stats
    assert probe.count("disconnected") == 0
    assert not fake.errors


BEFORE_CONNACK = {
    "publish_instead_of_connack": publish("a", b"x"),
    "connack_length_3": packet(fb.CONNACK, 0, b"\x00\x00\x00"),
    "connack_reserved_flags": packet(fb.CONNACK, 0, b"\x02\x00"),
    "connack_unknown_code": connack(rc=42),
    "connack_session_present_with_refusal": packet(fb.CONNACK, 0, b"\x01\x05"),
    "garbage": b"HTTP/1.1 400 Bad Request\r\n\r\n",
}


@pytest.mark.parametrize("name", sorted(BEFORE_CONNACK))
def test_malformed_reply_to_connect(name, make_fake_broker, start_probe):
    fake = make_fake_broker(hostile_then_normal(BEFORE_CONNACK[name], before_connack=True))
    probe = start_probe(fake, sub="after/#", keepalive=5, **FAST)
    failed = probe.wait_for("connect_failed", timeout=5)
    # Bytes that announce a longer packet leave the client waiting for the
    # rest: then the connect timeout ends the attempt.
    assert failed["reason"] in BAD + ("MQTT_ERR_REFUSED", "MQTT_ERR_TIMEOUT"), failed
    probe.connected(timeout=5)
    probe.message("after/ok")
    assert not fake.errors


def test_random_bytes_from_broker_never_crash(make_fake_broker, start_probe):
    """40 connections that each get a CONNACK (or not) and then random
    bytes, then a normal one: the client survives and connects."""
    rounds = 40

    def handler(conn):
        rng = random.Random(conn.index)
        conn.read_connect()
        if conn.index < rounds:
            if rng.random() < 0.7:
                conn.send(connack())
            conn.send(bytes(rng.randrange(256) for _ in range(rng.randrange(1, 300))))
            time.sleep(0.01)
            return                      # closes the connection
        conn.send(connack())
        conn.send(publish("after/ok", b"recovered"))
        conn.serve(timeout=30)

    fake = make_fake_broker(handler)
    probe = start_probe(fake, sub="after/#", keepalive=5, **FAST)
    probe.message("after/ok", timeout=30)
    assert len(fake.connections) == rounds + 1
    assert probe.alive()


def test_announced_huge_packet_is_skipped(make_fake_broker, start_probe):
    """A PUBLISH bigger than the receive buffer is skipped byte by byte and
    reported; the packets after it still arrive on the same connection."""
    big = publish("after/big", b"B" * 100_000)

    def handler(conn):
        conn.read_connect()
        conn.send(connack())
        for i in range(0, len(big), 7000):
            conn.send(big[i:i + 7000])
        conn.send(publish("after/ok", b"small"))
        conn.serve(timeout=30)

    fake = make_fake_broker(handler)
    probe = start_probe(fake, sub="after/#", rx_buffer=1024, keepalive=5, **FAST)
    dropped = probe.wait_for("dropped")
    assert dropped["len"] >= 100_000
    probe.message("after/ok")
    assert probe.count("disconnected") == 0 and len(fake.connections) == 1


def test_maximum_remaining_length_then_close(make_fake_broker, start_probe):
    def handler(conn):
        conn.read_connect()
        conn.send(connack())
        if conn.index == 0:
            conn.send(b"\x30\xff\xff\xff\x7f" + b"\x00\x05after")
            time.sleep(0.2)
            return
        conn.send(publish("after/ok", b"recovered"))
        conn.serve(timeout=30)

    fake = make_fake_broker(handler)
    probe = start_probe(fake, sub="after/#", rx_buffer=1024, keepalive=5, **FAST)
    probe.wait_for("disconnected")
    probe.message("after/ok")


def test_bytes_one_at_a_time(make_fake_broker, start_probe):
    """CONNACK, SUBACK and a PUBLISH dribbled byte by byte still parse."""
    def handler(conn):
        conn.read_connect()
        ptype = None
        for b in connack():
            conn.send(bytes([b]))
            time.sleep(0.005)
        while ptype != fb.SUBSCRIBE:
            ptype, _, body = conn.read_packet()
        pid = struct.unpack_from("!H", body)[0]
        for b in suback(pid, 1) + publish("after/slow", b"dribbled", qos=1, packet_id=9):
            conn.send(bytes([b]))
            time.sleep(0.005)
        conn.serve(timeout=30)

    fake = make_fake_broker(handler)
    probe = start_probe(fake, sub="after/#", sub_qos=1, keepalive=5, **FAST)
    probe.wait_for("subscribed")
    m = probe.message("after/slow")
    assert m["payload"] == "dribbled" and m["qos"] == 1
    time.sleep(0.2)
    acks = [body for t, _, body in fake.connections[0].received if t == fb.PUBACK]
    assert acks == [b"\x00\x09"]


def test_incoming_qos1_with_dup_is_acked(make_fake_broker, start_probe):
    def handler(conn):
        conn.read_connect()
        conn.send(connack())
        conn.send(publish("after/dup", b"again", qos=1, packet_id=77, dup=True))
        conn.serve(timeout=30)

    fake = make_fake_broker(handler)
    probe = start_probe(fake, sub="after/#", sub_qos=1, keepalive=5, **FAST)
    m = probe.message("after/dup")
    assert m["dup"] is True and m["qos"] == 1
    time.sleep(0.2)
    acks = [body for t, _, body in fake.connections[0].received if t == fb.PUBACK]
    assert acks == [b"\x00\x4d"]


@pytest.mark.parametrize("session", ["persistent", "clean"])
def test_unacked_publish_resent_after_reconnect(session, make_fake_broker, start_probe):
    """Connection 0 swallows a QoS1 PUBLISH and closes. On connection 1 the
    client sends the same packet again: with DUP set when the session is
    persistent (the broker may have seen it), as a new publication when the
    session is clean (the new session never saw it)."""
    persistent = session == "persistent"
    seen = []

    def handler(conn):
        info = conn.read_connect()
        seen.append(info)
        conn.send(connack(session_present=persistent and conn.index > 0))
        if conn.index == 0:
            while True:
                ptype, flags, body = conn.read_packet()
                if ptype == fb.PUBLISH:
                    seen.append((flags, body))
                    return              # close without PUBACK
        conn.serve(timeout=30, on_publish=lambda c, flags, body: seen.append((flags, body)))

    fake = make_fake_broker(handler)
    probe = start_probe(fake, id="dev-resend", session=session, keepalive=5, **FAST)
    probe.connected()
    e = probe.publish(1, "after/up", "keep me")
    probe.wait_for("acked", lambda a: a["id"] == e["id"], timeout=5)
    first, second = [s for s in seen if isinstance(s, tuple)][:2]
    assert first[0] & 0x08 == 0 and first[0] & 0x06 == 2, first
    assert bool(second[0] & 0x08) == persistent, (first, second)
    assert second[1] == first[1], "same topic, packet id and payload"
    connects = [s for s in seen if isinstance(s, dict)]
    assert [c["clean"] for c in connects[:2]] == [not persistent] * 2
    assert connects[0]["client_id"] == "dev-resend"
    assert probe.stats()["inflight"] == 0


def test_no_connack_times_out(make_fake_broker, start_probe):
    def handler(conn):
        conn.read_connect()
        time.sleep(3)

    fake = make_fake_broker(handler)
    probe = start_probe(fake, backoff_first_ms=20, backoff_base_ms=40, backoff_max_ms=80,
                        connect_timeout_ms=500)
    f = probe.wait_for("connect_failed", timeout=3)
    assert f["reason"] == "MQTT_ERR_TIMEOUT"
    attempt = probe.find("attempt")[0]
    assert 450 <= f["t_ms"] - attempt["t_ms"] <= 500 + 500, (attempt, f)


def backoff_bound(period_ms, first, base, cap, jitter):
    """Most attempts a client may make in period_ms if its n-th retry waits
    at least (1 - jitter) times first, base, 2*base, 4*base, ... up to cap."""
    t, attempts, n = 0.0, 1, 0
    while True:
        wait = first if n == 0 else min(base * 2 ** (n - 1), cap)
        t += wait * (1 - jitter)
        if t > period_ms:
            return attempts
        attempts += 1
        n += 1


def test_broker_closing_right_after_connack_is_not_hammered(make_fake_broker, start_probe):
    """Every connection is accepted (CONNACK 0) and closed at once. A client
    that reset its backoff on each CONNACK would reconnect every
    backoff_first_ms; ours must stay within the growing backoff."""
    first, base, cap, period = 100, 200, 800, 4.0

    def handler(conn):
        conn.read_connect()
        conn.send(connack())
        time.sleep(0.01)

    fake = make_fake_broker(handler)
    probe = start_probe(fake, backoff_first_ms=first, backoff_base_ms=base,
                        backoff_max_ms=cap, keepalive=5)
    time.sleep(period)
    times = list(fake.accept_times)
    attempts = len(times)
    bound = backoff_bound(period * 1000, first, base, cap, jitter=0.5)
    gaps = [round((b - a) * 1000) for a, b in zip(times, times[1:])]
    assert 3 <= attempts <= bound, \
        f"{attempts} connections in {period}s (bound {bound}), gaps in ms: {gaps}"
    hammering = int(period * 1000 / first)
    assert attempts < hammering / 2
    assert probe.alive()


@pytest.mark.parametrize("code,text_part", [(5, "authori"), (4, "password")])
def test_connack_refusal_backs_off(code, text_part, make_fake_broker, start_probe):
    def handler(conn):
        conn.read_connect()
        conn.send(connack(rc=code))
        time.sleep(0.1)

    fake = make_fake_broker(handler)
    refused_ms = 700
    probe = start_probe(fake, backoff_refused_ms=refused_ms, backoff_first_ms=20,
                        backoff_base_ms=40, backoff_max_ms=80)
    probe.wait_for("connect_failed", count=3, timeout=5)
    failures = probe.find("connect_failed")
    assert all(f["connack"] == code and f["reason"] == "MQTT_ERR_REFUSED" for f in failures)
    assert text_part in failures[0]["text"].lower()
    gaps = [b - a for a, b in zip(fake.accept_times, fake.accept_times[1:])]
    assert min(gaps) >= refused_ms / 1000 * 0.95, gaps


def test_connack_server_unavailable_is_retried(make_fake_broker, start_probe):
    def handler(conn):
        conn.read_connect()
        if conn.index < 2:
            conn.send(connack(rc=3))
            time.sleep(0.05)
            return
        conn.send(connack())
        conn.serve(timeout=30)

    fake = make_fake_broker(handler)
    probe = start_probe(fake, backoff_refused_ms=60000, **FAST)
    f = probe.wait_for("connect_failed")
    assert f["connack"] == 3 and f["reason"] == "MQTT_ERR_REFUSED"
    probe.connected(timeout=10)
