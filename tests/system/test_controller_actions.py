"""The original README's "Usage by Example", Actions A-J, against the real sim.

The board is the original's: relays GP16, GP17; momentary GP18, GP19 (2 s);
contacts GP0-GP3. A paho client on the same topic plays the phone app.
"""
import http.server
import threading

import pytest

from sim_harness import (ALL_PINS, CONTACTS, LOOSE_GUARDS, MOMENTARY, RELAYS, controller_config, counter,
                         gp, is_full_state, rig_factory)  # noqa: F401 (fixture)


@pytest.fixture
def rig(broker, rig_factory):
    return rig_factory(broker)


def test_action_f_first_connection_publishes_full_state_all_off(rig):
    first = rig.phone.wait_device(is_full_state, 5, what="full state")
    assert {k: first[k] for k in map(gp, ALL_PINS)} == {gp(p): 0 for p in ALL_PINS}
    # every relay was driven to its off state at boot
    pins = rig.board.pins()
    for p in RELAYS + MOMENTARY:
        assert pins[p]["on"] is False
    # The device never sets retain, and every publication carries the TIME marker.
    for m in rig.phone.messages.items(0, rig.phone.is_device):
        assert not m["retain"]


def test_action_a_and_b_relay_on_then_off(rig):
    rig.phone.wait_device(is_full_state, 5)
    mark_b, mark_p = rig.board.events.mark(), rig.phone.mark()
    rig.phone.send({"GP16": 1})
    out = rig.board.wait_output(16, True, 5, mark_b)
    assert out["level"] == 0, "relays are active-low by default"
    echo = rig.phone.wait_state(16, 1, 5, mark_p)
    assert "TIME" in echo

    mark_b, mark_p = rig.board.events.mark(), rig.phone.mark()
    rig.phone.send({"GP16": 0})
    out = rig.board.wait_output(16, False, 5, mark_b)
    assert out["level"] == 1
    rig.phone.wait_state(16, 0, 5, mark_p)
    assert rig.board.pins()[16]["on"] is False
    # Only what changed is published after the first full state.
    assert not any(is_full_state(j) for j in rig.phone.device_msgs(mark_p))


def test_action_c_momentary_pulses_and_publishes_both_states(broker, rig_factory):
    rig = rig_factory(broker)  # default pulse: 2 s, as in the original
    rig.phone.wait_device(is_full_state, 5)
    mark_b, mark_p = rig.board.events.mark(), rig.phone.mark()
    rig.phone.send({"GP18": 1})
    on = rig.board.wait_output(18, True, 5, mark_b)
    off = rig.board.wait_output(18, False, 5, mark_b)
    assert 1900 <= off["t_ms"] - on["t_ms"] <= 2300, (on, off)
    rig.phone.wait_state(18, 1, 5, mark_p)
    rig.phone.wait_state(18, 0, 5, mark_p)
    assert len(rig.board.outputs(18, mark_b)) == 2


def test_action_d_contact_closed_is_published(rig):
    rig.phone.wait_device(is_full_state, 5)
    mark_p = rig.phone.mark()
    rig.board.contact(1, closed=True)
    rig.phone.wait_state(1, 1, 3, mark_p)
    mark_p = rig.phone.mark()
    rig.board.contact(1, closed=False)
    rig.phone.wait_state(1, 0, 3, mark_p)


def test_action_e_relay_and_contact_together(rig):
    rig.phone.wait_device(is_full_state, 5)
    mark_p = rig.phone.mark()
    rig.phone.send({"GP16": 1}, wait=False)
    rig.board.contact(1, closed=True)
    # A subscriber ends up with GP1=1 and GP16=1 (merged when they were pending
    # together; no delay is added to merge them).
    rig.phone.wait_state(16, 1, 5, mark_p)
    rig.phone.wait_state(1, 1, 5, mark_p)
    msgs = rig.phone.device_msgs(mark_p)
    assert len(msgs) <= 2, msgs


def test_action_g_stats(rig):
    rig.phone.wait_device(is_full_state, 5)
    mark_p = rig.phone.mark()
    rig.phone.send({"CMD": "stats"}, qos=0)
    stats = rig.phone.wait_device(lambda j: "STATS" in j, 5, mark_p, what="stats publication")
    # one human-readable line like the original's ...
    summary = stats["STATS"]
    for part in ("Uptime=", "days", "hrs", "Outages=0", "Temp=", "C/", "F"):
        assert part in summary, (part, summary)
    # ... and the figures as JSON
    assert stats["OUTAGES"] == 0
    assert stats["UPTIME_S"] >= 0
    assert abs(stats["TEMP_F"] - (stats["TEMP_C"] * 9 / 5 + 32)) < 0.2
    assert stats["TEMP_SOURCE"] in ("sensor", "fixed")
    assert "RSSI" in stats and stats["VERSION"]


class _IpHandler(http.server.BaseHTTPRequestHandler):
    answer = b"203.0.113.7"

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(self.answer)))
        self.end_headers()
        self.wfile.write(self.answer)

    def log_message(self, *args):
        pass


@pytest.fixture
def ip_server():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _IpHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


def test_action_i_getip_from_configured_provider(broker, rig_factory, ip_server):
    rig = rig_factory(broker, config=controller_config(guards=LOOSE_GUARDS, public_ip_url=ip_server))
    rig.phone.wait_device(is_full_state, 5)
    mark_p = rig.phone.mark()
    rig.phone.send({"CMD": "getip"}, qos=0)
    reply = rig.phone.wait_device(lambda j: "IP" in j, 5, mark_p, what="IP publication")
    assert reply["IP"] == "203.0.113.7"


def test_getip_provider_down_gives_clear_error(broker, rig_factory):
    # a port nobody listens on
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = s.getsockname()[1]
    rig = rig_factory(broker, config=controller_config(guards=LOOSE_GUARDS,
                                                       public_ip_url=f"http://127.0.0.1:{dead}/"))
    rig.phone.wait_device(is_full_state, 5)
    mark_p = rig.phone.mark()
    rig.phone.send({"CMD": "getip"}, qos=0)
    rig.phone.wait_error(12, mark_p)
    # still answering
    rig.phone.send({"GP17": 1})
    rig.phone.wait_state(17, 1, 5, mark_p)


def test_action_j_refresh_publishes_full_state(rig):
    rig.phone.wait_device(is_full_state, 5)
    rig.board.contact(0, closed=True)
    rig.board.contact(1, closed=True)
    rig.phone.wait_state(0, 1, 3)
    rig.phone.wait_state(1, 1, 3)
    mark_p = rig.phone.mark()
    rig.phone.send({"CMD": "refresh"}, qos=0)
    full = rig.phone.wait_device(is_full_state, 5, mark_p, what="refresh")
    expect = {gp(p): 0 for p in ALL_PINS}
    expect.update({"GP0": 1, "GP1": 1})
    assert {k: full[k] for k in expect} == expect


def test_several_keys_apply_in_one_message(rig):
    rig.phone.wait_device(is_full_state, 5)
    mark_b, mark_p = rig.board.events.mark(), rig.phone.mark()
    rig.phone.send({"GP16": 1, "GP17": 1})
    rig.board.wait_output(16, True, 5, mark_b)
    rig.board.wait_output(17, True, 5, mark_b)
    outs = [e["pin"] for e in rig.board.outputs(None, mark_b)]
    assert outs == [16, 17], "keys apply in key order"
    rig.phone.wait_state(16, 1, 5, mark_p)
    rig.phone.wait_state(17, 1, 5, mark_p)


def test_every_publication_carries_time_and_requests_with_time_are_ignored(rig):
    rig.phone.wait_device(is_full_state, 5)
    mark_b = rig.board.events.mark()
    # A request carrying the marker looks like our own publication: ignored.
    rig.phone.send({"GP16": 1, "TIME": "2026-01-01 00:00:00"})
    rig.phone.send({"CMD": "refresh", "TIME": 1})
    # a normal request afterwards shows the controller has seen (and skipped) them
    rig.phone.send({"GP17": 1})
    rig.board.wait_output(17, True, 5, mark_b)
    assert rig.board.outputs(16, mark_b) == []
    stats = rig.board.stats()
    assert counter(stats, "echoes_ignored") >= 2, stats
    # Everything the device handed to MQTT is JSON with "TIME".
    import json
    published = rig.board.events.items(0, lambda e: e.get("ev") == "published")
    assert published
    for e in published:
        body = json.loads(e["payload"])
        assert "TIME" in body, body


def test_contacts_are_not_relays(rig):
    assert set(CONTACTS).isdisjoint(RELAYS + MOMENTARY)
    kinds = {p: v["kind"] for p, v in rig.board.pins().items()}
    assert all(kinds[p] == "relay" for p in RELAYS)
    assert all(kinds[p] == "momentary" for p in MOMENTARY)
    assert all(kinds[p] == "contact" for p in CONTACTS)
