#!/usr/bin/perl
# compress_interop.pl - the Cache::Memcached::Fast side of t_compress_interop.sh.
#   compress_interop.pl ADDR set KEY INFILE    store INFILE's bytes (compress_threshold 100)
#   compress_interop.pl ADDR get KEY OUTFILE   fetch into OUTFILE; exit 1 on a miss
#   compress_interop.pl ADDR raw KEY           print "FLAGS BYTES" as the server holds it
#                                              (plain socket, no client), "MISS" if absent
# Exit 3 when Cache::Memcached::Fast is not installed, 2 on other errors.
use strict;
use warnings;
use IO::Socket::INET;

my ($addr, $cmd, $key, $file) = @ARGV;
die "usage: compress_interop.pl ADDR set|get|raw KEY [FILE]\n" unless $addr && $cmd && defined $key;

if ($cmd eq 'raw') {
    my ($host, $port) = $addr =~ /^(.*):(\d+)$/ or die "bad address $addr\n";
    my $s = IO::Socket::INET->new(PeerAddr => $host, PeerPort => $port, Proto => 'tcp')
        or do { print STDERR "connect $addr: $!\n"; exit 2 };
    binmode $s;
    print $s "get $key\r\n";
    my $line = <$s>;
    defined $line or do { print STDERR "no reply\n"; exit 2 };
    if ($line =~ /^END\r\n$/) { print "MISS\n"; exit 0 }
    my ($flags, $bytes) = $line =~ /^VALUE \S+ (\d+) (\d+)\r\n$/
        or do { print STDERR "bad reply: $line"; exit 2 };
    print "$flags $bytes\n";
    close $s;
    exit 0;
}

eval { require Cache::Memcached::Fast; 1 } or exit 3;
my $memd = Cache::Memcached::Fast->new({
    servers => [$addr],
    compress_threshold => 100,
    utf8 => 0,
});

if ($cmd eq 'set') {
    open my $in, '<:raw', $file or die "$file: $!\n";
    my $val = do { local $/; <$in> };
    close $in;
    $memd->set($key, $val) or do { print STDERR "set $key failed\n"; exit 2 };
    exit 0;
}
if ($cmd eq 'get') {
    my $val = $memd->get($key);
    exit 1 unless defined $val;
    open my $out, '>:raw', $file or die "$file: $!\n";
    print $out $val;
    close $out;
    exit 0;
}
die "unknown command $cmd\n";
