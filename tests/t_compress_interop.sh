#!/bin/bash
# t_compress_interop.sh - compressed values written by Cache::Memcached::Fast
# read back through mcfast, and the other way round, with one real memcached.
#
#   cmf_compressed_stored    CMF (compress_threshold => 100) really compressed (flag 0x2, fewer bytes)
#   mcfast_reads_cmf         tests/tool_getset (libmcfast, compression on) reads it back identical
#   mcfast_compressed_stored mcfast (-c 100) really compressed its value
#   cmf_reads_mcfast         CMF reads mcfast's value back identical
#   *_incompressible         random bytes: stored as is, both read them back
# SKIP lines when Cache::Memcached::Fast or memcached is missing.
# run.sh: builds (make in the tree)
set -u
cd "$(dirname "$0")/.."
B=${MCF_BUILD:-build}
TOOL=$B/tests/tool_getset
PL=tests/compat/compress_interop.pl
CASES="cmf_compressed_stored mcfast_reads_cmf mcfast_compressed_stored cmf_reads_mcfast cmf_incompressible mcfast_incompressible"

failed=0
fail() {
    echo "FAIL: $*"
    failed=1
}

skip_all() {
    for c in $CASES; do echo "SKIP: $c: $1"; done
    exit 0
}

if ! perl -MCache::Memcached::Fast -e1 2>/dev/null; then
    skip_all "Cache::Memcached::Fast is not installed (libcache-memcached-fast-perl)"
fi
if [ ! -x "$TOOL" ]; then
    make -s B="$B" SANITIZE="${SANITIZE:-}" "$TOOL" >/dev/null 2>&1
fi
if [ ! -x "$TOOL" ]; then
    fail "tool_getset_built: $TOOL is not built"
    exit 1
fi

work=$(mktemp -d /tmp/mcfast-zinterop.XXXXXX)
srv_pid=
cleanup() {
    [ -n "${SRV[1]:-}" ] && exec {SRV[1]}>&-
    if [ -n "$srv_pid" ]; then
        for _ in $(seq 30); do
            kill -0 "$srv_pid" 2>/dev/null || break
            sleep 0.1
        done
        kill "$srv_pid" 2>/dev/null
        wait "$srv_pid" 2>/dev/null
    fi
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

coproc SRV { exec "$TOOL" serve; }
srv_pid=$SRV_PID
addr=
while read -r line <&"${SRV[0]}"; do
    case $line in
    READY) break ;;
    NO-MEMCACHED) skip_all "memcached is not installed" ;;
    FAILED) fail "start_memcached: could not start memcached"; exit 1 ;;
    *) addr=$line ;;
    esac
done
if [ -z "$addr" ]; then
    fail "start_memcached: no address from $TOOL serve"
    exit 1
fi

# Values: 20 KB of compressible text, and 8 KB of random bytes (with NUL and CR LF).
perl -e 'print join("", map { "line $_: the quick brown fox jumps over the lazy dog\r\n" } 1..300), "\0tail"' >"$work/text"
head -c 8192 /dev/urandom >"$work/random"
size_text=$(stat -c %s "$work/text")
size_random=$(stat -c %s "$work/random")

# raw KEY -> "FLAGS BYTES" as stored on the server
raw() { perl "$PL" "$addr" raw "$1"; }

# ---- Cache::Memcached::Fast writes, mcfast reads ----
if perl "$PL" "$addr" set cmf:text "$work/text"; then
    read -r flags bytes < <(raw cmf:text)
    if [ $(( ${flags:-0} & 2 )) -ne 0 ] && [ "${bytes:-0}" -lt "$size_text" ]; then
        echo "PASS: cmf_compressed_stored"
    else
        fail "cmf_compressed_stored: server holds flags=${flags:-?} bytes=${bytes:-?} for $size_text bytes"
    fi
else
    fail "cmf_compressed_stored: Cache::Memcached::Fast set failed"
fi
if "$TOOL" -c 100 "$addr" get cmf:text >"$work/got1" 2>"$work/err1"; then
    if cmp -s "$work/text" "$work/got1"; then
        echo "PASS: mcfast_reads_cmf"
    else
        fail "mcfast_reads_cmf: value differs ($(stat -c %s "$work/got1") bytes back for $size_text; $(tr '\n' ' ' <"$work/err1"))"
    fi
else
    fail "mcfast_reads_cmf: tool_getset get failed: $(tr '\n' ' ' <"$work/err1")"
fi

# ---- mcfast writes, Cache::Memcached::Fast reads ----
if "$TOOL" -c 100 "$addr" set mcf:text <"$work/text" 2>"$work/err2"; then
    read -r flags bytes < <(raw mcf:text)
    if [ $(( ${flags:-0} & 2 )) -ne 0 ] && [ "${bytes:-0}" -lt "$size_text" ]; then
        echo "PASS: mcfast_compressed_stored"
    else
        fail "mcfast_compressed_stored: server holds flags=${flags:-?} bytes=${bytes:-?} for $size_text bytes"
    fi
else
    fail "mcfast_compressed_stored: tool_getset set failed: $(tr '\n' ' ' <"$work/err2")"
fi
perl "$PL" "$addr" get mcf:text "$work/got2" 2>"$work/err3"
st=$?
if [ $st -eq 0 ] && cmp -s "$work/text" "$work/got2"; then
    echo "PASS: cmf_reads_mcfast"
elif [ $st -eq 0 ]; then
    fail "cmf_reads_mcfast: value differs ($(stat -c %s "$work/got2") bytes back for $size_text)"
else
    fail "cmf_reads_mcfast: Cache::Memcached::Fast get returned nothing (exit $st) for mcfast's compressed value $(tr '\n' ' ' <"$work/err3")"
fi

# ---- incompressible values: stored as is, both ways ----
ok=1 why=
perl "$PL" "$addr" set cmf:rand "$work/random" || { ok=0; why="CMF set failed"; }
read -r flags bytes < <(raw cmf:rand)
[ "${flags:-x}" = 0 ] && [ "${bytes:-0}" = "$size_random" ] || { ok=0; why="$why server holds flags=${flags:-?} bytes=${bytes:-?}"; }
"$TOOL" -c 100 "$addr" get cmf:rand >"$work/got3" 2>/dev/null && cmp -s "$work/random" "$work/got3" ||
    { ok=0; why="$why mcfast read differs"; }
[ $ok = 1 ] && echo "PASS: cmf_incompressible" || fail "cmf_incompressible:$why"

ok=1 why=
"$TOOL" -c 100 "$addr" set mcf:rand <"$work/random" 2>/dev/null || { ok=0; why="mcfast set failed"; }
read -r flags bytes < <(raw mcf:rand)
[ "${flags:-x}" = 0 ] && [ "${bytes:-0}" = "$size_random" ] || { ok=0; why="$why server holds flags=${flags:-?} bytes=${bytes:-?}"; }
perl "$PL" "$addr" get mcf:rand "$work/got4" && cmp -s "$work/random" "$work/got4" ||
    { ok=0; why="$why CMF read differs"; }
[ $ok = 1 ] && echo "PASS: mcfast_incompressible" || fail "mcfast_incompressible:$why"
exit $failed
