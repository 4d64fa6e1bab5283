#!/usr/bin/perl
# The default compression is done in C (mcfx_gzip.c), not by calling
# Compress::Zlib: it must write memGzip's bytes exactly and accept exactly
# what memGunzip accepts.  Compared directly on a corpus of values (sizes
# around zlib's buffers, text, binary, repetitive, random) and on damaged
# and unusual gzip data (every truncation, flipped bytes, header fields,
# trailers short, wrong or followed by garbage); then through a server:
# values Cache::Memcached::Fast compressed are read here and the other way
# round, byte for byte the same on the server.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use McTest;
use Test::More;
use Compress::Zlib ();
use Cache::Memcached::Mcfast;

my $gzip   = \&Cache::Memcached::Mcfast::_gzip;
my $gunzip = \&Cache::Memcached::Mcfast::_gunzip;

srand(13);
sub rnd { join '', map { chr int rand 256 } 1 .. $_[0] }
my @corpus = ('', '0', 'a', 'hello world', 'x' x 100, 'ab' x 5000, rnd(1), rnd(100), rnd(5000),
              join('', map { "line $_ of some text\n" } 1 .. 3000), "\0" x 70000,
              join('', map { rnd(1) x (1 + int rand 50) } 1 .. 4000));
push @corpus, 'q' x $_, rnd($_) for 4095, 4096, 4097, 16383, 16384, 65535, 65536, 65537, 300_000;
push @corpus, Storable::nfreeze({ map { $_ => [1 .. $_] } 1 .. 50 }) if eval { require Storable; 1 };

my $same = 0;
for my $v (@corpus) {
    my $want = Compress::Zlib::memGzip($v);
    my $got = $gzip->($v);
    if (defined $got && $got eq $want) { $same++ }
    else { fail('gzip of ' . length($v) . ' bytes differs from memGzip') }
    is($gunzip->($want), $v, 'memGzip output of ' . length($v) . ' bytes inflates back');
}
is($same, scalar @corpus, "memGzip's bytes for all " . scalar(@corpus) . ' values');

# Damaged or unusual input: the same verdict as memGunzip (undef or the
# same bytes).
my $base = Compress::Zlib::memGzip('the quick brown fox ' x 20);
my @odd;
push @odd, substr($base, 0, $_) for 0 .. length($base) - 1;      # every truncation
for my $i (0 .. length($base) - 1) {                              # every byte flipped
    my $b = $base;
    substr($b, $i, 1) = chr(ord(substr($b, $i, 1)) ^ 0x55);
    push @odd, $b;
}
my $deflated = substr($base, 10, length($base) - 18);
my $trailer = substr($base, -8);
my $hdr = sub { my ($flg, $extra) = @_; pack('C4 V C C', 0x1f, 0x8b, 8, $flg, 0, 0, 3) . $extra };
push @odd,
    $base . 'trailing garbage',                                   # ignored after the trailer
    substr($base, 0, -1),                                         # short trailer: not checked
    substr($base, 0, -8),                                         # no trailer at all
    $hdr->(0x04, pack('v', 5) . 'extra') . $deflated . $trailer,  # FEXTRA
    $hdr->(0x04, pack('v', 500) . 'short') . $deflated . $trailer,
    $hdr->(0x08, "name.txt\0") . $deflated . $trailer,            # FNAME
    $hdr->(0x08, 'no terminator'),
    $hdr->(0x10, "a comment\0") . $deflated . $trailer,           # FCOMMENT
    $hdr->(0x18, "n\0c\0") . $deflated . $trailer,
    $hdr->(0x02, 'zz') . $deflated . $trailer,                    # FHCRC, not verified
    $hdr->(0x02, 'z'),
    $hdr->(0x20, '') . $deflated . $trailer,                      # reserved flag
    $hdr->(0x1e, pack('v', 1) . "x" . "n\0" . "c\0" . 'hc') . $deflated . $trailer,
    "\x1f\x8b\x07" . substr($base, 3),                            # not deflate
    Compress::Zlib::compress('zlib, not gzip'),
    $base . $base,                                                # two members: the first
    substr($base, 0, -8) . pack('V V', 0, 0),                     # wrong crc and length
    substr($base, 0, -4) . pack('V', 1),                          # wrong length
    Compress::Zlib::memGzip(''), Compress::Zlib::memGzip('0');
my $agree = 0;
for my $i (0 .. $#odd) {
    my $want = Compress::Zlib::memGunzip(my $copy = $odd[$i]);
    my $got = $gunzip->($odd[$i]);
    if ((defined $want ? "=$want" : 'undef') eq (defined $got ? "=$got" : 'undef')) { $agree++ }
    else {
        fail("odd input $i (" . length($odd[$i]) . ' bytes): memGunzip '
             . (defined $want ? 'inflates it' : 'refuses it') . ', mcfx_gunzip '
             . (defined $got ? 'inflates it' : 'refuses it'));
    }
}
is($agree, scalar @odd, 'the same verdict as memGunzip on ' . scalar(@odd) . ' damaged or unusual inputs');

# Through a server, both ways, with the modules' own defaults.
SKIP: {
    skip 'memcached is not installed', 1 unless eval { need_memcached(); 1 } && have_cmf();
    require Cache::Memcached::Fast;
    my $srv = start_server();
    my %conf = (servers => [$srv], compress_threshold => 100);
    my $cmf = Cache::Memcached::Fast->new({%conf});
    my $mcf = Cache::Memcached::Mcfast->new({%conf});
    my $n = 0;
    for my $i (0 .. $#corpus) {
        my $v = $corpus[$i];
        next if length $v > 1024 * 1024;
        ok($cmf->set("zf$i", $v) && $mcf->set("zm$i", $v), "value $i stored by both");
        my ($a, $fa) = raw_get($srv, "zf$i");
        my ($b, $fb) = raw_get($srv, "zm$i");
        ok($fa == $fb && $a eq $b, "value $i: same flags ($fa) and bytes on the server");
        is($mcf->get("zf$i"), $v, "value $i: Mcfast reads what Fast compressed");
        is($cmf->get("zm$i"), $v, "value $i: Fast reads what Mcfast compressed");
        $n++ if $fa & 2;
    }
    cmp_ok($n, '>', 10, "$n values went compressed");
    # A value flagged compressed whose data memGunzip refuses, or that
    # inflates to "" or "0" (false for Fast's default method): a miss in both.
    for my $t (['not gzip', 'abc'], ['empty', Compress::Zlib::memGzip('')],
               ['zero', Compress::Zlib::memGzip('0')], ['one', Compress::Zlib::memGzip('1')]) {
        my ($name, $data) = @$t;
        raw_cmd($srv, "set odd-$name 2 0 " . length($data) . "\r\n$data\r\n");
        is_deeply([$mcf->get("odd-$name")], [$cmf->get("odd-$name")], "flag 0x2 value '$name': the same result");
    }
}

done_testing();
