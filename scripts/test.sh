#!/usr/bin/env bash
# The whole test suite: install what is missing, build, run every ctest test
# (unit and integration against a real gongxud on loopback) in a release build and in
# an ASan+UBSan build, then the libFuzzer targets for a bounded time each.
# Every stage runs even when an earlier one failed (a failed build fails its stage
# only); the end prints one line per stage and the exit status is 1 if any failed.
set -u -o pipefail
cd "$(dirname "$0")/.." || exit 1
scripts/deps.sh test || { echo "scripts/deps.sh test failed: nothing can be built or run" >&2; exit 1; }
exec </dev/null # nothing here reads the terminal; CI runs this without a stdin
summary=()
failed=0
# playwright-core for the dashboard's browser test (tests/browser), pinned by its lock file;
# it drives Debian's /usr/bin/chromium and never downloads a browser
if ! (cd tests/browser && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --prefer-offline); then
  summary+=("setup: FAILED (npm ci in tests/browser: the browser tests fail below)")
  failed=1
fi

# stage NAME BUILD_DIR CTEST_ARGS... : configure and build (the cmake arguments are in
# the array cfg, the environment of the build in env_build), then ctest; appends
# the stage's summary line
stage() {
  local name=$1 dir=$2 t0=$SECONDS log rc total nfail names
  shift 2
  echo "==== stage $name: $dir"
  if ! env "${env_build[@]}" cmake -S . -B "$dir" "${cfg[@]}" >/dev/null; then
    summary+=("stage $name: FAILED (cmake configure of $dir)")
    failed=1
    return
  fi
  if ! cmake --build "$dir" -j"$(nproc)"; then
    summary+=("stage $name: FAILED (build of $dir)")
    failed=1
    return
  fi
  log=$dir/Testing/test.sh.log
  mkdir -p "$dir/Testing"
  (cd "$dir" && ctest --output-on-failure "$@") 2>&1 | tee "$log"
  rc=$?
  # "100% tests passed, 0 tests failed out of 97" and, on failures, one
  # "<tab> 35 - integration.bench_smoke (Failed)" line each under "The following tests FAILED:"
  total=$(sed -n 's/.* tests failed out of \([0-9]*\).*/\1/p' "$log" | tail -1)
  names=$(sed -n '/^The following tests FAILED:/,$p' "$log" | sed -n 's/^[[:space:]]*[0-9]* - \([^ ]*\) (.*)$/\1/p' |
    paste -sd, - | sed 's/,/, /g')
  nfail=0
  [ -n "$names" ] && nfail=$(($(tr -cd , <<<"$names" | wc -c) + 1))
  if [ -z "$total" ] || [ "$total" -eq 0 ]; then
    summary+=("stage $name: FAILED (no tests ran; ctest exit $rc), $((SECONDS - t0)) s")
    failed=1
  elif [ "$nfail" -gt 0 ]; then
    summary+=("stage $name: FAILED ($nfail of $total: $names), $((SECONDS - t0)) s")
    failed=1
  elif [ "$rc" -ne 0 ]; then
    summary+=("stage $name: FAILED (ctest exit $rc, $total tests), $((SECONDS - t0)) s")
    failed=1
  else
    summary+=("stage $name: $total tests, 0 failed, $((SECONDS - t0)) s")
  fi
}

# 1. the release build: what users run
cfg=(-DCMAKE_BUILD_TYPE=RelWithDebInfo -DGX_WERROR=ON -DGX_TESTS=ON) env_build=()
stage release build -j2 --timeout 600
if [ -f build/artifacts/dashboard.png ]; then echo "dashboard screenshot: build/artifacts/dashboard.png"; fi
# what the crash-torture and flood tests checked and saw (ctest hides a passing test's output)
grep -hoE '(torture|flood|other firm): .*' build/Testing/Temporary/LastTest.log 2>/dev/null || true

# 2. the same suite under AddressSanitizer + UndefinedBehaviorSanitizer; a sanitizer
#    report in any broker log fails its test (tests/integration/gxharness.py)
cfg=(-DCMAKE_BUILD_TYPE=Debug -DGX_SANITIZE=ON -DGX_WERROR=ON) env_build=()
ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1 \
  stage asan build-asan -j2 --timeout 600

# 3. libFuzzer targets (tests/fuzz): each fuzzes a copy of its seeds for GX_FUZZ_SECONDS
#    (default 20) and replays tests/fuzz/regressions/<target>/
cfg=(-DGX_FUZZ=ON -DCMAKE_BUILD_TYPE=Debug) env_build=(CC=clang-14)
stage fuzz build-fuzz -L fuzz -j2

echo "==== summary"
printf '%s\n' "${summary[@]}"
exit $failed
