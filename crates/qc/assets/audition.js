// The audition player: A/B every rung of the package and its lossless tier
// at the same position, with nothing but the browser (our own code, no
// player library).
//
//   window.audition = {
//     mode,            // 'mse'         served over HTTP: the package's HLS playlists
//                      //               (master.m3u8 / lossless.m3u8 → media playlists →
//                      //               EXT-X-MAP init + EXTINF segments, EXT-X-BYTERANGE
//                      //               for single-file) fed to Media Source Extensions;
//                      // 'file'        opened from file:// (or no HLS): <audio src> on the
//                      //               .opus downloads / single-file .mp4, no fetch;
//                      // 'protected'   encrypted package: needs a license server;
//                      // 'unavailable' nothing playable here (see `message`).
//     ready,           // Promise: resolves once `rungs` is known and the top Opus
//                      // rung is loaded, paused at 0 (never rejects).
//     rungs,           // names, Opus ladder by bandwidth, then the lossless tier.
//     lossless,        // the lossless tier's name, or null.
//     message,         // why there is no player, or the last error (null if none).
//     select(name, {play}) → Promise<{from, to, fromTime, toTime}>
//                      // switch to `name` at the current position; plays if the
//                      // previous rung was playing (or `play: true`).
//     current() → name | null,   currentTime() → seconds,
//     play() → Promise,  pause(),  seek(seconds) → Promise,
//     element(name) → HTMLAudioElement (null until the rung was first selected),
//     onTime(callback(seconds, playing)),   // playhead updates for the plots
//   };
//
// MSE buffering: segments are fetched on demand up to AHEAD seconds past
// the playhead and removed more than BEHIND seconds before it (both scaled
// to the rung's bandwidth so a hi-res FLAC tier stays under the browser's
// SourceBuffer quota); `seeking` loads the segment under the new position.
'use strict';

const AUDITION_BUDGET_BITS = 64e6; // ~8 MB of media per rung at once
const WAIT_TIMEOUT_MS = 20000;

// Resolves when `test()` holds, re-checked on `events` of `target` and
// every 100 ms; rejects on the element's error or after `ms`.
function until(target, test, events, ms, what) {
  return new Promise((resolve, reject) => {
    let timer = null;
    let poll = null;
    const check = () => {
      let ok = false;
      try {
        ok = test();
      } catch (e) {
        finish(e);
        return;
      }
      if (ok) finish(null);
    };
    const onError = () => finish(new Error(what + ': ' + mediaErrorText(target)));
    const finish = (err) => {
      clearTimeout(timer);
      clearInterval(poll);
      for (const ev of events) target.removeEventListener(ev, check);
      target.removeEventListener('error', onError);
      if (err) reject(err);
      else resolve();
    };
    for (const ev of events) target.addEventListener(ev, check);
    target.addEventListener('error', onError);
    timer = setTimeout(() => finish(new Error(what + ': timed out')), ms);
    poll = setInterval(check, 100);
    check();
  });
}

function mediaErrorText(el) {
  const e = el && el.error;
  return e ? 'media error ' + e.code + (e.message ? ' (' + e.message + ')' : '') : 'media error';
}

// ---- HLS playlists -------------------------------------------------------

function hlsAttributes(text) {
  const out = {};
  const re = /([A-Z0-9-]+)=("[^"]*"|[^,]*)/g;
  let m;
  while ((m = re.exec(text))) out[m[1]] = m[2].startsWith('"') ? m[2].slice(1, -1) : m[2];
  return out;
}

function hlsLines(text, url) {
  const lines = text.split(/\r?\n/).map((l) => l.trim()).filter((l) => l);
  if (lines[0] !== '#EXTM3U') throw new Error(url + ': not an HLS playlist');
  return lines;
}

// Master playlist → [{ url, bandwidth, averageBandwidth, codecs }].
function parseMasterPlaylist(text, url) {
  const out = [];
  let pending = null;
  for (const line of hlsLines(text, url)) {
    if (line.startsWith('#EXT-X-STREAM-INF:')) {
      pending = hlsAttributes(line.slice(18));
    } else if (!line.startsWith('#') && pending) {
      out.push({
        url: new URL(line, url).href,
        bandwidth: Number(pending.BANDWIDTH) || 0,
        averageBandwidth: Number(pending['AVERAGE-BANDWIDTH']) || 0,
        codecs: pending.CODECS || '',
      });
      pending = null;
    }
  }
  return out;
}

// "length[@offset]"; without an offset the range follows the previous one.
function hlsByteRange(value, previousEnd) {
  const [length, offset] = value.split('@');
  const start = offset !== undefined ? Number(offset) : previousEnd;
  return { start, end: start + Number(length) - 1 };
}

// Media playlist → { init: {url, range}, segments: [{url, range, start, end}], duration }.
function parseMediaPlaylist(text, url) {
  let init = null;
  const segments = [];
  let extinf = null;
  let range = null;
  let t = 0;
  const ends = {};
  for (const line of hlsLines(text, url)) {
    if (line.startsWith('#EXT-X-MAP:')) {
      const a = hlsAttributes(line.slice(11));
      const mapUrl = new URL(a.URI, url).href;
      init = { url: mapUrl, range: a.BYTERANGE ? hlsByteRange(a.BYTERANGE, 0) : null };
      if (init.range) ends[mapUrl] = init.range.end + 1;
    } else if (line.startsWith('#EXT-X-KEY:')) {
      const a = hlsAttributes(line.slice(11));
      if (a.METHOD && a.METHOD !== 'NONE') throw new Error(url + ': encrypted (' + a.METHOD + ')');
    } else if (line.startsWith('#EXTINF:')) {
      extinf = parseFloat(line.slice(8));
    } else if (line.startsWith('#EXT-X-BYTERANGE:')) {
      range = line.slice(17);
    } else if (!line.startsWith('#')) {
      const segUrl = new URL(line, url).href;
      const r = range === null ? null : hlsByteRange(range, ends[segUrl] || 0);
      if (r) ends[segUrl] = r.end + 1;
      const d = Number.isFinite(extinf) ? extinf : 0;
      segments.push({ url: segUrl, range: r, start: t, end: t + d });
      t += d;
      extinf = null;
      range = null;
    }
  }
  if (!init) throw new Error(url + ': no EXT-X-MAP');
  return { init, segments, duration: t };
}

async function fetchOk(url, init) {
  const res = await fetch(url, init);
  if (!res.ok) throw new Error(url + ': HTTP ' + res.status);
  return res;
}

async function fetchMedia(ref) {
  if (!ref.range) return (await fetchOk(ref.url)).arrayBuffer();
  const res = await fetchOk(ref.url, { headers: { Range: 'bytes=' + ref.range.start + '-' + ref.range.end } });
  const buf = await res.arrayBuffer();
  // A server that ignores Range answers 200 with the whole file.
  return res.status === 206 ? buf : buf.slice(ref.range.start, ref.range.end + 1);
}

// ---- one rung: an <audio> element fed by MSE, or by a plain URL ----------

class MseRung {
  constructor(name, playlistUrl, mime, bandwidth) {
    this.name = name;
    this.playlistUrl = playlistUrl;
    this.mime = mime;
    const span = AUDITION_BUDGET_BITS / Math.max(bandwidth || 0, 64000);
    this.ahead = Math.min(40, Math.max(8, span * 0.6));
    this.behind = Math.min(30, Math.max(4, span * 0.3));
    this.audio = newAudioElement();
    this.have = new Set();
    this.busy = false;
    this.opening = null;
    this.failed = null;
  }

  prepare() {
    if (!this.opening) this.opening = this.open();
    return this.opening;
  }

  async open() {
    const text = await (await fetchOk(this.playlistUrl)).text();
    this.list = parseMediaPlaylist(text, this.playlistUrl);
    this.ms = new MediaSource();
    const objectUrl = URL.createObjectURL(this.ms);
    this.audio.src = objectUrl;
    await until(this.ms, () => this.ms.readyState === 'open', ['sourceopen'], WAIT_TIMEOUT_MS, this.name);
    URL.revokeObjectURL(objectUrl);
    this.sb = this.ms.addSourceBuffer(this.mime);
    if (this.list.duration > 0) this.ms.duration = this.list.duration;
    await this.append(await fetchMedia(this.list.init));
    const pump = () => this.pump();
    for (const ev of ['timeupdate', 'seeking', 'waiting', 'play']) this.audio.addEventListener(ev, pump);
    this.pump();
  }

  append(buffer) {
    return new Promise((resolve, reject) => {
      const done = () => {
        this.sb.removeEventListener('updateend', done);
        this.sb.removeEventListener('error', fail);
        resolve();
      };
      const fail = () => {
        this.sb.removeEventListener('updateend', done);
        this.sb.removeEventListener('error', fail);
        reject(new Error(this.name + ': append failed'));
      };
      this.sb.addEventListener('updateend', done);
      this.sb.addEventListener('error', fail);
      try {
        this.sb.appendBuffer(buffer);
      } catch (e) {
        this.sb.removeEventListener('updateend', done);
        this.sb.removeEventListener('error', fail);
        reject(e);
      }
    });
  }

  remove(start, end) {
    if (!(end > start)) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        this.sb.removeEventListener('updateend', done);
        resolve();
      };
      this.sb.addEventListener('updateend', done);
      this.sb.remove(start, end);
    });
  }

  indexAt(t) {
    const segs = this.list.segments;
    for (let i = 0; i < segs.length; i++) if (t < segs[i].end) return i;
    return segs.length - 1;
  }

  nextNeeded(t) {
    const segs = this.list.segments;
    for (let i = Math.max(0, this.indexAt(t)); i < segs.length && segs[i].start < t + this.ahead; i++) {
      if (!this.have.has(i)) return i;
    }
    return -1;
  }

  pump() {
    if (this.busy || !this.sb || this.failed) return;
    const t = this.audio.currentTime;
    const i = this.nextNeeded(t);
    if (i < 0) {
      this.maybeEnd();
      return;
    }
    this.busy = true;
    this.load(i, t)
      .catch((e) => {
        this.failed = e;
        if (this.onError) this.onError(e);
      })
      .finally(() => {
        this.busy = false;
        if (!this.failed) this.pump();
      });
  }

  async load(i, t) {
    const data = await fetchMedia(this.list.segments[i]);
    await this.evict(t);
    try {
      await this.append(data);
    } catch (e) {
      if (!e || e.name !== 'QuotaExceededError') throw e;
      await this.evict(t, true);
      await this.append(data);
    }
    this.have.add(i);
  }

  // Drops what lies more than `behind` seconds before `t` or beyond the
  // look-ahead (after a backward seek), on segment boundaries.
  async evict(t, hard) {
    const segs = this.list.segments;
    const cur = this.indexAt(t);
    const first = hard ? cur : this.indexAt(Math.max(0, t - this.behind));
    let last = segs.length;
    for (let i = cur; i < segs.length; i++) {
      if (segs[i].start >= t + (hard ? 0 : this.ahead) + (segs[i].end - segs[i].start)) {
        last = i;
        break;
      }
    }
    const dropBefore = [...this.have].filter((i) => i < first);
    const dropAfter = [...this.have].filter((i) => i >= last);
    if (dropBefore.length) {
      await this.remove(0, segs[first].start);
      dropBefore.forEach((i) => this.have.delete(i));
    }
    if (dropAfter.length) {
      await this.remove(segs[last].start, Infinity);
      dropAfter.forEach((i) => this.have.delete(i));
    }
  }

  maybeEnd() {
    const last = this.list.segments.length - 1;
    if (this.have.has(last) && this.ms.readyState === 'open' && !this.sb.updating) {
      this.ms.endOfStream();
    }
  }
}

class FileRung {
  constructor(name, url) {
    this.name = name;
    this.url = url;
    this.audio = newAudioElement();
    this.opening = null;
  }

  prepare() {
    if (!this.opening) {
      this.audio.src = this.url;
      this.opening = until(this.audio, () => this.audio.readyState >= 1, ['loadedmetadata'], WAIT_TIMEOUT_MS, this.name);
    }
    return this.opening;
  }
}

function newAudioElement() {
  const a = document.createElement('audio');
  a.preload = 'auto';
  a.controls = true;
  a.hidden = true;
  return a;
}

// Seeks `rung` to `t` and waits until it can play there.
async function settleAt(rung, t) {
  const a = rung.audio;
  if (Math.abs(a.currentTime - t) > 0.01) a.currentTime = t;
  await until(a, () => !a.seeking && a.readyState >= 2, ['seeked', 'canplay', 'loadeddata', 'progress'], WAIT_TIMEOUT_MS, rung.name);
}

// ---- the controller: which rungs, the buttons, A/B switching --------------

// What can be auditioned where the page is: [{ name, label, kind, make() }].
async function auditionPlan(report) {
  const pkg = report.package || null;
  const isHttp = location.protocol === 'http:' || location.protocol === 'https:';
  const masters = pkg && Array.isArray(pkg.manifests) ? pkg.manifests.filter((m) => /\.m3u8$/.test(m)) : [];
  if (isHttp && masters.length && typeof MediaSource !== 'undefined') {
    const byPlaylist = new Map();
    for (const r of (pkg.renditions || [])) {
      if (r.playlist) byPlaylist.set(new URL(r.playlist, location.href).href, r);
    }
    const rungs = [];
    for (const master of masters) {
      const masterUrl = new URL(master, location.href).href;
      const text = await (await fetchOk(masterUrl)).text();
      for (const v of parseMasterPlaylist(text, masterUrl)) {
        const known = byPlaylist.get(v.url);
        const name = known ? known.name : v.url.replace(/^.*\//, '').replace(/\.m3u8$/, '');
        const codec = (v.codecs || (known && known.codecs) || '').toLowerCase();
        const lossless = codec.indexOf('flac') >= 0;
        const mime = 'audio/mp4; codecs="' + (lossless ? 'flac' : codec) + '"';
        const supported = MediaSource.isTypeSupported(mime);
        rungs.push({
          name, lossless, bandwidth: v.averageBandwidth || v.bandwidth, supported,
          note: supported ? null : mime + ' is not supported by this browser',
          make: () => new MseRung(name, v.url, mime, v.bandwidth),
        });
      }
    }
    return { mode: 'mse', rungs: orderRungs(rungs) };
  }
  const rungs = [];
  for (const r of (report.renditions || [])) {
    if (r.file) rungs.push({ name: r.name, lossless: false, bandwidth: r.bitrate_measured_bps, supported: true, file: r.file });
  }
  if (pkg && pkg.layout === 'single-file') {
    for (const r of (pkg.renditions || [])) {
      const mp4 = (r.files || []).find((f) => /\.mp4$/.test(f));
      if (!mp4 || rungs.some((x) => x.name === r.name)) continue;
      const lossless = String(r.codecs || '').toLowerCase().indexOf('flac') >= 0;
      rungs.push({ name: r.name, lossless, bandwidth: r.average_bandwidth_bps, supported: true, file: mp4 });
    }
  }
  for (const r of rungs) r.make = () => new FileRung(r.name, r.file);
  if (rungs.length) return { mode: 'file', rungs: orderRungs(rungs) };
  const message = location.protocol === 'file:'
    ? 'Opened from a file: run `audiopack serve DIR` and open this page from there to audition the package.'
    : 'Nothing to audition: the package has no HLS playlists, Ogg downloads or single-file MP4s.';
  return { mode: 'unavailable', rungs: [], message };
}

function orderRungs(rungs) {
  return rungs.slice().sort((a, b) => (a.lossless - b.lossless) || ((a.bandwidth || 0) - (b.bandwidth || 0)));
}

function createAudition(report, root) {
  const api = { mode: 'unavailable', rungs: [], lossless: null, message: null };
  const players = new Map();
  const plans = new Map();
  const timeListeners = [];
  let current = null;
  let chain = Promise.resolve();

  const bar = document.createElement('div');
  bar.className = 'audition-bar';
  const status = document.createElement('span');
  status.id = 'audition-status';
  status.className = 'muted';
  const stage = document.createElement('div');
  root.append(bar, stage);
  const say = (text, bad) => {
    status.textContent = text || '';
    status.className = bad ? 'bad' : 'muted';
  };

  const player = (name) => {
    if (!players.has(name)) {
      const plan = plans.get(name);
      if (!plan) throw new Error('no rung named ' + name);
      const p = plan.make();
      p.onError = (e) => {
        api.message = String(e && e.message || e);
        if (current === p) say(api.message, true);
      };
      p.audio.addEventListener('error', () => p.onError(new Error(name + ': ' + mediaErrorText(p.audio))));
      p.audio.addEventListener('timeupdate', () => {
        if (current === p) for (const f of timeListeners) f(p.audio.currentTime, !p.audio.paused);
      });
      stage.append(p.audio);
      players.set(name, p);
    }
    return players.get(name);
  };

  const switchTo = async (name, opts) => {
    const to = player(name);
    const from = current;
    if (to === from) return { from: name, to: name, fromTime: to.audio.currentTime, toTime: to.audio.currentTime };
    const playing = from ? !from.audio.paused : !!(opts && opts.play);
    say('loading ' + name + '\u2026');
    await to.prepare();
    if (from) {
      to.audio.muted = from.audio.muted;
      to.audio.volume = from.audio.volume;
      // Buffer at the position, then catch up with where `from` got to.
      await settleAt(to, from.audio.currentTime);
    }
    const fromTime = from ? from.audio.currentTime : 0;
    if (from) from.audio.pause();
    await settleAt(to, fromTime);
    if (playing) await to.audio.play();
    if (from) from.audio.hidden = true;
    to.audio.hidden = false;
    current = to;
    for (const b of bar.querySelectorAll('button')) b.setAttribute('aria-pressed', String(b.dataset.rung === name));
    say('');
    return { from: from ? from.name : null, to: name, fromTime, toTime: to.audio.currentTime };
  };

  api.select = (name, opts) => {
    const run = chain.then(() => switchTo(name, opts));
    chain = run.catch(() => {});
    run.catch((e) => say(String(e && e.message || e), true));
    return run;
  };
  api.current = () => (current ? current.name : null);
  api.currentTime = () => (current ? current.audio.currentTime : 0);
  api.element = (name) => (players.has(name) ? players.get(name).audio : null);
  api.play = async () => {
    if (!current && api.rungs.length) await api.select(api.rungs[0]);
    return current ? current.audio.play() : undefined;
  };
  api.pause = () => {
    if (current) current.audio.pause();
  };
  api.seek = async (t) => {
    if (!current && api.rungs.length) await api.select(api.rungs[api.rungs.length - 1]);
    if (current) await settleAt(current, t);
  };
  api.onTime = (f) => timeListeners.push(f);

  api.ready = (async () => {
    if (report.protection) {
      api.mode = 'protected';
      api.message = 'This package is encrypted (' + (report.protection.scheme || 'DRM') +
        '): audition it in a player set up with a license server, not here.';
      root.insertAdjacentHTML('afterbegin', '<p class="warn">' + esc(api.message) + '</p>');
      return;
    }
    let plan;
    try {
      plan = await auditionPlan(report);
    } catch (e) {
      plan = { mode: 'unavailable', rungs: [], message: 'Cannot read the playlists: ' + (e && e.message || e) };
    }
    api.mode = plan.mode;
    api.message = plan.message || null;
    if (!plan.rungs.length) {
      root.insertAdjacentHTML('afterbegin', '<p class="muted">' + esc(api.message) + '</p>');
      return;
    }
    for (const r of plan.rungs) {
      const b = document.createElement('button');
      b.type = 'button';
      b.dataset.rung = r.name;
      b.setAttribute('aria-pressed', 'false');
      b.textContent = (r.lossless ? 'lossless \u00b7 ' : '') + r.name + (r.bandwidth && !r.lossless ? ' \u00b7 ' + fmtKbps(r.bandwidth) : '');
      if (r.supported) {
        plans.set(r.name, r);
        api.rungs.push(r.name);
        if (r.lossless && !api.lossless) api.lossless = r.name;
        b.addEventListener('click', () => api.select(r.name).catch(() => {}));
      } else {
        b.disabled = true;
        b.title = r.note;
      }
      bar.append(b);
    }
    bar.append(status);
    const how = plan.mode === 'mse'
      ? 'Streams the package\u2019s own HLS playlists through Media Source Extensions.'
      : 'Plays the downloadable files (no playlists from file://).';
    root.insertAdjacentHTML('beforeend', '<p class="legend-note muted">' + esc(how) +
      ' A button switches at the same position; keys 1\u2013' + Math.min(9, api.rungs.length) + ' too.</p>');
    document.addEventListener('keydown', (ev) => {
      if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
      const n = Number(ev.key);
      if (n >= 1 && n <= Math.min(9, api.rungs.length)) api.select(api.rungs[n - 1]).catch(() => {});
    });
    if (api.rungs.length) await api.select(api.rungs.filter((n) => !plans.get(n).lossless).pop() || api.rungs[0]).catch(() => {});
  })();
  return api;
}
