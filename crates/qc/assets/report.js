// report.html: draws a package's QC page from the documents embedded in it
// (#report-json: report.json; #qc-json: qc.json, when measured). Works from
// file:// (nothing is fetched for the facts and plots); the audition player
// (audition.js, `window.audition`: its API is described at the top of that
// part of this script) fetches the package's playlists only over HTTP.
'use strict';

(function () {
  const report = embeddedJson('report-json') || {};
  const qc = embeddedJson('qc-json');
  const input = report.input || {};
  const loud = report.loudness || {};
  const gain = loud.gain || {};
  const config = loud.config || {};
  const pkg = report.package || null;
  const fileSizes = new Map((report.files || []).map((f) => [f.path, f.bytes]));
  const html = (id, markup) => {
    const el = document.getElementById(id);
    if (el) el.innerHTML = markup;
  };
  const section = (id, show) => {
    const el = document.getElementById(id);
    if (el) el.hidden = !show;
  };

  // ---- header and warnings ----
  const tool = report.tool || {};
  html('title', esc(input.path || 'audiopack package'));
  html('subtitle', esc([tool.name, tool.version, tool.encoder].filter(Boolean).join(' \u00b7 ')) +
    (report.settings_digest ? ' \u00b7 settings <code>' + esc(String(report.settings_digest).slice(0, 12)) + '</code>' : ''));

  const warnings = [];
  const list = (v) => (Array.isArray(v) ? v : []);
  for (const w of list(input.warnings)) warnings.push(['Input', w]);
  for (const w of list(loud.decoded_warnings)) warnings.push(['Decoded true peak', w]);
  for (const w of list(loud.peak_control && loud.peak_control.warnings)) warnings.push(['Limiter', w]);
  const overs = qc && Array.isArray(qc.true_peak_overs) ? qc.true_peak_overs : [];
  if (overs.length) {
    const names = [...new Set(overs.map((o) => o.rendition))].join(', ');
    warnings.push(['True-peak overs', overs.length + ' second(s) over the ' + fmt(qc.ceiling_dbtp, 1, 'dBTP') + ' ceiling in ' + names]);
  }
  let notes = warnings.map(([kind, text]) => '<div class="warn" role="alert"><strong>' + esc(kind) + ':</strong>' + esc(text) + '</div>').join('');
  if (!warnings.length) notes += '<p class="good">No warnings.</p>';
  if (pkg && pkg.lossless_skipped) notes += '<p class="muted">No lossless tier: ' + esc(pkg.lossless_skipped) + '</p>';
  if (report.protection) {
    notes += '<p class="warn">Encrypted package (' + esc(report.protection.scheme || '') + ', ' +
      esc(list(report.protection.systems).join(', ')) + '): players need a license server to play it.</p>';
  }
  html('warnings', notes);

  // ---- input and decision ----
  const tags = input.tags && typeof input.tags === 'object' ? Object.entries(input.tags) : [];
  const li = loud.input || {};
  html('input', factsTable([
    ['File', esc(input.path || DASH)],
    ['Format / codec', esc((input.format || DASH) + ' / ' + (input.codec || DASH))],
    ['Sample rate', fmt(input.sample_rate, 0, 'Hz')],
    ['Bits per sample', isNum(input.bits_per_sample) ? String(input.bits_per_sample) : DASH],
    ['Channels', isNum(input.channels) ? String(input.channels) : DASH],
    ['Duration', esc(fmtDuration(input.duration_seconds)) + (isNum(input.frames) ? ' <span class="muted">(' + input.frames + ' frames)</span>' : '')],
    ['Integrated loudness', fmt(li.integrated_lufs, 1, 'LUFS')],
    ['Loudness range', fmt(li.loudness_range_lu, 1, 'LU')],
    ['True peak', fmt(li.true_peak_dbtp, 2, 'dBTP')],
    ['Sample peak', fmt(li.sample_peak_dbfs, 2, 'dBFS')],
    ['SHA-256', input.sha256 ? '<code>' + esc(input.sha256) + '</code>' : null],
    ['Tags', tags.length ? tags.map(([k, v]) => '<code>' + esc(k) + '</code> ' + esc(v)).join('<br>') : '<span class="muted">none</span>'],
  ]));

  const reasons = {
    target: 'the full gain to the target',
    peak_ceiling: 'cut so the true peak lands on the ceiling',
    silence: 'no gated loudness: no gain',
    album: 'the album\u2019s gain',
  };
  const proc = report.processing || {};
  const out = loud.output || {};
  const pc = loud.peak_control || null;
  const album = loud.album || null;
  const downmix = loud.downmix
    ? 'fold-down to stereo (' + fmt(loud.downmix.integrated_lufs, 1, 'LUFS') + ', ' + fmt(loud.downmix.true_peak_dbtp, 2, 'dBTP') + ')'
    : (proc.downmixed_to_stereo ? 'to stereo' : 'none');
  html('decision', factsTable([
    ['Target', fmt(config.target_lufs, 1, 'LUFS')],
    ['True-peak ceiling', fmt(config.true_peak_ceiling_dbtp, 1, 'dBTP')],
    ['Gain', '<strong>' + fmtSigned(gain.gain_db, 2, 'dB') + '</strong> <span class="muted">' +
      esc(gain.reason ? gain.reason + ': ' + (reasons[gain.reason] || '') : '') + '</span>'],
    ['Expected loudness', isNum(gain.expected_integrated_lufs) ? fmt(gain.expected_integrated_lufs, 1, 'LUFS') : null],
    ['Limiter', esc(config.limiter ? (gain.limiter_engaged ? 'on, engaged' : 'on, not needed') : 'off')],
    ['Album', album ? fmtSigned(album.gain_db, 2, 'dB') + ' over ' + esc(album.tracks) + ' tracks, album ' + fmt(album.integrated_lufs, 1, 'LUFS') +
      (album.peak_capped ? ' (peak-capped)' : '') : null],
    ['Downmix', esc(downmix)],
    ['Output', fmt(proc.output_sample_rate, 0, 'Hz') + ', ' + esc(isNum(proc.output_channels) ? proc.output_channels + ' ch' : DASH)],
    ['Output loudness', fmt(out.integrated_lufs, 1, 'LUFS') + ', range ' + fmt(out.loudness_range_lu, 1, 'LU')],
    ['Output true peak', fmt(out.true_peak_dbtp, 2, 'dBTP') + ' <span class="muted">(before the codec)</span>'],
    ['Limiter ran at', pc && isNum(pc.limiter_ceiling_dbtp) ? fmt(pc.limiter_ceiling_dbtp, 2, 'dBTP') : null],
    ['Peak control', pc ? esc(pc.calibration_runs + ' calibration run(s), ' + pc.peak_passes + ' peak pass(es)') +
      (isNum(pc.first_excess_db) ? ', first excess ' + fmtSigned(pc.first_excess_db, 2, 'dB') : '') : null],
    ['Notes', pc && list(pc.notes).length ? list(pc.notes).map(esc).join('<br>') : null],
  ]));

  // ---- plots ----
  const noQc = '<p class="muted">No qc.json beside this report: measurements over time were not recorded.</p>';
  html('loudness-plot', qc ? loudnessPlot(qc) : noQc);
  section('envelope-section', !!(qc && qc.envelope));
  if (qc && qc.envelope) html('envelope-plot', envelopePlot(qc.envelope, qc.ceiling_dbtp));
  section('spectrum-section', !!(qc && qc.spectrum));
  if (qc && qc.spectrum) html('spectrum-plot', spectrumPlot(qc.spectrum, gain.gain_db));
  if (qc && qc.schema_version > QC_PAGE_SCHEMA) {
    html('footer', 'qc.json schema ' + esc(qc.schema_version) + ' is newer than this page knows (' + QC_PAGE_SCHEMA + '): some values may be missing.');
  }

  // ---- renditions ----
  const packaged = new Map((pkg ? list(pkg.renditions) : []).map((p) => [p.name, p]));
  const decodedOf = (name, r) => {
    if (r && r.decoded) return r.decoded;
    const d = pc ? list(pc.decoded).find((x) => x.rendition === name) : null;
    return d || null;
  };
  const sizeOf = (p) => {
    if (!p) return null;
    let total = 0;
    for (const f of list(p.files)) if (isNum(fileSizes.get(f))) total += fileSizes.get(f);
    return total || null;
  };
  const bitExactOf = (p) => {
    const v = [p && p.bit_exact, pkg && pkg.bit_exact, pkg && pkg.lossless_bit_exact].find((x) => typeof x === 'boolean');
    return v === undefined ? DASH : v ? '<span class="good">bit-exact</span>' : '<span class="bad">not bit-exact</span>';
  };
  const rows = [];
  const seen = new Set();
  for (const r of list(report.renditions)) {
    const p = packaged.get(r.name);
    const d = decodedOf(r.name, r);
    seen.add(r.name);
    rows.push('<tr><td><code>' + esc(r.name) + '</code></td><td>' + esc(r.codec || (p && p.codecs) || DASH) + '</td>' +
      '<td class="num">' + fmtKbps(r.bitrate_target_bps) + '</td><td class="num">' + fmtKbps(r.bitrate_measured_bps) + '</td>' +
      '<td class="num">' + fmtKbps(p && p.average_bandwidth_bps) + '</td><td class="num">' + fmtKbps(p && p.peak_bandwidth_bps) + '</td>' +
      '<td class="num">' + fmt(d && d.integrated_lufs, 1, 'LUFS') + '</td><td class="num' + (d && isNum(d.true_peak_dbtp) && isNum(config.true_peak_ceiling_dbtp) &&
      d.true_peak_dbtp > config.true_peak_ceiling_dbtp + 0.1 ? ' bad' : '') + '">' + fmt(d && d.true_peak_dbtp, 2, 'dBTP') + '</td>' +
      '<td class="num">' + (p ? esc(p.segments) : DASH) + '</td><td class="num">' + fmtBytes(sizeOf(p)) + '</td>' +
      '<td>' + (r.file ? '<a href="' + esc(encodeURI(r.file)) + '" download>' + esc(r.file) + '</a> <span class="muted">' + fmtBytes(r.bytes) + '</span>' : DASH) + '</td></tr>');
  }
  for (const p of packaged.values()) {
    if (seen.has(p.name)) continue;
    const lossless = String(p.codecs || '').toLowerCase().indexOf('flac') >= 0;
    rows.push('<tr class="tier"><td><code>' + esc(p.name) + '</code>' + (lossless ? ' <span class="pill">lossless</span>' : '') + '</td><td>' + esc(p.codecs || DASH) +
      ' <span class="muted">' + fmt(p.sample_rate, 0, 'Hz') + '</span></td><td class="num">' + DASH + '</td><td class="num">' + DASH + '</td>' +
      '<td class="num">' + fmtKbps(p.average_bandwidth_bps) + '</td><td class="num">' + fmtKbps(p.peak_bandwidth_bps) + '</td>' +
      '<td class="num" colspan="2">' + (lossless ? bitExactOf(p) : DASH) + '</td>' +
      '<td class="num">' + esc(p.segments) + '</td><td class="num">' + fmtBytes(sizeOf(p)) + '</td><td>' + DASH + '</td></tr>');
  }
  html('renditions', rows.length
    ? '<table><thead><tr><th>Rendition</th><th>Codec</th><th class="num">Target</th><th class="num">Measured</th>' +
      '<th class="num">Average</th><th class="num">Peak</th><th class="num">Decoded I</th><th class="num">Decoded TP</th>' +
      '<th class="num">Segments</th><th class="num">Size</th><th>Download</th></tr></thead><tbody>' + rows.join('') + '</tbody></table>' +
      '<p class="legend-note muted">Measured: Opus payload over the real duration. Average / peak: whole-rendition and largest-segment bit rate ' +
      '(HLS AVERAGE-BANDWIDTH / BANDWIDTH). Decoded: the rendition decoded as players do and measured (BS.1770-4), when recorded.</p>'
    : '<p class="muted">No renditions.</p>');

  // ---- package ----
  const totalBytes = (report.files || []).reduce((s, f) => s + (isNum(f.bytes) ? f.bytes : 0), 0);
  const prot = report.protection || null;
  const pub = report.publish || null;
  html('package', factsTable([
    ['Layout', pkg ? esc(pkg.layout) + ', ' + fmt(pkg.segment_duration_seconds, 1, 's') + ' segments' : 'no CMAF package'],
    ['Manifests', pkg && list(pkg.manifests).length ? list(pkg.manifests).map((m) => '<a href="' + esc(encodeURI(m)) + '">' + esc(m) + '</a>').join(' ') : null],
    ['Lossless aligned', pkg && typeof pkg.lossless_aligned === 'boolean' ? (pkg.lossless_aligned ? 'yes: FLAC segments end with the Opus ones' : 'no') : null],
    ['Files', (report.files || []).length + ' files, ' + fmtBytes(totalBytes) + ' <a href="report.json">report.json</a>'],
    ['Protection', prot ? esc(prot.scheme + ' \u00b7 ' + list(prot.systems).join(', ') + ' \u00b7 keys from ' + prot.key_source) +
      '<br>KID <code>' + esc(prot.lossy_kid || DASH) + '</code>' + (prot.lossless_kid ? ' / lossless <code>' + esc(prot.lossless_kid) + '</code>' : '') : null],
    ['Published', pub ? esc(JSON.stringify(pub).slice(0, 300)) : null],
  ]));
  html('footer', (document.getElementById('footer').innerHTML || '') + ' Rendered by audiopack-qc from report.json (schema ' + esc(report.schema_version ?? '?') + ')' +
    (qc ? ' and qc.json (schema ' + esc(qc.schema_version ?? '?') + ')' : '') + '.');

  // ---- audition, and the playhead on the time plots ----
  window.audition = createAudition(report, document.getElementById('audition'));
  window.audition.ready.catch(() => {});
  const timePlots = [...document.querySelectorAll('svg[data-t1]')];
  window.audition.onTime((t) => {
    for (const svg of timePlots) {
      const line = svg.querySelector('.playhead');
      const x0 = Number(svg.dataset.x0);
      const x1 = Number(svg.dataset.x1);
      const x = x0 + Math.min(1, Math.max(0, t / Number(svg.dataset.t1))) * (x1 - x0);
      line.setAttribute('x1', x.toFixed(1));
      line.setAttribute('x2', x.toFixed(1));
      line.setAttribute('visibility', 'visible');
    }
  });
  for (const svg of timePlots) {
    svg.querySelector('.seek-area').addEventListener('click', (ev) => {
      if (!window.audition.rungs.length) return;
      const box = svg.getBoundingClientRect();
      const vx = ((ev.clientX - box.left) / box.width) * svg.viewBox.baseVal.width;
      const frac = (vx - Number(svg.dataset.x0)) / (Number(svg.dataset.x1) - Number(svg.dataset.x0));
      window.audition.seek(Math.max(0, frac) * Number(svg.dataset.t1)).catch(() => {});
    });
  }
})();
