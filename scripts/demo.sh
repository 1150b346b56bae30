#!/usr/bin/env bash
# Runs the main job on the bundled demo track: decode, loudness-normalize to
# -14 LUFS / -1 dBTP, encode the Opus ladder. Output goes to ./out/demo
# (or the directory given as the first argument).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh build
out="${1:-out/demo}"
cargo build --release --locked -q -p audiopack-cli
target/release/audiopack ingest fixtures/demo.flac --out "$out"
