# compat/lib.sh - shared by the t_compat_*.sh placement tests: real memcached
# servers (tests/tool_dist serve), test keys, and one scenario = store every
# key through the real client, then ask each server directly which keys it
# holds and compare with mcfast's choice (tool_dist check).
#   . tests/compat/lib.sh; compat_start NTCP NUNIX || exit; compat_keys N [--utf8]
#   compat_run NAME "STORE COMMAND" "CHECK OPTIONS" ADDR[=WEIGHT]...
# The servers are in TCP[0..] and UNIX[0..]; they die when the script exits.
B=${MCF_BUILD:-build}
TOOL=$B/tests/tool_dist
# Debian's python3 modules are for Debian's python3, not another on PATH.
PY=/usr/bin/python3
compat_work=$(mktemp -d)
compat_srv_pid=
compat_cleanup() {
    # Closing its stdin ends `serve`, which stops and reaps the servers.
    [ -n "${SRV[1]:-}" ] && exec {SRV[1]}>&-
    if [ -n "$compat_srv_pid" ]; then
        for _ in $(seq 30); do
            kill -0 "$compat_srv_pid" 2>/dev/null || break
            sleep 0.1
        done
        kill "$compat_srv_pid" 2>/dev/null
        wait "$compat_srv_pid" 2>/dev/null
    fi
    rm -rf "$compat_work"
}
trap compat_cleanup EXIT
trap 'exit 1' INT TERM HUP

# compat_start NTCP NUNIX: 0 when the servers are up; otherwise prints
# SKIP (no memcached) or FAIL and returns 1.
compat_start() {
    local want=$(($1 + $2)) line addrs=()
    if [ ! -x "$TOOL" ]; then
        echo "FAIL: ${COMPAT_NAME:-compat}: $TOOL is not built"
        return 1
    fi
    coproc SRV { exec "$TOOL" serve "$1" "$2"; }
    compat_srv_pid=$SRV_PID
    while read -r line <&"${SRV[0]}"; do
        [ "$line" = READY ] && break
        case $line in
        NO-MEMCACHED | FAILED)
            echo "SKIP: ${COMPAT_NAME:-compat}: memcached ${line,,}"
            return 1
            ;;
        esac
        addrs+=("$line")
    done
    if [ ${#addrs[@]} -ne "$want" ]; then
        echo "FAIL: ${COMPAT_NAME:-compat}: could not start $want memcached servers"
        return 1
    fi
    TCP=("${addrs[@]:0:$1}")
    UNIX=("${addrs[@]:$1}")
    ALL=("${addrs[@]}")
}

# compat_keys N [--utf8]: the key file, $KEYS.
compat_keys() {
    KEYS=$compat_work/keys
    "$TOOL" keys "$@" >"$KEYS"
}

# compat_run NAME STORE CHECK ADDR[=W]...: one PASS or FAIL line.  STORE is
# run as "STORE KEYFILE ADDR[=W]..." (split on spaces), CHECK are
# tool_dist check options.
compat_run() {
    local name=$1 store=$2 check=$3 out rc
    shift 3
    if ! "$TOOL" flush "${ALL[@]}" 2>"$compat_work/err"; then
        echo "FAIL: $name: flush_all: $(head -c 300 "$compat_work/err")"
        return
    fi
    # shellcheck disable=SC2086 # word splitting of $store is intended
    if ! $store "$KEYS" "$@" 2>"$compat_work/err"; then
        echo "FAIL: $name: storing through the client failed: $(head -c 300 "$compat_work/err")"
        return
    fi
    # shellcheck disable=SC2086
    out=$("$TOOL" check $check "$KEYS" "$@" 2>"$compat_work/err")
    rc=$?
    if [ $rc -eq 0 ]; then
        echo "PASS: $name ($out)"
    else
        echo "FAIL: $name: $out $(head -c 400 "$compat_work/err" | tr '\n' ' ')"
    fi
}

# compat_servers N [WEIGHTS]: the first N TCP servers, with WEIGHTS (a
# space-separated list, one per server) as ADDR=W; into $SERVERS.
compat_servers() {
    local n=$1 i w
    local -a ws=(${2:-})
    SERVERS=()
    for ((i = 0; i < n; i++)); do
        w=${ws[$i]:-}
        SERVERS+=("${TCP[$i]}${w:+=$w}")
    done
}

# The weights of the weighted scenarios (a server of weight 1 among others
# of more catches the clients' rounding).
COMPAT_WEIGHTS="1 2 3 1 5 2"
