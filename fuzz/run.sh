#!/bin/bash
# fuzz/run.sh - runs every built libFuzzer target for FUZZ_SECONDS seconds.
#   make fuzz FUZZ_SECONDS=N      (builds first, then runs this)
#   B=build FUZZ_SECONDS=N fuzz/run.sh [fuzz_reply fuzz_spec ...]
# Each target build/fuzz/fuzz_NAME starts from a scratch copy of
# fuzz/corpus/NAME/ plus fuzz/regressions/NAME/ in $B/fuzz/work-NAME-PID/
# (the committed corpus is never modified; the copy is kept only on
# failure) and prints its executions and time.  A crash, leak, timeout or OOM input is copied to
# fuzz/regressions/NAME/regress-<kind>-<sha1> (replayed by tests/t_fuzz.sh;
# commit it with the fix) and the script exits 1.
# FUZZ_MERGE=1 also merges new coverage back into fuzz/corpus/NAME/.
set -u
cd "$(dirname "$0")/.." || exit 1
B=${B:-build}
FUZZ_SECONDS=${FUZZ_SECONDS:-60}
fail=0

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    for bin in "$B"/fuzz/fuzz_*; do
        [ -x "$bin" ] && [ -f "$bin" ] && targets+=("$(basename "$bin")")
    done
fi
if [ ${#targets[@]} -eq 0 ]; then
    echo "run.sh: no fuzz targets in $B/fuzz (run make fuzz-build)" >&2
    exit 1
fi

for t in "${targets[@]}"; do
    bin=$B/fuzz/$t
    name=${t#fuzz_}
    if [ ! -x "$bin" ]; then
        echo "$t: FAIL: $bin not built"
        fail=1
        continue
    fi
    # Per run (PID): two runs with the same B never share a scratch corpus.
    work=$B/fuzz/work-$name-$$
    rm -rf "$work"
    mkdir -p "$work/corpus" "$work/artifacts"
    for d in fuzz/corpus/$name fuzz/regressions/$name; do
        [ -d "$d" ] && find "$d" -maxdepth 1 -type f ! -name '.*' -exec cp {} "$work/corpus/" \;
    done
    opts=(-max_total_time="$FUZZ_SECONDS" -print_final_stats=1 -timeout=10
          -rss_limit_mb=2048 -artifact_prefix="$work/artifacts/")
    [ -f "fuzz/$t.dict" ] && opts+=(-dict="fuzz/$t.dict")
    case $name in
    reply) opts+=(-max_len=20000) ;; # past the 8192-byte line limit
    spec) opts+=(-max_len=1200) ;;
    esac
    start=$(date +%s.%N)
    "$bin" "${opts[@]}" "$work/corpus" >"$work/log" 2>&1
    rc=$?
    secs=$(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }')
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/log" | tail -n 1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$work/log" | tail -n 1)
    ninputs=$(find "$work/corpus" -type f | wc -l)
    found=0
    for a in "$work"/artifacts/*; do
        [ -f "$a" ] || continue
        found=1
        kind=$(basename "$a" | sed 's/-.*//')
        mkdir -p "fuzz/regressions/$name"
        dest=fuzz/regressions/$name/regress-$kind-$(sha1sum "$a" | cut -c1-16)
        cp "$a" "$dest"
        echo "$t: $kind input saved as $dest"
    done
    if [ $rc -ne 0 ] || [ $found -ne 0 ]; then
        echo "$t: FAIL: exit status $rc after ${secs}s, ${execs:-?} executions; log $work/log:"
        grep -E 'ERROR|invariant|SUMMARY|runtime error' "$work/log" | head -n 20 | sed 's/^/    | /'
        fail=1
        continue
    fi
    echo "$t: ${execs:-?} executions in ${secs}s (${rate:-?}/s), corpus $ninputs inputs, no crash"
    if [ "${FUZZ_MERGE:-0}" = 1 ] && [ -d "fuzz/corpus/$name" ]; then
        "$bin" -merge=1 "${opts[@]:2}" "fuzz/corpus/$name" "$work/corpus" >>"$work/log" 2>&1 &&
            echo "$t: merged new coverage into fuzz/corpus/$name"
    fi
    rm -rf "$work" # kept only when something was found
done
exit $fail
