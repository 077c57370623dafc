"""The client over TLS (mbedTLS) against Mosquitto with a CA made at test
time: a good chain connects, the wrong CA or the wrong name never does, and
reconnecting over TLS does not grow the TLS heap."""

import subprocess
import uuid

FAST = dict(backoff_first_ms=50, backoff_base_ms=100, backoff_max_ms=300, connect_timeout_ms=3000)


def uid(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def test_tls_connects_and_round_trips(tls_broker, tls_ca, start_probe, make_peer):
    topic = uid("tls")
    peer = make_peer(tls_broker)
    peer.subscribe(f"{topic}/up", 1)
    probe = start_probe(tls_broker, ca=tls_ca.ca_cert, sub=f"{topic}/down", sub_qos=1, **FAST)
    probe.wait_for("subscribed", timeout=10)
    peer.publish(f"{topic}/down", b"over tls", qos=1)
    assert probe.message(f"{topic}/down")["payload"] == "over tls"
    e = probe.publish(1, f"{topic}/up", "back over tls")
    probe.wait_for("acked", lambda a: a["id"] == e["id"])
    peer.wait_message(f"{topic}/up", b"back over tls")
    stats = probe.stats()
    assert stats["tls_heap_in_use"] > 0 and stats["tls_heap_peak"] >= stats["tls_heap_in_use"]


def test_tls_with_explicit_matching_hostname(tls_broker, tls_ca, start_probe):
    probe = start_probe(f"mqtts://127.0.0.1:{tls_broker.port}", ca=tls_ca.ca_cert,
                        tls_hostname="localhost", **FAST)
    probe.connected(timeout=10)


def _never_connects(probe, reason="MQTT_ERR_TLS", attempts=2):
    probe.wait_for("connect_failed", count=attempts, timeout=10)
    failures = probe.find("connect_failed")
    for f in failures:
        assert f["reason"] == reason, f
    assert probe.count("connected") == 0
    stats = probe.stats()
    assert stats["connects"] == 0 and stats["connect_failures"] >= attempts
    return failures


def test_tls_wrong_ca_is_refused(tls_broker, other_ca, start_probe):
    probe = start_probe(tls_broker, ca=other_ca.ca_cert, **FAST)
    failures = _never_connects(probe)
    assert "certificate" in failures[0]["detail"].lower(), failures[0]


def test_tls_wrong_hostname_is_refused(tls_broker, tls_ca, start_probe):
    probe = start_probe(tls_broker, ca=tls_ca.ca_cert, tls_hostname="not-the-broker.example",
                        **FAST)
    failures = _never_connects(probe)
    assert "certificate" in failures[0]["detail"].lower(), failures[0]


def test_tls_unreadable_ca_file_is_a_bad_argument(tls_broker, tmp_path, probe_bin):
    missing = tmp_path / "no-such-ca.pem"
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n")
    for ca in (missing, garbage):
        r = subprocess.run([probe_bin, "--broker", tls_broker.url, "--ca", str(ca)],
                           stdin=subprocess.DEVNULL, capture_output=True, timeout=10)
        assert r.returncode == 2 and str(ca).encode() in r.stderr, (ca, r)
        assert b"Sanitizer" not in r.stderr and b"runtime error" not in r.stderr


def test_tls_client_against_plain_listener_fails_cleanly(broker, tls_ca, start_probe):
    probe = start_probe(f"mqtts://localhost:{broker.port}", ca=tls_ca.ca_cert, **FAST)
    probe.wait_for("connect_failed", count=2, timeout=10)
    assert probe.count("connected") == 0


def test_tls_with_password(make_broker, tls_ca, start_probe):
    b = make_broker(tls=tls_ca, passwords={"device": "pw"})
    ok = start_probe(b, ca=tls_ca.ca_cert, user="device", password="pw", **FAST)
    ok.connected(timeout=10)
    bad = start_probe(b, ca=tls_ca.ca_cert, user="device", password="nope",
                      backoff_refused_ms=5000, **FAST)
    f = bad.wait_for("connect_failed", timeout=10)
    assert f["reason"] == "MQTT_ERR_REFUSED" and f["connack"] in (4, 5)


# The TLS heap in use after a handshake varies by a few bytes from one
# handshake to the next (the sizes of the ephemeral key numbers); growth
# beyond this from cycle to cycle would be a leak.
HEAP_JITTER = 64


def test_tls_reconnects_keep_tls_heap_flat(tls_broker, tls_ca, start_probe, make_proxy):
    """Twenty cuts of a TLS link: after every reconnect the TLS heap in use
    is back to the same figure and its peak does not grow."""
    proxy = make_proxy(tls_broker)
    probe = start_probe(proxy.url("mqtts", "localhost"), ca=tls_ca.ca_cert, keepalive=10,
                        **FAST)
    probe.connected(timeout=10)
    samples = []
    for cycle in range(20):
        mark = probe.mark()
        proxy.cut()
        probe.connected(since=mark, timeout=10)
        samples.append(probe.stats())
    base_use, base_peak = samples[2]["tls_heap_in_use"], samples[2]["tls_heap_peak"]
    for cycle, s in enumerate(samples[2:], 2):
        assert abs(s["tls_heap_in_use"] - base_use) <= HEAP_JITTER, (cycle, base_use, s)
        assert s["tls_heap_peak"] <= base_peak + HEAP_JITTER, (cycle, base_peak, s)
    assert samples[-1]["connects"] == 21 and samples[-1]["outages"] == 20
