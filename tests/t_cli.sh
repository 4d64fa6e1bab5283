#!/bin/bash
# t_cli.sh - end-to-end tests of the mcfast command-line tool against real
# memcached servers on 127.0.0.1, on ::1 and on a unix socket.
# Prints PASS:/FAIL:/SKIP: lines for tests/run.sh.  Run from the repo root.
set -u
cd "$(dirname "$0")/.." || exit 1
BIN=${MCF_BUILD:-build}/mcfast

T=$(mktemp -d "${TMPDIR:-/tmp}/mcfast-cli.XXXXXX") || exit 1
PIDS=()
cleanup() {
    local p
    for p in "${PIDS[@]}"; do
        kill "$p" 2>/dev/null
    done
    for p in "${PIDS[@]}"; do
        wait "$p" 2>/dev/null
    done
    rm -rf "$T"
}
trap cleanup EXIT

pass() { echo "PASS: $1"; }
fail() { echo "FAIL: $1: $2"; }
skip() { echo "SKIP: $1: $2"; }

if [ ! -x "$BIN" ]; then
    fail cli_binary "$BIN not built"
    exit 1
fi
MEMCACHED=$(command -v memcached || true)
if [ -z "$MEMCACHED" ]; then
    skip cli "memcached is not installed"
    exit 0
fi

# ---------------------------------------------------------------- servers

# listening HOST PORT: true when something accepts TCP connections there.
listening() {
    (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null
}

# start_tcp HOST: starts memcached on a free port of HOST; sets PORT.
# A random port may be taken: then memcached exits and we try another.
start_tcp() {
    local host=$1 pid
    for _ in 1 2 3 4 5 6 7 8 9 10; do
        PORT=$((20000 + RANDOM % 30000))
        listening "$host" "$PORT" && continue
        "$MEMCACHED" -u root -U 0 -l "$host" -p "$PORT" >"$T/mc-$PORT.log" 2>&1 &
        pid=$!
        for _ in $(seq 1 100); do
            if listening "$host" "$PORT"; then
                PIDS+=("$pid")
                return 0
            fi
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.05
        done
        kill "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
    done
    return 1
}

start_unix() {
    local pid
    SOCK=$T/mc.sock
    "$MEMCACHED" -u root -U 0 -s "$SOCK" >"$T/mc-unix.log" 2>&1 &
    pid=$!
    PIDS+=("$pid")
    for _ in $(seq 1 100); do
        [ -S "$SOCK" ] && return 0
        sleep 0.05
    done
    return 1
}

start_tcp 127.0.0.1 || { fail cli_setup "cannot start memcached on 127.0.0.1"; exit 1; }
P4=$PORT
S4=127.0.0.1:$P4
if start_tcp ::1; then
    P6=$PORT
    S6="[::1]:$P6"
else
    S6=""
fi
start_unix || { fail cli_setup "cannot start memcached on a unix socket"; exit 1; }
SU=$SOCK

# A port where nothing listens, for the refused case.
DEAD=""
for _ in 1 2 3 4 5 6 7 8 9 10; do
    p=$((20000 + RANDOM % 30000))
    if ! listening 127.0.0.1 "$p"; then
        DEAD=$p
        break
    fi
done

# ---------------------------------------------------------------- helpers

# mc ARGS...: runs mcfast on the IPv4 server; stdout in $T/out, stderr in
# $T/err, exit code in $RC.
mc() {
    "$BIN" --servers "$S4" "$@" >"$T/out" 2>"$T/err"
    RC=$?
}

# mcx ARGS...: runs mcfast with exactly these arguments.
mcx() {
    "$BIN" "$@" >"$T/out" 2>"$T/err"
    RC=$?
}

# check NAME WANT_RC [EXPECTED_STDOUT]: compares $RC and (if given) the
# exact stdout bytes (expected text gets no extra newline).
check() {
    local name=$1 want=$2
    if [ "$RC" != "$want" ]; then
        fail "$name" "exit $RC, want $want; stderr: $(head -c 300 "$T/err")"
        return 1
    fi
    if [ $# -ge 3 ]; then
        printf '%s' "$3" >"$T/want"
        if ! cmp -s "$T/want" "$T/out"; then
            fail "$name" "stdout '$(head -c 300 "$T/out")', want '$3'"
            return 1
        fi
    fi
    pass "$name"
}

# ---------------------------------------------------------------- cases

mcx --help
if [ "$RC" = 0 ] && grep -q MEMCACHED_SERVERS "$T/out" && grep -q -- --servers "$T/out" &&
    grep -q -- --ketama-points "$T/out" && grep -q resolve "$T/out"; then
    pass cli_help
else
    fail cli_help "exit $RC or help lacks options/commands/environment"
fi

mcx --version
check cli_version_option 0 "mcfast $(sed -n 's/^VERSION *:= *//p' Makefile)
"

mc set k1 hello
check cli_set 0 ""
mc get k1
check cli_get_roundtrip 0 "hello
"

MEMCACHED_SERVERS=$S4 "$BIN" get k1 >"$T/out" 2>"$T/err"
RC=$?
check cli_env_servers 0 "hello
"

if [ -n "$S6" ]; then
    MEMCACHED_SERVERS=$S6 "$BIN" set k6 six >"$T/out" 2>"$T/err" &&
        MEMCACHED_SERVERS=$S6 "$BIN" get k6 >"$T/out" 2>"$T/err"
    RC=$?
    check cli_env_servers_ipv6 0 "six
"
else
    skip cli_env_servers_ipv6 "cannot start memcached on ::1"
fi

mcx --servers "$SU" set ku unixvalue
[ "$RC" = 0 ] && mcx --servers "unix:$SU" get ku
check cli_unix_socket 0 "unixvalue
"

mc get no-such-key
check cli_get_miss 1 ""

mc set a 1 && mc set b 2
mc get a b
check cli_get_multi 0 "a 1
b 2
"
mc get a missing b
check cli_get_multi_miss 1 "a 1
b 2
"

printf 'line one\n  two  \0three\n\n' >"$T/value"
"$BIN" --servers "$S4" set bin - <"$T/value" >"$T/out" 2>"$T/err"
RC=$?
if [ "$RC" = 0 ]; then
    mc get bin
    { cat "$T/value"; printf '\n'; } >"$T/want"
    if [ "$RC" = 0 ] && cmp -s "$T/want" "$T/out"; then
        pass cli_stdin_binary
    else
        fail cli_stdin_binary "exit $RC or value differs: $(od -c "$T/out" | head -3)"
    fi
else
    fail cli_stdin_binary "set - exited $RC: $(cat "$T/err")"
fi

mc add a other
check cli_add_existing 1 ""
mc add fresh-add x
check cli_add_new 0 ""
mc replace no-such-key x
check cli_replace_missing 1 ""
mc append a 0 && mc prepend a 9
mc get a
check cli_append_prepend 0 "910
"

mc set n 10
mc incr n 5
check cli_incr 0 "15
"
mc decr n 3
check cli_decr 0 "12
"
mc incr no-such-key 1
check cli_incr_missing 1 ""
mc incr n -1
check cli_incr_bad_number 64

mc delete k1
check cli_delete 0 ""
mc get k1
check cli_delete_gone 1 ""
mc delete k1
check cli_delete_missing 1 ""
mc set d1 x && mc set d2 y
mc delete d1 d2 d-missing
check cli_delete_multi 1 ""
mc get d1 d2
check cli_delete_multi_gone 1 ""

mc set tk x
mc touch tk 100
check cli_touch 0 ""
mc touch no-such-key 100
check cli_touch_missing 1 ""
mc gat 100 tk
check cli_gat 0 "x
"

mc --flags 41 set fk flagged
mc -v get fk
check cli_flags_verbose 0 "VALUE fk 41 7
flagged
"
# 0x2 marks compressed values: setting it by hand would make the item unreadable.
mc --flags 2 set fk x
check cli_flags_reserved_bit 64

mc set ck v1
mc -v gets ck
read -r word key flags bytes cas <"$T/out"
if [ "$RC" = 0 ] && [ "$word" = VALUE ] && [ "$key" = ck ] && [ "$flags" = 0 ] && [ "$bytes" = 2 ] &&
    [[ "$cas" =~ ^[0-9]+$ ]]; then
    pass cli_gets_verbose_cas
    mc cas ck "$cas" v2
    check cli_cas_current 0 ""
    mc cas ck "$cas" v3
    check cli_cas_stale 1 ""
    mc get ck
    check cli_cas_value 0 "v2
"
else
    fail cli_gets_verbose_cas "exit $RC, output '$(head -c 200 "$T/out")'"
fi

mc --namespace ns1: set nk scoped
mc get nk
check cli_namespace_isolated 1 ""
mc get ns1:nk
check cli_namespace_prefix 0 "scoped
"

mc --noreply set nr quiet
check cli_noreply_set 0 ""
mc get nr
check cli_noreply_stored 0 "quiet
"

mc version
if [ "$RC" = 0 ] && grep -Eq "^$S4 [0-9]+\.[0-9]+" "$T/out"; then
    pass cli_version_command
else
    fail cli_version_command "exit $RC, output '$(cat "$T/out")'"
fi

mc stats
if [ "$RC" = 0 ] && grep -Eq "^$S4 pid [0-9]+$" "$T/out"; then
    pass cli_stats
else
    fail cli_stats "exit $RC, output '$(head -3 "$T/out")'"
fi

mc flush
check cli_flush 0 ""
mc get a
check cli_flush_emptied 1 ""

# ping: one line per server with its address and family.
servers="$S4,$SU"
[ -n "$S6" ] && servers="$S4,$S6,$SU"
mcx --servers "$servers" ping
ok=1
grep -q "^$S4 address=127.0.0.1:$P4 family=IPv4 connect_ms=[0-9.]* version=" "$T/out" || ok=0
grep -q "^$SU address=$SU family=unix connect_ms=" "$T/out" || ok=0
if [ -n "$S6" ]; then
    grep -qF "$S6 address=[::1]:$P6 family=IPv6 connect_ms=" "$T/out" || ok=0
fi
if [ "$RC" = 0 ] && [ $ok = 1 ]; then
    pass cli_ping
else
    fail cli_ping "exit $RC, output '$(cat "$T/out")' stderr '$(cat "$T/err")'"
fi

mcx resolve "$S4"
if [ "$RC" = 0 ] && grep -q "source: literal" "$T/out" &&
    grep -q "^  1\. 127.0.0.1:$P4 (IPv4)" "$T/out" && grep -q "with AI_ADDRCONFIG" "$T/out" &&
    grep -q "IPv4: .*IPv6: " "$T/out"; then
    pass cli_resolve_literal
else
    fail cli_resolve_literal "exit $RC, output '$(cat "$T/out")'"
fi
# The seed scenario: a network namespace whose only IPv4 is loopback but
# which has a global IPv6 address.  getaddrinfo with AI_ADDRCONFIG hides
# 127.0.0.1 there; resolve must say so and still list it.
seed_ns() {
    ip link set lo up &&
        ip link add mcfv0 type veth peer name mcfv1 &&
        ip link set mcfv0 up &&
        ip -6 addr add 2001:db8::1/64 dev mcfv0 nodad &&
        "$BIN" resolve 127.0.0.1:11211
}
if [ "$(id -u)" = 0 ] && command -v unshare >/dev/null && command -v ip >/dev/null &&
    unshare -n true 2>/dev/null; then
    export BIN
    export -f seed_ns
    unshare -n bash -c seed_ns >"$T/out" 2>"$T/err"
    RC=$?
    if [ "$RC" = 0 ] &&
        grep -q "^note: getaddrinfo with AI_ADDRCONFIG hides 127.0.0.1 because this host has no IPv4 address other than loopback; mcfast parses IP literals itself" "$T/out" &&
        grep -q "EAI_ADDRFAMILY" "$T/out" && grep -q "IPv4: no, IPv6: yes (global)" "$T/out" &&
        grep -q "^  1\. 127.0.0.1:11211 (IPv4)" "$T/out"; then
        pass cli_resolve_seed_note
    elif grep -q "veth\|Operation not supported\|Unknown device" "$T/err"; then
        skip cli_resolve_seed_note "cannot build the namespace: $(head -1 "$T/err")"
    else
        fail cli_resolve_seed_note "exit $RC, output '$(cat "$T/out")' stderr '$(cat "$T/err")'"
    fi
else
    skip cli_resolve_seed_note "needs root and network namespaces"
fi

mcx resolve "$SU"
if [ "$RC" = 0 ] && grep -qF "$SU" "$T/out" && grep -q "source: unix" "$T/out"; then
    pass cli_resolve_unix
else
    fail cli_resolve_unix "exit $RC, output '$(cat "$T/out")'"
fi

# Usage errors: 64, and nothing is attempted.
mcx --servers "$S4"
check cli_usage_no_command 64
mcx --servers "$S4" frobnicate
check cli_usage_unknown_command 64
mcx --servers "[::1" get x
check cli_usage_bad_servers 64
mcx --no-such-option get x
check cli_usage_bad_option 64
mcx --servers "$S4" get
check cli_usage_missing_args 64
mcx --servers "$S4" --ttl
check cli_usage_missing_value 64
mcx --servers "$S4" --distribution nope get x
check cli_usage_bad_distribution 64
env -u MEMCACHED_SERVERS "$BIN" get x >"$T/out" 2>"$T/err"
RC=$?
check cli_usage_no_servers 64
mcx --servers="$S4" --distribution=ketama --ketama-points=100 get no-such-key
check cli_option_equals_form 1 ""

# --protocol: meta sends keys with spaces base64; text and auto refuse them
mc --protocol meta set "meta key" mv
check cli_protocol_meta_set 0 ""
mc --protocol meta get "meta key"
check cli_protocol_meta_get 0 "mv
"
mc set autokey autoval
mc --protocol auto get autokey
check cli_protocol_auto_get 0 "autoval
"
mc --protocol text get "meta key"
check cli_protocol_text_bad_key 2
mc --protocol meta incr no-such-counter 1
check cli_protocol_meta_incr_miss 1
mcx --servers "$S4" --protocol binary get x
check cli_usage_bad_protocol 64
mcx --help
if grep -q -- "--protocol" "$T/out"; then pass cli_help_protocol; else fail cli_help_protocol "no --protocol in --help"; fi

if [ -n "$DEAD" ]; then
    mcx --servers "127.0.0.1:$DEAD" get x
    if [ "$RC" = 2 ] && grep -q "127.0.0.1:$DEAD" "$T/err" && grep -qi refused "$T/err"; then
        pass cli_refused
    else
        fail cli_refused "exit $RC, stderr '$(cat "$T/err")'"
    fi
    mcx --servers "$S4,127.0.0.1:$DEAD" ping
    if [ "$RC" = 2 ] && grep -q "^$S4 address=" "$T/out" && grep -qi refused "$T/err"; then
        pass cli_ping_partial_failure
    else
        fail cli_ping_partial_failure "exit $RC, stdout '$(cat "$T/out")' stderr '$(cat "$T/err")'"
    fi
else
    skip cli_refused "no free port found"
fi

# Leaks: valgrind cannot run sanitizer builds.
if [ -n "${SANITIZE:-}" ]; then
    skip cli_valgrind "SANITIZE build"
elif ! command -v valgrind >/dev/null; then
    skip cli_valgrind "valgrind is not installed"
else
    vg() {
        valgrind -q --leak-check=full --error-exitcode=9 "$BIN" "$@" >"$T/out" 2>"$T/err"
        RC=$?
    }
    vg --servers "$servers" ping
    check cli_valgrind_ping 0
    vg --servers "$S4" set vk valgrind
    check cli_valgrind_set 0 ""
    vg --servers "$S4" get vk
    check cli_valgrind_get 0 "valgrind
"
    vg --servers "$S4" get vk no-such-key
    check cli_valgrind_get_multi 1 "vk valgrind
"
    if [ -n "$DEAD" ]; then
        vg --servers "127.0.0.1:$DEAD" get vk
        check cli_valgrind_error_path 2
    fi
fi
exit 0
