#!/bin/bash
# t_resolve_netns.sh - name resolution against a DNS server that never
# answers, in a network namespace of our own.
#
# The namespace's resolv.conf (/etc/netns/NS/resolv.conf, which `ip netns
# exec` bind-mounts over /etc/resolv.conf) names 198.51.100.53, an address
# on the namespace's loopback where an nftables rule drops UDP and TCP
# port 53 on input: queries leave without an error and nothing ever comes
# back, the worst case for a resolver (blocking getaddrinfo spent ~20 s
# there, twice with the old AI_ADDRCONFIG retry).  Its hosts file names
# mc-hosts.  tests/tool_resolve runs the lookups (src/resolve.c):
#
#   dead_deadline    nosuch.example with a 500 ms timeout: MCF_ERR_RESOLVE
#                    within 500 ms + slack, "DNS server did not answer".
#   hosts_at_once    mc-hosts (both families) is answered inside
#                    mcf_lookup_start, no DNS, though DNS is dead.
#   same_resolver    both on one resolver: the dead lookup leaves nothing
#                    behind that slows the next.
#   cares_timeout    c-ares giving up by itself (RES_OPTIONS retrans/retry):
#                    its message says the server did not answer.
#   conf_change      resolv.conf rewritten between two lookups of one
#                    resolver (now 127.0.0.1, which refuses): the second
#                    lookup uses the new server.
#   connect          the public API (tool_netns_client): a connect to the
#                    name fails as a resolution error, bounded.
#
# Needs root, iproute2 and nft (or iptables); otherwise SKIP.  Prints
# PASS:/FAIL:/SKIP: for tests/run.sh and INFO: lines with timings.  ~5 s.
set -u
cd "$(dirname "$0")/.." || exit 1
BUILD=${MCF_BUILD:-build}
[[ "$BUILD" == /* ]] || BUILD=$(pwd)/$BUILD
TOOL=$BUILD/tests/tool_resolve
CLIENT=$BUILD/tests/tool_netns_client

CASES=(resolve_netns_dead_deadline resolve_netns_hosts_at_once resolve_netns_same_resolver
       resolve_netns_cares_timeout resolve_netns_conf_change resolve_netns_connect
       resolve_netns_live_server_same_call)

NS=mcr-$$
MC_PID=""
DNS_IP=198.51.100.53 # RFC 5737 documentation range, only inside NS
TIMEOUT_MS=500
SLACK_MS=1000        # generous: 2 cores shared with other agents' tests
T=""
ETC_DIRS=()
NS_MADE=0
BG_PID=""

pass() { echo "PASS: $1"; }
fail() { echo "FAIL: $1: $2"; }
skip() { echo "SKIP: $1: $2"; }
info() { echo "INFO: $*"; }

skip_all() {
    local c
    for c in "${CASES[@]}"; do
        skip "$c" "$1"
    done
    exit 0
}

# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
    local d
    [ -n "$BG_PID" ] && kill "$BG_PID" 2>/dev/null && wait "$BG_PID" 2>/dev/null
    [ -n "$MC_PID" ] && kill "$MC_PID" 2>/dev/null && wait "$MC_PID" 2>/dev/null
    [ "$NS_MADE" = 1 ] && ip netns del "$NS" 2>/dev/null
    for d in "${ETC_DIRS[@]}"; do
        if [ "$d" = /etc/netns ]; then
            rmdir "$d" 2>/dev/null
        else
            rm -rf "$d"
        fi
    done
    [ -n "$T" ] && rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Leftovers of a run killed with SIGKILL: our prefix and a dead PID.
clean_stale() {
    local ns d
    for ns in $(ip netns list 2>/dev/null | awk '{print $1}'); do
        [[ "$ns" =~ ^mcr-([0-9]+)$ ]] || continue
        kill -0 "${BASH_REMATCH[1]}" 2>/dev/null || ip netns del "$ns" 2>/dev/null
    done
    for d in /etc/netns/mcr-*; do
        [ -d "$d" ] || continue
        [[ "$d" =~ -([0-9]+)$ ]] || continue
        kill -0 "${BASH_REMATCH[1]}" 2>/dev/null || rm -rf "$d"
    done
    rmdir /etc/netns 2>/dev/null
}

now_ms() { date +%s%3N; }
one_line() { head -c 400 "$1" | tr '\n' '|'; }

# nsrun CMD...: runs CMD inside NS; stdout in $T/out, stderr in $T/err,
# exit code in RC, wall time in WALL_MS.
nsrun() {
    local t0
    t0=$(now_ms)
    ip netns exec "$NS" "$@" >"$T/out" 2>"$T/err"
    RC=$?
    WALL_MS=$(($(now_ms) - t0))
}

# field LINE KEY: the value of " KEY=value" in LINE (err= runs to the end).
field() {
    if [ "$2" = err ]; then
        sed -n 's/.* err=//p' <<<"$1"
    else
        sed -n "s/.* $2=\\([^ ]*\\).*/\\1/p" <<<"$1"
    fi
}

# ---------------------------------------------------------------- prerequisites

[ "$(id -u)" = 0 ] || skip_all "needs root for ip netns"
command -v ip >/dev/null || skip_all "iproute2 (ip) is not installed"
[ -e /etc/resolv.conf ] && [ -e /etc/hosts ] ||
    skip_all "ip netns exec can bind-mount only over an existing /etc/resolv.conf and /etc/hosts"
for f in "$TOOL" "$CLIENT"; do
    if [ ! -x "$f" ]; then
        for c in "${CASES[@]}"; do
            fail "$c" "$f is not built (make tests)"
        done
        exit 1
    fi
done
T=$(mktemp -d "${TMPDIR:-/tmp}/mcfast-resolve-netns.XXXXXX") || exit 1
clean_stale

ip netns add "$NS" 2>"$T/setup.err" || skip_all "ip netns add fails: $(one_line "$T/setup.err")"
NS_MADE=1
ip netns exec "$NS" true 2>/dev/null || skip_all "ip netns exec fails"
ip -n "$NS" link set lo up || skip_all "cannot bring lo up in the namespace"
ip -n "$NS" addr add "$DNS_IP/32" dev lo || skip_all "cannot add $DNS_IP to lo"

# Drop (not reject) DNS to DNS_IP on input: the sender sees no error at all.
drop_dns() {
    if command -v nft >/dev/null; then
        ip netns exec "$NS" nft -f - <<EOF && return 0
table inet mcr_dns {
    chain input {
        type filter hook input priority 0; policy accept;
        ip daddr $DNS_IP udp dport 53 drop
        ip daddr $DNS_IP tcp dport 53 drop
    }
}
EOF
    fi
    if command -v iptables >/dev/null; then
        ip netns exec "$NS" iptables -A INPUT -d "$DNS_IP" -p udp --dport 53 -j DROP &&
            ip netns exec "$NS" iptables -A INPUT -d "$DNS_IP" -p tcp --dport 53 -j DROP &&
            return 0
    fi
    return 1
}
drop_dns 2>"$T/setup.err" || skip_all "cannot install a drop rule (nft/iptables): $(one_line "$T/setup.err")"

if [ ! -d /etc/netns ]; then
    mkdir /etc/netns || skip_all "cannot create /etc/netns"
    ETC_DIRS+=(/etc/netns)
fi
mkdir "/etc/netns/$NS" || skip_all "cannot create /etc/netns/$NS"
ETC_DIRS=("/etc/netns/$NS" "${ETC_DIRS[@]}")
CONF=/etc/netns/$NS/resolv.conf
printf '%s\n' "nameserver $DNS_IP" >"$CONF"
printf '%s\n' "127.0.0.1	localhost" "::1	localhost" "127.0.0.1	mc-hosts" "::1	mc-hosts" \
    >"/etc/netns/$NS/hosts"

# The premise: the namespace really sees our files.
if ! ip netns exec "$NS" grep -q "$DNS_IP" /etc/resolv.conf ||
    ! ip netns exec "$NS" grep -q mc-hosts /etc/hosts; then
    skip_all "ip netns exec does not bind-mount /etc/netns/$NS over /etc"
fi

# ---------------------------------------------------------------- cases

# 1. The dead server and the deadline.
nsrun "$TOOL" --timeout "$TIMEOUT_MS" nosuch.example:11211
line=$(head -n 1 "$T/out")
info "dead_deadline: wall ${WALL_MS} ms: $line"
want="resolve nosuch.example:11211: DNS server did not answer within $TIMEOUT_MS ms"
if [ "$RC" != 2 ] || [ "$(field "$line" code)" != 21 ]; then
    fail resolve_netns_dead_deadline "exit $RC, want 2 and code=21 (MCF_ERR_RESOLVE): $(one_line "$T/out") $(one_line "$T/err")"
elif [ "$WALL_MS" -ge $((TIMEOUT_MS + SLACK_MS)) ]; then
    fail resolve_netns_dead_deadline "took ${WALL_MS} ms with a $TIMEOUT_MS ms timeout"
elif [ "$(field "$line" err)" != "$want" ]; then
    fail resolve_netns_dead_deadline "message '$(field "$line" err)', want '$want'"
else
    pass resolve_netns_dead_deadline
fi

# 2. The namespace's hosts file, DNS dead: answered inside mcf_lookup_start.
nsrun "$TOOL" --timeout "$TIMEOUT_MS" mc-hosts:11211
line=$(head -n 1 "$T/out")
info "hosts_at_once: wall ${WALL_MS} ms: $line"
addrs=$(field "$line" addrs)
if [ "$RC" = 0 ] && [ "$(field "$line" at_once)" = 1 ] &&
    [[ ",$addrs," == *",127.0.0.1:11211,"* ]] && [[ ",$addrs," == *",[::1]:11211,"* ]]; then
    pass resolve_netns_hosts_at_once
else
    fail resolve_netns_hosts_at_once "exit $RC, want at_once=1 with 127.0.0.1:11211 and [::1]:11211: $(one_line "$T/out") $(one_line "$T/err")"
fi

# 3. One resolver: the abandoned dead lookup, then the hosts name.
nsrun "$TOOL" --timeout "$TIMEOUT_MS" nosuch.example:11211 mc-hosts:11211
first=$(sed -n 1p "$T/out")
second=$(sed -n 2p "$T/out")
info "same_resolver: wall ${WALL_MS} ms: $first | $second"
if [ "$(field "$first" code)" = 21 ] && [ "$(field "$second" code)" = 0 ] &&
    [ "$(field "$second" at_once)" = 1 ]; then
    pass resolve_netns_same_resolver
else
    fail resolve_netns_same_resolver "want code=21 then code=0 at_once=1: $(one_line "$T/out") $(one_line "$T/err")"
fi

# 4. c-ares's own timeout, shorter than ours (RES_OPTIONS as in resolv(5)).
t0=$(now_ms)
ip netns exec "$NS" env RES_OPTIONS="retrans:200 retry:1" "$TOOL" --timeout 5000 \
    nosuch.example:11211 >"$T/out" 2>"$T/err"
RC=$? WALL_MS=$(($(now_ms) - t0))
line=$(head -n 1 "$T/out")
info "cares_timeout: wall ${WALL_MS} ms: $line"
want="resolve nosuch.example:11211: DNS server did not answer (c-ares: Timeout while contacting DNS servers)"
if [ "$RC" = 2 ] && [ "$(field "$line" err)" = "$want" ] && [ "$WALL_MS" -lt 5000 ]; then
    pass resolve_netns_cares_timeout
else
    fail resolve_netns_cares_timeout "exit $RC after ${WALL_MS} ms, want '$want' before our 5000 ms: $(one_line "$T/out") $(one_line "$T/err")"
fi

# 5. resolv.conf rewritten in place (the bind mount shows the new content)
# between two lookups of one resolver: the second one asks 127.0.0.1,
# where nothing listens, and is refused at once instead of timing out.
printf '%s\n' "nameserver $DNS_IP" >"$CONF"
rm -f "$T/go"
ip netns exec "$NS" "$TOOL" --timeout "$TIMEOUT_MS" --wait-for "$T/go" \
    nosuch.example:11211 nosuch.example:11211 >"$T/out" 2>"$T/err" &
BG_PID=$!
for _ in $(seq 1 200); do
    grep -q WAITING "$T/out" && break
    sleep 0.05
done
printf '%s\n' "nameserver 127.0.0.1" >"$CONF"
touch "$T/go"
wait "$BG_PID"
RC=$?
BG_PID=""
first=$(sed -n 1p "$T/out")
second=$(sed -n 3p "$T/out")
info "conf_change: $first | $second"
if [[ "$(field "$first" err)" == *"did not answer within"* ]] &&
    [ "$(field "$second" code)" = 21 ] && [[ "$(field "$second" err)" != *"within"* ]] &&
    [[ "$(field "$second" err)" == *"(c-ares: "* ]]; then
    pass resolve_netns_conf_change
else
    fail resolve_netns_conf_change "want a timeout, then c-ares's own error from the new server: $(one_line "$T/out") $(one_line "$T/err")"
fi
printf '%s\n' "nameserver $DNS_IP" >"$CONF"

# 6. The client: a connect resolves through the client's resolver, inside
# the connect timeout.
nsrun "$CLIENT" --connect-timeout "$TIMEOUT_MS" nosuch.example:11211
info "connect: exit $RC after ${WALL_MS} ms: $(one_line "$T/err")"
if [ "$RC" = 2 ] && grep -q "resolve nosuch.example:11211: DNS server did not answer" "$T/err" &&
    [ "$WALL_MS" -lt $((1000 + SLACK_MS)) ]; then
    pass resolve_netns_connect
else
    fail resolve_netns_connect "exit $RC after ${WALL_MS} ms, want 2 within $((1000 + SLACK_MS)) ms naming resolution: $(one_line "$T/err")"
fi
# 7. One call over a live server and a name the dead DNS server never
# answers: the call ends at the connect timeout with the name's keys
# failing on resolution, and the live server's keys answer.  The live
# memcached listens on a unix socket, which the namespace reaches through
# the file system.
MCFAST=$BUILD/mcfast
SOCK=$T/mc.sock
memcached -u root -U 0 -s "$SOCK" >/dev/null 2>&1 &
MC_PID=$!
for _ in $(seq 1 100); do
    [ -S "$SOCK" ] && break
    sleep 0.05
done
KEYS=()
for i in $(seq 1 20); do
    KEYS+=("live$i")
    "$MCFAST" --servers "$SOCK" set "live$i" "v$i" >/dev/null 2>&1
done
nsrun "$MCFAST" --servers "$SOCK nosuch.example:11211" --connect-timeout "$TIMEOUT_MS" get "${KEYS[@]}"
hits=$(grep -c '^live[0-9]* v[0-9]*$' "$T/out")
unresolved=$(grep -c 'host name did not resolve' "$T/err")
info "live_server_same_call: exit $RC after ${WALL_MS} ms, $hits hits, $unresolved keys unresolved: $(tail -n 1 "$T/err")"
wrong=$(awk '{ k = $1; sub(/^live/, "", k); if ($2 != "v" k) n++ } END { print n + 0 }' "$T/out")
if [ "$RC" = 2 ] && [ "$hits" -gt 0 ] && [ "$unresolved" -gt 0 ] &&
    [ $((hits + unresolved)) = ${#KEYS[@]} ] && [ "$wrong" = 0 ] &&
    grep -q "resolve nosuch.example:11211: DNS server did not answer within $TIMEOUT_MS ms" "$T/err" &&
    [ "$WALL_MS" -lt $((TIMEOUT_MS + SLACK_MS)) ]; then
    pass resolve_netns_live_server_same_call
else
    fail resolve_netns_live_server_same_call "exit $RC after ${WALL_MS} ms, $hits hits, $unresolved unresolved, $wrong wrong of ${#KEYS[@]}; want both kinds within $((TIMEOUT_MS + SLACK_MS)) ms: $(one_line "$T/err")"
fi
exit 0
