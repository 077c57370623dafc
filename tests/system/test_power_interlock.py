"""Power-on state per relay, interlock groups, {"CMD":"ntp"}, getip with a
JSON answer and the original's STATS text, against a real Mosquitto and the
real sim."""
import http.server
import re
import threading
import time
from datetime import datetime, timezone

import pytest

from sim_harness import LOOSE_GUARDS, SLOW, controller_config, is_full_state, rig_factory  # noqa: F401


@pytest.fixture
def rig(broker, rig_factory):
    return rig_factory(broker)


def config_with(relays, **extra):
    cfg = controller_config(guards=LOOSE_GUARDS, extra=extra)
    cfg["relays"] = relays
    return cfg


def test_power_on_relay_is_on_from_boot(broker, rig_factory):
    rig = rig_factory(broker, config=config_with([{"pin": 16}, {"pin": 17, "power_on": "on"}]))
    state = rig.phone.wait_device(is_full_state, 5)
    assert state["GP16"] == 0 and state["GP17"] == 1, state
    pins = rig.board.pins()
    assert pins[17]["on"] is True and pins[17]["level"] == 0, "active low: on is 0 V"
    assert pins[16]["on"] is False and pins[16]["level"] == 1
    # and it switches like any other relay
    mark_b = rig.board.events.mark()
    rig.phone.send({"GP17": 0})
    rig.board.wait_output(17, False, 3, mark_b)


def interlocked(broker, rig_factory, gap_ms):
    rig = rig_factory(broker, config=config_with(
        [{"pin": 16, "interlock": 1}, {"pin": 17, "interlock": 1}], interlock_gap_ms=gap_ms))
    rig.phone.wait_device(is_full_state, 5)
    rig.settle()
    return rig


def test_interlock_breaks_before_make(broker, rig_factory):
    rig = interlocked(broker, rig_factory, 300)
    mark_b, mark_p = rig.board.events.mark(), rig.phone.mark()
    rig.phone.send({"GP16": 1})
    rig.board.wait_output(16, True, 3, mark_b)
    rig.phone.wait_state(16, 1, 3, mark_p)
    mark_b, mark_p = rig.board.events.mark(), rig.phone.mark()
    rig.phone.send({"GP17": 1})
    rig.board.wait_output(17, True, 3, mark_b)
    outs = rig.board.outputs(None, mark_b)
    assert [(e["pin"], e["on"]) for e in outs] == [(16, False), (17, True)], outs
    gap = outs[1]["t_ms"] - outs[0]["t_ms"]
    assert gap >= 300, f"break before make: {gap} ms between GP16 off and GP17 on"
    # Clients saw GP16 go off first, then GP17 on.
    seen = [j for j in rig.phone.device_msgs(mark_p) if "GP16" in j or "GP17" in j]
    assert seen[0].get("GP16") == 0 and "GP17" not in seen[0], seen
    rig.phone.wait_state(17, 1, 3, mark_p)
    pins = rig.board.pins()
    assert pins[16]["on"] is False and pins[17]["on"] is True


def test_interlock_request_naming_two_keeps_the_last_and_says_so(broker, rig_factory):
    rig = interlocked(broker, rig_factory, 0)
    mark_b, mark_p = rig.board.events.mark(), rig.phone.mark()
    rig.phone.send({"GP16": 1, "GP17": 1})
    rig.board.wait_output(17, True, 3, mark_b)
    err = rig.phone.wait_device(lambda j: "ERROR" in j, 3, mark_p, what="interlock report")
    assert err["ERROR"] == ("GP16 not switched on: GP17 of the same interlock group is later in "
                            "the request and wins"), err
    time.sleep(0.2 * SLOW)
    assert rig.board.outputs(16, mark_b) == [], "GP16 never went on"


def test_ntp_on_the_sim_answers_with_its_clock(rig):
    rig.phone.wait_device(is_full_state, 5)
    mark_p = rig.phone.mark()
    rig.phone.send({"CMD": "ntp"}, qos=0)
    reply = rig.phone.wait_device(lambda j: "NTP" in j, 5, mark_p, what="ntp answer")
    assert reply["NTP"] == "host clock"
    at = datetime.strptime(reply["TIME"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
    assert abs((datetime.now(timezone.utc) - at).total_seconds()) < 5, reply


class _JsonIpHandler(http.server.BaseHTTPRequestHandler):
    answers = {"/json": b'{"ip": "203.0.113.9"}', "/noip": b'{"address": "203.0.113.9"}'}

    def do_GET(self):
        body = self.answers.get(self.path, b"")
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def json_ip_server():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _JsonIpHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("path,expect", [
    ("/json", {"IP": "203.0.113.9"}),
    ("/noip", {"ERROR": 'getip failed: the JSON answer has no "ip" string'}),
])
def test_getip_json_answer(broker, rig_factory, json_ip_server, path, expect):
    cfg = controller_config(guards=LOOSE_GUARDS, public_ip_url=json_ip_server + path)
    rig = rig_factory(broker, config=cfg)
    rig.phone.wait_device(is_full_state, 5)
    mark_p = rig.phone.mark()
    rig.phone.send({"CMD": "getip"}, qos=0)
    key = next(iter(expect))
    reply = rig.phone.wait_device(lambda j: key in j, 6, mark_p, what="getip answer")
    assert reply[key] == expect[key], reply


def test_stats_text_reads_like_the_original(rig):
    rig.phone.wait_device(is_full_state, 5)
    mark_p = rig.phone.mark()
    rig.phone.send({"CMD": "stats"}, qos=0)
    stats = rig.phone.wait_device(lambda j: "STATS" in j, 5, mark_p, what="stats")
    text = stats["STATS"]
    pattern = (r"Uptime=\d+ days \d+ hrs, Outages=\d+, Wifi=(-?\d+dBm|none), "
               r"Mem=(\d+\.\d\d%|unknown), Temp=-?\d+\.\dC/-?\d+\.\dF, Time=\S+")
    assert re.fullmatch(pattern, text), text
    assert text.endswith("Time=" + stats["TIME"])
    for key in ("UPTIME_S", "OUTAGES", "TEMP_C", "TEMP_F", "RSSI", "VERSION"):
        assert key in stats, key
    if "MEM_FREE_PCT" in stats:
        used = float(re.search(r"Mem=(\d+\.\d\d)%", text).group(1))
        assert abs(used + stats["MEM_FREE_PCT"] - 100) < 0.2, (text, stats["MEM_FREE_PCT"])
