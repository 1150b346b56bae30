#!/usr/bin/env bash
# What issue 14's measurement of the delivered renditions costs: the
# default job now against the same job built from an earlier commit
# (before every rendition was decoded and metered), alternating runs, the
# minimum and median CPU of each, on the same input.
#
#   benches/qc.sh [seconds=300] BEFORE_BINARY [rounds=8]
#
# BEFORE_BINARY: an `audiopack` built from the commit to compare with, e.g.
#   git worktree add /tmp/before 4a6de2d && \
#   (cd /tmp/before && CARGO_TARGET_DIR=/tmp/before-target cargo build --release -p audiopack-cli)
# Target (issue 14): the whole job within +10 % CPU.
set -euo pipefail
cd "$(dirname "$0")/.."
source benches/lib.sh
scripts/deps.sh bench
secs="${1:-300}"
before="${2:?give the binary to compare with}"
rounds="${3:-8}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cargo build --release --locked -q -p audiopack-cli
now="$PWD/target/release/audiopack"
demo_input "$secs" "$work/in.flac"

run() { # BIN -> CPU seconds (user + sys)
  rm -rf "$work/out"
  /usr/bin/time -f "%U %S" -o "$work/t" "$1" -q ingest "$work/in.flac" --out "$work/out" >/dev/null 2>"$work/err" \
    || { cat "$work/err" >&2; exit 1; }
  awk '{print $1 + $2}' "$work/t"
}
# The machine's run-to-run spread reaches 30 %: many alternating rounds,
# compared by their minimum and median.
: > "$work/before"; : > "$work/now"
for _ in $(seq "$rounds"); do
  x=$(run "$before"); y=$(run "$now")
  echo "before $x s   now $y s"
  echo "$x" >> "$work/before"; echo "$y" >> "$work/now"
done
stats() { sort -n "$1" | awk '{a[NR]=$1} END {printf "%.2f %.2f", a[1], (NR % 2 ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2)}'; }
read -r bmin bmed <<< "$(stats "$work/before")"
read -r nmin nmed <<< "$(stats "$work/now")"
awk -v s="$secs" -v r="$rounds" -v bmin="$bmin" -v bmed="$bmed" -v nmin="$nmin" -v nmed="$nmed" 'BEGIN {
  printf "\n%s s input, %s rounds, CPU s: before min %.2f median %.2f; now min %.2f median %.2f\n", s, r, bmin, bmed, nmin, nmed
  printf "difference: min %+.1f %%, median %+.1f %%  (target <= +10 %%)\n", (nmin / bmin - 1) * 100, (nmed / bmed - 1) * 100
}'
