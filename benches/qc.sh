#!/usr/bin/env bash
# What issue 14's measurement of the delivered renditions costs: the
# default job now against the same job built from an earlier commit
# (before every rendition was decoded and metered), alternating runs, best
# CPU of three each, on the same input.
#
#   benches/qc.sh [seconds=300] BEFORE_BINARY
#
# BEFORE_BINARY: an `audiopack` built from the commit to compare with, e.g.
#   git worktree add /tmp/before 4a6de2d && \
#   (cd /tmp/before && CARGO_TARGET_DIR=/tmp/before-target cargo build --release -p audiopack-cli)
# Target (issue 14): the whole job within +10 % CPU.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh bench
secs="${1:-300}"
before="${2:?give the binary to compare with}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cargo build --release --locked -q -p audiopack-cli
now="$PWD/target/release/audiopack"
loops=$(( (secs + 19) / 20 ))
ffmpeg -nostdin -v error -stream_loop "$loops" -i fixtures/demo.flac -t "$secs" -c:a flac "$work/in.flac"

run() { # BIN -> CPU seconds (user + sys)
  rm -rf "$work/out"
  /usr/bin/time -f "%U %S" -o "$work/t" "$1" -q ingest "$work/in.flac" --out "$work/out" >/dev/null 2>"$work/err" \
    || { cat "$work/err" >&2; exit 1; }
  awk '{print $1 + $2}' "$work/t"
}
b=""; n=""
for _ in 1 2 3; do
  x=$(run "$before"); y=$(run "$now")
  echo "before $x s   now $y s"
  if [[ -z "$b" ]] || awk -v a="$x" -v b="$b" 'BEGIN{exit !(a < b)}'; then b="$x"; fi
  if [[ -z "$n" ]] || awk -v a="$y" -v b="$n" 'BEGIN{exit !(a < b)}'; then n="$y"; fi
done
awk -v b="$b" -v n="$n" -v s="$secs" 'BEGIN{printf "\n%s s input, best CPU: before %.2f s, now %.2f s: %+.1f %%\n", s, b, n, (n / b - 1) * 100}'
