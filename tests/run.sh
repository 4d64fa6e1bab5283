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

for t in "${progs[@]}"; do
    name=$(basename "$t")
    selected "$name" || continue
    args=()
    [ -n "${TESTS:-}" ] && [ "${want[$name]}" != all ] && read -ra args <<<"${want[$name]}"
    log="$log_dir/$name.log"
    if [ -n "${SANITIZE:-}" ] && [[ "$t" == *.sh ]] && grep -q '^# run.sh: unsanitized' "$t"; then
        echo "  $name: SKIP: its builds ignore SANITIZE=$SANITIZE; the plain make check runs it"
        skip=$((skip + 1))
        printf '%-32s %3d passed %3d failed %3d skipped (%ds)\n' "$name" 0 0 1 0
        continue
    fi
    start=$(date +%s)
    if [[ "$t" == *.sh ]]; then
        timeout -k 10 600 bash "$t" >"$log" 2>&1
    else
        timeout -k 10 600 "$t" "${args[@]}" >"$log" 2>&1
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
