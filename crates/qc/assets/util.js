// Shared by report.html and the batch index.html: escaping, number
// formatting and small table builders. Everything drawn from a report goes
// through esc() before it becomes markup.
'use strict';

const DASH = '\u2013';

function esc(value) {
  return String(value).replace(/[&<>"']/g, (c) => ({
    '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;',
  })[c]);
}

function isNum(v) {
  return typeof v === 'number' && Number.isFinite(v);
}

// `v` with `digits` decimals and a unit, or a dash when absent.
function fmt(v, digits, unit) {
  if (!isNum(v)) return DASH;
  return v.toFixed(digits) + (unit ? '\u00a0' + unit : '');
}

// Like fmt, with a sign (gains).
function fmtSigned(v, digits, unit) {
  if (!isNum(v)) return DASH;
  return (v > 0 ? '+' : v < 0 ? '\u2212' : '\u00b1') + fmt(Math.abs(v), digits, unit);
}

function fmtBytes(n) {
  if (!isNum(n)) return DASH;
  if (n < 1024) return n + '\u00a0B';
  if (n < 1024 * 1024) return (n / 1024).toFixed(1) + '\u00a0KiB';
  if (n < 1024 * 1024 * 1024) return (n / 1024 / 1024).toFixed(2) + '\u00a0MiB';
  return (n / 1024 / 1024 / 1024).toFixed(2) + '\u00a0GiB';
}

function fmtKbps(bps) {
  return isNum(bps) ? (bps / 1000).toFixed(1) + '\u00a0kb/s' : DASH;
}

function fmtDuration(seconds) {
  if (!isNum(seconds)) return DASH;
  const centis = Math.round(Math.max(0, seconds) * 100);
  const h = Math.floor(centis / 360000);
  const m = Math.floor((centis % 360000) / 6000);
  const s = (centis % 6000) / 100;
  const ss = (s < 10 ? '0' : '') + s.toFixed(centis % 100 ? 2 : 0);
  return (h ? h + ':' + String(m).padStart(2, '0') : String(m)) + ':' + ss;
}

// A two-column table of [label, html] rows (rows with `null` html skipped).
function factsTable(rows) {
  const body = rows.filter((r) => r && r[1] !== null && r[1] !== undefined)
    .map(([label, html]) => '<tr><th scope="row">' + esc(label) + '</th><td>' + html + '</td></tr>')
    .join('');
  return '<table class="facts"><tbody>' + body + '</tbody></table>';
}

// Reads the JSON document embedded in <script type="application/json" id=…>.
function embeddedJson(id) {
  const el = document.getElementById(id);
  if (!el) return null;
  try {
    return JSON.parse(el.textContent);
  } catch (e) {
    return null;
  }
}
