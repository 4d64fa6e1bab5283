package Frameworks;
# Framework integration tests: one scenario is run once with
# Cache::Memcached::Fast and once with Cache::Memcached::Mcfast under the
# framework, each on freshly flushed servers; every observation the scenario
# records, every warning and any exception are then compared.  What reached
# the servers is part of the scenario (it asks a server directly with
# raw_get), so a framework that "works" by storing differently still fails.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Compare ();
use McTest;
use Test::More;

our @EXPORT = qw(framework_side_by_side on_servers);
use Exporter 'import';

# framework_side_by_side($name, \@servers, sub { my ($class, $note) = @_; ... }):
# the scenario calls $note->(label, value) for each thing it observes.
# One test per observation, plus one for the warnings and one for dying.
sub framework_side_by_side {
    my ($name, $servers, $scenario) = @_;
    my %run;
    for my $class (qw(Cache::Memcached::Fast Cache::Memcached::Mcfast)) {
        raw_cmd($_, "flush_all\r\n") for @$servers;
        my (@obs, @warn);
        local $SIG{__WARN__} = sub { push @warn, Compare::clean_msg($_[0]) };
        my $ok = eval {
            $scenario->($class, sub { push @obs, [ $_[0], Compare::canon($_[1]) ] });
            1;
        };
        my $err = $ok ? '' : Compare::clean_msg("$@");
        $run{$class} = { obs => \@obs, warn => \@warn, err => $err };
    }
    my ($ref, $got) = @run{qw(Cache::Memcached::Fast Cache::Memcached::Mcfast)};
    is($got->{err}, $ref->{err}, "$name: dies the same way") or diag("Mcfast: $got->{err}");
    is(scalar @{ $got->{obs} }, scalar @{ $ref->{obs} }, "$name: same number of observations");
    for my $i (0 .. $#{ $ref->{obs} }) {
        my ($label, $want) = @{ $ref->{obs}[$i] };
        my $have = $got->{obs}[$i] ? $got->{obs}[$i][1] : '(missing)';
        is($have, $want, "$name: $label");
    }
    # Each module's own name was replaced by MODULE, so identical warnings
    # compare equal; any warning only ours gives is a defect.
    is_deeply($got->{warn}, $ref->{warn}, "$name: same warnings")
        or diag("Fast: @{ $ref->{warn} }\nMcfast: @{ $got->{warn} }");
    return \%run;
}

# What the servers hold under $key: [server index, value, flags] for each
# server that has it (asked directly, not through either module).
sub on_servers {
    my ($servers, $key) = @_;
    my @r;
    for my $i (0 .. $#$servers) {
        my ($v, $f) = raw_get($servers->[$i], $key);
        push @r, [ $i, $v, $f ] if defined $v;
    }
    return \@r;
}

1;
