#!/usr/bin/env bash
# `make emu-test`: boots the firmware images on an emulated RP2040 (rp2040js,
# emu/run.mjs) and runs tests/emu against them. Installs the runner's npm
# packages from emu/package-lock.json when they are missing (no network needed
# once emu/node_modules is there). tests/emu/test_network.py runs the network
# image (mqtt_tiny_net) against a real Mosquitto inside a network namespace it
# creates itself (root, as in CI; it fails, never skips, without one), with
# emu/tun_bridge.c built by cc.
#   MTC_FW_DIR     firmware images (default build-target/fw)
#   MTC_BUILD_DIR  host build with mqtt-tiny-config (default build)
#   MTC_BOOTROM    RP2040 B1 boot ROM (default ../shared/third_party/rp2040-bootrom/bootrom-b1.bin)
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "emu-test: node and npm are needed (scripts/deps.sh installs them)" >&2
  exit 1
fi
if [ ! -f emu/node_modules/rp2040js/package.json ] ||
   [ "$(node -p 'require("./emu/node_modules/rp2040js/package.json").version')" != \
     "$(node -p 'require("./emu/package-lock.json").packages["node_modules/rp2040js"].version')" ]; then
  (cd emu && npm ci --no-audit --no-fund)
fi

for tool in cc ip openssl; do
  command -v "$tool" >/dev/null || { echo "emu-test: $tool is needed (scripts/deps.sh installs it)" >&2; exit 1; }
done

export MTC_FW_DIR=${MTC_FW_DIR:-$PWD/build-target/fw}
export MTC_BUILD_DIR=${MTC_BUILD_DIR:-$PWD/build}
exec /usr/bin/python3 -m pytest -q -p no:cacheprovider tests/emu "$@"
