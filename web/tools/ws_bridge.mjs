// A WebSocket front for a Mosquitto TCP listener, for the page's live panel:
//   node web/tools/ws_bridge.mjs --listen 127.0.0.1:PORT --broker 127.0.0.1:1883
// Debian 12's Mosquitto (2.0.11) is built without websockets support: its
// `protocol websockets` listener fails to start ("Unable to start any
// listening sockets"). Each WebSocket connection (subprotocol "mqtt") gets
// its own TCP connection to the broker; bytes pass unchanged both ways, so
// the browser speaks MQTT to Mosquitto itself. Prints one JSON line
// {"ws":"ws://HOST:PORT"} once it listens (PORT 0: a free port).
import net from 'node:net';
import { WebSocketServer } from 'ws';

function arg(name, fallback) {
  const i = process.argv.indexOf(name);
  return i > 0 && process.argv[i + 1] ? process.argv[i + 1] : fallback;
}
function hostPort(text, what) {
  const m = /^([^:]+):(\d+)$/.exec(text || '');
  if (!m) {
    console.error(`ws_bridge: ${what} must be HOST:PORT`);
    process.exit(2);
  }
  return { host: m[1], port: Number(m[2]) };
}

const listen = hostPort(arg('--listen', '127.0.0.1:0'), '--listen');
const broker = hostPort(arg('--broker'), '--broker');

const server = new WebSocketServer({
  host: listen.host,
  port: listen.port,
  handleProtocols: (protocols) => (protocols.has('mqtt') ? 'mqtt' : false),
});
server.on('listening', () => {
  const a = server.address();
  console.log(JSON.stringify({ ws: `ws://${listen.host}:${a.port}` }));
});
server.on('error', (e) => {
  console.error(`ws_bridge: ${e.message}`);
  process.exit(1);
});
server.on('connection', (ws) => {
  const tcp = net.connect(broker.port, broker.host);
  tcp.setNoDelay(true);
  const pending = [];
  tcp.on('connect', () => {
    for (const chunk of pending) tcp.write(chunk);
    pending.length = 0;
  });
  ws.on('message', (data) => {
    if (tcp.connecting) pending.push(data);
    else tcp.write(data);
  });
  tcp.on('data', (chunk) => ws.send(chunk, { binary: true }));
  tcp.on('close', () => ws.close());
  tcp.on('error', () => ws.terminate());
  ws.on('close', () => tcp.end());
  ws.on('error', () => tcp.destroy());
});
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => process.exit(0));
