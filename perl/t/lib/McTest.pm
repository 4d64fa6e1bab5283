package McTest;
# Test support: real memcached servers on free loopback ports and unix
# sockets (killed when the test ends), raw protocol access to ask a server
# directly what it holds, and the reference module when installed.
use strict;
use warnings;
use Exporter 'import';
use File::Temp ();
use IO::Socket::INET;
use IO::Socket::IP;
use IO::Socket::UNIX;
use Socket qw(SOCK_STREAM);
use Time::HiRes qw(sleep time);
use Test::More ();

our @EXPORT = qw(need_memcached start_server have_cmf have_ipv6 raw_cmd raw_get raw_get_flags
                 free_port tmpdir elapsed silent_server full_unix_socket);

my @PIDS;
my $TMP;
my $OWNER = $$;    # only the process that started the servers stops them

sub tmpdir { $TMP //= File::Temp::tempdir('mcfast-perl-XXXXXX', TMPDIR => 1, CLEANUP => 1) }

sub memcached_bin {
    for my $d ((split /:/, $ENV{PATH} // ''), '/usr/bin', '/usr/sbin', '/usr/local/bin') {
        return "$d/memcached" if -x "$d/memcached";
    }
    return;
}

sub need_memcached {
    Test::More::plan(skip_all => 'memcached is not installed') unless memcached_bin();
}

sub have_cmf { return eval { require Cache::Memcached::Fast; 1 } ? 1 : 0 }

my $have_v6;
sub have_ipv6 {
    $have_v6 //= IO::Socket::IP->new(LocalHost => '::1', LocalPort => 0, Listen => 1) ? 1 : 0;
    return $have_v6;
}

# A port nothing listens on right now (on both loopback addresses).
sub free_port {
    for (1 .. 50) {
        my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0, Listen => 1,
                                      ReuseAddr => 1) or die "bind: $!";
        my $port = $s->sockport;
        close $s;
        next if have_ipv6() && !IO::Socket::IP->new(LocalHost => '::1', LocalPort => $port,
                                                    Listen => 1, ReuseAddr => 1);
        return $port;
    }
    die "no free port\n";
}

sub connectable {
    my ($addr) = @_;
    return IO::Socket::UNIX->new(Type => SOCK_STREAM, Peer => $addr) if $addr =~ m{^/};
    my ($h, $p) = $addr =~ /^\[?(.*?)\]?:(\d+)$/;
    return IO::Socket::IP->new(PeerHost => $h, PeerPort => $p, Timeout => 1);
}

# start_server(host => '127.0.0.1' | '::1', [port => N]) or
# start_server(unix => 1): starts memcached, returns its address as the
# module takes it ("127.0.0.1:PORT", "[::1]:PORT", "/path.sock").
sub start_server {
    my (%o) = @_;
    my $bin = memcached_bin() or die "memcached is not installed\n";
    my ($addr, @args);
    if ($o{unix}) {
        my $path = tmpdir() . '/mc-' . (scalar(@PIDS) + 1) . '.sock';
        unlink $path;
        @args = ('-s', $path);
        $addr = $path;
    } else {
        my $host = $o{host} // '127.0.0.1';
        my $port = $o{port} // free_port();
        @args = ('-l', $host, '-p', $port, '-U', 0);
        $addr = $host =~ /:/ ? "[$host]:$port" : "$host:$port";
    }
    push @args, '-u', 'root' if $> == 0;
    push @args, @{ $o{args} || [] };
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        open STDOUT, '>', '/dev/null';
        open STDERR, '>', '/dev/null';
        exec $bin, @args;
        exit 127;
    }
    push @PIDS, $pid;
    my $t0 = time;
    until (connectable($addr)) {
        die "memcached @args did not start\n" if time - $t0 > 5 || waitpid($pid, 1) == $pid;
        sleep 0.02;
    }
    return $addr;
}

# A TCP server on 127.0.0.1 that accepts connections and reads requests
# but never answers (a hung server).  Returns its address.
sub silent_server {
    my $l = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0, Listen => 16,
                                  ReuseAddr => 1) or die "listen: $!";
    my $addr = '127.0.0.1:' . $l->sockport;
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        my @conns;
        require IO::Select;
        my $sel = IO::Select->new($l);
        while (1) {
            for my $fh ($sel->can_read) {
                if ($fh == $l) { my $c = $l->accept; $sel->add($c) if $c; next }
                my $n = sysread($fh, my $buf, 65536);
                $sel->remove($fh), close $fh unless $n;
            }
        }
    }
    close $l;
    push @PIDS, $pid;
    return $addr;
}

# A unix socket whose listen backlog is full and that never accepts: a
# connect() to it cannot complete.  Returns the path; the sockets live as
# long as the test.
my @KEEP;
sub full_unix_socket {
    require IO::Handle;
    my $path = tmpdir() . '/full-' . (scalar(@KEEP) + 1) . '.sock';
    unlink $path;
    my $l = IO::Socket::UNIX->new(Type => SOCK_STREAM, Local => $path, Listen => 0)
        or die "listen $path: $!";
    push @KEEP, $l;
    for (1 .. 64) {
        socket(my $s, Socket::AF_UNIX(), SOCK_STREAM, 0) or die "socket: $!";
        $s->blocking(0);
        my $ok = connect($s, Socket::pack_sockaddr_un($path));
        push @KEEP, $s;
        return $path if !$ok && $!{EAGAIN};
    }
    die "could not fill the backlog of $path\n";
}

sub stop_all {
    kill 'TERM', @PIDS if @PIDS;
    waitpid($_, 0) for @PIDS;
    @PIDS = ();
}
END { my $rc = $?; stop_all() if $$ == $OWNER; $? = $rc }

# raw_cmd($addr, $request, $until_re): sends a raw request, returns the
# reply up to a line matching $until_re (default: END, STORED, ...).
sub raw_cmd {
    my ($addr, $req, $until) = @_;
    $until //= qr/^(?:END|STORED|NOT_STORED|EXISTS|NOT_FOUND|DELETED|TOUCHED|OK|ERROR|CLIENT_ERROR.*|SERVER_ERROR.*|VERSION .*|\d+)\r\n\z/;
    my $s = connectable($addr) or die "connect $addr: $!\n";
    print $s $req;
    my $out = '';
    while (defined(my $line = <$s>)) {
        $out .= $line;
        last if $line =~ $until;
    }
    return $out;
}

# raw_get($addr, $key): (value, flags) as the server holds them, or ().
sub raw_get {
    my ($addr, $key) = @_;
    my $r = raw_cmd($addr, "get $key\r\n");
    return unless $r =~ /^VALUE \S+ (\d+) (\d+)\r\n/;
    my ($flags, $len) = ($1, $2);
    return (substr($r, length($&), $len), $flags);
}

sub raw_get_flags { my @r = raw_get(@_); return @r ? $r[1] : undef }

sub elapsed {
    my ($code) = @_;
    my $t0 = time;
    my @r = $code->();
    return (time - $t0, @r);
}

1;
