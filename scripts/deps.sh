#!/usr/bin/env bash
# Installs the Debian packages the host build, the tests and the tools need.
# Idempotent: does nothing (and needs no network) when everything is there.
set -euo pipefail

packages=(
  cmake make gcc g++ clang llvm libclang-rt-14-dev pkg-config
  libmbedtls-dev libcmocka-dev
  mosquitto mosquitto-clients openssl iproute2
  python3 python3-pytest python3-paho-mqtt
  gcovr valgrind
  gcc-arm-none-eabi libnewlib-arm-none-eabi binutils-arm-none-eabi
  lld ca-certificates chromium
)

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null || true)
  [[ "$status" == ii* ]] || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "deps: installing ${missing[*]}"
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# The broker is started by our tests and scripts on their own ports, never as a system service.
if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet mosquitto 2>/dev/null; then
  $sudo systemctl stop mosquitto || true
fi
