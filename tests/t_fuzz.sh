#!/bin/bash
# t_fuzz.sh - builds the libFuzzer targets (fuzz/fuzz_*.c), replays their
# seed corpora and every saved regression input, then fuzzes each target
# for FUZZ_SECONDS (default 10) seconds.  PASS:/FAIL:/SKIP: lines for
# tests/run.sh.  SKIP when clang or libFuzzer is not available.
# run.sh: builds (make in the tree)
# run.sh: unsanitized (its builds ignore SANITIZE; see run.sh)
set -u
cd "$(dirname "$0")/.." || exit 1
B=${MCF_BUILD:-build}
FUZZ_SECONDS=${FUZZ_SECONDS:-10}
export B FUZZ_SECONDS

pass() { echo "PASS: $1"; }
fail() { echo "FAIL: $1: $2"; }
skip() { echo "SKIP: $1: $2"; }

if ! command -v clang >/dev/null 2>&1; then
    skip fuzz "clang is not installed (the fuzz targets need clang's libFuzzer)"
    exit 0
fi
probe=$(mktemp -d "${TMPDIR:-/tmp}/mcfast-fuzzprobe.XXXXXX") || exit 1
trap 'rm -rf "$probe"' EXIT
printf '#include <stddef.h>\n#include <stdint.h>\nint LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);\nint LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { (void)d; (void)n; return 0; }\n' >"$probe/p.c"
if ! clang -fsanitize=fuzzer,address,undefined -o "$probe/p" "$probe/p.c" >"$probe/log" 2>&1; then
    skip fuzz "clang cannot link -fsanitize=fuzzer,address,undefined (libFuzzer missing): $(head -n 1 "$probe/log")"
    exit 0
fi

if ! make -s fuzz-build B="$B" >"$probe/build.log" 2>&1; then
    fail fuzz_build "make fuzz-build B=$B failed:"
    tail -n 20 "$probe/build.log" | sed 's/^/    | /'
    exit 1
fi
pass fuzz_build

for src in fuzz/fuzz_*.c; do
    t=$(basename "$src" .c)
    name=${t#fuzz_}
    bin=$B/fuzz/$t
    inputs=()
    for d in "fuzz/corpus/$name" "fuzz/regressions/$name"; do
        [ -d "$d" ] || continue
        while IFS= read -r -d '' f; do
            inputs+=("$f")
        done < <(find "$d" -maxdepth 1 -type f ! -name '.*' -print0 | sort -z)
    done
    if [ ${#inputs[@]} -eq 0 ]; then
        fail "fuzz_replay_$name" "no corpus in fuzz/corpus/$name"
    elif "$bin" -timeout=10 -artifact_prefix="$probe/" "${inputs[@]}" >"$probe/replay-$name.log" 2>&1; then
        pass "fuzz_replay_$name (${#inputs[@]} corpus and regression inputs)"
    else
        fail "fuzz_replay_$name" "an input crashed $bin or broke an invariant:"
        grep -E 'Running:|ERROR|invariant|SUMMARY|runtime error' "$probe/replay-$name.log" |
            tail -n 20 | sed 's/^/    | /'
    fi

    out=$(fuzz/run.sh "$t" 2>&1)
    if [ $? -eq 0 ]; then
        pass "fuzz_run_$name: $(echo "$out" | tail -n 1 | sed "s/^$t: //")"
    else
        fail "fuzz_run_$name" "fuzzing for ${FUZZ_SECONDS}s found a problem:"
        echo "$out" | sed 's/^/    | /'
    fi
done
