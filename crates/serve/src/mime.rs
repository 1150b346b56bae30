//! Content types by file extension (case-insensitive).

use std::path::Path;

/// The `Content-Type` of a file served from a package.
pub fn content_type(path: &Path) -> &'static str {
    let extension = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .unwrap_or_default();
    match extension.as_str() {
        "m3u8" => "application/vnd.apple.mpegurl",
        "mpd" => "application/dash+xml",
        // CMAF init and media segments, single-file renditions.
        "mp4" | "m4s" | "m4a" => "audio/mp4",
        "opus" | "ogg" | "oga" => "audio/ogg",
        "flac" => "audio/flac",
        "json" => "application/json",
        "html" | "htm" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript",
        "css" => "text/css",
        "svg" => "image/svg+xml",
        "xml" => "application/xml",
        "txt" => "text/plain; charset=utf-8",
        "png" => "image/png",
        "wasm" => "application/wasm",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn package_files() {
        for (name, expected) in [
            ("master.m3u8", "application/vnd.apple.mpegurl"),
            ("manifest.mpd", "application/dash+xml"),
            ("opus_96k/init.mp4", "audio/mp4"),
            ("opus_96k/1.m4s", "audio/mp4"),
            ("opus_96k.opus", "audio/ogg"),
            ("x.FLAC", "audio/flac"),
            ("report.json", "application/json"),
            ("report.html", "text/html; charset=utf-8"),
            ("player.js", "text/javascript"),
            ("a.css", "text/css"),
            ("a.svg", "image/svg+xml"),
            ("junit.xml", "application/xml"),
            ("README", "application/octet-stream"),
            ("x.bin", "application/octet-stream"),
        ] {
            assert_eq!(content_type(Path::new(name)), expected, "{name}");
        }
    }
}
