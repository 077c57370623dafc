#!/usr/bin/python3
"""Reconnect soak of the MQTT client (mqtt-tiny-probe, built with ASan+LSan).

Phase 1, "broker restarts": a plain Mosquitto is restarted N times (even
cycles SIGTERM, odd cycles SIGKILL); each cycle waits until the probe is
connected and subscribed again.
Phase 2, "tls cuts": the probe talks TLS to Mosquitto through the fault
proxy, which cuts the connection M times; each cycle waits for "connected".
Phase 3 (with --rss-build-dir), "tls cuts, no sanitizer": phase 2 again with
the probe built without sanitizers, where VmRSS is the client's own memory
and its bound is tight.

After every cycle the probe's stats are read: the TLS heap in use must come
back to the same figure and its peak must not grow. At the end of each phase
a QoS1 message goes both ways, the counters must match the cycles, VmRSS
must not have grown beyond a small bound, and the probe must exit 0 with no
sanitizer (leak) report. A table of cycle times and figures is printed;
the exit code is 1 if any check failed.

Run by scripts/soak.sh short|full.
"""

import argparse
import os
import signal
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from faultproxy import FaultProxy  # noqa: E402
from mqtt_env import CertAuthority, Mosquitto, Peer  # noqa: E402
from probe import Probe, probe_args, probe_path  # noqa: E402

# Short waits: a connection that lives less than the client's stability
# time earns the growing backoff, so its cap sets the pace of a cycle.
BACKOFF = dict(backoff_first_ms=20, backoff_base_ms=30, backoff_max_ms=60, connect_timeout_ms=5000)
# ASan keeps freed blocks in a quarantine (256 MB by default), which would
# show as RSS growth that is not ours; a small one keeps RSS meaningful.
SOAK_ASAN = "detect_leaks=1:abort_on_error=1:quarantine_size_mb=4:malloc_context_size=10"
# VmRSS is compared between the end and a sample taken after the warm-up
# cycles (ASan's quarantine and allocator caches fill during the first ones).
# Under ASan the sanitizer's own bookkeeping adds a slow drift of a fraction
# of a kB per reconnect (the same client built without sanitizers stays flat
# to the kB), so the sanitized phases get a loose bound and the unsanitized
# phase (--rss-build-dir) a tight one.
RSS_BOUND_KB = 8192
RSS_BOUND_PLAIN_KB = 256
RSS_WARMUP_CYCLES = 20
# The TLS heap in use after a handshake varies by a few bytes between
# handshakes (sizes of the ephemeral key numbers); more would be growth.
HEAP_JITTER = 64


class Phase:
    def __init__(self, name, rss_bound_kb=RSS_BOUND_KB):
        self.name = name
        self.rss_bound_kb = rss_bound_kb
        self.cycle_ms = []
        self.failures = []
        self.first = self.last = None
        self.base = None
        self.in_use = []
        self.rss = []
        self.rss_warm = None            # VmRSS after RSS_WARMUP_CYCLES

    def check(self, ok, message):
        if not ok:
            self.failures.append(message)
        return ok

    def row(self):
        c = sorted(self.cycle_ms) or [0]
        p95 = c[min(len(c) - 1, int(len(c) * 0.95))]
        last = self.last or {}
        return [self.name, len(self.cycle_ms), f"{sum(c) / 1000:.1f}", f"{c[0]:.0f}",
                f"{statistics.median(c):.0f}", f"{p95:.0f}", f"{c[-1]:.0f}",
                last.get("connects", "-"), last.get("outages", "-"), last.get("connect_failures", "-"),
                f"{min(self.in_use)}..{max(self.in_use)}" if self.in_use else "-",
                f"{self.first.get('tls_heap_peak', '-')}->{last.get('tls_heap_peak', '-')}"
                if self.first else "-",
                f"{self.rss[0]}/{self.rss_warm}/{self.rss[-1]}" if self.rss else "-",
                "ok" if not self.failures else "FAIL"]


def start_probe(binary, url, **options):
    p = Probe(probe_args(url, **options), binary=binary, env={"ASAN_OPTIONS": SOAK_ASAN},
              name=f"probe {binary}")
    return p.start()


def after_cycle(phase, probe, cycle):
    """Reads the stats after a reconnect. The first reconnect sets the
    baseline; after it the TLS heap in use must stay within HEAP_JITTER of
    it and the peak must not grow beyond it."""
    s = probe.stats(timeout=10)
    phase.last = s
    phase.in_use.append(s["tls_heap_in_use"])
    if phase.first is None:
        phase.first = s
        return
    if phase.base is None:
        phase.base = s
        return
    base = phase.base
    phase.check(abs(s["tls_heap_in_use"] - base["tls_heap_in_use"]) <= HEAP_JITTER,
                f"cycle {cycle}: tls_heap_in_use {s['tls_heap_in_use']}, "
                f"baseline {base['tls_heap_in_use']}")
    phase.check(s["tls_heap_peak"] <= base["tls_heap_peak"] + HEAP_JITTER,
                f"cycle {cycle}: tls_heap_peak grew to {s['tls_heap_peak']} "
                f"from {base['tls_heap_peak']}")


def finish(phase, probe, broker, cycles, ca=None, progress=None):
    """Round trip both ways, counters, RSS, clean exit."""
    peer = Peer(broker, ca=ca).connect()
    try:
        peer.subscribe("soak/up", 1)
        mark = probe.mark()
        peer.publish("soak/down/end", b"end of soak", qos=1)
        probe.wait_for("message", lambda e: e["payload"] == "end of soak", since=mark, timeout=10)
        e = probe.publish(1, "soak/up", "round trip", timeout=10)
        probe.wait_for("acked", lambda a: a["id"] == e["id"], since=mark, timeout=10)
        peer.wait_message("soak/up", b"round trip", timeout=10)
    except AssertionError as err:
        phase.check(False, f"final round trip: {str(err).splitlines()[0]}")
    finally:
        peer.close()
    s = probe.stats(timeout=10)
    phase.last = s
    phase.check(s["connects"] == cycles + 1, f"connects {s['connects']} != {cycles + 1}")
    phase.check(s["outages"] == cycles, f"outages {s['outages']} != {cycles}")
    phase.check(s["protocol_errors"] == 0, f"protocol_errors {s['protocol_errors']}")
    phase.check(s["dropped_packets"] == 0, f"dropped_packets {s['dropped_packets']}")
    phase.check(s["inflight"] == 0, f"inflight {s['inflight']}")
    phase.rss.append(probe.rss_kb())
    warm = phase.rss_warm or phase.rss[0]
    phase.check(phase.rss[-1] - warm <= phase.rss_bound_kb,
                f"VmRSS grew {warm} -> {phase.rss[-1]} kB after the warm-up "
                f"(bound {phase.rss_bound_kb} kB)")
    try:
        probe.stop(timeout=30)
    except AssertionError as err:
        phase.check(False, f"probe exit: {err}")


def sample_rss(phase, probe, done, cycles):
    if done == min(RSS_WARMUP_CYCLES, cycles):
        phase.rss_warm = probe.rss_kb()
    if done % max(1, cycles // 10) == 0:
        phase.rss.append(probe.rss_kb())


def progress(phase, i, total, t0):
    step = max(1, total // 10)
    if (i + 1) % step == 0 or i + 1 == total:
        c = phase.cycle_ms[-step:]
        print(f"  {phase.name}: {i + 1}/{total} cycles, {time.monotonic() - t0:.0f}s, "
              f"last {len(c)} median {statistics.median(c):.0f} ms, "
              f"rss {phase.rss[0]}->{phase.rss[-1] if len(phase.rss) > 1 else '-'} kB",
              flush=True)


def broker_restarts(binary, workdir, cycles):
    phase = Phase("broker restarts")
    broker = Mosquitto(os.path.join(workdir, "plain"), name="soak-plain").start()
    probe = start_probe(binary, broker.url, sub="soak/down/#", sub_qos=1, keepalive=5,
                        id="soak-plain", session="clean_first", **BACKOFF)
    try:
        probe.wait_for("subscribed", timeout=10)
        after_cycle(phase, probe, 0)
        phase.rss.append(probe.rss_kb())
        t0 = time.monotonic()
        for i in range(cycles):
            mark = probe.mark()
            start = time.monotonic()
            if i % 2:
                broker.kill()
                broker.start()
            else:
                broker.restart()
            probe.wait_for("connected", since=mark, timeout=15)
            probe.wait_for("subscribed", since=mark, timeout=15)
            phase.cycle_ms.append((time.monotonic() - start) * 1000)
            after_cycle(phase, probe, i + 1)
            sample_rss(phase, probe, i + 1, cycles)
            progress(phase, i, cycles, t0)
        finish(phase, probe, broker, cycles)
    except AssertionError as err:
        phase.check(False, str(err))
    finally:
        probe.kill()                    # only if the checks above did not stop it
        broker.stop()
    return phase


def tls_cuts(binary, workdir, cycles, name="tls cuts", rss_bound_kb=RSS_BOUND_KB):
    phase = Phase(name, rss_bound_kb)
    ca = CertAuthority(os.path.join(workdir, "pki"), "soak").issue_server()
    broker = Mosquitto(os.path.join(workdir, name.replace(" ", "-")), tls=ca,
                       name="soak-tls").start()
    proxy = FaultProxy(broker.port)
    probe = start_probe(binary, proxy.url("mqtts", "localhost"), ca=ca.ca_cert,
                        sub="soak/down/#", sub_qos=1, keepalive=10, id="soak-tls",
                        session="clean_first", **BACKOFF)
    try:
        probe.wait_for("subscribed", timeout=15)
        after_cycle(phase, probe, 0)
        phase.rss.append(probe.rss_kb())
        t0 = time.monotonic()
        mark = 0
        for i in range(cycles):
            mark = probe.mark()
            start = time.monotonic()
            proxy.cut()
            probe.wait_for("connected", since=mark, timeout=15)
            phase.cycle_ms.append((time.monotonic() - start) * 1000)
            after_cycle(phase, probe, i + 1)
            sample_rss(phase, probe, i + 1, cycles)
            progress(phase, i, cycles, t0)
        probe.wait_for("subscribed", since=mark, timeout=15)
        finish(phase, probe, broker, cycles, ca=ca.ca_cert)
    except AssertionError as err:
        phase.check(False, str(err))
    finally:
        probe.kill()
        proxy.close()
        broker.stop()
    return phase


def print_table(phases):
    head = ["phase", "cycles", "total s", "min ms", "median ms", "p95 ms", "max ms", "connects",
            "outages", "conn fails", "tls heap in use min..max", "tls heap peak", "VmRSS kB start/warm/end", "result"]
    rows = [head] + [[str(x) for x in p.row()] for p in phases]
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    for n, r in enumerate(rows):
        print("  ".join(x.rjust(w) for x, w in zip(r, widths)))
        if n == 0:
            print("  ".join("-" * w for w in widths))
    for p in phases:
        for f in p.failures[:20]:
            print(f"FAIL {p.name}: {f}")
        if len(p.failures) > 20:
            print(f"FAIL {p.name}: ... {len(p.failures) - 20} more")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build-dir", default=os.environ.get("MTC_BUILD_DIR", "build-asan"))
    ap.add_argument("--restarts", type=int, default=50)
    ap.add_argument("--tls-cycles", type=int, default=50)
    ap.add_argument("--rss-build-dir", help="also run the TLS cuts with the probe of this "
                    "(unsanitized) build, for a tight VmRSS bound")
    args = ap.parse_args()
    binary = probe_path(os.path.abspath(args.build_dir))
    if not os.path.exists(binary):
        print(f"soak: {binary} not found", file=sys.stderr)
        return 2
    print(f"soak: {binary}, {args.restarts} broker restarts, {args.tls_cycles} TLS cuts, "
          f"ASAN_OPTIONS={SOAK_ASAN}", flush=True)
    phases = []
    with tempfile.TemporaryDirectory(prefix="mtc-soak-") as workdir:
        if args.restarts:
            phases.append(broker_restarts(binary, workdir, args.restarts))
        if args.tls_cycles:
            phases.append(tls_cuts(binary, workdir, args.tls_cycles))
        if args.tls_cycles and args.rss_build_dir:
            plain = probe_path(os.path.abspath(args.rss_build_dir))
            phases.append(tls_cuts(plain, workdir, args.tls_cycles, "tls cuts, no sanitizer",
                                   RSS_BOUND_PLAIN_KB))
    print()
    print_table(phases)
    failed = any(p.failures for p in phases)
    print(f"soak: {'FAILED' if failed else 'passed'}")
    return 1 if failed else 0


if __name__ == "__main__":
    # SIGTERM ends the run like ^C: brokers and probes are stopped on the way out.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    sys.exit(main())
