#!/bin/bash
# t_compat_pymemcache.sh - mcfast puts keys where pymemcache's HashClient
# (python3-pymemcache; rendezvous hashing with murmur3) does: 10,000 keys
# (a third with UTF-8 characters, given as str with allow_unicode_keys)
# found on exactly the server mcfast picks, 1 to 5 servers, unix sockets,
# a key_prefix.  HashClient has no weights, so neither do the scenarios.
# SKIP when pymemcache is not installed.
set -u
cd "$(dirname "$0")/.."
COMPAT_NAME=pymemcache
. tests/compat/lib.sh
if ! $PY -c 'import pymemcache.client.hash' 2>/dev/null; then
    echo "SKIP: pymemcache: python3-pymemcache not installed"
    exit 0
fi
compat_start 5 2 || exit 0
compat_keys 10000 --utf8
S="$PY tests/compat/store.py --client pymemcache"
for n in 1 2 3 4 5; do
    compat_servers $n
    compat_run "pymemcache HashClient, $n servers" "$S" "--mode pymemcache" "${SERVERS[@]}"
done
compat_run "pymemcache HashClient, TCP + unix" "$S" "--mode pymemcache" \
    "${TCP[0]}" "${UNIX[0]}" "${TCP[1]}" "${UNIX[1]}"
# key_prefix is not hashed (mcfast's MCF_OPT_HASH_NAMESPACE 0).
compat_run "pymemcache HashClient key_prefix, 3 servers" "$S --ns app1:" \
    "--mode pymemcache --ns app1: --hash-ns 0" "${TCP[@]:0:3}"
exit 0
