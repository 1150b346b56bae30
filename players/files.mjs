// Static files for the browser harnesses (run.mjs, qc.mjs): one file with
// its content type and HTTP byte ranges (the single-file layout and the
// QC page's audition fetch ranges), as a CDN origin would serve it.
import { createReadStream, existsSync, statSync } from 'node:fs';
import { extname } from 'node:path';

export const types = {
  '.m3u8': 'application/vnd.apple.mpegurl',
  '.mpd': 'application/dash+xml',
  '.mp4': 'audio/mp4',
  '.m4s': 'audio/mp4',
  '.opus': 'audio/ogg',
  '.json': 'application/json',
  '.js': 'text/javascript',
  '.html': 'text/html; charset=utf-8',
};

// Answers `req` with the file at `path` (404 when there is none; 206 for
// a satisfiable `Range: bytes=…`, 416 otherwise), adding `extraHeaders`.
export function serveFile(req, res, path, extraHeaders = {}) {
  if (!existsSync(path) || !statSync(path).isFile()) {
    res.writeHead(404).end();
    return;
  }
  const size = statSync(path).size;
  const headers = {
    'Content-Type': types[extname(path)] || 'application/octet-stream',
    'Accept-Ranges': 'bytes',
    ...extraHeaders,
  };
  const range = /^bytes=(\d*)-(\d*)$/.exec(req.headers.range || '');
  if (range) {
    const start = range[1] === '' ? size - Number(range[2]) : Number(range[1]);
    const end = range[1] !== '' && range[2] !== '' ? Math.min(Number(range[2]), size - 1) : size - 1;
    if (start > end || start >= size) {
      res.writeHead(416, { 'Content-Range': `bytes */${size}` }).end();
      return;
    }
    res.writeHead(206, { ...headers, 'Content-Range': `bytes ${start}-${end}/${size}`, 'Content-Length': end - start + 1 });
    createReadStream(path, { start, end }).pipe(res);
  } else {
    res.writeHead(200, { ...headers, 'Content-Length': size });
    createReadStream(path).pipe(res);
  }
}
