#!/usr/bin/perl
# Fractional weights (1.5, 0.5, 2.25, ...), legal in Cache::Memcached::Fast:
# 10,000 keys must land on the same server as with the real module in both
# its modes (compatible modula, and ketama_points > 0), with no warning.
# Each module stores the keys in turn; each server is then asked directly.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use McTest;
use Test::More;

need_memcached();
plan skip_all => 'Cache::Memcached::Fast is not installed (the reference)' unless have_cmf();
require Cache::Memcached::Mcfast;

my @srv = map { start_server() } 1 .. 4;
my @keys = map { "fw-$_" } 1 .. 10_000;
my $probe = sub { Cache::Memcached::Mcfast->new({ servers => [ $_[0] ] }) };

sub placement {
    my %where;
    for my $i (0 .. $#srv) {
        my $h = $probe->($srv[$i])->get_multi(@keys);
        $where{$_} = exists $where{$_} ? 'many' : $i for keys %$h;
    }
    return \%where;
}

# $spread: how many servers hold keys.  Not always all of them: CMF's
# compatible mode takes hash % round(total weight) buckets and maps bucket v
# to the point v / total of its weight line, so with weights 0.5, 0.5 (one
# bucket) every key goes to the first server.
sub check {
    my ($name, $weights, $spread, %opt) = @_;
    my %place;
    for my $class (qw(Cache::Memcached::Fast Cache::Memcached::Mcfast)) {
        raw_cmd($_, "flush_all\r\n") for @srv;
        my @warn;
        local $SIG{__WARN__} = sub { push @warn, $_[0] };
        my $m = $class->new({ %opt, servers => [ map { { address => $srv[$_], weight => $weights->[$_] } }
                                                 0 .. $#$weights ] });
        my $stored = grep { $_ } $m->set_multi(map { [ $_, 1 ] } @keys);
        is($stored, scalar @keys, "$name: $class stored every key") or diag(scalar $m->last_error);
        is("@warn", '', "$name: $class gave no warning");
        $place{$class} = placement();
    }
    my ($ref, $got) = @place{qw(Cache::Memcached::Fast Cache::Memcached::Mcfast)};
    my @diff = grep { ($ref->{$_} // 'none') ne ($got->{$_} // 'none') } @keys;
    is(scalar @diff, 0, "$name: every key on the same server as Cache::Memcached::Fast")
        or diag(join ' ', map { "$_: Fast $ref->{$_}, Mcfast $got->{$_}" } @diff[0 .. ($#diff < 4 ? $#diff : 4)]);
    my %per;
    $per{ $got->{$_} // 'none' }++ for @keys;
    is(scalar(grep { ($per{$_} // 0) > 0 } 0 .. $#$weights), $spread, "$name: $spread servers hold keys")
        or diag(join ' ', map { "$_=$per{$_}" } sort keys %per);
}

# [label, servers holding keys per case below, options]
for my $mode ([ 'compatible', [ 2, 1, 2, 3 ] ], [ 'ketama', [ 4, 2, 3, 3 ], ketama_points => 150 ],
              [ 'ketama few points', [ 4, 2, 3, 3 ], ketama_points => 3 ]) {
    my ($label, $spread, %opt) = @$mode;
    check("$label 1.5,0.5,2.25,1", [ 1.5, 0.5, 2.25, 1 ], $spread->[0], %opt);
    check("$label 0.5,0.5", [ 0.5, 0.5 ], $spread->[1], %opt);
    check("$label 2.25,1.75,0.3", [ 2.25, 1.75, 0.3 ], $spread->[2], %opt);
    check("$label integers 1,2,3", [ 1, 2, 3 ], $spread->[3], %opt);
}

# Weights totalling under 0.5 leave CMF's compatible mode no bucket (it
# divides by zero and dies of SIGFPE): every key method fails, saying why.
{
    my @warn;
    local $SIG{__WARN__} = sub { push @warn, $_[0] };
    my $m = Cache::Memcached::Mcfast->new({ servers => [ { address => $srv[0], weight => 0.1 },
                                                         { address => $srv[1], weight => 0.2 } ] });
    ok(!defined $m->set('tiny', 1), 'weights totalling 0.3: set fails');
    like(scalar $m->last_error, qr/under 0\.5/, 'weights totalling 0.3: last_error says why');
    is("@warn", '', 'weights totalling 0.3: no warning');
}

done_testing();
