#!/usr/bin/env bash
# The whole test suite: installs what it needs (cmake, ffmpeg) when missing,
# checks formatting and lints, then runs every test in the workspace
# (unit tests, ffmpeg-oracle integration tests, CLI tests on the real binary).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh test
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -q -- -D warnings
cargo test --workspace --locked
