#!/bin/bash
# t_valgrind.sh - the integration tests once under valgrind (the issue: "runs
# the integration tests once under valgrind --leak-check=full
# --error-exitcode=1").  Each selected test program runs under memcheck;
# one PASS/FAIL line per name (a group such as test_client: all of its
# test_client_* programs): FAIL when valgrind found an error or a
# definite/indirect leak (exit 99), when a program reported a FAIL line,
# or when it died or timed out.
#   MCF_BUILD=build            where the test programs are (run.sh sets it)
#   VALGRIND_BUDGET=240        seconds for the whole script; programs not
#                              started within it are skipped
#   VALGRIND_TESTS="a b"       programs or groups to run (default below)
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
tests=${VALGRIND_TESTS:-"test_client test_hostile test_connect test_soak test_tls_hostile"}
start=$(date +%s)
vg=(valgrind --leak-check=full --errors-for-leak-kinds=definite,indirect
    --error-exitcode=99 --track-fds=no -q)

# test_soak: a short run; timeouts a little longer (valgrind serialises
# threads); RSS means nothing under valgrind.
export MCF_SOAK_SECONDS=${MCF_SOAK_SECONDS:-5}
export MCF_SOAK_IO_TIMEOUT_MS=${MCF_SOAK_IO_TIMEOUT_MS:-400}
export MCF_SOAK_NO_RSS=1
# The TLS programs' clients: handshakes under valgrind take far longer.
export MCF_TLS_TIMEOUT_MS=${MCF_TLS_TIMEOUT_MS:-5000}

# One PASS/FAIL line per name; a name without a program of its own (e.g.
# test_client) stands for its test_<name>_* programs, run one after another.
for name in $tests; do
    case=valgrind_$name
    bins=()
    if [ -f "tests/$name.c" ] && [ -x "$B/tests/$name" ]; then
        bins=("$B/tests/$name")
    else
        for src in tests/"${name}"_*.c; do
            [ -x "$B/tests/$(basename "$src" .c)" ] && bins+=("$B/tests/$(basename "$src" .c)")
        done
    fi
    if [ ${#bins[@]} -eq 0 ]; then
        echo "SKIP: $case: $B/tests/$name is not built"
        continue
    fi
    why="" passes=0 skipped="" t0=$(date +%s)
    for bin in "${bins[@]}"; do
        prog=$(basename "$bin")
        used=$(( $(date +%s) - start ))
        left=$(( budget - used ))
        if [ "$left" -lt 20 ]; then
            skipped="time budget of ${budget}s used up (${used}s) before $prog"
            break
        fi
        log=$log_dir/valgrind-$prog.log
        timeout -k 10 "$left" "${vg[@]}" "$bin" >"$log" 2>&1
        rc=$?
        fails=$(grep -c '^FAIL: ' "$log")
        passes=$((passes + $(grep -c '^PASS: ' "$log")))
        if [ "$rc" -eq 99 ]; then
            why="$prog: valgrind reported errors or leaks"
        elif [ "$fails" -gt 0 ]; then
            why="$prog: $fails case(s) failed under valgrind"
        elif [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
            why="$prog: timed out after ${left}s"
        elif [ "$rc" -ne 0 ]; then
            why="$prog: exited with status $rc"
        fi
        if [ -n "$why" ]; then
            why="$why (log: $log)"
            # Valgrind's own lines first, then the program's failures.
            details=$( { grep -E '^==[0-9]+==' "$log" | head -40
                         grep -E '^FAIL: ' "$log" | head -20
                         [ "$rc" -ne 99 ] && [ "$fails" -eq 0 ] && tail -n 10 "$log"; } | sed 's/^/  | /')
            break
        fi
    done
    secs=$(( $(date +%s) - t0 ))
    if [ -z "$why" ] && [ -n "$skipped" ] && [ "$passes" -eq 0 ]; then
        echo "SKIP: $case: $skipped"
        continue
    fi
    [ -z "$why" ] && [ "$passes" -eq 0 ] && why="no case passed"
    if [ -z "$why" ]; then
        echo "PASS: $case ($passes cases, ${secs}s${skipped:+; $skipped})"
    else
        echo "FAIL: $case: $why"
        [ -n "${details:-}" ] && echo "$details"
        details=""
    fi
done
echo "INFO: valgrind: $(( $(date +%s) - start ))s in all"
exit 0
