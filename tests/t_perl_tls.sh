#!/bin/bash
# t_perl_tls.sh - Cache::Memcached::Mcfast over TLS (the `tls` constructor
# option and tls:host:port servers), against memcached -Z with certificates
# made at run time by tests/tls_certs.sh:
#   perl_tls_roundtrip      two tls: servers (an IP literal, verified against
#                           the IP SAN, and localhost), set/get/get_multi and a
#                           500 KB value, verified against the test CA
#   perl_tls_all_servers    tls => { all_servers } on a spec without tls:
#   perl_tls_mixed_fleet    a TLS and a plaintext server, all_servers => 0
#   perl_tls_wrong_ca       verified against another CA: get returns undef,
#                           last_error names the verify failure
#   perl_tls_insecure       a self-signed server: refused with verify => 1,
#                           served with verify => 0
#   perl_tls_bad_config     a missing CA file dies in new, naming the file
# Needs perl, ExtUtils::MakeMaker, a C compiler, memcached with -Z and the
# openssl tool, and a libmcfast built with TLS; else SKIP.
# run.sh: builds (make in the tree)
# run.sh: unsanitized (its builds ignore SANITIZE; see run.sh)
set -u
cd "$(dirname "$0")/.." || exit 1
. tests/lib.sh

CASES=(perl_tls_roundtrip perl_tls_all_servers perl_tls_mixed_fleet perl_tls_wrong_ca
    perl_tls_insecure perl_tls_bad_config)
skip_all() {
    local s
    for s in "${CASES[@]}"; do echo "SKIP: $s: $1"; done
    exit 0
}
T=$(mktemp -d "${TMPDIR:-/tmp}/mcfast-perltls.XXXXXX") || exit 1
cleanup() {
    mc_stop_all
    rm -rf "$T"
}
trap cleanup EXIT

command -v perl >/dev/null || skip_all "perl is not installed"
perl -MExtUtils::MakeMaker -e1 2>/dev/null || skip_all "ExtUtils::MakeMaker is not installed"
command -v memcached >/dev/null || skip_all "memcached is not installed"
memcached -h 2>&1 | grep -q -- --enable-ssl || skip_all "memcached was built without TLS (no -Z)"
command -v openssl >/dev/null || skip_all "the openssl tool is not installed"
sh tests/tls_certs.sh "$T/c" || skip_all "cannot make the test certificates"
if ! make perl >"$T/build.log" 2>&1; then
    for s in "${CASES[@]}"; do echo "FAIL: $s: make perl failed: $(tail -n 5 "$T/build.log" | tr '\n' '|')"; done
    exit 1
fi
perl -Iperl/blib/lib -Iperl/blib/arch -MCache::Memcached::Mcfast \
    -e 'exit(Cache::Memcached::Mcfast::tls_available() ? 0 : 1)' 2>/dev/null ||
    skip_all "libmcfast was built without TLS"

tls_server() { # CERT: memcached -Z with CERT.pem; sets MC_PORT
    mc_start_tcp 127.0.0.1 -Z -o "ssl_chain_cert=$T/c/$1.pem,ssl_key=$T/c/$1.key"
}
tls_server server || { echo "FAIL: perl_tls_roundtrip: cannot start memcached -Z"; exit 1; }
P1=$MC_PORT
tls_server server || exit 1
P2=$MC_PORT
tls_server selfsigned || exit 1
PS=$MC_PORT
mc_start_tcp 127.0.0.1 || exit 1
PP=$MC_PORT

cat >"$T/tls.pl" <<'EOF'
use strict;
use warnings;
use Cache::Memcached::Mcfast;
my ($certs, $p1, $p2, $ps, $pp) = @ARGV;
my $ca = "$certs/ca.pem";
sub result { my ($name, $ok, $why) = @_; print $ok ? "PASS: $name\n" : "FAIL: $name: $why\n"; }
sub client { Cache::Memcached::Mcfast->new({ connect_timeout => 2, io_timeout => 2, @_ }) }

{
    my $m = client(servers => ["tls:127.0.0.1:$p1", "tls:localhost:$p2"], tls => { ca_file => $ca });
    my %want = map { ("rt$_" => "value-$_") } 1 .. 50;
    my $stored = grep { $m->set($_, $want{$_}) } keys %want;
    my $got = $m->get_multi(keys %want);
    my $bad = grep { ($got->{$_} // '') ne $want{$_} } keys %want;
    my $big = 'b' x 500_000;
    my $big_ok = $m->set('big', $big) && ($m->get('big') // '') eq $big;
    result('perl_tls_roundtrip', $stored == 50 && !$bad && $big_ok,
           "stored $stored/50, $bad wrong, big " . ($big_ok ? 'ok' : 'bad') . ': ' . ($m->last_error // ''));
}
{
    my $m = client(servers => ["127.0.0.1:$p1"], tls => { ca_file => $ca, all_servers => 1 });
    my $ok = $m->set('all', 'x') && ($m->get('all') // '') eq 'x';
    result('perl_tls_all_servers', $ok, $m->last_error // '');
}
{
    my $m = client(servers => ["tls:127.0.0.1:$p1", "127.0.0.1:$pp"],
                   tls => { ca_file => $ca, all_servers => 0 });
    my @k = map {"mix$_"} 1 .. 40;
    my $stored = grep { $m->set($_, $_) } @k;
    my $got = $m->get_multi(@k);
    result('perl_tls_mixed_fleet', $stored == 40 && keys(%$got) == 40,
           "stored $stored, got " . scalar(keys %$got) . ': ' . ($m->last_error // ''));
}
{
    my $m = client(servers => ["tls:127.0.0.1:$p1"], tls => { ca_file => "$certs/ca2.pem" });
    my $v = $m->get('rt1');
    my $err = $m->last_error // '';
    result('perl_tls_wrong_ca', !defined $v && $err =~ /certificate verify failed/, "value "
           . ($v // 'undef') . ", error '$err'");
}
{
    my $strict = client(servers => ["tls:127.0.0.1:$ps"], tls => { ca_file => $ca });
    my $refused = !$strict->set('ss', 'y');
    my $lax = client(servers => ["tls:127.0.0.1:$ps"], tls => { verify => 0 });
    my $served = $lax->set('ss', 'y') && ($lax->get('ss') // '') eq 'y';
    result('perl_tls_insecure', $refused && $served, "refused $refused served $served: "
           . ($lax->last_error // ''));
}
{
    my $m = eval { client(servers => ["tls:127.0.0.1:$p1"], tls => { ca_file => "$certs/nope.pem" }) };
    my $err = $@ // '';
    result('perl_tls_bad_config', !$m && $err =~ /nope\.pem/, "died with '$err'");
}
EOF
timeout 120 perl -Iperl/blib/lib -Iperl/blib/arch "$T/tls.pl" "$T/c" "$P1" "$P2" "$PS" "$PP" 2>&1
