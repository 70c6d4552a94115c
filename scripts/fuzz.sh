#!/usr/bin/env bash
# Runs one fuzz target for SECONDS (default 60) on its seed corpus:
#   scripts/fuzz.sh fuzz_gguf 600
# Builds build-fuzz/ with clang first if needed. New inputs go to a scratch
# corpus under build-fuzz/, so fuzz/ only holds the committed seeds.
# FUZZ_SEED=N fixes libFuzzer's random seed (test.sh uses 1, so a run of the
# suite explores the same inputs each time; 0 or unset picks one at random).
set -euo pipefail
cd "$(dirname "$0")/.."
name=${1:?usage: scripts/fuzz.sh fuzz_NAME [SECONDS]}
secs=${2:-60}
if [ ! -x build-fuzz/"$name" ]; then
  cmake -S . -B build-fuzz -G Ninja -DJANC_FUZZ=ON -DCMAKE_C_COMPILER=clang >/dev/null
  ninja -C build-fuzz "$name" >/dev/null
fi
seeds=fuzz/corpus/${name#fuzz_}
work=build-fuzz/corpus-${name#fuzz_}
mkdir -p "$work"
args=()
[ -d "$seeds" ] && args+=("$seeds")
dict=fuzz/${name#fuzz_}.dict
[ -f "$dict" ] && set -- "-dict=$dict" && extra=("$@") || extra=()
exec build-fuzz/"$name" -seed="${FUZZ_SEED:-0}" -max_total_time="$secs" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
     "${extra[@]}" "$work" "${args[@]}"
