// Opens onair's browser player in headless Debian Chromium (never a downloaded
// browser: playwright-core from web/node_modules only drives it), lets it play
// for a while and prints window.onairPlayer as JSON, sampled at the start and end.
//   node tests/e2e/player_check.mjs <player URL> [seconds] [chromium path]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(join(here, '..', '..', 'web', 'package.json'));
const { chromium } = require('playwright-core');

const [url, seconds = '20', executablePath = '/usr/bin/chromium'] = process.argv.slice(2);
if (!url) {
  console.error('usage: player_check.mjs <player URL> [seconds] [chromium path]');
  process.exit(2);
}
const userDataDir = mkdtempSync(join(tmpdir(), 'onair-chromium-'));
const args = ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
  '--disable-quic', '--autoplay-policy=no-user-gesture-required'];
const context = await chromium.launchPersistentContext(userDataDir, { executablePath, headless: true, args });
const read = () => page.evaluate(() => JSON.parse(JSON.stringify(window.onairPlayer)));
let page;
try {
  page = await context.newPage();
  const console_ = [];
  page.on('console', (m) => console_.push(`${m.type()}: ${m.text()}`));
  page.on('pageerror', (e) => console_.push(`pageerror: ${e.message}`));
  await page.goto(url, { waitUntil: 'load' });
  await page.waitForFunction(() => window.onairPlayer !== undefined, null, { timeout: 10000 });
  const codecs = await page.evaluate(() => ({
    avc1: MediaSource.isTypeSupported('video/mp4; codecs="avc1.42E01E"'),
    mp4a: MediaSource.isTypeSupported('audio/mp4; codecs="mp4a.40.2"'),
  }));
  // Start the clock once playback is under way (or after 15 s at most).
  const t0 = Date.now();
  await page.waitForFunction(() => window.onairPlayer.currentTime > 0, null, { timeout: 15000 }).catch(() => {});
  const start = await read();
  const waitedForStart = (Date.now() - t0) / 1000;
  await page.waitForTimeout(Number(seconds) * 1000);
  const end = await read();
  console.log(JSON.stringify({ codecs, waitedForStart, seconds: Number(seconds), start, end, console: console_.slice(-30) }));
} finally {
  await context.close();
  rmSync(userDataDir, { recursive: true, force: true });
}
