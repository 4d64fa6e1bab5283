#!/usr/bin/perl
# CHI's Memcached driver with memd_class => 'Cache::Memcached::Mcfast',
# side by side with memd_class => 'Cache::Memcached::Fast': the same CHI
# calls must return the same, store the same bytes and flags on the same
# servers, and warn the same.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use McTest;
use Frameworks;
use Test::More;

need_memcached();
plan skip_all => 'Cache::Memcached::Fast is not installed (the reference)' unless have_cmf();
plan skip_all => 'CHI::Driver::Memcached is not installed (libchi-driver-memcached-perl)'
    unless eval { require CHI; require CHI::Driver::Memcached; 1 };
require Cache::Memcached::Mcfast;

my @servers = map { start_server() } 1 .. 3;
my @keys = map { "item-$_" } 1 .. 30;

framework_side_by_side('CHI', \@servers, sub {
    my ($class, $note) = @_;
    my $chi = CHI->new(driver => 'Memcached', memd_class => $class, namespace => 'app',
                       servers => [@servers], compress_threshold => 1000);
    $note->('memd is the module', ref $chi->memd eq $class);
    $note->('get of a missing key', $chi->get('nothing'));
    $note->('set scalar', $chi->set('plain', 'hello'));
    $note->('get scalar', $chi->get('plain'));
    $note->('set structure', $chi->set('deep', { list => [ 1 .. 5 ], name => "caf\x{e9}" }));
    $note->('get structure', $chi->get('deep'));
    $note->('set large', $chi->set('big', 'x' x 50_000));
    $note->('get large', $chi->get('big'));
    $note->('set wide string', $chi->set('wide', "\x{263a} smile"));
    $note->('get wide string', $chi->get('wide'));
    $chi->set($_, "value of $_") for @keys;
    $note->('get_multi_arrayref', $chi->get_multi_arrayref([ @keys, 'absent' ]));
    $note->('get_multi_hashref', $chi->get_multi_hashref([ @keys[0 .. 9], 'absent' ]));
    $chi->set_multi({ m1 => 'one', m2 => [2] }, '1 hour');
    $note->('set_multi then get', $chi->get_multi_arrayref([qw(m1 m2)]));
    my $calls = 0;
    $note->('compute (miss)', $chi->compute('comp', '1 hour', sub { $calls++; 'computed' }));
    $note->('compute (hit)', $chi->compute('comp', '1 hour', sub { $calls++; 'again' }));
    $note->('compute ran once', $calls);
    my $obj = $chi->get_object('plain');
    $note->('get_object value', $obj && $obj->value);
    $note->('is_valid', $chi->is_valid('plain'));
    $chi->remove('plain');
    $note->('get after remove', $chi->get('plain'));
    $chi->expire('deep');
    $note->('get after expire', $chi->get('deep'));
    $note->('is_valid after expire', $chi->is_valid('deep') ? 1 : 0);
    # Not 1 s: memcached's clock ticks once a second, so an item set just
    # before a tick with exptime 1 may be gone at once (a flake under load).
    $chi->set('short', 'gone soon', { expires_in => 30 });
    $note->('short before expiry', $chi->get('short'));
    # CHI stores its own envelope (serialized, metadata); the module must
    # put the same bytes and flags on the same server.
    for my $k (qw(big wide m1 item-1 item-17 comp)) {
        my $raw = on_servers(\@servers, "app:$k");
        $_->[1] = length $_->[1] for @$raw;    # envelope holds creation time: compare length
        $note->("on the servers: app:$k", $raw);
    }
    $note->('unsupported clear dies', eval { $chi->clear; 1 } ? 'lived' : 'died');
});

done_testing();
