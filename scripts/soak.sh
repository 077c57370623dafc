#!/usr/bin/env bash
# Reconnect soak of the MQTT client under ASan+LSan: scripts/soak.sh short|full
#   short (make test): 50 broker restarts + 50 TLS reconnects through the fault proxy
#   full  (make soak): 1000 broker restarts + 10000 TLS reconnects
# The TLS reconnects run again with the unsanitized probe for a tight VmRSS bound.
# Counts can be overridden with SOAK_RESTARTS / SOAK_TLS_CYCLES.
set -euo pipefail
cd "$(dirname "$0")/.."

case "${1:-short}" in
  short) restarts=50;   cycles=50 ;;
  full)  restarts=1000; cycles=10000 ;;
  *) echo "usage: $0 short|full" >&2; exit 2 ;;
esac
restarts=${SOAK_RESTARTS:-$restarts}
cycles=${SOAK_TLS_CYCLES:-$cycles}
build=${MTC_SOAK_BUILD_DIR:-build-asan}          # ASan + LSan: leaks, TLS heap
plain=${MTC_SOAK_RSS_BUILD_DIR:-build}           # no sanitizer: VmRSS of the client itself

if ! compgen -G "apps/probe/*.c" >/dev/null; then
  echo "soak: apps/probe is not written yet, nothing to soak"
  exit 0
fi
if [ ! -f "$build/CMakeCache.txt" ]; then
  cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Debug -DMTC_SANITIZE=ON >/dev/null
fi
if [ ! -f "$plain/CMakeCache.txt" ]; then
  cmake -S . -B "$plain" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
fi
cmake --build "$build" -j"${JOBS:-2}" --target mqtt-tiny-probe >/dev/null
cmake --build "$plain" -j"${JOBS:-2}" --target mqtt-tiny-probe >/dev/null

exec /usr/bin/python3 tests/system/soak.py --build-dir "$build" --rss-build-dir "$plain" \
  --restarts "$restarts" --tls-cycles "$cycles"
