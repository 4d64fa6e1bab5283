#!/bin/bash
# t_cli_fleet.sh - `mcfast stats --fleet` against two real memcached and a
# dead address: a row per server and a TOTAL row; items, hits and misses
# equal what the test stored and read (and what each memcached's own
# `stats` says); the round-trip count is the number of rounds; the dead
# row names its cause; --json gives the same figures, the total the sum;
# the exit code says whether every server answered.
set -u
cd "$(dirname "$0")/.." || exit 1
BIN=${MCF_BUILD:-build}/mcfast

. tests/lib.sh
needs_cli cli_fleet
needs_tools cli_fleet memcached python3 # python3 reads the --json output
T=$(mktemp -d "${TMPDIR:-/tmp}/mcfast-cli-fleet.XXXXXX") || exit 1
cleanup() {
    mc_stop_all
    rm -rf "$T"
}
trap cleanup EXIT
mc_start_tcp 127.0.0.1 || { fail cli_fleet_setup "cannot start memcached"; exit 1; }
A=127.0.0.1:$MC_PORT
mc_start_tcp 127.0.0.1 || { fail cli_fleet_setup "cannot start memcached"; exit 1; }
B=127.0.0.1:$MC_PORT
DEAD=127.0.0.1:1 # nothing listens on port 1: connection refused
LIVE=$A,$B
NKEYS=40
ROUNDS=3

# Traffic: NKEYS keys stored, each read once, and 10 absent keys read.
keys=()
for i in $(seq 1 $NKEYS); do keys+=("fleet:$i"); done
for k in "${keys[@]}"; do "$BIN" --servers "$LIVE" set "$k" "v-$k" >/dev/null || exit 1; done
"$BIN" --servers "$LIVE" get "${keys[@]}" >/dev/null
absent=()
for i in $(seq 1 10); do absent+=("fleet-absent:$i"); done
"$BIN" --servers "$LIVE" get "${absent[@]}" >/dev/null 2>&1

# A memcached's own figure: stat SPEC NAME.
stat() { "$BIN" --servers "$1" stats | awk -v n="$2" '$2 == n { print $3 }'; }

# ---- text: every server answered
RC=0
"$BIN" --servers "$LIVE" stats --fleet --rounds $ROUNDS >"$T/out" 2>"$T/err" || RC=$?
check cli_fleet_all_up_exit 0
if [ "$(head -1 "$T/out" | awk '{ print $1, $2, $3 }')" = "SERVER STATE RTT_P50" ] &&
    grep -qE "^$A +up " "$T/out" && grep -qE "^$B +up " "$T/out" &&
    grep -qE '^TOTAL +2/2 ' "$T/out"; then
    pass cli_fleet_rows
else
    fail cli_fleet_rows "$(cat "$T/out")"
fi
# ITEMS is column 5 of a row; TOTAL's is the sum, and NKEYS.
ia=$(grep -E "^$A " "$T/out" | awk '{ print $5 }')
ib=$(grep -E "^$B " "$T/out" | awk '{ print $5 }')
it=$(grep -E '^TOTAL ' "$T/out" | awk '{ print $5 }')
if [ "$ia" = "$(stat "$A" curr_items)" ] && [ "$ib" = "$(stat "$B" curr_items)" ] &&
    [ "$it" = "$NKEYS" ] && [ $((ia + ib)) = "$it" ]; then
    pass cli_fleet_items
else
    fail cli_fleet_items "items $ia + $ib, total $it, want $NKEYS"
fi

# ---- --json: the same figures, and the client's counts
RC=0
"$BIN" --json --servers "$LIVE,$DEAD" stats --fleet --rounds $ROUNDS >"$T/json" 2>"$T/err" ||
    RC=$?
if [ "$RC" = 2 ]; then
    pass cli_fleet_down_exit
else
    fail cli_fleet_down_exit "exit $RC, want 2 (a server is down): $(cat "$T/err")"
fi
if python3 - "$T/json" "$A" "$B" "$DEAD" "$NKEYS" "$ROUNDS" >"$T/py" 2>&1 <<'EOF'
import json, sys
path, a, b, dead, nkeys, rounds = sys.argv[1:7]
rows = [json.loads(line) for line in open(path)]
by = {r.get("server"): r for r in rows if "server" in r}
total = [r for r in rows if r.get("total")]
assert len(rows) == 4 and len(total) == 1, rows
total = total[0]
for s in (a, b):
    r = by[s]
    assert r["state"] == "up", r
    # one round trip per round, each timed
    assert r["client"]["rtt_count"] == int(rounds), r
    assert 0 < r["client"]["rtt_p50_us"] <= r["client"]["rtt_max_us"], r
    assert r["client"]["connects"] == 1, r
d = by[dead]
assert d["state"] == "down" and "connection refused" in d["error"] and dead in d["error"], d
assert d["client"]["rtt_count"] == 0, d
assert total["servers_up"] == 2, total
for f in ("curr_items", "get_hits", "get_misses", "cmd_set"):
    assert total[f] == by[a][f] + by[b][f], (f, total, by[a], by[b])
assert total["curr_items"] == int(nkeys), total
# the traffic above: every stored key read once (hits), 10 absent (misses)
assert total["get_hits"] == int(nkeys) and total["get_misses"] == 10, total
assert total["client"]["rtt_count"] == 2 * int(rounds), total
print("ok")
EOF
then
    pass cli_fleet_json
else
    fail cli_fleet_json "$(tail -5 "$T/py")"
fi

# ---- usage
RC=0
"$BIN" --servers "$LIVE" stats --fleet --rounds 0 >"$T/out" 2>"$T/err" || RC=$?
check cli_fleet_bad_rounds 64
