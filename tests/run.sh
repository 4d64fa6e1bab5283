#!/bin/bash
# run.sh - runs every test program and script, counts their PASS/FAIL/SKIP
# lines, and ends with "N passed, N failed, N skipped".  Exit 1 on any failure.
#   B=build        build directory
#   TESTS="a b"    run only these (names without directory, e.g. test_spec t_netns.sh)
set -u
cd "$(dirname "$0")/.."
B=${B:-build}
export MCF_BUILD=$B
pass=0 fail=0 skip=0
log_dir=$B/test-logs
mkdir -p "$log_dir"

progs=()
for t in "$B"/tests/test_*; do
    [ -x "$t" ] && progs+=("$t")
done
for t in tests/t_*.sh; do
    [ -f "$t" ] && progs+=("$t")
done

for t in "${progs[@]}"; do
    name=$(basename "$t")
    if [ -n "${TESTS:-}" ] && ! [[ " $TESTS " == *" $name "* ]]; then
        continue
    fi
    log="$log_dir/$name.log"
    start=$(date +%s)
    if [[ "$t" == *.sh ]]; then
        timeout -k 10 600 bash "$t" >"$log" 2>&1
    else
        timeout -k 10 600 "$t" >"$log" 2>&1
    fi
    rc=$?
    p=$(grep -c '^PASS: ' "$log")
    f=$(grep -c '^FAIL: ' "$log")
    s=$(grep -c '^SKIP: ' "$log")
    grep -E '^(FAIL|SKIP): ' "$log" | sed "s|^|  $name: |"
    if [ $rc -ne 0 ] && [ "$f" -eq 0 ]; then
        echo "  $name: FAIL: exited with status $rc without reporting a failure; last lines:"
        tail -n 15 "$log" | sed 's/^/    | /'
        f=1
    fi
    pass=$((pass + p)) fail=$((fail + f)) skip=$((skip + s))
    printf '%-32s %3d passed %3d failed %3d skipped (%ds)\n' "$name" "$p" "$f" "$s" $(( $(date +%s) - start ))
done
echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
