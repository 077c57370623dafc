// The setup page: the form, live checks by the firmware's parser, the
// downloads, the IoT MQTT Panel settings and the live panel.
// Bundled by scripts/web.sh into one classic script (works from file://):
// the wasm module and ISRG Root X1 are embedded at build time.
import wasmBytes from 'config.wasm';
import isrgRootX1 from 'isrg-root-x1.pem';
import { $, download } from './dom.js';
import { ConfigForm } from './form.js';
import { renderIot } from './iot.js';
import { LivePanel } from './panel.js';
import { loadParser } from './parser.js';

let uploadedCa = null;   // { name, text }

function caText() {
  if ($('ca-upload').checked) return uploadedCa ? uploadedCa.text : '';
  return isrgRootX1;
}

function showCaStatus() {
  $('ca-status').textContent = $('ca-upload').checked
    ? (uploadedCa ? `${uploadedCa.name}: ${uploadedCa.text.length} bytes` : 'no file chosen')
    : `ISRG Root X1 (${isrgRootX1.length} bytes, from Debian's ca-certificates at build time)`;
}

// Hash parameters that fill the form and the panel for a running simulator
// (`make run` prints such a link):
//   #ws=ws://127.0.0.1:PORT&broker=mqtt://127.0.0.1:PORT&topic=T&relays=16,17&momentary=18&contacts=0,1
function fromHash(form) {
  const h = new URLSearchParams(location.hash.slice(1));
  if ([...h.keys()].length === 0) return;
  const cfg = form.cfg;
  const pins = (key) => (h.get(key) || '').split(',').filter((s) => /^\d+$/.test(s)).map(Number);
  if (h.has('broker')) cfg.mqtt.broker_url = h.get('broker');
  if (h.has('topic')) cfg.mqtt.topic = h.get('topic');
  if (h.has('client_id')) cfg.mqtt.client_id = h.get('client_id');
  if (h.has('relays')) cfg.relays = pins('relays').map((pin) => ({ pin }));
  if (h.has('momentary')) cfg.momentary = pins('momentary').map((pin) => ({ pin }));
  if (h.has('contacts')) cfg.contacts = pins('contacts').map((pin) => ({ pin }));
  if (h.has('ws')) $('ws-url').value = h.get('ws');
}

async function start() {
  const parser = await loadParser(wasmBytes);
  let panel = null;
  let lastText = '';
  const form = new ConfigForm(parser, () => update(false));

  function validate(text) {
    const errors = parser.check(text, caText());
    $('errors').replaceChildren(...errors.map((e) => Object.assign(document.createElement('li'), { textContent: e })));
    const ok = errors.length === 0;
    const c = form.cfg;
    $('status').textContent = ok
      ? `Valid: the firmware accepts this configuration (${(c.relays || []).length} relays, ` +
        `${(c.momentary || []).length} momentary, ${(c.contacts || []).length} contacts)`
      : `Not valid: ${errors.length === 1 ? 'one problem' : `${errors.length} problems`} the board would refuse`;
    $('status').className = `status ${ok ? 'ok' : 'bad'}`;
    $('download-uf2').disabled = !ok;
    return ok;
  }

  // fromJsonBox: the text came from the JSON editor (keep it as typed).
  function update(fromJsonBox) {
    if (!fromJsonBox) $('json').value = form.json();
    lastText = $('json').value;
    validate(lastText);
    renderIot($('iot-settings'), form.cfg);
    if (panel) panel.render();
  }

  $('json').addEventListener('input', () => {
    if (form.load($('json').value)) form.render();
    update(true);
  });
  $('import-json').addEventListener('change', async (e) => {
    const file = e.target.files[0];
    if (!file) return;
    $('json').value = await file.text();
    e.target.value = '';
    form.load($('json').value);
    $('json-box').open = true;
    update(true);
  });
  $('export-json').addEventListener('click', () => download('config.json', lastText, 'application/json'));
  $('download-uf2').addEventListener('click', () => {
    const r = parser.makeUf2(lastText, caText());
    if (r.uf2) download('config.uf2', r.uf2, 'application/octet-stream');
    else validate(lastText);
  });
  for (const id of ['ca-isrg', 'ca-upload']) {
    $(id).addEventListener('change', () => { showCaStatus(); update(true); });
  }
  $('ca-file').addEventListener('change', async (e) => {
    const file = e.target.files[0];
    if (!file) return;
    uploadedCa = { name: file.name, text: await file.text() };
    $('ca-upload').checked = true;
    showCaStatus();
    update(true);
  });

  fromHash(form);
  form.render();
  showCaStatus();
  panel = new LivePanel(() => form.cfg);
  update(false);
  document.body.dataset.ready = '1';
}

start().catch((e) => {
  $('status').textContent = `The page could not start: ${e.message}`;
  $('status').className = 'status bad';
});
