#!/usr/bin/env bash
# The whole test suite: install what is missing, build, run every ctest test
# (unit and integration against a real gongxud on loopback).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh test
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DGX_WERROR=ON >/dev/null
cmake --build build -j"$(nproc)"
cd build
ctest --output-on-failure -j2 --timeout 600
