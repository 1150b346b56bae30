#!/usr/bin/env bash
# Catalog throughput: `audiopack batch --jobs 2` against the same work done
# by ffmpeg per track under `xargs -P 2` (two-pass loudnorm, 48 kHz, four
# libopus rungs, Ogg out) and against `audiopack batch --jobs 1`; then an
# identical rerun (every track skipped) for the per-track overhead.
#
#   benches/batch.sh [tracks=40] [seconds=30]
#
# Targets (issue 12): throughput >= 3x the ffmpeg batch; --jobs 2 >= 1.8x
# --jobs 1 on 2 cores; peak RSS of --jobs 2 under 128 MiB.
#
# Two bounds run over the same tracks, already at 48 kHz as f32 (converted
# untimed): libopus alone (the four encodes at the same settings, the
# `opus_floor` example, one process per track under `xargs -P 2`), and the
# same with every packet decoded again (what issue 14's QC adds at least).
# No job that makes these four encodes can beat the first's CPU time
# spread perfectly over every core.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh bench
tracks="${1:-40}"
secs="${2:-30}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cargo build --release --locked -q -p audiopack-cli
cargo build --release --locked -q -p audiopack-encode --example opus_floor
bin="$PWD/target/release/audiopack"
floor="$PWD/target/release/examples/opus_floor"
ladder=(64 96 128 160)
ladder_arg="$(IFS=,; echo "${ladder[*]}")"

# Inputs: the demo looped (see benches/catalog.sh).
source benches/catalog.sh
demo_catalog "$work/catalog.csv" t "$tracks" "$secs"

# measure NAME CMD... : appends "name wall cpu rss_kib" to $work/results
measure() {
  local name="$1"; shift
  /usr/bin/time -f "%e %U %S %M" -o "$work/t" "$@" >/dev/null 2>"$work/err" || { cat "$work/err" >&2; exit 1; }
  read -r wall user sys rss < "$work/t"
  echo "$name $wall $(awk -v u="$user" -v s="$sys" 'BEGIN{print u+s}') $rss" >> "$work/results"
}
: > "$work/results"

# 1. audiopack batch, 2 threads in all, then 1 (Ogg Opus ladder: ffmpeg's deliverable).
measure batch_jobs2 "$bin" -q batch "$work/catalog.csv" --out "$work/ap2" --jobs 2 --formats ogg --ladder "$ladder_arg"
measure batch_jobs1 "$bin" -q batch "$work/catalog.csv" --out "$work/ap1" --jobs 1 --formats ogg --ladder "$ladder_arg"
# 2. the identical rerun: every track skipped (digests), nothing decoded.
measure batch_rerun "$bin" -q batch "$work/catalog.csv" --out "$work/ap2" --jobs 2 --formats ogg --ladder "$ladder_arg"

# 3. ffmpeg per track, two at once: pass 1 measures, pass 2 applies the
#    linear gain, resamples once and encodes the four rungs from one decode.
#    The aformat pins the (stereo) layout: without it ffmpeg 5.1 fails to
#    renegotiate the graph on tracks under 3 s ("Cannot select channel
#    layout for the link between filters").
cat > "$work/ff.sh" <<EOF
#!/usr/bin/env bash
set -euo pipefail
in="\$1"; out="$work/ff/\$(basename "\$1" .flac)"; mkdir -p "\$out"
json=\$(ffmpeg -nostdin -hide_banner -i "\$in" -af loudnorm=I=-14:TP=-1:LRA=20:print_format=json -f null - 2>&1 | sed -n '/^{/,/^}/p')
get() { echo "\$json" | sed -n "s/.*\"\$1\" : \"\([^\"]*\)\".*/\1/p"; }
graph="[0:a]loudnorm=I=-14:TP=-1:LRA=20:linear=true:measured_I=\$(get input_i):measured_TP=\$(get input_tp):measured_LRA=\$(get input_lra):measured_thresh=\$(get input_thresh):offset=\$(get target_offset),aresample=48000,aformat=channel_layouts=stereo,asplit=4[o0][o1][o2][o3]"
args=()
i=0
for b in ${ladder[*]}; do
  args+=(-map "[o\$i]" -c:a libopus -b:a "\${b}k" -vbr constrained -compression_level 10 -frame_duration 20 -application audio "\$out/opus_\${b}k.opus")
  i=\$((i + 1))
done
ffmpeg -nostdin -hide_banner -v error -y -i "\$in" -filter_complex "\$graph" "\${args[@]}"
EOF
chmod +x "$work/ff.sh"
measure ffmpeg_xargs2 bash -c "ls '$work'/in/*.flac | xargs -P 2 -n 1 '$work/ff.sh'"

# 4. the bounds: libopus alone on ready 48 kHz PCM, then with decoding.
mkdir -p "$work/pcm"
for f in "$work"/in/*.flac; do
  ffmpeg -nostdin -v error -i "$f" -ar 48000 -f f32le -c:a pcm_f32le "$work/pcm/$(basename "$f" .flac).f32"
done
measure libopus_alone bash -c "ls '$work'/pcm/*.f32 | xargs -P 2 -I{} '$floor' {} 2 '$ladder_arg'"
measure libopus_decode bash -c "ls '$work'/pcm/*.f32 | xargs -P 2 -I{} '$floor' {} 2 '$ladder_arg' decode"

echo
echo "catalog: $tracks tracks of ${secs} s music-like FLAC (44.1 kHz stereo), ladder ${ladder[*]} kbit/s, Ogg out; $(nproc) cores"
echo "ffmpeg: $(ffmpeg -version | head -1 | cut -d' ' -f1-3)"
awk '
  {w[$1]=$2; c[$1]=$3; r[$1]=$4}
  END {
    audio = TRACKS * SECS
    printf "%-14s %9s %9s %10s %10s\n", "", "wall s", "CPU s", "RSS MiB", "x realtime"
    n = split("batch_jobs2 batch_jobs1 ffmpeg_xargs2 libopus_alone libopus_decode batch_rerun", names, " ")
    for (i = 1; i <= n; i++) { k = names[i]; printf "%-14s %9.2f %9.2f %10.1f %10.1f\n", k, w[k], c[k], r[k]/1024, (k == "batch_rerun" ? 0 : audio / w[k]) }
    printf "\nthroughput, batch --jobs 2 / ffmpeg under xargs -P 2: %.2fx  (target >= 3)\n", w["ffmpeg_xargs2"]/w["batch_jobs2"]
    # The bound: the CPU of libopus alone spread perfectly over every core.
    printf "bound: ffmpeg wall / (libopus alone CPU / %d cores):   %.2fx  (no job making these encodes can beat it)\n", NPROC, w["ffmpeg_xargs2"]/(c["libopus_alone"]/NPROC)
    printf "bound with every packet decoded (QC), same way:       %.2fx\n", w["ffmpeg_xargs2"]/(c["libopus_decode"]/NPROC)
    printf "batch --jobs 2 / --jobs 1:                            %.2fx  (target >= 1.8)\n", w["batch_jobs1"]/w["batch_jobs2"]
    printf "identical rerun, every track skipped:                 %.2f s (%.0f ms a track)\n", w["batch_rerun"], w["batch_rerun"]*1000/TRACKS
    printf "peak RSS, batch --jobs 2:                             %.1f MiB (target < 128)\n", r["batch_jobs2"]/1024
  }' TRACKS="$tracks" SECS="$secs" NPROC="$(nproc)" "$work/results"
