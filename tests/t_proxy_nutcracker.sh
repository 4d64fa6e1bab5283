#!/bin/bash
# t_proxy_nutcracker.sh - mcfast through twemproxy (nutcracker) as one server:
# real nutcracker in front of two real memcached servers.
#   - the text protocol: set, get, a multi-get, incr, touch, delete and a
#     500 KB value through the proxy, and the keys spread over both
#     memcached servers behind it (each asked directly);
#   - --protocol auto: nutcracker closes the connection on the probe's meta
#     no-op "mn" with nothing answered, so mcfast asks "version" alone on a
#     new connection and uses text;
#   - --protocol meta: a clear error naming the server, the meta command
#     and twemproxy (nutcracker passes no meta command);
#   - stats (which nutcracker does not pass): an error naming the server.
# SKIP when nutcracker or memcached is not installed.
set -u
cd "$(dirname "$0")/.." || exit 1
BIN=${MCF_BUILD:-build}/mcfast
. tests/lib.sh
needs_tools proxy_nutcracker nutcracker memcached
T=$(mktemp -d "${TMPDIR:-/tmp}/mcfast-proxy.XXXXXX") || exit 1
NC_PID=
cleanup() {
    [ -n "$NC_PID" ] && kill "$NC_PID" 2>/dev/null && wait "$NC_PID" 2>/dev/null
    mc_stop_all
    rm -rf "$T"
}
trap cleanup EXIT

BACKENDS=()
for _ in 1 2; do
    mc_start_tcp 127.0.0.1 -m 8 || { fail proxy_setup "memcached did not start"; exit 1; }
    BACKENDS+=("127.0.0.1:$MC_PORT")
done

# A free port for nutcracker to listen on, and one for its stats, below
# the kernel's ephemeral range: nutcracker binds its stats port without
# SO_REUSEADDR, so a port some earlier test's connection left in TIME_WAIT
# fails to bind though nothing listens there.
EPHEMERAL_LOW=$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)
PORT_LOW=10000
free_port() {
    local p
    for _ in $(seq 50); do
        p=$((PORT_LOW + RANDOM % (EPHEMERAL_LOW - PORT_LOW)))
        mc_listening 127.0.0.1 $p || { echo $p; return; }
    done
}
# A free port may be taken by another test by the time nutcracker binds
# it: then nutcracker exits and other ports are tried.
start_nutcracker() {
    PORT=$(free_port) STATS_PORT=$(free_port)
    {
        echo "pool:"
        echo "  listen: 127.0.0.1:$PORT"
        echo "  distribution: ketama"
        echo "  timeout: 2000"
        echo "  servers:"
        for b in "${BACKENDS[@]}"; do echo "   - $b:1"; done
    } >"$T/nc.yml"
    nutcracker -c "$T/nc.yml" -s "$STATS_PORT" -a 127.0.0.1 -o "$T/nc.log" -p "$T/nc.pid" \
        >/dev/null 2>&1 &
    NC_PID=$!
    for _ in $(seq 100); do
        mc_listening 127.0.0.1 "$PORT" && return 0
        kill -0 "$NC_PID" 2>/dev/null || break
        sleep 0.05
    done
    kill "$NC_PID" 2>/dev/null
    wait "$NC_PID" 2>/dev/null
    NC_PID=
    return 1
}
started=0
for _ in 1 2 3 4 5 6 7 8 9 10; do
    start_nutcracker && { started=1; break; }
done
if [ $started = 0 ]; then
    fail proxy_setup "nutcracker did not listen: $(tail -2 "$T/nc.log")"
    exit 1
fi
PROXY=(--servers "127.0.0.1:$PORT")

# check NAME WANT_RC WANT_OUT CMD...: exit code and stdout exactly.
check() {
    local name=$1 want_rc=$2 want_out=$3 out rc
    shift 3
    out=$("$@" 2>"$T/err")
    rc=$?
    if [ "$rc" != "$want_rc" ] || [ "$out" != "$want_out" ]; then
        fail "$name" "rc=$rc (want $want_rc) out='$out' (want '$want_out') err='$(cat "$T/err")'"
        return 1
    fi
    pass "$name"
}

# ---- the text protocol
check proxy_text_set 0 "" "$BIN" "${PROXY[@]}" set greeting hello
check proxy_text_get 0 "hello" "$BIN" "${PROXY[@]}" get greeting
# Keys that differ in more than a last digit: nutcracker's default hash
# (fnv1a_64, low 32 bits) sends short keys that share a prefix to one
# server.
keys=()
for i in $(seq 1 40); do keys+=("$(echo "$i" | md5sum | cut -c1-12)"); done
ok=1
for i in $(seq 1 40); do
    "$BIN" "${PROXY[@]}" set "${keys[i - 1]}" "value$i" || ok=0
done
want=$(for i in $(seq 1 40); do echo "${keys[i - 1]} value$i"; done)
[ $ok = 1 ] && check proxy_text_get_multi 0 "$want" "$BIN" "${PROXY[@]}" get "${keys[@]}"
# Behind the proxy the keys are spread over both servers, each holding
# exactly the keys it was given.
on=()
for b in "${BACKENDS[@]}"; do
    n=$("$BIN" --servers "$b" get "${keys[@]}" 2>/dev/null | grep -c value)
    on+=("$n")
done
if [ "${on[0]}" -gt 0 ] && [ "${on[1]}" -gt 0 ] && [ $((on[0] + on[1])) = 40 ]; then
    pass proxy_keys_spread_behind_the_proxy
else
    fail proxy_keys_spread_behind_the_proxy "per server: ${on[*]} (want both > 0, 40 in all)"
fi
check proxy_text_incr_set 0 "" "$BIN" "${PROXY[@]}" set counter 41
check proxy_text_incr 0 "42" "$BIN" "${PROXY[@]}" incr counter 1
check proxy_text_touch 0 "" "$BIN" "${PROXY[@]}" touch greeting 100
check proxy_text_delete 0 "" "$BIN" "${PROXY[@]}" delete greeting
check proxy_text_get_deleted 1 "" "$BIN" "${PROXY[@]}" get greeting
# 100 KB: as large as one command-line argument may be.
head -c 75000 /dev/urandom | base64 -w 0 >"$T/big"
"$BIN" "${PROXY[@]}" set big "$(cat "$T/big")" 2>"$T/err"
if [ "$("$BIN" "${PROXY[@]}" get big 2>>"$T/err")" = "$(cat "$T/big")" ]; then
    pass proxy_text_large_value
else
    fail proxy_text_large_value "the 100 KB value did not come back whole: $(cat "$T/err")"
fi

# ---- --protocol auto: text after nutcracker refuses "mn"
check proxy_auto_get 0 "value1" "$BIN" "${PROXY[@]}" --protocol auto get "${keys[0]}"
check proxy_auto_get_multi 0 "$want" "$BIN" "${PROXY[@]}" --protocol auto get "${keys[@]}"

# ---- --protocol meta: a clear error
out=$("$BIN" "${PROXY[@]}" --protocol meta get "${keys[0]}" 2>&1)
rc=$?
if [ $rc != 0 ] && [[ "$out" == *"127.0.0.1:$PORT"* ]] && [[ "$out" == *"meta command"* ]] &&
    [[ "$out" == *twemproxy* ]]; then
    pass proxy_meta_clear_error
else
    fail proxy_meta_clear_error "rc=$rc out='$out'"
fi

# ---- a command nutcracker does not pass
out=$("$BIN" "${PROXY[@]}" stats 2>&1)
rc=$?
if [ $rc != 0 ] && [[ "$out" == *"127.0.0.1:$PORT"* ]] && [[ "$out" == *proxy* ]]; then
    pass proxy_stats_clear_error
else
    fail proxy_stats_clear_error "rc=$rc out='$out'"
fi
