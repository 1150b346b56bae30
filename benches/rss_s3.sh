#!/usr/bin/env bash
# Peak memory of a long job published straight to S3: `audiopack ingest`
# of a generated one-hour FLAC with `--layout single-file --out s3://…`
# (each rendition one object of tens to hundreds of MiB, uploaded in parts)
# against the same job into a directory. Bodies are streamed from the spool
# (issue 10): memory must not grow with object size (target < 64 MiB).
#
#   benches/rss_s3.sh [seconds=3600]
set -euo pipefail
cd "$(dirname "$0")/.."
source benches/lib.sh
scripts/deps.sh bench
secs="${1:-3600}"
work="$(mktemp -d)"
server_pid=""
cleanup() { [[ -n "$server_pid" ]] && kill "$server_pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
cargo build --release --locked -q -p audiopack-cli -p audiopack-testkit
bin="$PWD/target/release/audiopack"

demo_input "$secs" "$work/in.flac"

export AWS_ACCESS_KEY_ID=AKIDBENCH AWS_SECRET_ACCESS_KEY=bench-secret AWS_REGION=us-east-1
export AWS_EC2_METADATA_DISABLED=true NO_PROXY=127.0.0.1,localhost
unset AWS_PROFILE AWS_ENDPOINT_URL_S3 HTTP_PROXY HTTPS_PROXY http_proxy https_proxy
mkdir -p "$work/s3/bench"
target/release/s3-test-server "$work/s3" --access-key "$AWS_ACCESS_KEY_ID" \
  --secret-key "$AWS_SECRET_ACCESS_KEY" > "$work/server.out" &
server_pid=$!
for _ in $(seq 100); do grep -q '^endpoint ' "$work/server.out" 2>/dev/null && break; sleep 0.05; done
AWS_ENDPOINT_URL="$(sed -n 's/^endpoint //p' "$work/server.out")"
[[ -n "$AWS_ENDPOINT_URL" ]] || { echo "the test server did not start" >&2; exit 1; }
export AWS_ENDPOINT_URL

# rss NAME CMD...: prints "NAME wall_s rss_mib".
rss() {
  local name="$1"; shift
  /usr/bin/time -f "%e %M" -o "$work/t" "$@" >/dev/null
  read -r wall kib < "$work/t"
  awk -v n="$name" -v w="$wall" -v k="$kib" 'BEGIN{printf "%-34s %8.1f s %8.1f MiB\n", n, w, k/1024}'
}
echo "peak RSS, ${secs} s 44.1 kHz stereo FLAC, single-file layout:"
rss "ingest --out DIR" "$bin" -q ingest "$work/in.flac" --layout single-file --out "$work/pkg"
rss "ingest --out s3://" "$bin" -q ingest "$work/in.flac" --layout single-file --out s3://bench/long/
# An s3:// input is downloaded once into the spool, then read twice from
# disk: what that costs beside reading the local file (s3s-fs keeps objects
# as plain files, so the input is placed there directly).
cp "$work/in.flac" "$work/s3/bench/in.flac"
rss "ingest s3:// input --out DIR" "$bin" -q ingest s3://bench/in.flac --layout single-file --out "$work/pkg2"
largest=$(find "$work/s3/bench/long" -type f -printf '%s\n' | sort -n | tail -1)
awk -v b="$largest" 'BEGIN{printf "largest object: %.1f MiB\n", b/1048576}'
