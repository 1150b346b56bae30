#!/usr/bin/env bash
# The same-libopus floor: what the four Opus rungs cost in libopus alone
# (the 1.6.1 the project builds, through the same `opus` crate, the same
# settings), encoding ready 48 kHz PCM with no decode, loudness,
# resampling or packaging, against the whole default job without the
# FLAC tier (CMAF + HLS + DASH) and the Ogg job, on the same input.
#
#   benches/floor.sh [seconds=300]
#
# CPU seconds (user + sys), best of two runs each. Target (issue 12): the
# default job without the FLAC tier <= 1.05x the floor. The second row,
# the same encodes with every packet decoded again by libopus, is the
# least any job that measures what listeners get (issue 14's QC, on by
# default: post-codec loudness and true peak) can cost.
set -euo pipefail
cd "$(dirname "$0")/.."
source benches/lib.sh
scripts/deps.sh bench
secs="${1:-300}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cargo build --release --locked -q -p audiopack-cli
cargo build --release --locked -q -p audiopack-encode --example opus_floor
bin="$PWD/target/release/audiopack"
floor="$PWD/target/release/examples/opus_floor"
ladder=64,96,128,160

demo_input "$secs" "$work/in.flac"
# The floor's input: the same audio already at 48 kHz, as f32 (not timed).
ffmpeg -nostdin -v error -i "$work/in.flac" -ar 48000 -f f32le -c:a pcm_f32le "$work/in.f32"

# best NAME CMD...: the lower CPU time of two runs, appended to results.
best() {
  local name="$1"; shift
  local b=""
  for _ in 1 2; do
    rm -rf "$work/out"
    /usr/bin/time -f "%U %S" -o "$work/t" "$@" >/dev/null 2>"$work/err" || { cat "$work/err" >&2; exit 1; }
    local c; c=$(awk '{print $1 + $2}' "$work/t")
    if [[ -z "$b" ]] || awk -v a="$c" -v b="$b" 'BEGIN{exit !(a < b)}'; then b="$c"; fi
  done
  echo "$name $b" >> "$work/results"
}
: > "$work/results"
best floor "$floor" "$work/in.f32" 2 "$ladder"
best floor_decode "$floor" "$work/in.f32" 2 "$ladder" decode
best cmaf_no_lossless "$bin" -q ingest "$work/in.flac" --out "$work/out" --no-lossless --ladder "$ladder"
best ogg "$bin" -q ingest "$work/in.flac" --out "$work/out" --formats ogg --no-lossless --ladder "$ladder"
best default_with_flac "$bin" -q ingest "$work/in.flac" --out "$work/out" --ladder "$ladder"

echo
echo "input: ${secs} s music-like FLAC (44.1 kHz stereo), ladder $ladder kbit/s; $(nproc) cores"
awk '
  {c[$1]=$2}
  END {
    printf "%-34s %8s %10s\n", "", "CPU s", "x floor"
    n = split("floor floor_decode cmaf_no_lossless ogg default_with_flac", k, " ")
    for (i = 1; i <= n; i++) printf "%-34s %8.2f %10.3f\n", k[i], c[k[i]], c[k[i]] / c["floor"]
    printf "\ndefault job without the FLAC tier / same-libopus floor: %.3fx  (target <= 1.05)\n", c["cmaf_no_lossless"] / c["floor"]
    printf "the floor with every packet decoded (QC) / the floor:   %.3fx  (no measuring job can go below)\n", c["floor_decode"] / c["floor"]
    printf "default job without the FLAC tier / floor with decode:  %.3fx\n", c["cmaf_no_lossless"] / c["floor_decode"]
  }' "$work/results"
