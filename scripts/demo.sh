#!/bin/bash
# demo.sh - starts throwaway memcached servers on loopback (IPv4, IPv6 and a
# unix socket), shows mcfast connecting to each and storing and reading
# values across them, then stops the servers.
set -eu
cd "$(dirname "$0")/.."
. tests/lib.sh
B=${B:-build}
MC=$B/mcfast
dir=$(mktemp -d /tmp/mcfast-demo.XXXXXX)
pids=()
cleanup() {
    mc_stop_all
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    ip netns del "$ns" 2>/dev/null || true
    ip netns del "$nspeer" 2>/dev/null || true
    rm -rf "/etc/netns/$ns" "$dir"
    rmdir /etc/netns 2>/dev/null || true
}
trap cleanup EXIT
ns=mcfdemo-$$
nspeer=mcfdemop-$$

mc_start_tcp 127.0.0.1 -m 16
p4=$MC_PORT
mc_start_tcp ::1 -m 16
p6=$MC_PORT
mc_start_unix "$dir/mc.sock" -m 16

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
run set counter 41
run incr counter 1
echo
echo "Why mcfast exists: how 127.0.0.1 resolves on this host, with and without AI_ADDRCONFIG"
run resolve "127.0.0.1:$p4"

# ---- The seed scenario: an IPv6-only host whose only IPv4 is 127.0.0.1 ----
if [ "$(id -u)" -ne 0 ] || ! ip netns add "$ns" 2>/dev/null; then
    echo
    echo "(Not root or no network namespaces here: skipping the IPv6-only host part of the demo.)"
    exit 0
fi
ip netns add "$nspeer"
ip -n "$ns" link set lo up
ip -n "$nspeer" link set lo up
ip -n "$ns" link add eth0 type veth peer name eth0 netns "$nspeer"
ip -n "$ns" addr add 2001:db8:1::1/64 dev eth0 nodad
ip -n "$nspeer" addr add 2001:db8:1::2/64 dev eth0 nodad
ip -n "$ns" link set eth0 up
ip -n "$nspeer" link set eth0 up
mkdir -p "/etc/netns/$ns"
# mc-dual: first an on-link IPv6 address nobody answers, then 127.0.0.1.
printf '127.0.0.1 localhost\n::1 localhost\n2001:db8:1::99 mc-dual\n127.0.0.1 mc-dual\n' >"/etc/netns/$ns/hosts"
echo "nameserver 127.0.0.1" >"/etc/netns/$ns/resolv.conf"
ip netns exec "$ns" memcached -u root -U 0 -l 127.0.0.1 -p 11211 >/dev/null 2>&1 &
pids+=($!)
for _ in $(seq 50); do ip netns exec "$ns" bash -c 'exec 3<>/dev/tcp/127.0.0.1/11211' 2>/dev/null && break; sleep 0.1; done

nsrun() { echo; echo "[ipv6-only host] \$ mcfast $*"; ip netns exec "$ns" "$PWD/$MC" "$@"; }
echo
echo "=== The seed's host, rebuilt in a network namespace ==="
echo "lo: 127.0.0.1, ::1; eth0: 2001:db8:1::1/64 only. memcached listens on 127.0.0.1:11211 only."
nsrun resolve 127.0.0.1:11211 || true
nsrun --servers 127.0.0.1:11211 set ismemcached 1
nsrun --servers 127.0.0.1:11211 get ismemcached
nsrun --servers localhost get ismemcached
if perl -MCache::Memcached::Fast -e1 2>/dev/null; then
    echo
    echo "[ipv6-only host] Cache::Memcached::Fast with servers => ['127.0.0.1:11211']:"
    ip netns exec "$ns" perl -MCache::Memcached::Fast -e '
        my $m = Cache::Memcached::Fast->new({ servers => ["127.0.0.1:11211"] });
        print $m->set("ismemcached", "1") ? "  stored\n" : "  Memcached is not responding\n";'
fi
echo
echo "mc-dual resolves to a dead IPv6 address first, then 127.0.0.1."
echo "Happy Eyeballs starts 127.0.0.1 after the attempt delay instead of waiting seconds:"
nsrun --servers mc-dual:11211 ping
nsrun --servers mc-dual:11211 --attempt-delay 50 ping
