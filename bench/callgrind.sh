#!/bin/bash
# callgrind.sh BENCH_BINARY - instructions per key of get_multi100 (or
# $CG_WORKLOAD) under valgrind --tool=callgrind, mcfast against libmemcached.
#
# The bench binary runs one client's workload for $CG_CALLS calls inside
# bench_cg_loop() after a warm-up outside it; callgrind collects only inside
# (--toggle-collect=bench_cg_loop), so Ir is the client side of exactly
# those calls: the library, its callbacks and the bench's result checks,
# not the kernel (syscalls are not instructions valgrind sees) nor memcached
# (another process).  libmemcached is measured in every configuration the
# bench offers and the lowest figure is the one compared.
set -u
BIN=${1:-build/mcfast-bench}
W=${CG_WORKLOAD:-get_multi100}
CALLS=${CG_CALLS:-300}
if ! command -v valgrind >/dev/null; then
    echo "callgrind: valgrind is not installed" >&2
    exit 1
fi
tmp=$(mktemp -d /tmp/mcfast-cg.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

# run CLIENT VARIANT: sets IR, KEYS, LABEL, NVAR
run() {
    local out=$tmp/cg.$1.$2
    if ! valgrind --tool=callgrind --callgrind-out-file="$out" --collect-atstart=no \
        --toggle-collect=bench_cg_loop "$BIN" --only "$1" --variant "$2" --workloads "$W" \
        --calls "$CALLS" >"$tmp/stdout.$1.$2" 2>"$tmp/stderr.$1.$2"; then
        echo "callgrind: $1 variant $2 failed:" >&2
        tail -5 "$tmp/stdout.$1.$2" "$tmp/stderr.$1.$2" >&2
        return 1
    fi
    IR=$(awk '/^(summary|totals):/ {print $2; exit}' "$out")
    KEYS=$(sed -n 's/^only: .* keys=\([0-9]*\).*/\1/p' "$tmp/stdout.$1.$2")
    LABEL=$(sed -n 's/^only: .* label=\([^ ]*\).*/\1/p' "$tmp/stdout.$1.$2")
    NVAR=$(sed -n 's/^only: .* variants=\([0-9]*\).*/\1/p' "$tmp/stdout.$1.$2")
    if [ -z "$IR" ] || [ -z "$KEYS" ] || [ "$KEYS" -eq 0 ]; then
        echo "callgrind: no figures for $1 variant $2" >&2
        return 1
    fi
}

per_key() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", a / b }'; }

run mcfast 0 || exit 1
mc_ir=$IR mc_keys=$KEYS
mc_pk=$(per_key "$mc_ir" "$mc_keys")
echo "callgrind: $W mcfast Ir=$mc_ir keys=$mc_keys Ir/key=$mc_pk"
# Where mcfast's instructions go (self cost per key, top functions).
if command -v callgrind_annotate >/dev/null; then
    callgrind_annotate --inclusive=no "$tmp/cg.mcfast.0" 2>/dev/null |
        awk -v k="$mc_keys" '/^ *[0-9,]+ .*:/ {
            ir = $1; gsub(",", "", ir); fn = $0; sub(/^ *[0-9,]+ +(\([ 0-9.%]+\) +)?/, "", fn);
            sub(/ \[.*\]$/, "", fn); n = split(fn, parts, "/"); fn = parts[n];
            if (shown++ < 10) printf "callgrind:   mcfast self Ir/key %7.1f  %s\n", ir / k, fn }'
fi

run libmemcached 0 || exit 1
nvar=$NVAR
best_pk="" best_label="" text_pk=""
for ((v = 0; v < nvar; v++)); do
    [ "$v" -gt 0 ] && { run libmemcached "$v" || exit 1; }
    pk=$(per_key "$IR" "$KEYS")
    echo "callgrind: $W libmemcached[$LABEL] Ir=$IR keys=$KEYS Ir/key=$pk"
    case $LABEL in text/mget+fetch_result) text_pk=$pk ;; esac
    if [ -z "$best_pk" ] || awk -v a="$pk" -v b="$best_pk" 'BEGIN { exit !(a < b) }'; then
        best_pk=$pk best_label=$LABEL
    fi
done
ratio=$(awk -v a="$mc_pk" -v b="$best_pk" 'BEGIN { printf "%.3f", a / b }')
verdict=$(awk -v r="$ratio" 'BEGIN { print (r <= 0.5 ? "met" : "MISSED") }')
if [ -n "$text_pk" ]; then
    echo "callgrind: $W against libmemcached's text protocol (what the timed bench usually keeps): ratio=$(awk -v a="$mc_pk" -v b="$text_pk" 'BEGIN { printf "%.3f", a / b }')"
fi
echo "callgrind: $W mcfast Ir/key=$mc_pk libmemcached Ir/key=$best_pk ($best_label, its lowest) ratio=$ratio (target <= 0.50) $verdict"
