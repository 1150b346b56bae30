// Checks a package's report.html (audiopack-qc) in headless Chromium.
//
//   node players/qc.mjs --file PACKAGE_DIR [--audition] [--screenshot OUT.png]
//   node players/qc.mjs --url http://127.0.0.1:PORT/PATH/report.html [--audition] [--screenshot OUT.png]
//   node players/qc.mjs --serve PACKAGE_DIR [--audition] [--screenshot OUT.png]
//
// --file opens PACKAGE_DIR/report.html from file:// (the page must fetch
// nothing); --url opens a served page (`audiopack serve DIR`); --serve
// serves PACKAGE_DIR itself on 127.0.0.1 (byte ranges, like `serve`).
//
// Checks, one JSON line each ({"check", "ok", …}); exit 1 if any fails:
//   load        the page loaded and drew its header;
//   plots       with qc.json embedded: the loudness, envelope and spectrum
//               SVGs exist and each has a series path with points (without
//               qc.json: the "no qc.json" note instead);
//   renditions  the renditions table has rows;
//   screenshot  a PNG of the page (OUT.png or a temporary file), decoded
//               here (zlib), has enough distinct colours not to be blank;
//   audition    (--audition) window.audition is ready: over HTTP in 'mse'
//               mode, from file:// in 'file' mode (or 'unavailable' with the
//               `audiopack serve` hint when the package has no downloads),
//               'protected' for an encrypted package;
//   play:NAME   (--audition) two Opus rungs and the lossless tier each play
//               (muted autoplay): currentTime advances by PLAY_SECONDS;
//   switch:A>B  (--audition) A/B switching keeps the position within 0.5 s
//               (the new rung starts where the old one was paused, and where
//               the old one would be by wall-clock time);
//   network     every request stayed on the page's origin (no CDN, fonts…);
//   console     no console errors and no uncaught page errors throughout.
import { createServer } from 'node:http';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, normalize, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { inflateSync } from 'node:zlib';
import { chromium } from 'playwright-core';
import { serveFile } from './files.mjs';

const PLAY_SECONDS = 1.0;
const SWITCH_TOLERANCE = 0.5;
const STEP_TIMEOUT_MS = 20_000;

const opts = { file: null, url: null, serve: null, audition: false, screenshot: null };
{
  const args = process.argv.slice(2);
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === '--audition') opts.audition = true;
    else if (['--file', '--url', '--serve', '--screenshot'].includes(a) && i + 1 < args.length) opts[a.slice(2)] = args[++i];
    else usage(`unknown argument ${a}`);
  }
  if ([opts.file, opts.url, opts.serve].filter(Boolean).length !== 1) usage('give one of --file, --url, --serve');
}

function usage(why) {
  console.error(`qc.mjs: ${why}\nusage: node players/qc.mjs (--file DIR | --url URL | --serve DIR) [--audition] [--screenshot OUT.png]`);
  process.exit(2);
}

let failed = 0;
function report(check, ok, detail = {}) {
  if (!ok) failed++;
  console.log(JSON.stringify({ check, ok, ...detail }));
}

// ---- a small static server for --serve (Range support, as `audiopack serve`) ----
function startServer(root) {
  const server = createServer((req, res) => {
    const url = new URL(req.url, 'http://127.0.0.1');
    const path = normalize(join(root, decodeURIComponent(url.pathname)));
    if (!path.startsWith(root)) {
      res.writeHead(404).end();
      return;
    }
    serveFile(req, res, path);
  });
  return new Promise((ok) => server.listen(0, '127.0.0.1', () => ok(server)));
}

// ---- PNG decoding (8-bit RGB/RGBA, non-interlaced: what Chromium writes) ----
function pngColours(buf) {
  if (buf.readUInt32BE(0) !== 0x89504e47) throw new Error('not a PNG');
  let off = 8;
  let width = 0;
  let height = 0;
  let channels = 0;
  const idat = [];
  while (off < buf.length) {
    const len = buf.readUInt32BE(off);
    const type = buf.toString('latin1', off + 4, off + 8);
    const data = buf.subarray(off + 8, off + 8 + len);
    if (type === 'IHDR') {
      width = data.readUInt32BE(0);
      height = data.readUInt32BE(4);
      if (data[8] !== 8 || data[12] !== 0) throw new Error('unsupported PNG (bit depth or interlace)');
      channels = { 2: 3, 6: 4, 0: 1, 4: 2 }[data[9]];
    } else if (type === 'IDAT') {
      idat.push(data);
    }
    off += 12 + len;
  }
  const raw = inflateSync(Buffer.concat(idat));
  const stride = width * channels;
  let prev = Buffer.alloc(stride);
  const colours = new Set();
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)];
    const line = Buffer.from(raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1)));
    for (let x = 0; x < stride; x++) {
      const a = x >= channels ? line[x - channels] : 0;
      const b = prev[x];
      const c = x >= channels ? prev[x - channels] : 0;
      let p = 0;
      if (filter === 1) p = a;
      else if (filter === 2) p = b;
      else if (filter === 3) p = (a + b) >> 1;
      else if (filter === 4) {
        const pa = Math.abs(b - c);
        const pb = Math.abs(a - c);
        const pc = Math.abs(a + b - 2 * c);
        p = pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
      }
      line[x] = (line[x] + p) & 255;
    }
    for (let x = 0; x < stride; x += channels * 3) colours.add(line.readUIntBE(x, Math.min(3, channels)));
    prev = line;
  }
  return { width, height, colours: colours.size };
}

// ---- the run ----
let server = null;
let pageUrl;
if (opts.file) {
  const html = join(resolve(opts.file), 'report.html');
  if (!existsSync(html)) usage(`${html} does not exist`);
  pageUrl = pathToFileURL(html).href;
} else if (opts.serve) {
  server = await startServer(resolve(opts.serve));
  pageUrl = `http://127.0.0.1:${server.address().port}/report.html`;
} else {
  pageUrl = opts.url;
}
const fromFile = pageUrl.startsWith('file:');

const profile = mkdtempSync(join(tmpdir(), 'audiopack-qc-chromium-'));
const context = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  viewport: { width: 1280, height: 900 },
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--autoplay-policy=no-user-gesture-required'],
});
const page = await context.newPage();
const consoleErrors = [];
const foreign = [];
const origin = fromFile ? 'file://' : new URL(pageUrl).origin;
page.on('console', (m) => {
  if (m.type() === 'error') consoleErrors.push(m.text());
});
page.on('pageerror', (e) => consoleErrors.push('pageerror: ' + (e && e.message)));
page.on('requestfailed', (r) => consoleErrors.push('request failed: ' + r.url() + ' ' + (r.failure() && r.failure().errorText)));
page.on('request', (r) => {
  const u = r.url();
  if (!(u.startsWith(origin) || u.startsWith('blob:') || u.startsWith('data:'))) foreign.push(u);
});

try {
  const res = await page.goto(pageUrl, { waitUntil: 'load' });
  const title = await page.$eval('#title', (e) => e.textContent).catch(() => null);
  report('load', (fromFile || (res && res.ok())) && !!title, { url: pageUrl, title });

  const plots = await page.evaluate(() => {
    const out = { qc: !!document.getElementById('qc-json'), plots: {} };
    for (const name of ['loudness', 'envelope', 'spectrum']) {
      const svg = document.querySelector('svg.' + name);
      const paths = svg ? [...svg.querySelectorAll('path.series')] : [];
      out.plots[name] = {
        svg: !!svg,
        series: paths.length,
        points: Math.max(0, ...paths.map((p) => ((p.getAttribute('d') || '').match(/[ML]/g) || []).length)),
        width: svg ? Math.round(svg.getBoundingClientRect().width) : 0,
      };
    }
    out.note = (document.getElementById('loudness-plot') || {}).textContent || '';
    return out;
  });
  if (plots.qc) {
    const ok = Object.values(plots.plots).every((p) => p.svg && p.series > 0 && p.points >= 2 && p.width > 100);
    report('plots', ok, { plots: plots.plots });
  } else {
    report('plots', /qc\.json/.test(plots.note), { qc: false, note: plots.note.slice(0, 120) });
  }

  const rows = await page.$$eval('#renditions tbody tr', (trs) => trs.length);
  report('renditions', rows > 0, { rows });

  const shot = opts.screenshot ? resolve(opts.screenshot) : join(profile, 'report.png');
  const png = await page.screenshot({ path: shot, fullPage: true });
  const img = pngColours(png);
  report('screenshot', img.colours >= 16 && img.height > 300, { path: opts.screenshot ? shot : null, ...img });

  if (opts.audition) await auditionChecks();
  await page.waitForTimeout(300);
} catch (e) {
  report('run', false, { error: String(e && e.stack || e) });
}
report('network', foreign.length === 0, { foreign: foreign.slice(0, 5) });
report('console', consoleErrors.length === 0, { errors: consoleErrors.slice(0, 10) });
await context.close();
rmSync(profile, { recursive: true, force: true });
if (server) server.close();
process.exit(failed ? 1 : 0);

async function auditionChecks() {
  await page.waitForFunction(() => window.audition && window.audition.ready, null, { timeout: STEP_TIMEOUT_MS });
  await page.evaluate(() => window.audition.ready);
  const state = await page.evaluate(() => ({
    mode: window.audition.mode, rungs: window.audition.rungs, lossless: window.audition.lossless, message: window.audition.message,
  }));
  const encrypted = await page.evaluate(() => !!(JSON.parse(document.getElementById('report-json').textContent).protection));
  if (encrypted) {
    report('audition', state.mode === 'protected' && /license server/.test(state.message || ''), state);
    return;
  }
  if (fromFile && state.mode === 'unavailable') {
    report('audition', /audiopack serve/.test(state.message || ''), state);
    return;
  }
  const wanted = fromFile ? 'file' : 'mse';
  report('audition', state.mode === wanted && state.rungs.length > 0, state);
  if (state.mode !== wanted) return;

  const opus = state.rungs.filter((n) => n !== state.lossless);
  const sequence = [...new Set([opus[0], opus[opus.length - 1], state.lossless].filter(Boolean))];
  let previous = null;
  for (const name of sequence) {
    if (previous) {
      const r = await page.evaluate(async (to) => {
        const t0 = window.audition.currentTime();
        const w0 = performance.now();
        const res = await window.audition.select(to);
        const elapsed = (performance.now() - w0) / 1000;
        return { ...res, t0, elapsed, now: window.audition.currentTime(), current: window.audition.current() };
      }, name);
      const jump = Math.abs(r.toTime - r.fromTime);
      const drift = Math.abs(r.now - (r.t0 + r.elapsed));
      report(`switch:${previous}>${name}`, r.current === name && jump <= SWITCH_TOLERANCE && drift <= SWITCH_TOLERANCE, {
        fromTime: round(r.fromTime), toTime: round(r.toTime), wallClockDrift: round(drift), switchSeconds: round(r.elapsed),
      });
    } else {
      await page.evaluate((to) => window.audition.select(to, { play: true }), name);
      await page.evaluate(() => window.audition.play());
    }
    const played = await page.evaluate(async ({ seconds, timeout }) => {
      const a = window.audition;
      // A short input may be at (or near) its end already: start over.
      const el0 = a.element(a.current());
      if (el0.ended || el0.duration - a.currentTime() < seconds + 0.3) {
        await a.seek(0);
        await a.play();
      }
      const start = a.currentTime();
      const t0 = performance.now();
      while (performance.now() - t0 < timeout) {
        if (a.currentTime() - start >= seconds) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      const el = a.element(a.current());
      return {
        current: a.current(), start, end: a.currentTime(), paused: el.paused, ended: el.ended,
        duration: el.duration, error: el.error && el.error.code,
      };
    }, { seconds: PLAY_SECONDS, timeout: STEP_TIMEOUT_MS });
    // A short input may end first: reaching its end counts as playing.
    const advanced = played.end - played.start >= PLAY_SECONDS ||
      (played.ended && played.end > played.start && played.end >= played.duration - 0.1);
    report(`play:${name}`, played.current === name && advanced && !played.error, {
      start: round(played.start), end: round(played.end), paused: played.paused, ended: played.ended, error: played.error || null,
    });
    previous = name;
  }
  const others = await page.evaluate(() => window.audition.rungs
    .filter((n) => n !== window.audition.current())
    .filter((n) => window.audition.element(n) && !window.audition.element(n).paused));
  report('one-playing', others.length === 0, { alsoPlaying: others });
  await page.evaluate(() => window.audition.pause());
}

function round(v) {
  return typeof v === 'number' ? Math.round(v * 1000) / 1000 : v;
}
