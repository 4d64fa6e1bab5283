#!/bin/bash
# t_readme.sh - the README's C examples (plain, meta, TLS) compile warning-free against the
# installed header and library (make install into a scratch prefix, built
# with pkg-config), and runs against a real memcached.
# run.sh: builds (make in the tree)
set -u
cd "$(dirname "$0")/.."
B=${MCF_BUILD:-build}
work=$(mktemp -d /tmp/mcfast-readme.XXXXXX)
trap 'mc_stop_all 2>/dev/null; rm -rf "$work"' EXIT

# The first ```c block of the README.
awk '/^```c$/{f=1;next} /^```$/{if(f){exit}} f' README.md >"$work/example.c"
if [ ! -s "$work/example.c" ]; then
    echo "FAIL: readme_example_present: no C block in README.md"
    exit 1
fi
echo "PASS: readme_example_present"

if make -s install B="$B" PREFIX="$work/prefix" >"$work/install.log" 2>&1 &&
    [ -f "$work/prefix/include/mcfast.h" ] && [ -f "$work/prefix/lib/libmcfast.a" ] &&
    [ -L "$work/prefix/lib/libmcfast.so" ] && [ -f "$work/prefix/lib/pkgconfig/mcfast.pc" ] &&
    [ -x "$work/prefix/bin/mcfast" ]; then
    echo "PASS: make_install_layout"
else
    echo "FAIL: make_install_layout: $(tail -3 "$work/install.log")"
fi

# The shared library exports only the public API (mcf_* functions of the public headers).
# (nm prints each name with its symbol version, mcf_new@@MCFAST_0.1: dropped here.)
exported=$(nm -D --defined-only "$B/libmcfast.so" | awk '$2=="T"{sub(/@.*/, "", $3); print $3}' | sort)
declared=$(cat include/mcfast.h include/mcfast_async.h | grep -oE 'MCF_API [^(]*\(' | grep -oE 'mcf_[a-z_]+\($' | tr -d '(' | sort)
if [ "$exported" = "$declared" ]; then
    echo "PASS: so_exports_only_public_api"
else
    echo "FAIL: so_exports_only_public_api: $(diff <(echo "$declared") <(echo "$exported") | head -5 | tr '\n' ' ')"
fi
soname=$(objdump -p "$B/libmcfast.so" | awk '/SONAME/{print $2}')
[ "$soname" = "libmcfast.so.0" ] && echo "PASS: soname" || echo "FAIL: soname: got '$soname'"

export PKG_CONFIG_PATH="$work/prefix/lib/pkgconfig"
san=""
[ -n "${SANITIZE:-}" ] && san="-fsanitize=$SANITIZE"
if cc -std=c11 -Wall -Wextra -Wpedantic -Werror $san $(pkg-config --cflags mcfast) \
    "$work/example.c" -o "$work/example" \
    -Wl,-rpath,"$work/prefix/lib" $(pkg-config --libs mcfast) 2>"$work/cc.log"; then
    echo "PASS: readme_example_compiles_with_pkg_config"
else
    echo "FAIL: readme_example_compiles_with_pkg_config: $(head -5 "$work/cc.log" | tr '\n' ' ')"
    exit 1
fi

# Run it against a real memcached: the example's two servers are rewritten to
# one throwaway server on a free port.
if ! command -v memcached >/dev/null; then
    echo "SKIP: readme_example_runs: memcached not installed"
    exit 0
fi
. tests/lib.sh
mc_start_tcp 127.0.0.1 || { echo "FAIL: readme_example_runs: cannot start memcached"; exit 1; }
port=$MC_PORT
sed -i "s/127.0.0.1:11211, \[::1\]:11211/127.0.0.1:$port/" "$work/example.c"
cc -std=c11 $san $(pkg-config --cflags mcfast) "$work/example.c" -o "$work/example" \
    -Wl,-rpath,"$work/prefix/lib" $(pkg-config --libs mcfast)
out=$("$work/example" 2>&1)
if grep -q '^greeting = hello$' <<<"$out" && grep -q '^nope: miss' <<<"$out"; then
    echo "PASS: readme_example_runs"
else
    echo "FAIL: readme_example_runs: output: $(tr '\n' '|' <<<"$out")"
fi

# The second C block: the stale-while-revalidate example, against the same
# server (meta protocol through MCF_PROTO_AUTO).
awk '/^```c$/{n++; if(n==2){f=1;next}} /^```$/{if(f){exit}} f' README.md >"$work/swr.c"
sed -i "s/127.0.0.1:11211/127.0.0.1:$port/" "$work/swr.c"
if ! grep -q mcf_get_ex "$work/swr.c"; then
    echo "FAIL: readme_swr_example_present: second C block is not the meta example"
elif ! cc -std=c11 -Wall -Wextra -Wpedantic -Werror $san $(pkg-config --cflags mcfast) \
    "$work/swr.c" -o "$work/swr" -Wl,-rpath,"$work/prefix/lib" $(pkg-config --libs mcfast) \
    2>"$work/cc2.log"; then
    echo "FAIL: readme_swr_example_compiles: $(head -5 "$work/cc2.log" | tr '\n' ' ')"
else
    echo "PASS: readme_swr_example_compiles"
    out=$("$work/swr" 2>&1)
    want=$'report for daily #1\nreport for daily #1\nreport for daily #2\nreport for daily #2'
    if [ "$out" = "$want" ]; then
        echo "PASS: readme_swr_example_runs"
    else
        echo "FAIL: readme_swr_example_runs: output: $(tr '\n' '|' <<<"$out")"
    fi
fi

# The third C block: the TLS example, against memcached -Z with certificates
# made now (tests/tls_certs.sh), verified against the test CA.
awk '/^```c$/{n++; if(n==3){f=1;next}} /^```$/{if(f){exit}} f' README.md >"$work/tls.c"
if ! grep -q mcf_set_tls "$work/tls.c"; then
    echo "FAIL: readme_tls_example_present: third C block is not the TLS example"
elif ! cc -std=c11 -Wall -Wextra -Wpedantic -Werror $san $(pkg-config --cflags mcfast) \
    "$work/tls.c" -o "$work/tls" -Wl,-rpath,"$work/prefix/lib" $(pkg-config --libs mcfast) \
    2>"$work/cc3.log"; then
    echo "FAIL: readme_tls_example_compiles: $(head -5 "$work/cc3.log" | tr '\n' ' ')"
else
    echo "PASS: readme_tls_example_compiles"
    if ! memcached -h 2>&1 | grep -q -- --enable-ssl; then
        echo "SKIP: readme_tls_example_runs: memcached was built without TLS"
    elif ! command -v openssl >/dev/null || ! sh tests/tls_certs.sh "$work/certs"; then
        echo "SKIP: readme_tls_example_runs: cannot make test certificates (openssl)"
    elif ! mc_start_tcp 127.0.0.1 -Z -o "ssl_chain_cert=$work/certs/server.pem,ssl_key=$work/certs/server.key"; then
        echo "FAIL: readme_tls_example_runs: cannot start memcached -Z"
    else
        sed -i "s|\"ca.pem\"|\"$work/certs/ca.pem\"|; s|tls:localhost:11211|tls:localhost:$MC_PORT|" "$work/tls.c"
        cc -std=c11 $san $(pkg-config --cflags mcfast) "$work/tls.c" -o "$work/tls" \
            -Wl,-rpath,"$work/prefix/lib" $(pkg-config --libs mcfast)
        out=$("$work/tls" 2>&1)
        if grep -q '^k = secret over TLSv1\.[23] (' <<<"$out"; then
            echo "PASS: readme_tls_example_runs"
        else
            echo "FAIL: readme_tls_example_runs: output: $(tr '\n' '|' <<<"$out")"
        fi
    fi
fi
