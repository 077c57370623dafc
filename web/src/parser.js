// The firmware's configuration parser (src/core/config.c, compiled to wasm32
// by scripts/web.sh from web/wasm/config_wasm.c): what it accepts, the board
// accepts; its messages are the board's. Used by the page and by the tests
// under node.

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export async function loadParser(wasmBytes) {
  const { instance } = await WebAssembly.instantiate(wasmBytes, {});
  const x = instance.exports;
  const memory = () => new Uint8Array(x.memory.buffer);

  // Copies text into one of the module's buffers; null when it does not fit.
  function put(buffer, capacity, text) {
    const bytes = typeof text === 'string' ? encoder.encode(text) : text;
    if (bytes.length > capacity) return null;
    memory().set(bytes, buffer);
    return bytes.length;
  }

  function report() {
    const text = decoder.decode(memory().subarray(x.mtc_report(), x.mtc_report() + x.mtc_report_len()));
    return text.split('\n').filter((line) => line.length > 0);
  }

  function load(json, ca) {
    const jsonLen = put(x.mtc_json_buffer(), x.mtc_json_capacity(), json);
    if (jsonLen === null) return { error: `the configuration is larger than ${x.mtc_json_capacity()} bytes` };
    const caLen = put(x.mtc_ca_buffer(), x.mtc_ca_capacity(), ca || '');
    if (caLen === null) return { error: `CA certificate: larger than ${x.mtc_ca_capacity()} bytes` };
    return { jsonLen, caLen };
  }

  return {
    // ["path: message", ...]; empty when the firmware accepts json with ca.
    check(json, ca) {
      const l = load(json, ca);
      if (l.error) return [l.error];
      return x.mtc_check(l.jsonLen, l.caLen) === 0 ? [] : report();
    },
    // { uf2: Uint8Array } or { errors: [...] }: the config UF2 as
    // mqtt-tiny-config writes it (the CA is embedded for mqtts:// only).
    makeUf2(json, ca) {
      const l = load(json, ca);
      if (l.error) return { errors: [l.error] };
      const n = x.mtc_make_uf2(l.jsonLen, l.caLen);
      if (n === 0) return { errors: report() };
      return { uf2: memory().slice(x.mtc_uf2(), x.mtc_uf2() + n) };
    },
    pinAvailable: (pin) => x.mtc_pin_available(pin) !== 0,
    tokens: () => x.mtc_config_tokens(),
  };
}
