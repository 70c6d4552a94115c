#!/usr/bin/env bash
# Runs the whole test suite: installs what is missing, builds (warnings are
# errors), runs every test under ctest, then the unit tests again in an
# AddressSanitizer + UndefinedBehaviorSanitizer build, then each fuzz target
# briefly. Needs ../shared beside the project for the acceptance checks;
# without it those tests say they are skipped.
set -uo pipefail
cd "$(dirname "$0")"
scripts/deps.sh || exit 1
jobs=$(nproc)
total_pass=0 total_fail=0
count() { # reads ctest's closing line from $1
  local line p t
  line=$(grep -E '[0-9]+% tests passed, [0-9]+ tests? failed out of [0-9]+' "$1" | tail -1)
  if [ -z "$line" ]; then total_fail=$((total_fail + 1)); return; fi
  t=$(sed -E 's/.*out of ([0-9]+).*/\1/' <<<"$line")
  p=$(sed -E 's/.* ([0-9]+) tests? failed.*/\1/' <<<"$line")
  total_pass=$((total_pass + t - p)); total_fail=$((total_fail + p))
}

echo "== build (release, -Werror)"
scripts/build.sh -DJANC_WERROR=ON || { echo "0 passed, 1 failed"; exit 1; }
echo "== tests"
(cd build && ctest -j"$jobs" --output-on-failure --timeout 1200) 2>&1 | tee build/ctest.log
count build/ctest.log

echo "== unit tests under ASan + UBSan"
cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DJANC_SANITIZE=ON -DJANC_WERROR=ON \
      -DCMAKE_C_COMPILER=clang >/dev/null && ninja -C build-asan >/dev/null || { echo "asan build failed"; total_fail=$((total_fail + 1)); }
if [ -x build-asan/janc ]; then
  (cd build-asan && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
     ctest -j"$jobs" -R '^test_' --output-on-failure --timeout 1200) 2>&1 | tee build-asan/ctest.log
  count build-asan/ctest.log
fi

echo "== fuzz targets, briefly"
if cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DJANC_FUZZ=ON \
      -DCMAKE_C_COMPILER=clang >/dev/null && ninja -C build-fuzz >/dev/null; then
  for f in build-fuzz/fuzz_*; do
    [ -x "$f" ] || continue
    name=$(basename "$f")
    if FUZZ_SEED=1 scripts/fuzz.sh "$name" 10 >build-fuzz/"$name".log 2>&1; then
      echo "fuzz $name: ok"; total_pass=$((total_pass + 1))
    else
      echo "fuzz $name: FAILED"; tail -30 build-fuzz/"$name".log; total_fail=$((total_fail + 1))
    fi
  done
else
  echo "fuzz build failed"; total_fail=$((total_fail + 1))
fi

echo "== all: $total_pass passed, $total_fail failed"
echo "$total_pass passed, $total_fail failed"
[ "$total_fail" -eq 0 ]
