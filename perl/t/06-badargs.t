#!/usr/bin/perl
# Bad arguments, side by side: every method of Cache::Memcached::Fast 0.28
# called with undef keys and values, non-array items, empty array refs,
# empty lists, missing or extra arguments and references as keys, in list,
# scalar and void context, through both modules.  Each module has two
# memcached servers of its own; every call runs in a child process (so a
# crash is an outcome, not the end of the test) on a fresh object, after
# the same keys were stored.  Compared per call:
#   died    whether it croaked, and the message (file and line included:
#           both modules report the caller's line)
#   warn    the warnings, in order, with their text and location
#   ret     what it returned, in the context it was called in
#   server  what reached the servers: the counters of `stats` that moved
#           and every item left (key, flags, value, expiry set or not)
# A row listed in %DIFF must instead give the value named there with
# Mcfast; each entry says why (perl/README and the POD list them too).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use McTest;
use Test::More;
use Data::Dumper ();

need_memcached();
plan skip_all => 'Cache::Memcached::Fast is not installed (the reference)' unless have_cmf();
require Cache::Memcached::Fast;
require Cache::Memcached::Mcfast;

# No segmented LRU (no_lru_maintainer: one list per slab class, no thread
# moving items between lists), so `lru_crawler metadump` sees every item;
# with segmented LRUs an item moved while the crawler walks can be missed.
my @MC_ARGS = ('-o', 'no_lru_maintainer');
my %SERVERS = (
    'Cache::Memcached::Fast'   => [map { start_server(args => \@MC_ARGS) } 1, 2],
    'Cache::Memcached::Mcfast' => [map { start_server(args => \@MC_ARGS) } 1, 2],
);

# The counters of `stats` that say what a command did.
my @COUNTERS = qw(cmd_get cmd_set cmd_touch cmd_flush get_hits get_misses delete_hits
                  delete_misses incr_hits incr_misses decr_hits decr_misses cas_hits
                  cas_misses cas_badval touch_hits touch_misses);

sub stats_of {
    my ($addr) = @_;
    my %s;
    for (split /\r\n/, raw_cmd($addr, "stats\r\n", qr/^END\r\n\z/)) {
        $s{$1} = $2 if /^STAT (\S+) (\S+)/;
    }
    return \%s;
}

sub counters {
    my ($servers) = @_;
    my %sum;
    for my $a (@$servers) {
        my $s = stats_of($a);
        $sum{$_} += $s->{$_} // 0 for @COUNTERS;
    }
    return \%sum;
}

# Every item on the servers: "key flags=F exp=yes|no value".
sub items {
    my ($servers) = @_;
    my @out;
    for my $a (@$servers) {
        my $dump = raw_cmd($a, "lru_crawler metadump all\r\n", qr/^END\r\n\z/);
        for (split /\r\n/, $dump) {
            next unless /^key=(\S+) exp=(-?\d+)/;
            my ($k, $exp) = ($1, $2);
            $k =~ s/%([0-9A-Fa-f]{2})/chr hex $1/ge;
            my ($v, $f) = raw_get($a, $k);
            # (an item flushed but not reclaimed yet is listed, and gone)
            push @out, "$k flags=$f exp=" . ($exp == -1 ? 'no' : 'yes') . " '$v'" if defined $f;
        }
    }
    return join ', ', sort @out;
}

# The same items before every call: a counter, a string, a key the
# references below stringify to is not among them (their addresses differ).
sub preset {
    my ($class, $servers) = @_;
    raw_cmd($_, "flush_all\r\n") for @$servers;
    my $m = $class->new({ servers => $servers });
    $m->set('k', '5');
    $m->set('a', 'alpha');
    $m->set('c', '10');
}

# Canonical text of a result: sorted hash keys (a module's server
# addresses, the keys of flush_all's hash, sorted by their place in its
# list), numbers and strings as Perl prints them (0E0, '' and undef stay
# distinct).
my %SERVER_NAME;
sub canon {
    my ($v) = @_;
    my $name = sub { $SERVER_NAME{ $_[0] } // $_[0] };
    local $Data::Dumper::Sortkeys = sub { [sort { $name->($a) cmp $name->($b) } keys %{ $_[0] }] };
    local $Data::Dumper::Terse = 1;
    local $Data::Dumper::Indent = 0;
    local $Data::Dumper::Useqq = 1;
    return Data::Dumper::Dumper($v);
}

# Text that differs between the modules only by name or by where a module
# file lives; reference addresses (keys made of references).
sub clean {
    my ($s) = @_;
    $s =~ s/Cache::Memcached::(?:Fast|Mcfast)/MODULE/g;
    $s =~ s{ at \S+/Cache/Memcached/(?:Fast|Mcfast)\.pm line \d+}{ at MODULE.pm line N}g;
    $s =~ s/\(0x[0-9a-f]+\)/(0xADDR)/g;
    return $s;
}

# One call in a child: its outcome as a hash of texts.
sub outcome {
    my ($class, $ctx, $code, $conf) = @_;
    my $servers = $SERVERS{$class};
    pipe(my $r, my $w) or die "pipe: $!";
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        close $r;
        preset($class, $servers);
        %SERVER_NAME = map { $servers->[$_] => "SERVER$_" } 0 .. $#$servers;
        my $before = counters($servers);
        my $m = $class->new({ servers => $servers, %{ $conf || {} } });
        my @warn;
        local $SIG{__WARN__} = sub { push @warn, $_[0] };
        my ($ret, $ok);
        if ($ctx eq 'list') {
            $ok = eval { $ret = [ $code->($m) ]; 1 };
        } elsif ($ctx eq 'scalar') {
            $ok = eval { $ret = scalar $code->($m); 1 };
        } else {
            $ok = eval { $code->($m); 1 };
        }
        my $died = $ok ? 'no' : $@;
        local $SIG{__WARN__};
        # The replies of void-context (noreply) writes are in once the
        # servers answer a request sent after them on the same connections.
        $m->server_versions;
        my $after = counters($servers);
        my @moved = map { "$_+" . ($after->{$_} - $before->{$_}) }
                    grep { $after->{$_} != $before->{$_} } @COUNTERS;
        my %o = (died => $died, warn => join('|', @warn) || 'none',
                 ret => $ctx eq 'void' ? 'void' : canon($ret) =~ s/\[\d+,/[CAS,/gr,
                 server => join(' ', @moved) . '; ' . items($servers));
        $_ = clean($_) for values %o;
        # The modules' servers by their place in the list.
        for my $i (0 .. $#$servers) {
            s/\Q$servers->[$i]\E/SERVER$i/g for values %o;
        }
        $_ =~ s/\n/\\n/g for values %o;
        print $w join("\t", map { "$_=$o{$_}" } sort keys %o), "\n";
        close $w;
        POSIX::_exit(0);
    }
    close $w;
    my $line = do { local $/; <$r> };
    waitpid($pid, 0);
    my $st = $?;
    return { crashed => "status $st" } if !defined $line || $line eq '';
    chomp $line;
    return { map { split /=/, $_, 2 } split /\t/, $line };
}
use POSIX ();

# ------------------------------------------------------------------ the table
# row(name, sub { my ($m) = @_; ... }, options); every row runs in list,
# scalar and void context.  Options:
#   conf     => {...}  constructor arguments besides the servers
#   undef_as => sub    a call with fewer arguments than the method reads:
#                      Cache::Memcached::Fast reads past the end of the
#                      argument list (whatever Perl's stack holds there:
#                      the method itself, a stale $@; not reproducible),
#                      Mcfast takes the missing ones as undef, so its
#                      outcome must be Fast's for this call with explicit
#                      undefs (line numbers aside).
my @ROWS;
sub row { my ($name, $code, %o) = @_; push @ROWS, [$name, $code, \%o] }
sub undef_row { my ($name, $code, $as) = @_; row($name, $code, undef_as => $as) }

# storage, one key
for my $cmd (qw(set add replace append prepend)) {
    undef_row("$cmd()",        sub { $_[0]->$cmd() }, sub { $_[0]->$cmd(undef, undef) });
    undef_row("$cmd(k)",       sub { $_[0]->$cmd('k') }, sub { $_[0]->$cmd('k', undef) });
    row("$cmd(undef, v)",      sub { $_[0]->$cmd(undef, 'v') });
    row("$cmd(k, undef)",      sub { $_[0]->$cmd('k', undef) });
    row("$cmd([], v)",         sub { $_[0]->$cmd([1], 'v') });
    row("$cmd({}, v)",         sub { $_[0]->$cmd({}, 'v') });
    row("$cmd(\\s, v)",        sub { $_[0]->$cmd(\'s', 'v') });
    row("$cmd('', v)",         sub { $_[0]->$cmd('', 'v') });
    row("$cmd(k, v, abc)",     sub { $_[0]->$cmd('k', 'v', 'abc') });
    row("$cmd(k, v, undef)",   sub { $_[0]->$cmd('k', 'v', undef) });
    row("$cmd(k, v, 0, x)",    sub { $_[0]->$cmd('k', 'v', 0, 'extra') });
    row("$cmd(k, sub)",        sub { $_[0]->$cmd('k', sub { 1 }) });
}
undef_row('cas()',         sub { $_[0]->cas() }, sub { $_[0]->cas(undef, undef, undef) });
undef_row('cas(k)',        sub { $_[0]->cas('k') }, sub { $_[0]->cas('k', undef, undef) });
undef_row('cas(k, 1)',     sub { $_[0]->cas('k', 1) }, sub { $_[0]->cas('k', 1, undef) });
row('cas(k, undef, v)',    sub { $_[0]->cas('k', undef, 'v') });
row('cas(k, abc, v)',      sub { $_[0]->cas('k', 'abc', 'v') });
row('cas(undef, 1, v)',    sub { $_[0]->cas(undef, 1, 'v') });
row('cas([], 1, v)',       sub { $_[0]->cas([1], 1, 'v') });
row('cas(k, 1, undef)',    sub { $_[0]->cas('k', 1, undef) });
row('cas(k, [], v)',       sub { $_[0]->cas('k', [1], 'v') });
row('cas(k, 1, v, abc)',   sub { $_[0]->cas('k', 1, 'v', 'abc') });

# storage, many keys
for my $cmd (qw(set_multi add_multi replace_multi append_multi prepend_multi)) {
    row("$cmd()",                   sub { $_[0]->$cmd() });
    row("$cmd(x)",                  sub { $_[0]->$cmd('x') });
    row("$cmd(undef)",              sub { $_[0]->$cmd(undef) });
    row("$cmd([])",                 sub { $_[0]->$cmd([]) });
    row("$cmd({})",                 sub { $_[0]->$cmd({}) });
    row("$cmd(\\s)",                sub { $_[0]->$cmd(\'s') });
    row("$cmd([k])",                sub { $_[0]->$cmd(['k']) });
    row("$cmd([undef, v])",         sub { $_[0]->$cmd([undef, 'v']) });
    row("$cmd([k, undef])",         sub { $_[0]->$cmd(['k', undef]) });
    row("$cmd([[], v])",            sub { $_[0]->$cmd([[1], 'v']) });
    row("$cmd(['', v])",            sub { $_[0]->$cmd(['', 'v']) });
    row("$cmd([k, v, abc])",        sub { $_[0]->$cmd(['k', 'v', 'abc']) });
    row("$cmd([k, v, undef])",      sub { $_[0]->$cmd(['k', 'v', undef]) });
    row("$cmd([k, v, 0, x])",       sub { $_[0]->$cmd(['k', 'v', 0, 'extra']) });
    row("$cmd([a, 1], x)",          sub { $_[0]->$cmd(['a', 1], 'x') });
    row("$cmd([a, 1], [])",         sub { $_[0]->$cmd(['a', 1], []) });
    row("$cmd([a, 1], [b])",        sub { $_[0]->$cmd(['a', 1], ['b']) });
    row("$cmd([a, 1], undef)",      sub { $_[0]->$cmd(['a', 1], undef) });
    row("$cmd([a, 1], [k, sub])",   sub { $_[0]->$cmd(['a', 1], ['k', sub { 1 }]) });
    row("$cmd([a, 1], [undef, 2])", sub { $_[0]->$cmd(['a', 1], [undef, 2]) });
    row("$cmd([k, 1], [k, 2])",     sub { $_[0]->$cmd(['k', 1], ['k', 2]) });
}
row('cas_multi()',                sub { $_[0]->cas_multi() });
row('cas_multi(x)',               sub { $_[0]->cas_multi('x') });
row('cas_multi([])',              sub { $_[0]->cas_multi([]) });
row('cas_multi([k])',             sub { $_[0]->cas_multi(['k']) });
row('cas_multi([k, 1])',          sub { $_[0]->cas_multi(['k', 1]) });
row('cas_multi([k, undef, v])',   sub { $_[0]->cas_multi(['k', undef, 'v']) });
row('cas_multi([k, abc, v])',     sub { $_[0]->cas_multi(['k', 'abc', 'v']) });
row('cas_multi([undef, 1, v])',   sub { $_[0]->cas_multi([undef, 1, 'v']) });
row('cas_multi([k, 1, undef])',   sub { $_[0]->cas_multi(['k', 1, undef]) });
row('cas_multi([k, 1, v, abc])',  sub { $_[0]->cas_multi(['k', 1, 'v', 'abc']) });
row('cas_multi([a, 1, 1], {})',   sub { $_[0]->cas_multi(['a', 1, 1], {}) });

# retrieval, one key
for my $cmd (qw(get gets)) {
    undef_row("$cmd()",  sub { $_[0]->$cmd() }, sub { $_[0]->$cmd(undef) });
    row("$cmd(undef)",   sub { $_[0]->$cmd(undef) });
    row("$cmd([])",      sub { $_[0]->$cmd([1]) });
    row("$cmd({})",      sub { $_[0]->$cmd({}) });
    row("$cmd('')",      sub { $_[0]->$cmd('') });
    row("$cmd(k, a)",    sub { $_[0]->$cmd('k', 'a') });
}
for my $cmd (qw(gat gats)) {
    undef_row("$cmd()",    sub { $_[0]->$cmd() }, sub { $_[0]->$cmd(undef, undef) });
    undef_row("$cmd(10)",  sub { $_[0]->$cmd(10) }, sub { $_[0]->$cmd(10, undef) });
    row("$cmd(undef, k)",  sub { $_[0]->$cmd(undef, 'k') });
    row("$cmd(abc, k)",    sub { $_[0]->$cmd('abc', 'k') });
    row("$cmd(1.5, k)",    sub { $_[0]->$cmd(1.5, 'k') });
    row("$cmd('', k)",     sub { $_[0]->$cmd('', 'k') });
    row("$cmd(10, undef)", sub { $_[0]->$cmd(10, undef) });
    row("$cmd(10, [])",    sub { $_[0]->$cmd(10, [1]) });
    row("$cmd(10, k, a)",  sub { $_[0]->$cmd(10, 'k', 'a') });
}

# retrieval, many keys
for my $cmd (qw(get_multi gets_multi)) {
    row("$cmd()",          sub { $_[0]->$cmd() });
    row("$cmd(undef)",     sub { $_[0]->$cmd(undef) });
    row("$cmd(undef, k)",  sub { $_[0]->$cmd(undef, 'k') });
    row("$cmd([])",        sub { $_[0]->$cmd([1]) });
    row("$cmd([k])",       sub { $_[0]->$cmd(['k']) });
    row("$cmd({}, k)",     sub { $_[0]->$cmd({}, 'k') });
    row("$cmd('', k)",     sub { $_[0]->$cmd('', 'k') });
    row("$cmd(k, k)",      sub { $_[0]->$cmd('k', 'k') });
}
for my $cmd (qw(gat_multi gats_multi)) {
    row("$cmd()",            sub { $_[0]->$cmd() });
    row("$cmd(10)",          sub { $_[0]->$cmd(10) });
    row("$cmd(undef, k)",    sub { $_[0]->$cmd(undef, 'k') });
    row("$cmd(abc, k)",      sub { $_[0]->$cmd('abc', 'k') });
    row("$cmd(10, undef)",   sub { $_[0]->$cmd(10, undef) });
    row("$cmd(10, undef, k)", sub { $_[0]->$cmd(10, undef, 'k') });
    row("$cmd(10, [])",      sub { $_[0]->$cmd(10, [1]) });
    row("$cmd([k])",         sub { $_[0]->$cmd(['k']) });
}

# arithmetic
for my $cmd (qw(incr decr)) {
    undef_row("$cmd()",    sub { $_[0]->$cmd() }, sub { $_[0]->$cmd(undef) });
    row("$cmd(undef)",     sub { $_[0]->$cmd(undef) });
    row("$cmd([])",        sub { $_[0]->$cmd([1]) });
    row("$cmd(k, undef)",  sub { $_[0]->$cmd('k', undef) });
    row("$cmd(k, abc)",    sub { $_[0]->$cmd('k', 'abc') });
    row("$cmd(k, -1)",     sub { $_[0]->$cmd('k', -1) });
    row("$cmd(k, 1.5)",    sub { $_[0]->$cmd('k', 1.5) });
    row("$cmd(k, 1, x)",   sub { $_[0]->$cmd('k', 1, 'extra') });
    row("$cmd(a)",         sub { $_[0]->$cmd('a') });
}
for my $cmd (qw(incr_multi decr_multi)) {
    row("$cmd()",             sub { $_[0]->$cmd() });
    row("$cmd(undef)",        sub { $_[0]->$cmd(undef) });
    row("$cmd([])",           sub { $_[0]->$cmd([]) });
    row("$cmd({})",           sub { $_[0]->$cmd({}) });
    row("$cmd(\\s)",          sub { $_[0]->$cmd(\'s') });
    row("$cmd([undef])",      sub { $_[0]->$cmd([undef]) });
    row("$cmd([undef, 1])",   sub { $_[0]->$cmd([undef, 1]) });
    row("$cmd([k, undef])",   sub { $_[0]->$cmd(['k', undef]) });
    row("$cmd([k, abc])",     sub { $_[0]->$cmd(['k', 'abc']) });
    row("$cmd([[]])",         sub { $_[0]->$cmd([[1]]) });
    row("$cmd(k, {})",        sub { $_[0]->$cmd('k', {}) });
    row("$cmd(c, [k, 2], a)", sub { $_[0]->$cmd('c', ['k', 2], 'a') });
}

# delete, touch
for my $cmd (qw(delete remove)) {
    undef_row("$cmd()",    sub { $_[0]->$cmd() }, sub { $_[0]->$cmd(undef) });
    row("$cmd(undef)",     sub { $_[0]->$cmd(undef) });
    row("$cmd([])",        sub { $_[0]->$cmd([1]) });
    row("$cmd(k, 5)",      sub { $_[0]->$cmd('k', 5) });
    row("$cmd(k, abc)",    sub { $_[0]->$cmd('k', 'abc') });
    row("$cmd(k, undef)",  sub { $_[0]->$cmd('k', undef) });
    row("$cmd(k, 0, x)",   sub { $_[0]->$cmd('k', 0, 'extra') });
}
row('delete_multi()',           sub { $_[0]->delete_multi() });
row('delete_multi(undef)',      sub { $_[0]->delete_multi(undef) });
row('delete_multi([])',         sub { $_[0]->delete_multi([]) });
row('delete_multi({})',         sub { $_[0]->delete_multi({}) });
row('delete_multi([undef])',    sub { $_[0]->delete_multi([undef]) });
row('delete_multi([k, 5])',     sub { $_[0]->delete_multi(['k', 5]) });
row('delete_multi([k, abc])',   sub { $_[0]->delete_multi(['k', 'abc']) });
row('delete_multi([[]])',       sub { $_[0]->delete_multi([[1]]) });
row('delete_multi(a, {})',      sub { $_[0]->delete_multi('a', {}) });
row('delete_multi(a, k, a)',    sub { $_[0]->delete_multi('a', 'k', 'a') });
undef_row('touch()',       sub { $_[0]->touch() }, sub { $_[0]->touch(undef) });
row('touch(undef)',        sub { $_[0]->touch(undef) });
row('touch(k)',            sub { $_[0]->touch('k') });
row('touch(k, undef)',     sub { $_[0]->touch('k', undef) });
row('touch(k, abc)',       sub { $_[0]->touch('k', 'abc') });
row('touch([], 10)',       sub { $_[0]->touch([1], 10) });
row('touch(k, 10, x)',     sub { $_[0]->touch('k', 10, 'extra') });
row('touch_multi()',            sub { $_[0]->touch_multi() });
row('touch_multi(k)',           sub { $_[0]->touch_multi('k') });
row('touch_multi(undef)',       sub { $_[0]->touch_multi(undef) });
row('touch_multi([])',          sub { $_[0]->touch_multi([]) });
row('touch_multi({})',          sub { $_[0]->touch_multi({}) });
row('touch_multi([k])',         sub { $_[0]->touch_multi(['k']) });
row('touch_multi([undef, 10])', sub { $_[0]->touch_multi([undef, 10]) });
row('touch_multi([k, undef])',  sub { $_[0]->touch_multi(['k', undef]) });
row('touch_multi([k, abc])',    sub { $_[0]->touch_multi(['k', 'abc']) });
row('touch_multi([a, 10], x)',  sub { $_[0]->touch_multi(['a', 10], 'x') });

# the fleet and the object
row('flush_all(abc)',      sub { $_[0]->flush_all('abc') });
row('flush_all(undef)',    sub { $_[0]->flush_all(undef) });
row('flush_all(100, 2)',   sub { $_[0]->flush_all(100, 2) });
row('server_versions(x)',  sub { my $v = $_[0]->server_versions('x'); ref $v ? [sort keys %$v] : $v });
row('nowait_push(x)',      sub { $_[0]->nowait_push('x') });
row('disconnect_all(x)',   sub { $_[0]->disconnect_all('x') });
row('enable_compress()',   sub { $_[0]->enable_compress() });
row('enable_compress(undef)', sub { $_[0]->enable_compress(undef) });
row('enable_compress(1, 2)',  sub { $_[0]->enable_compress(1, 2) });
row('namespace(undef)',    sub { my $old = $_[0]->namespace(undef); [$old, $_[0]->namespace] });
row('namespace([])',       sub { my $old = $_[0]->namespace([]); [$old, $_[0]->namespace =~ s/\(0x[0-9a-f]+\)/(0xADDR)/r] });
row('namespace(a, b)',     sub { my $old = $_[0]->namespace('a:', 'b'); [$old, $_[0]->namespace] });

# values and keys with compression, utf8 and a namespace on
my %OPT = (compress_threshold => 1, utf8 => 1, namespace => 'ns:');
row('opt: set(k, undef)',        sub { $_[0]->set('k', undef) }, conf => \%OPT);
row('opt: set(undef, v)',        sub { $_[0]->set(undef, 'v' x 50) }, conf => \%OPT);
row('opt: set(k, wide)',         sub { $_[0]->set('k', "\x{263a}" x 40) }, conf => \%OPT);
row('opt: set(wide, v)',         sub { $_[0]->set("k\x{263a}", 'v') }, conf => \%OPT);
row('opt: set([], v)',           sub { $_[0]->set([1], 'v' x 50) }, conf => \%OPT);
row('opt: set(k, [])',           sub { $_[0]->set('k', [('x') x 50]) }, conf => \%OPT);
row('opt: set_multi([k, undef])', sub { $_[0]->set_multi(['k', undef]) }, conf => \%OPT);
row('opt: set_multi([k, v], [c, wide])', sub { $_[0]->set_multi(['k', 'v' x 40], ['c', "\x{263a}" x 40]) }, conf => \%OPT);
row('opt: get_multi(undef, k)',  sub { $_[0]->get_multi(undef, 'k') }, conf => \%OPT);
row("opt: namespace('')",        sub { my $old = $_[0]->namespace(''); [$old, $_[0]->get('k')] }, conf => \%OPT);
row('wide: set(k, wide)',        sub { $_[0]->set('k', "\x{263a}") });
row('wide: set_multi([a, 1], [k, wide])', sub { $_[0]->set_multi(['a', 1], ['k', "\x{263a}"]) });
row('wide: cas(k, 1, wide)',     sub { $_[0]->cas('k', 1, "\x{263a}") });
row('max_size: set(k, big)',     sub { $_[0]->set('k', 'x' x 200) }, conf => { max_size => 100 });
row('max_size: set_multi([k, big], [a, 1])', sub { $_[0]->set_multi(['k', 'x' x 200], ['a', 1]) },
    conf => { max_size => 100 });
row('max_size: set_multi([a, 1], [k, big])', sub { $_[0]->set_multi(['a', 1], ['k', 'x' x 200]) },
    conf => { max_size => 100 });

# void-context writes that are noreply
my %NOWAIT = (nowait => 1);
row('nowait: set(undef, v)',     sub { $_[0]->set(undef, 'v') }, conf => \%NOWAIT);
row('nowait: set(k, undef)',     sub { $_[0]->set('k', undef) }, conf => \%NOWAIT);
row('nowait: set_multi([a, 1], x)', sub { $_[0]->set_multi(['a', 1], 'x') }, conf => \%NOWAIT);
row('nowait: set_multi([a, 1], [undef, 2])', sub { $_[0]->set_multi(['a', 1], [undef, 2]) }, conf => \%NOWAIT);
row('nowait: incr_multi(c, {})', sub { $_[0]->incr_multi('c', {}) }, conf => \%NOWAIT);
row('nowait: delete_multi(a, [])', sub { $_[0]->delete_multi('a', []) }, conf => \%NOWAIT);
row('nowait: touch_multi([a, 10], [])', sub { $_[0]->touch_multi(['a', 10], []) }, conf => \%NOWAIT);

# the constructor
sub ctor { my ($name, @args) = @_; row("new($name)", sub { my $o = ref($_[0])->new(@args); ref $o }) }
ctor('');
ctor('undef', undef);
ctor('x', 'x');
ctor('[]', []);
ctor('{servers => x}', { servers => 'x' });
ctor('{servers => {}}', { servers => {} });
ctor('{servers => [undef]}', { servers => [undef] });
ctor('{servers => [[]]}', { servers => [[]] });
ctor('{servers => [{}]}', { servers => [{}] });
ctor('{servers => [\x]}', { servers => [\'x'] });
ctor('{servers => [[a, undef]]}', { servers => [['127.0.0.1:1', undef]] });
ctor('{servers => [[a, 0]]}', { servers => [['127.0.0.1:1', 0]] });
ctor('{servers => [[a, x]]}', { servers => [['127.0.0.1:1', 'x']] });
ctor('{servers => [{address => a, weight => undef}]}', { servers => [{ address => '127.0.0.1:1', weight => undef }] });
ctor('{servers => [{address => a, weight => -1}]}', { servers => [{ address => '127.0.0.1:1', weight => -1 }] });
ctor('{servers => [{weight => 1}]}', { servers => [{ weight => 1 }] });
ctor('{namespace => undef}', { namespace => undef });
ctor('{namespace => []}', { namespace => [] });
ctor('{max_size => abc}', { max_size => 'abc' });
ctor('{compress_threshold => abc}', { compress_threshold => 'abc' });
ctor('{ketama_points => abc}', { ketama_points => 'abc' });
ctor('{serialize_methods => []}', { serialize_methods => [] });
ctor('{serialize_methods => [undef, sub]}', { serialize_methods => [undef, sub { 1 }] });
ctor('{unknown => 1}', { unknown => 1 });
ctor('{compress_algo => x}', { compress_algo => 'x' });

# ------------------------------------------------------------------ known differences
# "row [context]" or "row" (every context) => { field => Mcfast's value, why => reason }.
my $EMPTY_KEY = 'Cache::Memcached::Fast sends an empty key, which stores under the namespace '
    . 'itself; libmcfast refuses an empty key (a caller bug) before sending';
my %DIFF = (
    'opt: set(undef, v)' => { ret => { list => '[]', scalar => 'undef', void => 'void' },
                              server => "; a flags=0 exp=no 'alpha', k flags=0 exp=no '5'",
                              why => $EMPTY_KEY },
    'opt: get_multi(undef, k)' => { server => "cmd_get+1 get_misses+1; a flags=0 exp=no 'alpha', k flags=0 exp=no '5'",
                                    why => $EMPTY_KEY },
);

my $only = $ENV{BADARGS_ONLY};
for my $row (@ROWS) {
    my ($name, $code, $o) = @$row;
    next if defined $only && index($name, $only) < 0;
    for my $ctx (qw(list scalar void)) {
        my $id = "$name [$ctx]";
        my $ref = outcome('Cache::Memcached::Fast', $ctx, $o->{undef_as} || $code, $o->{conf});
        my $got = outcome('Cache::Memcached::Mcfast', $ctx, $code, $o->{conf});
        if ($o->{undef_as}) {
            s/ line \d+\./ line N./g for values %$ref, values %$got;
        }
        my $want = { %$ref };
        my $d = $DIFF{$id} // $DIFF{$name};
        if ($d) {
            for my $f (grep { $_ ne 'why' } keys %$d) {
                $want->{$f} = ref $d->{$f} ? $d->{$f}{$ctx} : $d->{$f};
            }
        }
        my $wt = join "\n", map { "$_: $want->{$_}" } sort keys %$want;
        my $gt = join "\n", map { "$_: $got->{$_}" } sort keys %$got;
        my $why = $d ? " (difference kept: $d->{why})"
                : $o->{undef_as} ? ' (missing arguments: as undef)' : '';
        is($gt, $wt, "$id$why");
    }
}

done_testing();
