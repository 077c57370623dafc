import wasm from 'config.wasm'; import { loadParser } from './parser.js'; loadParser(wasm).then((p) => { window.mtcParser = p; });
