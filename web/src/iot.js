// The IoT MQTT Panel settings for a configuration (README "IoT MQTT Panel setup").
import { el } from './dom.js';

function brokerParts(url) {
  const m = /^(mqtts?):\/\/(\[[^\]]+\]|[^:/]+)(?::(\d+))?\/?$/.exec(url || '');
  if (!m) return null;
  return { tls: m[1] === 'mqtts', host: m[2], port: m[3] || (m[1] === 'mqtts' ? '8883' : '1883') };
}

export function pinNumber(pin) {
  if (typeof pin === 'number') return pin;
  const m = /^GP(\d+)$/.exec(String(pin));
  return m ? Number(m[1]) : NaN;
}

const code = (t) => el('code', {}, t);

export function renderIot(target, cfg) {
  const mqtt = cfg.mqtt || {};
  const b = brokerParts(mqtt.broker_url);
  const rows = [];
  rows.push(el('tr', {}, el('th', {}, 'Connection'), el('td', {},
    'Broker ', code(b ? b.host : '(broker URL)'), ', port ', code(b ? b.port : '?'),
    b && b.tls ? ', SSL/TLS on' : '', mqtt.username ? [', user ', code(mqtt.username)] : '',
    ', client id: one of its own (not ', code(mqtt.client_id || '?'), '), Clean Session unchecked')));
  const sw = (kind, pin, otp) => el('tr', {}, el('th', {}, `${kind} GP${pin}`), el('td', {},
    'Switch: Payload On ', code('1'), ', Off ', code('0'), ', "Payload is JSON Data" checked, JsonPath ',
    code(`$.GP${pin}`), ', JSON pattern ', code(`{"GP${pin}": <payload>}`), ', QoS 1, Retain unchecked',
    otp ? ['. Needs a one-time code: send ', code(`{"MFA":"123456","GP${pin}":1}`), ' or use the live panel'] : ''));
  for (const r of cfg.relays || []) rows.push(sw('Relay', pinNumber(r.pin), (r.otp || []).length > 0));
  for (const r of cfg.momentary || []) rows.push(sw('Momentary', pinNumber(r.pin), (r.otp || []).length > 0));
  for (const c of cfg.contacts || []) {
    const p = pinNumber(c.pin);
    rows.push(el('tr', {}, el('th', {}, `Contact GP${p}`), el('td', {},
      'LED Indicator: Payload On ', code('1'), ', Off ', code('0'), ', JSON data checked, JsonPath ',
      code(`$.GP${p}`), ', QoS 1', c.normally_open === false ? ' (normally closed: 1 = open)' : ' (1 = closed)')));
  }
  rows.push(el('tr', {}, el('th', {}, 'Buttons'), el('td', {},
    code('{"CMD":"stats"}'), ' ', code('{"CMD":"getip"}'), ' ', code('{"CMD":"refresh"}'), ', QoS 1')));
  rows.push(el('tr', {}, el('th', {}, 'Topic'), el('td', {}, code(mqtt.topic || '?'),
    ' for every panel, subscribe and publish')));
  target.replaceChildren(el('table', {}, rows));
}
