#!/usr/bin/perl
# Same servers: every key lands on the same server as with
# Cache::Memcached::Fast, in both hashing modes (modula, the default, and
# ketama_points), with weights, with a namespace hashed or not, and with
# TCP, IPv6 and unix-socket servers in one list.  Each module stores the
# keys in turn; each server is then asked directly which keys it holds.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use McTest;
use Test::More;

need_memcached();
plan skip_all => 'Cache::Memcached::Fast is not installed (the reference)' unless have_cmf();
require Cache::Memcached::Mcfast;

my @tcp = map { start_server() } 1 .. 4;
my $unix = start_server(unix => 1);
my $v6;
if (have_ipv6()) {
    my $a = start_server(host => '::1');
    my ($port) = $a =~ /:(\d+)$/;
    $v6 = { cmf => "::1:$port", mcfast => "[::1]:$port", raw => $a };
}
my @keys = (map({"key-$_"} 1 .. 1500), map({ join '', map { chr(33 + ($_ * 31) % 90) } 1 .. 1 + $_ % 40 } 1 .. 300));
my %seen; @keys = grep { !/\s/ && !$seen{$_}++ } @keys;

sub flush_raw { raw_cmd($_, "flush_all\r\n") for @_ }

# Which server (index into @$raw) holds each key.
sub placement {
    my ($raw, $ns) = @_;
    my %where;
    for my $i (0 .. $#$raw) {
        my $probe = Cache::Memcached::Mcfast->new({ servers => [ $raw->[$i] ] });
        my $h = $probe->get_multi(map { "$ns$_" } @keys);
        for my $k (keys %$h) {
            (my $plain = $k) =~ s/^\Q$ns\E//;
            $where{$plain} = exists $where{$plain} ? 'many' : $i;
        }
    }
    return \%where;
}

sub check {
    my ($name, $servers, %opt) = @_;
    # $servers: [[cmf address, mcfast address, raw address, weight], ...]
    my @raw = map { $_->[2] } @$servers;
    my $ns = $opt{namespace} // '';
    my %place;
    for my $mod (['Cache::Memcached::Fast', 0], ['Cache::Memcached::Mcfast', 1]) {
        my ($class, $col) = @$mod;
        flush_raw(@raw);
        my $m = $class->new({ %opt, servers => [ map { { address => $_->[$col], weight => $_->[3] } } @$servers ] });
        my @r = $m->set_multi(map { [$_, 1] } @keys);
        my $failed = grep { !$_ } @r;
        is($failed, 0, "$name: $class stored every key") or diag(scalar $m->last_error);
        $place{$class} = placement(\@raw, $ns);
    }
    my ($a, $b) = @place{qw(Cache::Memcached::Fast Cache::Memcached::Mcfast)};
    my @bad = grep { ($a->{$_} // 'none') ne ($b->{$_} // 'none') } @keys;
    is(scalar @bad, 0, "$name: all " . scalar(@keys) . " keys on the same server")
        or diag(join ', ', map { "$_: Fast $a->{$_}, Mcfast $b->{$_}" } @bad[0 .. ($#bad < 4 ? $#bad : 4)]);
    my %count;
    $count{ $b->{$_} // 'none' }++ for @keys;
    ok(!$count{none} && !$count{many}, "$name: each key on exactly one server")
        or diag(join ' ', %count);
    cmp_ok(scalar(grep { /^\d+$/ } keys %count), '==', scalar(@$servers), "$name: every server got keys")
        if @keys > 100 * @$servers;
}

my @base = ((map { [$_, $_, $_, 1] } @tcp), [$unix, $unix, $unix, 1]);
my @weighted = map { [@$_[0 .. 2], 1 + $_ % 3] } @base;
$weighted[$_][3] = 1 + $_ % 3 for 0 .. $#weighted;

check('modula, one server', [$base[0]]);
check('modula, equal weights', \@base);
check('modula, weights 1..3', \@weighted);
check('modula, namespace not hashed', \@base, namespace => 'app:');
check('modula, namespace hashed', \@weighted, namespace => 'app:', hash_namespace => 1);
check('ketama 150, equal weights', \@base, ketama_points => 150);
check('ketama 150, weights 1..3', \@weighted, ketama_points => 150);
check('ketama 37, weights', \@weighted, ketama_points => 37);
check('ketama, namespace hashed', \@base, ketama_points => 150, namespace => 'n/', hash_namespace => 1);
check('ketama, namespace not hashed', \@base, ketama_points => 100, namespace => 'n/');
SKIP: {
    skip 'no IPv6 loopback', 6 unless $v6;
    my @with6 = (@base[0, 1], [$v6->{cmf}, $v6->{mcfast}, $v6->{raw}, 2], $base[4]);
    check('modula with ::1:port', \@with6);
    check('ketama with ::1:port', \@with6, ketama_points => 150);
}

done_testing();
