#!/bin/bash
# demo.sh - starts throwaway memcached servers on loopback (IPv4, IPv6 and a
# unix socket), shows mcfast connecting to each and storing and reading
# values across them, then stops the servers.
set -eu
cd "$(dirname "$0")/.."
B=${B:-build}
MC=$B/mcfast
dir=$(mktemp -d /tmp/mcfast-demo.XXXXXX)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$dir"
}
trap cleanup EXIT

free_port() { # a free TCP port on the given address
    python3 - "$1" <<'PY' 2>/dev/null || echo $((20000 + RANDOM % 20000))
import socket, sys
fam = socket.AF_INET6 if ":" in sys.argv[1] else socket.AF_INET
s = socket.socket(fam); s.bind((sys.argv[1], 0)); print(s.getsockname()[1])
PY
}

start() { # start memcached with the given listen arguments
    memcached -u root -U 0 -m 16 "$@" >/dev/null 2>&1 &
    pids+=($!)
}

p4=$(free_port 127.0.0.1)
p6=$(free_port ::1)
start -l 127.0.0.1 -p "$p4"
start -l ::1 -p "$p6"
start -s "$dir/mc.sock"
for _ in $(seq 50); do
    [ -S "$dir/mc.sock" ] && break
    sleep 0.1
done
sleep 0.2

servers="127.0.0.1:$p4,[::1]:$p6,$dir/mc.sock"
run() { echo; echo "\$ mcfast $*"; "$MC" "$@"; }

echo "Three throwaway memcached servers: $servers"
export MEMCACHED_SERVERS=$servers
run ping
run set greeting "hello from mcfast"
run get greeting
for i in 1 2 3 4 5 6; do "$MC" set "user:$i" "profile $i" >/dev/null; done
echo
echo "\$ mcfast get user:1 ... user:6   (keys spread over the three servers by hashing)"
"$MC" get user:1 user:2 user:3 user:4 user:5 user:6
run incr greeting-count 1 || true
run set counter 41
run incr counter 1
echo
echo "Why mcfast exists: how 127.0.0.1 resolves on this host, with and without AI_ADDRCONFIG"
run resolve "127.0.0.1:$p4"
