#!/usr/bin/env bash
# The whole test suite: install what is missing, build, run every ctest test
# (unit and integration against a real gongxud on loopback) in a release build and in
# an ASan+UBSan build, then the libFuzzer targets for a bounded time each.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh test
# playwright-core for the dashboard's browser test (tests/browser), pinned by its lock file;
# it drives Debian's /usr/bin/chromium and never downloads a browser
(cd tests/browser && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --prefer-offline)
# 1. the release build: what users run
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DGX_WERROR=ON -DGX_TESTS=ON >/dev/null
cmake --build build -j"$(nproc)"
(cd build && ctest --output-on-failure -j2 --timeout 600)
echo "dashboard screenshot: build/artifacts/dashboard.png"
# what the crash-torture and flood tests checked and saw (ctest hides a passing test's output)
grep -hoE '(torture|flood|other firm): .*' build/Testing/Temporary/LastTest.log || true
# 2. the same suite under AddressSanitizer + UndefinedBehaviorSanitizer; a sanitizer
#    report in any broker log fails its test (tests/integration/gxharness.py)
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DGX_SANITIZE=ON -DGX_WERROR=ON >/dev/null
cmake --build build-asan -j"$(nproc)"
(cd build-asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1 \
  ctest --output-on-failure -j2 --timeout 600)
# 3. libFuzzer targets (tests/fuzz): each fuzzes a copy of its seeds for GX_FUZZ_SECONDS
#    (default 20) and replays tests/fuzz/regressions/<target>/
CC=clang-14 cmake -S . -B build-fuzz -DGX_FUZZ=ON -DCMAKE_BUILD_TYPE=Debug >/dev/null
cmake --build build-fuzz -j"$(nproc)"
(cd build-fuzz && ctest -L fuzz -j2 --output-on-failure)
