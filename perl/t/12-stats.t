#!/usr/bin/perl
# server_stats against the traffic sent, over real memcached: keys per
# server, hits, misses and result codes; latencies with the latency
# option, none without; stats_reset; the on_event callback (server_down,
# reconnect), which may not call back into the object.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use McTest;
use Test::More;
use Cache::Memcached::Mcfast qw(:all);

need_memcached();

my @srv = (start_server(host => '127.0.0.1'), start_server(host => '127.0.0.1'));
my @events;
my $m = Cache::Memcached::Mcfast->new({ servers => [@srv], latency => 1,
                                        on_event => sub { push @events, [@_] } });
my @keys = map { "stats-$_" } 1 .. 20;
my @absent = map { "stats-absent-$_" } 1 .. 5;
$m->set($_, "v-$_") for @keys;
my $got = $m->get_multi(@keys, @absent);
is(scalar keys %$got, 20, 'every stored key read back');

my $st = $m->server_stats;
is_deeply([sort keys %$st], [sort @srv], 'keyed by the servers as given');
my ($hits, $misses, $req, $ok, $lat) = (0, 0, 0, 0, 0);
for my $s (@srv) {
    my $x = $st->{$s};
    $hits += $x->{hits};
    $misses += $x->{misses};
    $req += $x->{requests};
    $ok += $x->{by_code}{MCF_OK} // 0;
    $lat += $x->{latency_count};
    is($x->{errors}, 0, "$s: no errors");
    is($x->{connects}, 1, "$s: one connection");
    ok($x->{latency_count} == 0 || $x->{latency_p50_us} <= $x->{latency_max_us},
       "$s: p50 <= max");
}
is($hits, 20, 'hits: the 20 stored keys');
is($misses, 5, 'misses: the 5 absent keys');
is($req, 20 + 25, 'requests: 20 sets, 25 gets');
is($ok, 20 + 20, 'MCF_OK: 20 stored, 20 found');
# 20 single sets (one each), one get_multi (one per server it touched)
cmp_ok($lat, '>=', 21, "latencies recorded: $lat");
cmp_ok($lat, '<=', 22, 'one per set, one per server of the get_multi');

$m->stats_reset;
$st = $m->server_stats;
is($st->{$_}{requests} + $st->{$_}{latency_count}, 0, "$_: reset") for @srv;

# Without the latency option: counted, not timed.
my $quiet = Cache::Memcached::Mcfast->new({ servers => [@srv] });
$quiet->get($_) for @keys;
my $q = $quiet->server_stats;
is($q->{$srv[0]}{hits} + $q->{$srv[1]}{hits}, 20, 'counted without the latency option');
is($q->{$srv[0]}{latency_count} + $q->{$srv[1]}{latency_count}, 0, 'no latencies without it');

# Events: a reconnect after disconnect_all.
@events = ();
$m->disconnect_all;
$m->get($keys[0]);
ok((grep { $_->[0] eq 'reconnect' } @events), 'reconnect event')
    or diag(explain \@events);

# A dead server with failure_limit 1: server_down, and the callback may not
# call a method (it croaks inside the callback; the call goes on).
my $dead = '127.0.0.1:' . free_port();
my (@ev2, @warn);
my $d;
$d = Cache::Memcached::Mcfast->new({ servers => [$dead], failure_limit => 1,
                                     on_event => sub { push @ev2, [@_]; $d->get('x') } });
{
    local $SIG{__WARN__} = sub { push @warn, @_ };
    ok(!defined $d->get('k'), 'get of a dead server');
}
is_deeply(\@ev2, [['server_down', $dead]], 'server_down names the server as given');
like("@warn", qr/on_event died: .*called from the on_event callback/,
     'a method called from the callback croaks, and only warns');
my $ds = $d->server_stats->{$dead};
is($ds->{by_code}{MCF_ERR_CONNECT}, 1, 'the failure counted by code');
is($ds->{down}, 1, 'down');
ok(!defined $d->get('k'), 'skipped while down');
is($d->server_stats->{$dead}{by_code}{MCF_ERR_SERVER_DOWN}, 1, 'skip counted by code');
undef $d;

# dns_ttl: its forms are taken, and the client still works.
for my $t (-1, 0, 2.5) {
    my $x = Cache::Memcached::Mcfast->new({ servers => [@srv], dns_ttl => $t });
    ok($x && $x->set("dns-ttl-$t", 1) && $x->get("dns-ttl-$t") == 1, "dns_ttl $t");
}

done_testing();
