#!/bin/bash
# cli_vs_memcaslap.sh - `mcfast bench` against memcaslap (memaslap, Debian
# libmemcached-tools) on the same fresh memcached servers, the same
# workload and the same number of requests in flight.  Prints one line per
# workload:
#   bench: cli WORKLOAD mcfast=X ops/s memcaslap=Y ops/s ratio=R
# (R = X / Y).  Both are one thread: memcaslap -T 1 with -c N connections,
# each with one request at a time; mcfast bench one client with N requests
# in flight through the async API.
#
#   B=build            where build/mcfast is
#   DURATION=5         seconds per run
#   SERVERS=1          memcached servers (memcached -t 2 -m 1024 each)
#   WORKLOADS="..."    NAME:GET:SET:CONCURRENCY:KEYS:VALUE_SIZE items
#   ROUNDS=1           runs of each tool per workload, alternating; the best
#                      of each is reported (the machine is shared)
set -u
cd "$(dirname "$0")/.." || exit 1
B=${B:-build}
DURATION=${DURATION:-5}
SERVERS=${SERVERS:-1}
ROUNDS=${ROUNDS:-1}
WORKLOADS=${WORKLOADS:-"get90_c16:9:1:16:100000:100 get90_c64:9:1:64:100000:100 get90_c256:9:1:256:100000:100 set50_c64:1:1:64:100000:100 get90_c64_v4k:9:1:64:10000:4096"}
# memcached's own worker threads: the machine's 2 cores leave the clients one.
MC_THREADS=2
MC_MEGABYTES=1024
# mcfast bench's keys: "mcfast-bench:" and the zero-padded index.
KEY_PREFIX_LEN=13

MCFAST=$B/mcfast
if [ ! -x "$MCFAST" ]; then
    echo "cli_vs_memcaslap: $MCFAST not built (make)" >&2
    exit 1
fi
for tool in memcached memcaslap python3; do
    if ! command -v "$tool" >/dev/null; then
        echo "cli_vs_memcaslap: $tool is not installed (scripts/bootstrap.sh check)" >&2
        exit 1
    fi
done

# shellcheck source=../tests/lib.sh
. tests/lib.sh
T=$(mktemp -d "${TMPDIR:-/tmp}/mcfast-cli-bench.XXXXXX") || exit 1
trap 'mc_stop_all; rm -rf "$T"' EXIT

list=""
for _ in $(seq 1 "$SERVERS"); do
    mc_start_tcp 127.0.0.1 -t "$MC_THREADS" -m "$MC_MEGABYTES" || exit 1
    list="$list${list:+,}127.0.0.1:$MC_PORT"
done

# ops/s of one memcaslap run: its last line is
# "Run time: 5.0s Ops: 383360 TPS: 76655 Net_rate: 11.5M/s".
run_memcaslap() { # get set concurrency keys value_size
    local last=$(($4 - 1))
    local keylen=$((KEY_PREFIX_LEN + ${#last}))
    # memaslap's configuration: key and value sizes (min max share) and the
    # command mix (0 set, 1 get, as shares).
    python3 - "$1" "$2" "$keylen" "$5" >"$T/memcaslap.cfg" <<'EOF'
import sys
g, s, keylen, vsize = (int(a) for a in sys.argv[1:])
print("key\n%d %d 1\nvalue\n%d %d 1\ncmd\n0 %.4f\n1 %.4f" % (keylen, keylen, vsize, vsize, s / (g + s), g / (g + s)))
EOF
    memcaslap -s "$list" -T 1 -c "$3" -t "${DURATION}s" -F "$T/memcaslap.cfg" >"$T/memcaslap.out" 2>&1
    grep -o 'TPS: [0-9]*' "$T/memcaslap.out" | tail -1 | awk '{print $2}'
}

run_mcfast() { # get set concurrency keys value_size
    "$MCFAST" --servers "$list" bench --ratio "$1:$2" --concurrency "$3" --keys "$4" \
        --value-size "$5" --duration "$DURATION" --json 2>"$T/mcfast.err" >"$T/mcfast.json"
    python3 -c 'import json,sys; print(int(json.load(open(sys.argv[1]))["ops_per_s"]))' "$T/mcfast.json"
}

best() { # a b: the larger (empty counts as 0)
    if [ "${1:-0}" -ge "${2:-0}" ]; then echo "${1:-0}"; else echo "${2:-0}"; fi
}

echo "cli_vs_memcaslap: $SERVERS server(s) $list, ${DURATION}s per run, $ROUNDS round(s)"
status=0
for w in $WORKLOADS; do
    IFS=: read -r name g s conc keys vsize <<<"$w"
    ms=0 mf=0
    for _ in $(seq 1 "$ROUNDS"); do
        "$MCFAST" --servers "$list" flush >/dev/null
        ms=$(best "$ms" "$(run_memcaslap "$g" "$s" "$conc" "$keys" "$vsize")")
        "$MCFAST" --servers "$list" flush >/dev/null
        mf=$(best "$mf" "$(run_mcfast "$g" "$s" "$conc" "$keys" "$vsize")")
    done
    if [ "$ms" -eq 0 ] || [ "$mf" -eq 0 ]; then
        echo "bench: cli $name failed: memcaslap: $(tail -2 "$T/memcaslap.out" | tr '\n' ' ') mcfast: $(tail -2 "$T/mcfast.err" | tr '\n' ' ')"
        status=1
        continue
    fi
    ratio=$(awk -v a="$mf" -v b="$ms" 'BEGIN { printf "%.2f", a / b }')
    echo "bench: cli $name mcfast=$mf ops/s memcaslap=$ms ops/s ratio=$ratio"
done
exit $status
