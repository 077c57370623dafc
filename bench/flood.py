#!/usr/bin/env python3
"""Flood: N commands (default 100,000) in one burst at the sim, QoS1, with the
original's default guards. Reports how fast the controller processed them,
how many relay changes and publications got through (the guards' job), and
the sim's peak memory. The broker is told to queue everything for the device
so that no command is dropped on the way.

Two shapes of burst:
  backlog  the commands are queued while the device's WiFi is down and the
           broker delivers them all at once when it comes back (the
           original's "flooded incoming messages in a single batch, such as
           after WiFi reconnection"); the rate is the device's own
  live     the commands are published while the device is online; the rate
           is bounded by the publishers

Publishers are mosquitto_pub -l processes (C, QoS1, one message per line),
four in parallel, so that Python is not the bottleneck.

Usage: bench/flood.py [--count N] [--mode backlog|live] [--payload relay|mixed]
"""
import argparse
import subprocess
import time

import benchlib
from sim_harness import Phone, Sim, controller_config, counter, unique

MIXED = [b'{"GP16":1}', b'{"GP17":0}', b'{"GP18":1}', b'{"CMD":"refresh"}', b'{"GP99":1}',
         b'not json', b'{"CMD":"stats"}', b'{"GP1":1}', b'{"GP16":0}']
PUBLISHERS = 4


def peak_rss_kb(pid):
    try:
        for line in open(f"/proc/{pid}/status"):
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return -1


def publish_burst(port, topic, payloads):
    """Publishes every payload with QoS1 through PUBLISHERS parallel
    mosquitto_pub -l processes; returns when all are acknowledged."""
    procs = []
    for k in range(PUBLISHERS):
        lines = b"\n".join(payloads[k::PUBLISHERS]) + b"\n"
        p = subprocess.Popen(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(port), "-t", topic, "-q", "1",
                              "-l", "-i", unique("flood-pub")], stdin=subprocess.PIPE)
        procs.append((p, lines))
    for p, lines in procs:
        p.stdin.write(lines)
        p.stdin.close()
    for p, _ in procs:
        if p.wait(900) != 0:
            raise RuntimeError("mosquitto_pub failed")


def wait_processed(sim, base, count, timeout=900):
    deadline = time.monotonic() + timeout
    seen = 0
    while time.monotonic() < deadline:
        seen = counter(sim.stats(), "messages") - base
        if seen >= count:
            break
        time.sleep(0.02)
    return seen, time.monotonic()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--count", type=int, default=100000)
    ap.add_argument("--mode", choices=("backlog", "live"), default="backlog")
    ap.add_argument("--payload", choices=("relay", "mixed"), default="relay")
    args = ap.parse_args()

    if args.payload == "relay":
        payloads = [b'{"GP16":%d}' % ((i + 1) % 2) for i in range(args.count)]
    else:
        payloads = [MIXED[i % len(MIXED)] for i in range(args.count)]

    work = benchlib.workdir("flood")
    broker = benchlib.start_broker(work, extra=["max_queued_messages 10000000", "max_queued_bytes 0"])
    topic = unique("bench/flood")
    cfg = controller_config()            # the original's guards (defaults)
    cfg.pop("guards", None)
    sim = Sim(work / "sim", f"mqtt://127.0.0.1:{broker.port}", topic, config=cfg)
    try:
        sim.start()
        phone = Phone(broker.port, topic)
        # one WiFi blip: the session is persistent from then on
        mark = sim.board.events.mark()
        sim.wifi(False)
        sim.board.wait_mqtt("disconnected", 5, mark)
        sim.wifi(True)
        sim.board.wait_mqtt("connected", 5, mark)
        time.sleep(3.2)                  # past the backlog window of that reconnect
        rss_before = peak_rss_kb(sim.proc.pid)
        before = sim.stats()
        base = counter(before, "messages")
        mark = sim.board.events.mark()
        if args.mode == "backlog":
            sim.wifi(False)
            sim.board.wait_mqtt("disconnected", 5, mark)
            t_pub = time.monotonic()
            publish_burst(broker.port, topic, payloads)
            t_pub = time.monotonic() - t_pub
            t0 = time.monotonic()
            sim.wifi(True)
        else:
            t0 = time.monotonic()
            publish_burst(broker.port, topic, payloads)
            t_pub = time.monotonic() - t0
        seen, t_done = wait_processed(sim, base, args.count)
        time.sleep(0.5)
        alive = sim.alive()
        stats = sim.stats()
        changes = sim.board.outputs(16, mark) + sim.board.outputs(17, mark) + sim.board.outputs(18, mark)
        published = sim.board.events.items(mark, lambda e: e.get("ev") == "published")
        rss_after = peak_rss_kb(sim.proc.pid)
        phone.close()
        rc = sim.stop()
    finally:
        broker.stop()

    took = t_done - t0
    rows = [
        dict(what="commands sent / processed by the controller", value=f"{args.count} / {seen}"),
        dict(what=f"publishing them ({PUBLISHERS} x mosquitto_pub -l, QoS1)", value=f"{t_pub:.2f} s"),
        dict(what="processing: " + ("WiFi up -> all processed" if args.mode == "backlog"
                                    else "first publish -> all processed"), value=f"{took:.2f} s"),
        dict(what="processing rate", value=f"{seen / took:.0f} msg/s"),
        dict(what="relay output changes (GP16-GP18)", value=len(changes)),
        dict(what="publications (data-usage guard: 20 / 10 s)", value=len(published)),
        dict(what="cooldown / toggle / locked skips", value="{} / {} / {}".format(
            counter(stats, "cooldown_skips"), counter(stats, "toggle_skips"), counter(stats, "locked_skips"))),
        dict(what="sim MQTT outages / protocol errors / dropped packets during the flood",
             value=" / ".join(str(counter(stats, k) - counter(before, k))
                              for k in ("mqtt_outages", "mqtt_protocol_errors", "mqtt_dropped_packets"))),
        dict(what="sim peak RSS before / after", value=f"{rss_before} / {rss_after} KiB"),
        dict(what="sim alive afterwards; exit code on SIGTERM", value=f"{alive}; {rc}"),
    ]
    benchlib.print_table(f"Flood: {args.count} {args.payload} commands, {args.mode}, QoS1, default guards "
                         f"({benchlib.machine_line()})", rows,
                         [("what", "measure", "{}"), ("value", "value", "{}")])


if __name__ == "__main__":
    main()
