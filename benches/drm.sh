#!/usr/bin/env bash
# What encryption costs: the default job (HLS + DASH over CMAF, FLAC tier)
# clear, with --encrypt cbcs and with --encrypt cenc (two keys: lossy and
# lossless), on the same input, both layouts.
#
#   benches/drm.sh [seconds=300]
#
# CPU seconds (user + sys) and wall seconds, best of three runs each.
# Target (issue 11): encryption costs <= 3 % CPU over the clear package.
set -euo pipefail
cd "$(dirname "$0")/.."
source benches/lib.sh
scripts/deps.sh build
secs="${1:-300}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cargo build --release --locked -q -p audiopack-cli
bin="$PWD/target/release/audiopack"

demo_input "$secs" "$work/in.flac"
cat > "$work/keys.json" <<'KEYS'
{"keys":[{"kid":"00112233445566778899aabbccddeeff","key":"0f0e0d0c0b0a09080706050403020100","tracks":"lossy"},
         {"kid":"ffeeddccbbaa99887766554433221100","key":"1f1e1d1c1b1a19181716151413121110","tracks":"lossless"}]}
KEYS

# best NAME CMD...: the lowest CPU time of three runs (and its wall time).
best() {
  local name="$1"; shift
  local b="" w=""
  for _ in 1 2 3; do
    rm -rf "$work/out"
    /usr/bin/time -f "%U %S %e" -o "$work/t" "$@" >/dev/null 2>"$work/err" || { cat "$work/err" >&2; exit 1; }
    local c; c=$(awk '{print $1 + $2}' "$work/t")
    if [[ -z "$b" ]] || awk -v a="$c" -v b="$b" 'BEGIN{exit !(a < b)}'; then b="$c"; w=$(awk '{print $3}' "$work/t"); fi
  done
  echo "$name $b $w" >> "$work/results"
}

for layout in segments single-file; do
  best "clear/$layout" "$bin" ingest "$work/in.flac" --out "$work/out" --layout "$layout"
  best "cbcs/$layout" "$bin" ingest "$work/in.flac" --out "$work/out" --layout "$layout" --encrypt cbcs --keys "$work/keys.json"
  best "cenc/$layout" "$bin" ingest "$work/in.flac" --out "$work/out" --layout "$layout" --encrypt cenc --keys "$work/keys.json"
done

echo "input: ${secs} s of fixtures/demo.flac looped (44.1 kHz stereo FLAC), default ladder + FLAC tier"
awk '
  { cpu[$1] = $2; wall[$1] = $3; order[NR] = $1 }
  END {
    printf "%-22s %10s %10s %12s\n", "job", "cpu s", "wall s", "vs clear"
    for (i = 1; i <= NR; i++) {
      n = order[i]; split(n, p, "/"); base = cpu["clear/" p[2]]
      printf "%-22s %10.2f %10.2f %11.1f%%\n", n, cpu[n], wall[n], (cpu[n] / base - 1) * 100
    }
  }' "$work/results"
