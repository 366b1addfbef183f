// Drives one page in headless Debian Chromium for a Python test (never a
// downloaded browser: playwright-core from web/node_modules only drives it).
//   node tests/e2e/page_driver.mjs <URL> [chromium path] [WIDTHxHEIGHT]
// Reads one JSON command a line on stdin and answers one JSON line on stdout:
//   {"op": "eval", "expr": "…"}                    -> {"ok": true, "value": …}
//   {"op": "wait", "expr": "…", "timeout_ms": N}   -> {"ok": true, "ms": …, "value": …} (ok false on timeout)
//   {"op": "screenshot", "path": "…"}              -> {"ok": true}
//   {"op": "console"}                              -> {"ok": true, "value": [{type, text}, …]}
//   {"op": "quit"}
// The first line printed is {"ready": true} once the page has loaded.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import { createInterface } from 'node:readline';

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(join(here, '..', '..', 'web', 'package.json'));
const { chromium } = require('playwright-core');

const [url, executablePath = '/usr/bin/chromium', size = '1366x768'] = process.argv.slice(2);
const [width, height] = size.split('x').map(Number);
const userDataDir = mkdtempSync(join(tmpdir(), 'onair-chromium-'));
const args = ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
  '--disable-quic', '--autoplay-policy=no-user-gesture-required'];
const context = await chromium.launchPersistentContext(userDataDir, {
  executablePath, headless: true, args, viewport: { width, height },
});
const messages = [];
const say = (obj) => process.stdout.write(JSON.stringify(obj) + '\n');
try {
  const page = await context.newPage();
  page.on('console', (m) => messages.push({ type: m.type(), text: m.text() }));
  page.on('pageerror', (e) => messages.push({ type: 'pageerror', text: String(e && e.stack || e) }));
  page.on('requestfailed', (r) => {
    // A stream or media request the page itself cancels is not a failure.
    const why = r.failure() ? r.failure().errorText : '';
    if (why !== 'net::ERR_ABORTED') { messages.push({ type: 'requestfailed', text: `${r.url()} ${why}` }); }
  });
  await page.goto(url, { waitUntil: 'load' });
  say({ ready: true });
  const lines = createInterface({ input: process.stdin });
  for await (const line of lines) {
    if (!line.trim()) { continue; }
    const cmd = JSON.parse(line);
    try {
      if (cmd.op === 'quit') { say({ ok: true }); break; }
      if (cmd.op === 'eval') {
        say({ ok: true, value: await page.evaluate(cmd.expr) });
      } else if (cmd.op === 'wait') {
        const t0 = Date.now();
        try {
          const handle = await page.waitForFunction(cmd.expr, null, { timeout: cmd.timeout_ms, polling: 100 });
          say({ ok: true, ms: Date.now() - t0, value: await handle.jsonValue() });
        } catch (e) {
          say({ ok: false, ms: Date.now() - t0, error: String(e.message || e).split('\n')[0] });
        }
      } else if (cmd.op === 'screenshot') {
        await page.screenshot({ path: cmd.path });
        say({ ok: true });
      } else if (cmd.op === 'console') {
        say({ ok: true, value: messages });
      } else {
        say({ ok: false, error: `unknown op ${cmd.op}` });
      }
    } catch (e) {
      say({ ok: false, error: String(e.message || e) });
    }
  }
} finally {
  await context.close();
  rmSync(userDataDir, { recursive: true, force: true });
}
