#!/usr/bin/env bash
# `make run`: a private Mosquitto on a free port, the simulator with the
# example board, and a live view of the board in this terminal.
# Ctrl-C (or q in the live view) stops everything this script started.
# Without a terminal it prints the board's events instead (e.g. `timeout 5 make run </dev/null`).
set -euo pipefail
cd "$(dirname "$0")/.."

build=${MTC_BUILD_DIR:-build}
sim_bin=$build/mqtt-tiny-sim
config=${MTC_SIM_CONFIG:-examples/config.sim.json}
py=/usr/bin/python3

[ -x "$sim_bin" ] || { echo "run: $sim_bin not found (run 'make build' first)" >&2; exit 1; }
[ -f "$config" ] || { echo "run: $config not found" >&2; exit 1; }
command -v mosquitto >/dev/null || [ -x /usr/sbin/mosquitto ] || { echo "run: mosquitto not installed (make deps)" >&2; exit 1; }
mosquitto_bin=$(command -v mosquitto || echo /usr/sbin/mosquitto)

tmp=$(mktemp -d /tmp/mtc-run.XXXXXX)
broker_pid=""
sim_pid=""
bridge_pid=""
cleanup() {
  trap - EXIT INT TERM
  for pid in $sim_pid $bridge_pid $broker_pid; do
    kill -TERM "$pid" 2>/dev/null || true
  done
  for pid in $sim_pid $bridge_pid $broker_pid; do
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

free_port() {
  "$py" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# Private broker: loopback only, no persistence, no Nagle delay.
port=$(free_port)
listen=${MTC_RUN_LISTEN:-127.0.0.1}   # 0.0.0.0 to let a phone on the LAN connect
{
  echo "listener $port $listen"
  echo "allow_anonymous true"
  echo "persistence false"
  echo "set_tcp_nodelay true"
  echo "log_dest file $tmp/mosquitto.log"
  [ "$(id -u)" -eq 0 ] && echo "user root"
} > "$tmp/mosquitto.conf"
"$mosquitto_bin" -c "$tmp/mosquitto.conf" >/dev/null 2>&1 &
broker_pid=$!
for _ in $(seq 50); do
  if "$py" -c "import socket,sys; socket.create_connection(('127.0.0.1',$port),0.2)" 2>/dev/null; then
    break
  fi
  kill -0 "$broker_pid" 2>/dev/null || { echo "run: mosquitto did not start:" >&2; cat "$tmp/mosquitto.log" >&2 || true; exit 1; }
  sleep 0.1
done

# The simulator: its one stdout line says where the board listens.
"$sim_bin" --config "$config" --broker "mqtt://127.0.0.1:$port" --board 127.0.0.1:0 \
  > "$tmp/sim.out" 2> "$tmp/sim.log" &
sim_pid=$!
board=""
for _ in $(seq 50); do
  board=$(sed -n 's/.*"board":"\([^"]*\)".*/\1/p' "$tmp/sim.out" | head -n1)
  [ -n "$board" ] && break
  kill -0 "$sim_pid" 2>/dev/null || { echo "run: the simulator stopped:" >&2; cat "$tmp/sim.log" >&2; exit 1; }
  sleep 0.1
done
[ -n "$board" ] || { echo "run: the simulator did not report its board socket" >&2; cat "$tmp/sim.log" >&2; exit 1; }

topic=$("$py" -c 'import json,sys; print(json.load(open(sys.argv[1]))["mqtt"]["topic"])' "$config")

# The setup page's live panel (make web) talks MQTT over WebSockets. Debian 12's
# Mosquitto has no websockets listener, so web/tools/ws_bridge.mjs fronts its TCP port.
panel="make web, then run again, to get the setup page and live panel (build/web/)"
if [ -f build/web/index.html ] && [ -d web/node_modules/ws ]; then
  : > "$tmp/bridge.out"
  node web/tools/ws_bridge.mjs --listen "$listen:0" --broker "127.0.0.1:$port" > "$tmp/bridge.out" 2>&1 &
  bridge_pid=$!
  ws=""
  for _ in $(seq 50); do
    ws=$(sed -n 's/.*"ws":"\([^"]*\)".*/\1/p' "$tmp/bridge.out" | head -n1)
    [ -n "$ws" ] && break
    sleep 0.1
  done
  pins=$("$py" -c 'import json,sys; c=json.load(open(sys.argv[1]))
print("&".join(k+"="+",".join(str(e["pin"]).replace("GP","") for e in c.get(k,[])) for k in ("relays","momentary","contacts")))' "$config")
  [ -n "$ws" ] && panel="file://$PWD/build/web/index.html#ws=$ws&broker=mqtt://127.0.0.1:$port&topic=$topic&$pins  (then Connect)"
fi
pub="mosquitto_pub -h 127.0.0.1 -p $port -q 1 -t '$topic' -m"
# power_on, interlock groups and remote reset as the simulator's --check reads them
relay_settings=$("$sim_bin" --config "$config" --check 2>&1 | sed -n 's/^  //p' | paste -sd';' - | sed 's/;/; /g')
info=(
  "Broker   mqtt://127.0.0.1:$port (private Mosquitto)   board socket $board   sim log $tmp/sim.log"
  "Panel    $panel"
  "Watch    mosquitto_sub -h 127.0.0.1 -p $port -q 1 -v -t '$topic'"
  "Try      $pub '{\"GP16\":1}'        relay GP16 on    ($pub '{\"GP16\":0}' off)"
  "         $pub '{\"GP18\":1}'        momentary GP18: on, off after 2 s"
  "         $pub '{\"CMD\":\"refresh\"}'  or '{\"CMD\":\"stats\"}'  or '{\"CMD\":\"getip\"}'  or '{\"CMD\":\"ntp\"}'"
  "Relays   $relay_settings"
  "Board    echo '{\"op\":\"set\",\"pin\":0,\"level\":0}' | nc -q1 ${board%:*} ${board##*:}   (close contact GP0)"
  "IoT MQTT Panel: broker = this machine's address, port $port, a client id of its own, Clean Session"
  "         unchecked; Switch: JsonPath \$.GP16, publish pattern {\"GP16\": <payload>}, payload 1/0, QoS 1,"
  "         Retain unchecked; LED indicator: \$.GP0; Buttons: {\"CMD\":\"stats\"}, {\"CMD\":\"refresh\"}"
  "         (the broker listens on $listen; for a phone run: MTC_RUN_LISTEN=0.0.0.0 make run)"
)
args=()
for line in "${info[@]}"; do args+=(--info "$line"); done

set +e
"$py" tools/dashboard.py --board "$board" "${args[@]}"
status=$?
set -e
if ! kill -0 "$sim_pid" 2>/dev/null; then
  echo "run: the simulator stopped; its log:" >&2
  tail -n 20 "$tmp/sim.log" >&2
fi
exit $status
