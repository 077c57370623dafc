#!/usr/bin/env bash
# Runs every libFuzzer target (fuzz/fuzz_*.c) on its corpus.
#
#   scripts/fuzz.sh short   15 s per target (make test)
#   scripts/fuzz.sh long    10,000,000 runs per target (make fuzz)
#
# Builds with clang, ASan + UBSan (-DMTC_FUZZ=ON) in build-fuzz. Each target
# starts from fuzz/corpus/<name without fuzz_>/, copied to a temporary
# directory so the repository stays clean; crash, leak and timeout inputs are
# kept in build-fuzz/artifacts/. Prints executions and exec/s per target and
# exits non-zero if any target found a crash, a leak or a timeout.
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-short}
case "$mode" in
  short) limit=(-max_total_time="${MTC_FUZZ_SECONDS:-15}") ;;
  long) limit=(-runs="${MTC_FUZZ_RUNS:-10000000}") ;;
  *) echo "usage: $0 short|long" >&2; exit 2 ;;
esac
build=${MTC_FUZZ_BUILD_DIR:-build-fuzz}
jobs=${JOBS:-2}

shopt -s nullglob
# Listed before the build so that the list matches what was built.
targets=(fuzz/fuzz_*.c)
if [ ${#targets[@]} -eq 0 ]; then
  echo "fuzz: no targets in fuzz/" >&2
  exit 1
fi

# UBSan findings must stop the run like ASan's do.
CC=clang cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMTC_FUZZ=ON \
  -DCMAKE_C_FLAGS="-fno-sanitize-recover=all" >/dev/null
cmake --build "$build" -j"$jobs" >/dev/null

artifacts="$PWD/$build/artifacts"
mkdir -p "$artifacts"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1

failed=()
printf '%-18s %12s %10s %8s  %s\n' target executions exec/s seconds result
for src in "${targets[@]}"; do
  name=$(basename "$src" .c)
  bin="$build/fuzz/$name"
  corpus="$work/${name#fuzz_}"
  mkdir -p "$corpus"
  if [ -d "fuzz/corpus/${name#fuzz_}" ]; then
    cp -r "fuzz/corpus/${name#fuzz_}/." "$corpus/"
  fi
  log="$work/$name.log"
  start=$(date +%s.%N)
  status=0
  "$bin" "${limit[@]}" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$artifacts/$name-" "$corpus" >"$log" 2>&1 || status=$?
  end=$(date +%s.%N)
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  execs=${execs:-0}
  read -r secs rate < <(python3 -c "import sys; s=max(float(sys.argv[2])-float(sys.argv[1]),1e-9); print(f'{s:.1f}', int(int(sys.argv[3])/s))" "$start" "$end" "$execs")
  result=ok
  if [ "$status" -ne 0 ] || grep -qE '^(==[0-9]+==ERROR|SUMMARY: )|runtime error:' "$log"; then
    result="FAILED (exit $status)"
    failed+=("$name")
    cp "$log" "$artifacts/$name.log"
  fi
  printf '%-18s %12s %10s %8s  %s\n' "$name" "$execs" "$rate" "$secs" "$result"
done
if [ ${#failed[@]} -ne 0 ]; then
  for name in "${failed[@]}"; do
    echo "--- $name: end of its log ($artifacts/$name.log)"
    tail -30 "$artifacts/$name.log"
  done
  echo "fuzz: ${#failed[@]} target(s) failed: ${failed[*]}" >&2
  exit 1
fi
echo "fuzz: all ${#targets[@]} targets clean"
