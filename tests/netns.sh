# netns.sh - what the network-namespace test scripts share (t_netns.sh,
# t_tls_netns.sh, t_blackhole.sh).  Source it after setting CASES (the case
# names a skip or failure of the whole script reports) and, if the script
# makes them, PIDS, NAMESPACES and ETC_DIRS (arrays) and T (scratch dir).
#   pass/fail/skip/info      one PASS:/FAIL:/SKIP:/INFO: line
#   skip_all/fail_all WHY    every case skipped/failed, then exit
#   one_line FILE            a file's first 300 bytes on one line
#   ns_cleanup               kill PIDS, delete NAMESPACES and ETC_DIRS, rm T
#                            (installed as the EXIT trap by ns_traps)
#   ns_clean_stale RE [DIR_GLOB...]  leftovers of a SIGKILLed run: namespaces
#                            matching RE (its first group the run's PID) whose
#                            PID is gone, with their memcached, and such
#                            /etc/netns directories
#   ns_unsupported           prints why namespaces cannot be used here
#                            (nothing when they can)
PIDS=(${PIDS[@]+"${PIDS[@]}"})
NAMESPACES=(${NAMESPACES[@]+"${NAMESPACES[@]}"})
ETC_DIRS=(${ETC_DIRS[@]+"${ETC_DIRS[@]}"})
T=${T:-}

pass() { echo "PASS: $1"; }
fail() { echo "FAIL: $1: $2"; }
skip() { echo "SKIP: $1: $2"; }
info() { echo "INFO: $*"; }
skip_all() {
    local c
    for c in "${CASES[@]}"; do skip "$c" "$1"; done
    exit 0
}
fail_all() {
    local c
    for c in "${CASES[@]}"; do fail "$c" "$1"; done
    exit 1
}
one_line() { head -c 300 "$1" | tr '\n' '|'; }

# shellcheck disable=SC2317 # called by the EXIT trap
ns_cleanup() {
    local p ns d
    for p in ${PIDS[@]+"${PIDS[@]}"}; do kill "$p" 2>/dev/null; done
    for p in ${PIDS[@]+"${PIDS[@]}"}; do wait "$p" 2>/dev/null; done
    for ns in ${NAMESPACES[@]+"${NAMESPACES[@]}"}; do ip netns del "$ns" 2>/dev/null; done
    for d in ${ETC_DIRS[@]+"${ETC_DIRS[@]}"}; do
        if [ "$d" = /etc/netns ]; then
            rmdir "$d" 2>/dev/null
        else
            rm -rf "$d"
        fi
    done
    [ -n "$T" ] && rm -rf "$T"
}
ns_traps() {
    trap ns_cleanup EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
}

ns_clean_stale() {
    local re=$1 ns p d
    shift
    for ns in $(ip netns list 2>/dev/null | awk '{print $1}'); do
        [[ "$ns" =~ $re ]] || continue
        kill -0 "${BASH_REMATCH[1]}" 2>/dev/null && continue
        for p in $(ip netns pids "$ns" 2>/dev/null); do
            [ "$(cat "/proc/$p/comm" 2>/dev/null)" = memcached ] && kill "$p" 2>/dev/null
        done
        ip netns del "$ns" 2>/dev/null
    done
    for d in "$@"; do
        [ -d "$d" ] || continue
        [[ "$d" =~ -([0-9]+)$ ]] || continue
        kill -0 "${BASH_REMATCH[1]}" 2>/dev/null || rm -rf "$d"
    done
    # Left empty by such a run (rmdir removes only an empty directory).
    [ $# -gt 0 ] && rmdir /etc/netns 2>/dev/null
    return 0
}

ns_unsupported() {
    local probe=mcfprobe-$$
    [ "$(id -u)" = 0 ] || { echo "needs root for ip netns"; return; }
    command -v ip >/dev/null || { echo "iproute2 (ip) is not installed"; return; }
    ip netns add "$probe" 2>/dev/null ||
        { echo "ip netns add fails (no CAP_SYS_ADMIN or no netns support)"; return; }
    if ! ip netns exec "$probe" true 2>/dev/null; then
        ip netns del "$probe" 2>/dev/null
        echo "ip netns exec fails"
        return
    fi
    ip netns del "$probe"
}
