// The configuration form. The configuration object is the one truth: the
// form edits it, the JSON text is made from it, an imported or hand-edited
// JSON replaces it (keys the form has no field for are kept as they are).
import { $, el } from './dom.js';
import { newSecret, otpauthUri, qrSvg } from './otp.js';
import { pinNumber } from './iot.js';

export const PRESETS = {
  hivemq: { broker_url: 'mqtts://your-cluster-id.s1.eu.hivemq.cloud:8883', ca: 'isrg' },
  mosquitto: { broker_url: 'mqtt://192.168.1.10:1883', ca: 'isrg' },
};

const GUARDS = [
  ['cooldown_ms', 'Cooldown per relay (ms)', 2000],
  ['toggle_window_ms', 'Toggle window (ms)', 60000],
  ['toggle_max', 'Changes per window', 5],
  ['violation_max', 'Violations before lock', 3],
  ['publish_window_ms', 'Publish window (ms)', 10000],
  ['publish_max', 'Publications per window', 20],
  ['backlog_window_ms', 'Backlog window (ms)', 3000],
];

// contacts[].device_class: what Home Assistant shows (docs/config.md)
const DEVICE_CLASSES = ['door', 'garage_door', 'window', 'opening', 'lock', 'motion', 'occupancy', 'presence',
  'moisture', 'smoke', 'gas', 'tamper', 'vibration', 'safety', 'problem', 'power', 'plug'];

export function defaultConfig() {
  return {
    wifi: { ssid: '', password: '', country: 'XX' },
    mqtt: { broker_url: '', client_id: 'pico-1', topic: 'home/pico' },
    relays: [{ pin: 16 }, { pin: 17 }],
    momentary: [{ pin: 18, pulse_ms: 2000 }, { pin: 19, pulse_ms: 2000 }],
    contacts: [{ pin: 0 }, { pin: 1 }, { pin: 2 }, { pin: 3 }],
  };
}

// Sets obj[key] to value, or removes the key for '' / undefined.
function setOrDrop(obj, key, value) {
  if (value === '' || value === undefined || Number.isNaN(value)) delete obj[key];
  else obj[key] = value;
}
function numberOf(text) {
  if (text.trim() === '') return undefined;
  const n = Number(text);
  return Number.isFinite(n) ? n : text;
}

export class ConfigForm {
  constructor(parser, onChange) {
    this.parser = parser;
    this.onChange = onChange;   // (fromJsonBox) => void
    this.cfg = defaultConfig();
    this.bind();
  }

  changed() {
    this.renderNotify();   // a pin added, moved or removed changes the choice
    this.onChange(false);
  }

  // --- fixed fields -------------------------------------------------------
  bind() {
    const text = (id, get, set) => {
      $(id).addEventListener('input', (e) => { set(e.target.value); this.changed(); });
      this.fields = this.fields || [];
      this.fields.push(() => { $(id).value = get() ?? ''; });
    };
    const wifi = () => (this.cfg.wifi = this.cfg.wifi || {});
    const mqtt = () => (this.cfg.mqtt = this.cfg.mqtt || {});
    text('wifi-ssid', () => this.cfg.wifi?.ssid, (v) => setOrDrop(wifi(), 'ssid', v));
    text('wifi-password', () => this.cfg.wifi?.password, (v) => setOrDrop(wifi(), 'password', v));
    text('wifi-country', () => this.cfg.wifi?.country, (v) => setOrDrop(wifi(), 'country', v));
    // the three required keys stay in the JSON when empty: the parser names them
    text('broker-url', () => this.cfg.mqtt?.broker_url, (v) => { mqtt().broker_url = v; });
    text('mqtt-username', () => this.cfg.mqtt?.username, (v) => setOrDrop(mqtt(), 'username', v));
    text('mqtt-password', () => this.cfg.mqtt?.password, (v) => setOrDrop(mqtt(), 'password', v));
    text('client-id', () => this.cfg.mqtt?.client_id, (v) => { mqtt().client_id = v; });
    const statusDefault = () => { $('status-topic').placeholder = `${this.cfg.mqtt?.topic || '<topic>'}/status`; };
    text('topic', () => this.cfg.mqtt?.topic, (v) => { mqtt().topic = v; statusDefault(); });
    // status_topic: empty field = the default <topic>/status; "" (no availability topic) by the box
    text('status-topic', () => this.cfg.mqtt?.status_topic, (v) => setOrDrop(mqtt(), 'status_topic', v));
    const statusOff = $('status-off');
    statusOff.addEventListener('change', () => {
      if (statusOff.checked) mqtt().status_topic = '';
      else delete mqtt().status_topic;
      this.render();
      this.changed();
    });
    this.fields.push(() => {
      statusOff.checked = this.cfg.mqtt?.status_topic === '';
      $('status-topic').disabled = statusOff.checked;
      statusDefault();
    });
    const ha = () => (this.cfg.homeassistant = this.cfg.homeassistant || {});
    const haTidy = () => { if (Object.keys(this.cfg.homeassistant || {}).length === 0) delete this.cfg.homeassistant; };
    const discovery = $('ha-discovery');
    discovery.addEventListener('change', () => {
      if (discovery.checked) ha().discovery = true;
      else delete ha().discovery;
      haTidy();
      this.changed();
    });
    this.fields.push(() => { discovery.checked = this.cfg.homeassistant?.discovery ?? false; });
    text('ha-prefix', () => this.cfg.homeassistant?.discovery_prefix,
      (v) => { setOrDrop(ha(), 'discovery_prefix', v); haTidy(); });
    $('preset').addEventListener('change', (e) => {
      const p = PRESETS[e.target.value];
      if (!p) return;
      mqtt().broker_url = p.broker_url;
      $('ca-isrg').checked = true;
      this.render();
      this.changed();
    });
    $('add-relay').addEventListener('click', () => this.add('relays', { pin: this.freePin() }));
    $('add-momentary').addEventListener('click', () => this.add('momentary', { pin: this.freePin(), pulse_ms: 2000 }));
    $('add-contact').addEventListener('click', () => this.add('contacts', { pin: this.freePin() }));

    const guards = $('guards');
    for (const [key, label, def] of GUARDS) {
      const input = el('input', { type: 'number', id: `guard-${key}`, placeholder: String(def) });
      input.addEventListener('input', () => {
        this.cfg.guards = this.cfg.guards || {};
        setOrDrop(this.cfg.guards, key, numberOf(input.value));
        if (Object.keys(this.cfg.guards).length === 0) delete this.cfg.guards;
        this.changed();
      });
      this.fields.push(() => { input.value = this.cfg.guards?.[key] ?? ''; });
      guards.append(el('label', {}, label, input));
    }
    const remote = el('input', { type: 'checkbox', id: 'guard-remote_reset' });
    remote.addEventListener('change', () => {
      this.cfg.guards = this.cfg.guards || {};
      if (remote.checked) this.cfg.guards.remote_reset = true;
      else delete this.cfg.guards.remote_reset;
      if (Object.keys(this.cfg.guards).length === 0) delete this.cfg.guards;
      this.changed();
    });
    this.fields.push(() => { remote.checked = this.cfg.guards?.remote_reset ?? false; });
    guards.append(el('label', {}, remote, ' {"CMD":"reset"} clears locks (else only a restart)'));
    const pi = el('input', { type: 'number', id: 'publish-interval', placeholder: '7200 (-1: off)' });
    pi.addEventListener('input', () => { setOrDrop(this.cfg, 'publish_interval_s', numberOf(pi.value)); this.changed(); });
    const ip = el('input', { id: 'public-ip-url', placeholder: 'http://api.ipify.org' });
    ip.addEventListener('input', () => { setOrDrop(this.cfg, 'public_ip_url', ip.value); this.changed(); });
    const gap = el('input', { type: 'number', id: 'interlock-gap', placeholder: '100' });
    gap.addEventListener('input', () => { setOrDrop(this.cfg, 'interlock_gap_ms', numberOf(gap.value)); this.changed(); });
    this.fields.push(() => {
      pi.value = this.cfg.publish_interval_s ?? '';
      ip.value = this.cfg.public_ip_url ?? '';
      gap.value = this.cfg.interlock_gap_ms ?? '';
    });
    $('others').append(el('label', {}, 'Full state every (s)', pi), el('label', {}, 'Public IP service', ip),
      el('label', {}, 'Interlock gap (ms)', gap));
  }

  usedPins() {
    const used = new Set();
    for (const list of ['relays', 'momentary', 'contacts']) {
      for (const e of this.cfg[list] || []) used.add(pinNumber(e.pin));
    }
    return used;
  }

  freePin() {
    const used = this.usedPins();
    for (const p of [16, 17, 18, 19, 20, 21, 22, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 26, 27, 28]) {
      if (!used.has(p)) return p;
    }
    return 28;
  }

  add(list, entry) {
    this.cfg[list] = this.cfg[list] || [];
    this.cfg[list].push(entry);
    this.render();
    this.changed();
  }

  // --- the pin picker: the WiFi chip's pins are there but refused ---------
  pinSelect(list, index, entry) {
    const select = el('select', { id: `${list}-${index}-pin`, 'aria-label': 'pin' });
    for (let p = 0; p <= 29; p++) {
      const ok = this.parser.pinAvailable(p);
      select.append(el('option', { value: String(p), disabled: !ok },
        ok ? `GP${p}` : `GP${p} — WiFi chip`));
    }
    const current = pinNumber(entry.pin);
    if (!(current >= 0 && current <= 29)) {
      select.prepend(el('option', { value: 'other' }, `${JSON.stringify(entry.pin)} (not a pin)`));
      select.value = 'other';
    } else {
      select.value = String(current);
    }
    select.addEventListener('change', () => {
      if (select.value !== 'other') entry.pin = Number(select.value);
      this.changed();
    });
    return el('label', {}, 'Pin ', select);
  }

  check(entry, key, label, def, list, index) {
    const box = el('input', { type: 'checkbox', id: `${list}-${index}-${key}`, checked: entry[key] ?? def });
    box.addEventListener('change', () => {
      if (box.checked === def) delete entry[key];
      else entry[key] = box.checked;
      this.changed();
    });
    return el('label', {}, box, ' ', label);
  }

  // A select of values; def (or '') removes the key. A value the list does not
  // know (an imported JSON) stays shown and selected: the parser names it.
  choice(entry, key, label, options, def, list, index) {
    const select = el('select', { id: `${list}-${index}-${key}` },
      options.map(([value, text]) => el('option', { value: String(value) }, text)));
    const current = key in entry ? entry[key] : def;
    if (!options.some(([value]) => value === current)) {
      select.prepend(el('option', { value: 'other' }, `${JSON.stringify(current)} (not allowed)`));
      select.value = 'other';
    } else {
      select.value = String(current);
    }
    select.addEventListener('change', () => {
      if (select.value === 'other') return;
      const picked = options.find(([value]) => String(value) === select.value)[0];
      if (picked === def) delete entry[key];
      else entry[key] = picked;
      this.changed();
    });
    return el('label', {}, label, ' ', select);
  }

  // notify: a box for each configured pin, plus any listed pin that is not
  // configured (the parser refuses it; unticking removes it).
  renderNotify() {
    const list = Array.isArray(this.cfg.notify) ? this.cfg.notify : [];
    const pins = [];
    for (const name of ['relays', 'momentary', 'contacts']) {
      for (const e of Array.isArray(this.cfg[name]) ? this.cfg[name] : []) {
        const p = pinNumber(e?.pin);
        if (p >= 0 && !pins.includes(p)) pins.push(p);
      }
    }
    for (const v of list) {
      const p = pinNumber(v);
      if (p >= 0 && !pins.includes(p)) pins.push(p);
    }
    const boxes = pins.map((p) => {
      const box = el('input', { type: 'checkbox', id: `notify-GP${p}`,
        checked: list.some((v) => pinNumber(v) === p) });
      box.addEventListener('change', () => {
        const now = (Array.isArray(this.cfg.notify) ? this.cfg.notify : []).filter((v) => pinNumber(v) !== p);
        if (box.checked) now.push(p);
        if (now.length === 0) delete this.cfg.notify;
        else this.cfg.notify = now;
        this.changed();
      });
      return el('label', { class: 'inline' }, box, ` GP${p}`);
    });
    $('notify').replaceChildren(...boxes);
  }

  number(entry, key, label, def, list, index) {
    const input = el('input', { type: 'number', id: `${list}-${index}-${key}`, placeholder: String(def), value: entry[key] ?? '' });
    input.addEventListener('input', () => { setOrDrop(entry, key, numberOf(input.value)); this.changed(); });
    return el('label', {}, label, ' ', input);
  }

  otpBlock(entry, list, index) {
    const secrets = Array.isArray(entry.otp) ? entry.otp : [];
    const pin = pinNumber(entry.pin);
    const rows = secrets.map((s, i) => {
      const input = el('input', { id: `${list}-${index}-otp-${i}`, value: s, 'aria-label': 'one-time-code secret' });
      input.addEventListener('input', () => { entry.otp[i] = input.value; this.changed(); });
      return el('div', { class: 'secret' }, input,
        el('button', { type: 'button', onclick: () => this.showQr(String(input.value), pin) }, 'QR'),
        el('button', { type: 'button', class: 'remove', onclick: () => {
          entry.otp.splice(i, 1);
          if (entry.otp.length === 0) delete entry.otp;
          this.render(); this.changed();
        } }, '✕'));
    });
    return el('div', { class: 'otp' }, rows,
      el('button', { type: 'button', id: `${list}-${index}-add-otp`, onclick: () => {
        entry.otp = Array.isArray(entry.otp) ? entry.otp : [];
        entry.otp.push(newSecret());
        this.render(); this.changed();
        this.showQr(entry.otp[entry.otp.length - 1], pin);
      } }, 'Add one-time-code secret'));
  }

  showQr(secret, pin) {
    const account = `${this.cfg.mqtt?.client_id || 'pico'} GP${pin}`;
    const uri = otpauthUri(secret, account, 'MqttTiny');
    $('qr-label').textContent = `${account}: ${secret}`;
    $('qr-image').innerHTML = qrSvg(uri);
    const d = $('qr-dialog');
    if (!d.open) d.showModal();
  }

  removeButton(list, index) {
    return el('button', { type: 'button', class: 'remove', id: `${list}-${index}-remove`, onclick: () => {
      this.cfg[list].splice(index, 1);
      if (this.cfg[list].length === 0) delete this.cfg[list];
      this.render(); this.changed();
    } }, 'Remove');
  }

  renderList(list, fields) {
    const items = Array.isArray(this.cfg[list]) ? this.cfg[list] : [];
    $(list).replaceChildren(...items.map((entry, i) => {
      if (typeof entry !== 'object' || entry === null) return el('div', { class: 'row' }, `entry ${i}: not an object`);
      return el('div', { class: 'row', id: `${list}-${i}` }, this.pinSelect(list, i, entry), fields(entry, i),
        this.removeButton(list, i));
    }));
  }

  render() {
    for (const f of this.fields) f();
    this.renderList('relays', (e, i) => [this.check(e, 'active_low', 'active low', true, 'relays', i),
      this.choice(e, 'power_on', 'At power-on', [['off', 'off'], ['on', 'on']], 'off', 'relays', i),
      this.choice(e, 'interlock', 'Interlock group',
        [[undefined, 'none'], [1, '1'], [2, '2'], [3, '3'], [4, '4']], undefined, 'relays', i),
      this.otpBlock(e, 'relays', i)]);
    this.renderList('momentary', (e, i) => [this.number(e, 'pulse_ms', 'Pulse (ms)', 2000, 'momentary', i),
      this.check(e, 'active_low', 'active low', true, 'momentary', i),
      this.check(e, 'allow_backlog', 'press after an outage', false, 'momentary', i),
      this.otpBlock(e, 'momentary', i)]);
    this.renderList('contacts', (e, i) => {
      const pull = el('select', { id: `contacts-${i}-pull` },
        ['up', 'down', 'none'].map((v) => el('option', { value: v }, v)));
      pull.value = e.pull ?? 'up';
      pull.addEventListener('change', () => { if (pull.value === 'up') delete e.pull; else e.pull = pull.value; this.changed(); });
      return [el('label', {}, 'Pull ', pull), this.check(e, 'normally_open', 'normally open', true, 'contacts', i),
        this.number(e, 'debounce_ms', 'Debounce (ms)', 50, 'contacts', i),
        this.choice(e, 'device_class', 'Home Assistant class',
          [[undefined, 'none'], ...DEVICE_CLASSES.map((c) => [c, c])], undefined, 'contacts', i)];
    });
    this.renderNotify();
  }

  // A configuration from JSON text (import, hand edit): false when the
  // text is no JSON object (the parser's message says why).
  load(text) {
    let value;
    try {
      value = JSON.parse(text);
    } catch {
      return false;
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
    this.cfg = value;
    this.render();
    return true;
  }

  json() { return `${JSON.stringify(this.cfg, null, 2)}\n`; }
}
