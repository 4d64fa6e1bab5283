#!/bin/bash
# t_cli_placement.sh - `mcfast server-for` and `mcfast ring`: the server
# server-for names is the one `mcfast set` stored the key on (asked of each
# real memcached directly), ring's table and --add/--remove figures (ketama
# moves about 1/(N+1), modula most keys), --svg writes well-formed SVG, and
# the usage errors.
set -u
cd "$(dirname "$0")/.." || exit 1
BIN=${MCF_BUILD:-build}/mcfast
. tests/lib.sh
T=$(mktemp -d "${TMPDIR:-/tmp}/mcfast-placement.XXXXXX") || exit 1
trap 'mc_stop_all; rm -rf "$T"' EXIT
needs_cli placement

# ------------------------------------------------ server-for against real servers
if ! command -v memcached >/dev/null; then
    echo "SKIP: placement_server_for_real: memcached is not installed"
else
    S=()
    for _ in 1 2 3; do
        mc_start_tcp 127.0.0.1 || exit 1
        S+=("127.0.0.1:$MC_PORT")
    done
    LIST="${S[0]},${S[1]}:2,${S[2]}"
    for dist in modula ketama libmemcached ketama-libmemcached ketama-libmemcached-unweighted \
        pymemcache nutcracker nutcracker-modula; do
        bad=0
        for i in $(seq 1 30); do
            key="k$dist$i"
            "$BIN" --servers "$LIST" --distribution "$dist" set "$key" v || bad=1
            out=$("$BIN" --servers "$LIST" --distribution "$dist" server-for "$key")
            srv=${out#"$key "}
            # The key is on that server and on no other.
            for s in "${S[0]}" "${S[1]}" "${S[2]}"; do
                got=$("$BIN" --servers "$s" get "$key" 2>/dev/null)
                if [ "$s" = "$srv" ] && [ "$got" != v ]; then bad=1; fi
                if [ "$s" != "$srv" ] && [ -n "$got" ]; then bad=1; fi
            done
        done
        if [ $bad = 0 ]; then
            pass "placement_server_for_$dist"
        else
            fail "placement_server_for_$dist" "a key was not where server-for said (last: $out)"
        fi
    done
fi

# ------------------------------------------------ server-for output, no servers needed
L4="10.0.0.1:11211,10.0.0.2:11211,10.0.0.3:11211,10.0.0.4:11211"
out=$("$BIN" --servers "$L4" server-for a b c)
if [ "$(echo "$out" | wc -l)" = 3 ] && echo "$out" | grep -q '^a 10\.0\.0\.[1-4]:11211$'; then
    pass placement_server_for_lines
else
    fail placement_server_for_lines "$out"
fi
out=$("$BIN" --servers "$L4" --hash md5 server-for a 2>&1)
rc=$?
if [ $rc = 2 ] && [[ $out == *"fixed hash"* ]]; then
    pass placement_hash_refused_with_reason
else
    fail placement_hash_refused_with_reason "rc=$rc $out"
fi
out=$("$BIN" --servers "$L4" --distribution libmemcached --hash fnv1a_32 server-for foobar)
# fnv1a_32("foobar") = 0xbf9cf968 (the FNV spec's vector); % 4 = 0
if [ "$out" = "foobar 10.0.0.1:11211" ]; then
    pass placement_server_for_hash
else
    fail placement_server_for_hash "$out"
fi

# ------------------------------------------------ ring
out=$("$BIN" --servers "$L4" --distribution ketama-libmemcached ring --keys 20000)
rows=$(echo "$out" | grep -c '^10\.0\.0\.')
sum=$(echo "$out" | awk '/^10\.0\.0\./ { s += $3 } END { print s }')
if [ "$rows" = 4 ] && [ "$sum" = 20000 ] && echo "$out" | grep -q 'ring share'; then
    pass placement_ring_table
else
    fail placement_ring_table "$out"
fi
# Consistent hashing moves about 1/(N+1) = 20% for a fifth server; modula
# about N/(N+1) = 80%.  (Sample keys are fixed, so the figures are too.)
moved() { echo "$1" | sed -n 's/^moved: [0-9]* of [0-9]* keys (\([0-9.]*\)%).*/\1/p'; }
for dist in ketama ketama-libmemcached ketama-libmemcached-unweighted nutcracker pymemcache; do
    out=$("$BIN" --servers "$L4" --distribution $dist ring --add 10.0.0.5:11211)
    m=$(moved "$out")
    if [ -n "$m" ] && awk -v m="$m" 'BEGIN { exit !(m > 14 && m < 26) }' &&
        echo "$out" | grep -q 'ideal: 20.00% (1/(N+1) = 1/5)'; then
        pass "placement_ring_add_$dist ($m% moved)"
    else
        fail "placement_ring_add_$dist" "$out"
    fi
done
for dist in modula libmemcached nutcracker-modula; do
    out=$("$BIN" --servers "$L4" --distribution $dist ring --add 10.0.0.5:11211)
    m=$(moved "$out")
    if [ -n "$m" ] && awk -v m="$m" 'BEGIN { exit !(m > 70) }'; then
        pass "placement_ring_add_$dist ($m% moved)"
    else
        fail "placement_ring_add_$dist" "$out"
    fi
done
out=$("$BIN" --servers "$L4" --distribution ketama ring --remove 10.0.0.2:11211)
m=$(moved "$out")
share=$(echo "$out" | awk '/^10\.0\.0\.2:11211/ { sub("%", "", $4); print $4; exit }')
# Removing a server moves exactly its keys under consistent hashing.
if [ -n "$m" ] && [ "$m" = "$share" ]; then
    pass "placement_ring_remove_moves_its_keys ($m%)"
else
    fail placement_ring_remove_moves_its_keys "moved $m, share $share: $out"
fi

# --svg: well-formed, a ring of arcs for ketama, bars for all.
if "$BIN" --servers "$L4,/tmp/x&y.sock:2" --distribution ketama ring --keys 5000 --svg "$T/r.svg" \
    >/dev/null &&
    /usr/bin/python3 -c 'import sys, xml.dom.minidom as m; d = m.parse(sys.argv[1]); sys.exit(not d.getElementsByTagName("path") or len(d.getElementsByTagName("rect")) != 6)' "$T/r.svg"; then
    pass placement_ring_svg
else
    fail placement_ring_svg "$(head -c 300 "$T/r.svg" 2>&1)"
fi

# ------------------------------------------------ usage errors: exit 64
usage() { # NAME ARGS...
    local name=$1 out rc
    shift
    out=$("$BIN" "$@" 2>&1)
    rc=$?
    if [ $rc = 64 ]; then pass "$name"; else fail "$name" "rc=$rc $out"; fi
}
usage placement_ring_remove_unknown --servers "$L4" ring --remove 10.9.9.9:11211
usage placement_ring_add_existing --servers "$L4" ring --add 10.0.0.1:11211
usage placement_ring_keys_zero --servers "$L4" ring --keys 0
usage placement_ring_unknown_option --servers "$L4" ring --bogus 1
usage placement_ring_remove_last --servers 10.0.0.1 ring --remove 10.0.0.1
usage placement_bad_distribution --servers "$L4" --distribution bogus server-for a
usage placement_bad_hash --servers "$L4" --hash sha1 server-for a
usage placement_server_for_no_key --servers "$L4" server-for
exit 0
