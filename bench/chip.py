#!/usr/bin/env python3
"""On-chip figures of the real firmware on the emulated RP2040, on its network.

Boots build-target/fw/mqtt_tiny_net.uf2 (lwIP slipif on UART1) under
emu/run.mjs inside a network namespace of its own (tests/emu/netlab.py: TUN,
Mosquitto plain and TLS, DNS, SNTP, HTTP), as root, and prints, in simulated
time at clk_sys 125 MHz (the emulator's cycle counts: rp2040js's model of the
Cortex-M0+, flash reads without XIP cache misses, not a real chip's):
  boot -> relays safe, boot -> connected (plain, TLS X25519, TLS P-256),
  the TLS handshake as the firmware logs it, the peak TLS heap (tls_heap.c's
  counters read from the chip's RAM), command received (last byte of the
  PUBLISH into UART1) -> GPIO changed, contact edge -> PUBLISH on the wire
  (first byte out of UART1), the share of time asleep while idle-connected,
  and the deepest stack (SRAM 0x20040000..0x20042000 painted at power-up).

Usage: bench/chip.py [--samples N] [--idle-s S]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "emu"))

from chip import Chip  # noqa: E402
from netlab import BROKER_NAME, HOST_IP, HTTP_PORT, PLAIN_PORT, TLS_PORT, NetLab, mqtt_type  # noqa: E402
from mqtt_env import Peer  # noqa: E402

FW_DIR = Path(os.environ.get("MTC_FW_DIR", REPO / "build-target" / "fw"))
BUILD_DIR = Path(os.environ.get("MTC_BUILD_DIR", REPO / "build"))
IMAGE = FW_DIR / "mqtt_tiny_net.uf2"
ELF = FW_DIR / "mqtt_tiny_net.elf"
TOPIC = "mqtt-tiny/home"
PAINT = (0x20040000, 0x20042000)
STACK_TOP = 0x20042000


def config(tmp, name, broker, ca=None):
    cfg = json.loads((REPO / "examples" / "config.example.json").read_text())
    cfg["mqtt"].update(broker_url=broker, username="", password="", ca_file="")
    cfg["public_ip_url"] = f"http://{HOST_IP}:{HTTP_PORT}/"
    src = Path(tmp) / f"{name}.json"
    src.write_text(json.dumps(cfg))
    out = Path(tmp) / f"{name}.uf2"
    cmd = [str(BUILD_DIR / "mqtt-tiny-config"), str(src), "-o", str(out)] + (["--ca", str(ca)] if ca else [])
    subprocess.run(cmd, check=True, capture_output=True)
    return out


def symbol(name):
    out = subprocess.run(["arm-none-eabi-nm", str(ELF)], check=True, capture_output=True, text=True).stdout
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[2] == name:
            return int(parts[0], 16)
    raise SystemExit(f"{ELF}: no symbol {name}")


def read_mem(chip, addr, length):
    chip._send({"cmd": "read", "addr": addr, "len": length})
    return bytes.fromhex(chip._until("mem")[-1]["hex"])


def stack_depth(chip):
    data = read_mem(chip, PAINT[0], PAINT[1] - PAINT[0])
    for i, b in enumerate(data):
        if b != 0xA5:
            return STACK_TOP - (PAINT[0] + i)
    return 0


def tls_heap(chip):
    addr = symbol("heap_stats")
    in_use, peak, failures = (int.from_bytes(read_mem(chip, addr + 4 * i, 4), "little") for i in range(3))
    return in_use, peak, failures


def boot(lab, tmp, uf2, n):
    return Chip(uf2=(IMAGE, uf2), max_wall_s=600, stderr_path=Path(tmp) / f"runner{n}.stderr",
                extra_args=("--slip-cmd", lab.slip_cmd(), "--paint", f"0x{PAINT[0]:x}:0x{PAINT[1]:x}"))


def wait_log(chip, regex, timeout_ms=20000):
    ev, m = chip.wait_for_log(regex, timeout_ms)
    return ev["t_us"], m


def relays_safe_us(chip):
    first = [e for e in chip.gpio() if e["pin"] in (16, 17, 18, 19) and e["out"]][:4]
    return max(e["t_us"] for e in first)


def run_tls(lab, tmp, curve, n):
    """Boots with mqtts and the broker limited to one key-exchange group."""
    conf = Path(tmp) / f"openssl-{curve}.cnf"
    conf.write_text("openssl_conf = openssl_init\n[openssl_init]\nssl_conf = ssl_sect\n"
                    "[ssl_sect]\nsystem_default = sys\n[sys]\n"
                    f"Groups = {curve}\n")
    lab.broker.stop()
    lab.broker.start(env={**os.environ, "OPENSSL_CONF": str(conf)})
    probe = subprocess.run(["openssl", "s_client", "-connect", f"{HOST_IP}:{TLS_PORT}", "-servername", BROKER_NAME,
                            "-groups", "X25519:P-256:P-384", "-tls1_2", "-CAfile", lab.ca.ca_cert, "-brief"],
                           input="", capture_output=True, text=True, timeout=20)
    temp_key = next((line.split(":", 1)[1].strip() for line in probe.stderr.splitlines()
                     if "temp key" in line.lower()), "?")
    chip = boot(lab, tmp, config(tmp, f"tls-{curve}", f"mqtts://{BROKER_NAME}:{TLS_PORT}", lab.ca.ca_cert), n)
    try:
        t_conn, _ = wait_log(chip, r"^mqtt: connected")
        _, m = wait_log(chip, r"^mqtt: TLS session up after (\d+) ms", 1)
        chip.run_for(500)
        _, peak, failures = tls_heap(chip)
        return {"curve": curve, "server_temp_key": temp_key, "connected_us": t_conn,
                "handshake_ms": int(m.group(1)), "tls_heap_peak": peak, "tls_heap_failures": failures,
                "relays_safe_us": relays_safe_us(chip), "stack": stack_depth(chip)}
    finally:
        chip.close()


def run_plain(lab, tmp, samples, idle_s):
    peer = Peer(host=HOST_IP, port=PLAIN_PORT).connect()
    peer.subscribe(TOPIC, qos=1)
    chip = boot(lab, tmp, config(tmp, "plain", f"mqtt://{HOST_IP}:{PLAIN_PORT}"), 0)
    try:
        t_conn, _ = wait_log(chip, r"^mqtt: connected")
        wait_log(chip, r"^clock: set by SNTP", 15000)
        chip.run_for(1000)
        # Idle and connected: the share of simulated time the core slept.
        a = chip.stats()
        chip.run_for(idle_s * 1000)
        b = chip.stats()
        span = b["t_us"] - a["t_us"]
        asleep = (b["asleep_us"] - a["asleep_us"]) / span
        cycles_per_s = (b["cycles"] - a["cycles"]) / (span / 1e6)
        # Command received -> GPIO changed.
        cmd_us = []
        for i in range(samples):
            pin, level = (16, i % 2 == 0)
            start = len(chip.events)
            peer.publish(TOPIC, json.dumps({f"GP{pin}": 1 if level else 0}), qos=1)
            want = 0 if level else 1   # active low
            ev = chip.wait_for(lambda e: e.get("ev") == "gpio" and e["pin"] == pin and e["out"]
                               and e["level"] == want, 5000, step_ms=20, since=start,
                               what=f"GP{pin} level {want}")
            rx = [e for e in chip.events[start:] if e.get("ev") == "slip" and e["dir"] == "rx"
                  and e["t_us"] <= ev["t_us"] and mqtt_type(e["head"]) == 3]
            cmd_us.append(ev["t_us"] - rx[-1]["t_us"])
            chip.run_for(2100)   # the relay's cooldown
        # Contact edge -> PUBLISH on the wire (includes debounce_ms 50).
        edge_us = []
        for i in range(samples):
            chip.run_for(300)
            start = len(chip.events)
            t_edge = round(chip.now_ms * 1000)
            chip.set_input(2, 0 if i % 2 == 0 else None)
            ev = chip.wait_for(lambda e: e.get("ev") == "slip" and e["dir"] == "tx" and mqtt_type(e["head"]) == 3,
                               3000, step_ms=10, since=start, what="PUBLISH out")
            edge_us.append(ev["t_us"] - t_edge)
        st = chip.stats()
        return {"connected_us": t_conn, "relays_safe_us": relays_safe_us(chip), "asleep": asleep,
                "idle_cycles_per_s": cycles_per_s, "cmd_us": cmd_us, "edge_us": edge_us,
                "stack": stack_depth(chip), "uart1_rx_held": st["uart1_rx_held"], "wall_s": st["wall_s"],
                "sim_s": st["t_us"] / 1e6}
    finally:
        chip.close()
        peer.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--samples", type=int, default=5)
    ap.add_argument("--idle-s", type=float, default=10)
    args = ap.parse_args()
    os.environ.setdefault("MTC_BOOTROM", str(REPO.parent / "shared" / "third_party" / "rp2040-bootrom" /
                                             "bootrom-b1.bin"))
    with tempfile.TemporaryDirectory(prefix="mtc-chip-bench-") as tmp:
        lab = NetLab(tmp)
        try:
            lab.open()
            plain = run_plain(lab, tmp, args.samples, args.idle_s)
            tls = [run_tls(lab, tmp, curve, i + 1) for i, curve in enumerate(("X25519", "P-256"))]
        finally:
            lab.close()

    def ms(us):
        return f"{us / 1000:.1f} ms"

    def spread(values):
        return (f"median {statistics.median(values):.0f} µs (min {min(values)}, max {max(values)}, "
                f"n={len(values)})")

    rows = [
        ("boot -> relays safe (GP16..19 outputs, off)", ms(plain["relays_safe_us"])),
        ("boot -> connected, plain MQTT", ms(plain["connected_us"])),
    ]
    for t in tls:
        rows += [
            (f"boot -> connected, TLS {t['curve']} (server temp key: {t['server_temp_key']})", ms(t["connected_us"])),
            (f"TLS handshake {t['curve']} (firmware log)", f"{t['handshake_ms']} ms"),
            (f"peak TLS heap {t['curve']} (tls_heap.c)", f"{t['tls_heap_peak']} B ({t['tls_heap_failures']} failures)"),
        ]
    rows += [
        ("command received (PUBLISH into UART1) -> GPIO changed", spread(plain["cmd_us"])),
        ("contact edge -> PUBLISH out of UART1 (debounce 50 ms included)", spread(plain["edge_us"])),
        (f"asleep while idle-connected ({args.idle_s:.0f} s)", f"{plain['asleep'] * 100:.2f} % of the time"),
        ("cycles executed while idle-connected", f"{plain['idle_cycles_per_s'] / 1e6:.3f} M/s of 125 M/s"),
        ("deepest stack (painted SRAM, plain / TLS X25519 / TLS P-256)",
         " / ".join(f"{d} B" for d in (plain["stack"], tls[0]["stack"], tls[1]["stack"]))),
        ("UART1 receive: bytes that waited for a full FIFO", str(plain["uart1_rx_held"])),
    ]
    width = max(len(r[0]) for r in rows)
    print(f"| {'figure'.ljust(width)} | value |")
    print(f"| {'-' * width} | ----- |")
    for name, value in rows:
        print(f"| {name.ljust(width)} | {value} |")
    print(f"\nplain run: {plain['sim_s']:.1f} simulated s in {plain['wall_s']:.1f} s of wall time")


if __name__ == "__main__":
    main()
