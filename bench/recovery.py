#!/usr/bin/env python3
"""Broker restart -> state republished, N times.

Each round restarts Mosquitto (SIGTERM, then start on the same port; no
persistence, so every session is gone) and measures, on the test's clock:
  down      broker stopped -> listening again
  recovery  broker listening again -> the sim has handed its full state to
            MQTT (board event "published" after "mqtt connected")
  observed  broker listening again -> a subscriber that connected right
            after the restart receives that full state
The sim runs with its default reconnect backoff (no overrides). The client
retries fast (after ~250 ms) only when the lost connection had been up for
5 s, so rounds are spaced by --gap seconds (default 6).

Usage: bench/recovery.py [--rounds N] [--gap S] [--kill]
"""
import argparse
import time

import benchlib
from sim_harness import LOOSE_GUARDS, Phone, Sim, controller_config, is_full_state, unique


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=30)
    ap.add_argument("--kill", action="store_true", help="SIGKILL the broker instead of SIGTERM")
    ap.add_argument("--gap", type=float, default=6.0, help="seconds connected before each restart")
    args = ap.parse_args()

    work = benchlib.workdir("recovery")
    broker = benchlib.start_broker(work)
    topic = unique("bench/recovery")
    cfg = controller_config(guards=dict(LOOSE_GUARDS, backlog_window_ms=0))
    sim = Sim(work / "sim", f"mqtt://127.0.0.1:{broker.port}", topic, config=cfg,
              backoff_first_ms=None, backoff_max_ms=None)
    down, recovery, observed = [], [], []
    try:
        sim.start()
        for _ in range(args.rounds):
            time.sleep(args.gap)
            mark = sim.board.events.mark()
            t_stop = time.monotonic()
            if args.kill:
                broker.kill()
            else:
                broker.stop()
            broker.start()
            t_up = time.monotonic()
            phone = Phone(broker.port, topic)
            conn = sim.board.events.wait(lambda e: e.get("ev") == "mqtt" and e.get("state") == "connected",
                                         30, mark, what="reconnect")
            del conn
            t_pub, _ = sim.board.events.wait_timed(
                lambda e: e.get("ev") == "published" and is_full_state(_json(e["payload"])), 30, mark)
            got = phone.messages.wait_timed(lambda m: phone.is_device(m) and is_full_state(m["json"]), 5)
            down.append(t_up - t_stop)
            recovery.append(t_pub - t_up)
            if got is not None:
                observed.append(got[0] - t_up)
            phone.close()
        stats = sim.stats()
        sim.stop()
    finally:
        broker.stop()

    rows = [dict(what="broker down (stop -> listening)", **benchlib.summary_ms(down)),
            dict(what="recovery: listening -> full state published", **benchlib.summary_ms(recovery)),
            dict(what="listening -> full state at a subscriber", **benchlib.summary_ms(observed))]
    benchlib.print_table(f"Broker {'kill' if args.kill else 'restart'} -> state republished, "
                         f"{args.rounds} rounds ({benchlib.machine_line()}), ms",
                         rows, [("what", "interval", "{}"), ("n", "rounds", "{}"), ("p50", "p50", "{:.1f}"),
                                ("p90", "p90", "{:.1f}"), ("max", "max", "{:.1f}")])
    print(f"sim counted outages: {benchlib_counter(stats, 'outages')}, "
          f"connections: {benchlib_counter(stats, 'connections')}")


def _json(text):
    import json
    try:
        return json.loads(text)
    except ValueError:
        return None


def benchlib_counter(stats, name):
    from sim_harness import counter
    try:
        return counter(stats, name)
    except AssertionError:
        return "?"


if __name__ == "__main__":
    main()
