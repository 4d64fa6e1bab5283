#!/bin/bash
# callgrind.sh BENCH_BINARY [WORKLOAD...] - instructions per key under
# valgrind --tool=callgrind, mcfast against libmemcached.
#
# Workloads: the arguments, else $CG_WORKLOAD, else get get_multi100
# get_multi100_4srv set_multi100 async_get256 async_get256_4srv.  For each, the bench binary runs one
# client's workload for $CG_CALLS calls inside bench_cg_loop() after a
# warm-up outside it; callgrind collects only inside
# (--toggle-collect=bench_cg_loop), so Ir is the client side of exactly
# those calls: the library, its callbacks and the bench's result checks,
# not the kernel (syscalls are not instructions valgrind sees) nor memcached
# (another process).  libmemcached is measured in every configuration the
# bench offers and the lowest figure is the one compared; a configuration
# that does less than the workload asks (buffered sets whose replies are
# not read in the call; for async_get256, one mget of the 256 keys instead of
# independent gets) is shown but never compared.  For the async workloads a
# call is 256 keys; mcfast's collected loop submits 256 keys more than it
# completes (the window still in flight at its end, drained outside it), an
# error of 1/CALLS in Ir/key.
#
# Output per workload: callgrind: detail lines, then
#   bench: callgrind WORKLOAD mcfast=N libmemcached=N ratio=R
# N = instructions per key (rounded), R = mcfast / libmemcached.
# Instruction counts do not depend on the machine's load, so workloads run
# $CG_JOBS (default 2) at a time; their output is printed in order.
set -u
BIN=${1:-build/mcfast-bench}
[ $# -gt 0 ] && shift
if [ $# -gt 0 ]; then
    WORKLOADS=("$@")
elif [ -n "${CG_WORKLOAD:-}" ]; then
    read -r -a WORKLOADS <<<"${CG_WORKLOAD//,/ }"
else
    WORKLOADS=(get get_multi100 get_multi100_4srv set_multi100 async_get256 async_get256_4srv)
fi
CALLS=${CG_CALLS:-300}
JOBS=${CG_JOBS:-2}
# get_multi100's goal: mcfast at most half of libmemcached's instructions per key.
TARGET_WORKLOAD=get_multi100
TARGET_RATIO=0.50
if ! command -v valgrind >/dev/null; then
    echo "callgrind: valgrind is not installed" >&2
    exit 1
fi
tmp=$(mktemp -d /tmp/mcfast-cg.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

# run WORKLOAD CLIENT VARIANT: sets IR, KEYS, LABEL, NVAR, EQUIV
run() {
    local base=$tmp/$1.$2.$3
    if ! valgrind --tool=callgrind --callgrind-out-file="$base.cg" --collect-atstart=no \
        --toggle-collect=bench_cg_loop "$BIN" --only "$2" --variant "$3" --workloads "$1" \
        --calls "$CALLS" >"$base.out" 2>"$base.err"; then
        echo "callgrind: $1 $2 variant $3 failed:" >&2
        tail -5 "$base.out" "$base.err" >&2
        return 1
    fi
    IR=$(awk '/^(summary|totals):/ {print $2; exit}' "$base.cg")
    KEYS=$(sed -n 's/^only: .* keys=\([0-9]*\).*/\1/p' "$base.out")
    LABEL=$(sed -n 's/^only: .* label=\([^ ]*\).*/\1/p' "$base.out")
    NVAR=$(sed -n 's/^only: .* variants=\([0-9]*\).*/\1/p' "$base.out")
    EQUIV=$(sed -n 's/^only: .* equivalent=\([01]\).*/\1/p' "$base.out")
    if [ -z "$IR" ] || [ -z "$KEYS" ] || [ "$KEYS" -eq 0 ] || [ -z "$EQUIV" ]; then
        echo "callgrind: no figures for $1 $2 variant $3" >&2
        return 1
    fi
}

per_key() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", a / b }'; }

# workload W: every figure of one workload, on stdout.
workload() {
    local W=$1
    run "$W" mcfast 0 || return 1
    local mc_keys=$KEYS mc_pk
    mc_pk=$(per_key "$IR" "$KEYS")
    echo "callgrind: $W mcfast Ir=$IR keys=$KEYS Ir/key=$mc_pk"
    # Where mcfast's instructions go (self cost per key, top functions).
    if command -v callgrind_annotate >/dev/null; then
        callgrind_annotate --inclusive=no "$tmp/$W.mcfast.0.cg" 2>/dev/null |
            awk -v k="$mc_keys" -v w="$W" '/^ *[0-9,]+ .*:/ {
                ir = $1; gsub(",", "", ir); fn = $0; sub(/^ *[0-9,]+ +(\([ 0-9.%]+\) +)?/, "", fn);
                sub(/ \[.*\]$/, "", fn); n = split(fn, parts, "/"); fn = parts[n];
                if (shown++ < 10) printf "callgrind:   %s mcfast self Ir/key %7.1f  %s\n", w, ir / k, fn }'
    fi
    run "$W" libmemcached 0 || return 1
    local nvar=$NVAR best_pk="" best_label="" text_pk="" pk v
    for ((v = 0; v < nvar; v++)); do
        if [ "$v" -gt 0 ]; then run "$W" libmemcached "$v" || return 1; fi
        pk=$(per_key "$IR" "$KEYS")
        if [ "$EQUIV" != 1 ]; then
            echo "callgrind: $W libmemcached[$LABEL] Ir=$IR keys=$KEYS Ir/key=$pk (not equivalent to the workload: not compared)"
            continue
        fi
        echo "callgrind: $W libmemcached[$LABEL] Ir=$IR keys=$KEYS Ir/key=$pk"
        case $LABEL in text/mget+fetch_result) text_pk=$pk ;; esac
        if [ -z "$best_pk" ] || awk -v a="$pk" -v b="$best_pk" 'BEGIN { exit !(a < b) }'; then
            best_pk=$pk best_label=$LABEL
        fi
    done
    if [ -z "$best_pk" ]; then
        echo "callgrind: $W: no libmemcached configuration does the whole workload" >&2
        return 1
    fi
    local ratio
    ratio=$(awk -v a="$mc_pk" -v b="$best_pk" 'BEGIN { printf "%.3f", a / b }')
    if [ -n "$text_pk" ]; then
        echo "callgrind: $W against libmemcached's text protocol (what the timed bench usually keeps): ratio=$(awk -v a="$mc_pk" -v b="$text_pk" 'BEGIN { printf "%.3f", a / b }')"
    fi
    local goal=""
    if [ "$W" = "$TARGET_WORKLOAD" ]; then
        goal=" (target <= $TARGET_RATIO) $(awk -v r="$ratio" -v t="$TARGET_RATIO" 'BEGIN { print (r <= t ? "met" : "MISSED") }')"
    fi
    echo "callgrind: $W mcfast Ir/key=$mc_pk libmemcached Ir/key=$best_pk ($best_label, its lowest) ratio=$ratio$goal"
    awk -v w="$W" -v a="$mc_pk" -v b="$best_pk" 'BEGIN {
        printf "bench: callgrind %s mcfast=%.0f libmemcached=%.0f ratio=%.2f\n", w, a, b, a / b }'
}

# The blocking engine's counts before the non-blocking core (issue "The
# non-blocking core": the sync path must cost no more per key).
declare -A BEFORE=([get]=1813 [get_multi100]=780 [get_multi100_4srv]=952 [set_multi100]=808)

running=0
for W in "${WORKLOADS[@]}"; do
    if [ "$running" -ge "$JOBS" ]; then
        wait -n
        running=$((running - 1))
    fi
    (
        workload "$W" >"$tmp/report.$W" 2>"$tmp/errors.$W"
        echo $? >"$tmp/rc.$W"
    ) &
    running=$((running + 1))
done
wait
status=0
for W in "${WORKLOADS[@]}"; do
    cat "$tmp/report.$W"
    cat "$tmp/errors.$W" >&2
    now=$(sed -n "s/^bench: callgrind $W mcfast=\([0-9]*\) .*/\1/p" "$tmp/report.$W")
    if [ -n "${BEFORE[$W]:-}" ] && [ -n "$now" ]; then
        echo "bench: callgrind $W before=${BEFORE[$W]} now=$now $([ "$now" -le "${BEFORE[$W]}" ] && echo "(no more than before: met)" || echo "(more than before: MISSED)")"
    fi
    [ "$(cat "$tmp/rc.$W" 2>/dev/null)" = 0 ] || status=1
done
exit $status
