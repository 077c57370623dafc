#!/usr/bin/env bash
# Code and RAM footprint of the portable core on the RP2040 (Cortex-M0+).
#
# Compiles every src/core/*.c with Debian's arm-none-eabi-gcc
#   -mcpu=cortex-m0plus -mthumb -Os -ffunction-sections -fdata-sections
#   -std=c11 -Wall -Wextra -Werror
# and prints text/data/bss per object (arm-none-eabi-size; text includes
# read-only data). The MQTT client is mqtt_codec.o + mqtt_client.o, every
# function counted, linked or not. sizeof(mqtt_client) on the M0+ is read with
# arm-none-eabi-nm from a probe object holding a char array of that size.
# Fails if the client's text exceeds MTC_MQTT_MAX_TEXT (8192) bytes or if it
# has any static RAM (data + bss > 0).
set -euo pipefail
cd "$(dirname "$0")/.."
max_text=${MTC_MQTT_MAX_TEXT:-8192}
cc=arm-none-eabi-gcc
flags=(-mcpu=cortex-m0plus -mthumb -Os -ffunction-sections -fdata-sections -std=c11
       -Wall -Wextra -Werror -Isrc/core)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

echo "$($cc --version | head -1)"
echo "flags: ${flags[*]}"
printf '%-28s %7s %6s %6s\n' object text data bss
status=0
mqtt_text=0
mqtt_ram=0
for src in src/core/*.c; do
  name=$(basename "$src" .c)
  if ! $cc "${flags[@]}" -c "$src" -o "$out/$name.o" 2>"$out/$name.err"; then
    echo "footprint: $src does not build for Cortex-M0+:" >&2
    cat "$out/$name.err" >&2
    status=1
    continue
  fi
  read -r text data bss _ < <(arm-none-eabi-size "$out/$name.o" | tail -1)
  printf '%-28s %7d %6d %6d\n' "$name.o" "$text" "$data" "$bss"
  if [ "$name" = mqtt_codec ] || [ "$name" = mqtt_client ]; then
    mqtt_text=$((mqtt_text + text))
    mqtt_ram=$((mqtt_ram + data + bss))
  fi
done

cat >"$out/probe.c" <<'C'
#include "mqtt_client.h"
char mqtt_client_sizeof_probe[sizeof(mqtt_client)];
C
$cc "${flags[@]}" -c "$out/probe.c" -o "$out/probe.o"
struct_hex=$(arm-none-eabi-nm -S "$out/probe.o" | awk '/mqtt_client_sizeof_probe/ {print $2}')
struct_size=$((16#$struct_hex))

echo
echo "MQTT client (mqtt_codec.o + mqtt_client.o): text $mqtt_text bytes (limit $max_text), data+bss $mqtt_ram bytes (limit 0)"
echo "sizeof(mqtt_client) on Cortex-M0+: $struct_size bytes (plus the caller's rx, tx and in-flight buffers)"
if [ "$mqtt_text" -gt "$max_text" ]; then
  echo "footprint: MQTT client text $mqtt_text > $max_text bytes" >&2
  status=1
fi
if [ "$mqtt_ram" -ne 0 ]; then
  echo "footprint: MQTT client has $mqtt_ram bytes of static RAM" >&2
  status=1
fi
exit $status
