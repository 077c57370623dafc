#!/usr/bin/env bash
# Fetches the sources the RP2040 CI build needs, from Debian's archive, into
# build-target/deps (or $1), without touching the system's apt configuration:
#   pico-sdk-source  (trixie, binary package holding the Pico SDK 2.1.1 sources)
#   tinyusb-source   (trixie, binary package, TinyUSB 0.18.0: what SDK 2.1.1 pins;
#                     the firmware logs over USB CDC)
#   lwip             (trixie source package, 2.2.1)
#   mbedtls          (bookworm source package, 2.28.3: what SDK 2.1.1 expects)
# A private sources.list, state, cache and lists directory live under
# build-target/apt. Once unpacked, a second run needs no network.
# Prints the four paths as shell assignments on its last lines.
set -euo pipefail
cd "$(dirname "$0")/.."

top=${1:-$PWD/build-target}
apt_dir=$top/apt
deps=$top/deps
mkdir -p "$apt_dir" "$deps"

sdk_dir=$deps/pico-sdk
lwip_dir=$deps/lwip
mbedtls_dir=$deps/mbedtls
tinyusb_dir=$deps/tinyusb

emit() {
  echo "PICO_SDK_PATH=$sdk_dir"
  echo "PICO_LWIP_PATH=$lwip_dir"
  echo "PICO_MBEDTLS_PATH=$mbedtls_dir"
  echo "PICO_TINYUSB_PATH=$tinyusb_dir"
}

if [ -f "$sdk_dir/pico_sdk_init.cmake" ] && [ -f "$lwip_dir/src/core/tcp.c" ] &&
   [ -f "$mbedtls_dir/library/ssl_tls.c" ] && [ -f "$tinyusb_dir/src/tusb.h" ]; then
  echo "fetch: using cached sources in $deps" >&2
  emit
  exit 0
fi

# Reuse the mirror the machine already uses (deb.debian.org by default).
mirror=""
for f in /etc/apt/sources.list.d/*.sources; do
  [ -f "$f" ] || continue
  mirror=$(awk '/^URIs:/ && $2 ~ /debian\/?$/ && $2 !~ /security/ {print $2; exit}' "$f")
  [ -n "$mirror" ] && break
done
if [ -z "$mirror" ] && [ -f /etc/apt/sources.list ]; then
  mirror=$(awk '$1=="deb" && $2 ~ /debian\/?$/ && $2 !~ /security/ {print $2; exit}' /etc/apt/sources.list)
fi
mirror=${mirror:-http://deb.debian.org/debian}
mirror=${mirror%/}

keyring=/usr/share/keyrings/debian-archive-keyring.gpg
mkdir -p "$apt_dir/state/lists/partial" "$apt_dir/cache/archives/partial" "$apt_dir/etc"
cat > "$apt_dir/etc/sources.list" <<EOF
deb [signed-by=$keyring] $mirror trixie main
deb-src [signed-by=$keyring] $mirror trixie main
deb-src [signed-by=$keyring] $mirror bookworm main
EOF
: > "$apt_dir/state/status"
apt_opts=(
  -o "Dir::Etc::sourcelist=$apt_dir/etc/sources.list"
  -o "Dir::Etc::sourceparts=-"
  -o "Dir::State=$apt_dir/state"
  -o "Dir::State::status=$apt_dir/state/status"
  -o "Dir::Cache=$apt_dir/cache"
  -o "APT::Get::List-Cleanup=0"
  -o "Acquire::Retries=3"
  -o "Debug::NoLocking=1"
  -o "APT::Sandbox::User=root"
)

retry() {
  local n
  for n in 1 2 3; do
    "$@" && return 0
    echo "fetch: attempt $n of '$*' failed; retrying in $((n * 5)) s" >&2
    sleep $((n * 5))
  done
  return 1
}

dl=$apt_dir/downloads
mkdir -p "$dl"
have() { compgen -G "$dl/$1" >/dev/null; }

if ! have 'pico-sdk-source_*.deb' || ! have 'tinyusb-source_*.deb' || ! have 'lwip_*.dsc' ||
   ! have 'mbedtls_2.28*.dsc'; then
  echo "fetch: apt update with a private configuration ($mirror: trixie, bookworm deb-src)" >&2
  retry apt-get "${apt_opts[@]}" -qq update
fi
if ! have 'pico-sdk-source_*.deb'; then
  (cd "$dl" && retry apt-get "${apt_opts[@]}" -qq download pico-sdk-source/trixie)
fi
if ! have 'tinyusb-source_*.deb'; then
  (cd "$dl" && retry apt-get "${apt_opts[@]}" -qq download tinyusb-source/trixie)
fi
if ! have 'lwip_*.dsc'; then
  (cd "$dl" && retry apt-get "${apt_opts[@]}" -qq source --download-only lwip/trixie)
fi
if ! have 'mbedtls_2.28*.dsc'; then
  (cd "$dl" && retry apt-get "${apt_opts[@]}" -qq source --download-only mbedtls/bookworm)
fi

# Unpack. Each into a temporary directory first, so an interrupted run leaves
# no half-unpacked tree that the cache check above would accept.
if [ ! -f "$sdk_dir/pico_sdk_init.cmake" ]; then
  rm -rf "$deps/sdk.tmp" && mkdir -p "$deps/sdk.tmp"
  dpkg -x "$(ls "$dl"/pico-sdk-source_*.deb | head -1)" "$deps/sdk.tmp"
  init=$(find "$deps/sdk.tmp" -name pico_sdk_init.cmake -print -quit)
  [ -n "$init" ] || { echo "fetch: pico_sdk_init.cmake not found in pico-sdk-source" >&2; exit 1; }
  rm -rf "$sdk_dir" && mv "$(dirname "$init")" "$sdk_dir" && rm -rf "$deps/sdk.tmp"
fi

if [ ! -f "$tinyusb_dir/src/tusb.h" ]; then
  rm -rf "$deps/tusb.tmp" && mkdir -p "$deps/tusb.tmp"
  dpkg -x "$(ls "$dl"/tinyusb-source_*.deb | head -1)" "$deps/tusb.tmp"
  [ -f "$deps/tusb.tmp/usr/src/tinyusb/src/tusb.h" ] ||
    { echo "fetch: src/tusb.h not found in tinyusb-source" >&2; exit 1; }
  rm -rf "$tinyusb_dir" && mv "$deps/tusb.tmp/usr/src/tinyusb" "$tinyusb_dir" && rm -rf "$deps/tusb.tmp"
fi

unpack_source() { # name dsc-glob target
  local dsc
  dsc=$(ls "$dl"/$2 | head -1)
  rm -rf "$deps/$1.tmp"
  if command -v dpkg-source >/dev/null 2>&1; then
    (cd "$deps" && dpkg-source --no-check -x "$dsc" "$1.tmp" >/dev/null)
  else
    # Without dpkg-dev: the upstream tarball is all we need (no Debian patches).
    local orig
    orig=$(ls "$dl"/$1_*.orig.tar.* | head -1)
    mkdir -p "$deps/$1.tmp"
    tar -xf "$orig" -C "$deps/$1.tmp" --strip-components=1
  fi
  rm -rf "$3" && mv "$deps/$1.tmp" "$3"
}
[ -f "$lwip_dir/src/core/tcp.c" ] || unpack_source lwip 'lwip_*.dsc' "$lwip_dir"
[ -f "$mbedtls_dir/library/ssl_tls.c" ] || unpack_source mbedtls 'mbedtls_2.28*.dsc' "$mbedtls_dir"

emit
