#!/bin/bash
# t_compat_nutcracker.sh - mcfast picks the server a twemproxy (nutcracker)
# pool picks: real nutcracker with a YAML pool in front of real memcached
# servers, 10,000 keys (a third with UTF-8 characters) set through it, then
# each server asked directly which keys it holds.  distribution ketama
# (nutcracker's default) and modula with its default hash fnv1a_64, 1 to 5
# servers, weighted and unweighted, TCP with unix sockets, and every other
# hash nutcracker has.  SKIP when nutcracker is not installed.
set -u
cd "$(dirname "$0")/.."
COMPAT_NAME=nutcracker
. tests/compat/lib.sh
if ! command -v nutcracker >/dev/null; then
    echo "SKIP: nutcracker: nutcracker not installed"
    exit 0
fi
compat_start 5 2 || exit 0
compat_keys 10000 --utf8

free_port() { $PY -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# nc_store DIST HASH KEYFILE ADDR[=W]...: a nutcracker pool of those servers
# (hash "-": its default), every key set through it, nutcracker stopped.
nc_store() {
    local dist=$1 hash=$2 keys=$3 port sport a pid rc=0
    shift 3
    port=$(free_port) sport=$(free_port)
    {
        echo "pool:"
        echo "  listen: 127.0.0.1:$port"
        echo "  distribution: $dist"
        [ "$hash" != - ] && echo "  hash: $hash"
        echo "  timeout: 2000"
        echo "  servers:"
        for a in "$@"; do
            w=${a##*=}
            [ "$w" = "$a" ] && w=1
            echo "   - ${a%=*}:$w"
        done
    } >"$compat_work/nc.yml"
    nutcracker -c "$compat_work/nc.yml" -s "$sport" -a 127.0.0.1 -o "$compat_work/nc.log" \
        -p "$compat_work/nc.pid" >/dev/null 2>&1 &
    pid=$!
    for _ in $(seq 100); do
        (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
        kill -0 $pid 2>/dev/null || break
        sleep 0.05
    done
    "$TOOL" store "127.0.0.1:$port" "$keys" || rc=1
    kill $pid 2>/dev/null
    wait $pid 2>/dev/null
    [ $rc = 0 ] || tail -3 "$compat_work/nc.log" >&2
    return $rc
}

for n in 1 2 3 4 5; do
    compat_servers $n
    compat_run "nutcracker ketama, $n servers" "nc_store ketama -" "--mode nutcracker" "${SERVERS[@]}"
    compat_run "nutcracker modula, $n servers" "nc_store modula -" "--mode nutcracker-modula" \
        "${SERVERS[@]}"
    [ $n -ge 2 ] || continue
    compat_servers $n "$COMPAT_WEIGHTS"
    compat_run "nutcracker ketama, $n servers weighted" "nc_store ketama -" "--mode nutcracker" \
        "${SERVERS[@]}"
    compat_run "nutcracker modula, $n servers weighted" "nc_store modula -" \
        "--mode nutcracker-modula" "${SERVERS[@]}"
done
MIXED=("${TCP[0]}=1" "${UNIX[0]}=2" "${TCP[1]}=1" "${UNIX[1]}=3")
compat_run "nutcracker ketama, TCP + unix, weights 1,2,1,3" "nc_store ketama -" "--mode nutcracker" \
    "${MIXED[@]}"
compat_run "nutcracker modula, TCP + unix, weights 1,2,1,3" "nc_store modula -" \
    "--mode nutcracker-modula" "${MIXED[@]}"
compat_servers 4 "$COMPAT_WEIGHTS"
# nutcracker's "crc32" is libmemcached's 15-bit crc, "crc32a" the whole CRC-32.
for h in one_at_a_time md5 crc32 crc32a fnv1_64 fnv1_32 fnv1a_32 hsieh murmur jenkins; do
    compat_run "nutcracker ketama hash $h, 4 servers weighted" "nc_store ketama $h" \
        "--mode nutcracker --hash $h" "${SERVERS[@]}"
    compat_run "nutcracker modula hash $h, 4 servers weighted" "nc_store modula $h" \
        "--mode nutcracker-modula --hash $h" "${SERVERS[@]}"
done
exit 0
