#!/usr/bin/env bash
# A province on this machine: three nats-servers (a JetStream cluster, file storage, the
# stream replicated R3) and three federated gongxud — Hebi 4106, Zhengzhou 4101, Xinxiang
# 4107 — on loopback, each city its own NATS user allowed to publish only gx.<city>.>.
# Data, configs, logs and PIDs under DIR (default ./var/federation).
#   scripts/federation.sh [DIR]        start, print how to reach each city, wait; Ctrl-C stops all
#   scripts/federation.sh stop [DIR]   stop what a start left running (by its PID files)
# Builds into ./build first (scripts/deps.sh test brings nats-server); GX_BUILD=DIR uses
# the gongxud already built in DIR instead.
set -euo pipefail
umask 077 # configs hold the cities' NATS passwords
cd "$(dirname "$0")/.."
if [ "${1:-}" = stop ]; then
  dir=${2:-var/federation}
  for f in "$dir"/*.pid; do
    [ -e "$f" ] || continue
    pid=$(cat "$f")
    kill "$pid" 2>/dev/null && echo "stopped $(basename "$f" .pid) (pid $pid)"
    rm -f "$f"
  done
  exit 0
fi
dir=${1:-var/federation}
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
command -v nats-server >/dev/null || [ -x /usr/sbin/nats-server ] || { echo "nats-server missing: scripts/deps.sh test" >&2; exit 69; }
nats=$(command -v nats-server || echo /usr/sbin/nats-server)
build=${GX_BUILD:-}
if [ -z "$build" ]; then
  build=build
  (umask 022 # the build is not secret
   cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DGX_TESTS=OFF >/dev/null
   cmake --build build -j"$(nproc)" >/dev/null)
fi
cities=(4106 4101 4107)
names=(Hebi Zhengzhou Xinxiang)
pids=()
stop_all() {
  trap - INT TERM EXIT
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do kill "${pids[$i]}" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -f "$dir"/*.pid
  echo "stopped"
}
trap stop_all INT TERM EXIT
perms() { # the city's NATS user: its own subjects, its consumer's JetStream API, its own inboxes
  local c=$1 d="city-$1"
  printf '{user: city%s, password: "%s", permissions: {publish: {allow: ["gx.%s.>", "$JS.API.STREAM.INFO.GONGXU", "$JS.API.STREAM.CREATE.GONGXU", "$JS.API.CONSUMER.INFO.GONGXU.%s", "$JS.API.CONSUMER.DELETE.GONGXU.%s", "$JS.API.CONSUMER.DURABLE.CREATE.GONGXU.%s", "$JS.API.CONSUMER.MSG.NEXT.GONGXU.%s", "$JS.ACK.GONGXU.%s.>"]}, subscribe: {allow: ["_INBOX_%s.>"]}}}' \
    "$c" "$(cat "$dir/city$c.password")" "$c" "$d" "$d" "$d" "$d" "$d" "$c"
}
for c in "${cities[@]}"; do
  [ -s "$dir/city$c.password" ] || (umask 077; head -c 18 /dev/urandom | base64 | tr -d '/+=' >"$dir/city$c.password")
done
users=$(for c in "${cities[@]}"; do perms "$c"; echo; done | paste -sd, -)
urls=""
for i in 0 1 2; do urls+="${urls:+,}nats://127.0.0.1:$((4222 + i))"; done
for i in 0 1 2; do
  routes=""
  for j in 0 1 2; do [ "$j" = "$i" ] || routes+="${routes:+, }nats-route://127.0.0.1:$((6222 + j))"; done
  cat >"$dir/n$i.conf" <<CONF
server_name: n$i
listen: 127.0.0.1:$((4222 + i))
jetstream { store_dir: "$dir/n$i" }
cluster { name: gongxu, listen: 127.0.0.1:$((6222 + i)), routes: [$routes] }
accounts { GX: { jetstream: enabled, users: [$users] } }
CONF
  "$nats" -c "$dir/n$i.conf" >"$dir/n$i.log" 2>&1 &
  pids+=($!); echo $! >"$dir/n$i.pid"
done
# each gongxud serves at once and connects, finds or creates the stream and makes its
# consumer in the background, retrying until the cluster has elected its JetStream leader
for i in 0 1 2; do
  c=${cities[$i]}
  "$build/gongxud" -d "$dir/city$c" -l "tcp://127.0.0.1:$((7450 + 10 * i))" -m "tcp://127.0.0.1:$((7451 + 10 * i))" \
    -o "http_listen=127.0.0.1:$((7452 + 10 * i))" -o "federation_url=$urls" -o "federation_city=$c" \
    -o "federation_user=city$c" -o "federation_password_file=$dir/city$c.password" >"$dir/city$c.out" 2>"$dir/city$c.log" &
  pids+=($!); echo $! >"$dir/city$c.pid"
done
for i in 0 1 2; do
  c=${cities[$i]}
  for _ in $(seq 100); do grep -q "gongxud ready" "$dir/city$c.out" 2>/dev/null && break; sleep 0.2; done
  grep -q "gongxud ready" "$dir/city$c.out" || { echo "city $c did not start; see $dir/city$c.log" >&2; exit 1; }
  echo "${names[$i]} ($c): clients tcp://127.0.0.1:$((7450 + 10 * i)), dashboard http://127.0.0.1:$((7452 + 10 * i))/," \
       "operator key $dir/city$c/operator.key, log $dir/city$c.log"
done
echo "NATS: $urls (data $dir/n*). Ctrl-C, or scripts/federation.sh stop $dir, stops all six."
wait
