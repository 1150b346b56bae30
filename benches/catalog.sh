# Sourced by the catalog benchmarks (batch.sh, workers.sh).
#
# demo_catalog CSV ID_PREFIX TRACKS SECONDS: TRACKS music-like inputs (the
# demo looped: 44.1 kHz 16-bit stereo FLAC), each starting elsewhere so no
# two are the same bytes, in `$(dirname CSV)/in/`, and the CSV catalog
# listing them as ID_PREFIX1…ID_PREFIXn with paths relative to it.
demo_catalog() {
  local csv="$1" prefix="$2" tracks="$3" secs="$4"
  local dir; dir="$(dirname "$csv")"
  local loops=$(( (secs + 39) / 20 ))
  mkdir -p "$dir/in"
  echo "id,input" > "$csv"
  for i in $(seq 1 "$tracks"); do
    ffmpeg -nostdin -v error -stream_loop "$loops" -i fixtures/demo.flac \
      -ss "$(( i % 17 )).$(( i % 10 ))" -t "$secs" -c:a flac "$dir/in/$prefix$i.flac"
    echo "$prefix$i,in/$prefix$i.flac" >> "$csv"
  done
}
