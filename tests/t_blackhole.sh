#!/bin/bash
# t_blackhole.sh - eight memcached servers, four of them behind a silent SYN
# drop: one call's connects run in parallel under one deadline.
#
# Two network namespaces joined by a veth pair: the servers' host (eight
# addresses 198.51.100.1-8, RFC 5737 documentation range, one memcached on
# each) and the client's host (198.51.100.100).  In the servers' namespace
# an nftables rule drops every SYN to four of them (.2 .4 .6 .8): a connect
# there gets no answer at all, as behind a firewall or to a vanished host.
# (A blackhole route is not silent: it fails at once.  sch_netem is not
# available on these kernels.)  tests/tool_blackhole, run in the client's
# namespace, then checks the calls (see its header): the first get_multi
# across all eight servers returns within 2000 ms with 1000 ms connect and
# I/O timeouts (serial connects take ~4000 ms), live keys hit, dead keys
# fail naming their server; with max_failures 1 a second call skips the
# dead servers at once; through the async API, 1000 gets to the live
# servers complete while the dead servers' connects hang, before the
# connect timeout passes.
#
# Needs root, iproute2, nft (nf_tables in the kernel) and memcached, else
# SKIP.  Everything is created with the PID in its name and removed by the
# EXIT trap; leftovers of a SIGKILLed run are removed on the next run.
# Prints PASS:/FAIL:/SKIP: lines for tests/run.sh and INFO: lines.  ~10 s.
set -u
cd "$(dirname "$0")/.." || exit 1
BUILD=${MCF_BUILD:-build}
[[ "$BUILD" == /* ]] || BUILD=$(pwd)/$BUILD
TOOL=$BUILD/tests/tool_blackhole

CASES=(blackhole_premise blackhole_first_call blackhole_second_call blackhole_async_keeps_serving)

NSS=mcxs-$$ # the servers' host
NSC=mcxc-$$ # the client's host
NET=198.51.100
CLIENT_IP=$NET.100
NSRV=8
DEAD_OCTETS=(2 4 6 8) # servers whose SYNs are dropped
PORT=11211            # each namespace has its own ports: nothing else is there
PROBE_S=1             # a connect to a dead server must still hang after this

PIDS=()
NAMESPACES=()
# shellcheck source=tests/netns.sh
. tests/netns.sh
ns_traps

# connects_within NS IP SECONDS: a TCP connect to IP:PORT from NS completes
# in time (bash's /dev/tcp, bounded by timeout(1)).  Exit 124 when it hung.
connects_within() {
    ip netns exec "$1" timeout "$3" bash -c "exec 3<>/dev/tcp/$2/$PORT" 2>/dev/null
}

is_dead() {
    local o
    for o in "${DEAD_OCTETS[@]}"; do [ "$1" = "$o" ] && return 0; done
    return 1
}

# ---------------------------------------------------------------- prerequisites
[ "$(id -u)" = 0 ] || skip_all "needs root for ip netns and nft"
command -v ip >/dev/null || skip_all "iproute2 (ip) is not installed"
command -v nft >/dev/null || skip_all "nft is not installed"
command -v memcached >/dev/null || skip_all "memcached is not installed"
[ -x "$TOOL" ] || fail_all "$TOOL is not built (make tests)"
T=$(mktemp -d "${TMPDIR:-/tmp}/mcfast-blackhole.XXXXXX") || exit 1
ns_clean_stale '^mcx[sc]-([0-9]+)$'

setup() {
    local i
    ip netns add "$NSS" || return 1
    NAMESPACES+=("$NSS")
    ip netns add "$NSC" || return 1
    NAMESPACES+=("$NSC")
    ip -n "$NSS" link set lo up || return 1
    ip -n "$NSC" link set lo up || return 1
    ip -n "$NSC" link add eth0 type veth peer name eth0 netns "$NSS" || return 1
    for i in $(seq 1 "$NSRV"); do
        ip -n "$NSS" addr add "$NET.$i/24" dev eth0 || return 1
    done
    ip -n "$NSC" addr add "$CLIENT_IP/24" dev eth0 || return 1
    ip -n "$NSS" link set eth0 up || return 1
    ip -n "$NSC" link set eth0 up || return 1
}

# Drops SYNs (not SYN-ACKs, not established traffic) to the dead servers.
blackhole() {
    local set="" o
    for o in "${DEAD_OCTETS[@]}"; do set+="${set:+, }$NET.$o"; done
    ip netns exec "$NSS" nft -f - <<EOF
table inet mcx_blackhole {
    chain input {
        type filter hook input priority 0; policy accept;
        ip daddr { $set } tcp dport $PORT tcp flags & (syn | ack) == syn drop
    }
}
EOF
}

# mc_start IP: memcached on IP:PORT in the servers' namespace; waits until
# it accepts (from inside the namespace, before the drop rule exists).
mc_start() {
    local ip=$1 pid _
    ip netns exec "$NSS" memcached -u root -U 0 -t 1 -m 16 -l "$ip" -p "$PORT" \
        >"$T/mc-$ip.log" 2>&1 &
    pid=$!
    PIDS+=("$pid")
    for _ in $(seq 1 100); do
        connects_within "$NSS" "$ip" 1 && return 0
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.05
    done
    echo "memcached on $ip:$PORT did not start: $(one_line "$T/mc-$ip.log")" >&2
    return 1
}

if ! setup 2>"$T/setup.err"; then
    skip_all "cannot build the namespaces: $(one_line "$T/setup.err")"
fi
if ! ip netns exec "$NSS" nft list tables >/dev/null 2>"$T/setup.err"; then
    skip_all "nft does not work in a namespace (no nf_tables?): $(one_line "$T/setup.err")"
fi
for i in $(seq 1 "$NSRV"); do
    mc_start "$NET.$i" 2>>"$T/setup.err" || fail_all "$(one_line "$T/setup.err")"
done
if ! blackhole 2>"$T/setup.err"; then
    skip_all "cannot install the nft drop rule: $(one_line "$T/setup.err")"
fi
info "servers' namespace $NSS: $(ip -n "$NSS" -o -4 addr show dev eth0 | awk '{print $4}' | tr '\n' ' ')"
info "drop rule: $(ip netns exec "$NSS" nft list ruleset | grep -E 'daddr' | tr -s ' ')"

# ---------------------------------------------------------------- premise
# From the client's host: live servers connect, dead ones hang (not
# refused, not unreachable: timeout(1) has to end them).
premise_ok=1
for i in $(seq 1 "$NSRV"); do
    connects_within "$NSC" "$NET.$i" "$PROBE_S"
    rc=$?
    if is_dead "$i"; then
        if [ "$rc" != 124 ]; then
            fail blackhole_premise "a connect to dead $NET.$i:$PORT ended by itself (exit $rc) instead of hanging for ${PROBE_S} s: the drop is not silent"
            premise_ok=0
        fi
    elif [ "$rc" != 0 ]; then
        fail blackhole_premise "live $NET.$i:$PORT does not accept connections from $NSC (exit $rc)"
        premise_ok=0
    fi
done
[ "$premise_ok" = 1 ] && pass blackhole_premise

# ---------------------------------------------------------------- the calls
specs=()
dead_idx=""
for i in $(seq 1 "$NSRV"); do
    specs+=("$NET.$i:$PORT")
    is_dead "$i" && dead_idx+="${dead_idx:+,}$((i - 1))"
done
ip netns exec "$NSC" timeout -k 5 120 "$TOOL" "$dead_idx" "${specs[@]}" >"$T/out" 2>"$T/err"
rc=$?
cat "$T/out"
for s in blackhole_first_call blackhole_second_call blackhole_async_keeps_serving; do
    if ! grep -qE "^(PASS|FAIL|SKIP): $s(:|$)" "$T/out"; then
        fail "$s" "tool_blackhole exit $rc without a result: $(one_line "$T/err")"
    fi
done
exit 0
