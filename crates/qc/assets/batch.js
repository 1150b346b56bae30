// index.html of a batch output: every row of batch-report.json (#batch-json)
// with a few numbers from each track's report.json (#tracks-json, reduced
// by the page's renderer), in a table sorted by clicking a column header.
// Ids, messages and file names are inserted as escaped text only; a track's
// link is its id, URI-encoded, then /report.html.

(function () {
  const batch = embeddedJson('batch-json') || {};
  const summaries = new Map((embeddedJson('tracks-json') || []).map((s) => [s.id, s]));
  const rows = (Array.isArray(batch.tracks) ? batch.tracks : []).map((t) => ({ t, s: summaries.get(t.id) || {} }));
  const totals = batch.totals || {};
  const pick = (...vs) => vs.find((v) => v !== undefined && v !== null);
  const hasPackage = (t) => t.status === 'done' || t.status === 'skipped';

  document.getElementById('title').textContent = (batch.catalog || 'batch') + ' \u2014 audiopack batch';
  document.getElementById('summary').textContent = [
    (totals.tracks ?? rows.length) + ' tracks',
    (totals.done ?? 0) + ' done', (totals.skipped ?? 0) + ' skipped',
    (totals.failed ?? 0) + ' failed', (totals.not_run ?? 0) + ' not run',
    isNum(totals.audio_seconds) ? fmtDuration(totals.audio_seconds) + ' of audio' : null,
    isNum(totals.wall_seconds) ? 'wall ' + fmtDuration(totals.wall_seconds) : null,
    isNum(totals.realtime) ? totals.realtime.toFixed(1) + '\u00d7 realtime' : null,
    batch.jobs ? batch.jobs + ' jobs' : null,
    batch.version ? 'audiopack ' + batch.version : null,
  ].filter(Boolean).join(' \u00b7 ');
  if (batch.stopped) {
    document.getElementById('stopped').innerHTML = '<p class="warn">' + (batch.stopped === 'in-progress'
      ? 'The batch was still running when this was written: unfinished rows show as not run.'
      : 'The batch stopped early (' + esc(batch.stopped) + '): the rows not run were never started.') + '</p>';
  }

  const peak = (r) => pick(r.s.decoded_true_peak_dbtp, r.s.true_peak_dbtp);
  const columns = [
    { key: 'line', label: '#', num: true, value: (r) => r.t.line, cell: (r) => esc(r.t.line) },
    {
      key: 'id', label: 'Track', value: (r) => r.t.id,
      cell: (r) => (hasPackage(r.t) ? '<a href="' + esc(encodeURIComponent(r.t.id) + '/report.html') + '">' + esc(r.t.id) + '</a>' : esc(r.t.id)) +
        (r.t.album ? ' <span class="muted">' + esc(r.t.album) + '</span>' : ''),
    },
    { key: 'status', label: 'Status', value: (r) => r.t.status, cell: (r) => '<span class="status-' + esc(r.t.status) + '">' + esc(r.t.status) + '</span>' },
    { key: 'duration', label: 'Duration', num: true, value: (r) => pick(r.t.audio_seconds, r.s.duration_seconds), cell: (r) => esc(fmtDuration(pick(r.t.audio_seconds, r.s.duration_seconds))) },
    { key: 'in', label: 'Input', num: true, value: (r) => pick(r.t.loudness && r.t.loudness.input_integrated_lufs, r.s.input_lufs), cell: (r, v) => fmt(v, 1, 'LUFS') },
    { key: 'out', label: 'Output', num: true, value: (r) => pick(r.t.loudness && r.t.loudness.output_integrated_lufs, r.s.output_lufs), cell: (r, v) => fmt(v, 1, 'LUFS') },
    {
      key: 'gain', label: 'Gain', num: true, value: (r) => pick(r.t.gain_db, r.s.gain_db),
      cell: (r, v) => fmtSigned(v, 2, 'dB') + (r.t.album_gain_db !== undefined ? ' <span class="muted">album</span>' : ''),
    },
    {
      key: 'peak', label: 'True peak', num: true, value: peak,
      cell: (r, v) => fmt(v, 2, 'dBTP') + (isNum(r.s.decoded_true_peak_dbtp) ? ' <span class="muted">decoded</span>' : ''),
    },
    {
      key: 'warnings', label: 'Warnings', num: true, value: (r) => (Array.isArray(r.s.warnings) ? r.s.warnings.length : null),
      cell: (r, v) => (v === null ? DASH : v ? '<span class="bad" title="' + esc(r.s.warnings.join('\n')) + '">' + v + '</span>' : '0'),
    },
    {
      key: 'message', label: 'Message', value: (r) => pick(r.t.message, r.s.error, r.t.reason, ''),
      cell: (r) => (r.t.message ? '<span class="bad">' + esc(r.t.class + ': ' + r.t.message) + '</span>'
        : r.s.error ? '<span class="bad">' + esc(r.s.error) + '</span>' : '<span class="muted">' + esc(r.t.reason || '') + '</span>'),
      cls: 'message',
    },
  ];

  let sortKey = 'line';
  let ascending = true;
  let filter = '';
  const root = document.getElementById('tracks');
  root.innerHTML = '<div class="toolbar"><input type="search" id="filter" placeholder="Filter by id, status or message" aria-label="Filter"> <span id="shown" class="muted"></span></div><div id="table"></div>';

  function compare(a, b) {
    const ka = a.key;
    const kb = b.key;
    const aMissing = ka === null || ka === undefined || ka === '';
    const bMissing = kb === null || kb === undefined || kb === '';
    if (aMissing || bMissing) return aMissing === bMissing ? a.r.t.line - b.r.t.line : aMissing ? 1 : -1;
    const c = typeof ka === 'number' && typeof kb === 'number'
      ? ka - kb
      : String(ka).localeCompare(String(kb), undefined, { numeric: true });
    return (ascending ? c : -c) || a.r.t.line - b.r.t.line;
  }

  function draw() {
    const col = columns.find((c) => c.key === sortKey);
    const needle = filter.toLowerCase();
    const shown = rows.filter((r) => !needle || [r.t.id, r.t.status, r.t.message, r.s.error, r.t.album].some((v) => v && String(v).toLowerCase().includes(needle)));
    const sorted = shown.map((r) => ({ r, key: col.value(r) })).sort(compare).map((x) => x.r);
    const head = columns.map((c) => '<th scope="col"' + (c.num ? ' class="num"' : '') + ' aria-sort="' +
      (c.key === sortKey ? (ascending ? 'ascending' : 'descending') : 'none') + '"><button type="button" data-key="' + c.key + '">' + esc(c.label) + '</button></th>').join('');
    const body = sorted.map((r) => '<tr class="' + esc(r.t.status) + '" data-id="' + esc(r.t.id) + '">' + columns.map((c) =>
      '<td class="' + (c.num ? 'num' : '') + (c.cls ? ' ' + c.cls : '') + '">' + c.cell(r, c.value(r)) + '</td>').join('') + '</tr>').join('');
    document.getElementById('table').innerHTML = '<table><thead><tr>' + head + '</tr></thead><tbody>' + body + '</tbody></table>';
    document.getElementById('shown').textContent = shown.length === rows.length ? rows.length + ' rows' : shown.length + ' of ' + rows.length + ' rows';
  }

  root.addEventListener('click', (ev) => {
    const b = ev.target.closest('th button');
    if (!b) return;
    if (b.dataset.key === sortKey) ascending = !ascending;
    else {
      sortKey = b.dataset.key;
      ascending = true;
    }
    draw();
  });
  document.getElementById('filter').addEventListener('input', (ev) => {
    filter = ev.target.value;
    draw();
  });
  draw();
  document.getElementById('footer').textContent = 'Rendered by audiopack-qc from batch-report.json (schema ' + (batch.schema_version ?? '?') + ').';
})();
