package Cache::Memcached::Mcfast;

# Cache::Memcached::Fast's API and value format on libmcfast.  Every
# method that takes keys or values is an XSUB (Mcfast.xs), called straight
# from the user's code as Cache::Memcached::Fast's are; this file parses
# the constructor's options, rebuilds clients in new threads, and has the
# few methods that take no user data.
#
# The object is a blessed scalar holding the C handle, like
# Cache::Memcached::Fast's.

use strict;
use warnings;

use Carp ();
use Scalar::Util ();
use Socket ();
use Storable ();
use XSLoader;

our $VERSION;
my %CONST;
BEGIN {
    $VERSION = '0.1.0'; # the library's (the file VERSION; tests/t_version.sh)
    XSLoader::load(__PACKAGE__, $VERSION);
    %CONST = _constants();
    require constant;
    constant->import({%CONST});
}

use Exporter 'import';
our @EXPORT_OK = sort keys %CONST;
our %EXPORT_TAGS = (all => \@EXPORT_OK);

# Error code => its name, for last_error's dualvar.
my %RC_NAME;
for my $name (keys %CONST) {
    next unless $name =~ /^MCF_(?:OK|MISS|NOT_STORED|EXISTS|NOT_FOUND|ERR_(?!FIRST|LAST).+)$/;
    $RC_NAME{ $CONST{$name} } = $name;
}

my %KNOWN_ARGS = map { $_ => 1 } qw(
    check_args close_on_error compress_algo compress_methods compress_ratio
    compress_threshold connect_timeout dns_ttl failure_limit failure_timeout hash_namespace
    io_timeout ketama_points latency max_failures max_size namespace nowait on_event
    select_timeout serialize_methods servers tls utf8
);

use constant {
    # The largest value the C client will read back.  Cache::Memcached::Fast
    # applies max_size to stores only, so reads must not be limited by it.
    READ_LIMIT => 1 << 30,
    MAX_TIMEOUT_MS => 3_600_000,    # the C library's ceiling; "0 disables"
    EMPTY_ADDRESS => '/dev/null/empty-address',
};

# handle => [weakened object, constructor arguments], to rebuild the
# clients in a new thread (keyed like Cache::Memcached::Fast's, by the
# handle, which a new thread's copy of the object still holds).
my %INSTANCES;

# ------------------------------------------------------------------ new

# Cache::Memcached::Fast's checks and their messages; its own dies come
# from inside the module (a location in this file), as theirs do.
sub new {
    my ($class, $conf) = @_;
    unless (lc($conf->{check_args} // '') eq 'skip') {
        Carp::carp('compress_algo was removed in 0.08, use compress_methods')
            if exists $conf->{compress_algo};
        if (my @unknown = grep { !$KNOWN_ARGS{$_} } sort keys %$conf) {
            local $" = ', ';
            Carp::carp("Unknown arguments: @unknown");
        }
    }
    die 'Not a hash reference' unless ref $conf eq 'HASH';
    my $self = _build($class, {%$conf});
    return $self;
}

# A configured object for $conf (also in a new thread).  The options are
# read in Cache::Memcached::Fast's order, numbers and strings through XS
# (_num), so a bad value warns as there ("isn't numeric in subroutine
# entry", "Use of uninitialized value in subroutine entry").
sub _build {
    my ($class, $conf) = @_;
    my $h = _handle_new($class);
    my $self = bless \$h, $class;

    if (defined(my $ketama = $conf->{ketama_points})) {
        $ketama = _num($ketama, 'i');
        if ($ketama > 0) {
            _opt($self, MCF_OPT_DISTRIBUTION, MCF_DIST_KETAMA_CMF, 'ketama_points');
            _opt($self, MCF_OPT_KETAMA_POINTS, $ketama, 'ketama_points');
        }
    }
    _opt($self, MCF_OPT_HASH_NAMESPACE, $conf->{hash_namespace} ? 1 : 0, 'hash_namespace')
        if defined $conf->{hash_namespace};

    if (defined(my $list = $conf->{servers})) {
        die 'Not an array reference' unless ref $list eq 'ARRAY';
        for my $i (0 .. $#$list) {
            next unless exists $list->[$i];
            my ($addr, $weight, $noreply) = _parse_server($list->[$i]);
            my $rc = $self->_add_server(_spec($addr), _weight($addr, $weight),
                                        $noreply ? 1 : 0, $addr);
            Carp::croak("Cache::Memcached::Mcfast: server '$addr': " . ($self->_error)[1])
                if $rc;
        }
    }

    _set_namespace_checked($self, _num($conf->{namespace}, 's')) if defined $conf->{namespace};
    _set_tls($self, $conf->{tls}) if defined $conf->{tls};

    my $ct = defined $conf->{connect_timeout} ? _num($conf->{connect_timeout}, 'n') : 0.25;
    my $connect_ms = _ms($ct);
    _opt($self, MCF_OPT_CONNECT_TIMEOUT_MS, $connect_ms, 'connect_timeout');
    # mcfast's connect_timeout covers every address of a server (Happy
    # Eyeballs), so the next address must start well within it.
    my $delay = int($connect_ms / 2);
    $delay = 250 if $delay > 250;
    $delay = 10  if $delay < 10;
    _opt($self, MCF_OPT_ATTEMPT_DELAY_MS, $delay, 'connect_timeout');
    my $io = 1.0;
    $io = _num($conf->{io_timeout}, 'n') if defined $conf->{io_timeout};
    $io = _num($conf->{select_timeout}, 'n') if defined $conf->{select_timeout};
    _opt($self, MCF_OPT_IO_TIMEOUT_MS, _ms($io), 'io_timeout');
    _opt($self, MCF_OPT_MAX_FAILURES, _num($conf->{max_failures}, 'i'), 'max_failures')
        if defined $conf->{max_failures};
    _opt($self, MCF_OPT_FAILURE_TIMEOUT_S, _num($conf->{failure_timeout}, 'i'), 'failure_timeout')
        if defined $conf->{failure_timeout};
    # Cache::Memcached::Fast never skips a server unless max_failures is
    # set: libmcfast's healing is opted into with failure_limit.
    _opt($self, MCF_OPT_FAILURE_LIMIT,
         defined $conf->{failure_limit} ? _num($conf->{failure_limit}, 'i') : 0, 'failure_limit');
    _opt($self, MCF_OPT_LATENCY, $conf->{latency} ? 1 : 0, 'latency');
    if (defined $conf->{dns_ttl}) {
        my $t = _num($conf->{dns_ttl}, 'n');
        _opt($self, MCF_OPT_DNS_TTL_MS, $t < 0 ? -1 : $t == 0 ? 0 : _ms($t), 'dns_ttl');
    }
    if (defined $conf->{on_event}) {
        Carp::croak('on_event must be a code reference') unless ref $conf->{on_event} eq 'CODE';
        _set_on_event($self, $conf->{on_event});
    }

    my $max_size = defined $conf->{max_size} ? _num($conf->{max_size}, 'u') : 1024 * 1024;
    my $read = $max_size > READ_LIMIT ? $max_size : READ_LIMIT;
    $read = 1 << 32 if $read > 1 << 32;
    _opt($self, MCF_OPT_MAX_VALUE_SIZE, int($read), 'max_size');

    my %v = (nowait => $conf->{nowait} ? 1 : 0, max_size => $max_size,
             compress_threshold => -1, compress_ratio => 0.8, utf8 => $conf->{utf8} ? 1 : 0);
    $v{compress_threshold} = _num($conf->{compress_threshold}, 'i')
        if defined $conf->{compress_threshold};
    $v{compress_ratio} = _num($conf->{compress_ratio}, 'n') if defined $conf->{compress_ratio};
    # compress_methods given: the user's subs run; otherwise memGzip's
    # bytes are made in C (Mcfast.xs, mcfx_gzip.c).
    @v{qw(comp decomp)} = _methods($conf->{compress_methods}) if defined $conf->{compress_methods};
    @v{qw(ser deser)} = defined $conf->{serialize_methods}
        ? _methods($conf->{serialize_methods}) : (\&Storable::nfreeze, \&Storable::thaw);
    $self->_configure(\%v);

    $INSTANCES{$$self} = [$self, $conf];
    Scalar::Util::weaken($INSTANCES{$$self}[0]);
    return $self;
}

# The two subs of compress_methods or serialize_methods.
sub _methods {
    my ($list) = @_;
    my @m = @$list[0, 1];
    die 'undefined value passed to av_fetch' if grep { !defined } @m;
    return @m;
}

# tls => 1 (every server, verified against the system's CAs) or
# tls => { ca_file, ca_path, cert_file, key_file, server_name, ciphers,
#          ciphersuites, min_version ('1.2'/'1.3'), verify (default 1),
#          all_servers (default 1) }.  "tls:host:port" servers are TLS anyway.
my %TLS_KEYS = map { $_ => 1 } qw(ca_file ca_path cert_file key_file server_name ciphers
    ciphersuites min_version verify all_servers);

sub _set_tls {
    my ($self, $tls) = @_;
    $tls = {} if !ref $tls && $tls;
    return unless ref $tls;
    Carp::croak('tls: not a hash reference') unless ref $tls eq 'HASH';
    if (my @unknown = grep { !$TLS_KEYS{$_} } sort keys %$tls) {
        Carp::croak("tls: unknown keys: @unknown");
    }
    my %o = map { $_ => $tls->{$_} }
        grep { defined $tls->{$_} }
        qw(ca_file ca_path cert_file key_file server_name ciphers ciphersuites);
    if (defined(my $v = $tls->{min_version})) {
        $o{min_version} = $v eq '1.2' ? 12 : $v eq '1.3' ? 13
            : Carp::croak("tls: min_version '$v': use '1.2' or '1.3'");
    }
    $o{insecure}    = (exists $tls->{verify} && !$tls->{verify}) ? 1 : 0;
    $o{all_servers} = (exists $tls->{all_servers} && !$tls->{all_servers}) ? 0 : 1;
    my $rc = $self->_set_tls_opts(\%o);
    Carp::croak("Cache::Memcached::Mcfast: tls: " . ($self->_error)[1]) if $rc;
}

sub _opt {
    my ($self, $opt, $value, $name) = @_;
    my $rc = $self->_set_option($opt, $value);
    Carp::croak("Cache::Memcached::Mcfast: $name: " . ($self->_error)[1]) if $rc;
}

# Seconds (fractional) to milliseconds; 0 means no timeout in
# Cache::Memcached::Fast, which here is the library's ceiling of one hour.
sub _ms {
    my ($s) = @_;
    return MAX_TIMEOUT_MS if $s <= 0;
    my $ms = int($s * 1000 + 0.5);
    return $ms < 1 ? 1 : $ms > MAX_TIMEOUT_MS ? MAX_TIMEOUT_MS : $ms;
}

# (address, weight, noreply) of one entry of servers, as
# Cache::Memcached::Fast reads it.
sub _parse_server {
    my ($s) = @_;
    return (_address($s), 1, 0) unless ref $s;
    if (ref $s eq 'HASH') {
        die 'server should have { address => $addr }' unless exists $s->{address};
        return (_address($s->{address}), defined $s->{weight} ? _num($s->{weight}, 'n') : 1,
                $s->{noreply});
    }
    if (ref $s eq 'ARRAY') {
        die 'server should be [$addr, $weight]' unless @$s;
        return (_address($s->[0]), @$s > 1 ? _num($s->[1], 'n') : 1, 0);
    }
    die 'Not a hash or array reference';
}

# An address's text (an undef warns, as in Cache::Memcached::Fast).
sub _address {
    my ($a) = @_;
    return _num($a, 's');
}

# Cache::Memcached::Fast checks the weight after taking the address.
sub _weight {
    my ($addr, $w) = @_;
    die 'Server weight should be positive' unless $w > 0;
    # Fractional weights go to libmcfast as they are (mcf_add_server_weight),
    # which places keys with them exactly as Cache::Memcached::Fast does.
    return $w;
}

sub _is_ipv6 {
    my ($h) = @_;
    $h =~ s/%[^%]*\z//;    # zone
    return defined Socket::inet_pton(Socket::AF_INET6(), $h);
}

# A Cache::Memcached::Fast address as an mcfast spec.  CMF takes the text
# after the last colon as the port ("::1:11212" is [::1]:11212); mcfast
# reads a bare IPv6 literal as an address with the default port, so such
# addresses are bracketed.  "[v6]:port", unix paths and "host:port" pass
# through.
sub _spec {
    my ($addr) = @_;
    # Cache::Memcached::Fast takes an empty address and never connects to
    # it; here a path that cannot be connected to keeps its place in the
    # list, so every key maps to the same server as there.
    return EMPTY_ADDRESS if $addr eq '';
    # libmcfast would read a trailing ":N" after the port (or after a unix
    # path) as a weight; here weights come from the weight field only.
    Carp::croak("Cache::Memcached::Mcfast: server '$addr': a weight goes in the weight field, "
        . "not in the address")
        if $addr =~ m{^(?:[^:\[/]+|\[[^\]]*\]):\d+:\d+\z} || $addr =~ m{^(?:unix:)?/.*:\d+\z};
    return $addr if $addr =~ m{^(?:/|unix:|\[)};
    return $addr if ($addr =~ tr/://) <= 1;
    return "[$1]:$2" if $addr =~ /^(.+):(\d+)\z/ && _is_ipv6($1);
    return $addr;
}

sub _set_namespace_checked {
    my ($self, $ns) = @_;
    if ($self->_set_namespace($ns)) {
        Carp::croak("Cache::Memcached::Mcfast: namespace '$ns': "
            . "a namespace is part of every key: no space or control character, under 250 bytes");
    }
}

sub CLONE {
    # Like Cache::Memcached::Fast: every object gets a fresh, unconnected
    # client in the new thread (the C client is never shared), built from
    # its constructor arguments, with its current namespace.
    my $class = shift;
    for my $ctx (delete @INSTANCES{ keys %INSTANCES }) {
        my ($self, $conf) = @$ctx;
        next unless $self;
        $conf->{namespace} = $self->namespace;
        my $fresh = _build(ref $self, $conf);
        CORE::delete $INSTANCES{$$fresh};
        $$self = $$fresh;
        $$fresh = 0;    # not freed by its DESTROY
        $INSTANCES{$$self} = [$self, $conf];
        Scalar::Util::weaken($INSTANCES{$$self}[0]);
    }
}

sub DESTROY {
    my ($self) = @_;
    return unless $$self;
    CORE::delete $INSTANCES{$$self};
    # Frees the C client, which first waits for outstanding noreply
    # requests, as Cache::Memcached::Fast does.
    _destroy($self);
}

# ------------------------------------------------------------------ errors

sub last_error {
    my ($self) = @_;
    my ($rc, $msg) = $self->_error;
    return unless $rc;
    return $msg unless wantarray;
    return (Scalar::Util::dualvar($rc, $RC_NAME{$rc} // "MCF_$rc"), $msg);
}

sub last_error_code {
    my ($self) = @_;
    my ($rc) = $self->_error;
    return $rc ? Scalar::Util::dualvar($rc, $RC_NAME{$rc} // "MCF_$rc") : 0;
}

# ------------------------------------------------------------------ counters

sub server_stats {
    my ($self) = @_;
    my $all = _server_stats($self);
    for my $s (values %$all) {
        my $codes = $s->{by_code};
        $s->{by_code} = { map { ($RC_NAME{$_} // "MCF_$_") => $codes->{$_} } keys %$codes };
    }
    return $all;
}

1;

__END__

=encoding UTF-8

=head1 NAME

Cache::Memcached::Mcfast - Cache::Memcached::Fast's API on libmcfast: connects on every network and says why when it cannot

=head1 SYNOPSIS

    use Cache::Memcached::Mcfast;

    my $memd = Cache::Memcached::Mcfast->new({
        servers => [ '127.0.0.1:11211',             # works on an IPv6-only host too
                     '[::1]:11212',
                     { address => '/run/memcached.sock', weight => 2 },
                     [ 'cache3.example:11211', 1 ] ],
        namespace          => 'my:',
        connect_timeout    => 0.2,
        io_timeout         => 0.5,
        compress_threshold => 100_000,
        ketama_points      => 150,
        utf8               => 1,
    });

    $memd->set('ismemcached', '1')
        or die "Memcached is not responding: ", $memd->last_error, "\n";
    # Memcached is not responding: connect 127.0.0.1:11211: 127.0.0.1:11211 connection refused

    my $val  = $memd->get('skey');
    my $href = $memd->get_multi(qw(a b c));
    my ($code, $message) = $memd->last_error;    # after a failure

=head1 DESCRIPTION

A drop-in replacement for L<Cache::Memcached::Fast> 0.28: the same
constructor options with the same defaults and meanings, every method with
the same arguments and return values, the same bytes and flag bits on the
server (plain, Storable-serialised C<0x1>, compressed C<0x2>, utf8 C<0x4>)
and the same server for every key, in both hashing modes.  Replace the
module name and nothing else changes: values written by either module are
read by the other, and both can share a fleet.

The network work is done by B<libmcfast> (the C library of this
repository, linked statically), which fixes what Cache::Memcached::Fast
cannot do:

=over

=item It connects on an IPv6-only host.

On a host whose only IPv4 address is C<127.0.0.1> on loopback,
Cache::Memcached::Fast never connects to C<127.0.0.1:11211>: it resolves
every address with C<getaddrinfo(AI_ADDRCONFIG)>, and glibc then drops all
IPv4 results, even the literal (its upstream issue
JRaspass/Cache-Memcached-Fast#14).  This module parses IP literals itself,
answers C<localhost> locally with both C<::1> and C<127.0.0.1>, retries a
name without C<AI_ADDRCONFIG> when that flag filtered a family, and races a
name's addresses (Happy Eyeballs, RFC 8305), so a dead first address costs
the attempt delay, not a timeout.  The mirror case (C<::1> on an IPv4-only
host) works too.

=item All address forms.

C<host:port>, C<1.2.3.4:port>, C<[v6]:port> (Cache::Memcached::Fast hands
the brackets to the resolver and fails), C<[fe80::1%eth0]:port>,
Cache::Memcached::Fast's C<::1:port> (the text after the last colon is the
port), a bare IPv6 literal or a host without a port (port 11211), and unix
sockets (C</path/to.sock>, C<unix:/path>).

=item C<connect_timeout> also bounds unix sockets and the whole connect.

Cache::Memcached::Fast applies it to network connections only, per
C<connect()> call; a unix socket whose listen backlog is full blocks it
indefinitely.  Here one deadline covers resolving and every attempt of a
server, unix sockets included.

=item Errors say what happened.

Where Cache::Memcached::Fast returns a bare C<undef>, L</last_error> gives
the code and a message naming the server, each address tried and the
cause, e.g. C<connect mc:11211: [2001:db8::99]:11211 timed out after 125
ms; 127.0.0.1:11211 connection refused>.

=back

=head1 CONSTRUCTOR

=head2 new

    my $memd = Cache::Memcached::Mcfast->new(\%params);

Takes the parameters of L<Cache::Memcached::Fast/new>, with the same
defaults:

=over

=item servers

An array reference of addresses (see above); each is a string, a hash
C<< { address => $addr, weight => $w, noreply => $bool } >> or a pair
C<[$addr, $weight]>.  Weights default to 1 and must be positive; they may be
fractional (1.5), placing keys as Cache::Memcached::Fast does.  A server
given with C<< noreply => 1 >> is sent C<noreply> commands when a method is
called in void context.

=item namespace (''), hash_namespace (off)

A prefix for every key; with C<hash_namespace> it is hashed along with the
key when picking the server.

=item nowait (off)

Commands called in void context are sent without waiting for their reply
(as C<noreply> requests); L</nowait_push> waits until the servers have
processed them.

=item connect_timeout (0.25), io_timeout (1.0), select_timeout

Seconds, fractional.  C<select_timeout> is the old name of C<io_timeout>.
Zero means no timeout (an hour, the library's ceiling).  C<io_timeout> is
one deadline for a whole call, across all its servers.

=item close_on_error (on)

Accepted; see L</DIFFERENCES FROM Cache::Memcached::Fast>.

=item compress_threshold (-1, off), compress_ratio (0.8), compress_methods

Values of at least C<compress_threshold> bytes are compressed with the
first method of C<compress_methods> and stored with flag C<0x2> when the
result is at most C<compress_ratio> of the original.  The default methods
are Cache::Memcached::Fast's: C<Compress::Zlib::memGzip> and
C<memGunzip>.  Values flagged C<0x2> are always decompressed on reads.

=item max_failures (0, off), failure_timeout (10)

A server that failed C<max_failures> times within C<failure_timeout>
seconds is skipped for C<failure_timeout> seconds.

=item failure_limit (0, off)

An extension of this module: with C<max_failures> unset, a server that
failed C<failure_limit> times in a row is skipped (its keys fail at once,
C<MCF_ERR_SERVER_DOWN>) while libmcfast probes it in the background, first
after about a second, then after waits doubling up to 30 seconds
(libmcfast's docs/failures.md).  Off by default, as Cache::Memcached::Fast
never skips a server unless asked to.

=item dns_ttl (-1: the DNS answer's own TTL)

An extension of this module: how often, in seconds, a live connection's
host name is looked up again so that a server that moved is followed
without a restart (libmcfast's C<MCF_OPT_DNS_TTL_MS>).  -1 uses the DNS
answer's TTL (kept between 1 s and 5 min), 0 never looks again.  IP
literals and unix sockets are never looked up.

=item latency (0, off)

An extension of this module: when true, each request's latency is
recorded for C<server_stats> (a clock read per reply, about 3 % of a
single get's instructions in the C library).

=item on_event (undef)

An extension of this module: a code reference called as
C<< $cb->($event, $server) >> when a server is marked down
(C<server_down>, with C<failure_limit> or C<max_failures>), answers again
(C<server_up>), has its keys sent elsewhere (C<failover>) or gets a new
connection after an earlier one (C<reconnect>).  It runs in the middle of
a method: it may log, but not call a method of this object (that croaks);
if it dies, the error is only warned about.

=item ketama_points (0, off)

When positive, keys are spread with Cache::Memcached::Fast's CRC-32 ketama
continuum, C<round(ketama_points * weight)> points per server (libmcfast's
C<MCF_DIST_KETAMA_CMF>); otherwise with Cache::Memcached's modula hash
(C<MCF_DIST_MODULA>).  Either way every key goes to the same server as with
Cache::Memcached::Fast.

=item serialize_methods ([\&Storable::nfreeze, \&Storable::thaw])

References are stored serialised with flag C<0x1>.  A value that does not
deserialise is reported as a miss.

=item utf8 (off)

Character strings are stored UTF-8 encoded with flag C<0x4> and decoded on
reads.  Without it, a string with characters above 255 dies ("Wide
character"), as in Cache::Memcached::Fast.

=item tls (off)

TLS to the servers (an addition: Cache::Memcached::Fast has no TLS).
C<< tls => 1 >> turns it on for every TCP server, verified against the
system's trust store; a hash sets the details:

    tls => {
        ca_file     => '/etc/mc/ca.pem',   # or ca_path => $dir; default: system CAs
        cert_file   => '/etc/mc/client.pem', # mutual TLS (memcached ssl_verify_mode=2)
        key_file    => '/etc/mc/client.key', # default: in cert_file
        server_name => 'cache.example',    # verified (and sent as SNI) instead of each host
        min_version => '1.2',              # or '1.3'
        ciphers     => '...', ciphersuites => '...',  # OpenSSL syntax
        verify      => 1,                  # 0: no certificate check (testing only)
        all_servers => 1,                  # 0: only the "tls:host:port" servers
    }

A server written C<tls:host:port> (or C<tls:[v6]:port>) is reached over TLS
in any case, so a fleet may mix TLS and plaintext servers.  An IP address is
verified against the certificate's IP addresses.  A bad file or option dies
here; a certificate that does not verify fails the calls on that server,
with the reason in L</last_error>.

=item max_size (1048576)

A value longer than this (after serialisation and compression) is not
sent; the method returns C<undef>.

=item check_args

Unless C<'skip'>, unknown parameters are reported with a warning.

=back

A malformed server address or namespace dies here.

=head1 METHODS

Exactly those of L<Cache::Memcached::Fast>, with its return conventions:
true for a positive server reply, false (C<''>) for a negative one, C<undef>
(or an empty list in list context) on an error; C<incr>/C<decr> return the
new value, and a zero as C<"0E0">; the C<_multi> forms return a list of
results in list context and a hash reference keyed by key in scalar
context (in list context the list ends at the last item that got a
result, as in Cache::Memcached::Fast); a write called in void context is
sent as C<noreply> when C<nowait> or the server's C<noreply> is set.

Bad arguments are handled as Cache::Memcached::Fast 0.28 handles them,
checked side by side with it (F<t/06-badargs.t>): a non-array item of a
C<_multi> call dies C<Not an array reference>, and a missing or undefined
key, value or cas inside one dies C<undefined value passed to av_fetch>,
before anything is sent (so a C<set_multi> with one malformed item stores
none of them); an undefined key or value warns C<Use of uninitialized value
in subroutine entry> (under the caller's C<use warnings>), a non-numeric
exptime, cas or delta warns C<isn't numeric>, a reference used as a key is
its string (C<ARRAY(0x...)>); the messages carry the caller's file and line.
Every method is an XSUB, as there, so nothing of this module stands
between.

=over

=item set, add, replace, append, prepend ($key, $value, $exptime)

=item cas ($key, $cas, $value, $exptime)

=item set_multi, add_multi, replace_multi, append_multi, prepend_multi ([$key, $value, $exptime], ...)

=item cas_multi ([$key, $cas, $value, $exptime], ...)

=item get ($key), gets ($key) - value, or [$cas, $value]

=item gat ($exptime, $key), gats ($exptime, $key)

=item get_multi (@keys), gets_multi (@keys), gat_multi ($exptime, @keys), gats_multi ($exptime, @keys) - a hash reference

=item incr, decr ($key, $delta)

=item incr_multi, decr_multi (@keys, [$key, $delta], ...)

=item delete, remove ($key)

=item delete_multi (@keys)

=item touch ($key, $exptime)

=item touch_multi ([$key, $exptime], ...)

=item flush_all ($delay) - { $server => 1 } for each server that flushed

=item server_versions - { $server => $version }

=item nowait_push

=item namespace ($new) - returns the previous namespace

=item enable_compress ($bool)

=item disconnect_all - closes every connection; not needed after fork

After C<fork>, each process's next call notices it and the child opens
connections of its own, closing the inherited ones without a word on them
(they stay the parent's).  A child that exits, or drops the object, never
disturbs the parent.

=back

=head2 server_stats

    my $stats = $memd->server_stats;
    # { '10.0.0.1:11211' => { requests => 1200, hits => 800, misses => 350,
    #     errors => 50, by_code => { MCF_OK => 800, MCF_MISS => 350,
    #     MCF_ERR_TIMEOUT => 50 }, timeouts => 2, connects => 3,
    #     reconnects => 2, down => 0, failures => 0, downs => 1,
    #     latency_count => 1150, latency_p50_us => 95, latency_p99_us => 410,
    #     latency_max_us => 1020, latency_mean_us => 120.5 }, ... }

What this client did with each server, keyed by the address as given
(libmcfast's C<mcf_server_stats>): every key of every command is one
request with one result code (C<by_code>, named as C<last_error_code>
names them); C<hits> and C<misses> are those of the gets; C<timeouts>
counts deadlines that passed on the server, C<connects> the connections
opened, C<reconnects> those after the first.  C<down>, C<failures> and
C<downs> are its health (C<failure_limit>).  The C<latency_*> figures are
kept only with the C<latency> option: one per server per call (a
C<get_multi> of 100 keys on one server is one), in microseconds, the
quantiles read from a histogram whose buckets are at most 1/8 of their
value wide.  C<stats_reset> sets them all back to zero.

=head2 stats_reset

    $memd->stats_reset;

=head2 last_error

    my $message = $memd->last_error;
    my ($code, $message) = $memd->last_error;

The error of the last method call, or nothing when it had none (a miss or
a negative reply is not an error).  The message names the server, the
address and the cause:

    connect 127.0.0.1:11211: 127.0.0.1:11211 connection refused
    server [::1]:11212: no complete reply within the 1000 ms I/O timeout
    connect /run/mc.sock: /run/mc.sock timed out after 250 ms (listen backlog full)
    key 'big': value of 2097152 bytes is over max_size (1048576 bytes); nothing was sent

C<$code> is a dualvar: its number is libmcfast's code (C<MCF_ERR_CONNECT>,
C<MCF_ERR_TIMEOUT>, C<MCF_ERR_RESOLVE>, C<MCF_ERR_IO>, C<MCF_ERR_SERVER>,
C<MCF_ERR_CLIENT>, C<MCF_ERR_SERVER_DOWN>, C<MCF_ERR_BAD_KEY>,
C<MCF_ERR_TOO_LARGE>, C<MCF_ERR_NO_SERVERS>, ...), its string that name.
The constants can be imported:

    use Cache::Memcached::Mcfast qw(MCF_ERR_TIMEOUT);
    my ($code) = $memd->last_error;
    retry() if $code == MCF_ERR_TIMEOUT;

Every method sets it: cleared when the method starts, so after a call
that succeeded it is empty.  For a call on many keys or servers (the
C<_multi> forms, C<flush_all>, C<server_versions>, C<nowait_push>) it is
the first error met, followed by every server that failed, how, and for
how many keys:

    connect 10.0.0.2:11211: 10.0.0.2:11211 connection refused [16 of 30 keys
    failed: 10.0.0.2:11211 connection refused or unreachable (9); 10.0.0.3:11211
    no reply within the I/O timeout (7)]

Keys refused before anything was sent (a bad key, a value over
C<max_size>) are counted apart.  A method that dies on bad arguments
leaves C<MCF_ERR_ARG> and the same message.  C<last_error_code> returns the
code alone (0 when none); C<Cache::Memcached::Mcfast::strerror($code)>
names a code in English.

=head1 DIFFERENCES FROM Cache::Memcached::Fast

Besides the fixes above, these behaviours differ, and why:

=over

=item *

B<Keys are checked before sending>: an empty key, a key over 250 bytes
(namespace included) or with a space or control character gives C<undef>
without a round trip (Cache::Memcached::Fast sends it and gets an error
reply, or a wrong answer).  An empty key is rejected even with a
namespace, where Cache::Memcached::Fast would store under the namespace
itself (and a C<get_multi> asks the server for the namespace's own key).
A namespace with such characters dies in C<new> and C<namespace>.

=item *

B<Missing arguments> (C<< $memd->set('k') >>, C<< $memd->get() >>) are taken as
C<undef>, with its warning.  Cache::Memcached::Fast reads past the end of
its argument list there and uses whatever Perl's stack holds (in the
side-by-side test C<set('k')> stored a stale string left there by earlier
code, and C<set()> stored a key nobody named): nothing one can rely on.

=item *

B<gat's exptime> (C<gat>, C<gats>, C<gat_multi>, C<gats_multi>) that is not
an integer memcached takes (C<'abc'>, C<1.5>, C<''>) gets nothing sent and a
miss (C<last_error>: C<MCF_ERR_ARG>); Cache::Memcached::Fast sends its text
and the server refuses the command, with the same result.

=item *

B<An empty or undefined server address> takes its place in the list (so
every key maps to the same server as in Cache::Memcached::Fast) as a path
that cannot be connected to, F</dev/null/empty-address>, which
C<last_error> names; Cache::Memcached::Fast keeps an empty host that never
connects either.

=item *

B<close_on_error> is accepted and has no effect: libmcfast closes a
connection whenever its stream may be out of step (an unexpected or
malformed reply, a CLIENT_ERROR to a storage command, a timeout) and keeps
it after a well-formed error reply such as C<SERVER_ERROR out of memory>
or a CLIENT_ERROR to C<incr> on a non-number.

=item *

B<connect_timeout> covers the whole connect of a server (resolving and
every address), not each C<connect()> call; the Happy Eyeballs attempt
delay is half of it, at most 250 ms.  C<0> (no timeout) is one hour.

=item *

B<nowait> uses memcached's C<noreply>: outstanding replies are not read
later, so an error of a nowait command is not seen (it was not reported
by Cache::Memcached::Fast either).  C<nowait_push> waits with a C<version>
request per connected server.

=item *

B<server_versions> asks the servers one after the other, not in parallel.

=item *

B<Weights totalling under 0.5> (C<0.1> and C<0.2>) without ketama leave no
bucket: every key method fails (C<undef>, C<last_error> says why);
Cache::Memcached::Fast divides by zero there and the process dies (SIGFPE).

=item *

B<A host without a port> (C<'cache1'>) means port 11211.

=item *

B<Threads> get a fresh client built from the constructor arguments, as in
Cache::Memcached::Fast, but with the current namespace.

=item *

B<last_error>, B<last_error_code>, B<server_stats>, B<stats_reset>, the
C<failure_limit> option (libmcfast's healing, off unless asked for), the
C<latency> and C<on_event> options and the C<MCF_*> constants are
additions.

=back

=head1 INSTALLATION

Install libmcfast first (C<make install> in the mcfast tree, which also
installs this module when perl is present; C<make install-perl> installs the
module alone).  C<perl Makefile.PL && make && make test && make install>
then finds the installed C<libmcfast_pic.a> and C<mcfast.h> with
C<pkg-config mcfast> (set C<PKG_CONFIG_PATH> for a non-standard prefix), or
takes C<MCFAST_LIB=DIR>, C<MCFAST_INC=DIR> or C<MCFAST_ROOT=DIR> (a source
tree) as arguments or from the environment.  The library is linked
statically: the installed module needs no libmcfast at run time.

=head1 SEE ALSO

L<Cache::Memcached::Fast>, F<include/mcfast.h> (libmcfast's C API),
F<README.md> of the mcfast repository.

=head1 LICENSE

Same terms as the mcfast library it binds.

=cut
