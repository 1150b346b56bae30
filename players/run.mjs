// Plays audiopack packages in headless Chromium with Shaka Player (HLS and
// DASH), hls.js (HLS) and dash.js (DASH), adaptive switching left on, and
// checks each gets past a few seconds of playback with no player error.
//
//   node players/run.mjs [--clearkey KID:KEY[,KID:KEY]] [--expect-failure] PACKAGE_DIR...
//
// --clearkey (hex key IDs and keys) plays the packages after it as
// encrypted ones through the browser's ClearKey CDM (Shaka Player HLS and
// DASH, dash.js; hls.js has no ClearKey path for fMP4 here, so it is left
// out for them). --expect-failure turns the packages after it into
// negative cases: they pass only if the player reports an error (a wrong
// key with cbcs).
//
// Prints one JSON line per case and exits non-zero if any case failed.
// Everything is served from 127.0.0.1 (with Range support, for the
// single-file layout); Chromium is Debian's (/usr/bin/chromium).
import { createServer } from 'node:http';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, normalize, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { serveFile } from './files.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const packages = [];
const packageOptions = [];
{
  let clearkeys = null;
  let expectFailure = false;
  const args = process.argv.slice(2);
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--clearkey') {
      clearkeys = Object.fromEntries(args[++i].split(',').map((pair) => pair.split(':')));
    } else if (args[i] === '--expect-failure') {
      expectFailure = true;
    } else {
      packages.push(resolve(args[i]));
      packageOptions.push({ clearkeys, expectFailure });
    }
  }
}
if (packages.length === 0) {
  console.error('usage: node run.mjs PACKAGE_DIR...');
  process.exit(2);
}
const PLAY_SECONDS = 3;
const CASE_TIMEOUT_MS = 45_000;

const libs = {
  '/lib/shaka.js': 'node_modules/shaka-player/dist/shaka-player.compiled.js',
  '/lib/hls.js': 'node_modules/hls.js/dist/hls.min.js',
  '/lib/dash.js': 'node_modules/dashjs/dist/modern/umd/dash.all.min.js',
};
const page = `<!doctype html><html><body><audio id="a" muted></audio><script>
const q = new URLSearchParams(location.search);
const player = q.get('player'), src = q.get('src');
// Hex key ID → hex key, for the ClearKey CDM.
const clearkeys = q.get('clearkeys') ? JSON.parse(q.get('clearkeys')) : null;
const hexToB64url = (hex) => btoa(String.fromCharCode(...hex.match(/../g).map((h) => parseInt(h, 16))))
  .split('+').join('-').split('/').join('_').split('=').join('');
const audio = document.getElementById('a');
window.result = null;
const warnings = [];
function done(r) { if (!window.result) window.result = Object.assign({ warnings }, r); }
function fail(msg) { done({ ok: false, error: msg }); }
audio.addEventListener('error', () => fail('media element error ' + (audio.error && audio.error.code) + ' ' + (audio.error && audio.error.message)));
async function start() {
  if (player === 'shaka') {
    shaka.polyfill.installAll();
    const p = new shaka.Player();
    await p.attach(audio);
    p.addEventListener('error', (e) => fail('shaka error ' + e.detail.code + ' ' + JSON.stringify(e.detail.data).slice(0, 300)));
    if (clearkeys) p.configure({ drm: { clearKeys: clearkeys } });
    await p.load(src);
  } else if (player === 'hlsjs') {
    const h = new Hls();
    // Any hls.js error fails the case, except a playback stall (a timing
    // matter of the headless machine, not of the content).
    const benign = ['bufferStalledError', 'bufferNudgeOnStall', 'bufferSeekOverHole'];
    h.on(Hls.Events.ERROR, (ev, d) => {
      if (benign.includes(d.details) && !d.fatal) warnings.push('hls.js ' + d.details);
      else fail('hls.js ' + (d.fatal ? 'fatal ' : '') + d.type + ' ' + d.details);
    });
    h.loadSource(src);
    h.attachMedia(audio);
  } else if (player === 'dashjs') {
    const p = dashjs.MediaPlayer().create();
    p.on(dashjs.MediaPlayer.events.ERROR, (e) => fail('dash.js error ' + JSON.stringify(e.error || e).slice(0, 300)));
    if (clearkeys) {
      const keys = {};
      for (const [kid, key] of Object.entries(clearkeys)) keys[hexToB64url(kid)] = hexToB64url(key);
      p.setProtectionData({ 'org.w3.clearkey': { clearkeys: keys } });
    }
    p.initialize(audio, src, true);
  } else {
    throw new Error('unknown player ' + player);
  }
  audio.play().catch((e) => warnings.push('play(): ' + e));
  const t0 = Date.now();
  const poll = setInterval(() => {
    if (audio.currentTime > ${PLAY_SECONDS}) { clearInterval(poll); done({ ok: true, currentTime: audio.currentTime }); }
    else if (Date.now() - t0 > ${CASE_TIMEOUT_MS - 5000}) { clearInterval(poll); fail('stuck at currentTime ' + audio.currentTime + ', readyState ' + audio.readyState); }
  }, 200);
}
start().catch((e) => fail(String(e && e.stack || e)));
</script></body></html>`;

// Media answers carry a CORS header, as a CDN origin serving players on
// other sites must.
const cors = { 'Access-Control-Allow-Origin': '*' };

const server = createServer((req, res) => {
  const url = new URL(req.url, 'http://127.0.0.1');
  if (url.pathname === '/page.html') {
    res.writeHead(200, { 'Content-Type': 'text/html' }).end(page.replace('<script>', `<script src="${libFor(url.searchParams.get('player'))}"></script><script>`));
    return;
  }
  if (libs[url.pathname]) {
    serveFile(req, res, join(here, libs[url.pathname]), cors);
    return;
  }
  const m = /^\/pkg\/(\d+)\/(.*)$/.exec(url.pathname);
  if (m && packages[Number(m[1])]) {
    const root = packages[Number(m[1])];
    const path = normalize(join(root, decodeURIComponent(m[2])));
    if (path.startsWith(root)) {
      serveFile(req, res, path, cors);
      return;
    }
  }
  res.writeHead(404).end();
});

function libFor(player) {
  return { shaka: '/lib/shaka.js', hlsjs: '/lib/hls.js', dashjs: '/lib/dash.js' }[player] || '/lib/none.js';
}

await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
const port = server.address().port;
const profile = mkdtempSync(join(tmpdir(), 'audiopack-chromium-'));
const context = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--autoplay-policy=no-user-gesture-required'],
});

const cases = [];
packages.forEach((dir, i) => {
  const { clearkeys, expectFailure } = packageOptions[i];
  const add = (player, manifest) => {
    if (clearkeys && player === 'hlsjs') return;
    if (existsSync(join(dir, manifest))) {
      cases.push({ pkg: dir, player, src: `/pkg/${i}/${manifest}`, clearkeys, expectFailure });
    }
  };
  add('shaka', 'master.m3u8');
  add('hlsjs', 'master.m3u8');
  add('shaka', 'manifest.mpd');
  add('dashjs', 'manifest.mpd');
  add('shaka', 'lossless.m3u8');
  add('hlsjs', 'lossless.m3u8');
});

let failed = 0;
for (const c of cases) {
  const tab = await context.newPage();
  const console_errors = [];
  tab.on('pageerror', (e) => console_errors.push(String(e)));
  let result;
  try {
    const keys = c.clearkeys ? `&clearkeys=${encodeURIComponent(JSON.stringify(c.clearkeys))}` : '';
    await tab.goto(`http://127.0.0.1:${port}/page.html?player=${c.player}&src=${encodeURIComponent(c.src)}${keys}`);
    await tab.waitForFunction(() => window.result !== null, null, { timeout: CASE_TIMEOUT_MS });
    result = await tab.evaluate(() => window.result);
  } catch (e) {
    result = { ok: false, error: 'harness: ' + String(e).slice(0, 300) };
  }
  if (console_errors.length) {
    result.ok = false;
    result.error = (result.error || '') + ' page errors: ' + console_errors.join('; ').slice(0, 300);
  }
  if (c.expectFailure) {
    // A negative case passes when the player refused the content.
    result.played = result.ok;
    result.ok = !result.ok && !!result.error;
  }
  if (!result.ok) failed += 1;
  const { clearkeys, ...shown } = c;
  console.log(JSON.stringify({ ...shown, encrypted: !!clearkeys, ...result }));
  await tab.close();
}
await context.close();
server.close();
rmSync(profile, { recursive: true, force: true });
console.log(`${cases.length - failed} passed, ${failed} failed`);
process.exit(failed === 0 && cases.length > 0 ? 0 : 1);
