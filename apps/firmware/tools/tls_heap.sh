#!/usr/bin/env bash
# Measures the firmware's TLS heap on the host: mbedTLS 2.28.3 (the sources
# scripts/fetch-pico-deps.sh fetched) built with the firmware's own
# mbedtls_config.h and counting allocator, one handshake + MQTT CONNECT
# against a local Mosquitto with TLS (certificates made here: RSA-2048 and
# ECDSA P-256 server keys). Loopback only; everything started is stopped.
#   apps/firmware/tools/tls_heap.sh [BUILD_DIR]
set -euo pipefail
root=$(cd "$(dirname "$0")/../../.." && pwd)
out=${1:-$root/build-target/tls-heap}
mbedtls=$root/build-target/deps/mbedtls
[ -f "$mbedtls/library/ssl_tls.c" ] || "$root/scripts/fetch-pico-deps.sh" >/dev/null
mkdir -p "$out/obj"

cflags=(-std=c11 -D_DEFAULT_SOURCE -O1 "-DMBEDTLS_CONFIG_FILE=\"mbedtls_config.h\""
        -I"$root/src/platform/pico" -I"$mbedtls/include" -I"$mbedtls/library")
build_probe() { # name extra-cflags...
  local name=$1; shift
  local dir=$out/obj/$name
  mkdir -p "$dir"
  ls "$mbedtls"/library/*.c | xargs -P "${JOBS:-2}" -I{} sh -c \
    'f={}; o='"$dir"'/$(basename "$f" .c).o; [ -f "$o" ] || gcc "$@" -c "$f" -o "$o"' _ "${cflags[@]}" "$@"
  gcc "${cflags[@]}" "$@" "$root/apps/firmware/tools/tls_heap_probe.c" \
    "$root/src/platform/pico/tls_heap.c" "$dir"/*.o -o "$out/probe-$name"
}
build_probe in16k
build_probe in4k -DMBEDTLS_SSL_IN_CONTENT_LEN=4096

cd "$out"
if [ ! -f rsa-server.pem ]; then
  openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=mqtt-tiny test CA" \
    -keyout ca.key -out ca.pem 2>/dev/null
  for kind in rsa ec; do
    if [ $kind = rsa ]; then key=(-newkey rsa:2048); else key=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1); fi
    openssl req -new "${key[@]}" -nodes -subj "/CN=localhost" -keyout $kind-server.key \
      -out $kind-server.csr 2>/dev/null
    printf 'subjectAltName=DNS:localhost\n' > san.ext
    openssl x509 -req -in $kind-server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 3650 \
      -extfile san.ext -out $kind-server.pem 2>/dev/null
  done
fi

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
for kind in rsa ec; do
  port=$(free_port)
  cat > mosquitto-$kind.conf <<CONF
user root
listener $port 127.0.0.1
allow_anonymous true
cafile $out/ca.pem
certfile $out/$kind-server.pem
keyfile $out/$kind-server.key
CONF
  mosquitto -c mosquitto-$kind.conf >mosquitto-$kind.log 2>&1 &
  pids+=($!)
  eval "port_$kind=$port"
done
sleep 0.5
for kind in rsa ec; do
  eval "port=\$port_$kind"
  echo "server key $kind:"
  "$out/probe-in16k" localhost "$port" "$out/ca.pem" | sed 's/^/  /'
  "$out/probe-in4k" localhost "$port" "$out/ca.pem" 4096 | sed 's/^/  /'
done
