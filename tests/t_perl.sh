#!/bin/bash
# t_perl.sh - the Perl binding, Cache::Memcached::Mcfast (perl/).
#
#   1. `make perl` builds it (a PIC libmcfast.a in build-perl/, then
#      Makefile.PL and make in perl/).
#   2. Each perl/t/*.t runs under prove against real memcached servers the
#      .t files start themselves; one PASS/FAIL/SKIP line per file
#      (perl_t_<file>).  They compare every method and option with the real
#      Cache::Memcached::Fast, values in both directions, and key placement.
#   3. `make bench-perl` in its quick form (bench/perl/bench.pl --quick).
#   4. The seed scenario (/work/shared/mission/seed-scenario.md): a network
#      namespace rebuilt like the seed's IPv6-only host (lo with 127.0.0.1
#      and ::1, a veth whose only address is 2001:db8:1::1/64), memcached on
#      127.0.0.1 only, and the seed's script with only the module name
#      changed.  It must store the value (memcached is asked directly).  The
#      same script with Cache::Memcached::Fast must fail there: the premise.
#
# Needs perl, ExtUtils::MakeMaker and a C compiler (else SKIP); the seed
# needs root and iproute2 (else SKIP).  Run from anywhere (cds to the root).
# run.sh: builds (make in the tree)
# run.sh: unsanitized (its builds ignore SANITIZE; see run.sh)
set -u
cd "$(dirname "$0")/.." || exit 1
ROOT=$(pwd)

pass() { echo "PASS: $1"; }
fail() { echo "FAIL: $1: $2"; }
skip() { echo "SKIP: $1: $2"; }
info() { echo "INFO: $*"; }

TFILES=()
for f in perl/t/*.t; do
    [ -f "$f" ] && TFILES+=("$f")
done
tname() { local b; b=$(basename "$1" .t); echo "perl_t_${b}"; }
SEED_CASES=(perl_seed_mcfast_stores perl_seed_premise_cmf_fails perl_seed_forms)
OTHER_CASES=(perl_bench_quick)

skip_all() {
    local f s
    skip perl_build "$1"
    for f in "${TFILES[@]}"; do skip "$(tname "$f")" "$1"; done
    for s in "${OTHER_CASES[@]}" "${SEED_CASES[@]}"; do skip "$s" "$1"; done
    exit 0
}

T=$(mktemp -d "${TMPDIR:-/tmp}/mcfast-perl.XXXXXX") || exit 1
PIDS=()
NAMESPACES=()
# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
    local p ns
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
    for ns in "${NAMESPACES[@]}"; do ip netns del "$ns" 2>/dev/null; done
    rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

one_line() { head -c 400 "$1" | tr '\n' '|'; }

# ---------------------------------------------------------------- build
command -v perl >/dev/null || skip_all "perl is not installed"
perl -MExtUtils::MakeMaker -e1 2>/dev/null || skip_all "ExtUtils::MakeMaker is not installed"
command -v make >/dev/null || skip_all "make is not installed"
cc_bin=$(perl -MConfig -e 'print $Config{cc}')
command -v "${cc_bin%% *}" >/dev/null || skip_all "no C compiler ($cc_bin, the one perl was built with)"

if make perl >"$T/build.log" 2>&1; then
    pass perl_build
else
    fail perl_build "make perl failed: $(tail -n 5 "$T/build.log" | tr '\n' '|')"
    sed 's/^/  | /' "$T/build.log" | tail -n 40
    for f in "${TFILES[@]}"; do fail "$(tname "$f")" "not built"; done
    for s in "${OTHER_CASES[@]}" "${SEED_CASES[@]}"; do fail "$s" "not built"; done
    exit 1
fi

# ---------------------------------------------------------------- perl/t
PROVE=$(command -v prove || true)
for f in "${TFILES[@]}"; do
    name=$(tname "$f")
    rel=${f#perl/}
    if [ -n "$PROVE" ]; then
        (cd perl && timeout -k 5 240 "$PROVE" -b -v "$rel") >"$T/prove.log" 2>&1
    else
        (cd perl && timeout -k 5 240 perl -Mblib "$rel") >"$T/prove.log" 2>&1
    fi
    rc=$?
    # Everything goes to the log, indented so run.sh does not count it.
    sed 's/^/  | /' "$T/prove.log"
    if grep -qE '^t/.*skipped: ' "$T/prove.log"; then
        skip "$name" "$(sed -n 's/^t\/.*skipped: //p' "$T/prove.log" | head -n 1)"
    elif [ "$rc" = 0 ] && ! grep -q '^not ok' "$T/prove.log"; then
        pass "$name"
    else
        fail "$name" "exit $rc; $(grep -E '^not ok|^Failed|Wstat|Bailout' "$T/prove.log" | head -n 5 | tr '\n' '|')"
    fi
done

# ---------------------------------------------------------------- bench-perl
# `make bench-perl` runs (one short round, "quick:" lines): every workload
# prints its line in the format, and every value it read was right (the
# bench checks them).  Nothing about speed.
if ! perl -MCache::Memcached::Fast -e1 2>/dev/null; then
    skip perl_bench_quick "Cache::Memcached::Fast is not installed (the reference)"
elif ! command -v memcached >/dev/null; then
    skip perl_bench_quick "memcached is not installed"
else
    timeout -k 5 120 perl -Iperl/blib/lib -Iperl/blib/arch bench/perl/bench.pl --quick >"$T/bench.log" 2>&1
    rc=$?
    sed 's/^/  | /' "$T/bench.log"
    n=$(grep -cE '^quick: (set|get|get_multi100|set_multi100|get_multi100_4srv) mcfast=[0-9.]+K/s cmf=[0-9.]+K/s ratio=[0-9.]+ cpu_mcfast=[0-9.]+us cpu_cmf=[0-9.]+us cpu_ratio=[0-9.]+$' "$T/bench.log")
    if [ "$rc" = 0 ] && [ "$n" = 5 ]; then
        pass perl_bench_quick
    else
        fail perl_bench_quick "exit $rc, $n of 5 workload lines: $(tail -n 3 "$T/bench.log" | tr '\n' '|')"
    fi
fi

# ---------------------------------------------------------------- the seed
seed_skip() {
    local s
    for s in "${SEED_CASES[@]}"; do skip "$s" "$1"; done
    exit 0
}
[ "$(id -u)" = 0 ] || seed_skip "needs root for ip netns"
command -v ip >/dev/null || seed_skip "iproute2 (ip) is not installed"
command -v memcached >/dev/null || seed_skip "memcached is not installed"

NS=mcfpl6-$$      # the IPv6-only host
NSP=mcfpl6p-$$    # its veth peer
P4=22132          # memcached on 127.0.0.1 (the namespace has its own ports)
P6=22133          # memcached on ::1
SOCK=$T/seed.sock # memcached on a unix socket

# Namespaces of a run killed with SIGKILL (its PID is in the name).
for ns in $(ip netns list 2>/dev/null | awk '{print $1}'); do
    [[ "$ns" =~ ^mcfpl6p?-([0-9]+)$ ]] || continue
    kill -0 "${BASH_REMATCH[1]}" 2>/dev/null && continue
    for p in $(ip netns pids "$ns" 2>/dev/null); do
        [ "$(cat "/proc/$p/comm" 2>/dev/null)" = memcached ] && kill "$p" 2>/dev/null
    done
    ip netns del "$ns" 2>/dev/null
done

# As tests/t_netns.sh builds it: loopback up (127.0.0.1/8, ::1), a veth
# "eth0" with only a global IPv6 address, its peer in a second namespace so
# nothing touches the host's network.  nodad: usable at once.
setup() {
    ip netns add "$NS" || return 1
    NAMESPACES+=("$NS")
    ip netns add "$NSP" || return 1
    NAMESPACES+=("$NSP")
    ip -n "$NS" link set lo up || return 1
    ip -n "$NSP" link set lo up || return 1
    ip -n "$NS" link add eth0 type veth peer name eth0 netns "$NSP" || return 1
    ip -n "$NS" addr add 2001:db8:1::1/64 dev eth0 nodad || return 1
    ip -n "$NSP" addr add 2001:db8:1::2/64 dev eth0 nodad || return 1
    ip -n "$NS" link set eth0 up || return 1
    ip -n "$NSP" link set eth0 up || return 1
}

# ready tcp HOST PORT | ready unix PATH: memcached answers there.  bash's
# /dev/tcp resolves without AI_ADDRCONFIG, so it reaches 127.0.0.1 here.
ready() {
    case $1 in
    tcp) ip netns exec "$NS" bash -c "exec 3<>/dev/tcp/$2/$3" 2>/dev/null ;;
    unix) [ -S "$2" ] ;;
    esac
}

# mc_start KIND A B -- MEMCACHED ARGS...: memcached inside the namespace,
# waits until `ready KIND A B`.
mc_start() {
    local kind=$1 a=$2 b=$3 pid _
    shift 4
    ip netns exec "$NS" memcached -u root "$@" >"$T/mc-$RANDOM.log" 2>&1 &
    pid=$!
    PIDS+=("$pid")
    for _ in $(seq 1 100); do
        ready "$kind" "$a" "$b" && return 0
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.05
    done
    echo "memcached $* did not start" >&2
    return 1
}

# ask KEY: memcached's own answer to "get KEY" on 127.0.0.1:P4, on one line.
ask() {
    # shellcheck disable=SC2016 # expanded by the inner bash
    ip netns exec "$NS" env KEY="$1" PORT="$P4" bash -c '
        exec 3<>"/dev/tcp/127.0.0.1/$PORT" || exit 1
        printf "get %s\r\n" "$KEY" >&3
        while IFS= read -r -t 2 line <&3; do
            printf "%s\n" "$line"
            case $line in END*) break ;; esac
        done' | tr -d '\r' | tr '\n' '|'
}

if ! setup 2>"$T/setup.err"; then
    seed_skip "cannot build the IPv6-only namespace: $(one_line "$T/setup.err")"
fi
if ! { mc_start tcp 127.0.0.1 "$P4" -- -l 127.0.0.1 -p "$P4" -U 0 &&
       mc_start tcp ::1 "$P6" -- -l ::1 -p "$P6" -U 0 &&
       mc_start unix "$SOCK" - -- -s "$SOCK"; } 2>"$T/setup.err"; then
    for s in "${SEED_CASES[@]}"; do fail "$s" "$(one_line "$T/setup.err")"; done
    exit 1
fi
info "namespace $NS: $(ip -n "$NS" -o addr show | awk '{print $2, $4}' | tr '\n' ' ')"

INC=(-I"$ROOT/perl/blib/lib" -I"$ROOT/perl/blib/arch")
seed_script() { # seed_script MODULE FILE: the seed's script, only the module name changed
    cat >"$2" <<EOF
use $1;
my \$m = $1->new({ servers => ['127.0.0.1:$P4'] });
\$m->set('ismemcached', '1') or die "Memcached is not responding\n";
EOF
}

# 1. Cache::Memcached::Mcfast stores the value.
seed_script Cache::Memcached::Mcfast "$T/seed-mcfast.pl"
before=$(ask ismemcached)
ip netns exec "$NS" perl "${INC[@]}" "$T/seed-mcfast.pl" >"$T/out" 2>&1
rc=$?
after=$(ask ismemcached)
info "seed script with Cache::Memcached::Mcfast: exit $rc $(one_line "$T/out"); memcached says: $after"
if [ "$before" != "END|" ]; then
    fail perl_seed_mcfast_stores "memcached held ismemcached before the script ran: $before"
elif [ "$rc" != 0 ]; then
    fail perl_seed_mcfast_stores "the script died (exit $rc): $(one_line "$T/out")"
elif [ "$after" != "VALUE ismemcached 0 1|1|END|" ]; then
    fail perl_seed_mcfast_stores "memcached does not hold ismemcached=1: $after"
else
    pass perl_seed_mcfast_stores
fi

# 2. The premise: the real Cache::Memcached::Fast fails on this host.
ip netns exec "$NS" bash -c "printf 'delete ismemcached\r\n' >/dev/tcp/127.0.0.1/$P4" 2>/dev/null
if perl -MCache::Memcached::Fast -e1 2>/dev/null; then
    seed_script Cache::Memcached::Fast "$T/seed-cmf.pl"
    ip netns exec "$NS" perl "$T/seed-cmf.pl" >"$T/out" 2>&1
    rc=$?
    stored=$(ask ismemcached)
    info "seed script with Cache::Memcached::Fast: exit $rc $(one_line "$T/out"); memcached says: $stored"
    if [ "$rc" != 0 ] && grep -q 'Memcached is not responding' "$T/out" && [ "$stored" = "END|" ]; then
        pass perl_seed_premise_cmf_fails
    else
        fail perl_seed_premise_cmf_fails "PREMISE NOT REPRODUCED: Cache::Memcached::Fast (exit $rc) $( [ "$stored" = "END|" ] || echo stored the value) in this namespace, so it does not behave like the seed host"
    fi
else
    skip perl_seed_premise_cmf_fails "Cache::Memcached::Fast is not installed"
fi

# 3. The other address forms on this host, each with a set and a get, and
# last_error for a refused port.
cat >"$T/forms.pl" <<EOF
use strict;
use warnings;
use Cache::Memcached::Mcfast;
my \$bad = 0;
for my \$s ('127.0.0.1:$P4', 'localhost:$P4', '[::1]:$P6', '::1:$P6', 'localhost:$P6',
            { address => '$SOCK' }, ['127.0.0.1:$P4', 1]) {
    my \$m = Cache::Memcached::Mcfast->new({ servers => [\$s], connect_timeout => 1 });
    my \$name = ref \$s eq 'HASH' ? \$s->{address} : ref \$s ? \$s->[0] : \$s;
    my \$v = "v-\$name";
    my \$ok = \$m->set('form', \$v) && (\$m->get('form') // '') eq \$v;
    print \$ok ? "ok \$name\n" : "not ok \$name: " . (\$m->last_error // 'no error') . "\n";
    \$bad++ unless \$ok;
}
my \$m = Cache::Memcached::Mcfast->new({ servers => ['127.0.0.1:1'] });
\$m->set('k', 1);
my (\$code, \$msg) = \$m->last_error;
print "refused: \$code: \$msg\n";
\$bad++ unless "\$code" eq 'MCF_ERR_CONNECT' && \$msg =~ /127\.0\.0\.1:1\b.*refused/;
exit(\$bad ? 1 : 0);
EOF
ip netns exec "$NS" perl "${INC[@]}" "$T/forms.pl" >"$T/out" 2>&1
rc=$?
sed 's/^/INFO:   forms | /' "$T/out"
if [ "$rc" = 0 ]; then
    pass perl_seed_forms
else
    fail perl_seed_forms "exit $rc: $(grep -E '^not ok|refused' "$T/out" | head -n 4 | tr '\n' '|')"
fi
exit 0
