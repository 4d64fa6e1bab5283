#!/bin/bash
# t_valgrind.sh - the integration tests once under valgrind (the issue: "runs
# the integration tests once under valgrind --leak-check=full
# --error-exitcode=1").  Each selected test program runs under memcheck;
# one PASS/FAIL line per program: FAIL when valgrind found an error or a
# definite/indirect leak (exit 99), when the program reported a FAIL line,
# or when it died or timed out.
#   MCF_BUILD=build            where the test programs are (run.sh sets it)
#   VALGRIND_BUDGET=240        seconds for the whole script; programs not
#                              started within it are skipped
#   VALGRIND_TESTS="a b"       programs to run (default below)
# Skipped in sanitizer builds: ASan and valgrind cannot share a process.
set -u
cd "$(dirname "$0")/.."
B=${MCF_BUILD:-build}
log_dir=$B/test-logs
mkdir -p "$log_dir"

if [ -n "${SANITIZE:-}" ]; then
    echo "SKIP: valgrind: sanitizer build"
    exit 0
fi
if ! command -v valgrind >/dev/null 2>&1; then
    echo "SKIP: valgrind: valgrind is not installed"
    exit 0
fi

budget=${VALGRIND_BUDGET:-240}
tests=${VALGRIND_TESTS:-"test_client test_hostile test_connect test_soak"}
start=$(date +%s)
vg=(valgrind --leak-check=full --errors-for-leak-kinds=definite,indirect
    --error-exitcode=99 --track-fds=no -q)

# test_soak: a short run; timeouts a little longer (valgrind serialises
# threads); RSS means nothing under valgrind.
export MCF_SOAK_SECONDS=${MCF_SOAK_SECONDS:-5}
export MCF_SOAK_IO_TIMEOUT_MS=${MCF_SOAK_IO_TIMEOUT_MS:-400}
export MCF_SOAK_NO_RSS=1

for name in $tests; do
    bin=$B/tests/$name
    case=valgrind_$name
    if [ ! -x "$bin" ]; then
        echo "SKIP: $case: $bin is not built"
        continue
    fi
    used=$(( $(date +%s) - start ))
    left=$(( budget - used ))
    if [ "$left" -lt 20 ]; then
        echo "SKIP: $case: time budget of ${budget}s used up (${used}s)"
        continue
    fi
    log=$log_dir/valgrind-$name.log
    t0=$(date +%s)
    timeout -k 10 "$left" "${vg[@]}" "$bin" >"$log" 2>&1
    rc=$?
    secs=$(( $(date +%s) - t0 ))
    fails=$(grep -c '^FAIL: ' "$log")
    passes=$(grep -c '^PASS: ' "$log")
    why=""
    if [ "$rc" -eq 99 ]; then
        why="valgrind reported errors or leaks"
    elif [ "$fails" -gt 0 ]; then
        why="$fails case(s) failed under valgrind"
    elif [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
        why="timed out after ${left}s"
    elif [ "$rc" -ne 0 ]; then
        why="exited with status $rc"
    elif [ "$passes" -eq 0 ]; then
        why="no case passed"
    fi
    if [ -z "$why" ]; then
        echo "PASS: $case ($passes cases, ${secs}s)"
    else
        echo "FAIL: $case: $why (log: $log)"
        # Valgrind's own lines first, then the program's failures.
        { grep -E '^==[0-9]+==' "$log" | head -40
          grep -E '^FAIL: ' "$log" | head -20; } | sed 's/^/  | /'
        [ "$rc" -ne 99 ] && [ "$fails" -eq 0 ] && tail -n 10 "$log" | sed 's/^/  | /'
    fi
done
echo "INFO: valgrind: $(( $(date +%s) - start ))s in all"
exit 0
