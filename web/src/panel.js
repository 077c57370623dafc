// The live panel: the board's topic over MQTT/WebSockets (mqtt.js). Every
// publication of the board carries "TIME"; the panel's own requests, which
// the broker echoes back, do not and are ignored (docs/protocol.md).
import mqtt from 'mqtt';
import { $, el } from './dom.js';
import { pinNumber } from './iot.js';

export class LivePanel {
  constructor(getConfig) {
    this.getConfig = getConfig;
    this.client = null;
    this.state = new Map();   // pin -> 0/1
    $('connect').addEventListener('click', () => this.connect());
    $('disconnect').addEventListener('click', () => this.disconnect());
    for (const b of document.querySelectorAll('button.cmd')) {
      b.addEventListener('click', () => this.send({ CMD: b.dataset.cmd }));
    }
  }

  topic() { return this.getConfig().mqtt?.topic || ''; }

  status(text, up) {
    $('conn').textContent = text;
    $('conn').className = up ? 'conn up' : 'conn';
  }

  connect() {
    this.disconnect();
    const url = $('ws-url').value.trim();
    const topic = this.topic();
    if (!/^wss?:\/\//.test(url)) return this.status('the WebSocket URL starts with ws:// or wss://');
    if (!topic) return this.status('no topic in the configuration');
    const id = `mtc-panel-${Math.random().toString(16).slice(2, 10)}`;
    const options = { clientId: id, clean: true, reconnectPeriod: 3000, connectTimeout: 8000, protocolVersion: 4 };
    if ($('ws-username').value) options.username = $('ws-username').value;
    if ($('ws-password').value) options.password = $('ws-password').value;
    this.status('connecting…');
    const client = mqtt.connect(url, options);
    this.client = client;
    this.subscribedTopic = topic;
    client.on('connect', () => {
      this.status(`connected to ${url}, topic ${topic}`, true);
      $('disconnect').disabled = false;
      client.subscribe(topic, { qos: 1 }, (err) => {
        if (err) this.log(`subscribe failed: ${err.message}`, true);
        else this.send({ CMD: 'refresh' });
      });
    });
    client.on('reconnect', () => this.status('reconnecting…'));
    client.on('offline', () => this.status('offline'));
    client.on('error', (e) => this.status(`error: ${e.message}`));
    client.on('message', (_t, payload) => this.receive(payload));
    this.render();
  }

  disconnect() {
    if (this.client) this.client.end(true);
    this.client = null;
    $('disconnect').disabled = true;
    this.status('not connected');
  }

  send(request) {
    if (!this.client || !this.client.connected) return this.log('not connected', true);
    const mfa = $('mfa').value.trim();
    let body = request;
    if (mfa && request.CMD !== 'refresh' && request.CMD !== 'stats' && request.CMD !== 'getip') {
      body = { MFA: mfa, ...request };
      $('mfa').value = '';
    }
    this.client.publish(this.subscribedTopic, JSON.stringify(body), { qos: 1, retain: false });
  }

  log(text, error) {
    const list = $('device-log');
    list.prepend(el('li', { class: error ? 'error' : '' }, text));
    while (list.children.length > 50) list.lastChild.remove();
  }

  receive(payload) {
    let msg;
    try {
      msg = JSON.parse(new TextDecoder().decode(payload));
    } catch {
      return;
    }
    if (typeof msg !== 'object' || msg === null || !('TIME' in msg)) return;
    let pins = false;
    for (const [k, v] of Object.entries(msg)) {
      const m = /^GP(\d+)$/.exec(k);
      if (m && (v === 0 || v === 1)) {
        this.state.set(Number(m[1]), v);
        pins = true;
      }
    }
    if (pins) this.render();
    if ('ERROR' in msg) {
      this.log(`${msg.TIME}  ${msg.ERROR}${msg.SUPPRESSED ? ` (+${msg.SUPPRESSED} more)` : ''}`, true);
    }
    if ('STATS' in msg) {
      $('stats').replaceChildren(...Object.entries(msg).map(([k, v]) =>
        el('tr', {}, el('th', {}, k), el('td', {}, String(v)))));
    }
    for (const key of ['IP', 'MFA', 'RESET']) {
      if (key in msg) this.log(`${msg.TIME}  ${key}: ${msg[key]}`);
    }
  }

  render() {
    const cfg = this.getConfig();
    const value = (pin) => (this.state.has(pin) ? this.state.get(pin) : null);
    const protectedNote = (e) => ((e.otp || []).length > 0 ? el('small', {}, ' one-time code') : '');
    $('live-relays').replaceChildren(...(cfg.relays || []).map((r) => {
      const pin = pinNumber(r.pin);
      const v = value(pin);
      return el('div', { class: `tile ${v === 1 ? 'on' : v === 0 ? 'off' : ''}`, id: `live-GP${pin}` },
        `GP${pin}`, protectedNote(r), el('span', { class: 'state' }, v === null ? '?' : v === 1 ? 'on' : 'off'),
        el('button', { type: 'button', id: `switch-GP${pin}`, onclick: () => this.send({ [`GP${pin}`]: v === 1 ? 0 : 1 }) },
          v === 1 ? 'Switch off' : 'Switch on'));
    }));
    $('live-momentary').replaceChildren(...(cfg.momentary || []).map((r) => {
      const pin = pinNumber(r.pin);
      const v = value(pin);
      return el('div', { class: `tile ${v === 1 ? 'on' : v === 0 ? 'off' : ''}`, id: `live-GP${pin}` },
        `GP${pin}`, protectedNote(r), el('span', { class: 'state' }, v === null ? '?' : v === 1 ? 'pulsing' : 'idle'),
        el('button', { type: 'button', id: `press-GP${pin}`, onclick: () => this.send({ [`GP${pin}`]: 1 }) }, 'Press'));
    }));
    $('live-contacts').replaceChildren(...(cfg.contacts || []).map((c) => {
      const pin = pinNumber(c.pin);
      const v = value(pin);
      const closed = v === null ? null : (c.normally_open === false ? v === 0 : v === 1);
      return el('div', { class: `tile ${closed === null ? '' : closed ? 'closed' : 'open'}`, id: `live-GP${pin}` },
        `GP${pin}`, el('span', { class: 'state' }, closed === null ? '?' : `${closed ? 'closed' : 'open'} (${v})`));
    }));
  }
}
