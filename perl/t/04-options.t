#!/usr/bin/perl
# Constructor options whose effect is timing or connection behaviour:
# nowait, per-server noreply, io_timeout / select_timeout, connect_timeout
# (unix sockets included), max_failures / failure_timeout, close_on_error,
# compress_ratio, enable_compress, and the threads/fork rules.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use McTest;
use Test::More;
use Time::HiRes qw(time);
use POSIX ();
use Cache::Memcached::Mcfast qw(:all);

need_memcached();
my $srv    = start_server();
my $silent = silent_server();
my $dead   = '127.0.0.1:' . free_port();

# ---- nowait: void-context writes do not wait for replies
{
    my $m = Cache::Memcached::Mcfast->new({ servers => [$silent], nowait => 1, io_timeout => 2 });
    my ($t) = elapsed(sub { $m->set("nw$_", $_) for 1 .. 20; $m->incr('nw1'); $m->delete('nw2');
                            $m->set_multi(['a', 1], ['b', 2]); $m->touch('a', 1); 1 });
    cmp_ok($t, '<', 0.5, "nowait: 25 void writes to a server that never answers return at once (${t}s)");
    my ($t2, $r) = elapsed(sub { scalar $m->set('x', 1) });
    ok(!defined $r, 'nowait: a write in scalar context still waits, and times out');
    cmp_ok($t2, '>=', 1.5, "nowait: ... after io_timeout (${t2}s)");
}
{
    my $m = Cache::Memcached::Mcfast->new({ servers => [$srv], nowait => 1 });
    $m->set("nwr$_", $_) for 1 .. 50;
    $m->incr('nwr1', 10);
    $m->nowait_push;
    is($m->get('nwr50'), 50, 'nowait: void sets are stored');
    is($m->get('nwr1'), 11, 'nowait: void incr applied in order');
    is_deeply([$m->nowait_push], [], 'nowait_push returns nothing');
}

# ---- noreply per server
{
    my $m = Cache::Memcached::Mcfast->new({ servers => [{ address => $silent, noreply => 1 }],
                                            io_timeout => 2 });
    my ($t) = elapsed(sub { $m->set('nr', 1); $m->delete('nr'); 1 });
    cmp_ok($t, '<', 0.5, "noreply server: void writes return at once (${t}s)");
    my ($t2, $r) = elapsed(sub { scalar $m->set('nr', 1) });
    ok(!defined $r && $t2 >= 1.5, 'noreply server: non-void writes wait for the reply');
}
{
    # Mixed: the noreply server hangs, the other answers; void set_multi
    # returns at once and stores the keys of the live server.
    my $m = Cache::Memcached::Mcfast->new({ servers => [{ address => $silent, noreply => 1 }, $srv],
                                            io_timeout => 2 });
    my @k = map {"mix$_"} 1 .. 40;
    my ($t) = elapsed(sub { $m->set_multi(map { [$_, 'v'] } @k); 1 });
    cmp_ok($t, '<', 0.5, "mixed noreply: void set_multi returns at once (${t}s)");
    my $probe = Cache::Memcached::Mcfast->new({ servers => [$srv] });
    my $stored = keys %{ $probe->get_multi(@k) };
    ok($stored > 5 && $stored < 40, "mixed noreply: the live server's keys are stored ($stored of 40)");
}

# ---- io_timeout and select_timeout
for my $opt (qw(io_timeout select_timeout)) {
    my $m = Cache::Memcached::Mcfast->new({ servers => [$silent], $opt => 0.3 });
    my ($t, $r) = elapsed(sub { scalar $m->get('x') });
    ok(!defined $r, "$opt: get from a hung server gives undef");
    cmp_ok($t, '<', 1.5, "$opt: after about 0.3 s (${t}s)");
    cmp_ok($t, '>=', 0.25, "$opt: not before the timeout");
    my ($code, $msg) = $m->last_error;
    is($code + 0, MCF_ERR_TIMEOUT, "$opt: last_error code is MCF_ERR_TIMEOUT");
    is("$code", 'MCF_ERR_TIMEOUT', "$opt: the code's string is its name");
    like($msg, qr/\Q$silent\E.*time/i, "$opt: the message names the server and the timeout: $msg");
}

# ---- connect_timeout on a unix socket whose backlog is full
{
    my $path = full_unix_socket();
    for my $spec ($path, "unix:$path") {
        my $m = Cache::Memcached::Mcfast->new({ servers => [$spec], connect_timeout => 0.3 });
        my ($t, $r) = elapsed(sub { scalar $m->set('k', 1) });
        ok(!defined $r, "connect_timeout on $spec (full backlog): set fails");
        cmp_ok($t, '<', 1.5, "connect_timeout on unix socket honoured (${t}s)");
        my ($code, $msg) = $m->last_error;
        is($code + 0, MCF_ERR_TIMEOUT, 'unix connect: MCF_ERR_TIMEOUT');
        like($msg, qr/\Q$path\E/, "unix connect: message names the socket: $msg");
    }
    # Cache::Memcached::Fast blocks in connect() here (shown, not asserted).
    if (have_cmf()) {
        my $pid = fork;
        if (defined $pid && !$pid) {
            alarm 2;
            require Cache::Memcached::Fast;
            Cache::Memcached::Fast->new({ servers => [$path], connect_timeout => 0.3 })->set('k', 1);
            POSIX::_exit(0);
        }
        my $t0 = time;
        waitpid($pid, 0);
        note(sprintf 'Cache::Memcached::Fast on the same socket: %s after %.1fs',
             ($? & 127) ? 'still blocked, killed by alarm' : 'returned', time - $t0);
    }
}

# ---- connect_timeout values
{
    my $m = Cache::Memcached::Mcfast->new({ servers => [$srv], connect_timeout => 0, io_timeout => 0 });
    ok($m->set('ct0', 1), 'connect_timeout => 0 and io_timeout => 0 (no timeout) work');
    $m = Cache::Memcached::Mcfast->new({ servers => [$srv], connect_timeout => 0.0001 });
    ok(defined $m, 'a tiny connect_timeout is accepted');
}

# ---- max_failures and failure_timeout
{
    my $m = Cache::Memcached::Mcfast->new({ servers => [$dead], max_failures => 2, failure_timeout => 2 });
    my @codes;
    for (1 .. 4) {
        $m->set('k', 1);
        push @codes, $m->last_error_code + 0;
    }
    is_deeply([@codes[0, 1]], [MCF_ERR_CONNECT, MCF_ERR_CONNECT], 'max_failures: first failures are connect errors');
    is($codes[3], MCF_ERR_SERVER_DOWN, 'max_failures: then the server is skipped (MCF_ERR_SERVER_DOWN)');
    like(scalar $m->last_error, qr/\Q$dead\E/, 'server down message names the server');
    sleep 3;
    $m->set('k', 1);
    is($m->last_error_code + 0, MCF_ERR_CONNECT, 'failure_timeout: tried again after it');
    my $m0 = Cache::Memcached::Mcfast->new({ servers => [$dead] });
    $m0->set('k', 1) for 1 .. 5;
    is($m0->last_error_code + 0, MCF_ERR_CONNECT, 'max_failures 0 (default): never skipped');
}

# ---- close_on_error: accepted either way; an error reply does not break the stream
for my $coe (0, 1) {
    my $m = Cache::Memcached::Mcfast->new({ servers => [$srv], close_on_error => $coe });
    $m->set('txt', 'abc');
    ok(!defined $m->incr('txt'), "close_on_error $coe: incr on text is an error");
    is($m->get('txt'), 'abc', "close_on_error $coe: the next command is answered correctly");
}

# ---- compression switches
{
    my $m = Cache::Memcached::Mcfast->new({ servers => [$srv], compress_threshold => 10, compress_ratio => 0.01 });
    $m->set('cr', 'a' x 1000);
    is(raw_get_flags($srv, 'cr'), 0, 'compress_ratio: not kept when it does not shrink enough');
    $m = Cache::Memcached::Mcfast->new({ servers => [$srv], compress_threshold => 10 });
    $m->set('cr', 'a' x 1000);
    is(raw_get_flags($srv, 'cr'), 2, 'compress_threshold: compressed, flag 0x2');
    my ($raw) = raw_get($srv, 'cr');
    is(substr($raw, 0, 2), "\x1f\x8b", 'gzip format, as Cache::Memcached::Fast writes');
    $m->enable_compress(0);
    $m->set('cr', 'a' x 1000);
    is(raw_get_flags($srv, 'cr'), 0, 'enable_compress(0) turns it off');
    $m->enable_compress(1);
    $m->set('cr', 'a' x 1000);
    is(raw_get_flags($srv, 'cr'), 2, 'enable_compress(1) turns it back on');
    is($m->get('cr'), 'a' x 1000, 'and it reads back');
}

# ---- fork: disconnect_all in the child, both keep working
{
    my $m = Cache::Memcached::Mcfast->new({ servers => [$srv] });
    $m->set('fork', 'parent');
    my $pid = fork // die;
    if (!$pid) {
        $m->disconnect_all;
        my $ok = $m->set('fork-child', 'child') && $m->get('fork') eq 'parent';
        POSIX::_exit($ok ? 0 : 1);
    }
    waitpid($pid, 0);
    is($?, 0, 'fork: the child works after disconnect_all');
    is($m->get('fork-child'), 'child', 'fork: the parent still works');
}

# ---- fork without disconnect_all: the child connects anew, the parent's
# connection is left alone (mcfast.h, "fork()")
{
    my $m = Cache::Memcached::Mcfast->new({ servers => [$srv] });
    $m->set('fork2', 'parent');
    my $pid = fork // die;
    if (!$pid) {
        my $ok = $m->set('fork2-child', 'child') && $m->get('fork2') eq 'parent';
        POSIX::_exit($ok ? 0 : 1);
    }
    waitpid($pid, 0);
    is($?, 0, 'fork: the child works without disconnect_all');
    is($m->get('fork2-child'), 'child', 'fork: and the parent still works');
}

# ---- threads: each thread gets its own client
SKIP: {
    require Config;
    skip 'perl without threads', 3 unless $Config::Config{useithreads};
    skip 'threads.pm not loadable', 3 unless eval { require threads; 1 };
    my $m = Cache::Memcached::Mcfast->new({ servers => [$srv], namespace => 't:' });
    $m->set('main', 'm');
    my $thr = threads->create(sub { $m->set('thread', 'th') && $m->get('main') });
    is($thr->join, 'm', 'threads: the object works in a thread');
    is($m->get('thread'), 'th', 'threads: ... with the same namespace');
    ok($m->set('after', 1), 'threads: the main thread still works');
}

done_testing();
