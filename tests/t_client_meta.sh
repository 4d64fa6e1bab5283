#!/bin/bash
# t_client_meta.sh - the test_client_* programs' whole suite again, every
# client speaking the meta protocol (MCF_OPT_PROTOCOL = MCF_PROTO_META).
# Their PASS/FAIL/SKIP lines are counted by tests/run.sh.
set -u
cd "$(dirname "$0")/.." || exit 1
B=${MCF_BUILD:-build}
rc=0 ran=0
for src in tests/test_client_*.c; do
    bin=$B/tests/$(basename "$src" .c)
    [ -x "$bin" ] || continue
    ran=$((ran + 1))
    MCF_TEST_PROTOCOL=meta "$bin" || rc=1
done
if [ "$ran" -eq 0 ]; then
    echo "SKIP: t_client_meta: no test_client_* program built in $B"
    exit 0
fi
exit "$rc"
