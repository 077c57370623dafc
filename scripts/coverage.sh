#!/usr/bin/env bash
# Branch coverage of the portable core (src/core) from the unit tests.
#
# Builds with gcov instrumentation (-DMTC_COVERAGE=ON, -O0) in build-coverage,
# runs ctest, then prints line and branch coverage per file with gcovr.
# Branches gcc emits on lines without source code (closing braces, ...) are
# left out with --exclude-unreachable-branches; --exclude-throw-branches is not
# used: it concerns C++ exceptions and changes nothing for C.
# Fails when the MQTT codec's branch coverage is below MTC_CODEC_MIN_BRANCH (95).
set -euo pipefail
cd "$(dirname "$0")/.."
build=${MTC_COVERAGE_BUILD_DIR:-build-coverage}
min=${MTC_CODEC_MIN_BRANCH:-95}
jobs=${JOBS:-2}

cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Debug -DMTC_COVERAGE=ON >/dev/null
cmake --build "$build" -j"$jobs" >/dev/null
# Counters from an earlier run would add up with this one.
find "$build" -name '*.gcda' -delete
(cd "$build" && ctest --output-on-failure >/dev/null) || {
  echo "coverage: unit tests failed" >&2
  (cd "$build" && ctest --output-on-failure | tail -40) >&2 || true
  exit 1
}

gcovr_args=(-r . --filter 'src/core/' --exclude-unreachable-branches "$build")
echo "== line coverage of src/core"
gcovr "${gcovr_args[@]}"
echo "== branch coverage of src/core"
gcovr "${gcovr_args[@]}" --branches

summary="$build/coverage-summary.json"
gcovr "${gcovr_args[@]}" --json-summary "$summary" >/dev/null
python3 - "$summary" "$min" <<'PY'
import json, sys
data = json.load(open(sys.argv[1]))
minimum = float(sys.argv[2])
for f in data["files"]:
    if f["filename"].endswith("src/core/mqtt_codec.c"):
        pct = 100.0 * f["branch_covered"] / f["branch_total"] if f["branch_total"] else 0.0
        print(f"mqtt_codec.c branch coverage: {pct:.1f}% ({f['branch_covered']}/{f['branch_total']}), "
              f"required {minimum:.0f}%")
        sys.exit(0 if pct >= minimum else 1)
print("coverage: src/core/mqtt_codec.c was not measured", file=sys.stderr)
sys.exit(1)
PY
