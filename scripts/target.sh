#!/usr/bin/env bash
# `make target` (also a step of `make test`): builds the Pico W firmware for
# RP2040 with Debian's packages and the CYW43 driver, writes its UF2 files with
# our own writer (checked byte for byte against the ELF), the example
# configuration's UF2, and checks the footprint of our own code.
#   - arm-none-eabi-gcc + newlib from the system (scripts/deps.sh installs them);
#   - Pico SDK 2.1.1, TinyUSB 0.18.0, lwIP 2.2.1 and mbedTLS 2.28.3 from
#     Debian's archive through a private apt configuration
#     (scripts/fetch-pico-deps.sh), cached in build-target/ so later runs need
#     no network;
#   - the CYW43 driver (in no package registry): CYW43_DRIVER_PATH, else
#     $PICO_SDK_PATH/lib/cyw43-driver, else ../shared/third_party/cyw43-driver.
# Outputs in build-target/fw: mqtt_tiny.uf2 (the board image: no configuration,
# no secret inside), mqtt_tiny_emu.uf2 (the same firmware for the emulated chip:
# a radio that never finds a network), mqtt_tiny_net.uf2 (the same firmware on
# a SLIP link on UART1, for the emulated chip on a network), config-example.uf2,
# mqtt-tiny-config.
# build-target/fw-embedded checks that a configuration embedded at build time
# still builds (MTC_CONFIG).
# Environment: MTC_CA (the example's CA), MTC_MAX_FLASH / MTC_MAX_RAM (bytes;
# default 64 KB / 12 KB), CYW43_DRIVER_PATH.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
top=$root/build-target
build=$top/fw
jobs=${JOBS:-2}
max_flash=${MTC_MAX_FLASH:-$((64 * 1024))}
max_ram=${MTC_MAX_RAM:-$((12 * 1024))}
config=$root/examples/config.example.json
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

echo "target: sources (Pico SDK, TinyUSB, lwIP, mbedTLS)"
paths=$(scripts/fetch-pico-deps.sh "$top")
eval "$paths"

configure() { # build-dir extra-args...
  local dir=$1; shift
  cmake -S apps/firmware -B "$dir" \
    -DCMAKE_BUILD_TYPE=MinSizeRel \
    -DPICO_SDK_PATH="$PICO_SDK_PATH" \
    -DPICO_LWIP_PATH="$PICO_LWIP_PATH" \
    -DPICO_MBEDTLS_PATH="$PICO_MBEDTLS_PATH" \
    -DPICO_TINYUSB_PATH="$PICO_TINYUSB_PATH" \
    -DPICO_BOARD=pico_w "$@" >"$dir.configure.log" 2>&1 || {
    tail -40 "$dir.configure.log" >&2
    echo "target: cmake configure failed (full log: $dir.configure.log)" >&2
    exit 1
  }
}
build_fw() { # build-dir targets...
  local dir=$1; shift
  if ! cmake --build "$dir" -j"$jobs" "$@" >"$dir.build.log" 2>&1; then
    grep -E "error|Error|invalid configuration|^  " "$dir.build.log" | head -60 >&2
    echo "target: firmware build failed (full log: $dir.build.log)" >&2
    exit 1
  fi
}

echo "target: configure ($build)"
mkdir -p "$top"
configure "$build" -DMTC_CONFIG= -DMTC_CA=
grep -E "mqtt_tiny|cyw43-driver|TinyUSB" "$build.configure.log" | sed 's/^/  /' || true

echo "target: build (board image, emulated-chip images, host tools)"
build_fw "$build"
grep -E "^verified|uf2" "$build.build.log" | sed 's/^/  /' || true
for image in mqtt_tiny mqtt_tiny_emu mqtt_tiny_net; do
  [ -f "$build/$image.uf2" ] || { echo "target: $build/$image.uf2 was not written" >&2; exit 1; }
done

# The example configuration as a config UF2, and the tool refusing a broken
# copy of it (a pin used twice, a WiFi-chip pin) with the parser's messages.
"$build/mqtt-tiny-config" "$config" --ca "$ca" -o "$build/config-example.uf2"
bad=$top/bad-config.json
python3 - "$config" "$bad" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c["relays"][1]["pin"] = c["relays"][0]["pin"]
c["contacts"][0]["pin"] = 24
json.dump(c, open(sys.argv[2], "w"))
PY
rm -f "$top/bad-config.uf2"
if "$build/mqtt-tiny-config" "$bad" --ca "$ca" -o "$top/bad-config.uf2" >"$top/bad-config.log" 2>&1; then
  echo "target: mqtt-tiny-config accepted an invalid configuration" >&2; exit 1
fi
[ ! -e "$top/bad-config.uf2" ] || { echo "target: a UF2 was written for an invalid configuration" >&2; exit 1; }
grep -q "relays\[1\].pin" "$top/bad-config.log" && grep -q "contacts\[0\].pin" "$top/bad-config.log" || {
  cat "$top/bad-config.log" >&2; echo "target: mqtt-tiny-config did not name the bad keys" >&2; exit 1; }
echo "target: mqtt-tiny-config refuses a bad configuration:"
sed 's/^/  /' "$top/bad-config.log"

# A configuration embedded at build time (people who build their own image).
echo "target: configure and build with an embedded configuration ($top/fw-embedded)"
configure "$top/fw-embedded" -DMTC_CONFIG="$config" -DMTC_CA="$ca"
build_fw "$top/fw-embedded" --target mqtt_tiny
grep -E "^config_check" "$top/fw-embedded.build.log" | sed 's/^/  /' || true
if "$build/config_check" "$bad" "$top/bad-config.c" "$ca" >"$top/bad-config-check.log" 2>&1; then
  echo "target: config_check accepted an invalid configuration" >&2; exit 1
fi

elf=$build/mqtt_tiny.elf
map=$build/mqtt_tiny.elf.map
[ -f "$elf" ] && [ -f "$map" ] || { echo "target: $elf or its map is missing" >&2; exit 1; }
echo
echo "target: whole images (SDK, CYW43 driver and its firmware, TinyUSB, lwIP, mbedTLS and ours)"
arm-none-eabi-size "$elf" "$build/mqtt_tiny_emu.elf" "$top/fw-embedded/mqtt_tiny.elf"
ls -l "$build"/*.uf2 | awk '{printf "  %-60s %9d bytes\n", $NF, $5}'
echo
echo "target: our code in the board image (from the map file, after garbage collection)"
python3 apps/firmware/tools/footprint.py "$map" --root "$root" \
  --max-flash "$max_flash" --max-ram "$max_ram"
