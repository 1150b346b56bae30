#!/usr/bin/env bash
# Installs the system packages audiopack needs when they are missing.
#   scripts/deps.sh build   cmake + a C compiler (libopus is built from source by the opus crate)
#   scripts/deps.sh test    build + ffmpeg/ffprobe (the outside oracle in tests), nats-server
#                           (the worker tests), Chromium and
#                           Node (the player tests; their npm packages are installed by test.sh),
#                           GNU time (peak RSS in the hostile-input tests)
#   scripts/deps.sh bench   test + opusenc (opus-tools)
# Skips everything already present, so a warm machine pays nothing.
set -euo pipefail
want=()
need() { command -v "$1" >/dev/null 2>&1 || want+=("$2"); }
case "${1:-build}" in
  bench) need opusenc opus-tools ;&
  test)  need nats-server nats-server; need ffmpeg ffmpeg; need ffprobe ffmpeg; need chromium chromium; need node nodejs; need npm npm
         [[ -x /usr/bin/time ]] || want+=(time) ;&
  build) need cmake cmake; need cc gcc ;;
  *) echo "usage: $0 build|test|bench" >&2; exit 2 ;;
esac
((${#want[@]})) || exit 0
echo "installing: ${want[*]}" >&2
sudo=""; [[ $(id -u) -eq 0 ]] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
# shellcheck disable=SC2046
$sudo apt-get install -y -qq --no-install-recommends $(printf '%s\n' "${want[@]}" | sort -u) >/dev/null
