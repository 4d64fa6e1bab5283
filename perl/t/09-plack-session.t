#!/usr/bin/perl
# Plack::Middleware::Session with Plack::Session::Store::Cache over the
# module, side by side with Cache::Memcached::Fast: a PSGI app counting
# visits in its session is driven through requests carrying the session
# cookie (Plack::Test); responses, the stored session and warnings must match.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use McTest;
use Frameworks;
use Test::More;

need_memcached();
plan skip_all => 'Cache::Memcached::Fast is not installed (the reference)' unless have_cmf();
plan skip_all => 'Plack::Session::Store::Cache is not installed (libplack-middleware-session-perl)'
    unless eval { require Plack::Session::Store::Cache; require Plack::Middleware::Session;
                  require Plack::Test; require HTTP::Request::Common; 1 };
require Cache::Memcached::Mcfast;
require Plack::Builder;

my @servers = map { start_server() } 1 .. 2;

framework_side_by_side('Plack session', \@servers, sub {
    my ($class, $note) = @_;
    my $memd = $class->new({ servers => [@servers], namespace => 'sess:' });
    my $app = sub {
        my ($env) = @_;
        my $s = $env->{'psgix.session'};
        my $opts = $env->{'psgix.session.options'};
        if ($env->{PATH_INFO} eq '/logout') {
            $opts->{expire} = 1;
            return [ 200, [ 'Content-Type' => 'text/plain' ], ['bye'] ];
        }
        $s->{count}++;
        push @{ $s->{path} }, $env->{PATH_INFO};
        $s->{name} = "caf\x{e9}";
        return [ 200, [ 'Content-Type' => 'text/plain' ], ["count=$s->{count}"] ];
    };
    my $wrapped = Plack::Builder::builder(sub {
        Plack::Builder::enable('Session', store => Plack::Session::Store::Cache->new(cache => $memd));
        $app;
    });
    my $t = Plack::Test->create($wrapped);
    my $res = $t->request(HTTP::Request::Common::GET('/a'));
    my ($sid) = ($res->header('Set-Cookie') // '') =~ /plack_session=([^;]+)/;
    $note->('first response', $res->content);
    $note->('cookie set', defined $sid ? 1 : 0);
    for my $p (qw(/b /c)) {
        $res = $t->request(HTTP::Request::Common::GET($p, Cookie => "plack_session=$sid"));
        $note->("response $p", $res->content);
    }
    my $stored = $memd->get($sid);
    $note->('session in the cache', $stored);
    my $raw = on_servers(\@servers, "sess:$sid");
    $note->('on the servers: server count and flags', [ map { [ $_->[2] ] } @$raw ]);
    $note->('store fetch', Plack::Session::Store::Cache->new(cache => $memd)->fetch($sid));
    $res = $t->request(HTTP::Request::Common::GET('/logout', Cookie => "plack_session=$sid"));
    $note->('logout response', $res->content);
    $note->('session after logout', $memd->get($sid));
    $res = $t->request(HTTP::Request::Common::GET('/d', Cookie => "plack_session=$sid"));
    $note->('stale cookie starts afresh', $res->content);
});

done_testing();
