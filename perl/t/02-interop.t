#!/usr/bin/perl
# Same data: every kind of value stored by Cache::Memcached::Fast is read
# back by Cache::Memcached::Mcfast and the other way round, and both leave
# the same bytes and the same flags on the server (plain 0, Storable 0x1,
# compressed 0x2, utf8 0x4 and their combinations).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use McTest;
use Test::More;

need_memcached();
plan skip_all => 'Cache::Memcached::Fast is not installed (the reference)' unless have_cmf();
require Cache::Memcached::Mcfast;

my $srv = start_server();
my %conf = (servers => [$srv], compress_threshold => 1000, utf8 => 1);
my $cmf = Cache::Memcached::Fast->new({%conf});
my $mcf = Cache::Memcached::Mcfast->new({%conf});
my $plain_cmf = Cache::Memcached::Fast->new({ servers => [$srv] });
my $plain_mcf = Cache::Memcached::Mcfast->new({ servers => [$srv] });

my %values = (
    plain        => ['hello world', 0],
    empty        => ['', 0],
    binary       => [join('', map { chr } 0 .. 255), 0],
    storable     => [{ list => [1, 2, 3], name => 'x' }, 0x1],
    utf8         => ["\x{263a} \x{1F600} caf\x{e9}", 0x4],
    compressed   => ['abc' x 2000, 0x2],
    storable_z   => [[('repeat') x 500], 0x3],
    utf8_z       => ["\x{263a}" x 2000, 0x6],
    incompress   => [do { srand(42); join "", map { chr(int rand 256) } 1 .. 3000 }, 0],
);

for my $name (sort keys %values) {
    my ($v, $flags) = @{ $values{$name} };
    for my $dir (['Fast', $cmf, 'Mcfast', $mcf], ['Mcfast', $mcf, 'Fast', $cmf]) {
        my ($wname, $w, $rname, $r) = @$dir;
        my $key = "interop-$name-$wname";
        ok($w->set($key, $v), "$name: $wname stores");
        my ($raw, $rawflags) = raw_get($srv, $key);
        is($rawflags, $flags, "$name: $wname sets flags $flags");
        is_deeply($r->get($key), $v, "$name: $rname reads what $wname stored");
        is_deeply($r->get_multi($key)->{$key}, $v, "$name: $rname get_multi reads it");
        is_deeply($r->gets($key)->[1], $v, "$name: $rname gets reads it");
    }
    # Byte for byte the same on the server (Storable and gzip output are
    # deterministic for the same input).
    my @a = raw_get($srv, "interop-$name-Fast");
    my @b = raw_get($srv, "interop-$name-Mcfast");
    ok($a[0] eq $b[0] && $a[1] == $b[1], "$name: same bytes and flags from both modules");
}

# utf8 => 0 on one side: flag 0x4 values come back as bytes from both.
{
    ok($cmf->set('u8', "\x{263a}"), 'utf8 value for non-utf8 readers');
    my $a = $plain_cmf->get('u8');
    my $b = $plain_mcf->get('u8');
    is($b, $a, 'non-utf8 clients read flag 0x4 values as the same bytes');
    ok(!utf8::is_utf8($b), '... not decoded');
}

# Flags outside 0x7 are left alone and their values returned as stored.
raw_cmd($srv, "set rawflag 1024 0 3\r\nabc\r\n");
is($mcf->get('rawflag'), $cmf->get('rawflag'), 'unknown flag bits: same value');
is($mcf->get('rawflag'), 'abc', 'unknown flag bits: value as stored');

# Values that do not decode are a miss for both.
raw_cmd($srv, "set badz 2 0 3\r\nabc\r\n");
raw_cmd($srv, "set bads 1 0 3\r\nabc\r\n");
raw_cmd($srv, "set badu 4 0 2\r\n\xff\xfe\r\n");
for my $k (qw(badz bads badu)) {
    is_deeply([$mcf->get($k)], [$cmf->get($k)], "$k: undecodable value is a miss in both");
    is_deeply($mcf->get_multi($k, 'interop-plain-Fast'), $cmf->get_multi($k, 'interop-plain-Fast'),
              "$k: get_multi leaves it out in both");
}
like(scalar $mcf->last_error, qr/badz|bads|badu/, 'last_error names the undecodable key');

# Custom serialize/compress methods are called the way CMF calls them.
{
    my @calls;
    my %c = (servers => [$srv], compress_threshold => 10, compress_ratio => 1,
             compress_methods => [sub { push @calls, 'c'; ${ $_[1] } = reverse ${ $_[0] }; 1 },
                                  sub { push @calls, 'd'; ${ $_[1] } = reverse ${ $_[0] }; 1 }],
             serialize_methods => [sub { push @calls, 's'; join ',', @{ $_[0] } },
                                   sub { push @calls, 't'; [split /,/, $_[0]] }]);
    my $a = Cache::Memcached::Fast->new({%c});
    my $b = Cache::Memcached::Mcfast->new({%c});
    $a->set('cm1', [1 .. 10]);
    my @ca = splice @calls;
    $b->set('cm2', [1 .. 10]);
    my @cb = splice @calls;
    is_deeply(\@cb, \@ca, 'custom methods: same calls on store');
    is_deeply([raw_get($srv, 'cm2')], [raw_get($srv, 'cm1')], 'custom methods: same bytes');
    is_deeply($b->get('cm1'), [1 .. 10], 'Mcfast reads with custom methods');
    my @cb2 = splice @calls;
    $a->get('cm2');
    is_deeply(\@cb2, [splice @calls], 'custom methods: same calls on fetch');
}

done_testing();
