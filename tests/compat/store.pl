#!/usr/bin/perl
# store.pl - stores every key of a file through a real Perl client, for t_dist_compat.sh.
#   store.pl --client cm|cmf [--ketama N] [--ns PREFIX] [--hash-ns 0|1] KEYFILE ADDR[=WEIGHT]...
# Exits 0 when every set succeeded; 3 when the client module is not installed.
use strict;
use warnings;
use Getopt::Long;

my ($client, $ketama, $ns, $hash_ns) = ('cmf', 0, undef, undef);
GetOptions('client=s' => \$client, 'ketama=i' => \$ketama, 'ns=s' => \$ns,
           'hash-ns=i' => \$hash_ns) or exit 2;
my ($keyfile, @addrs) = @ARGV;
die "usage: store.pl [options] KEYFILE ADDR[=WEIGHT]...\n" unless $keyfile && @addrs;

my @servers;
for my $a (@addrs) {
    my ($addr, $w) = $a =~ /^(.*?)(?:=(\d+))?$/;
    push @servers, [$addr, defined $w ? $w : 1];
}

my $memd;
if ($client eq 'cm') {
    eval { require Cache::Memcached; 1 } or exit 3;
    # Cache::Memcached takes [addr, weight] pairs.
    $memd = Cache::Memcached->new({ servers => \@servers,
                                    defined $ns ? (namespace => $ns) : () });
} else {
    eval { require Cache::Memcached::Fast; 1 } or exit 3;
    $memd = Cache::Memcached::Fast->new({
        servers => [ map { { address => $_->[0], weight => $_->[1] } } @servers ],
        ketama_points => $ketama,
        defined $ns ? (namespace => $ns) : (),
        defined $hash_ns ? (hash_namespace => $hash_ns) : (),
    });
}

open my $fh, '<', $keyfile or die "$keyfile: $!\n";
my ($n, $failed) = (0, 0);
while (my $k = <$fh>) {
    chomp $k;
    next unless length $k;
    $n++;
    $failed++ unless $memd->set($k, "1");
}
close $fh;
die "$client: $failed of $n sets failed\n" if $failed;
exit 0;
