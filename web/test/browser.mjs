// Headless Debian Chromium driven by puppeteer-core, for tests/web: one JSON
// command a line on stdin, one JSON answer a line on stdout
// ({"ok":true,"value":...} or {"ok":false,"error":"..."}).
//   node web/test/browser.mjs [--chromium /usr/bin/chromium] [--downloads DIR]
// Commands: {"op":"goto","url"} {"op":"viewport","width","height"}
//   {"op":"click","sel"} {"op":"type","sel","text"} {"op":"clear","sel"}
//   {"op":"select","sel","value"} {"op":"upload","sel","path"}
//   {"op":"eval","js"} (an expression) {"op":"wait","js","timeout_ms"} (until truthy)
//   {"op":"screenshot","path","full_page"} {"op":"console"} {"op":"quit"}
import { createInterface } from 'node:readline';
import puppeteer from 'puppeteer-core';

function arg(name, fallback) {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : fallback;
}

const browser = await puppeteer.launch({
  executablePath: arg('--chromium', '/usr/bin/chromium'),
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--allow-file-access-from-files'],
});
const page = await browser.newPage();
const consoleLines = [];
page.on('console', (m) => consoleLines.push(`${m.type()}: ${m.text()}`));
page.on('pageerror', (e) => consoleLines.push(`pageerror: ${e.message}`));
const downloads = arg('--downloads');
if (downloads) {
  const cdp = await page.createCDPSession();
  await cdp.send('Browser.setDownloadBehavior', { behavior: 'allow', downloadPath: downloads });
}

async function run(c) {
  switch (c.op) {
    case 'goto': await page.goto(c.url, { waitUntil: 'load' }); return null;
    case 'viewport': await page.setViewport({ width: c.width, height: c.height || 900 }); return null;
    case 'click': await page.click(c.sel); return null;
    case 'type': await page.type(c.sel, c.text); return null;
    case 'clear':
      await page.$eval(c.sel, (e) => { e.value = ''; e.dispatchEvent(new Event('input', { bubbles: true })); });
      return null;
    case 'select': return page.select(c.sel, c.value);
    case 'upload': { const h = await page.$(c.sel); await h.uploadFile(c.path); return null; }
    case 'eval': return page.evaluate(c.js);
    case 'wait':
      await page.waitForFunction(c.js, { timeout: c.timeout_ms || 10000, polling: 50 });
      return page.evaluate(c.js);
    case 'screenshot': {
      const jpeg = /\.jpe?g$/.test(c.path);
      await page.screenshot({ path: c.path, fullPage: Boolean(c.full_page), ...(jpeg ? { type: 'jpeg', quality: 70 } : {}) });
      return c.path;
    }
    case 'console': return consoleLines;
    case 'quit': await browser.close(); process.exit(0);
    default: throw new Error(`unknown op ${c.op}`);
  }
}

const rl = createInterface({ input: process.stdin });
console.log(JSON.stringify({ ok: true, value: 'ready' }));
for await (const line of rl) {
  if (!line.trim()) continue;
  let answer;
  try {
    answer = { ok: true, value: await run(JSON.parse(line)) };
  } catch (e) {
    answer = { ok: false, error: String(e && e.message ? e.message : e) };
  }
  console.log(JSON.stringify(answer === undefined ? null : answer));
}
await browser.close();
