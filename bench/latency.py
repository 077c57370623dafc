#!/usr/bin/env python3
"""Command -> state-echo latency through Mosquitto, next to the floor, and
contact change -> publication latency.

  echo (sim)    phone publishes {"GP16":v} (QoS1); time until the device's
                {"GP16":v,"TIME":..} arrives back at the phone
  echo (floor)  the same round trip with a plain paho echo client (its own
                process) in place of the device: what broker + paho cost
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
import threading
import time

import benchlib
from sim_harness import LOOSE_GUARDS, Phone, Sim, controller_config, nodelay, unique


def echo_samples(phone, n, warmup, key="GP16"):
    out = []
    for i in range(n + warmup):
        v = (i + 1) % 2
        mark = phone.mark()
        t0 = time.monotonic()
        phone.client.publish(phone.topic, json.dumps({key: v}), qos=1)
        got = phone.messages.wait_timed(
            lambda m: isinstance(m["json"], dict) and "TIME" in m["json"] and m["json"].get(key) == v, 5, mark)
        if got is None:
            raise RuntimeError(f"no echo for sample {i}")
        if i >= warmup:
            out.append(got[0] - t0)
    return out


def contact_samples(sim, phone, n, warmup, pin=0):
    out = []
    closed = False
    for i in range(n + warmup):
        closed = not closed
        want = 1 if closed else 0
        mark = phone.mark()
        t0 = time.monotonic()
        sim.board.contact(pin, closed)
        got = phone.messages.wait_timed(
            lambda m: isinstance(m["json"], dict) and m["json"].get(f"GP{pin}") == want, 5, mark)
        if got is None:
            raise RuntimeError(f"no publication for contact sample {i}")
        if i >= warmup:
            out.append(got[0] - t0)
    return out


def run_echo_peer(port, topic):
    """The floor: a plain paho client that answers every command like the
    device would (same topic, QoS1, TIME marker)."""
    import paho.mqtt.client as mqtt
    c = mqtt.Client(client_id=unique("echo-peer"), protocol=mqtt.MQTTv311)

    def on_message(client, userdata, msg):
        try:
            body = json.loads(msg.payload)
        except ValueError:
            return
        if not isinstance(body, dict) or "TIME" in body:
            return
        body["TIME"] = "floor"
        client.publish(topic, json.dumps(body), qos=1)

    ready = threading.Event()
    c.on_message = on_message
    c.on_subscribe = lambda *a: ready.set()
    def on_connect(client, userdata, flags, rc):
        nodelay(client)
        client.subscribe(topic, qos=1)
    c.on_connect = on_connect
    c.connect("127.0.0.1", port, 30)
    c.loop_start()
    ready.wait(10)
    print("ready", flush=True)
    sys.stdin.read()          # until the parent closes stdin
    c.loop_stop()
    c.disconnect()


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
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert peer.stdout.readline().strip() == "ready"
        phone = Phone(broker.port, topic)
        floor = echo_samples(phone, args.samples, args.warmup)
        phone.close()
        peer.stdin.close()
        peer.wait(10)
        rows.append(dict(what="echo, plain paho peer (floor)", **benchlib.summary_ms(floor)))

        # -- the sim
        topic = unique("bench/sim")
        guards = dict(LOOSE_GUARDS, toggle_max=10000, publish_max=100000, backlog_window_ms=0)
        cfg = controller_config(guards=guards, debounce_ms=0)
        sim = Sim(work / "sim", f"mqtt://127.0.0.1:{broker.port}", topic, config=cfg)
        phone = Phone(broker.port, topic)
        sim.start()
        phone.wait_device(lambda j: "GP16" in j, 5)
        echo = echo_samples(phone, args.samples, args.warmup)
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
