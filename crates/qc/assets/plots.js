// The three plots of report.html, drawn as SVG markup from qc.json:
//   loudnessPlot  short-term and momentary loudness of the source and of the
//                 delivered rendition over time, target and ceiling lines,
//                 true-peak overs marked;
//   envelopePlot  min/max peak envelope of the delivered rendition;
//   spectrumPlot  average spectrum of the source and every rung on a
//                 log-frequency axis.
// Time plots carry data-t0/data-t1 and the plot area (data-x0/data-x1, in
// viewBox units) so report.js can draw the playhead and seek on click.
'use strict';

const PLOT_W = 1000;
const PLOT_MAX_POINTS = 1600;
const RUNG_COLOURS = ['#e8590c', '#2f9e44', '#7048e8', '#d6336c', '#0c8599', '#a87f00', '#495057'];

function plotFrame(h, m) {
  return { w: PLOT_W, h, x0: m[3], x1: PLOT_W - m[1], y0: m[0], y1: h - m[2] };
}

// Reduces `values` (nulls allowed) to at most PLOT_MAX_POINTS buckets,
// keeping each bucket's highest value; returns [index, value] pairs with
// null for gaps.
function bucketMax(values) {
  const n = values.length;
  const k = Math.max(1, Math.ceil(n / PLOT_MAX_POINTS));
  const out = [];
  for (let i = 0; i < n; i += k) {
    let best = null;
    for (let j = i; j < Math.min(n, i + k); j++) {
      const v = values[j];
      if (isNum(v) && (best === null || v > best)) best = v;
    }
    out.push([i + (k - 1) / 2, best]);
  }
  return out;
}

// An SVG path through [x, y] points in plot units; null y breaks the line.
function pathData(points) {
  let d = '';
  let pen = false;
  for (const [x, y] of points) {
    if (y === null || !isNum(x) || !isNum(y)) {
      pen = false;
      continue;
    }
    d += (pen ? 'L' : 'M') + x.toFixed(1) + ' ' + y.toFixed(1);
    pen = true;
  }
  return d;
}

function svgOpen(f, cls, extra) {
  return '<svg viewBox="0 0 ' + f.w + ' ' + f.h + '" class="' + cls + '" role="img"' + (extra || '') + '>';
}

function hLine(f, y, cls, label) {
  return '<line class="' + cls + '" x1="' + f.x0 + '" x2="' + f.x1 + '" y1="' + y.toFixed(1) + '" y2="' + y.toFixed(1) + '"/>' +
    (label ? '<text x="' + (f.x0 + 4) + '" y="' + (y - 3).toFixed(1) + '">' + esc(label) + '</text>' : '');
}

function timeAxis(f, duration) {
  const steps = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600];
  const step = steps.find((s) => duration / s <= 12) || 7200;
  let out = '<line class="axis" x1="' + f.x0 + '" x2="' + f.x1 + '" y1="' + f.y1 + '" y2="' + f.y1 + '"/>';
  for (let t = 0; t <= duration + 1e-9; t += step) {
    const x = f.x0 + (t / duration) * (f.x1 - f.x0);
    out += '<line class="grid" x1="' + x.toFixed(1) + '" x2="' + x.toFixed(1) + '" y1="' + f.y0 + '" y2="' + f.y1 + '"/>' +
      '<text x="' + x.toFixed(1) + '" y="' + (f.y1 + 16) + '" text-anchor="middle">' + esc(fmtDuration(t)) + '</text>';
  }
  return out;
}

// Below the data (so tooltips still work): a click seeks the audition.
function seekArea(f) {
  return '<rect class="seek-area" x="' + f.x0 + '" y="' + f.y0 + '" width="' + (f.x1 - f.x0) + '" height="' + (f.y1 - f.y0) + '" fill="transparent"/>';
}

function playheadMarkup(f) {
  return '<line class="playhead" x1="' + f.x0 + '" x2="' + f.x0 + '" y1="' + f.y0 + '" y2="' + f.y1 + '" visibility="hidden" stroke-width="1.5"/>';
}

function timeAttrs(f, duration) {
  return ' data-t0="0" data-t1="' + duration + '" data-x0="' + f.x0 + '" data-x1="' + f.x1 + '"';
}

function legend(items) {
  return '<p class="legend-note">' + items.map(([colour, label, dashed]) =>
    '<span class="pill"><svg class="swatch" width="22" height="10" aria-hidden="true"><line x1="1" x2="21" y1="5" y2="5" style="stroke:' + colour +
    '" stroke-width="' + (dashed === 'thin' ? 1 : 2.5) + '"' + (dashed === true ? ' stroke-dasharray="4 3"' : '') + '/></svg> ' + esc(label) + '</span>'
  ).join(' ') + '</p>';
}

function loudnessPlot(qc) {
  const duration = qc.duration_seconds > 0 ? qc.duration_seconds : 1;
  const res = qc.resolution_seconds > 0 ? qc.resolution_seconds : 1;
  const f = plotFrame(320, [12, 12, 26, 46]);
  const series = [];
  const add = (s, key, colour, width, label) => {
    if (s && Array.isArray(s[key])) series.push({ values: s[key], colour, width, label });
  };
  add(qc.source, 'momentary_lufs', 'var(--src)', 0.8, 'source momentary');
  add(qc.delivered, 'momentary_lufs', 'var(--mom)', 0.8, 'delivered momentary');
  add(qc.source, 'short_term_lufs', 'var(--src)', 2.2, 'source short-term');
  add(qc.delivered, 'short_term_lufs', 'var(--dlv)', 2.2, 'delivered short-term');
  let top = 0;
  let bottom = -60;
  for (const s of series) for (const v of s.values) if (isNum(v)) top = Math.max(top, Math.ceil(v / 10) * 10);
  if (isNum(qc.ceiling_dbtp)) top = Math.max(top, Math.ceil((qc.ceiling_dbtp + 1) / 10) * 10);
  const y = (v) => f.y0 + ((top - Math.min(top, Math.max(bottom, v))) / (top - bottom)) * (f.y1 - f.y0);
  const x = (t) => f.x0 + (Math.min(duration, Math.max(0, t)) / duration) * (f.x1 - f.x0);
  let out = svgOpen(f, 'loudness', ' aria-label="Loudness over time"' + timeAttrs(f, duration)) + seekArea(f);
  for (let v = bottom; v <= top; v += 10) {
    out += hLine(f, y(v), 'grid') + '<text x="' + (f.x0 - 6) + '" y="' + (y(v) + 4).toFixed(1) + '" text-anchor="end">' + v + '</text>';
  }
  out += timeAxis(f, duration);
  out += '<text x="4" y="' + (f.y0 + 10) + '">LUFS</text>';
  for (const s of series) {
    const pts = bucketMax(s.values).map(([i, v]) => [x((i + 0.5) * res), v === null ? null : y(v)]);
    out += '<path class="series none" d="' + pathData(pts) + '" style="stroke:' + s.colour + '" stroke-width="' + s.width +
      '" stroke-linejoin="round"><title>' + esc(s.label) + '</title></path>';
  }
  if (isNum(qc.target_lufs)) {
    out += '<g style="stroke:var(--target)" stroke-dasharray="6 4">' + hLine(f, y(qc.target_lufs), 'target') + '</g>' +
      '<text x="' + (f.x1 - 4) + '" y="' + (y(qc.target_lufs) - 4).toFixed(1) + '" text-anchor="end">target ' + esc(fmt(qc.target_lufs, 1, 'LUFS')) + '</text>';
  }
  if (isNum(qc.ceiling_dbtp)) {
    out += '<g style="stroke:var(--ceiling)" stroke-dasharray="2 3">' + hLine(f, y(qc.ceiling_dbtp), 'ceiling') + '</g>' +
      '<text x="' + (f.x1 - 4) + '" y="' + (y(qc.ceiling_dbtp) - 4).toFixed(1) + '" text-anchor="end">ceiling ' + esc(fmt(qc.ceiling_dbtp, 1, 'dBTP')) + '</text>';
  }
  const overs = Array.isArray(qc.true_peak_overs) ? qc.true_peak_overs : [];
  for (const o of overs) {
    if (!isNum(o.time_seconds)) continue;
    const xa = x(o.time_seconds);
    const w = Math.max(2, x(o.time_seconds + 1) - xa);
    out += '<rect class="over" x="' + xa.toFixed(1) + '" y="' + f.y0 + '" width="' + w.toFixed(1) + '" height="' + (f.y1 - f.y0) +
      '" style="fill:var(--ceiling)" fill-opacity="0.18"><title>' + esc(o.rendition + ': ' + fmt(o.true_peak_dbtp, 2, 'dBTP') + ' at ' + fmtDuration(o.time_seconds)) +
      '</title></rect><path class="over-mark" d="M' + (xa + w / 2 - 5).toFixed(1) + ' ' + f.y0 + 'L' + (xa + w / 2 + 5).toFixed(1) + ' ' + f.y0 + 'L' +
      (xa + w / 2).toFixed(1) + ' ' + (f.y0 + 8) + 'Z" style="fill:var(--ceiling)"/>';
  }
  out += playheadMarkup(f) + '</svg>';
  const items = series.map((s) => [s.colour, s.label, s.width < 1 ? 'thin' : false]);
  items.push(['var(--target)', 'target', true], ['var(--ceiling)', 'true-peak ceiling (dBTP)', true]);
  let note = legend(items);
  if (overs.length) {
    note += '<p class="legend-note bad">' + overs.length + ' second' + (overs.length > 1 ? 's' : '') +
      ' with a decoded true peak over the ceiling (red bands).</p>';
  }
  if (!qc.delivered) note += '<p class="legend-note muted">No decoded rendition was measured: the source only.</p>';
  return out + note;
}

function envelopePlot(env, ceilingDbtp) {
  const n = Math.min(env.min.length, env.max.length);
  const bucket = env.bucket_seconds > 0 ? env.bucket_seconds : 1;
  const duration = Math.max(bucket, n * bucket);
  const f = plotFrame(200, [10, 12, 26, 46]);
  const x = (t) => f.x0 + (t / duration) * (f.x1 - f.x0);
  const y = (v) => f.y0 + ((1 - Math.max(-1, Math.min(1, v))) / 2) * (f.y1 - f.y0);
  const k = Math.max(1, Math.ceil(n / PLOT_MAX_POINTS));
  const upper = [];
  const lower = [];
  for (let i = 0; i < n; i += k) {
    let lo = Infinity;
    let hi = -Infinity;
    for (let j = i; j < Math.min(n, i + k); j++) {
      if (isNum(env.min[j])) lo = Math.min(lo, env.min[j]);
      if (isNum(env.max[j])) hi = Math.max(hi, env.max[j]);
    }
    if (lo > hi) lo = hi = 0;
    const t = (i + Math.min(k, n - i) / 2) * bucket;
    upper.push([x(t), y(hi)]);
    lower.push([x(t), y(lo)]);
  }
  let out = svgOpen(f, 'envelope', ' aria-label="Peak envelope"' + timeAttrs(f, duration)) + seekArea(f);
  for (const v of [1, 0.5, 0, -0.5, -1]) {
    out += hLine(f, y(v), v === 0 ? 'axis' : 'grid') + '<text x="' + (f.x0 - 6) + '" y="' + (y(v) + 4).toFixed(1) + '" text-anchor="end">' + v + '</text>';
  }
  out += timeAxis(f, duration);
  if (upper.length) {
    const d = pathData(upper) + pathData(lower.slice().reverse()).replace(/^M/, 'L') + 'Z';
    out += '<path class="series" d="' + d + '" style="fill:var(--dlv);stroke:var(--dlv)" fill-opacity="0.75" stroke-width="0.6"><title>' +
      esc(env.label || 'delivered') + '</title></path>';
  }
  if (isNum(ceilingDbtp)) {
    const c = Math.pow(10, ceilingDbtp / 20);
    out += '<g style="stroke:var(--ceiling)" stroke-dasharray="2 3">' + hLine(f, y(c), 'ceiling') + hLine(f, y(-c), 'ceiling') + '</g>';
  }
  out += playheadMarkup(f) + '</svg>';
  return out + legend([['var(--dlv)', (env.label || 'delivered') + ' (min/max per ' + fmt(bucket * 1000, 0, 'ms') + ')', false],
    ['var(--ceiling)', 'ceiling as sample value', true]]);
}

function spectrumPlot(sp, gainDb) {
  const freqs = sp.frequencies_hz || [];
  const curves = [{ label: 'source', db: sp.source_db || [], colour: 'var(--src)', width: 3 }];
  (sp.renditions || []).forEach((r, i) => curves.push({
    label: r.rendition, db: r.db || [], colour: RUNG_COLOURS[i % RUNG_COLOURS.length], width: 1.6,
  }));
  const fmin = Math.max(10, Math.min(...freqs.filter((v) => v > 0)));
  const fmax = Math.max(fmin * 2, ...freqs);
  let top = -Infinity;
  let low = Infinity;
  for (const c of curves) for (const v of c.db) if (isNum(v)) { top = Math.max(top, v); low = Math.min(low, v); }
  if (!Number.isFinite(top)) { top = 0; low = -100; }
  top = Math.ceil(top / 10) * 10;
  const bottom = Math.max(top - 120, Math.floor(low / 10) * 10);
  const f = plotFrame(300, [12, 12, 26, 46]);
  const x = (hz) => f.x0 + (Math.log(hz / fmin) / Math.log(fmax / fmin)) * (f.x1 - f.x0);
  const y = (v) => f.y0 + ((top - Math.max(bottom, Math.min(top, v))) / Math.max(1, top - bottom)) * (f.y1 - f.y0);
  let out = svgOpen(f, 'spectrum', ' aria-label="Average spectrum"');
  for (let v = bottom; v <= top; v += 10) {
    out += hLine(f, y(v), 'grid') + '<text x="' + (f.x0 - 6) + '" y="' + (y(v) + 4).toFixed(1) + '" text-anchor="end">' + v + '</text>';
  }
  out += '<text x="4" y="' + (f.y0 + 10) + '">dB</text>';
  out += '<line class="axis" x1="' + f.x0 + '" x2="' + f.x1 + '" y1="' + f.y1 + '" y2="' + f.y1 + '"/>';
  for (const hz of [20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000, 40000]) {
    if (hz < fmin || hz > fmax) continue;
    const xv = x(hz).toFixed(1);
    out += '<line class="grid" x1="' + xv + '" x2="' + xv + '" y1="' + f.y0 + '" y2="' + f.y1 + '"/>' +
      '<text x="' + xv + '" y="' + (f.y1 + 16) + '" text-anchor="middle">' + (hz >= 1000 ? hz / 1000 + 'k' : hz) + '</text>';
  }
  for (const c of curves) {
    const pts = freqs.map((hz, i) => [hz > 0 ? x(hz) : null, isNum(c.db[i]) ? y(c.db[i]) : null]);
    out += '<path class="series none" d="' + pathData(pts) + '" style="stroke:' + c.colour + '" stroke-width="' + c.width +
      '" stroke-linejoin="round"><title>' + esc(c.label) + '</title></path>';
  }
  out += '</svg>';
  return out + legend(curves.map((c) => [c.colour, c.label, false])) +
    '<p class="legend-note muted">Average power per 1/6-octave band, Hz on a log axis: a rung that stops short of the source is band-limited by the encoder.' +
    (isNum(gainDb) && Math.abs(gainDb) >= 0.05 ? ' The renditions carry the gain (' + fmtSigned(gainDb, 2, 'dB') + '); the source does not.' : '') + '</p>';
}
