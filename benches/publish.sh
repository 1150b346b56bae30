#!/usr/bin/env bash
# Publish benchmark: audiopack publish of a packaged catalog track to a local
# S3-compatible server (s3s-fs, our s3-test-server binary) vs the same files
# uploaded one after the other with boto3 ("aws s3 sync"-style sequential
# PUTs), in one run, on the same package and server. Also: audiopack with
# one upload at a time, the idempotent rerun (nothing to write), and
# ingest straight to S3 (upload overlapped with the encode) vs ingest to a
# directory followed by publish.
#
# Run twice: on loopback, and through a proxy adding LATENCY ms to every
# request (a distant origin: where uploading during the encode pays).
#
#   benches/publish.sh [seconds=300] [latency_ms=20]
set -euo pipefail
cd "$(dirname "$0")/.."
source benches/lib.sh
scripts/deps.sh bench
python3 -c 'import boto3' 2>/dev/null || {
  echo "installing: python3-boto3" >&2
  sudo=""; [[ $(id -u) -eq 0 ]] || sudo="sudo"
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends python3-boto3 >/dev/null
}
secs="${1:-300}"
work="$(mktemp -d)"
server_pids=()
cleanup() { ((${#server_pids[@]})) && kill "${server_pids[@]}" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
cargo build --release --locked -q -p audiopack-cli -p audiopack-testkit
bin="$PWD/target/release/audiopack"

demo_input "$secs" "$work/in.flac"
"$bin" -q ingest "$work/in.flac" --out "$work/pkg"

export AWS_ACCESS_KEY_ID=AKIDBENCH AWS_SECRET_ACCESS_KEY=bench-secret AWS_REGION=us-east-1
export AWS_EC2_METADATA_DISABLED=true NO_PROXY=127.0.0.1,localhost
unset AWS_PROFILE AWS_ENDPOINT_URL AWS_ENDPOINT_URL_S3 HTTP_PROXY HTTPS_PROXY http_proxy https_proxy
# start_server NAME LATENCY_MS: an s3-test-server (behind a delaying proxy
# when LATENCY_MS > 0) over $work/NAME with a "bench" bucket; exports its
# endpoint as AWS_ENDPOINT_URL.
start_server() {
  mkdir -p "$work/$1/bench"
  target/release/s3-test-server "$work/$1" --latency "$2" \
    --access-key "$AWS_ACCESS_KEY_ID" --secret-key "$AWS_SECRET_ACCESS_KEY" > "$work/$1.out" &
  server_pids+=("$!")
  for _ in $(seq 100); do grep -q '^endpoint ' "$work/$1.out" 2>/dev/null && break; sleep 0.05; done
  AWS_ENDPOINT_URL="$(sed -n 's/^endpoint //p' "$work/$1.out")"
  [[ -n "$AWS_ENDPOINT_URL" ]] || { echo "the test server did not start" >&2; exit 1; }
  export AWS_ENDPOINT_URL
}
latency_ms="${2:-20}"

# timed NAME CMD...: appends "NAME wall_seconds" to results.
: > "$work/results"
timed() {
  local name="$1"; shift
  local t0 t1
  t0=$(date +%s.%N)
  "$@" >/dev/null
  t1=$(date +%s.%N)
  echo "$name $(awk -v a="$t0" -v b="$t1" 'BEGIN{print b-a}')" >> "$work/results"
}

boto3_seq() {
  python3 - "$work/pkg" "$AWS_ENDPOINT_URL" <<'PY'
import os, sys, mimetypes, boto3
from botocore.config import Config
root, endpoint = sys.argv[1], sys.argv[2]
kw = {"s3": {"addressing_style": "path"}}
try:
    cfg = Config(request_checksum_calculation="when_required", **kw)
except TypeError:  # botocore < 1.36
    cfg = Config(**kw)
s3 = boto3.client("s3", endpoint_url=endpoint, config=cfg)
types = {".m3u8": "application/vnd.apple.mpegurl", ".mpd": "application/dash+xml",
         ".mp4": "audio/mp4", ".m4s": "audio/mp4", ".json": "application/json"}
for d, _, files in os.walk(root):
    for f in sorted(files):
        p = os.path.join(d, f)
        key = "boto/" + os.path.relpath(p, root)
        with open(p, "rb") as fh:
            s3.put_object(Bucket="bench", Key=key, Body=fh.read(),
                          ContentType=types.get(os.path.splitext(f)[1], "application/octet-stream"))
PY
}

# run_set SUFFIX: every contender against $AWS_ENDPOINT_URL.
run_set() {
  local x="$1"
  timed "audiopack$x" "$bin" -q publish "$work/pkg" --out s3://bench/ap/
  timed "audiopack_rerun$x" "$bin" -q publish "$work/pkg" --out s3://bench/ap/
  timed "audiopack_seq$x" "$bin" -q publish "$work/pkg" --out s3://bench/ap_seq/ --concurrency 1
  timed "boto3_seq$x" boto3_seq
  rm -rf "$work/pkg2"
  timed "local_then_publish$x" bash -c "'$bin' -q ingest '$work/in.flac' --out '$work/pkg2' && '$bin' -q publish '$work/pkg2' --out s3://bench/two-step/"
  timed "ingest_to_s3$x" "$bin" -q ingest "$work/in.flac" --out s3://bench/direct/
}

start_server s3 0
run_set ""
start_server s3far "$latency_ms"
run_set "_far"

objects=$(find "$work/pkg" -type f | wc -l)
mib=$(du -sm "$work/pkg" | cut -f1)
echo
echo "package: ${secs} s track, default job (4 Opus rungs + FLAC tier, HLS + DASH): $objects objects, $mib MiB; $(nproc) cores; server s3s-fs 0.14.1 on 127.0.0.1"
awk -v ms="$latency_ms" '
  {w[$1]=$2}
  END {
    printf "%-20s %12s %14s\n", "", "loopback s", "+" ms " ms/req s"
    n = split("audiopack audiopack_seq boto3_seq audiopack_rerun local_then_publish ingest_to_s3", k, " ")
    for (i = 1; i <= n; i++) printf "%-20s %12.2f %14.2f\n", k[i], w[k[i]], w[k[i] "_far"]
    for (j = 1; j <= 2; j++) {
      x = (j == 1) ? "" : "_far"
      printf "\n%s\n", (j == 1) ? "loopback:" : "with " ms " ms added per request:"
      printf "  audiopack publish / boto3 sequential PUTs:     %.2f\n", w["audiopack" x]/w["boto3_seq" x]
      printf "  audiopack publish / audiopack --concurrency 1: %.2f\n", w["audiopack" x]/w["audiopack_seq" x]
      printf "  identical rerun / first publish:               %.2f\n", w["audiopack_rerun" x]/w["audiopack" x]
      printf "  ingest to s3 / (ingest to dir + publish):      %.2f\n", w["ingest_to_s3" x]/w["local_then_publish" x]
    }
  }' "$work/results"
