"""The MQTT client (through mqtt-tiny-probe) against a real Mosquitto:
publish/subscribe both ways, sessions across outages, resending, broker
restarts, half-open links, bad credentials, big and odd payloads.

Timings are kept small (keepalive 2 s, backoffs of tens of ms) so that the
whole file runs in seconds; the bounds asserted are the client's own
guarantees, with a tolerance for a busy 2-core machine."""

import subprocess
import time
import uuid

import pytest

# Fast reconnects for tests that do not study the backoff itself.
FAST = dict(backoff_first_ms=50, backoff_base_ms=100, backoff_max_ms=400, connect_timeout_ms=2000)
LATE = 1.0  # seconds of tolerance for a loaded machine


def uid(prefix="t"):
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def test_qos0_and_qos1_both_ways(broker, start_probe, make_peer):
    base = uid("pubsub")
    peer = make_peer(broker)
    peer.subscribe(f"{base}/from/#", 1)
    probe = start_probe(broker, sub=f"{base}/to/#", sub_qos=1, **FAST)
    first = probe.connected()
    assert first["session_present"] is False
    sub = probe.wait_for("subscribed")
    assert sub["filter"] == f"{base}/to/#" and sub["qos"] == 1

    # client -> broker -> peer
    assert probe.publish(0, f"{base}/from/q0", "zero")["ev"] == "published"
    published = probe.publish(1, f"{base}/from/q1", "one")
    assert published["ev"] == "published" and published["qos"] == 1
    probe.wait_for("acked", lambda e: e["id"] == published["id"])
    m0 = peer.wait_message(f"{base}/from/q0", b"zero")
    m1 = peer.wait_message(f"{base}/from/q1", b"one")
    assert (m0.qos, m1.qos) == (0, 1)

    # peer -> broker -> client
    peer.publish(f"{base}/to/q0", b"down zero", qos=0)
    peer.publish(f"{base}/to/q1", b"down one", qos=1)
    d0 = probe.message(f"{base}/to/q0")
    d1 = probe.message(f"{base}/to/q1")
    assert (d0["payload"], d0["qos"], d0["len"]) == ("down zero", 0, 9)
    assert (d1["payload"], d1["qos"], d1["dup"], d1["retain"]) == ("down one", 1, False, False)

    stats = probe.stats()
    assert stats["connects"] == 1 and stats["outages"] == 0 and stats["inflight"] == 0
    assert stats["protocol_errors"] == 0 and stats["dropped_packets"] == 0


def test_retained_message_arrives_with_retain_flag(broker, start_probe, make_peer):
    topic = uid("retained") + "/state"
    make_peer(broker).publish(topic, b"kept", qos=1, retain=True)
    probe = start_probe(broker, sub=topic, sub_qos=1, **FAST)
    m = probe.message(topic)
    assert m["retain"] is True and m["payload"] == "kept"


def test_many_qos1_publications_all_acked_in_order(broker, start_probe, make_peer):
    """More publications than in-flight slots: the client refuses the excess
    with a clear error instead of blocking, and everything it accepted is
    acked and delivered in order."""
    topic = uid("burst")
    peer = make_peer(broker)
    peer.subscribe(topic, 1)
    probe = start_probe(broker, **FAST)
    probe.connected()
    accepted = []
    for i in range(40):
        e = probe.publish(1, topic, f"n{i}")
        if e["ev"] == "published":
            accepted.append((e["id"], f"n{i}".encode()))
        else:
            assert e["error"] == "MQTT_ERR_INFLIGHT_FULL"
    assert accepted
    for pid, _ in accepted:
        probe.wait_for("acked", lambda e, pid=pid: e["id"] == pid)
    got = peer.wait_for(lambda msgs: [m.payload for m in msgs if m.topic == topic]
                        if len([m for m in msgs if m.topic == topic]) >= len(accepted) else None)
    assert got == [p for _, p in accepted]
    assert probe.stats()["inflight"] == 0


def test_messages_published_while_offline_arrive_after_reconnect(broker, start_probe,
                                                                 make_peer, make_proxy):
    """Persistent session: the broker keeps QoS1 messages for the client
    during an outage and the client gets them on reconnect."""
    base = uid("offline")
    proxy = make_proxy(broker)
    probe = start_probe(proxy.url(), id=uid("dev"), session="persistent", sub=f"{base}/#",
                        sub_qos=1, keepalive=10, **FAST)
    probe.connected()
    probe.wait_for("subscribed")
    peer = make_peer(broker)

    proxy.set_mode("refuse")
    mark = probe.mark()
    proxy.cut()
    probe.wait_for("disconnected", since=mark)
    for i in range(3):
        peer.publish(f"{base}/cmd", f"while offline {i}".encode(), qos=1)
    time.sleep(0.2)
    assert probe.count("message", since=mark) == 0

    proxy.set_mode("pass")
    again = probe.connected(since=mark, timeout=5)
    assert again["session_present"] is True
    for i in range(3):
        probe.wait_for("message", lambda e: e["payload"] == f"while offline {i}", since=mark)
    payloads = [e["payload"] for e in probe.find("message", since=mark)]
    assert payloads == [f"while offline {i}" for i in range(3)]
    stats = probe.stats()
    assert stats["connects"] == 2 and stats["outages"] == 1


def test_clean_first_drops_stale_backlog_but_keeps_outage_messages(broker, start_probe,
                                                                   make_peer, make_proxy):
    """session clean_first: a backlog from before the (re)start is not
    delivered, messages sent during a later outage are."""
    base, client_id = uid("cleanfirst"), uid("dev")
    old = start_probe(broker, id=client_id, session="persistent", sub=f"{base}/#", sub_qos=1,
                      **FAST)
    old.wait_for("subscribed")
    old.stop()
    peer = make_peer(broker)
    peer.publish(f"{base}/cmd", b"stale", qos=1)

    proxy = make_proxy(broker)
    probe = start_probe(proxy.url(), id=client_id, session="clean_first", sub=f"{base}/#",
                        sub_qos=1, keepalive=10, **FAST)
    assert probe.connected()["session_present"] is False
    probe.wait_for("subscribed")
    proxy.set_mode("refuse")
    mark = probe.mark()
    proxy.cut()
    probe.wait_for("disconnected", since=mark)
    peer.publish(f"{base}/cmd", b"fresh", qos=1)
    proxy.set_mode("pass")
    again = probe.connected(since=mark)
    # MQTT 3.1.1 discards a clean session when its connection ends, so the
    # client must hold a persistent session before the first outage.
    assert again["session_present"] is True, \
        "after the first outage the broker had no session: the outage's messages are lost"
    probe.message(f"{base}/cmd", since=mark, pred=lambda e: e["payload"] == "fresh")
    assert [e["payload"] for e in probe.find("message")] == ["fresh"]


def test_unacked_publish_is_resent_after_reconnect(broker, start_probe, make_peer, make_proxy):
    """A QoS1 publication swallowed by a dead link is sent again once the
    client is back, and acked then."""
    topic = uid("resend")
    peer = make_peer(broker)
    peer.subscribe(topic, 1)
    proxy = make_proxy(broker)
    probe = start_probe(proxy.url(), id=uid("dev"), session="persistent", keepalive=10, **FAST)
    probe.connected()

    proxy.set_mode("blackhole_up")
    published = probe.publish(1, topic, "swallowed once")
    assert published["ev"] == "published"
    time.sleep(0.3)
    assert peer.on_topic(topic) == [] and probe.count("acked") == 0
    assert probe.stats()["inflight"] == 1

    mark = probe.mark()
    proxy.set_mode("pass")
    proxy.cut()
    probe.connected(since=mark)
    probe.wait_for("acked", lambda e: e["id"] == published["id"], since=mark)
    peer.wait_message(topic, b"swallowed once")
    time.sleep(0.2)
    assert len(peer.on_topic(topic)) == 1
    assert probe.stats()["inflight"] == 0


def test_lost_puback_means_resend_and_at_least_once(broker, start_probe, make_peer, make_proxy):
    """The broker got the publication but its PUBACK was lost: the client
    sends it again after reconnecting (QoS1: at least once, never lost)."""
    topic = uid("lostack")
    peer = make_peer(broker)
    peer.subscribe(topic, 1)
    proxy = make_proxy(broker)
    probe = start_probe(proxy.url(), id=uid("dev"), session="persistent", keepalive=10, **FAST)
    probe.connected()

    proxy.set_mode("blackhole_down")
    published = probe.publish(1, topic, "ack lost")
    peer.wait_message(topic, b"ack lost")
    time.sleep(0.2)
    assert probe.count("acked") == 0

    mark = probe.mark()
    proxy.set_mode("pass")
    proxy.cut()
    probe.connected(since=mark)
    probe.wait_for("acked", lambda e: e["id"] == published["id"], since=mark)
    assert 1 <= len(peer.on_topic(topic)) <= 2
    assert probe.stats()["inflight"] == 0


def test_broker_kill_and_restart(broker, start_probe, make_peer):
    """SIGKILL the broker: the client notices, retries with backoff, comes
    back when the broker does, subscribes again, and a QoS1 publication made
    while the broker was down is delivered."""
    base = uid("restart")
    probe = start_probe(broker, sub=f"{base}/to/#", sub_qos=1, keepalive=5, **FAST)
    probe.connected()
    probe.wait_for("subscribed")

    mark = probe.mark()
    broker.kill()
    gone = probe.wait_for("disconnected", since=mark)
    assert gone["reason"] in ("MQTT_ERR_CLOSED", "MQTT_ERR_TRANSPORT"), gone
    probe.wait_for("connect_failed", since=mark, timeout=3)
    queued = probe.publish(1, f"{base}/from", "sent while down")
    assert queued["ev"] == "published"
    time.sleep(0.3)

    broker.start()
    probe.connected(since=mark, timeout=5)
    probe.wait_for("subscribed", since=mark)
    peer = make_peer(broker)
    peer.subscribe(f"{base}/from", 1)
    probe.wait_for("acked", lambda e: e["id"] == queued["id"], since=mark)
    peer.publish(f"{base}/to/x", b"after restart", qos=1)
    probe.message(f"{base}/to/x", since=mark)
    stats = probe.stats()
    assert stats["connects"] == 2 and stats["outages"] == 1 and stats["connect_failures"] >= 1


def test_broker_graceful_restart(broker, start_probe, make_peer):
    topic = uid("graceful")
    probe = start_probe(broker, sub=topic, sub_qos=1, **FAST)
    probe.wait_for("subscribed")
    mark = probe.mark()
    broker.restart()
    probe.wait_for("disconnected", since=mark)
    probe.connected(since=mark)
    probe.wait_for("subscribed", since=mark)
    make_peer(broker).publish(topic, b"x", qos=1)
    probe.message(topic, since=mark)


def test_half_open_link_detected_within_one_and_a_half_keepalives(broker, start_probe, make_proxy):
    keepalive = 2
    proxy = make_proxy(broker)
    probe = start_probe(proxy.url(), keepalive=keepalive, backoff_first_ms=50,
                        backoff_base_ms=100, backoff_max_ms=400, connect_timeout_ms=1000)
    probe.connected()
    time.sleep(0.3)
    mark = probe.mark()
    silent_since = time.monotonic()
    proxy.set_mode("blackhole")
    lost = probe.wait_for("disconnected", since=mark, timeout=keepalive * 1.5 + 3)
    assert lost["reason"] == "MQTT_ERR_KEEPALIVE"
    detected_after = lost["_rx"] - silent_since
    assert detected_after <= keepalive * 1.5 + 0.5, f"detected after {detected_after:.2f}s"
    # no hang while the link stays dead: attempts time out and are retried
    failed = probe.wait_for("connect_failed", since=mark, timeout=3)
    assert failed["reason"] == "MQTT_ERR_TIMEOUT"
    proxy.set_mode("pass")
    proxy.cut()
    probe.connected(since=mark, timeout=5)
    assert probe.stats()["outages"] == 1


def test_slow_link_still_works(broker, start_probe, make_peer, make_proxy):
    topic = uid("slow")
    proxy = make_proxy(broker)
    proxy.set_mode("delay", delay_ms=150)
    probe = start_probe(proxy.url(), sub=topic, sub_qos=1, keepalive=2, **FAST)
    probe.wait_for("subscribed", timeout=5)
    make_peer(broker).publish(topic, b"late but fine", qos=1)
    probe.message(topic)
    e = probe.publish(1, topic, "mine")
    probe.wait_for("acked", lambda a: a["id"] == e["id"])
    time.sleep(2.5)  # a keepalive round trip through the slow link
    assert probe.count("disconnected") == 0


def test_wrong_password_is_refused_and_retried_slowly(passwd_broker, start_probe):
    refused_ms = 800
    probe = start_probe(passwd_broker, user=passwd_broker.user, password="wrong-password",
                        backoff_refused_ms=refused_ms, **FAST)
    probe.wait_for("connect_failed", count=3, timeout=5)
    time.sleep(0.2)
    failures = probe.find("connect_failed")
    for f in failures:
        assert f["reason"] == "MQTT_ERR_REFUSED" and f["connack"] in (4, 5), f
        assert f["text"]
    attempts = [e["t_ms"] for e in probe.find("attempt")]
    gaps = [b - a for a, b in zip(attempts, attempts[1:])]
    assert gaps and min(gaps) >= refused_ms * 0.95, gaps
    assert probe.count("connected") == 0
    stats = probe.stats()
    assert stats["connects"] == 0 and stats["connect_failures"] >= 3


def test_right_password_connects(passwd_broker, start_probe, make_peer):
    topic = uid("auth")
    probe = start_probe(passwd_broker, user=passwd_broker.user, password=passwd_broker.password,
                        sub=topic, sub_qos=1, **FAST)
    probe.wait_for("subscribed")
    make_peer(passwd_broker, username="panel", password="panel-password").publish(topic, b"ok", 1)
    probe.message(topic)


def test_anonymous_client_refused_by_password_broker(passwd_broker, start_probe):
    probe = start_probe(passwd_broker, backoff_refused_ms=5000, **FAST)
    f = probe.wait_for("connect_failed")
    assert f["reason"] == "MQTT_ERR_REFUSED" and f["connack"] in (4, 5)


def test_oversized_incoming_packet_is_dropped_and_connection_survives(broker, start_probe,
                                                                     make_peer):
    topic = uid("big")
    probe = start_probe(broker, sub=topic, sub_qos=1, rx_buffer=1024, **FAST)
    probe.wait_for("subscribed")
    peer = make_peer(broker)
    peer.publish(topic, b"x" * 5000, qos=1)
    peer.publish(topic, b"small after big", qos=1)
    dropped = probe.wait_for("dropped")
    assert dropped["len"] >= 5000
    probe.message(topic, pred=lambda e: e["payload"] == "small after big")
    assert probe.count("message", lambda e: e["len"] > 1024) == 0
    assert probe.count("disconnected") == 0
    stats = probe.stats()
    assert stats["dropped_packets"] == 1 and stats["connects"] == 1


def test_64k_and_oversized_payloads_both_ways(broker, start_probe, make_peer):
    """64 KB payloads each way. The client's buffers are fixed (a device has
    264 KB of RAM), so each must either go through intact or be refused with
    a clear event; the connection survives and later messages still flow."""
    topic = uid("64k")
    size = 64 * 1024
    down = bytes((i * 7 + 13) % 26 + 97 for i in range(size))   # a..z, no newline
    up = bytes((i * 11 + 5) % 26 + 65 for i in range(size))     # A..Z
    peer = make_peer(broker)
    peer.subscribe(f"{topic}/up", 1)
    probe = start_probe(broker, sub=f"{topic}/down", sub_qos=1, **FAST)
    probe.wait_for("subscribed")

    peer.publish(f"{topic}/down", down, qos=1)
    peer.publish(f"{topic}/down", b"after 64k", qos=1)
    probe.message(f"{topic}/down", pred=lambda e: e["payload"] == "after 64k")
    big = probe.find("message", lambda e: e["len"] == size)
    if big:
        assert big[0]["payload"].encode() == down
    else:
        assert probe.wait_for("dropped")["len"] >= size

    # Outgoing: the probe reads commands of at most a few KB, so a 64 KB
    # command line must be refused without harm; a publication bigger than
    # the client's buffers is either delivered intact or refused clearly.
    probe.send(b"pub 1 " + f"{topic}/up ".encode() + up)
    e = probe.publish(1, f"{topic}/up", up[:7000])
    if e["ev"] == "published":
        probe.wait_for("acked", lambda a: a["id"] == e["id"])
        assert peer.wait_message(f"{topic}/up").payload == up[:7000]
    else:
        assert e["error"].startswith("MQTT_ERR_"), e
    small = probe.publish(1, f"{topic}/up", "small after 64k")
    probe.wait_for("acked", lambda a: a["id"] == small["id"])
    peer.wait_message(f"{topic}/up", b"small after 64k")
    assert probe.count("disconnected") == 0


def test_non_utf8_payloads(broker, start_probe, make_peer):
    topic = uid("bin")
    raw_down = b"\xff\xfe\x00\x01\x80\xc3(binary"
    raw_up = b"\xff\x80\xc0\xaf not utf-8 \xfe"
    peer = make_peer(broker)
    peer.subscribe(f"{topic}/up", 1)
    probe = start_probe(broker, sub=f"{topic}/down", sub_qos=1, **FAST)
    probe.wait_for("subscribed")

    peer.publish(f"{topic}/down", raw_down, qos=1)
    peer.publish(f"{topic}/down", b"text after binary", qos=1)
    m = probe.message(f"{topic}/down")
    assert m["len"] == len(raw_down)
    probe.message(f"{topic}/down", pred=lambda e: e["payload"] == "text after binary")

    e = probe.publish(1, f"{topic}/up", raw_up)
    probe.wait_for("acked", lambda a: a["id"] == e["id"])
    assert peer.wait_message(f"{topic}/up").payload == raw_up


def test_last_will_on_abrupt_loss_only(broker, start_probe, make_peer):
    will = uid("will")
    peer = make_peer(broker)
    peer.subscribe(will, 1)
    polite = start_probe(broker, will_topic=will, will_payload="polite gone", **FAST)
    polite.connected()
    polite.stop()
    crashed = start_probe(broker, will_topic=will, will_payload="crashed", keepalive=5, **FAST)
    crashed.connected()
    crashed.kill()
    peer.wait_message(will, b"crashed")
    assert [m.payload for m in peer.on_topic(will)] == [b"crashed"]


def test_sigterm_exits_cleanly(broker, start_probe):
    probe = start_probe(broker, **FAST)
    probe.connected()
    assert probe.terminate() == 0


def test_connection_refused_port_is_retried(start_probe):
    from mqtt_env import free_port
    probe = start_probe(f"mqtt://127.0.0.1:{free_port()}", **FAST)
    probe.wait_for("connect_failed", count=2)
    f = probe.find("connect_failed")[0]
    assert f["reason"] in ("MQTT_ERR_TRANSPORT", "MQTT_ERR_CLOSED"), f


@pytest.mark.parametrize("args", [
    [],
    ["--broker"],
    ["--broker", "mqtt://127.0.0.1:1883", "--sub-qos", "3"],
    ["--broker", "mqtt://127.0.0.1:1883", "--session", "sometimes"],
    ["--broker", "mqtt://127.0.0.1:1883", "--keepalive", "-1"],
    ["--broker", "mqtt://127.0.0.1:1883", "--no-such-option"],
    ["--broker", "ftp://127.0.0.1:21"],
    ["--broker", "mqtt://127.0.0.1:99999"],
    ["--broker", "mqtt://127.0.0.1:1883", "--keepalive", "70000"],
    ["--broker", "mqtt://127.0.0.1:1883", "--rx-buffer", "10"],
    ["--broker", "mqtt://127.0.0.1:1883", "--id", "x" * 65],
    ["--broker", "mqtt://127.0.0.1:1883", "--sub", "a/#/b"],
    ["--broker", "mqtt://127.0.0.1:1883"] + ["--sub", "a"] * 5,
    ["--broker", "mqtt://127.0.0.1:1883", "--will-topic", "a/#", "--will-payload", "x"],
    ["--broker", "mqtt://127.0.0.1:1883", "--will-topic", "a"],
])
def test_bad_arguments_exit_2(probe_bin, args):
    r = subprocess.run([probe_bin] + args, stdin=subprocess.DEVNULL, capture_output=True,
                       timeout=10)
    assert r.returncode == 2, (args, r.stdout, r.stderr)
    assert r.stderr, "a bad argument is explained on stderr"
    for marker in ("AddressSanitizer", "LeakSanitizer", "runtime error"):
        assert marker.encode() not in r.stderr
