#!/usr/bin/perl
# Every server address form connects, and every failure has a code and a
# message naming the server, the address and the cause (where
# Cache::Memcached::Fast only returns undef).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use McTest;
use Test::More;
use Cache::Memcached::Mcfast qw(:all);

need_memcached();

# ---- address forms
my $v4 = start_server(host => '127.0.0.1');
my ($p4) = $v4 =~ /:(\d+)$/;
my $unix = start_server(unix => 1);
my @forms = ([$v4, '127.0.0.1'], ["localhost:$p4", 'localhost (IPv4 listener)'],
             [$unix, 'unix path'], ["unix:$unix", 'unix: prefix']);
if (have_ipv6()) {
    my $v6 = start_server(host => '::1');
    my ($p6) = $v6 =~ /:(\d+)$/;
    push @forms, ["[::1]:$p6", 'bracketed IPv6'], ["::1:$p6", 'CMF-style ::1:port'],
                 ["localhost:$p6", 'localhost (IPv6 listener)'],
                 ["[0:0:0:0:0:0:0:1]:$p6", 'long IPv6 literal'];
}
for my $f (@forms) {
    my ($addr, $what) = @$f;
    for my $style ('string', 'hash', 'pair') {
        my $s = $style eq 'string' ? $addr : $style eq 'hash' ? { address => $addr } : [$addr, 1];
        my $m = Cache::Memcached::Mcfast->new({ servers => [$s] });
        my $key = "form-$style-" . length $addr;
        ok($m->set($key, $addr), "$what ($addr) as $style: set")
            or diag(scalar $m->last_error);
        is($m->get($key), $addr, "$what as $style: get");
        my $v = $m->server_versions;
        like($v->{$addr}, qr/^\d+\.\d+/, "$what as $style: server_versions keyed by the address as given");
    }
}
if (have_cmf()) {
    require Cache::Memcached::Fast;
    for my $f (@forms) {
        my $ok = Cache::Memcached::Fast->new({ servers => [$f->[0]] })->set('x', 1);
        note("Cache::Memcached::Fast with $f->[0]: " . ($ok ? 'works' : 'fails'));
    }
}

# ---- errors: code and message
my %RC = map { Cache::Memcached::Mcfast->can($_)->() => $_ } grep { /^MCF_ERR_/ } @Cache::Memcached::Mcfast::EXPORT_OK;
sub err_like {
    my ($m, $code, $re, $name) = @_;
    my ($c, $msg) = $m->last_error;
    is(defined $c ? $c + 0 : undef, $code, "$name: code " . ($RC{$code} // $code));
    like($msg // '', $re, "$name: message '" . ($msg // '') . "'");
}

my $dead = '127.0.0.1:' . free_port();
{
    my $m = Cache::Memcached::Mcfast->new({ servers => [$dead] });
    ok(!defined $m->set('k', 1), 'refused: set gives undef');
    err_like($m, MCF_ERR_CONNECT, qr/\Q$dead\E.*refused/, 'refused');
    is(scalar $m->last_error, ($m->last_error)[1], 'scalar last_error is the message');
    is("" . ($m->last_error)[0], 'MCF_ERR_CONNECT', 'the code stringifies to its name');
    is($m->last_error_code + 0, MCF_ERR_CONNECT, 'last_error_code');
    is(Cache::Memcached::Mcfast::strerror(MCF_ERR_CONNECT), 'connection refused or unreachable', 'strerror');
    ok(!defined $m->get('k'), 'refused: get gives undef');
    err_like($m, MCF_ERR_CONNECT, qr/refused/, 'refused get');
    is_deeply($m->get_multi('a', 'b'), {}, 'refused: get_multi gives {}');
    err_like($m, MCF_ERR_CONNECT, qr/refused/, 'refused get_multi');
    is_deeply($m->server_versions, {}, 'refused: server_versions gives {}');
    err_like($m, MCF_ERR_CONNECT, qr/refused/, 'refused server_versions');
}
{
    my $m = Cache::Memcached::Mcfast->new({ servers => [$v4] });
    $m->set('k', 1);
    ok(!$m->last_error, 'last_error is empty after a success');
    is($m->last_error_code, 0, 'last_error_code is 0 after a success');
    ok(!defined $m->get('missing-key'), 'a miss');
    ok(!$m->last_error, 'a miss is not an error');
    is($m->add('k', 2), '', 'NOT_STORED');
    ok(!$m->last_error, 'a negative reply is not an error');
    ok(!defined $m->set('bad key', 1), 'bad key');
    err_like($m, MCF_ERR_BAD_KEY, qr/bad key 'bad key'/, 'bad key');
    ok(!defined $m->set('k' x 251, 1), 'long key');
    err_like($m, MCF_ERR_BAD_KEY, qr/250/, 'long key');
    ok(!defined $m->set('big', 'x' x (1024 * 1024 + 1)), 'too large');
    err_like($m, MCF_ERR_TOO_LARGE, qr/'big'.*1048577 bytes.*max_size/, 'too large');
    my @r = $m->set_multi(['ok1', 1], ['big', 'x' x (1024 * 1024 + 1)]);
    # As Cache::Memcached::Fast: the list ends at the last item that has a result.
    is_deeply(\@r, [1], 'set_multi: too large item has no result, the other stored');
    is_deeply(scalar $m->set_multi(['big', 'x' x (1024 * 1024 + 1)], ['ok2', 1]), { ok2 => 1 },
              'set_multi scalar: the too large item is left out');
    err_like($m, MCF_ERR_TOO_LARGE, qr/'big'/, 'set_multi too large');
    $m->set('txt', 'abc');
    ok(!defined $m->incr('txt'), 'incr on text');
    err_like($m, MCF_ERR_CLIENT, qr/CLIENT_ERROR.*txt|txt.*CLIENT_ERROR/, 'incr on text');
    is($m->get('k'), 1, 'the connection still answers in step');
    raw_cmd($v4, "set badz 2 0 3\r\nabc\r\n");
    ok(!defined $m->get('badz'), 'undecompressible value is a miss');
    err_like($m, MCF_ERR_COMPRESS, qr/'badz'.*compress/, 'undecompressible value');
    raw_cmd($v4, "set bads 1 0 3\r\nabc\r\n");
    ok(!defined $m->get('bads'), 'unthawable value is a miss');
    err_like($m, MCF_ERR_PROTOCOL, qr/'bads'.*deserialise/, 'unthawable value');
}
{
    my $m = Cache::Memcached::Mcfast->new({ servers => [] });
    ok(!defined $m->set('k', 1), 'no servers');
    err_like($m, MCF_ERR_NO_SERVERS, qr/server/, 'no servers');
}
{
    my $m = Cache::Memcached::Mcfast->new({ servers => ['no-such-host.invalid:11211'], connect_timeout => 2 });
    ok(!defined $m->set('k', 1), 'unresolvable name');
    err_like($m, MCF_ERR_RESOLVE, qr/no-such-host\.invalid/, 'unresolvable name');
}
{
    # A multi call over a live and a dead server: results for the live one,
    # last_error names the dead one.
    my $m = Cache::Memcached::Mcfast->new({ servers => [$v4, $dead] });
    my $h = $m->set_multi(map { ["multi$_", 1] } 1 .. 20);
    my $n = keys %$h;
    ok($n > 0 && $n < 20, "half-dead fleet: $n of 20 stored");
    err_like($m, MCF_ERR_CONNECT, qr/\Q$dead\E/, 'half-dead fleet');
}

# ---- every method sets last_error: a failure gives the code and a message
# naming the server; the next call that succeeds clears it.
{
    my $dead2 = '127.0.0.1:' . free_port();
    my @calls = (
        [set => sub { $_[0]->set('e1', 1) }],           [add => sub { $_[0]->add('e1', 1) }],
        [replace => sub { $_[0]->replace('e1', 1) }],   [append => sub { $_[0]->append('e1', 1) }],
        [prepend => sub { $_[0]->prepend('e1', 1) }],   [cas => sub { $_[0]->cas('e1', 1, 1) }],
        [get => sub { $_[0]->get('e1') }],               [gets => sub { $_[0]->gets('e1') }],
        [gat => sub { $_[0]->gat(10, 'e1') }],           [gats => sub { $_[0]->gats(10, 'e1') }],
        [incr => sub { $_[0]->incr('e1') }],             [decr => sub { $_[0]->decr('e1') }],
        [delete => sub { $_[0]->delete('e1') }],         [remove => sub { $_[0]->remove('e1') }],
        [touch => sub { $_[0]->touch('e1', 10) }],
        [set_multi => sub { $_[0]->set_multi(['e1', 1], ['e2', 2]) }],
        [add_multi => sub { $_[0]->add_multi(['e1', 1]) }],
        [replace_multi => sub { $_[0]->replace_multi(['e1', 1]) }],
        [append_multi => sub { $_[0]->append_multi(['e1', 1]) }],
        [prepend_multi => sub { $_[0]->prepend_multi(['e1', 1]) }],
        [cas_multi => sub { $_[0]->cas_multi(['e1', 1, 1]) }],
        [get_multi => sub { $_[0]->get_multi('e1', 'e2') }],
        [gets_multi => sub { $_[0]->gets_multi('e1', 'e2') }],
        [gat_multi => sub { $_[0]->gat_multi(10, 'e1', 'e2') }],
        [gats_multi => sub { $_[0]->gats_multi(10, 'e1', 'e2') }],
        [incr_multi => sub { $_[0]->incr_multi('e1', ['e2', 2]) }],
        [decr_multi => sub { $_[0]->decr_multi('e1') }],
        [delete_multi => sub { $_[0]->delete_multi('e1', 'e2') }],
        [touch_multi => sub { $_[0]->touch_multi(['e1', 10]) }],
        [flush_all => sub { $_[0]->flush_all }],
        [server_versions => sub { $_[0]->server_versions }],
    );
    my $bad = Cache::Memcached::Mcfast->new({ servers => [$dead] });
    my $good = Cache::Memcached::Mcfast->new({ servers => [$v4] });
    for my $c (@calls) {
        my ($name, $code) = @$c;
        $bad->_clear_error;
        my @r = $code->($bad);
        err_like($bad, MCF_ERR_CONNECT, qr/\Q$dead\E.*refused/, "$name on a dead server");
        ok($bad->last_error_code, "$name: last_error_code");
        $good->set('e1', 1);
        $good->_clear_error;
        $good->get('no-such-key');    # no error, but it must not keep one either
        $code->($good);
        $code->($good) if $name eq 'add';    # (add on an existing key: NOT_STORED, no error)
        ok(!$good->last_error && !$good->last_error_code, "$name on a live server: no error")
            or diag(scalar $good->last_error);
    }
    # An error is cleared by the next call, even one that takes no key.
    $bad->set('e1', 1);
    $good->disconnect_all;
    ok(!$good->last_error, 'disconnect_all: no error');
    $bad->namespace('x:');
    ok(!$bad->last_error, 'namespace clears the previous error');
    $bad->set('e1', 1);
    $bad->enable_compress(1);
    ok(!$bad->last_error, 'enable_compress clears the previous error');

    # _multi over two dead servers and a live one: every failed server is named.
    my $m = Cache::Memcached::Mcfast->new({ servers => [$v4, $dead, $dead2] });
    my @k = map {"mk$_"} 1 .. 60;
    for my $c ([set_multi => sub { scalar $m->set_multi(map { [$_, 1] } @k) }],
               [get_multi => sub { $m->get_multi(@k) }],
               [delete_multi => sub { scalar $m->delete_multi(@k) }],
               [incr_multi => sub { scalar $m->incr_multi(@k) }],
               [touch_multi => sub { scalar $m->touch_multi(map { [$_, 5] } @k) }]) {
        my ($name, $code) = @$c;
        my $h = $code->();
        my $msg = $m->last_error // '';
        like($msg, qr/\[(\d+) of 60 keys failed: /, "$name: how many keys failed");
        like($msg, qr/\Q$dead\E connection refused or unreachable \(\d+\)/, "$name: names $dead");
        like($msg, qr/\Q$dead2\E connection refused or unreachable \(\d+\)/, "$name: names $dead2");
        unlike($msg, qr/\Q$v4\E \(/, "$name: not the live server");
    }
    $m->flush_all;
    like($m->last_error // '', qr/\[2 of 3 servers failed: \Q$dead\E .*; \Q$dead2\E /, 'flush_all: both dead servers named');
    $m->server_versions;
    like($m->last_error // '', qr/\[2 of 3 servers failed: \Q$dead\E .*; \Q$dead2\E /, 'server_versions: both dead servers named');
    my @r = $m->set_multi(['ok', 1], ['bad key', 1], ['big', 'x' x (1024 * 1024 + 1)]);
    like($m->last_error // '', qr/refused before sending/, 'set_multi: keys refused before sending are counted');
    # A croak on bad arguments leaves its message in last_error.
    ok(!eval { $m->set_multi(['ok', 1], 'x'); 1 }, 'set_multi with a non-array item dies');
    is(($m->last_error)[0] + 0, MCF_ERR_ARG, '... last_error MCF_ERR_ARG');
    is(scalar $m->last_error, 'Not an array reference', '... with the same message');
}

# ---- bad configuration dies in new
for my $t ([{ servers => ['127.0.0.1:11211:2'] }, qr/server '127\.0\.0\.1:11211:2'/, 'a spec with a weight field'],
           [{ servers => ['[::1'] }, qr/server '\[::1'/, 'an unclosed bracket'],
           [{ servers => ['[::1]:11211:3'] }, qr/weight/, 'a bracketed spec with a weight field'],
           [{ servers => ['/tmp/x.sock:3'] }, qr/weight/, 'a unix path with a weight field'],
           [{ servers => [$v4], namespace => 'a b' }, qr/namespace/, 'a namespace with a space'],
           [{ servers => [$v4], ketama_points => 1e9 }, qr/ketama_points/, 'absurd ketama_points']) {
    my ($conf, $re, $name) = @$t;
    ok(!eval { Cache::Memcached::Mcfast->new($conf); 1 }, "new dies: $name");
    like($@, $re, "new dies: $name: message");
}
{
    my @w;
    local $SIG{__WARN__} = sub { push @w, @_ };
    my $m = Cache::Memcached::Mcfast->new({ servers => [{ address => $v4, weight => 2.5 }] });
    is(scalar @w, 0, 'fractional weight: no warning (as Cache::Memcached::Fast)');
    ok($m->set('w', 1), 'fractional weight: works');
}
{
    my $m = Cache::Memcached::Mcfast->new({ servers => [$v4] });
    ok(!eval { $m->namespace("bad ns"); 1 }, 'namespace() with a space dies');
    is($m->namespace, '', '... and leaves the namespace alone');
}

done_testing();
