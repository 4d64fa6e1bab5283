#!/bin/bash
# t_client_meta.sh - test_client's whole suite again, every client speaking
# the meta protocol (MCF_OPT_PROTOCOL = MCF_PROTO_META).  Its PASS/FAIL/SKIP
# lines are counted by tests/run.sh.
set -u
cd "$(dirname "$0")/.." || exit 1
BIN=${MCF_BUILD:-build}/tests/test_client
if ! [ -x "$BIN" ]; then
    echo "SKIP: t_client_meta: $BIN not built"
    exit 0
fi
MCF_TEST_PROTOCOL=meta exec "$BIN"
