#!/bin/bash
# t_cli.sh - end-to-end tests of the mcfast command-line tool against real
# memcached servers on 127.0.0.1, on ::1 and on a unix socket.
# Prints PASS:/FAIL:/SKIP: lines for tests/run.sh.  Run from the repo root.
set -u
cd "$(dirname "$0")/.." || exit 1
BIN=${MCF_BUILD:-build}/mcfast
. tests/lib.sh # check()

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

needs_cli cli
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

# check NAME WANT_RC [EXPECTED_STDOUT]: tests/lib.sh.

# ---------------------------------------------------------------- cases

mcx --help
if [ "$RC" = 0 ] && grep -q MEMCACHED_SERVERS "$T/out" && grep -q -- --servers "$T/out" &&
    grep -q -- --ketama-points "$T/out" && grep -q resolve "$T/out"; then
    pass cli_help
else
    fail cli_help "exit $RC or help lacks options/commands/environment"
fi

mcx --version
check cli_version_option 0 "mcfast $(tr -d ' \n' <VERSION)
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

# ---------------------------------------------------------------- meta command options
# Command options (get --info, delete --invalidate, incr --vivify, ...) map
# onto the _ex calls, i.e. memcached's meta commands; with them --protocol
# defaults to auto.

# check_re NAME WANT_RC REGEX: $RC, and the whole stdout (its final newline
# dropped) matches the extended REGEX.
check_re() {
    local name=$1 want=$2 re=$3 out
    out=$(cat "$T/out")
    if [ "$RC" != "$want" ]; then
        fail "$name" "exit $RC, want $want; stderr: $(head -c 300 "$T/err")"
    elif ! [[ "$out" =~ ^$re$ ]]; then
        fail "$name" "stdout '$(head -c 300 "$T/out")', want /$re/"
    else
        pass "$name"
    fi
}
NL=$'\n'
CAS='[1-9][0-9]*'

mc --ttl 100 set m-k v1
mc get --info m-k
check_re cli_meta_get_info_ttl 0 \
    "v1${NL}info m-k ttl=(99|100) last_access=[01] hit_before=0 win=0 stale=0 won=0 cas=$CAS"
mc get --info m-k
check_re cli_meta_get_info_hit_before 0 \
    "v1${NL}info m-k ttl=(99|100) last_access=[01] hit_before=1 win=0 stale=0 won=0 cas=$CAS"
mc set m-forever x
mc get --info m-forever
check_re cli_meta_get_info_no_expiry 0 "x${NL}info m-forever ttl=-1 .*"
mc get --info no-such-key
check cli_meta_get_info_miss 1 ""
mc --protocol meta get --info m-forever
check_re cli_meta_get_info_protocol_meta 0 "x${NL}info m-forever ttl=-1 .*"

# --no-bump leaves the item as if it had not been read: hit_before stays 0.
mc set m-nb x
mc get --no-bump --info m-nb && mc get --no-bump --info m-nb
check_re cli_meta_get_no_bump 0 "x${NL}info m-nb ttl=-1 last_access=[01] hit_before=0 .*"

# last_access: seconds since the item was last read (or stored).
mc set m-la x
sleep 2.2
mc get --info m-la
check_re cli_meta_get_last_access 0 "x${NL}info m-la ttl=-1 last_access=[23] hit_before=0 .*"

mc set m-t x
mc get --touch 77 m-t
check cli_meta_get_touch_value 0 "x
"
mc get --info m-t
check_re cli_meta_get_touch_ttl 0 "x${NL}info m-t ttl=(76|77) .*"

# Several keys: "KEY VALUE" lines as without options, each followed by its
# info line; a miss makes the exit code 1.
mc get --info m-k m-forever no-such-key
check_re cli_meta_get_info_several 1 \
    "m-k v1${NL}info m-k ttl=[0-9]+ .*${NL}m-forever x${NL}info m-forever ttl=-1 [^$NL]*"

# --vivify: a miss creates an empty item; its creator wins, later callers
# see won=1 (someone is already computing the value).
mc get --info --vivify 30 m-viv
check_re cli_meta_vivify_first_wins 0 \
    "${NL}info m-viv ttl=(29|30) last_access=[01] hit_before=0 win=1 stale=0 won=0 cas=$CAS"
mc get --info --vivify 30 m-viv
check_re cli_meta_vivify_second_won 0 \
    "${NL}info m-viv ttl=(29|30) last_access=[01] hit_before=1 win=0 stale=0 won=1 cas=$CAS"

# --recache: one caller wins once the TTL left is below the given one.
mc --ttl 10 set m-rc val
mc get --info --recache 5 m-rc
check_re cli_meta_recache_not_yet 0 "val${NL}info m-rc ttl=(9|10) .* win=0 stale=0 won=0 .*"
mc get --info --recache 30 m-rc
check_re cli_meta_recache_first_wins 0 "val${NL}info m-rc ttl=(9|10) .* win=1 stale=0 won=0 .*"
mc get --info --recache 30 m-rc
check_re cli_meta_recache_second_won 0 "val${NL}info m-rc ttl=(9|10) .* win=0 stale=0 won=1 .*"

# delete --invalidate: the item stays, stale; the first reader wins, once.
mc set m-inv old
mc delete --invalidate m-inv
check cli_meta_delete_invalidate 0 ""
mc get --info m-inv
check_re cli_meta_invalidated_first_wins 0 "old${NL}info m-inv ttl=-1 .* win=1 stale=1 won=0 .*"
mc get --info m-inv
check_re cli_meta_invalidated_win_once 0 "old${NL}info m-inv ttl=-1 .* win=0 stale=1 won=1 .*"
mc set m-inv2 x
mc delete --invalidate --touch 50 m-inv2
mc get --info m-inv2
check_re cli_meta_delete_invalidate_touch 0 "x${NL}info m-inv2 ttl=(49|50) .* stale=1 .*"

# delete --cas: only the current CAS deletes.
mc set m-dc x
mc -v gets m-dc
read -r _ _ _ _ dcas <"$T/out"
if [[ "$dcas" =~ ^[0-9]+$ ]]; then
    mc delete --cas $((dcas + 1)) m-dc
    check cli_meta_delete_cas_mismatch 1 ""
    mc get m-dc
    check cli_meta_delete_cas_mismatch_kept 0 "x
"
    mc delete --cas "$dcas" m-dc
    check cli_meta_delete_cas_match 0 ""
    mc get m-dc
    check cli_meta_delete_cas_match_gone 1 ""
else
    fail cli_meta_delete_cas "gets -v gave '$(cat "$T/out")'"
fi

# cas --invalidate: a CAS older than the item's still stores, marked stale.
mc set m-ci a
mc -v gets m-ci
read -r _ _ _ _ ocas <"$T/out"
mc set m-ci b
mc cas m-ci "$ocas" c
check cli_meta_cas_old_refused 1 ""
mc cas --invalidate m-ci "$ocas" c
check cli_meta_cas_invalidate 0 ""
mc get --info m-ci
check_re cli_meta_cas_invalidate_stale 0 "c${NL}info m-ci .* stale=1 .*"

# incr/decr --vivify: a miss creates the item with --initial, printed as is.
mc incr --vivify 0 --initial 5 m-ctr 1
check cli_meta_incr_vivify_creates 0 "5
"
mc incr --vivify 0 --initial 5 m-ctr 1
check cli_meta_incr_vivify_then_incr 0 "6
"
mc decr --vivify 0 m-dctr 1
check cli_meta_decr_vivify_default_initial 0 "0
"
mc incr --info m-ctr 1
check_re cli_meta_incr_info 0 "7${NL}info m-ctr ttl=-1 cas=$CAS"
icas=$(sed -n 's/.* cas=//p' "$T/out")
mc incr --cas $((icas + 1)) m-ctr 1
check cli_meta_incr_cas_mismatch 1 ""
mc incr --cas "$icas" --touch 60 --info m-ctr 1
check_re cli_meta_incr_cas_touch 0 "8${NL}info m-ctr ttl=(59|60) cas=$CAS"
mc incr --info m-no-such-ctr 1
check cli_meta_incr_miss 1 ""

# Flags the server's version lacks fail before anything is sent, naming
# the server's version.
mc version
sver=$(awk '{print $2}' "$T/out")
if [ "$(printf '%s\n' "$sver" 1.6.27 | sort -V | head -1)" != 1.6.27 ]; then
    mc set --new-cas 777 m-nc v
    if [ "$RC" = 2 ] && grep -q "not supported by server" "$T/err" && grep -qF "$sver" "$T/err"; then
        pass cli_meta_new_cas_old_server
    else
        fail cli_meta_new_cas_old_server "exit $RC, stderr '$(cat "$T/err")'"
    fi
    mc get m-nc
    check cli_meta_new_cas_nothing_sent 1 ""
    mc delete --remove-value m-k
    if [ "$RC" = 2 ] && grep -q "not supported by server" "$T/err" && grep -qF "$sver" "$T/err"; then
        pass cli_meta_remove_value_old_server
    else
        fail cli_meta_remove_value_old_server "exit $RC, stderr '$(cat "$T/err")'"
    fi
    mc get m-k
    check cli_meta_remove_value_nothing_sent 0 "v1
"
    mc delete --new-cas 5 m-k
    if [ "$RC" = 2 ] && grep -q "not supported by server" "$T/err"; then
        pass cli_meta_delete_new_cas_old_server
    else
        fail cli_meta_delete_new_cas_old_server "exit $RC, stderr '$(cat "$T/err")'"
    fi
else
    mc set --new-cas 777 m-nc v
    check cli_meta_new_cas 0 ""
    mc -v gets m-nc
    check cli_meta_new_cas_applied 0 "VALUE m-nc 0 1 777
v
"
    mc set m-rv full
    mc delete --remove-value m-rv
    check cli_meta_remove_value 0 ""
    mc get m-rv
    check cli_meta_remove_value_kept_empty 0 "
"
fi

# --protocol text: every command option fails (exit 2) with a message that
# names the option and the protocol, and nothing is sent.
text_case() {
    local name=$1
    shift
    mc --protocol text "$@"
    if [ "$RC" = 2 ] && grep -q "meta protocol" "$T/err" &&
        grep -qF -- "$2 needs memcached's meta commands, which --protocol text" "$T/err"; then
        pass "$name"
    else
        fail "$name" "exit $RC, stderr '$(cat "$T/err")'"
    fi
}
text_case cli_meta_text_get_info get --info m-k
text_case cli_meta_text_get_vivify get --vivify 30 m-text-viv
text_case cli_meta_text_set_new_cas set --new-cas 5 m-k text
text_case cli_meta_text_cas_invalidate cas --invalidate m-k 1 text
text_case cli_meta_text_delete_invalidate delete --invalidate m-k
text_case cli_meta_text_incr_vivify incr --vivify 0 m-text-ctr 1
mc get --info m-k
check_re cli_meta_text_nothing_sent 0 "v1${NL}info m-k .* stale=0 .*"
mc get m-text-viv
check cli_meta_text_no_vivify 1 ""

# A server without meta commands (memcached < 1.6 answers "mn" with ERROR):
# with the default auto, plain commands still work and command options fail
# (exit 2) saying that the server has no meta protocol, and its version.
if command -v perl >/dev/null; then
    perl -MIO::Socket::INET -e '
        $| = 1;
        my $srv = IO::Socket::INET->new(LocalAddr => "127.0.0.1", LocalPort => 0,
            Listen => 5, ReuseAddr => 1) or die "listen: $!";
        print $srv->sockport, "\n";
        while (my $c = $srv->accept) {
            $c->autoflush(1);
            while (my $l = <$c>) {
                if ($l =~ /^version\r?\n/) { print $c "VERSION 1.4.39\r\n" }
                elsif ($l =~ /^get /) { print $c "END\r\n" }
                else { print $c "ERROR\r\n" }
            }
        }' >"$T/textonly.port" 2>"$T/textonly.err" &
    PIDS+=($!)
    for _ in $(seq 1 100); do
        [ -s "$T/textonly.port" ] && break
        sleep 0.05
    done
    STXT=127.0.0.1:$(head -1 "$T/textonly.port")
    mcx --servers "$STXT" get m-k
    check cli_meta_textonly_plain_get 1 ""
    mcx --servers "$STXT" get --info m-k
    if [ "$RC" = 2 ] && grep -qF "server $STXT has none (version 1.4.39" "$T/err" &&
        grep -q "get --info .*meta commands.*--protocol auto" "$T/err"; then
        pass cli_meta_textonly_server
    else
        fail cli_meta_textonly_server "exit $RC, stderr '$(cat "$T/err")'"
    fi
else
    skip cli_meta_textonly_server "perl is not installed"
fi

# Usage errors (64), nothing sent.
mc get --bogus m-k
check cli_meta_usage_unknown 64
mc set --invalidate m-k v
check cli_meta_usage_not_for_command 64
mc gat --info 10 m-k
check cli_meta_usage_command_without_options 64
mc delete --touch 5 m-k
check cli_meta_usage_touch_needs_invalidate 64
mc incr --initial 5 m-ctr 1
check cli_meta_usage_initial_needs_vivify 64
mc delete --cas 1 m-k m-forever
check cli_meta_usage_delete_cas_one_key 64
mc get --touch soon m-k
check cli_meta_usage_bad_number 64
mc get --info=yes m-k
check cli_meta_usage_flag_value 64
mc get --info
check cli_meta_usage_no_key 64
mc get m-k --info
check cli_meta_usage_option_after_key 64
mc --info get m-k
if [ "$RC" = 64 ] && grep -q "after the command name" "$T/err"; then
    pass cli_meta_usage_before_command
else
    fail cli_meta_usage_before_command "exit $RC, stderr '$(cat "$T/err")'"
fi
mc --noreply delete --invalidate m-k
check cli_meta_usage_noreply 64
mc get --info m-k
check_re cli_meta_usage_nothing_sent 0 "v1${NL}info m-k .* stale=0 .*"

# Arguments that start with "-" keep their meaning; "--" ends the options.
mc get -x
check cli_meta_dash_key_is_key 1 ""
mc set -- --odd v
check cli_meta_double_dash_set 0 ""
mc get -- --odd
check cli_meta_double_dash_get 0 "v
"
mc --protocol meta get m-k --odd
check cli_meta_unknown_after_key_is_key 0 "m-k v1
--odd v
"

# Stale-while-revalidate the way --help shows it: the info line is the
# last line, the value (here two lines) everything before it.  swr KEY
# prints "INFO|VALUE"; "others KEY" is a caller that wins and is still
# computing.
swr() {
    local out info value
    out=$("$BIN" --servers "$S4" get --info --vivify 30 --recache 30 "$1") || return
    info=" ${out##*$'\n'} " value=${out%$'\n'*}
    case $info in
    *" win=1 "*) value=$'fresh\nvalue' && "$BIN" --servers "$S4" --ttl 300 set "$1" "$value" ;;
    *" won=1 "*) [ -n "$value" ] || value=RETRY ;;
    esac
    printf '%s|%s\n' "${info// /_}" "$value"
}
others() {
    "$BIN" --servers "$S4" get --info --vivify 30 "$1" | grep -q " win=1 "
}
{
    swr m-swr && swr m-swr && "$BIN" --servers "$S4" delete --invalidate m-swr && others m-swr &&
        swr m-swr && others m-swr2 && swr m-swr2
} >"$T/swr" 2>&1
# 1: miss, wins, stores; 2: plain hit; 3: invalidated, another caller
# recomputes: the old value is used; 4: placeholder of another caller: retry.
if grep -q "^_info_m-swr_ttl=30_.*_win=1_stale=0_won=0_.*|fresh$" "$T/swr" &&
    grep -q "^_info_m-swr_ttl=300_.*_win=0_stale=0_won=0_.*|fresh$" "$T/swr" &&
    grep -qE "^_info_m-swr_ttl=(29[0-9]|300)_.*_win=0_stale=1_won=1_.*\|fresh$" "$T/swr" &&
    grep -q "^_info_m-swr2_ttl=30_.*_win=0_stale=0_won=1_.*|RETRY$" "$T/swr" &&
    [ "$(grep -c "^value$" "$T/swr")" = 3 ]; then
    pass cli_meta_swr_script
else
    fail cli_meta_swr_script "$(tr '\n' '~' <"$T/swr")"
fi

mcx --help
ok=1
for w in --info --no-bump --touch --vivify --recache --invalidate --new-cas --cas --remove-value \
    --initial "info KEY ttl=T last_access=S hit_before=0|1 win=0|1 stale=0|1" "won=0|1 cas=N" \
    "info KEY ttl=T cas=N" "Stale-while-revalidate"; do
    grep -qF -- "$w" "$T/out" || { ok=0; echo "help lacks '$w'"; }
done
if [ $ok = 1 ]; then pass cli_meta_help; else fail cli_meta_help "--help lacks a command option"; fi

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
    vg --servers "$S4" get --info --vivify 30 vk vk-viv
    check_re cli_valgrind_get_info 0 "vk valgrind${NL}info vk .*${NL}vk-viv ${NL}info vk-viv .* win=1 .*"
    vg --servers "$S4" incr --info --vivify 0 --initial 3 vk-ctr 1
    check_re cli_valgrind_incr_vivify 0 "3${NL}info vk-ctr ttl=-1 cas=$CAS"
    if [ -n "$DEAD" ]; then
        vg --servers "127.0.0.1:$DEAD" get vk
        check cli_valgrind_error_path 2
    fi
fi
exit 0
