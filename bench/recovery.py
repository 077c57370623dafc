#!/usr/bin/env python3
"""Broker down and back -> the sim re-subscribed and its state republished.

Each round stops Mosquitto (SIGTERM, or SIGKILL with --kill; no persistence,
so every session is gone), keeps it down for --down seconds, starts it on the
same port and measures, on the test's clock:
  down        broker stopped -> listening again
  resubscribed  broker listening again -> the sim's SUBACK (board event
              "mqtt connected", sent when the subscription is granted)
  recovery    broker listening again -> the sim has handed its full state
              to MQTT (board event "published")
  observed    broker listening again -> a subscriber that connected right
              after the restart receives that full state
Steady mode: the sim stays connected --gap seconds between rounds. Flapping
mode (--flap): the broker goes down again as soon as the sim is back, so
every lost connection is a short one. The sim runs with its default
reconnect policy (no overrides).

Usage: bench/recovery.py [--rounds N] [--down S] [--gap S] [--flap] [--kill]
"""
import argparse
import time

import benchlib
from sim_harness import LOOSE_GUARDS, Phone, Sim, controller_config, is_full_state, unique


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=30)
    ap.add_argument("--kill", action="store_true", help="SIGKILL the broker instead of SIGTERM")
    ap.add_argument("--down", type=float, default=0.0, help="seconds the broker stays down")
    ap.add_argument("--gap", type=float, default=6.0, help="seconds connected before each restart (steady)")
    ap.add_argument("--flap", action="store_true", help="restart again as soon as the sim is back")
    args = ap.parse_args()

    work = benchlib.workdir("recovery")
    broker = benchlib.start_broker(work)
    topic = unique("bench/recovery")
    cfg = controller_config(guards=dict(LOOSE_GUARDS, backlog_window_ms=0))
    sim = Sim(work / "sim", f"mqtt://127.0.0.1:{broker.port}", topic, config=cfg,
              backoff_first_ms=None, backoff_max_ms=None)
    down, resub, recovery, observed = [], [], [], []
    try:
        sim.start()
        for _ in range(args.rounds):
            if not args.flap or not resub:
                time.sleep(args.gap)
            mark = sim.board.events.mark()
            t_stop = time.monotonic()
            if args.kill:
                broker.kill()
            else:
                broker.stop()
            if args.down > 0:
                time.sleep(args.down)
            broker.start()
            t_up = time.monotonic()
            phone = Phone(broker.port, topic) if not args.flap else None
            t_conn, _ = sim.board.events.wait_timed(
                lambda e: e.get("ev") == "mqtt" and e.get("state") == "connected", 120, mark)
            t_pub, _ = sim.board.events.wait_timed(
                lambda e: e.get("ev") == "published" and is_full_state(_json(e["payload"])), 30, mark)
            down.append(t_up - t_stop)
            resub.append(t_conn - t_up)
            recovery.append(t_pub - t_up)
            if phone is not None:
                got = phone.messages.wait_timed(lambda m: phone.is_device(m) and is_full_state(m["json"]), 5)
                if got is not None:
                    observed.append(got[0] - t_up)
                phone.close()
        stats = sim.stats()
        sim.stop()
    finally:
        broker.stop()

    rows = [dict(what="broker down (stop -> listening)", **benchlib.summary_ms(down)),
            dict(what="listening -> re-subscribed (SUBACK)", **benchlib.summary_ms(resub)),
            dict(what="listening -> full state published", **benchlib.summary_ms(recovery))]
    if observed:
        rows.append(dict(what="listening -> full state at a subscriber", **benchlib.summary_ms(observed)))
    mode = "flapping" if args.flap else f"steady, {args.gap:g} s connected between rounds"
    benchlib.print_table(f"Broker {'kill' if args.kill else 'stop'}, down {args.down:g} s, {mode}: "
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
