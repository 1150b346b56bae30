#!/usr/bin/env bash
# End-to-end benchmark: audiopack ingest vs the equivalent ffmpeg job vs bare
# opusenc, on the same generated input, in one run. Prints wall time, CPU time
# (user+sys) and peak RSS for each, and the ratios the foundation issue asks
# about. Then peak RSS of audiopack on a generated one-hour input.
#
#   benches/run.sh [seconds=300] [long_seconds=3600]
set -euo pipefail
cd "$(dirname "$0")/.."
source benches/lib.sh
scripts/deps.sh bench
secs="${1:-300}"
long="${2:-3600}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cargo build --release --locked -q -p audiopack-cli
bin="$PWD/target/release/audiopack"
ladder=(64 96 128 160)

# Inputs: the demo track looped (music-like, 44.1 kHz 16-bit stereo FLAC).
demo_input "$secs" "$work/in.flac"
demo_input "$long" "$work/long.flac"

# measure NAME CMD... : appends "name wall cpu rss_kib" to $work/results
measure() {
  local name="$1"; shift
  /usr/bin/time -f "%e %U %S %M" -o "$work/t" "$@" >/dev/null 2>"$work/err" || { cat "$work/err" >&2; exit 1; }
  read -r wall user sys rss < "$work/t"
  echo "$name $wall $(awk -v u="$user" -v s="$sys" 'BEGIN{print u+s}') $rss" >> "$work/results"
}
# sum NAME: adds up every row starting with NAME_ into one row NAME
sum() {
  awk -v n="$1" '$1 ~ "^"n"_" {w+=$2; c+=$3; if ($4>r) r=$4} END {print n, w, c, r}' "$work/results" >> "$work/results"
}

: > "$work/results"
ladder_arg="$(IFS=,; echo "${ladder[*]}")"
# 1. audiopack: decode twice, measure, normalize, resample, 4 renditions in
#    parallel, Ogg Opus out (the same deliverable as ffmpeg and opusenc).
measure audiopack "$bin" -q ingest "$work/in.flac" --out "$work/ap" --ladder "$ladder_arg" --formats ogg
# 1b. the same job packaged as CMAF + HLS + DASH (no lossless tier): the cost
#     of packaging. 1c. the default job, with the FLAC tier.
measure audiopack_cmaf "$bin" -q ingest "$work/in.flac" --out "$work/ap_cmaf" --ladder "$ladder_arg" --no-lossless
measure audiopack_full "$bin" -q ingest "$work/in.flac" --out "$work/ap_full" --ladder "$ladder_arg"

# 2. ffmpeg, the same job: two-pass loudnorm (measure, then linear gain),
#    resample to 48 kHz, the same libopus settings, 4 outputs from one decode.
measure ffmpeg_pass1 ffmpeg -nostdin -hide_banner -i "$work/in.flac" \
  -af loudnorm=I=-14:TP=-1:LRA=20:print_format=json -f null -
json=$(sed -n '/^{/,/^}/p' "$work/err")
get() { echo "$json" | sed -n "s/.*\"$1\" : \"\([^\"]*\)\".*/\1/p"; }
graph="[0:a]loudnorm=I=-14:TP=-1:LRA=20:linear=true:measured_I=$(get input_i):measured_TP=$(get input_tp):measured_LRA=$(get input_lra):measured_thresh=$(get input_thresh):offset=$(get target_offset),aresample=48000,asplit=4[o0][o1][o2][o3]"
args=()
for i in 0 1 2 3; do
  args+=(-map "[o$i]" -c:a libopus -b:a "${ladder[$i]}k" -vbr constrained -compression_level 10 -frame_duration 20 -application audio "$work/ff_${ladder[$i]}.opus")
done
measure ffmpeg_pass2 ffmpeg -nostdin -hide_banner -y -i "$work/in.flac" -filter_complex "$graph" "${args[@]}"
sum ffmpeg

# 3. bare libopus: opusenc once per rung (no loudness work at all).
for b in "${ladder[@]}"; do
  measure "opusenc_$b" opusenc --quiet --bitrate "$b" --cvbr --comp 10 --music --framesize 20 "$work/in.flac" "$work/oe_$b.opus"
done
sum opusenc

# 4. audiopack on the long input: memory must not grow with duration.
measure audiopack_long "$bin" -q ingest "$work/long.flac" --out "$work/ap_long" --ladder "$ladder_arg"

echo
echo "input: ${secs} s music-like FLAC (44.1 kHz stereo), ladder ${ladder[*]} kbit/s; $(nproc) cores"
echo "ffmpeg: $(ffmpeg -version | head -1 | cut -d' ' -f1-3); opusenc: $(opusenc --version | head -1)"
awk '
  {w[$1]=$2; c[$1]=$3; r[$1]=$4}
  END {
    printf "%-16s %9s %9s %10s %9s\n", "", "wall s", "CPU s", "RSS MiB", "x realtime"
    n = split("audiopack audiopack_cmaf audiopack_full ffmpeg opusenc audiopack_long", names, " ")
    for (i = 1; i <= n; i++) { k = names[i]; printf "%-16s %9.2f %9.2f %10.1f %9.1f\n", k, w[k], c[k], r[k]/1024, (k == "audiopack_long" ? LONG : SECS) / w[k] }
    printf "\naudiopack CPU / bare opusenc ladder CPU: %.2f  (target <= 1.15)\n", c["audiopack"]/c["opusenc"]
    printf "audiopack wall / ffmpeg wall:            %.2f  (target <= 0.5)\n", w["audiopack"]/w["ffmpeg"]
    printf "CMAF packaging cost (CPU, wall):         %+.1f %%, %+.1f %%\n", (c["audiopack_cmaf"]/c["audiopack"]-1)*100, (w["audiopack_cmaf"]/w["audiopack"]-1)*100
    printf "with the FLAC tier (CPU, wall):          %+.1f %%, %+.1f %%\n", (c["audiopack_full"]/c["audiopack"]-1)*100, (w["audiopack_full"]/w["audiopack"]-1)*100
    printf "audiopack peak RSS, %d s input:        %.1f MiB (target < 64)\n", SECS, r["audiopack"]/1024
    printf "audiopack peak RSS, %d s input:       %.1f MiB (target < 64; full package)\n", LONG, r["audiopack_long"]/1024
  }' SECS="$secs" LONG="$long" "$work/results"
