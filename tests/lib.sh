# lib.sh - shell helpers for tests and the demo: throwaway memcached servers.
# Source it, then: mc_start_tcp HOST (sets MC_PORT), mc_start_unix PATH,
# and call mc_stop_all from an EXIT trap.  Needs only bash and memcached.
MC_PIDS=()

# mc_listening HOST PORT: something accepts TCP connections there.
mc_listening() {
    (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null
}

# mc_start_tcp HOST [ARGS...]: memcached on a free port of HOST; sets MC_PORT.
# A random port may be taken by the time memcached binds: then it exits and
# another port is tried.
mc_start_tcp() {
    local host=$1 pid _
    shift
    for _ in 1 2 3 4 5 6 7 8 9 10; do
        MC_PORT=$((20000 + RANDOM % 30000))
        mc_listening "$host" "$MC_PORT" && continue
        memcached -u root -U 0 -l "$host" -p "$MC_PORT" "$@" >/dev/null 2>&1 &
        pid=$!
        for _ in $(seq 1 100); do
            if mc_listening "$host" "$MC_PORT"; then
                MC_PIDS+=("$pid")
                return 0
            fi
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.05
        done
        kill "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
    done
    echo "mc_start_tcp: could not start memcached on $host" >&2
    return 1
}

# mc_start_unix PATH [ARGS...]: memcached on a unix socket.
mc_start_unix() {
    local path=$1 _
    shift
    memcached -u root -U 0 -s "$path" "$@" >/dev/null 2>&1 &
    MC_PIDS+=($!)
    for _ in $(seq 1 100); do
        [ -S "$path" ] && return 0
        sleep 0.05
    done
    echo "mc_start_unix: memcached did not create $path" >&2
    return 1
}

mc_stop_all() {
    local p
    for p in "${MC_PIDS[@]}"; do kill "$p" 2>/dev/null; done
    for p in "${MC_PIDS[@]}"; do wait "$p" 2>/dev/null; done
    MC_PIDS=()
}

# check NAME WANT_RC [EXPECTED_STDOUT]: a CLI run's exit code $RC and (if
# given) its exact stdout bytes in $T/out (expected text gets no extra
# newline; stderr in $T/err for the message).  The caller defines pass
# and fail (or takes the ones below).
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

# ---- a test script's results and preconditions -------------------------
# pass NAME, fail NAME WHY, skip NAME WHY: the lines run.sh counts.  A
# script may define its own after sourcing this file.
pass() { echo "PASS: $1"; }
fail() { echo "FAIL: $1: $2"; }
skip() { echo "SKIP: $1: $2"; }

# needs_cli NAME: the CLI $BIN is built, else NAME_binary fails and the
# script exits 1 (make check builds it: its absence is a failure).
needs_cli() {
    [ -x "$BIN" ] && return 0
    fail "$1_binary" "$BIN not built"
    exit 1
}

# needs_tools NAME TOOL...: every TOOL is installed, else NAME is skipped
# and the script exits 0.
needs_tools() {
    local name=$1 tool
    shift
    for tool in "$@"; do
        command -v "$tool" >/dev/null && continue
        skip "$name" "$tool is not installed"
        exit 0
    done
}
