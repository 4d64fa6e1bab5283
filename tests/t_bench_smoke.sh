#!/bin/bash
# t_bench_smoke.sh - the benchmark builds and runs (--quick: one short round
# of every workload against real memcached servers).  Proves it works; it
# asserts nothing about speed: every workload prints its bench: line in the
# exact format, a floor: and an allocs/op line, and a config: line, and the
# run reports no failure (every client's results are checked inside).
# Then the same for the TLS bench (build/mcfast-bench-tls).
# run.sh: builds (make in the tree)
set -u
cd "$(dirname "$0")/.."
B=${MCF_BUILD:-build}
log=$(mktemp /tmp/mcfast-bench-smoke.XXXXXX)
trap 'rm -f "$log"' EXIT

if ! command -v memcached >/dev/null && [ ! -x /usr/bin/memcached ]; then
    echo "SKIP: bench_smoke: memcached is not installed"
    exit 0
fi

if make -s bench-build B="$B" SANITIZE="${SANITIZE:-}" >"$log" 2>&1 && [ -x "$B/mcfast-bench" ]; then
    echo "PASS: bench_builds"
else
    echo "FAIL: bench_builds: $(tail -5 "$log" | tr '\n' ' ')"
    exit 1
fi

start=$(date +%s)
timeout 120 "$B/mcfast-bench" --quick >"$log" 2>&1
rc=$?
secs=$(($(date +%s) - start))
if [ $rc -eq 0 ]; then
    echo "PASS: bench_quick_runs (${secs}s)"
else
    echo "FAIL: bench_quick_runs: exit $rc; $(grep -E '^error:' "$log" | head -3 | tr '\n' ' ') $(tail -3 "$log" | tr '\n' ' ')"
fi

workloads=$("$B/mcfast-bench" --list)
if [ -z "$workloads" ]; then
    echo "FAIL: bench_lists_workloads: --list printed nothing"
    exit 1
fi
num='[0-9]+'
ratio='[0-9]+\.[0-9]{2}'
for w in $workloads; do
    bad=""
    # The one line per workload the issue specifies, exactly.
    n=$(grep -cE "^bench: $w mcfast=$num/s libmemcached=$num/s ratio=$ratio\$" "$log")
    [ "$n" -eq 1 ] || bad="$bad bench-line($n)"
    n=$(grep -cE "^floor: $w raw=$num/s mcfast/raw=$ratio\$" "$log")
    [ "$n" -eq 1 ] || bad="$bad floor-line($n)"
    grep -qE "^allocs: $w mcfast allocs/op=[0-9]+\.[0-9]+ " "$log" || bad="$bad allocs/op"
    grep -qE "^config: $w mcfast: .* \| libmemcached: .*libmemcached" "$log" || bad="$bad config"
    if [ -z "$bad" ]; then
        echo "PASS: bench_output_$w"
    else
        echo "FAIL: bench_output_$w: missing or malformed:$bad; got: $(grep -E "^(bench|floor|allocs): $w " "$log" | tr '\n' ' ')"
    fi
done
# Any stray bench: line would break scripts that read them.
n=$(grep -c '^bench: ' "$log")
want=$(echo "$workloads" | wc -w)
if [ "$n" -eq "$want" ]; then
    echo "PASS: bench_line_count"
else
    echo "FAIL: bench_line_count: $n bench: lines for $want workloads"
fi
if grep -q '^summary: .* 0 failures' "$log"; then
    echo "PASS: bench_no_failures"
else
    echo "FAIL: bench_no_failures: $(grep -E '^(error|summary):' "$log" | head -5 | tr '\n' ' ')"
fi

# The TLS bench (build/mcfast-bench-tls, bench/tls/): one short round of
# each workload through mcfast over TLS, mcfast over plaintext and
# pymemcache over TLS (when python3-pymemcache is installed), then a few
# handshakes.  Checks its lines' format and that every result was right.
tlslog=$(mktemp /tmp/mcfast-bench-tls-smoke.XXXXXX)
trap 'rm -f "$log" "$tlslog"' EXIT
if make -s bench-tls-build B="$B" SANITIZE="${SANITIZE:-}" >"$tlslog" 2>&1 && [ -x "$B/mcfast-bench-tls" ]; then
    echo "PASS: bench_tls_builds"
else
    echo "FAIL: bench_tls_builds: $(tail -5 "$tlslog" | tr '\n' ' ')"
    exit 1
fi
start=$(date +%s)
timeout 120 "$B/mcfast-bench-tls" --quick >"$tlslog" 2>&1
rc=$?
secs=$(($(date +%s) - start))
if grep -qE '^info: (TLS not built in|memcached was built without TLS)' "$tlslog"; then
    echo "SKIP: bench_tls: $(grep -E '^info: ' "$tlslog" | head -1 | sed 's/^info: //')"
    exit 0
fi
if [ $rc -eq 0 ]; then
    echo "PASS: bench_tls_quick_runs (${secs}s)"
else
    echo "FAIL: bench_tls_quick_runs: exit $rc; $(grep -E '^error:' "$tlslog" | head -3 | tr '\n' ' ') $(tail -3 "$tlslog" | tr '\n' ' ')"
fi
peer_skipped=$(grep -c '^info: pymemcache skipped: ' "$tlslog")
for w in $("$B/mcfast-bench-tls" --list); do
    bad=""
    n=$(grep -cE "^bench: $w mcfast-tls=$num/s mcfast-plain=$num/s ratio=$ratio\$" "$tlslog")
    [ "$n" -eq 1 ] || bad="$bad bench-line($n)"
    if [ "$peer_skipped" -eq 0 ]; then
        n=$(grep -cE "^peer: $w mcfast-tls=$num/s pymemcache-tls=$num/s mcfast/pymemcache=$ratio\$" "$tlslog")
        [ "$n" -eq 1 ] || bad="$bad peer-line($n)"
    else
        grep -qE "^info: $w pymemcache skipped: " "$tlslog" || bad="$bad peer-skipped-line"
    fi
    grep -qE "^config: $w mcfast-tls: .* \| mcfast-plain: .* \| pymemcache-tls: " "$tlslog" || bad="$bad config"
    if [ -z "$bad" ]; then
        echo "PASS: bench_tls_output_$w"
    else
        echo "FAIL: bench_tls_output_$w: missing or malformed:$bad; got: $(grep -E "^(bench|peer): $w " "$tlslog" | tr '\n' ' ')"
    fi
done
ms='[0-9]+\.[0-9]{3}ms'
if grep -qE "^bench: tls_handshake full=$ms resumed=$ms plain_connect=$ms " "$tlslog"; then
    echo "PASS: bench_tls_handshake_line"
else
    echo "FAIL: bench_tls_handshake_line: $(grep -E 'tls_handshake' "$tlslog" | tr '\n' ' ')"
fi
if grep -q '^summary: .* 0 failures' "$tlslog"; then
    echo "PASS: bench_tls_no_failures"
else
    echo "FAIL: bench_tls_no_failures: $(grep -E '^(error|summary):' "$tlslog" | head -5 | tr '\n' ' ')"
fi
