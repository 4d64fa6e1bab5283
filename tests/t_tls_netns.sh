#!/bin/bash
# t_tls_netns.sh - TLS on the seed's host: an IPv6-only network namespace
# whose only IPv4 address is 127.0.0.1 on loopback (as tests/t_netns.sh
# scenario 1), memcached -Z on 127.0.0.1 inside it, certificates from
# tests/tls_certs.sh.  The CLI (build/mcfast --tls-ca ...) stores and reads
# back over TLS by the IP literal (verified against the IP SAN), by
# localhost (the DNS SAN) and with --tls on a spec without the prefix; ping
# reports the TLS session; a wrong CA is refused with OpenSSL's reason.
# Needs root and iproute2 (else SKIP); PASS/FAIL/SKIP lines for tests/run.sh.
set -u
cd "$(dirname "$0")/.." || exit 1
BUILD=${MCF_BUILD:-build}
[[ "$BUILD" == /* ]] || BUILD=$(pwd)/$BUILD
BIN=$BUILD/mcfast
CERTS_SH=$(pwd)/tests/tls_certs.sh

CASES=(tls_netns_ip_literal tls_netns_localhost tls_netns_all_servers tls_netns_ping
       tls_netns_wrong_ca)

NS=mcftls-$$     # the IPv6-only host
NSP=mcftlsp-$$   # its veth peer
V6_LOCAL=2001:db8:1::1 # RFC 3849 documentation prefix
V6_PEER=2001:db8:1::2
P4=22122         # memcached -Z on 127.0.0.1 (the namespace has its own ports)

PIDS=()
NAMESPACES=()
# shellcheck source=tests/netns.sh
. tests/netns.sh
ns_traps

# nsrun CMD...: runs CMD inside NS; stdout in $T/out, stderr in $T/err, exit code in RC.
nsrun() {
    ip netns exec "$NS" "$@" >"$T/out" 2>"$T/err"
    RC=$?
}

# ---------------------------------------------------------------- prerequisites

why=$(ns_unsupported)
[ -z "$why" ] || skip_all "$why"
command -v memcached >/dev/null || skip_all "memcached is not installed"
command -v openssl >/dev/null || skip_all "the openssl CLI is not installed (certificates)"
memcached -h 2>&1 | grep -q -- --enable-ssl || skip_all "memcached was built without TLS (no -Z)"
[ -x "$BIN" ] || fail_all "$BIN is not built (make tests)"
"$BIN" --help 2>&1 | grep -q -- --tls-ca || skip_all "mcfast was built without TLS (no --tls-ca)"

T=$(mktemp -d "${TMPDIR:-/tmp}/mcfast-tls-netns.XXXXXX") || exit 1
ns_clean_stale '^mcftlsp?-([0-9]+)$'
sh "$CERTS_SH" "$T/certs" 2>"$T/certs.err" || fail_all "tls_certs.sh: $(one_line "$T/certs.err")"
CA=$T/certs/ca.pem

# ---------------------------------------------------------------- the host

# lo up (127.0.0.1 and ::1), a veth eth0 with only a global IPv6 address
# (peer in a second namespace, so nothing touches this machine's network).
setup() {
    ip netns add "$NS" || return 1
    NAMESPACES+=("$NS")
    ip netns add "$NSP" || return 1
    NAMESPACES+=("$NSP")
    ip -n "$NS" link set lo up || return 1
    ip -n "$NSP" link set lo up || return 1
    ip -n "$NS" link add eth0 type veth peer name eth0 netns "$NSP" || return 1
    ip -n "$NS" addr add "$V6_LOCAL/64" dev eth0 nodad || return 1
    ip -n "$NSP" addr add "$V6_PEER/64" dev eth0 nodad || return 1
    ip -n "$NS" link set eth0 up || return 1
    ip -n "$NSP" link set eth0 up
}

# memcached -Z on 127.0.0.1:P4 inside NS; ready once it accepts TCP (bash's
# /dev/tcp: no AI_ADDRCONFIG).  ip netns exec execs, so $! is memcached.
start_memcached() {
    local _
    ip netns exec "$NS" memcached -u root -U 0 -l 127.0.0.1 -p "$P4" -Z \
        -o "ssl_chain_cert=$T/certs/server.pem,ssl_key=$T/certs/server.key" \
        >"$T/mc.log" 2>&1 &
    PIDS+=("$!")
    for _ in $(seq 1 100); do
        ip netns exec "$NS" bash -c "exec 3<>/dev/tcp/127.0.0.1/$P4" 2>/dev/null && return 0
        kill -0 "${PIDS[-1]}" 2>/dev/null || break
        sleep 0.05
    done
    echo "memcached -Z on 127.0.0.1:$P4 did not start: $(one_line "$T/mc.log")" >&2
    return 1
}

setup 2>"$T/setup.err" || skip_all "cannot build the IPv6-only namespace: $(one_line "$T/setup.err")"
start_memcached 2>"$T/setup.err" || fail_all "$(one_line "$T/setup.err")"
if ip -n "$NS" -4 addr show dev eth0 | grep -q inet; then
    fail_all "eth0 in $NS has an IPv4 address: not the IPv6-only host"
fi

# ---------------------------------------------------------------- cases

# set_get NAME SPEC [OPTIONS...]: `mcfast set` then `mcfast get` (two
# processes, two handshakes) with --tls-ca CA and OPTIONS.
set_get() {
    local name=$1 spec=$2 key val
    shift 2
    key=tls-netns-$$-$RANDOM
    val=v-$RANDOM-$RANDOM
    nsrun "$BIN" --tls-ca "$CA" "$@" --servers "$spec" set "$key" "$val"
    if [ "$RC" != 0 ]; then
        fail "$name" "mcfast $* --servers $spec set: exit $RC: $(one_line "$T/err")"
        return
    fi
    nsrun "$BIN" --tls-ca "$CA" "$@" --servers "$spec" get "$key"
    if [ "$RC" != 0 ] || [ "$(cat "$T/out")" != "$val" ]; then
        fail "$name" "mcfast $* --servers $spec get: exit $RC, got '$(one_line "$T/out")' want '$val': $(one_line "$T/err")"
        return
    fi
    pass "$name"
}

set_get tls_netns_ip_literal "tls:127.0.0.1:$P4"
set_get tls_netns_localhost "tls:localhost:$P4"
set_get tls_netns_all_servers "127.0.0.1:$P4" --tls

nsrun "$BIN" --tls-ca "$CA" --servers "tls:127.0.0.1:$P4" ping
info "ping: $(one_line "$T/out")"
if [ "$RC" = 0 ] && grep -qE "address=127\.0\.0\.1:$P4 .*tls=TLSv1\.[23] cipher=[A-Z0-9_-]+" "$T/out"; then
    pass tls_netns_ping
else
    fail tls_netns_ping "exit $RC, want address=127.0.0.1:$P4 and tls=/cipher=: $(one_line "$T/out") $(one_line "$T/err")"
fi

nsrun "$BIN" --tls-ca "$T/certs/ca2.pem" --servers "tls:127.0.0.1:$P4" get k
info "wrong CA: exit $RC: $(one_line "$T/err")"
if [ "$RC" != 0 ] && grep -q "certificate verify failed" "$T/err" &&
    grep -qF "127.0.0.1:$P4" "$T/err"; then
    pass tls_netns_wrong_ca
else
    fail tls_netns_wrong_ca "exit $RC, want a failure naming 127.0.0.1:$P4 and 'certificate verify failed': $(one_line "$T/err")"
fi
exit 0
