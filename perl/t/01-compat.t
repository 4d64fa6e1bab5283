#!/usr/bin/perl
# Every method, in list, scalar and void context, against Cache::Memcached::Fast:
# the same steps run through both modules on the same real servers (two TCP
# servers and a unix socket), and each step must return the same thing,
# warn the same way and die the same way.  Steps whose outcome differs by
# design are listed in %KNOWN with the value Mcfast must give (see POD,
# "DIFFERENCES FROM Cache::Memcached::Fast").
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use McTest;
use Compare;
use Test::More;

need_memcached();
plan skip_all => 'Cache::Memcached::Fast is not installed (the reference)' unless have_cmf();
require Cache::Memcached::Mcfast;

my @servers = (start_server(), start_server(), start_server(unix => 1));
my $dead = '127.0.0.1:' . free_port();
sub flush_raw { raw_cmd($_, "flush_all\r\n") for @servers }

my $cas;    # shared between steps: the cas from a gets, used by cas
sub hide_cas {
    my ($r) = @_;
    return $r unless ref $r eq 'ARRAY';
    $cas = $r->[0];
    return [ ($r->[0] =~ /^\d+$/ && $r->[0] > 0 ? 'CAS' : "bad cas $r->[0]"), $r->[1] ];
}
sub hide_cas_hash {
    my ($h) = @_;
    return $h unless ref $h eq 'HASH';
    return { map { $_ => hide_cas($h->{$_}) } keys %$h };
}
my @keys = map {"key$_"} 1 .. 20;
my $big = join '', map { chr(65 + $_ % 26) x 1000 } 1 .. 300;    # 300 kB, compresses well

sub S { my ($name, $code) = @_; return map { ["$name [$_]", $_, $code] } qw(list scalar) }
sub V { my ($name, $code) = @_; return ["$name [void]", 'void', $code] }

my @steps = (
    ['reset', 'void', sub { }],
    # --- storage
    S('set', sub { $_[0]->set('a', 'alpha') }),
    S('set with exptime', sub { $_[0]->set('e', 'x', 100) }),
    S('set undef exptime', sub { $_[0]->set('e2', 'x', undef) }),
    S('set number', sub { $_[0]->set('n', 42) }),
    S('set float', sub { $_[0]->set('f', 3.25) }),
    S('set empty', sub { $_[0]->set('empty', '') }),
    S('set zero', sub { $_[0]->set('zero', '0') }),
    S('set undef value', sub { $_[0]->set('u', undef) }),
    S('get undef value', sub { $_[0]->get('u') }),
    S('set binary', sub { $_[0]->set('bin', join('', map { chr } 0 .. 255) x 4) }),
    S('get binary', sub { length $_[0]->get('bin') }),
    S('add existing', sub { $_[0]->add('a', 'x') }),
    S('add new', sub { $_[0]->add('b' . (wantarray ? 'l' : 's'), 'beta') }),
    S('replace existing', sub { $_[0]->replace('a', 'alpha2') }),
    S('replace missing', sub { $_[0]->replace('nope', 'x') }),
    S('append existing', sub { $_[0]->append('a', '>') }),
    S('append missing', sub { $_[0]->append('nope', 'x') }),
    S('prepend existing', sub { $_[0]->prepend('a', '<') }),
    S('prepend missing', sub { $_[0]->prepend('nope', 'x') }),
    S('get appended', sub { $_[0]->get('a') }),
    V('set void', sub { $_[0]->set('v', 'void') }),
    S('get after void set', sub { $_[0]->get('v') }),
    # --- retrieval
    S('get hit', sub { $_[0]->get('n') }),
    S('get miss', sub { $_[0]->get('nope') }),
    S('get float', sub { $_[0]->get('f') }),
    S('get empty', sub { $_[0]->get('empty') }),
    S('get zero', sub { $_[0]->get('zero') }),
    S('gets hit', sub { hide_cas($_[0]->gets('a')) }),
    S('gets miss', sub { $_[0]->gets('nope') }),
    S('gat hit', sub { $_[0]->gat(100, 'a') }),
    S('gat miss', sub { $_[0]->gat(100, 'nope') }),
    S('gats hit', sub { hide_cas($_[0]->gats(100, 'a')) }),
    S('gats miss', sub { $_[0]->gats(100, 'nope') }),
    # --- cas
    ['cas prepare', 'scalar', sub { hide_cas($_[0]->gets('a')) }],
    ['cas ok', 'scalar', sub { $_[0]->cas('a', $cas, 'casval') }],
    ['cas stale', 'scalar', sub { $_[0]->cas('a', $cas, 'casval2') }],
    ['cas stale list', 'list', sub { $_[0]->cas('a', $cas, 'casval2') }],
    S('cas missing', sub { $_[0]->cas('nope', 12345, 'x') }),
    ['cas with exptime', 'scalar', sub { my $g = $_[0]->gets('a'); $_[0]->cas('a', @$g, 100) }],
    S('get after cas', sub { $_[0]->get('a') }),
    # --- arithmetic
    ['set counter', 'scalar', sub { $_[0]->set('c', 10) }],
    S('incr', sub { $_[0]->incr('c') }),
    S('incr by 5', sub { $_[0]->incr('c', 5) }),
    S('incr undef delta', sub { $_[0]->incr('c', undef) }),
    S('incr zero delta', sub { $_[0]->incr('c', 0) }),
    S('decr by 3', sub { $_[0]->decr('c', 3) }),
    S('decr below zero', sub { $_[0]->decr('c', 1000) }),
    S('decr at zero', sub { $_[0]->decr('c') }),
    S('incr from zero', sub { $_[0]->incr('c', 0) }),
    S('incr missing', sub { $_[0]->incr('nope') }),
    S('decr missing', sub { $_[0]->decr('nope') }),
    S('incr non-number', sub { $_[0]->incr('a') }),
    ['set max', 'scalar', sub { $_[0]->set('max', '18446744073709551615') }],
    S('get max', sub { $_[0]->get('max') }),
    ['incr wraps', 'scalar', sub { $_[0]->incr('max') }],
    S('incr after wrap', sub { $_[0]->incr('max', 1) }),
    ['set big counter', 'scalar', sub { $_[0]->set('bc', '18446744073709551610') }],
    S('incr big counter', sub { $_[0]->incr('bc', 1) }),
    V('incr void', sub { $_[0]->incr('c', 7) }),
    S('get after void incr', sub { $_[0]->get('c') }),
    # --- delete, touch
    S('touch hit', sub { $_[0]->touch('n', 100) }),
    S('touch no exptime', sub { $_[0]->touch('n') }),
    S('touch miss', sub { $_[0]->touch('nope', 100) }),
    ['delete hit', 'scalar', sub { $_[0]->delete('n') }],
    S('delete miss', sub { $_[0]->delete('n') }),
    ['delete with 0 delay', 'scalar', sub { $_[0]->set('d0', 1); $_[0]->delete('d0', 0) }],
    ['delete with delay warns', 'scalar', sub { $_[0]->set('d1', 1); $_[0]->delete('d1', 5) }],
    ['remove', 'scalar', sub { $_[0]->set('r', 1); $_[0]->remove('r') }],
    S('remove miss', sub { $_[0]->remove('r') }),
    V('delete void', sub { $_[0]->delete('e') }),
    S('get after void delete', sub { $_[0]->get('e') }),
    # --- multi storage
    S('set_multi', sub { $_[0]->set_multi(map { [$_, "v$_"] } @keys) }),
    S('set_multi exptimes', sub { $_[0]->set_multi(['x1', 1, 100], ['x2', 2, undef], ['x3', 3]) }),
    S('set_multi empty', sub { $_[0]->set_multi() }),
    S('set_multi duplicate keys', sub { $_[0]->set_multi(['dup', 1], ['dup', 2]) }),
    S('get dup', sub { $_[0]->get('dup') }),
    ['set_multi not array', 'scalar', sub { $_[0]->set_multi('x') }],
    S('add_multi', sub { $_[0]->add_multi(['key1', 'no'], ['new' . (wantarray // 0), 'yes']) }),
    S('replace_multi', sub { $_[0]->replace_multi(['key2', 'r2'], ['nope', 'x']) }),
    S('append_multi', sub { $_[0]->append_multi(['key3', '+'], ['nope', 'x']) }),
    S('prepend_multi', sub { $_[0]->prepend_multi(['key3', '-'], ['nope', 'x']) }),
    S('get key3', sub { $_[0]->get('key3') }),
    ['cas_multi', 'list', sub {
        my ($m) = @_;
        my $g = $m->gets_multi('key4', 'key5');
        $m->cas_multi(['key4', $g->{key4}[0], 'c4'], ['key5', $g->{key5}[0] + 1000, 'c5'],
                      ['nope', 1, 'x'], ['key6', $g->{key5}[0], 'c6', 100]);
    }],
    ['cas_multi scalar', 'scalar', sub {
        my ($m) = @_;
        my $g = $m->gets_multi('key7');
        $m->cas_multi(['key7', $g->{key7}[0], 'c7'], ['nope', 1, 'x']);
    }],
    V('set_multi void', sub { $_[0]->set_multi(['vm1', 1], ['vm2', 2]) }),
    S('get_multi after void set_multi', sub { $_[0]->get_multi('vm1', 'vm2') }),
    # --- multi retrieval
    S('get_multi', sub { $_[0]->get_multi(@keys, 'nope', 'x1') }),
    S('get_multi none', sub { $_[0]->get_multi() }),
    S('get_multi all miss', sub { $_[0]->get_multi('nope1', 'nope2') }),
    S('get_multi duplicates', sub { $_[0]->get_multi('key1', 'key1', 'key2') }),
    S('gets_multi', sub { hide_cas_hash($_[0]->gets_multi('key1', 'key2', 'nope')) }),
    S('gat_multi', sub { $_[0]->gat_multi(100, 'key1', 'key2', 'nope') }),
    S('gats_multi', sub { hide_cas_hash($_[0]->gats_multi(100, 'key1', 'nope')) }),
    # --- multi arithmetic, delete, touch
    ['counters', 'scalar', sub { $_[0]->set_multi(['c1', 1], ['c2', 2], ['c3', 3]) }],
    S('incr_multi', sub { $_[0]->incr_multi('c1', ['c2', 10], ['c3'], 'nope', ['key1', 1]) }),
    S('decr_multi', sub { $_[0]->decr_multi(['c1', 100], 'c2', ['nope', 1]) }),
    S('incr_multi empty', sub { $_[0]->incr_multi() }),
    ['incr_multi bad ref', 'scalar', sub { $_[0]->incr_multi({}) }],
    V('incr_multi void', sub { $_[0]->incr_multi(['c3', 100]) }),
    S('get c3', sub { $_[0]->get('c3') }),
    S('touch_multi', sub { $_[0]->touch_multi(['key1', 100], ['key2'], ['nope', 5]) }),
    ['touch_multi not array', 'scalar', sub { $_[0]->touch_multi('key1') }],
    S('delete_multi', sub { $_[0]->delete_multi('key8', ['key9'], ['key10', 0], 'nope') }),
    S('delete_multi again', sub { $_[0]->delete_multi('key8', 'key9') }),
    ['delete_multi delay warns', 'scalar', sub { $_[0]->delete_multi(['key11', 3]) }],
    V('delete_multi void', sub { $_[0]->delete_multi('key12') }),
    S('get deleted', sub { $_[0]->get('key12') }),
    # --- values: references, utf8, sizes
    S('set hash ref', sub { $_[0]->set('h', { a => 1, b => [1, 2, { c => 'd' }] }) }),
    S('get hash ref', sub { $_[0]->get('h') }),
    S('set array ref', sub { $_[0]->set('ar', [1, 'two', undef]) }),
    S('get array ref', sub { $_[0]->get('ar') }),
    S('set scalar ref', sub { $_[0]->set('sr', \'scalar') }),
    S('get scalar ref', sub { ${ $_[0]->get('sr') } }),
    S('set blessed', sub { $_[0]->set('obj', bless({ x => 1 }, 'Some::Class')) }),
    S('get blessed', sub { my $o = $_[0]->get('obj'); ref($o) . ':' . $o->{x} }),
    S('set_multi refs', sub { $_[0]->set_multi(['r1', [1]], ['r2', { 2 => 2 }]) }),
    S('get_multi refs', sub { $_[0]->get_multi('r1', 'r2', 'a') }),
    S('set latin1 upgraded', sub { my $s = "caf\xe9"; utf8::upgrade($s); $_[0]->set('l1', $s) }),
    S('get latin1', sub { my $v = $_[0]->get('l1'); [$v, utf8::is_utf8($v) ? 1 : 0] }),
    S('set wide char dies', sub { $_[0]->set('w', "\x{263a}") }),
    S('set bytes of utf8', sub { $_[0]->set('w2', "\xe2\x98\xba") }),
    S('get bytes of utf8', sub { my $v = $_[0]->get('w2'); [$v, utf8::is_utf8($v) ? 1 : 0] }),
    S('wide key', sub { $_[0]->set("k\x{263a}", 'wk') }),
    S('get wide key', sub { $_[0]->get("k\x{263a}") }),
    S('get_multi wide key', sub { $_[0]->get_multi("k\x{263a}") }),
    S('set big', sub { $_[0]->set('big', $big) }),
    S('get big', sub { my $v = $_[0]->get('big'); defined $v && $v eq $big ? 'same' : 'differs' }),
    S('set over 1MB', sub { $_[0]->set('huge', 'x' x (1024 * 1024 + 1)) }),
    S('get over 1MB', sub { $_[0]->get('huge') }),
    S('set_multi over 1MB', sub { $_[0]->set_multi(['huge', 'x' x (1024 * 1024 + 1)], ['small', 1]) }),
    # --- keys the server refuses
    S('set key with space', sub { $_[0]->set('a b', 1) }),
    S('set key too long', sub { $_[0]->set('k' x 251, 1) }),
    S('get key with newline', sub { $_[0]->get("a\nb") }),
    S('incr key with space', sub { $_[0]->incr('a b') }),
    S('set 250-byte key', sub { $_[0]->set('k' x 250, 1) }),
    S('get 250-byte key', sub { $_[0]->get('k' x 250) }),
    # --- namespace and compression at run time
    S('namespace get', sub { $_[0]->namespace }),
    ['namespace set', 'scalar', sub { $_[0]->namespace('ns1:') }],
    S('set in namespace', sub { $_[0]->set('a', 'in-ns') }),
    S('get in namespace', sub { $_[0]->get('a') }),
    ['namespace back', 'scalar', sub { $_[0]->namespace('') }],
    S('get outside namespace', sub { $_[0]->get('ns1:a') }),
    S('enable_compress', sub { $_[0]->enable_compress(1) }),
    S('enable_compress off', sub { $_[0]->enable_compress(0) }),
    # --- fleet
    S('server_versions', sub { my $v = $_[0]->server_versions; +{ map { $_ => ($v->{$_} =~ /^\d+\.\d+/ ? 'VER' : $v->{$_}) } keys %$v } }),
    S('nowait_push', sub { $_[0]->nowait_push }),
    S('disconnect_all', sub { $_[0]->disconnect_all }),
    S('get after disconnect', sub { $_[0]->get('key1') }),
    S('flush_all', sub { $_[0]->flush_all }),
    S('flush_all 0', sub { $_[0]->flush_all(0) }),
    S('get after flush', sub { $_[0]->get('key1') }),
    V('flush_all void', sub { $_[0]->flush_all }),
);

my %conf = (servers => [$servers[0], { address => $servers[1], weight => 2 }, [$servers[2], 1]]);
my $ref = run_steps('Cache::Memcached::Fast', \%conf, \@steps, \&flush_raw);
my $got = run_steps('Cache::Memcached::Mcfast', \%conf, \@steps, \&flush_raw);
# CMF sends "get a\nb" as is: the server answers "get a" (protocol
# injection); Mcfast refuses the key without sending (POD, DIFFERENCES).
compare_runs($ref, $got, { 'get key with newline [list]' => '[]',
                           'get key with newline [scalar]' => 'undef' });

# A client with options: compression on, utf8, a namespace, a small max_size.
my @steps2 = (
    ['reset', 'void', sub { }],
    S('set compressible', sub { $_[0]->set('z', 'a' x 5000) }),
    S('get compressible', sub { length $_[0]->get('z') }),
    S('set incompressible', sub { $_[0]->set('z2', join '', map { chr(rand 256) } 1 .. 200) }),
    S('set under threshold', sub { $_[0]->set('z3', 'a' x 99) }),
    S('set wide', sub { $_[0]->set('w', "\x{263a} smile") }),
    S('get wide', sub { my $v = $_[0]->get('w'); [$v, utf8::is_utf8($v) ? 1 : 0] }),
    S('set latin1 upgraded', sub { my $s = "caf\xe9"; utf8::upgrade($s); $_[0]->set('l', $s) }),
    S('get latin1', sub { my $v = $_[0]->get('l'); [$v, utf8::is_utf8($v) ? 1 : 0] }),
    S('set wide compressed', sub { $_[0]->set('wz', "\x{263a}" x 1000) }),
    S('get wide compressed', sub { my $v = $_[0]->get('wz'); [length $v, utf8::is_utf8($v) ? 1 : 0] }),
    S('set ref compressed', sub { $_[0]->set('rz', [('x') x 1000]) }),
    S('get ref compressed', sub { scalar @{ $_[0]->get('rz') } }),
    S('get_multi mixed', sub { my $h = $_[0]->get_multi('z', 'w', 'l', 'wz', 'rz', 'nope');
                               +{ map { $_ => (ref $h->{$_} ? 'ref' : length $h->{$_}) } keys %$h } }),
    S('gets_multi mixed', sub { my $h = $_[0]->gets_multi('z', 'w');
                                +{ map { $_ => length $h->{$_}[1] } keys %$h } }),
    S('over max_size', sub { $_[0]->set('m', 'q' x 20001) }),
    S('over max_size compressed fits', sub { $_[0]->set('m2', 'a' x 50000) }),
    S('set_multi over max_size', sub { $_[0]->set_multi(['m3', 'q' x 20001], ['m4', 'ok']) }),
    S('namespace', sub { $_[0]->namespace }),
    S('enable_compress off', sub { $_[0]->enable_compress(0); $_[0]->set('z4', 'a' x 5000) }),
    S('get z4', sub { length $_[0]->get('z4') }),
);
my %conf2 = (servers => [@servers], compress_threshold => 100, utf8 => 1, namespace => 'opt:',
             max_size => 20000);
$ref = run_steps('Cache::Memcached::Fast', \%conf2, \@steps2, \&flush_raw);
$got = run_steps('Cache::Memcached::Mcfast', \%conf2, \@steps2, \&flush_raw);
compare_runs($ref, $got);

# A fleet with a dead server: results for the keys on live servers, undef
# for the others; nothing hangs.
my @steps3 = (
    ['reset', 'void', sub { }],
    S('set_multi', sub { $_[0]->set_multi(map { [$_, 1] } @keys) }),
    S('get_multi', sub { $_[0]->get_multi(@keys) }),
    S('incr_multi', sub { $_[0]->incr_multi(@keys) }),
    S('delete_multi', sub { $_[0]->delete_multi(@keys[0 .. 5]) }),
    S('touch_multi', sub { $_[0]->touch_multi(map { [$_, 10] } @keys[6 .. 9]) }),
    S('single ops', sub { my $m = $_[0]; [map { scalar $m->set($_, 2) } @keys] }),
    S('flush_all', sub { $_[0]->flush_all }),
    S('server_versions', sub { my $v = $_[0]->server_versions; [sort keys %$v] }),
);
my %conf3 = (servers => [$servers[0], $dead, $servers[2]]);
$ref = run_steps('Cache::Memcached::Fast', \%conf3, \@steps3, \&flush_raw);
$got = run_steps('Cache::Memcached::Mcfast', \%conf3, \@steps3, \&flush_raw);
compare_runs($ref, $got);

# An empty server list and a dead server alone.
my @steps4 = (
    S('set', sub { $_[0]->set('a', 1) }),
    S('get', sub { $_[0]->get('a') }),
    S('gets', sub { $_[0]->gets('a') }),
    S('incr', sub { $_[0]->incr('a') }),
    S('delete', sub { $_[0]->delete('a') }),
    S('touch', sub { $_[0]->touch('a', 1) }),
    S('get_multi', sub { $_[0]->get_multi('a', 'b') }),
    S('set_multi scalar', sub { scalar $_[0]->set_multi(['a', 1]) }),
    S('flush_all', sub { $_[0]->flush_all }),
    S('server_versions', sub { $_[0]->server_versions }),
);
for my $c ({ servers => [] }, { servers => [$dead] }, {}) {
    $ref = run_steps('Cache::Memcached::Fast', $c, \@steps4);
    $got = run_steps('Cache::Memcached::Mcfast', $c, \@steps4);
    my $label = join(',', @{ $c->{servers} || ['none'] });
    $_->[0] = "[$label] $_->[0]" for @$ref, @$got;
    compare_runs($ref, $got);
}

# Constructor arguments: errors and warnings.
my @ctor = (
    ['unknown argument', { servers => [], foo => 1, bar => 2 }],
    ['check_args skip', { servers => [], foo => 1, check_args => 'skip' }],
    ['compress_algo', { servers => [], compress_algo => 'x' }],
    ['weight zero', { servers => [{ address => $servers[0], weight => 0 }] }],
    ['weight negative', { servers => [[$servers[0], -1]] }],
    ['no address', { servers => [{ weight => 1 }] }],
    ['empty pair', { servers => [[]] }],
    ['servers not array', { servers => 'x' }],
    ['server scalar ref', { servers => [\'x'] }],
    ['all options', { servers => [$servers[0]], namespace => 'x', hash_namespace => 1, nowait => 1,
                      connect_timeout => 0.5, io_timeout => 2, select_timeout => 1,
                      close_on_error => 0, compress_threshold => 10, compress_ratio => 0.5,
                      compress_methods => [sub { 1 }, sub { 1 }], max_failures => 3,
                      failure_timeout => 5, ketama_points => 150,
                      serialize_methods => [sub { 'x' }, sub { [] }], utf8 => 1,
                      max_size => 1000, check_args => 'x' }],
);
for my $t (@ctor) {
    my ($name, $c) = @$t;
    my $step = [["new: $name", 'scalar', sub { 'constructed' }]];
    my ($r1) = eval { run_steps('Cache::Memcached::Fast', $c, $step) } // [[0, 'died: ' . Compare::clean_msg($@)]];
    my ($r2) = eval { run_steps('Cache::Memcached::Mcfast', $c, $step) } // [[0, 'died: ' . Compare::clean_msg($@)]];
    is($r2->[0][1], $r1->[0][1], "new: $name");
}
{
    my (@w1, @w2);
    { local $SIG{__WARN__} = sub { push @w1, Compare::clean_msg($_[0]) };
      Cache::Memcached::Fast->new({ servers => [], foo => 1 }) }
    { local $SIG{__WARN__} = sub { push @w2, Compare::clean_msg($_[0]) };
      Cache::Memcached::Mcfast->new({ servers => [], foo => 1 }) }
    is_deeply(\@w2, \@w1, 'unknown argument warning');
}

done_testing();
