#!/bin/bash
# t_build_notls.sh - the library builds without OpenSSL (issue: "make on a
# machine without libssl-dev still builds the non-TLS library").  `make
# TLS=0` in a scratch build directory with every <openssl/...> header
# shadowed by one that fails to compile, so nothing outside the TLS files
# may include OpenSSL; then:
#   notls_builds            the library and the CLI build that way
#   notls_links_no_openssl  libmcfast.so needs neither libssl nor libcrypto
#   notls_refuses_tls_spec  the CLI refuses a tls: server, saying why (exit 2)
set -u
cd "$(dirname "$0")/.." || exit 1
T=$(mktemp -d "${TMPDIR:-/tmp}/mcfast-notls.XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT
mkdir -p "$T/inc/openssl"
for h in /usr/include/openssl/*.h; do
    [ -e "$h" ] || break
    echo '#error "OpenSSL is not available in this build"' >"$T/inc/openssl/$(basename "$h")"
done
# Headers this machine may not have are shadowed too.
for h in ssl.h err.h evp.h md5.h x509v3.h crypto.h; do
    [ -e "$T/inc/openssl/$h" ] ||
        echo '#error "OpenSSL is not available in this build"' >"$T/inc/openssl/$h"
done
if make -s TLS=0 B="$T/b" CFLAGS="-I$T/inc" lib cli >"$T/build.log" 2>&1; then
    echo "PASS: notls_builds"
else
    echo "FAIL: notls_builds: $(grep -m3 -E 'error' "$T/build.log" | tr '\n' '|')"
    echo "SKIP: notls_links_no_openssl: not built"
    echo "SKIP: notls_refuses_tls_spec: not built"
    exit 0
fi
needed=$(objdump -p "$T/b/libmcfast.so" | awk '/NEEDED/{print $2}' | tr '\n' ' ')
if grep -qE 'libssl|libcrypto' <<<"$needed"; then
    echo "FAIL: notls_links_no_openssl: NEEDED $needed"
else
    echo "PASS: notls_links_no_openssl"
fi
out=$("$T/b/mcfast" --servers tls:127.0.0.1:1 get k 2>&1)
rc=$?
if [ $rc -eq 2 ] && grep -q "built without TLS" <<<"$out"; then
    echo "PASS: notls_refuses_tls_spec"
else
    echo "FAIL: notls_refuses_tls_spec: exit $rc: $out"
fi
