#!/usr/bin/env bash
# A fleet on one machine: the same catalog encoded by 1 and by 2
# `audiopack worker --jobs 1` pulling from a real `nats-server -js`, and the
# queue's own cost per job.
#
#   benches/workers.sh [tracks=20] [seconds=30] [tiny_tracks=40]
#
# 1. throughput: submit the catalog, start N workers, clock from the first
#    worker's start until their job-done events count every track (then
#    `status` must agree); 1 then 2 workers
#    (each on a fresh stream). Target (issue 13): 2 workers >= 1.8x 1 worker
#    on 2 cores.
# 2. queue overhead: `tiny_tracks` 1 s tracks, one worker `--jobs 1
#    --max-jobs N`; overhead per job = (the worker's wall time - the sum of
#    its jobs' own wall times) / N: pulling, KV state writes, acks,
#    connecting once.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh test
tracks="${1:-20}"
secs="${2:-30}"
tiny="${3:-40}"
work="$(mktemp -d)"
nats_pid=""
cleanup() {
  [[ -n "$nats_pid" ]] && kill "$nats_pid" 2>/dev/null || true
  jobs -p | xargs -r kill 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
cargo build --release --locked -q -p audiopack-cli
bin="$PWD/target/release/audiopack"
ladder=64,96,128,160
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
nats="nats://127.0.0.1:$port"

# Inputs: the demo looped (see benches/catalog.sh); tiny ones of 1 s.
source benches/catalog.sh
demo_catalog "$work/catalog.csv" t "$tracks" "$secs"
demo_catalog "$work/tiny.csv" tiny "$tiny" 1

fresh_nats() {
  [[ -n "$nats_pid" ]] && { kill "$nats_pid"; wait "$nats_pid" 2>/dev/null || true; }
  rm -rf "$work/js"
  nats-server -js -a 127.0.0.1 -p "$port" -sd "$work/js" >/dev/null 2>&1 &
  nats_pid=$!
  for _ in $(seq 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && return 0
    sleep 0.1
  done
  echo "nats-server did not start" >&2; exit 1
}

# fleet N: wall seconds and summed worker CPU for N workers over the catalog.
fleet() {
  local n="$1"
  fresh_nats
  "$bin" -q submit "$work/catalog.csv" --nats "$nats" --out "$work/out$n" --formats ogg --ladder "$ladder"
  local start; start=$(date +%s.%N)
  local pids=()
  for w in $(seq 1 "$n"); do
    /usr/bin/time -f "%U %S" -o "$work/cpu$n.$w" "$bin" worker --nats "$nats" --jobs 1 --name "w$w" --json > "$work/events$n.$w" &
    pids+=($!)
  done
  # Done when the workers' own job-done events add up (cheap to watch,
  # unlike polling `status`, a process and a KV listing each time).
  until [[ "$(cat "$work"/events"$n".* | grep -c '"event":"job-done"')" -ge "$tracks" ]]; do sleep 0.05; done
  local end; end=$(date +%s.%N)
  [[ "$("$bin" status --nats "$nats" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["done"])')" == "$tracks" ]] \
    || { echo "status does not say $tracks done" >&2; exit 1; }
  # GNU time does not pass signals on: stop the workers themselves.
  for p in "${pids[@]}"; do pkill -TERM -P "$p" || true; done
  wait "${pids[@]}" || true
  local cpu; cpu=$(cat "$work"/cpu"$n".* | awk '{c += $1 + $2} END {print c}')
  echo "$n $(awk -v a="$start" -v b="$end" 'BEGIN{print b - a}') $cpu" >> "$work/results"
}

: > "$work/results"
fleet 1
fleet 2

# Queue overhead on tiny jobs.
fresh_nats
"$bin" -q submit "$work/tiny.csv" --nats "$nats" --out "$work/tinyout" --formats ogg --ladder "$ladder"
/usr/bin/time -f "%e" -o "$work/tinywall" "$bin" worker --nats "$nats" --jobs 1 --max-jobs "$tiny" --json > "$work/tinyevents"
overhead=$(python3 - "$work/tinyevents" "$(cat "$work/tinywall")" "$tiny" <<'EOF'
import json, sys
events = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
jobs = sum(e["wall_seconds"] for e in events if e["event"] == "job-done")
done = sum(1 for e in events if e["event"] == "job-done")
wall = float(sys.argv[2]); n = int(sys.argv[3])
assert done == n, f"{done} of {n} done"
print(f"{(wall - jobs) / n * 1000:.1f} {jobs / n * 1000:.1f}")
EOF
)

echo
echo "catalog: $tracks tracks of ${secs} s music-like FLAC (44.1 kHz stereo), ladder $ladder kbit/s, Ogg out; $(nproc) cores"
echo "nats-server: $(nats-server --version)"
awk -v tracks="$tracks" -v secs="$secs" '
  {w[$1]=$2; c[$1]=$3}
  END {
    printf "%-22s %9s %9s %11s\n", "", "wall s", "CPU s", "x realtime"
    for (n = 1; n <= 2; n++) printf "%-22s %9.2f %9.2f %11.1f\n", n " worker(s), --jobs 1", w[n], c[n], tracks * secs / w[n]
    printf "\nthroughput, 2 workers / 1 worker: %.2fx  (target >= 1.8)\n", w[1] / w[2]
  }' "$work/results"
read -r per_job job_ms <<< "$overhead"
echo "queue overhead per job ($tiny tiny jobs, one worker): ${per_job} ms (the jobs themselves: ${job_ms} ms each)"
