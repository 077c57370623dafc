"""The firmware's whole network path on the emulated RP2040.

The image mqtt_tiny_net (lwIP slipif on UART1, 10.0.0.2/24) runs under
emu/run.mjs --slip-cmd, joined through emu/tun_bridge.c to the TUN device of
a network namespace this test run creates (netlab.py): a real Mosquitto
(plain and TLS with a CA made now), DNS, SNTP and HTTP responders, paho-mqtt
peers. Everything above the SLIP link is the board image's code: lwIP,
altcp_tls + mbedTLS, DNS, SNTP, the HTTP client, the MQTT transport and
client, the controller.

The runner keeps simulated time from running ahead of wall time (the broker
lives in wall time); GPIO and log times below are simulated.

The example board: relays GP16/17 and momentary GP18/19 (active low: on =
level 0), contacts GP0..3 (pull-up, normally open: closed = level 0 = 1).
"""

import json
import re

import pytest

from conftest import example_config
from chip import Chip
from netlab import (BROKER_NAME, HOST_IP, HTTP_PORT, NTP_UNIX, NTP_UTC, PLAIN_PORT, PUBLIC_IP, TLS_PORT,
                    NetLab, mqtt_type)
from mqtt_env import Peer

TOPIC = "mqtt-tiny/home"
SCRATCH_X = 0x20040000
SCRATCH_Y = 0x20041000
STACK_TOP = 0x20042000
ALL_KEYS = {"GP0", "GP1", "GP2", "GP3", "GP16", "GP17", "GP18", "GP19", "TIME"}
CONNECTED_RX = r"^mqtt: connected \(session present: (\d)\)"


@pytest.fixture(scope="module")
def lab(tmp_path_factory, runner_ready):
    lab = NetLab(tmp_path_factory.mktemp("netlab"))
    try:
        lab.open()
    except BaseException as err:
        lab.close()
        pytest.fail(f"the private network for the emulated chip could not be set up: {err}", pytrace=False)
    yield lab
    lab.close()


@pytest.fixture(scope="session")
def net_image(runner_ready):
    from conftest import FW_DIR, _need_file
    return _need_file(FW_DIR / "mqtt_tiny_net.uf2", "firmware image on a SLIP link",
                      "build it with `make target` (or set MTC_FW_DIR)")


def net_config(broker=f"mqtt://{HOST_IP}:{PLAIN_PORT}", **mqtt):
    cfg = example_config(broker)
    cfg["mqtt"]["username"] = ""
    cfg["mqtt"]["password"] = ""
    cfg["mqtt"].update(mqtt)
    cfg["public_ip_url"] = f"http://{HOST_IP}:{HTTP_PORT}/"
    return cfg


@pytest.fixture
def net(lab, net_image, make_config, tmp_path):
    """net(cfg=None, ca=None) -> (chip, peer): the peer subscribed before the chip powers up."""
    started = []

    def start(cfg=None, ca=None, subscribe=True, extra_args=()):
        peer = Peer(host=HOST_IP, port=PLAIN_PORT)
        peer.connect()
        if subscribe:
            peer.subscribe(TOPIC, qos=1)
        uf2 = make_config(cfg or net_config(), ca=ca)
        chip = Chip(uf2=(net_image, uf2), max_wall_s=120, stderr_path=tmp_path / f"runner{len(started)}.stderr",
                    extra_args=("--slip-cmd", lab.slip_cmd(), *extra_args))
        started.append((chip, peer))
        return chip, peer

    yield start
    lab.http.answer = lab.http.DEFAULT
    lab.sntp.silent = False
    for chip, peer in started:
        chip.close()
        peer.close()
    if lab.broker.proc is None or lab.broker.proc.poll() is not None:
        lab.broker.start()


# ------------------------------------------------------------------ helpers

def payloads(peer, since=0):
    """Messages on TOPIC as (index, dict) from index since on."""
    out = []
    for i, m in enumerate(list(peer.messages)[since:], start=since):
        if m.topic != TOPIC:
            continue
        try:
            out.append((i, json.loads(m.payload)))
        except ValueError:
            out.append((i, {"_raw": m.payload}))
    return out


def drive(chip, cond, timeout_ms, step_ms=100, what="condition", lab=None):
    """Runs the chip in steps of simulated time until cond() is true; returns its value."""
    end = chip.now_ms + timeout_ms
    while True:
        value = cond()
        if value:
            return value
        if chip.now_ms >= end:
            detail = f"\nbroker log (end):\n{lab.broker.log_text(25)}" if lab else ""
            raise AssertionError(f"no {what} within {timeout_ms} simulated ms (now {chip.now_ms:.0f} ms)\n"
                                 f"chip log:\n{chip.log_text(40)}{detail}")
        chip.run_for(step_ms)


def wait_message(chip, peer, pred, timeout_ms, since=0, what="publication", lab=None):
    def find():
        for i, p in payloads(peer, since):
            if pred(p):
                return i, p
        return None
    return drive(chip, find, timeout_ms, what=what, lab=lab)


def is_full_state(p):
    return set(p) == ALL_KEYS


def connected(chip, peer, lab, timeout_ms=8000):
    """Waits for the connect-time full state; returns (its index, its payload)."""
    return wait_message(chip, peer, is_full_state, timeout_ms, what="full state on connect", lab=lab)


def gpio_levels(chip, pin, out_only=True):
    return [(e["t_us"], e["level"]) for e in chip.gpio(pin) if e["out"] or not out_only]


def send(peer, obj, qos=1):
    peer.publish(TOPIC, json.dumps(obj), qos=qos)


# ------------------------------------------------------------------ tests

def test_connect_publishes_full_state(lab, net):
    chip, peer = net()
    _, state = connected(chip, peer, lab)
    assert {k: state[k] for k in ALL_KEYS - {"TIME"}} == {k: 0 for k in ALL_KEYS - {"TIME"}}, state
    ev, m = chip.wait_for_log(CONNECTED_RX, 1)
    assert m.group(1) == "0", "clean_first: the first session is clean"
    assert re.search(r"New client connected from 10\.0\.0\.2:\d+ as mqtt-tiny-picow", lab.broker.log_text(400)), (
        lab.broker.log_text())
    print(f"\nconnected at {ev['t_us'] / 1000:.1f} simulated ms after power-up")
    # The namespace's only route is the TUN subnet: nothing can leave it.
    assert lab.routes().strip().splitlines() == [f"10.0.0.0/24 dev mtc0 proto kernel scope link src {HOST_IP}"]


def test_relay_command_switches_gpio_and_echoes(lab, net):
    chip, peer = net()
    idx, _ = connected(chip, peer, lab)
    before = len(chip.events)
    send(peer, {"GP16": 1})
    drive(chip, lambda: any(e.get("ev") == "gpio" and e["pin"] == 16 and e["level"] == 0
                            for e in chip.events[before:]), 5000, step_ms=20, what="GP16 on (level 0)")
    _, echo = wait_message(chip, peer, lambda p: p.get("GP16") == 1 and "TIME" in p and len(p) == 2, 3000,
                           since=idx + 1, what='{"GP16":1,"TIME":...}')
    chip.run_for(2100)   # past the relay's cooldown (guards.cooldown_ms 2000)
    send(peer, {"GP16": 0})
    drive(chip, lambda: chip.gpio(16) and chip.gpio(16)[-1]["level"] == 1, 5000, step_ms=20, what="GP16 off")
    levels = [e["level"] for e in chip.gpio(16) if e["out"]]
    assert levels[-2:] == [0, 1], levels


def test_momentary_pulse_length(lab, net):
    chip, peer = net()
    idx, _ = connected(chip, peer, lab)
    send(peer, {"GP18": 1})
    _, on = wait_message(chip, peer, lambda p: p.get("GP18") == 1, 5000, since=idx + 1, what="GP18 on")
    _, off = wait_message(chip, peer, lambda p: p.get("GP18") == 0, 4000, since=idx + 1, what="GP18 off")
    edges = [(e["t_us"], e["level"]) for e in chip.gpio(18) if e["out"]]
    lows = [t for t, lv in edges if lv == 0]
    assert len(lows) == 1, edges
    high_after = [t for t, lv in edges if lv == 1 and t > lows[0]]
    assert high_after, edges
    pulse_ms = (high_after[0] - lows[0]) / 1000
    print(f"\nGP18 pulse {pulse_ms:.3f} simulated ms (pulse_ms 2000)")
    # The firmware's clock has 1 ms grain (to_ms_since_boot): the pulse starts
    # up to 1 ms after the millisecond it is timed from.
    assert 1999 < pulse_ms <= 2010, edges


def test_contact_change_published(lab, net):
    chip, peer = net()
    idx, _ = connected(chip, peer, lab)
    chip.set_input(2, 0)   # closed: pulled low
    _, closed = wait_message(chip, peer, lambda p: p.get("GP2") == 1, 3000, since=idx + 1, what='{"GP2":1}')
    assert set(closed) == {"GP2", "TIME"}, closed
    chip.set_input(2, None)
    wait_message(chip, peer, lambda p: p.get("GP2") == 0 and "GP0" not in p, 3000, since=idx + 1,
                 what='{"GP2":0}')


def test_tls_connect_checks_the_ca(lab, net):
    cfg = net_config(f"mqtts://{BROKER_NAME}:{TLS_PORT}")
    # SRAM from SCRATCH_X up painted at power-up: how deep the handshake takes the stack.
    chip, peer = net(cfg, ca=lab.ca.ca_cert, extra_args=("--paint", f"0x{SCRATCH_X:x}:0x{STACK_TOP:x}"))
    chip.wait_for_log(r"^tls: CA loaded", 3000)
    _, m = chip.wait_for_log(r"^mqtt: TLS session up after (\d+) ms", 8000)
    connected(chip, peer, lab)
    assert BROKER_NAME in lab.dns.asked, lab.dns.asked
    print(f"\nTLS handshake {m.group(1)} simulated ms")
    assert int(m.group(1)) < 8000   # inside the watchdog's 8 s
    chip._send({"cmd": "read", "addr": SCRATCH_X, "len": STACK_TOP - SCRATCH_X})
    painted = bytes.fromhex(chip._until("mem")[-1]["hex"])
    depth = STACK_TOP - SCRATCH_X - next(i for i, b in enumerate(painted) if b != 0xA5)
    print(f"deepest stack {depth} B")
    # Core 0's stack is SCRATCH_Y (4 KB); below it lies core 1's (unused here).
    assert depth <= STACK_TOP - SCRATCH_Y, f"the stack went {depth} B deep, past SCRATCH_Y"
    # The UART1 interrupt kept the 32-byte FIFO drained through the certificate flights.
    assert chip.stats()["uart1_rx_held"] == 0


def test_tls_wrong_ca_is_refused(lab, net):
    cfg = net_config(f"mqtts://{BROKER_NAME}:{TLS_PORT}")
    chip, peer = net(cfg, ca=lab.wrong_ca.ca_cert)
    chip.wait_for_log(r"^mqtt: connection error -?\d+ \(TLS handshake or certificate\)", 8000)
    # The reason, not only "handshake or certificate": the chain does not end at our CA.
    chip.wait_for_log(r"^tls: the broker's certificate is refused: .*not correctly signed by the trusted CA", 1)
    chip.run_for(500)
    text = chip.log_text(200)
    assert "mqtt: connected" not in text, text
    assert not payloads(peer), "the chip published through a broker whose certificate it must refuse"
    assert [r["cause"] for r in chip.resets()] == ["power_on"], chip.resets()


def test_broker_restart_reconnects_and_republishes(lab, net):
    chip, peer = net()
    connected(chip, peer, lab)
    peer.close()
    lab.broker.stop()
    stopped = len(chip.logs())
    chip.run_for(1500)
    lost = [e["line"] for e in chip.logs()[stopped:]]
    assert any(line.startswith("mqtt: connection lost (") for line in lost), "\n".join(lost)
    lab.broker.start()
    restarted = len(chip.logs())
    peer2 = Peer(host=HOST_IP, port=PLAIN_PORT)
    peer2.connect()
    peer2.subscribe(TOPIC, qos=1)
    try:
        # peer2 subscribed after the restart: this full state comes from the new connection.
        connected(chip, peer2, lab, timeout_ms=20000)
        again = [e["line"] for e in chip.logs()[restarted:]]
        assert any(re.search(CONNECTED_RX, line) for line in again), "\n".join(again)
        assert [r["cause"] for r in chip.resets()] == ["power_on"]
    finally:
        peer2.close()


def test_idle_connected_core_sleeps(lab, net):
    chip, peer = net()
    connected(chip, peer, lab)
    chip.wait_for_log(r"^clock: set by SNTP", 12000)
    chip.run_for(500)
    a = chip.stats()
    chip.run_for(5000)
    b = chip.stats()
    asleep = (b["asleep_us"] - a["asleep_us"]) / (b["t_us"] - a["t_us"])
    print(f"\nasleep {asleep * 100:.2f} % of 5 s idle-connected, "
          f"{(b['cycles'] - a['cycles']) / 5e6:.3f} M cycles/s")
    assert asleep >= 0.99, f"the core slept {asleep * 100:.2f} % of the time while idle-connected"


def test_stats_command(lab, net):
    chip, peer = net()
    idx, _ = connected(chip, peer, lab)
    send(peer, {"CMD": "stats"})
    _, st = wait_message(chip, peer, lambda p: "STATS" in p, 3000, since=idx + 1, what="STATS")
    assert st["CONNECTIONS"] == 1 and st["OUTAGES"] == 0, st
    assert st["STATS"].startswith("Uptime=0 days 0 hrs, Outages=0"), st


def test_getip_over_http(lab, net):
    chip, peer = net()
    idx, _ = connected(chip, peer, lab)
    n = len(lab.http.requests)
    send(peer, {"CMD": "getip"})
    _, ip = wait_message(chip, peer, lambda p: "IP" in p, 5000, since=idx + 1, what="IP")
    assert ip["IP"] == PUBLIC_IP, ip
    assert lab.http.requests[n:] == ["/"], lab.http.requests


@pytest.mark.parametrize("answer", [(200, "application/json", '{"ip":"203.0.113.7"}'),
                                    (200, "application/json", ' {"country":"XX", "ip": "203.0.113.7"}\r\n')],
                         ids=["json", "json_more_keys"])
def test_getip_json_answer(lab, net, answer):
    lab.http.answer = answer
    chip, peer = net()
    idx, _ = connected(chip, peer, lab)
    send(peer, {"CMD": "getip"})
    _, ip = wait_message(chip, peer, lambda p: "IP" in p or "ERROR" in p, 5000, since=idx + 1, what="IP")
    assert ip.get("IP") == PUBLIC_IP and set(ip) == {"IP", "TIME"}, ip


@pytest.mark.parametrize("answer, reason", [
    ((404, "text/plain", "not here\n"), "provider answered HTTP 404"),
    ((200, "text/html", "<html><body>hello</body></html>"),
     'the answer is neither an IP address nor JSON with an "ip" string'),
    ((200, "application/json", '{"ip":"no address"}'), "the JSON answer's \"ip\" is not an IP address"),
    ((200, "application/json", '{"addr":"203.0.113.7"}'), 'the JSON answer has no "ip" string'),
], ids=["http_404", "garbage", "json_ip_not_address", "json_no_ip"])
def test_getip_failure_names_the_reason(lab, net, answer, reason):
    lab.http.answer = answer
    chip, peer = net()
    idx, _ = connected(chip, peer, lab)
    n = len(lab.http.requests)
    send(peer, {"CMD": "getip"})
    _, err = wait_message(chip, peer, lambda p: "IP" in p or "ERROR" in p, 5000, since=idx + 1,
                          what="getip's answer")
    assert err.get("ERROR") == f"getip failed: {reason}", err
    assert lab.http.requests[n:] == ["/"], lab.http.requests
    chip.wait_for_log(r"^getip: failed: " + re.escape(reason) + "$", 1)


def test_ntp_command_syncs_then_is_rate_limited(lab, net):
    chip, peer = net()
    idx, _ = connected(chip, peer, lab)
    chip.wait_for_log(r"^clock: set by SNTP \((\d+)\)", 12000)   # the sync at link-up
    asked = lab.sntp.requests
    send(peer, {"CMD": "ntp"})
    i, synced = wait_message(chip, peer, lambda p: "NTP" in p or "ERROR" in p, 10000, since=idx + 1,
                             what="ntp's answer", lab=lab)
    assert set(synced) == {"NTP", "TIME"} and synced["NTP"] == "synced", synced
    assert synced["TIME"][:15] == NTP_UTC[:15], synced   # 2030-01-02T03:0
    assert lab.sntp.requests > asked, "the answer came without a new SNTP request"
    asked = lab.sntp.requests
    # A second ntp within a minute of the first is refused and sends nothing.
    send(peer, {"CMD": "ntp"})
    _, refused = wait_message(chip, peer, lambda p: "NTP" in p or "ERROR" in p, 5000, since=i + 1,
                              what="the second ntp's answer", lab=lab)
    assert refused.get("ERROR") == "ntp skipped: the clock was synced less than 60 s ago", refused
    chip.run_for(1000)
    assert lab.sntp.requests == asked, "the refused ntp reached the time server"


def test_ntp_command_gives_up_after_10_s(lab, net):
    lab.sntp.silent = True
    chip, peer = net()
    idx, _ = connected(chip, peer, lab)
    chip.run_for(1000)
    asked = lab.sntp.requests
    send(peer, {"CMD": "ntp"})
    sent = chip.now_ms
    i, err = wait_message(chip, peer, lambda p: "NTP" in p or "ERROR" in p, 13000, since=idx + 1,
                          what="ntp's answer", lab=lab)
    assert err.get("ERROR") == "ntp failed: the time server did not answer within 10 s", err
    assert lab.sntp.requests > asked, "the ntp command sent no SNTP request"
    assert 10000 <= chip.now_ms - sent < 12000, f"gave up after {chip.now_ms - sent:.0f} ms"
    assert "clock: set by SNTP" not in chip.log_text(400)


def test_sntp_time_in_time_key(lab, net):
    chip, peer = net()
    idx, _ = connected(chip, peer, lab)
    _, m = chip.wait_for_log(r"^clock: set by SNTP \((\d+)\)", 12000)
    assert int(m.group(1)) == NTP_UNIX
    assert "pool.ntp.org" in lab.dns.asked, lab.dns.asked
    send(peer, {"CMD": "refresh"})
    _, state = wait_message(chip, peer, lambda p: is_full_state(p) and p["TIME"].startswith("2030-"), 3000,
                            since=idx + 1, what="full state with the SNTP time")
    assert state["TIME"][:15] == NTP_UTC[:15], state   # 2030-01-02T03:0


def test_link_loss_with_qos1_in_flight_loses_nothing(lab, net):
    chip, peer = net()
    idx, _ = connected(chip, peer, lab)
    chip._send({"cmd": "link", "up": False})
    # While the line is cut: four contact changes (the chip's QoS 1 publications
    # wait for their PUBACK) and a command to the chip (the broker holds it).
    for pin in (0, 1, 2, 3):
        chip.set_input(pin, 0)
        chip.run_for(150)
    send(peer, {"GP17": 1})
    chip.run_for(4000)
    assert not [p for _, p in payloads(peer, idx + 1) if any(k in p for k in ("GP0", "GP1", "GP2", "GP3"))], (
        "a publication crossed a cut line")
    assert not any(e["level"] == 0 for e in chip.gpio(17) if e["out"]), "GP17 switched while the line was cut"
    lost = [e for e in chip.events if e.get("ev") == "slip" and e.get("lost") and e["dir"] == "tx"
            and mqtt_type(e["head"]) == 3]
    assert len(lost) >= 4, f"the four contact publications should have left the chip into the cut line: {lost}"
    chip._send({"cmd": "link", "up": True})
    for pin in (0, 1, 2, 3):
        wait_message(chip, peer, lambda p, k=f"GP{pin}": p.get(k) == 1, 15000, since=idx + 1,
                     what=f"GP{pin}:1 after the line came back", lab=lab)
    drive(chip, lambda: any(e["level"] == 0 for e in chip.gpio(17) if e["out"]), 15000, what="GP17 on")
    text = chip.log_text(400)
    assert [r["cause"] for r in chip.resets()] == ["power_on"], text


def test_long_link_loss_reconnects_and_loses_nothing(lab, net):
    """The line stays cut past the keepalive: the connection is lost and made again."""
    chip, peer = net(net_config(keepalive_s=10))
    idx, _ = connected(chip, peer, lab)
    chip.wait_for_log(r"^mqtt: connected \(session present: 0\)", 1)
    chip.run_for(5500)   # a stable connection (persistent session from the second connect on)
    logs_before = len(chip.logs())
    chip._send({"cmd": "link", "up": False})
    chip.set_input(0, 0)
    chip.run_for(200)
    chip.set_input(1, 0)
    chip.run_for(200)
    send(peer, {"GP17": 1})
    chip.run_for(40000)   # the chip runs free while the line is cut
    lost_lines = [e["line"] for e in chip.logs()[logs_before:]]
    assert any(line.startswith("mqtt: connection lost (") for line in lost_lines), "\n".join(lost_lines)
    chip._send({"cmd": "link", "up": True})
    drive(chip, lambda: any(e["level"] == 0 for e in chip.gpio(17) if e["out"]), 30000,
          what="GP17 on after the line came back", lab=lab)
    for pin in (0, 1):
        wait_message(chip, peer, lambda p, k=f"GP{pin}": set(p) == {k, "TIME"} and p[k] == 1, 10000,
                     since=idx + 1, what=f'{{"GP{pin}":1,"TIME":...}} after the line came back', lab=lab)
    assert [r["cause"] for r in chip.resets()] == ["power_on"]
