#!/usr/bin/env bash
# `make target` (also the last step of `make test`): builds and links the Pico W
# firmware for RP2040 with Debian's packages only, and checks the footprint of
# our own code.
#   - arm-none-eabi-gcc + newlib from the system (scripts/deps.sh installs them);
#   - Pico SDK 2.1.1 sources, lwIP 2.2.1 and mbedTLS 2.28.3 from Debian's archive
#     through a private apt configuration (scripts/fetch-pico-deps.sh), cached in
#     build-target/ so later runs need no network.
# Debian's SDK sources have no CYW43 WiFi driver, so this image links the
# CI-only no-radio stub (src/platform/pico/radio_none.c) in place of the one
# CYW43 file; everything else is the real firmware. No picotool: ELF only.
# Environment: MTC_CONFIG (default examples/config.example.json), MTC_CA,
# MTC_MAX_FLASH / MTC_MAX_RAM (bytes; default 48 KB / 12 KB).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
top=$root/build-target
build=$top/fw
jobs=${JOBS:-2}
max_flash=${MTC_MAX_FLASH:-$((48 * 1024))}
max_ram=${MTC_MAX_RAM:-$((12 * 1024))}
config=${MTC_CONFIG:-$root/examples/config.example.json}
# The example talks to HiveMQ Cloud (mqtts), whose chain ends at ISRG Root X1;
# without Debian's ca-certificates, a throwaway CA stands in (the image only
# has to link).
ca=${MTC_CA:-/etc/ssl/certs/ISRG_Root_X1.pem}
if [ ! -f "$ca" ]; then
  ca=$top/ci-ca.pem
  if [ ! -f "$ca" ]; then
    mkdir -p "$top"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 3650 \
      -subj "/CN=mqtt-tiny CI CA" -keyout "$top/ci-ca.key" -out "$ca" 2>/dev/null
  fi
fi

for tool in arm-none-eabi-gcc arm-none-eabi-size cmake python3; do
  command -v "$tool" >/dev/null || { echo "target: $tool is missing (run scripts/deps.sh)" >&2; exit 1; }
done

echo "target: sources (Pico SDK, lwIP, mbedTLS)"
paths=$(scripts/fetch-pico-deps.sh "$top")
eval "$paths"

picotool_opt=()
if ! command -v picotool >/dev/null; then
  echo "target: picotool not installed: building the ELF only (no UF2)"
  picotool_opt=(-DPICO_NO_PICOTOOL=1)
fi

echo "target: configure ($build)"
cmake -S apps/firmware -B "$build" \
  -DCMAKE_BUILD_TYPE=MinSizeRel \
  -DPICO_SDK_PATH="$PICO_SDK_PATH" \
  -DPICO_LWIP_PATH="$PICO_LWIP_PATH" \
  -DPICO_MBEDTLS_PATH="$PICO_MBEDTLS_PATH" \
  -DPICO_BOARD=pico_w "${picotool_opt[@]}" \
  -DMTC_CONFIG="$config" \
  -DMTC_CA="$ca" >"$top/configure.log" 2>&1 || {
  tail -40 "$top/configure.log" >&2
  echo "target: cmake configure failed (full log: $top/configure.log)" >&2
  exit 1
}
grep -E "mqtt_tiny|CYW43|picotool" "$top/configure.log" | sed 's/^/  /' || true

echo "target: build"
if ! cmake --build "$build" -j"$jobs" >"$top/build.log" 2>&1; then
  grep -E "error|Error|invalid configuration|^  " "$top/build.log" | head -60 >&2
  echo "target: firmware build failed (full log: $top/build.log)" >&2
  exit 1
fi
grep -E "^config_check" "$top/build.log" || true

# The build-time check must refuse a bad configuration with the parser's own
# messages (a broken copy of the example: a pin used twice, a WiFi-chip pin).
bad=$top/bad-config.json
python3 - "$root/examples/config.example.json" "$bad" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c["relays"][1]["pin"] = c["relays"][0]["pin"]
c["contacts"][0]["pin"] = 24
json.dump(c, open(sys.argv[2], "w"))
PY
if "$build/config_check" "$bad" "$top/bad-config.c" "$ca" >"$top/bad-config.log" 2>&1; then
  echo "target: config_check accepted an invalid configuration" >&2; exit 1
fi
grep -q "relays\[1\].pin" "$top/bad-config.log" && grep -q "contacts\[0\].pin" "$top/bad-config.log" || {
  cat "$top/bad-config.log" >&2; echo "target: config_check did not name the bad keys" >&2; exit 1; }
echo "target: config_check refuses a bad configuration:"
sed 's/^/  /' "$top/bad-config.log"

elf=$build/mqtt_tiny.elf
map=$build/mqtt_tiny.elf.map
[ -f "$elf" ] && [ -f "$map" ] || { echo "target: $elf or its map is missing" >&2; exit 1; }
echo
echo "target: whole image (SDK, lwIP, mbedTLS and ours)"
arm-none-eabi-size "$elf"
[ -f "$build/mqtt_tiny.uf2" ] && echo "target: UF2: $build/mqtt_tiny.uf2"
echo
echo "target: our code in the linked image (from the map file, after garbage collection)"
python3 apps/firmware/tools/footprint.py "$map" --root "$root" \
  --max-flash "$max_flash" --max-ram "$max_ram"
