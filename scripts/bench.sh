#!/usr/bin/env bash
# `make bench`: latency, broker-restart recovery and flood benchmarks against
# the real simulator and a private Mosquitto. Not part of `make test`; prints
# tables (copied into docs/performance.md with the command that made them).
#   BENCH_SAMPLES (2000)  echo samples      BENCH_ROUNDS (20)  restart rounds
#   BENCH_FLOOD (100000)  backlog flood     BENCH_FLOOD_LIVE (20000)  live flood
#   MTC_BUILD_DIR         build to measure (default build/)
set -euo pipefail
cd "$(dirname "$0")/.."
export MTC_BUILD_DIR=${MTC_BUILD_DIR:-$PWD/build}
if [ ! -x "$MTC_BUILD_DIR/mqtt-tiny-sim" ]; then
  echo "bench: $MTC_BUILD_DIR/mqtt-tiny-sim not built (run make build)" >&2
  exit 1
fi
py=/usr/bin/python3
echo "bench: $(git rev-parse --short HEAD 2>/dev/null || echo unknown), build $MTC_BUILD_DIR, $(date -u +%Y-%m-%dT%H:%MZ)"
$py bench/latency.py --samples "${BENCH_SAMPLES:-2000}"
$py bench/recovery.py --rounds "${BENCH_ROUNDS:-20}"
$py bench/flood.py --count "${BENCH_FLOOD:-100000}" --mode backlog
$py bench/flood.py --count "${BENCH_FLOOD_LIVE:-20000}" --mode live
