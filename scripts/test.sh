#!/usr/bin/env bash
# The whole test suite: installs what it needs (cmake, ffmpeg) when missing,
# checks formatting and lints, then runs every test in the workspace
# (unit tests, ffmpeg-oracle integration tests, CLI tests on the real binary).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh test
# A CI run builds once in a fresh clone: incremental caches would only take
# disk (they were 16 GB of a 70 GB target) and never be reused.
if [[ "${CI:-}" == "true" ]]; then
  export CARGO_INCREMENTAL=0
fi
# The player harness's npm packages (Shaka Player, hls.js, dash.js,
# playwright-core), from the committed lockfile, when not installed yet.
if [[ ! -d players/node_modules/playwright-core || ! -d players/node_modules/shaka-packager ]]; then
  npm ci --prefix players --no-audit --no-fund --loglevel=error
fi
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -q -- -D warnings
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
cargo test --workspace --locked 2>&1 | tee "$log"
# One closing line over every test binary (cargo prints one per binary, the
# last of which is often an empty doc-test run).
awk '/^test result:/ {p += $4; f += $6} END {printf "\n%d passed, %d failed\n", p, f}' "$log"
