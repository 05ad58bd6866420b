#!/usr/bin/env bash
# Installs the Debian packages gongxu needs to build, run and test, if missing.
# Idempotent: does nothing (and needs no network) when everything is there.
# Usage: scripts/deps.sh [build|test|bench]   (test and bench add what the test
# suite and the benchmarks need, PostgreSQL 15 included)
set -euo pipefail
want=(build-essential cmake pkg-config libzmq3-dev libprotobuf-c-dev protobuf-c-compiler
      liblmdb-dev lmdb-utils libjansson-dev libmicrohttpd-dev libsystemd-dev libnats-dev
      libsodium-dev)
if [ "${1:-build}" = test ] || [ "${1:-build}" = bench ]; then
  # PostgreSQL 15 is the other side of tests/bench/run, whose smoke the suite runs;
  # prometheus brings promtool (the /metrics check); chromium and node drive the
  # dashboard's browser test; systemd brings systemd-analyze (the unit file check);
  # fonts-noto-cjk draws the dashboard's Chinese in Chromium (without a CJK font every
  # character is an empty box): Noto Sans CJK SC, the face app.css asks for first, has
  # Simplified Chinese glyph forms for all of GB 18030 and real bold weights (the page's
  # headings and figures are bold); fonts-wqy-microhei is a twentieth of the size but
  # one weight only, and unmaintained since 2010
  # nats-server: the federation test runs three of them (JetStream cluster) and three cities
  want+=(python3 python3-zmq python3-protobuf protobuf-compiler clang libclang-rt-14-dev
         postgresql-15 libpq-dev util-linux prometheus chromium systemd fonts-noto-cjk nats-server)
  # node and npm: Debian's (Debian 12: nodejs 18.20.4), unless a node with npm is already
  # on the PATH. tests/browser's lock file is kept installable on Debian's node (engines
  # node >=$node_min; test browser.debian_node), so Debian's is always enough. A node on
  # the PATH is left alone even when too old: installing Debian's would not take its
  # place on the PATH (nor replace another repository's nodejs package); it is named
  # below instead, and `npm ci` (engine-strict, tests/browser/.npmrc) refuses it.
  node_min=18
  if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    want+=(nodejs npm)
  fi
fi
missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}" >&2
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
if [ -n "${node_min:-}" ] && ! node -e "process.exit(+process.versions.node.split('.')[0] >= $node_min ? 0 : 1)"; then
  echo "scripts/deps.sh: $(command -v node) is node $(node --version), older than the $node_min the" \
       "browser test needs (tests/browser/package.json); put a newer one, such as Debian's" \
       "/usr/bin/node, first on the PATH" >&2
fi
