#!/usr/bin/perl
# bench/perl/bench.pl - Cache::Memcached::Mcfast against the real
# Cache::Memcached::Fast, in one perl process, on the same memcached servers
# (started here, one worker thread each), in alternating rounds
# (`make bench-perl`).
#
#   perl bench/perl/bench.pl [--rounds N] [--round-time S] [--workloads w1,w2]
#                            [--quick]
#
# Workloads (100-byte values that start with their key; every value read is
# checked, so a wrong or missing value fails the run instead of looking
# fast: get and set_multi in the timed loop, get_multi by the number of
# hits there and every value in an untimed call per round):
#   set                one set per call
#   get                one get per call (hits)
#   get_multi100       get_multi of 100 keys, one server
#   set_multi100       set_multi of 100 items, one server
#   get_multi100_4srv  get_multi of 100 keys spread over 4 servers
# Each round runs both clients for the same number of calls (about
# round-time seconds each), the order alternating between rounds.  Output
# per workload:
#   perl: WORKLOAD mcfast=K/s cmf=K/s ratio=R cpu_mcfast=US cpu_cmf=US cpu_ratio=C
# K/s: thousands of keys per second of wall time, the medians of the
# rounds; ratio: the median of the rounds' mcfast/cmf throughput ratios
# (target >= 1.2); US: user CPU of the process per key in microseconds,
# from Perl's times builtin summed over all rounds; cpu_ratio = mcfast/cmf
# (target <= 0.8).  The kernel splits a process's CPU time into user and
# system by sampling at its clock tick (CONFIG_TICK_CPU_ACCOUNTING), so the
# user share is a statistical estimate: the rounds are long (15 x 0.6 s per
# client) to give it a few hundred samples.
#   spread: WORKLOAD ratio MIN..MAX, the rounds' extremes
# --quick: one short round, printed as "quick:" lines (a smoke run, not a
# measurement).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../../perl/t/lib";
use Getopt::Long;
use Time::HiRes qw(time);
use McTest qw(start_server);

my %o = (rounds => 15, 'round-time' => 0.6, workloads => '', quick => 0);
GetOptions(\%o, 'rounds=i', 'round-time=f', 'workloads=s', 'quick') or die "bad options\n";
if ($o{quick}) { $o{rounds} = 1; $o{'round-time'} = 0.02 }

eval { require Cache::Memcached::Fast; 1 } or do {
    print "SKIP: bench-perl: Cache::Memcached::Fast is not installed (the reference)\n";
    exit 0;
};
require Cache::Memcached::Mcfast;

my @ALL = qw(set get get_multi100 set_multi100 get_multi100_4srv);
my @want = $o{workloads} ? split(/[ ,]+/, $o{workloads}) : @ALL;
my %known = map { $_ => 1 } @ALL;
for (@want) { die "unknown workload '$_' (known: @ALL)\n" unless $known{$_} }

my @one = (start_server(args => ['-t', '1']));
my @four = ($one[0], map { start_server(args => ['-t', '1']) } 1 .. 3);
my $BATCH = 100;
my $NBATCH = 20;               # distinct batches of keys cycled through
my $VLEN = 100;
my @keys = map { sprintf 'pk:%08d', $_ } 0 .. $BATCH * $NBATCH - 1;
my @vals = map { $_ . ('.' x ($VLEN - length $_)) } @keys;
my %val = map { $keys[$_] => $vals[$_] } 0 .. $#keys;
my @batches = map { [@keys[$_ * $BATCH .. ($_ + 1) * $BATCH - 1]] } 0 .. $NBATCH - 1;
my @items = map { [map { [$_, $val{$_}] } @$_] } @batches;

# One timed run of $calls calls on client $m: the loops are as bare as the
# check allows, so the time is the clients' own.  Returns the keys done.
my %RUN = (
    set => sub {
        my ($m, $calls) = @_;
        my $n = @keys;
        for my $i (0 .. $calls - 1) {
            my $j = $i % $n;
            $m->set($keys[$j], $vals[$j]) or die "set $keys[$j] failed\n";
        }
        return $calls;
    },
    get => sub {
        my ($m, $calls) = @_;
        my $n = @keys;
        for my $i (0 .. $calls - 1) {
            my $j = $i % $n;
            my $v = $m->get($keys[$j]);
            die "get $keys[$j]: wrong value\n" unless defined $v && $v eq $vals[$j];
        }
        return $calls;
    },
    get_multi100 => sub {
        my ($m, $calls) = @_;
        for my $i (0 .. $calls - 1) {
            my $h = $m->get_multi(@{ $batches[$i % $NBATCH] });
            die "get_multi: " . keys(%$h) . " of $BATCH keys\n" unless keys %$h == $BATCH;
        }
        return $calls * $BATCH;
    },
    set_multi100 => sub {
        my ($m, $calls) = @_;
        for my $i (0 .. $calls - 1) {
            my @r = $m->set_multi(@{ $items[$i % $NBATCH] });
            die "set_multi: not every item stored\n" unless @r == $BATCH && !grep { !$_ } @r;
        }
        return $calls * $BATCH;
    },
);
$RUN{get_multi100_4srv} = $RUN{get_multi100};

# Every value of every batch, checked once per round outside the timing
# (the timed get_multi loop counts the hits only: looking up 100 keys in
# Perl would cost about as much as the call itself, the same for both).
sub check_values {
    my ($m) = @_;
    for my $b (@batches) {
        my $h = $m->get_multi(@$b);
        for (@$b) { die "get_multi $_: wrong value\n" unless ($h->{$_} // '') eq $val{$_} }
    }
}

sub median {
    my @s = sort { $a <=> $b } @_;
    return @s % 2 ? $s[$#s / 2] : ($s[@s / 2 - 1] + $s[@s / 2]) / 2;
}

# (wall seconds, user CPU seconds, keys) of one run.
sub timed {
    my ($code, $m, $calls) = @_;
    my ($u0) = times;
    my $t0 = time;
    my $keys = $code->($m, $calls);
    my $t = time - $t0;
    my ($u1) = times;
    return ($t, $u1 - $u0, $keys);
}

my $tag = $o{quick} ? 'quick' : 'perl';
for my $w (@want) {
    my $servers = $w =~ /4srv/ ? \@four : \@one;
    my %m = map { $_->[0] => $_->[1]->new({ servers => $servers, connect_timeout => 1, io_timeout => 2 }) }
            ([mcfast => 'Cache::Memcached::Mcfast'], [cmf => 'Cache::Memcached::Fast']);
    # The data the read workloads check, stored once by the reference.
    $m{cmf}->set_multi(@$_) for @items;
    my $code = $RUN{$w};
    # Calibrate (warming both up): calls so that a client's run takes
    # about round-time, from the median of a few probes of both.
    my $calls = 8;
    $calls *= 2 while (timed($code, $m{cmf}, $calls))[0] < $o{'round-time'} / 8 && $calls < 1e7;
    my @probe = map { (timed($code, $m{$_ % 2 ? 'cmf' : 'mcfast'}, $calls))[0] } 1 .. 6;
    $calls = int($calls * $o{'round-time'} / (median(@probe) || 1e-3)) || 1;
    my (%ops, %user, %keys, @ratios);
    for my $r (1 .. $o{rounds}) {
        my %this;
        for my $c ($r % 2 ? qw(mcfast cmf) : qw(cmf mcfast)) {
            check_values($m{$c}) if $w =~ /^get_multi/;
            my ($t, $u, $k) = timed($code, $m{$c}, $calls);
            $this{$c} = $k / $t;
            push @{ $ops{$c} }, $k / $t;
            $user{$c} += $u;
            $keys{$c} += $k;
        }
        push @ratios, $this{mcfast} / $this{cmf};
    }
    my %med = map { $_ => median(@{ $ops{$_} }) } keys %ops;
    my %cpu = map { $_ => $user{$_} / $keys{$_} * 1e6 } keys %user;
    printf "%s: %s mcfast=%.1fK/s cmf=%.1fK/s ratio=%.2f cpu_mcfast=%.3fus cpu_cmf=%.3fus cpu_ratio=%.2f\n",
        $tag, $w, $med{mcfast} / 1000, $med{cmf} / 1000, median(@ratios), $cpu{mcfast}, $cpu{cmf},
        $cpu{cmf} > 0 ? $cpu{mcfast} / $cpu{cmf} : 0;
    printf "spread: %s ratio %.2f..%.2f over %d rounds of %d calls\n", $w,
        (sort { $a <=> $b } @ratios)[0, -1], $o{rounds}, $calls unless $o{quick};
}
