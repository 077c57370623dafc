"""Shared pieces of the benchmarks: a private Mosquitto (TCP_NODELAY on), the
simulator with its board, percentiles and the table printout.

The benchmarks reuse the system tests' helpers (tests/system) so that they
drive exactly the same binaries the same way; they are never run by
`make test` and assert nothing about timing.
"""
import os
import statistics
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "system"))

from mqtt_env import Mosquitto  # noqa: E402


def workdir(name):
    return Path(tempfile.mkdtemp(prefix=f"mtc-bench-{name}-"))


def start_broker(directory, extra=()):
    return Mosquitto(directory / "broker", extra_config=list(extra), name="bench-broker").start()


def percentile(samples, p):
    """Nearest-rank percentile of a list (p in 0..100)."""
    s = sorted(samples)
    if not s:
        return float("nan")
    k = max(0, min(len(s) - 1, int(round(p / 100.0 * len(s) + 0.5)) - 1))
    return s[k]


def summary_ms(samples):
    ms = [x * 1000.0 for x in samples]
    return {"n": len(ms), "p50": percentile(ms, 50), "p90": percentile(ms, 90),
            "p99": percentile(ms, 99), "max": max(ms) if ms else float("nan"),
            "mean": statistics.fmean(ms) if ms else float("nan")}


def print_table(title, rows, columns):
    """rows: list of dicts; columns: list of (key, header, format)."""
    print(f"\n{title}")
    widths = []
    cells = []
    for key, header, fmt in columns:
        col = [header] + [fmt.format(r[key]) if isinstance(r.get(key), (int, float)) else str(r.get(key, ""))
                          for r in rows]
        widths.append(max(len(c) for c in col))
        cells.append(col)
    line = "| " + " | ".join(cells[i][0].ljust(widths[i]) for i in range(len(columns))) + " |"
    print(line)
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for r in range(1, len(rows) + 1):
        print("| " + " | ".join(cells[i][r].ljust(widths[i]) for i in range(len(columns))) + " |")
    sys.stdout.flush()


def machine_line():
    cpu = "unknown CPU"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        load = open("/proc/loadavg").read().split()[0]
    except OSError:
        load = "?"
    return f"{cpu}, {os.cpu_count()} cores, load {load}"
