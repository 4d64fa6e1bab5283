#!/bin/bash
# t_compat_php.sh - mcfast puts keys where php-memcached (on libmemcached)
# does: 10,000 keys stored through a Memcached object, found on exactly the
# server mcfast picks, for its default (modula, one-at-a-time),
# OPT_LIBKETAMA_COMPATIBLE, OPT_DISTRIBUTION = DISTRIBUTION_CONSISTENT and
# OPT_HASH (php-memcached has no HASH_JENKINS), 1 to 5 servers, weighted and unweighted, TCP with unix sockets.
# php-memcached refuses keys with bytes >= 0x80, so the keys are ASCII.
# SKIP when php-cli or php-memcached is missing.
set -u
cd "$(dirname "$0")/.."
COMPAT_NAME=php-memcached
. tests/compat/lib.sh
if ! command -v php >/dev/null || ! php -r 'exit(extension_loaded("memcached") ? 0 : 1);'; then
    echo "SKIP: php-memcached: php-cli or php-memcached not installed"
    exit 0
fi
compat_start 5 2 || exit 0
compat_keys 10000
P="php tests/compat/store.php"
COMPAT="--opt LIBKETAMA_COMPATIBLE=1"
CONSISTENT="--opt DISTRIBUTION=DISTRIBUTION_CONSISTENT"

for n in 1 2 3 4 5; do
    compat_servers $n
    compat_run "php default, $n servers" "$P" "--mode libmemcached" "${SERVERS[@]}"
    compat_run "php LIBKETAMA_COMPATIBLE, $n servers" "$P $COMPAT" "--mode ketama-libmemcached" \
        "${SERVERS[@]}"
    compat_run "php DISTRIBUTION_CONSISTENT, $n servers" "$P $CONSISTENT" \
        "--mode ketama-libmemcached-unweighted" "${SERVERS[@]}"
    [ $n -ge 2 ] || continue
    compat_servers $n "$COMPAT_WEIGHTS"
    compat_run "php default, $n servers weighted" "$P" "--mode libmemcached" "${SERVERS[@]}"
    compat_run "php LIBKETAMA_COMPATIBLE, $n servers weighted" "$P $COMPAT" \
        "--mode ketama-libmemcached" "${SERVERS[@]}"
    compat_run "php LIBKETAMA_COMPATIBLE set after addServers, $n servers weighted" \
        "$P --servers-first $COMPAT" "--mode ketama-libmemcached" "${SERVERS[@]}"
    # Order matters here: a server of weight > 1 added to a consistent
    # distribution turns weighting on; setting DISTRIBUTION_CONSISTENT after
    # addServers turns it off.
    compat_run "php DISTRIBUTION_CONSISTENT then addServers, $n servers weighted" \
        "$P $CONSISTENT" "--mode ketama-libmemcached --hash one_at_a_time" "${SERVERS[@]}"
    compat_run "php addServers then DISTRIBUTION_CONSISTENT, $n servers weighted" \
        "$P --servers-first $CONSISTENT" "--mode ketama-libmemcached-unweighted" "${SERVERS[@]}"
done

compat_servers 4
for h in MD5:md5 CRC:crc FNV1_64:fnv1_64 FNV1A_64:fnv1a_64 FNV1_32:fnv1_32 FNV1A_32:fnv1a_32 \
    MURMUR:murmur; do
    compat_run "php OPT_HASH HASH_${h%%:*}, 4 servers" "$P --opt HASH=HASH_${h%%:*}" \
        "--mode libmemcached --hash ${h#*:}" "${SERVERS[@]}"
    compat_run "php DISTRIBUTION_CONSISTENT + HASH_${h%%:*}, 4 servers" \
        "$P --opt HASH=HASH_${h%%:*} $CONSISTENT" \
        "--mode ketama-libmemcached-unweighted --hash ${h#*:}" "${SERVERS[@]}"
done
MIXED=("${TCP[0]}=1" "${UNIX[0]}=2" "${TCP[1]}=1" "${UNIX[1]}=3")
compat_run "php default, TCP + unix" "$P" "--mode libmemcached" "${MIXED[@]}"
compat_run "php LIBKETAMA_COMPATIBLE, TCP + unix, weights 1,2,1,3" "$P $COMPAT" \
    "--mode ketama-libmemcached" "${MIXED[@]}"
compat_run "php DISTRIBUTION_CONSISTENT, TCP + unix" "$P $CONSISTENT" \
    "--mode ketama-libmemcached-unweighted" "${TCP[0]}" "${UNIX[0]}" "${TCP[1]}" "${UNIX[1]}"
exit 0
