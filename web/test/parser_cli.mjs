// The page's parser module under node, for tests/web:
//   node web/test/parser_cli.mjs CONFIG.wasm CONFIG.json [CA.pem] [-o OUT.uf2]
// Prints the parser's "path: message" lines and exits 1 when it refuses the
// configuration; with -o writes the config UF2 the page would offer.
import { readFileSync, writeFileSync } from 'node:fs';
import { loadParser } from '../src/parser.js';

const args = process.argv.slice(2);
let out = null;
const o = args.indexOf('-o');
if (o >= 0) {
  out = args[o + 1];
  args.splice(o, 2);
}
const [wasmPath, jsonPath, caPath] = args;
if (!wasmPath || !jsonPath) {
  console.error('usage: parser_cli.mjs CONFIG.wasm CONFIG.json [CA.pem] [-o OUT.uf2]');
  process.exit(2);
}
const parser = await loadParser(readFileSync(wasmPath));
const json = readFileSync(jsonPath);
const ca = caPath ? readFileSync(caPath) : new Uint8Array(0);
if (out) {
  const r = parser.makeUf2(json, ca);
  if (r.errors) {
    for (const line of r.errors) console.log(line);
    process.exit(1);
  }
  writeFileSync(out, r.uf2);
} else {
  const errors = parser.check(json, ca);
  for (const line of errors) console.log(line);
  process.exit(errors.length === 0 ? 0 : 1);
}
