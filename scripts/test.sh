#!/usr/bin/env bash
# `make test`: every check that gates a change, in one run.
set -euo pipefail
cd "$(dirname "$0")/.."
export JOBS=${JOBS:-2}
start=$(date +%s)
step() { printf '\n=== %s (%ds)\n' "$*" "$(( $(date +%s) - start ))"; }

# Runs the system tests; exit code 5 means pytest found no tests, which is only
# acceptable while there is no binary to test.
system_tests() {
  local build=$1
  MTC_BUILD_DIR=$PWD/$build /usr/bin/python3 -m pytest -q -p no:cacheprovider tests/system
}

step "host build (warnings are errors)"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$JOBS"

step "unit tests"
(cd build && ctest --output-on-failure)

step "system tests against Mosquitto"
system_tests build

step "ASan + UBSan build: unit and system tests"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DMTC_SANITIZE=ON >/dev/null
cmake --build build-asan -j"$JOBS"
(cd build-asan && ctest --output-on-failure)
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 system_tests build-asan

step "branch coverage of the core"
scripts/coverage.sh

step "fuzzing (short run)"
scripts/fuzz.sh short

step "reconnect soak (short)"
scripts/soak.sh short

step "footprint on Cortex-M0+"
scripts/footprint.sh

step "RP2040 firmware build (board image, emulated-chip image, UF2 files)"
scripts/target.sh

step "the firmware on an emulated RP2040"
scripts/emu-test.sh

step "setup page: wasm parser and page build, tests in headless Chromium"
scripts/web.sh
/usr/bin/python3 -m pytest -q -p no:cacheprovider tests/web

step "done"
echo "make test: all checks passed"
