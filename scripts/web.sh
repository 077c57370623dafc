#!/usr/bin/env bash
# `make web`: the setup page and live panel, a static site in build/web/
# (open build/web/index.html from disk or put the folder on any static host).
#   1. the firmware's configuration parser (src/core/config.c and what it needs)
#      compiled with clang for wasm32, no libc (web/wasm/string.c stands in);
#   2. the page's scripts, the wasm module, the bundled ISRG Root X1 (read from
#      Debian's ca-certificates) and mqtt.js bundled into one app.js by esbuild;
#   3. index.html, style.css and, when `make target` has built it, the firmware UF2.
# Installs web/'s npm packages from web/package-lock.json when they are missing.
#   MTC_WEB_DIR  output folder (default build/web)
#   MTC_FW_DIR   firmware images (default build-target/fw)
set -euo pipefail
cd "$(dirname "$0")/.."

out=${MTC_WEB_DIR:-$PWD/build/web}
fw_dir=${MTC_FW_DIR:-$PWD/build-target/fw}
obj=$out/.obj
isrg=/etc/ssl/certs/ISRG_Root_X1.pem

for tool in clang wasm-ld node npm; do
  command -v "$tool" >/dev/null || { echo "web: $tool is needed (scripts/deps.sh installs it)" >&2; exit 1; }
done
[ -f "$isrg" ] || { echo "web: $isrg not found (Debian's ca-certificates)" >&2; exit 1; }

# npm packages, exactly as locked; puppeteer-core never downloads a browser.
lock_version() { node -p "require('./web/package-lock.json').packages['node_modules/$1'].version"; }
installed_version() { node -p "require('./web/node_modules/$1/package.json').version" 2>/dev/null || true; }
for pkg in mqtt esbuild puppeteer-core qrcode-generator ws; do
  if [ "$(installed_version "$pkg")" != "$(lock_version "$pkg")" ]; then
    (cd web && PUPPETEER_SKIP_DOWNLOAD=1 npm ci --no-audit --no-fund)
    break
  fi
done

mkdir -p "$out" "$obj"
wasm_flags=(--target=wasm32 -std=c11 -O2 -ffreestanding -nostdlibinc -isystem web/wasm/include
  -Isrc/core -Isrc/platform/pico -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes
  -nostdlib -Wl,--no-entry -Wl,--strip-all)
clang "${wasm_flags[@]}" -fno-builtin -o "$obj/config.wasm" \
  web/wasm/config_wasm.c web/wasm/string.c \
  src/core/config.c src/core/config_image.c src/core/uf2.c src/core/json.c
cp "$isrg" "$obj/isrg-root-x1.pem"

# One classic script (no ES module, no fetch): the page works from file://.
NODE_PATH=$obj web/node_modules/.bin/esbuild web/src/main.js --bundle --format=iife \
  --minify --target=es2020 --platform=browser --loader:.wasm=binary --loader:.pem=text \
  --legal-comments=none --log-level=warning --outfile="$out/app.js"
cp web/index.html web/style.css "$out/"

if [ -f "$fw_dir/mqtt_tiny.uf2" ]; then
  cp "$fw_dir/mqtt_tiny.uf2" "$out/mqtt_tiny.uf2"
else
  rm -f "$out/mqtt_tiny.uf2"
  echo "web: $fw_dir/mqtt_tiny.uf2 not built yet (make target): the page's firmware link has nothing to serve"
fi
page=$(cat "$out/index.html" "$out/app.js" "$out/style.css" | wc -c)
echo "web: $out/index.html ready ($page bytes: index.html $(wc -c <"$out/index.html"), app.js $(wc -c <"$out/app.js"), style.css $(wc -c <"$out/style.css"))"
