#!/usr/bin/env bash
# Runs one fuzz target under AFL++ (afl.rs, stable Rust) for SECONDS, then
# saves every crash and hang it found as a regression input in
# fuzz/regressions/TARGET/ (replayed by `cargo test`) and prints them with
# their panic message and backtrace.
#
#   scripts/fuzz.sh TARGET SECONDS       # TARGET: decode, tags, cmaf_parse
#
# Installs cargo-afl (and builds its AFL++) when missing. The run resumes
# from fuzz/out/TARGET/ (git-ignored) when an earlier run left it, else
# starts from the seeds in fuzz/corpus/TARGET/. Runs under `nice -n 10`
# (FUZZ_NICE to change). See docs/fuzzing.md.
set -euo pipefail

usage() {
  echo "usage: scripts/fuzz.sh TARGET SECONDS   (TARGET: decode, tags, cmaf_parse)" >&2
  exit 2
}
[ $# -eq 2 ] || usage
target="$1"
seconds="$2"
case "$target" in
  decode | tags | cmaf_parse) ;;
  *) usage ;;
esac
[[ "$seconds" =~ ^[1-9][0-9]*$ ]] || usage

root="$(cd "$(dirname "$0")/.." && pwd)"
fuzz="$root/fuzz"
nice_level="${FUZZ_NICE:-10}"
export PATH="$HOME/.cargo/bin:$PATH"

if ! command -v cargo-afl > /dev/null; then
  echo "fuzz: installing cargo-afl" >&2
  nice -n "$nice_level" cargo install cargo-afl --locked
fi
# AFL++ itself is built per toolchain, once (cargo install usually does it).
rustc_version="$(rustc -V | cut -d' ' -f2)"
if ! compgen -G "${XDG_DATA_HOME:-$HOME/.local/share}/afl.rs/rustc-$rustc_version-*/afl.rs-*/afl/bin/afl-fuzz" > /dev/null; then
  nice -n "$nice_level" cargo afl config --build
fi

cd "$fuzz"
echo "fuzz: building $target (instrumented, release)" >&2
nice -n "$nice_level" cargo afl build --release --locked --bin "$target"
bin="$fuzz/target/release/$target"

out="$fuzz/out/$target"
mkdir -p "$out"
# Shared machines: the CPU governor is not ours to set (this VM has none),
# the core dump pattern may pipe to a handler (AFL still sees the crash
# signal), and the cores are shared with builds (no pinning). AFL_AUTORESUME continues an
# earlier run's queue in $out. Memory capped at 1 GiB per execution: an
# input that makes the harness allocate more is a finding.
export AFL_SKIP_CPUFREQ=1
export AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1
export AFL_NO_AFFINITY=1
export AFL_AUTORESUME=1
export AFL_NO_UI=1
case "$target" in
  cmaf_parse) dict="$fuzz/dict/mp4.dict" ;;
  *) dict="$fuzz/dict/audio.dict" ;;
esac
echo "fuzz: $target for $seconds s (AFL output in ${out#"$root"/})" >&2
nice -n "$nice_level" cargo afl fuzz -V "$seconds" -m 1024 -t 2000 -x "$dict" \
  -i "$fuzz/corpus/$target" -o "$out" -- "$bin" > "$out/afl.log" 2>&1 || {
  status=$?
  tail -n 40 "$out/afl.log" >&2
  echo "fuzz: afl-fuzz failed (exit $status); full log in $out/afl.log" >&2
  exit "$status"
}

stats="$out/default/fuzzer_stats"
afl_stat() { awk -F' *: *' -v k="$1" '$1 == k { print $2 }' "$stats"; }
echo "fuzz: $target ran $(afl_stat run_time) s: $(afl_stat execs_done) executions" \
  "($(afl_stat execs_per_sec)/s), corpus $(afl_stat corpus_count) inputs," \
  "edge coverage $(afl_stat bitmap_cvg), crashes $(afl_stat saved_crashes), hangs $(afl_stat saved_hangs)"

# Every crash, and every hang that still takes over 2 s when rerun alone
# (a busy machine makes AFL see false ones), becomes a regression input
# named by its content.
regressions="$fuzz/regressions/$target"
new=0
for kind in crashes hangs; do
  for found in "$out/default/$kind"/id:*; do
    [ -e "$found" ] || continue
    case "$kind" in crashes) name=crash ;; hangs) name=hang ;; esac
    name="$name-$(sha256sum "$found" | cut -c1-16)"
    dest="$regressions/$name"
    [ -e "$dest" ] && continue
    if [ "$kind" = hangs ] && (ulimit -v $((1024 * 1024)) && timeout 2 "$bin" < "$found" > /dev/null 2>&1); then
      echo "fuzz: ${found##*/} (a hang under AFL) runs in under 2 s alone: not kept"
      continue
    fi
    mkdir -p "$regressions"
    cp "$found" "$dest"
    new=$((new + 1))
    echo
    echo "=== fuzz/regressions/$target/$name ($(wc -c < "$dest") bytes; AFL: ${found##*/})"
    # Outside AFL the binary runs the harness once on stdin; under the same
    # memory cap as AFL's -m (a runaway allocation aborts instead of eating
    # the machine).
    (ulimit -v $((1024 * 1024)) && RUST_BACKTRACE=1 timeout 60 "$bin" < "$dest" 2>&1 | head -n 60) || true
  done
done
if [ "$new" -eq 0 ]; then
  echo "fuzz: no new crash or hang for $target"
else
  echo "fuzz: $new new input(s) in fuzz/regressions/$target/: replay with" \
    "cargo test -p audiopack-fuzz-targets --test corpus_replay"
fi
