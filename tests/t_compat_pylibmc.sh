#!/bin/bash
# t_compat_pylibmc.sh - mcfast puts keys where pylibmc (python3-pylibmc, on
# libmemcached) does: 10,000 keys (a third with UTF-8 characters) stored
# through pylibmc, found on exactly the server mcfast picks, for its default
# (libmemcached modula, one-at-a-time), {"ketama": True}, {"ketama_weighted":
# True} and the hash behaviours, 1 to 5 servers, weighted and unweighted,
# and unix sockets.  SKIP when pylibmc is not installed.
set -u
cd "$(dirname "$0")/.."
COMPAT_NAME=pylibmc
. tests/compat/lib.sh
if ! $PY -c 'import pylibmc' 2>/dev/null; then
    echo "SKIP: pylibmc: python3-pylibmc not installed"
    exit 0
fi
compat_start 5 2 || exit 0
compat_keys 10000 --utf8
store() { echo "$PY tests/compat/store.py --client pylibmc --behaviors $1"; }

for n in 1 2 3 4 5; do
    compat_servers $n
    compat_run "pylibmc default, $n servers" "$(store '{}')" "--mode libmemcached" "${SERVERS[@]}"
    compat_run "pylibmc ketama, $n servers" "$(store '{"ketama":true}')" \
        "--mode ketama-libmemcached-unweighted" "${SERVERS[@]}"
    compat_run "pylibmc ketama_weighted, $n servers" "$(store '{"ketama_weighted":true}')" \
        "--mode ketama-libmemcached" "${SERVERS[@]}"
    [ $n -ge 2 ] || continue
    compat_servers $n "$COMPAT_WEIGHTS"
    # libmemcached's modula ignores weights.
    compat_run "pylibmc default, $n servers weighted" "$(store '{}')" "--mode libmemcached" \
        "${SERVERS[@]}"
    compat_run "pylibmc ketama_weighted, $n servers weighted" "$(store '{"ketama_weighted":true}')" \
        "--mode ketama-libmemcached" "${SERVERS[@]}"
    # A server of weight > 1 turns libmemcached's weighting on
    # (memcached_server_push), keeping the one-at-a-time key hash.
    compat_run "pylibmc ketama, $n servers weighted" "$(store '{"ketama":true}')" \
        "--mode ketama-libmemcached --hash one_at_a_time" "${SERVERS[@]}"
done

# Every hash pylibmc offers (Debian's libmemcached has no hsieh), with
# modula and with ketama (whose points are hashed with it too).
compat_servers 4
for h in md5 crc fnv1_64 fnv1a_64 fnv1_32 fnv1a_32 murmur jenkins; do
    compat_run "pylibmc hash $h, 4 servers" "$(store "{\"hash\":\"$h\"}")" \
        "--mode libmemcached --hash $h" "${SERVERS[@]}"
    compat_run "pylibmc ketama + hash $h, 4 servers" "$(store "{\"ketama\":true,\"hash\":\"$h\"}")" \
        "--mode ketama-libmemcached-unweighted --hash $h" "${SERVERS[@]}"
done
# pylibmc sets "hash" before "ketama_weighted", which sets MD5 again.
compat_servers 4 "$COMPAT_WEIGHTS"
compat_run "pylibmc ketama_weighted + hash crc (MD5 wins), 4 servers weighted" \
    "$(store '{"ketama_weighted":true,"hash":"crc"}')" "--mode ketama-libmemcached" "${SERVERS[@]}"
compat_run "pylibmc ketama + hash fnv1a_32, 4 servers weighted" \
    "$(store '{"ketama":true,"hash":"fnv1a_32"}')" "--mode ketama-libmemcached --hash fnv1a_32" \
    "${SERVERS[@]}"
# pylibmc cannot mix TCP and unix sockets in one client.
compat_run "pylibmc default, 2 unix sockets" "$(store '{}')" "--mode libmemcached" "${UNIX[@]}"
compat_run "pylibmc ketama, 2 unix sockets" "$(store '{"ketama":true}')" \
    "--mode ketama-libmemcached-unweighted" "${UNIX[@]}"
compat_run "pylibmc ketama_weighted, 2 unix sockets" "$(store '{"ketama_weighted":true}')" \
    "--mode ketama-libmemcached" "${UNIX[@]}"
# Control: the check is not vacuous.
out=$(compat_run "control" "$(store '{"ketama":true}')" "--mode libmemcached" "${TCP[@]:0:4}")
case $out in
FAIL:*" wrong="*) echo "PASS: pylibmc control: a wrong rule is detected" ;;
*) echo "FAIL: pylibmc control: ketama data passed the modula rule: $out" ;;
esac
exit 0
