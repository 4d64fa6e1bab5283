#!/bin/bash
# t_cli_bench.sh - `mcfast bench` against a real memcached: the timed run
# and its summary, --requests N --json (the JSON parses, the count is
# exact, hits + misses add up, the histogram holds every request) and the
# server's own counters (cmd_get, cmd_set, get_hits, get_misses) moved by
# exactly what bench reports.  Speed is printed, never asserted.
set -u
cd "$(dirname "$0")/.." || exit 1
BIN=${MCF_BUILD:-build}/mcfast

. tests/lib.sh
needs_cli cli_bench
needs_tools cli_bench memcached python3
T=$(mktemp -d "${TMPDIR:-/tmp}/mcfast-cli-bench.XXXXXX") || exit 1
trap 'mc_stop_all; rm -rf "$T"' EXIT
mc_start_tcp 127.0.0.1 || { fail cli_bench_setup "cannot start memcached"; exit 1; }
S=127.0.0.1:$MC_PORT

# stat NAME: the server's counter now.
stat() {
    "$BIN" --servers "$S" stats | awk -v n="$1" '$2 == n { print $3 }'
}

# jget FILE EXPR: a Python expression over the JSON object j.
jget() {
    python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"
}

# ---- a timed run: the text summary
"$BIN" --servers "$S" bench --duration 2 --keys 2000 --concurrency 16 >"$T/timed.out" 2>"$T/timed.err"
rc=$?
if [ $rc -eq 0 ] && grep -q '^prepopulating 2000 keys' "$T/timed.out" &&
    grep -q '^prepopulated 2000 keys' "$T/timed.out" &&
    grep -qE '^requests +[0-9]+ in [0-9.]+ s: [0-9]+ ops/s$' "$T/timed.out" &&
    grep -qE '^latency +p50 .* p99 .* p999 ' "$T/timed.out" &&
    grep -q '^latency histogram' "$T/timed.out"; then
    pass "cli_bench_duration ($(grep '^requests' "$T/timed.out"))"
else
    fail cli_bench_duration "exit $rc: $(head -c 600 "$T/timed.out" "$T/timed.err" | tr '\n' '|')"
fi
# Not a terminal: no live line (no carriage returns, no escapes).
if ! grep -q $'[\r\033]' "$T/timed.out"; then
    pass cli_bench_no_live_line_off_tty
else
    fail cli_bench_no_live_line_off_tty "escape or CR in the output of a pipe"
fi
# The histogram's rows count every request of the run.
total=$(awk '/^requests/ { print $2 }' "$T/timed.out")
rows=$(awk '/^latency histogram/ { on = 1; next } on { s += $4 } END { print s + 0 }' "$T/timed.out")
if [ -n "$total" ] && [ "$total" -gt 0 ] && [ "$rows" = "$total" ]; then
    pass cli_bench_histogram_rows_add_up
else
    fail cli_bench_histogram_rows_add_up "rows $rows, requests $total"
fi

# ---- --requests N --json: exact counts, against the server's counters
N=20000 KEYS=5000
get0=$(stat cmd_get) set0=$(stat cmd_set) hits0=$(stat get_hits) miss0=$(stat get_misses)
"$BIN" --servers "$S" bench --requests $N --keys $KEYS --json >"$T/r.json" 2>"$T/r.err"
rc=$?
get1=$(stat cmd_get) set1=$(stat cmd_set) hits1=$(stat get_hits) miss1=$(stat get_misses)
if [ $rc -eq 0 ] && jget "$T/r.json" 'j["requests"]' >/dev/null 2>&1; then
    pass cli_bench_json_parses
else
    fail cli_bench_json_parses "exit $rc: $(head -c 400 "$T/r.json" "$T/r.err" | tr '\n' '|')"
fi
if [ "$(jget "$T/r.json" 'j["requests"] == j["gets"] + j["sets"] == '$N)" = True ]; then
    pass "cli_bench_requests_exact ($(jget "$T/r.json" 'int(j["ops_per_s"])') ops/s)"
else
    fail cli_bench_requests_exact "$(jget "$T/r.json" '(j["requests"], j["gets"], j["sets"])') != $N"
fi
if [ "$(jget "$T/r.json" 'j["hits"] + j["misses"] + j["get_errors"] == j["gets"] and j["get_errors"] + j["set_errors"] == 0')" = True ]; then
    pass cli_bench_hits_misses_add_up
else
    fail cli_bench_hits_misses_add_up "$(jget "$T/r.json" '(j["gets"], j["hits"], j["misses"], j["get_errors"], j["set_errors"])')"
fi
if [ "$(jget "$T/r.json" 'sum(b["count"] for b in j["histogram_ns"]) == j["latency_us"]["all"]["count"] == '$N)" = True ]; then
    pass cli_bench_json_histogram_complete
else
    fail cli_bench_json_histogram_complete "$(jget "$T/r.json" 'sum(b["count"] for b in j["histogram_ns"])') != $N"
fi
# The server saw what bench says: every get key (cmd_get counts keys, also
# inside a multi-get), every set plus the prepopulation's.
want=$(jget "$T/r.json" '"%d %d %d %d" % (j["gets"], j["sets"] + j["prepopulated"], j["hits"], j["misses"])')
got="$((get1 - get0)) $((set1 - set0)) $((hits1 - hits0)) $((miss1 - miss0))"
if [ "$want" = "$got" ] && [ "$(jget "$T/r.json" 'j["prepopulated"]')" = $KEYS ]; then
    pass "cli_bench_server_counters_match (cmd_get cmd_set get_hits get_misses: $got)"
else
    fail cli_bench_server_counters_match "bench says $want, server moved by $got"
fi

# ---- no prepopulation on an empty server: gets miss until a set lands
"$BIN" --servers "$S" flush >/dev/null
miss0=$(stat get_misses) hits0=$(stat get_hits)
"$BIN" --servers "$S" bench --requests 3000 --keys 100000 --no-populate --ratio 1:1 \
    --key-dist zipf --zipf-s 1.2 --concurrency 8 --json >"$T/np.json" 2>"$T/np.err"
rc=$?
miss1=$(stat get_misses) hits1=$(stat get_hits)
if [ $rc -eq 0 ] &&
    [ "$(jget "$T/np.json" 'j["prepopulated"] == 0 and j["misses"] > 0 and j["requests"] == 3000 and j["key_dist"] == "zipf"')" = True ] &&
    [ "$(jget "$T/np.json" '"%d %d" % (j["misses"], j["hits"])')" = "$((miss1 - miss0)) $((hits1 - hits0))" ]; then
    pass "cli_bench_no_populate_misses ($(jget "$T/np.json" 'j["hits"]') hits, $(jget "$T/np.json" 'j["misses"]') misses)"
else
    fail cli_bench_no_populate_misses "exit $rc: $(head -c 300 "$T/np.json" "$T/np.err" | tr '\n' '|')"
fi

# ---- a server that is not there: every request is an error, exit 2
"$BIN" --servers 127.0.0.1:1 bench --requests 50 --no-populate --json >"$T/dead.json" 2>"$T/dead.err"
rc=$?
if [ $rc -eq 2 ] && [ "$(jget "$T/dead.json" 'j["get_errors"] + j["set_errors"] == 50 and j["hits"] == 0')" = True ] &&
    grep -q 'refused' "$T/dead.err"; then
    pass cli_bench_dead_server_errors
else
    fail cli_bench_dead_server_errors "exit $rc: $(head -c 300 "$T/dead.json" "$T/dead.err" | tr '\n' '|')"
fi

# ---- a value the library refuses (over its 1 MiB default): one failed
# request, nothing sent, the bench stops with the reason
set0=$(stat cmd_set)
"$BIN" --servers "$S" bench --requests 100 --no-populate --ratio 0:1 --value-size 2000000 \
    --json >"$T/big.json" 2>"$T/big.err"
rc=$?
if [ $rc -eq 2 ] && [ "$(jget "$T/big.json" 'j["requests"] == j["sets"] == j["set_errors"] == 1')" = True ] &&
    [ "$(stat cmd_set)" = "$set0" ] && grep -q 'max value size' "$T/big.err"; then
    pass cli_bench_refused_value_stops
else
    fail cli_bench_refused_value_stops "exit $rc: $(head -c 300 "$T/big.json" "$T/big.err" | tr '\n' '|')"
fi

# ---- usage errors
bad=0
for args in "--ratio 9" "--ratio a:b" "--ratio 0:0" "--keys 0" "--concurrency 0" \
    "--duration 1 --requests 5" "--zipf-s 1.1" "--key-dist normal" "--duration -1" \
    "--bogus" "extra"; do
    # shellcheck disable=SC2086
    "$BIN" --servers "$S" bench $args >/dev/null 2>"$T/usage.err"
    rc=$?
    if [ $rc -ne 64 ] || ! grep -q '^mcfast: bench: ' "$T/usage.err"; then
        fail cli_bench_usage "bench $args: exit $rc, $(head -1 "$T/usage.err")"
        bad=1
    fi
done
[ $bad -eq 0 ] && pass cli_bench_usage
exit 0
