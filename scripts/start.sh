#!/usr/bin/env bash
# Quick start: install what is missing, build, and run gongxud in the foreground on
# its embedded defaults (clients tcp://127.0.0.1:7450, monitor tcp://127.0.0.1:7451,
# operator dashboard and metrics http://127.0.0.1:7452/, data ./var/gongxu). Extra
# arguments go to gongxud. Ctrl-C stops it cleanly.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh build
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DGX_TESTS=OFF >/dev/null
cmake --build build -j"$(nproc)" >/dev/null
exec build/gongxud "$@"
