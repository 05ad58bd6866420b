#!/usr/bin/env bash
# Installs the Debian packages gongxu needs to build, run and test, if missing.
# Idempotent: does nothing (and needs no network) when everything is there.
# Usage: scripts/deps.sh [build|test|bench]   (test and bench add what the test
# suite and the benchmarks need, PostgreSQL 15 included)
set -euo pipefail
want=(build-essential cmake pkg-config libzmq3-dev libprotobuf-c-dev protobuf-c-compiler
      liblmdb-dev lmdb-utils libjansson-dev libmicrohttpd-dev libsystemd-dev)
if [ "${1:-build}" = test ] || [ "${1:-build}" = bench ]; then
  # PostgreSQL 15 is the other side of tests/bench/run, whose smoke the suite runs;
  # prometheus brings promtool (the /metrics check); chromium and node drive the
  # dashboard's browser test; systemd brings systemd-analyze (the unit file check)
  want+=(python3 python3-zmq python3-protobuf protobuf-compiler clang libclang-rt-14-dev
         postgresql-15 libpq-dev util-linux prometheus chromium systemd)
  # node and npm: Debian's, unless a node with npm is already on the PATH
  if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    want+=(nodejs npm)
  fi
fi
missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "installing: ${missing[*]}" >&2
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
