#!/usr/bin/env python3
"""Command -> state-echo latency through Mosquitto, next to the floor, and
contact change -> publication latency.

  echo (sim)    phone publishes {"GP16":v} (QoS1); time until the device's
                {"GP16":v,"TIME":..} arrives back at the phone
  echo (floor)  the same round trip with a plain echo client (its own
                process) in place of the device: what the broker and the
                clients cost
The phone and the floor's echo client are bench/rawmqtt.py: blocking, one
thread, TCP_NODELAY (paho's thread hand-offs would add more than the
device does).
  contact       a contact level set on the virtual board; time until the
                phone receives {"GP0":..} (debounce 0 so that only the path
                is measured; add the configured debounce on a real board)

Usage: bench/latency.py [--samples N]
"""
import argparse
import json
import os
import subprocess
import sys
import time

import benchlib
from rawmqtt import RawClient
from sim_harness import LOOSE_GUARDS, Sim, controller_config, unique


def wait_json(client, pred):
    """Reads messages until one is a JSON object matching pred."""
    while True:
        _, payload = client.next_message()
        try:
            body = json.loads(payload)
        except ValueError:
            continue
        if isinstance(body, dict) and pred(body):
            return body


def echo_samples(client, topic, n, warmup, key="GP16"):
    out = []
    for i in range(n + warmup):
        v = (i + 1) % 2
        t0 = time.perf_counter()
        client.publish(topic, json.dumps({key: v}).encode())
        wait_json(client, lambda j: "TIME" in j and j.get(key) == v)
        if i >= warmup:
            out.append(time.perf_counter() - t0)
    return out


def contact_samples(sim, client, n, warmup, pin=0):
    out = []
    closed = False
    for i in range(n + warmup):
        closed = not closed
        want = 1 if closed else 0
        t0 = time.perf_counter()
        sim.board.contact(pin, closed)
        wait_json(client, lambda j: j.get(f"GP{pin}") == want)
        if i >= warmup:
            out.append(time.perf_counter() - t0)
    return out


def run_echo_peer(port, topic):
    """The floor: a plain client in its own process that answers every command
    like the device would (same topic, QoS1, TIME marker)."""
    c = RawClient("127.0.0.1", port, unique("echo-peer"))
    c.subscribe(topic)
    print("ready", flush=True)
    while True:
        try:
            _, payload = c.next_message()
        except (ConnectionError, OSError):
            return
        try:
            body = json.loads(payload)
        except ValueError:
            continue
        if not isinstance(body, dict) or "TIME" in body:
            continue
        body["TIME"] = "floor"
        c.publish(topic, json.dumps(body).encode())


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--samples", type=int, default=2000)
    ap.add_argument("--warmup", type=int, default=100)
    ap.add_argument("--echo-peer", nargs=2, metavar=("PORT", "TOPIC"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.echo_peer:
        run_echo_peer(int(args.echo_peer[0]), args.echo_peer[1])
        return

    work = benchlib.workdir("latency")
    broker = benchlib.start_broker(work)
    rows = []
    try:
        # -- floor: plain paho echo peer
        topic = unique("bench/floor")
        peer = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--echo-peer", str(broker.port), topic],
                                stdout=subprocess.PIPE, text=True)
        assert peer.stdout.readline().strip() == "ready"
        phone = RawClient("127.0.0.1", broker.port, unique("phone"))
        phone.subscribe(topic)
        floor = echo_samples(phone, topic, args.samples, args.warmup)
        phone.close()
        peer.terminate()
        peer.wait(10)
        rows.append(dict(what="echo, plain client in the device's place (floor)", **benchlib.summary_ms(floor)))

        # -- the sim
        topic = unique("bench/sim")
        guards = dict(LOOSE_GUARDS, toggle_max=10000, publish_max=100000, backlog_window_ms=0)
        cfg = controller_config(guards=guards, debounce_ms=0)
        sim = Sim(work / "sim", f"mqtt://127.0.0.1:{broker.port}", topic, config=cfg)
        phone = RawClient("127.0.0.1", broker.port, unique("phone"))
        phone.subscribe(topic)
        sim.start()
        wait_json(phone, lambda j: "TIME" in j and "GP16" in j)
        echo = echo_samples(phone, topic, args.samples, args.warmup)
        rows.append(dict(what="echo, mqtt-tiny-sim", **benchlib.summary_ms(echo)))
        contact = contact_samples(sim, phone, max(200, args.samples // 4), 20)
        rows.append(dict(what="contact -> publication (debounce 0)", **benchlib.summary_ms(contact)))
        phone.close()
        sim.stop()
    finally:
        broker.stop()

    benchlib.print_table(f"Latency through Mosquitto 2.0 on 127.0.0.1, TCP_NODELAY on all sides "
                         f"({benchlib.machine_line()}), ms",
                         rows, [("what", "path", "{}"), ("n", "samples", "{}"), ("p50", "p50", "{:.3f}"),
                                ("p90", "p90", "{:.3f}"), ("p99", "p99", "{:.3f}"), ("max", "max", "{:.3f}")])
    diff50 = rows[1]["p50"] - rows[0]["p50"]
    print(f"sim echo p50 above the floor: {diff50:+.3f} ms")


if __name__ == "__main__":
    main()
