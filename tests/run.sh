#!/bin/bash
# run.sh - runs every test program and script, counts their PASS/FAIL/SKIP
# lines, and ends with "N passed, N failed, N skipped".  Exit 1 on any failure.
#   B=build        build directory
#   TESTS="a b"    run only these: names without directory (test_spec t_netns.sh),
#                  or PROG:CASE[,CASE...] for some cases of a program
#                  (test_spec:good_specs,bad_specs).  A name no program has
#                  stands for its group: NAME is every NAME_* program, and
#                  NAME:CASE runs that case in whichever of them has it.
#                  An unknown program, script or case is a failure.
#   JOBS=N         how many run at once (default: the CPUs, nproc); the
#                  report stays in the order above.  JOBS=1: one by one.
#   SANITIZE=...   a sanitized pass: a script marked "# run.sh: unsanitized"
#                  (its builds ignore SANITIZE: the Perl module, packages,
#                  the fuzzers' own sanitizers) would repeat the plain pass's
#                  work exactly, so it counts one SKIP instead.
set -u
cd "$(dirname "$0")/.."
B=${B:-build}
export MCF_BUILD=$B
pass=0 fail=0 skip=0
log_dir=$B/test-logs
mkdir -p "$log_dir"

# Programs built from a tests/test_*.c that still exists (a stale binary of
# a removed or renamed test is not run).
progs=()
for src in tests/test_*.c; do
    t=$B/tests/$(basename "$src" .c)
    [ -x "$t" ] && progs+=("$t")
done
for t in tests/t_*.sh; do
    [ -f "$t" ] && progs+=("$t")
done

# What TESTS selects, per program or script name: "all", or the case names.
declare -A want=()
selected() { [ -z "${TESTS:-}" ] || [ -n "${want[$1]+x}" ]; }
add_cases() { # name cases...
    local name=$1
    shift
    if [ $# -eq 0 ] || [ "${want[$name]-}" = all ]; then
        want[$name]=all
    else
        want[$name]="${want[$name]-} $*"
    fi
}
if [ -n "${TESTS:-}" ]; then
    names=()
    for t in "${progs[@]}"; do names+=("$(basename "$t")"); done
    for entry in $TESTS; do
        name=${entry%%:*} cases=()
        [[ "$entry" == *:* ]] && IFS=, read -ra cases <<<"${entry#*:}"
        members=()
        for n in "${names[@]}"; do [ "$n" = "$name" ] && members=("$n"); done
        if [ ${#members[@]} -eq 0 ]; then
            for n in "${names[@]}"; do [[ "$n" == "${name}_"* && "$n" != *.sh ]] && members+=("$n"); done
        fi
        if [ ${#members[@]} -eq 0 ]; then
            echo "  run.sh: FAIL: $entry: no test program or script of that name (built in $B?)"
            fail=$((fail + 1))
            continue
        fi
        if [ ${#cases[@]} -eq 0 ]; then
            for n in "${members[@]}"; do add_cases "$n"; done
        elif [[ "$name" == *.sh ]]; then
            echo "  run.sh: FAIL: $entry: scripts run whole; case names are for test programs"
            fail=$((fail + 1))
        elif [ ${#members[@]} -eq 1 ]; then
            add_cases "${members[0]}" "${cases[@]}" # the program names unknown cases itself
        else
            # A group: each case goes to the program that has it.
            for c in "${cases[@]}"; do
                owner=""
                for n in "${members[@]}"; do
                    "$B/tests/$n" --list 2>/dev/null | grep -qxF -- "$c" && owner=$n && break
                done
                if [ -n "$owner" ]; then
                    add_cases "$owner" "$c"
                else
                    echo "  run.sh: FAIL: $c: no such case in ${members[*]}"
                    fail=$((fail + 1))
                fi
            done
        fi
    done
fi

# ---- running: up to JOBS at once, reported in the order above ------------
# Each test's output goes to its log; its exit code and seconds to
# $log.rc once it ended.  A script marked "# run.sh: builds" runs make in
# the source tree or the build directory: two of those never overlap (the
# same objects would be written twice), and they start first, so the long
# ones (fuzzers, Perl) run beside the quick programs.  One marked
# "# run.sh: alone" (it installs system-wide) runs with nothing else.
names=() paths=() classes=()
for t in "${progs[@]}"; do
    name=$(basename "$t")
    selected "$name" || continue
    class=any
    if [[ "$t" == *.sh ]]; then
        grep -q '^# run.sh: builds' "$t" && class=builds
        grep -q '^# run.sh: alone' "$t" && class=alone
    fi
    names+=("$name") paths+=("$t") classes+=("$class")
done

# Tests side by side must not meet on a port: one picks a free port for a
# dead server, another starts memcached on it.  Each then runs in a network
# namespace of its own (a loopback with 127.0.0.1 and ::1, nothing else);
# where none can be made (not root), they run one by one.
JOBS=${JOBS:-$(nproc 2>/dev/null || echo 1)}
[[ "$JOBS" =~ ^[1-9][0-9]*$ ]] || JOBS=1
ISOLATE=()
if [ "$JOBS" -gt 1 ]; then
    if unshare --net -- ip link set lo up 2>/dev/null; then
        ISOLATE=(unshare --net -- bash -c 'ip link set lo up && exec "$@"' isolated)
    else
        echo "run.sh: one test at a time: no network namespace of its own for each (unshare --net needs root)"
        JOBS=1
    fi
fi

run_one() { # INDEX: runs the test, then writes its log's .rc
    local name=${names[$1]} t=${paths[$1]} log="$log_dir/${names[$1]}.log" args=() start rc iso=()
    [ -n "${TESTS:-}" ] && [ "${want[$name]}" != all ] && read -ra args <<<"${want[$name]}"
    [ "${classes[$1]}" != alone ] && iso=("${ISOLATE[@]}")
    start=$(date +%s)
    if [ -n "${SANITIZE:-}" ] && [[ "$t" == *.sh ]] && grep -q '^# run.sh: unsanitized' "$t"; then
        echo "SKIP: unsanitized: its builds ignore SANITIZE=$SANITIZE; the plain make check runs it" >"$log"
        rc=0
    elif [[ "$t" == *.sh ]]; then
        timeout -k 10 600 "${iso[@]}" bash "$t" >"$log" 2>&1
        rc=$?
    else
        timeout -k 10 600 "${iso[@]}" "$t" "${args[@]}" >"$log" 2>&1
        rc=$?
    fi
    echo "$rc $(( $(date +%s) - start ))" >"$log.rc.tmp" && mv "$log.rc.tmp" "$log.rc"
}

report() { # INDEX: the test's lines and its row, counted
    local name=${names[$1]} log="$log_dir/${names[$1]}.log" rc secs p f s
    read -r rc secs <"$log.rc"
    p=$(grep -c '^PASS: ' "$log")
    f=$(grep -c '^FAIL: ' "$log")
    s=$(grep -c '^SKIP: ' "$log")
    grep -E '^(FAIL|SKIP): ' "$log" | sed "s|^|  $name: |"
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
        echo "  $name: FAIL: exited with status $rc without reporting a failure; last lines:"
        tail -n 15 "$log" | sed 's/^/    | /'
        f=1
    fi
    pass=$((pass + p)) fail=$((fail + f)) skip=$((skip + s))
    printf '%-32s %3d passed %3d failed %3d skipped (%ds)\n' "$name" "$p" "$f" "$s" "$secs"
}

for i in "${!names[@]}"; do rm -f "$log_dir/${names[$i]}.log.rc"; done
declare -A running=() # index -> pid
# Stopped (make check interrupted, CI's timeout): the tests running stop too.
trap 'for pid in "${running[@]}"; do pkill -TERM -P "$pid"; kill "$pid"; done 2>/dev/null; exit 130' INT TERM
reported=0
flush_done() { # reports, in order, what ended
    while [ "$reported" -lt ${#names[@]} ] && [ -f "$log_dir/${names[$reported]}.log.rc" ]; do
        report "$reported"
        reported=$((reported + 1))
    done
}
reap() { # forgets the jobs that ended
    local i
    for i in "${!running[@]}"; do
        [ -f "$log_dir/${names[$i]}.log.rc" ] && { wait "${running[$i]}" 2>/dev/null; unset "running[$i]"; }
    done
    flush_done
}
busy() { # CLASS: something running keeps a job of CLASS from starting
    local i
    [ ${#running[@]} -ge "$JOBS" ] && return 0
    [ "$1" = alone ] && [ ${#running[@]} -gt 0 ] && return 0
    for i in "${!running[@]}"; do
        [ "${classes[$i]}" = alone ] && return 0
        [ "$1" = builds ] && [ "${classes[$i]}" = builds ] && return 0
    done
    return 1
}
# The start order: alone, then builds, then the rest, each in list order
# (one at a time: the list order).
queue=()
if [ "$JOBS" -eq 1 ]; then
    queue=("${!names[@]}")
else
    for class in alone builds any; do
        for i in "${!names[@]}"; do [ "${classes[$i]}" = "$class" ] && queue+=("$i"); done
    done
fi
while [ ${#queue[@]} -gt 0 ]; do
    # The first queued job that may start now; a builds job waits for its
    # turn without holding up the others.
    pick=-1
    for k in "${!queue[@]}"; do
        if ! busy "${classes[${queue[$k]}]}"; then
            pick=$k
            break
        fi
    done
    if [ "$pick" -lt 0 ]; then
        wait -n 2>/dev/null || sleep 0.1
        reap
        continue
    fi
    i=${queue[$pick]}
    unset "queue[$pick]"
    queue=("${queue[@]}")
    if [ "$JOBS" -eq 1 ]; then
        run_one "$i"
        flush_done
    else
        run_one "$i" &
        running[$i]=$!
    fi
done
while [ ${#running[@]} -gt 0 ]; do
    wait -n 2>/dev/null || sleep 0.1
    reap
done
flush_done
echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
