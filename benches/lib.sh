# Shared by the benchmark scripts (sourced, from the repository root).

# demo_input SECS OUT: fixtures/demo.flac looped to SECS seconds, as FLAC
# (44.1 kHz stereo music-like material, the same for every benchmark).
demo_input() {
  local secs="$1" out="$2"
  local loops=$(( (secs + 19) / 20 ))
  ffmpeg -nostdin -v error -stream_loop "$loops" -i fixtures/demo.flac -t "$secs" -c:a flac "$out"
}
