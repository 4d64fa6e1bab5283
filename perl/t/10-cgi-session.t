#!/usr/bin/perl
# CGI::Session with its memcached driver (driver:memcached, Memcached =>
# the module), side by side with Cache::Memcached::Fast: create, load,
# modify, expire and delete sessions; values, stored bytes and warnings
# must match.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use McTest;
use Frameworks;
use Test::More;

need_memcached();
plan skip_all => 'Cache::Memcached::Fast is not installed (the reference)' unless have_cmf();
plan skip_all => 'CGI::Session::Driver::memcached is not installed (libcgi-session-driver-memcached-perl)'
    unless eval { require CGI::Session; require CGI::Session::Driver::memcached; 1 };
require Cache::Memcached::Mcfast;

my @servers = map { start_server() } 1 .. 2;

framework_side_by_side('CGI::Session', \@servers, sub {
    my ($class, $note) = @_;
    my $memd = $class->new({ servers => [@servers] });
    my $dsn = 'driver:memcached;serializer:storable';
    my $s = CGI::Session->new($dsn, undef, { Memcached => $memd }) or die CGI::Session->errstr;
    my $sid = $s->id;
    $s->param(user => 'alice', roles => [qw(admin dev)], name => "caf\x{e9}");
    $s->flush;
    $note->('flush error', $s->errstr);
    my $raw = on_servers(\@servers, $sid);
    $note->('on the servers: count and flags', [ map { [ $_->[2] ] } @$raw ]);
    my $again = CGI::Session->load($dsn, $sid, { Memcached => $memd }) or die CGI::Session->errstr;
    $note->('loaded is not empty', $again->is_empty ? 0 : 1);
    $note->('loaded params', { map { $_ => $again->param($_) } sort $again->param });
    $again->param(visits => 3);
    $again->clear(['roles']);
    $again->flush;
    my $third = CGI::Session->load($dsn, $sid, { Memcached => $memd });
    $note->('after modify', { map { $_ => $third->param($_) } sort $third->param });
    $note->('missing sid is empty', CGI::Session->load($dsn, 'f' x 32, { Memcached => $memd })->is_empty ? 1 : 0);
    $third->delete;
    $third->flush;
    $note->('deleted: on the servers', on_servers(\@servers, $sid));
    $note->('deleted: load is empty', CGI::Session->load($dsn, $sid, { Memcached => $memd })->is_empty ? 1 : 0);
    my $exp = CGI::Session->new($dsn, undef, { Memcached => $memd });
    $exp->param(x => 1);
    $exp->expire('+1h');
    $exp->flush;
    my $back = CGI::Session->load($dsn, $exp->id, { Memcached => $memd });
    $note->('expiring session loads', $back->param('x'));
    $note->('expiry kept', $back->expire);
});

done_testing();
