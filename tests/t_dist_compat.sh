#!/bin/bash
# t_dist_compat.sh - proves every mcfast distribution mode puts keys where the real clients do.
#
# Starts 4 TCP + 2 unix-socket memcached servers (tests/tool_dist serve; they die
# with it), then per scenario: flush, store 3000 keys through the REAL client
# (Cache::Memcached, Cache::Memcached::Fast via tests/compat/store.pl, libmemcached
# via tests/tool_libmemcached), and ask every server directly which keys it holds
# (tool_dist check), comparing with mcf_dist_pick.  One PASS/FAIL line per scenario
# with the mismatch counts; SKIP when a client is not installed.  Also runs
# tool_libmemcached compare: libmemcached's own memcached_generate_hash() against
# mcf_dist_pick for server lists no real server is needed for.
set -u
cd "$(dirname "$0")/.."
B=${MCF_BUILD:-build}
TOOL=$B/tests/tool_dist
LMC=$B/tests/tool_libmemcached
STORE=tests/compat/store.pl
NKEYS=3000

work=$(mktemp -d)
srv_pid=
cleanup() {
    # Closing its stdin ends `serve`, which stops and reaps the servers; a
    # serve still there after 3 s is killed (its SIGTERM handler kills them).
    [ -n "${SRV[1]:-}" ] && exec {SRV[1]}>&-
    if [ -n "$srv_pid" ]; then
        for _ in $(seq 30); do
            kill -0 "$srv_pid" 2>/dev/null || break
            sleep 0.1
        done
        kill "$srv_pid" 2>/dev/null
        wait "$srv_pid" 2>/dev/null
    fi
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

if [ ! -x "$TOOL" ]; then
    echo "FAIL: dist-compat: $TOOL is not built"
    exit 1
fi
"$TOOL" keys $NKEYS >"$work/keys"

# libmemcached's own hash function against mcfast, no servers needed.
if [ -x "$LMC" ]; then
    "$LMC" compare
else
    echo "SKIP: lmc-pure: $LMC not built (libmemcached-dev missing?)"
fi

coproc SRV { exec "$TOOL" serve 4 2; }
srv_pid=$SRV_PID
addrs=()
while read -r line <&"${SRV[0]}"; do
    [ "$line" = READY ] && break
    case $line in
    NO-MEMCACHED | FAILED)
        echo "SKIP: dist-compat: memcached ${line,,}"
        exit 0
        ;;
    esac
    addrs+=("$line")
done
if [ ${#addrs[@]} -ne 6 ]; then
    echo "FAIL: dist-compat: could not start 6 memcached servers"
    exit 1
fi
T0=${addrs[0]} T1=${addrs[1]} T2=${addrs[2]} T3=${addrs[3]} U0=${addrs[4]} U1=${addrs[5]}

have_cm=0 have_cmf=0
perl -MCache::Memcached -e1 2>/dev/null && have_cm=1
perl -MCache::Memcached::Fast -e1 2>/dev/null && have_cmf=1

# run NAME NEED STORE-COMMAND CHECK-OPTIONS SERVER[=WEIGHT]...
#   NEED: cm, cmf or lmc (skipped when that client is missing).
#   The store command and check options are split on spaces.
run() {
    local name=$1 need=$2 store=$3 check=$4
    shift 4
    case $need in
    cm) [ $have_cm = 1 ] || { echo "SKIP: $name: Cache::Memcached not installed"; return; } ;;
    cmf) [ $have_cmf = 1 ] || { echo "SKIP: $name: Cache::Memcached::Fast not installed"; return; } ;;
    lmc) [ -x "$LMC" ] || { echo "SKIP: $name: tool_libmemcached not built"; return; } ;;
    esac
    if ! "$TOOL" flush "${addrs[@]}" 2>"$work/err"; then
        echo "FAIL: $name: flush_all: $(head -c 300 "$work/err")"
        return
    fi
    # shellcheck disable=SC2086 # word splitting of $store is intended
    if ! $store "$work/keys" "$@" 2>"$work/err"; then
        echo "FAIL: $name: storing through the client failed: $(head -c 300 "$work/err")"
        return
    fi
    local out rc
    # shellcheck disable=SC2086
    out=$("$TOOL" check $check "$work/keys" "$@" 2>"$work/err")
    rc=$?
    if [ $rc -eq 0 ]; then
        echo "PASS: $name ($out)"
    else
        echo "FAIL: $name: $out $(head -c 400 "$work/err" | tr '\n' ' ')"
    fi
}

W1231=("$T0=1" "$T1=2" "$T2=3" "$T3=1")
WBIG=("$T0=20000" "$T1=1" "$T2=30000" "$T3=7") # total 50008 > the 15-bit hash range
MIXED=("$T0=1" "$U0=2" "$T1=1" "$U1=3")        # TCP and unix sockets
CM="perl $STORE --client cm"
CMF="perl $STORE --client cmf"

run "Cache::Memcached modula, 4 servers" cm "$CM" "--mode modula" $T0 $T1 $T2 $T3
run "Cache::Memcached modula, weights 1,2,3,1" cm "$CM" "--mode modula" "${W1231[@]}"
run "Cache::Memcached modula, weights 20000,1,30000,7" cm "$CM" "--mode modula" "${WBIG[@]}"
run "Cache::Memcached modula, TCP + unix, weights 1,2,1,3" cm "$CM" "--mode modula" "${MIXED[@]}"
run "Cache::Memcached namespace (hashes the key without it)" cm "$CM --ns app1:" \
    "--mode modula --ns app1: --hash-ns 0" $T0 $T1 $T2 $T3

run "Cache::Memcached::Fast modula, 4 servers" cmf "$CMF" "--mode modula" $T0 $T1 $T2 $T3
run "Cache::Memcached::Fast modula, weights 1,2,3,1" cmf "$CMF" "--mode modula" "${W1231[@]}"
run "Cache::Memcached::Fast modula, weights 20000,1,30000,7" cmf "$CMF" "--mode modula" "${WBIG[@]}"
run "Cache::Memcached::Fast modula, TCP + unix, weights 1,2,1,3" cmf "$CMF" "--mode modula" \
    "${MIXED[@]}"
run "Cache::Memcached::Fast ketama_points 150, 4 servers" cmf "$CMF --ketama 150" \
    "--mode ketama --points 150" $T0 $T1 $T2 $T3
run "Cache::Memcached::Fast ketama_points 150, weights 1,2,3,1" cmf "$CMF --ketama 150" \
    "--mode ketama --points 150" "${W1231[@]}"
run "Cache::Memcached::Fast ketama_points 100, weights 1,2,3,1" cmf "$CMF --ketama 100" \
    "--mode ketama --points 100" "${W1231[@]}"
run "Cache::Memcached::Fast ketama_points 7, weights 3,1,1,2" cmf "$CMF --ketama 7" \
    "--mode ketama --points 7" "$T0=3" "$T1=1" "$T2=1" "$T3=2"
run "Cache::Memcached::Fast ketama_points 150, TCP + unix, weights 1,2,1,3" cmf \
    "$CMF --ketama 150" "--mode ketama --points 150" "${MIXED[@]}"
run "Cache::Memcached::Fast namespace, hash_namespace 0 (key only)" cmf \
    "$CMF --ns app1: --hash-ns 0" "--mode modula --ns app1: --hash-ns 0" $T0 $T1 $T2 $T3
run "Cache::Memcached::Fast namespace, hash_namespace 1 (namespace+key), modula" cmf \
    "$CMF --ns app1: --hash-ns 1" "--mode modula --ns app1: --hash-ns 1" $T0 $T1 $T2 $T3
run "Cache::Memcached::Fast namespace, hash_namespace 1 (namespace+key), ketama 150" cmf \
    "$CMF --ketama 150 --ns app1: --hash-ns 1" "--mode ketama --points 150 --ns app1: --hash-ns 1" \
    "${W1231[@]}"

run "libmemcached weighted ketama, 4 servers" lmc "$LMC store" "--mode ketama-libmemcached" \
    $T0 $T1 $T2 $T3
run "libmemcached weighted ketama, weights 1,2,3,1" lmc "$LMC store" "--mode ketama-libmemcached" \
    "${W1231[@]}"
run "libmemcached weighted ketama, TCP + unix, weights 1,2,1,3" lmc "$LMC store" \
    "--mode ketama-libmemcached" "${MIXED[@]}"
run "libmemcached namespace (hashes the key without it)" lmc "$LMC store --ns app1:" \
    "--mode ketama-libmemcached --ns app1: --hash-ns 0" "${W1231[@]}"

# Control: the check is not vacuous - ketama data judged by the modula rule must mismatch.
if [ $have_cmf = 1 ]; then
    "$TOOL" flush "${addrs[@]}" && $CMF --ketama 150 "$work/keys" $T0 $T1 $T2 $T3 &&
        out=$("$TOOL" check --mode modula "$work/keys" $T0 $T1 $T2 $T3 2>/dev/null)
    case ${out:-} in
    *" wrong=0 "*) echo "FAIL: control: modula rule accepted ketama placement ($out)" ;;
    *" wrong="*) echo "PASS: control: wrong rule is detected (${out%% per-server*})" ;;
    *) echo "FAIL: control: could not run" ;;
    esac
fi
exit 0
