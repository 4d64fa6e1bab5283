package Cache::Memcached::Mcfast;

# The Perl half of the binding: Cache::Memcached::Fast's API and value
# format on top of the thin XS handle (Cache::Memcached::Mcfast::Client,
# Mcfast.xs), which maps 1:1 onto libmcfast's C API.  Serialisation
# (Storable, flag 0x1), compression (flag 0x2) and utf8 (flag 0x4) are done
# here, the way Cache::Memcached::Fast 0.28 does them, so values and flag
# bits are the same byte for byte; the C client's own compression is off.

use strict;
use warnings;

use Carp ();
use Compress::Zlib ();
use Scalar::Util ();
use Socket ();
use Storable ();
use XSLoader;

our $VERSION;
my %CONST;
BEGIN {
    $VERSION = '0.01';
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
    compress_threshold connect_timeout failure_timeout hash_namespace
    io_timeout ketama_points max_failures max_size namespace nowait
    select_timeout serialize_methods servers tls utf8
);

# Cache::Memcached::Fast 0.28's defaults (its Fast.pm).
my @DEFAULT_COMPRESS = (
    sub { ${ $_[1] } = Compress::Zlib::memGzip(${ $_[0] }) },
    sub { ${ $_[1] } = Compress::Zlib::memGunzip(${ $_[0] }) },
);
my @DEFAULT_SERIALIZE = (\&Storable::nfreeze, \&Storable::thaw);

use constant {
    F_STORABLE => 0x1,
    F_COMPRESS => 0x2,
    F_UTF8     => 0x4,
    # The largest value the C client will read back.  Cache::Memcached::Fast
    # applies max_size to stores only, so reads must not be limited by it.
    READ_LIMIT => 1 << 30,
    MAX_TIMEOUT_MS => 3_600_000,    # the C library's ceiling; "0 disables"
};

my %INSTANCES;    # refaddr => weakened object, to rebuild clients in new threads

# ------------------------------------------------------------------ new

sub new {
    my ($class, $conf) = @_;
    $conf //= {};
    Carp::croak('Not a hash reference') unless ref $conf eq 'HASH';

    unless (lc($conf->{check_args} // '') eq 'skip') {
        Carp::carp('compress_algo was removed in 0.08, use compress_methods')
            if exists $conf->{compress_algo};
        if (my @unknown = grep { !$KNOWN_ARGS{$_} } sort keys %$conf) {
            local $" = ', ';
            Carp::carp("Unknown arguments: @unknown");
        }
    }

    my $self = bless { conf => {%$conf} }, $class;
    $self->_init;
    _register($self);
    return $self;
}

sub _register {
    my ($self) = @_;
    my $id = Scalar::Util::refaddr($self);
    $INSTANCES{$id} = $self;
    Scalar::Util::weaken($INSTANCES{$id});
}

# Builds the C client from $self->{conf}.  Also called in a new thread.
sub _init {
    my ($self) = @_;
    my $conf = $self->{conf};
    my $c = $self->{c} = Cache::Memcached::Mcfast::Client->new;

    my $ketama = $conf->{ketama_points};
    if (defined $ketama && int($ketama) > 0) {
        _opt($self, MCF_OPT_DISTRIBUTION, MCF_DIST_KETAMA_CMF, 'ketama_points');
        _opt($self, MCF_OPT_KETAMA_POINTS, int($ketama), 'ketama_points');
    }
    _opt($self, MCF_OPT_HASH_NAMESPACE, $conf->{hash_namespace} ? 1 : 0, 'hash_namespace')
        if defined $conf->{hash_namespace};

    my (@servers, @noreply);
    if (defined(my $list = $conf->{servers})) {
        Carp::croak('Not an array reference') unless ref $list eq 'ARRAY';
        for my $entry (@$list) {
            my ($addr, $weight, $noreply) = _parse_server($entry);
            push @servers, $addr;
            push @noreply, $noreply ? 1 : 0;
            my $rc = $c->add_server(_spec($addr), _weight($addr, $weight));
            Carp::croak("Cache::Memcached::Mcfast: server '$addr': " . ($c->last_error)[1])
                if $rc;
        }
    }
    $self->{servers}     = \@servers;
    $self->{srv_noreply} = \@noreply;
    $self->{any_noreply} = grep({$_} @noreply) ? 1 : 0;
    $self->{all_noreply} = (@noreply && !grep { !$_ } @noreply) ? 1 : 0;

    $self->{ns} = '';
    _set_namespace($self, $conf->{namespace}) if defined $conf->{namespace};
    _set_tls($self, $conf->{tls}) if defined $conf->{tls};

    my $connect_ms = _ms($conf->{connect_timeout} // 0.25);
    _opt($self, MCF_OPT_CONNECT_TIMEOUT_MS, $connect_ms, 'connect_timeout');
    # mcfast's connect_timeout covers every address of a server (Happy
    # Eyeballs), so the next address must start well within it.
    my $delay = int($connect_ms / 2);
    $delay = 250 if $delay > 250;
    $delay = 10  if $delay < 10;
    _opt($self, MCF_OPT_ATTEMPT_DELAY_MS, $delay, 'connect_timeout');
    my $io = $conf->{io_timeout} // 1.0;
    $io = $conf->{select_timeout} if defined $conf->{select_timeout};
    _opt($self, MCF_OPT_IO_TIMEOUT_MS, _ms($io), 'io_timeout');
    _opt($self, MCF_OPT_MAX_FAILURES, int($conf->{max_failures}), 'max_failures')
        if defined $conf->{max_failures};
    _opt($self, MCF_OPT_FAILURE_TIMEOUT_S, int($conf->{failure_timeout}), 'failure_timeout')
        if defined $conf->{failure_timeout};

    $self->{close_on_error} = $conf->{close_on_error} // 1;    # see "DIFFERENCES"
    $self->{nowait}   = $conf->{nowait} ? 1 : 0;
    $self->{pending}  = 0;    # noreply requests sent since the last nowait_push
    $self->{max_size} = $conf->{max_size} // 1024 * 1024;
    my $read = $self->{max_size} > READ_LIMIT ? $self->{max_size} : READ_LIMIT;
    $read = 1 << 32 if $read > 1 << 32;
    _opt($self, MCF_OPT_MAX_VALUE_SIZE, int($read), 'max_size');

    $self->{cthr}   = $conf->{compress_threshold} // -1;
    $self->{cratio} = $conf->{compress_ratio} // 0.8;
    my $cm = $conf->{compress_methods} // \@DEFAULT_COMPRESS;
    @$self{qw(comp decomp)} = @$cm[0, 1];
    my $sm = $conf->{serialize_methods} // \@DEFAULT_SERIALIZE;
    @$self{qw(ser deser)} = @$sm[0, 1];
    Carp::croak('Serialize method is not specified')   unless $self->{ser};
    Carp::croak('Deserialize method is not specified') unless $self->{deser};
    $self->{utf8} = $conf->{utf8} ? 1 : 0;
    # Flag bits that need Perl's attention when a value is read.
    $self->{mask} = F_STORABLE | F_COMPRESS | ($self->{utf8} ? F_UTF8 : 0);
    return;
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
    my $rc = $self->{c}->set_tls(\%o);
    Carp::croak("Cache::Memcached::Mcfast: tls: " . ($self->{c}->last_error)[1]) if $rc;
}

sub _opt {
    my ($self, $opt, $value, $name) = @_;
    my $rc = $self->{c}->set_option($opt, $value);
    Carp::croak("Cache::Memcached::Mcfast: $name: " . ($self->{c}->last_error)[1]) if $rc;
}

# Seconds (fractional) to milliseconds; 0 means no timeout in
# Cache::Memcached::Fast, which here is the library's ceiling of one hour.
sub _ms {
    my ($s) = @_;
    return MAX_TIMEOUT_MS if $s <= 0;
    my $ms = int($s * 1000 + 0.5);
    return $ms < 1 ? 1 : $ms > MAX_TIMEOUT_MS ? MAX_TIMEOUT_MS : $ms;
}

sub _parse_server {
    my ($s) = @_;
    return ($s, 1, 0) unless ref $s;
    if (ref $s eq 'HASH') {
        Carp::croak('server should have { address => $addr }') unless exists $s->{address};
        return ($s->{address}, $s->{weight} // 1, $s->{noreply});
    }
    if (ref $s eq 'ARRAY') {
        Carp::croak('server should be [$addr, $weight]') unless @$s;
        return ($s->[0], $s->[1] // 1, 0);
    }
    Carp::croak('Not a hash or array reference');
}

sub _weight {
    my ($addr, $w) = @_;
    Carp::croak('Server weight should be positive') unless $w > 0;
    return $w if $w == int($w);
    # mcfast weights are integers (see DIFFERENCES).
    my $r = int($w + 0.5) || 1;
    Carp::carp("Cache::Memcached::Mcfast: server '$addr': weight $w rounded to $r");
    return $r;
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
    $addr = "$addr";
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

sub _set_namespace {
    my ($self, $ns) = @_;
    $ns = '' unless defined $ns;
    if ($self->{c}->set_namespace($ns)) {
        Carp::croak("Cache::Memcached::Mcfast: namespace '$ns': "
            . "a namespace is part of every key: no space or control character, under 250 bytes");
    }
    $self->{ns} = "$ns";
}

sub CLONE {
    # Like Cache::Memcached::Fast: every object gets a fresh, unconnected
    # client in the new thread (the C client is never shared).
    my @objs = grep {defined} values %INSTANCES;
    %INSTANCES = ();
    for my $self (@objs) {
        $self->{conf}{namespace} = $self->{ns};
        $self->_init;
        _register($self);
    }
}

sub DESTROY {
    my ($self) = @_;
    CORE::delete $INSTANCES{ Scalar::Util::refaddr($self) };
    # The handle's DESTROY frees the C client, which first waits for
    # outstanding noreply requests, as Cache::Memcached::Fast does.
}

# ------------------------------------------------------------------ values

# Cache::Memcached::Fast's serialize() then compress(): returns the bytes
# and the flags.  Dies on a wide character without utf8 => 1, as CMF does.
sub _encode {
    my ($self, $v) = @_;
    my $flags = 0;
    if (ref $v) {
        $v = $self->{ser}->($v);
        $flags = F_STORABLE;
    } elsif (!defined $v) {
        warnings::warnif('uninitialized', 'Use of uninitialized value in subroutine entry');
        $v = '';
    } elsif (utf8::is_utf8($v)) {
        if ($self->{utf8}) {
            utf8::encode($v);
            $flags = F_UTF8;
        } else {
            utf8::downgrade($v, 1) or Carp::croak('Wide character in subroutine entry');
        }
    }
    my $thr = $self->{cthr};
    if ($thr > 0 && length($v) >= $thr) {
        my $z;
        if ($self->{comp}->(\$v, \$z) && length($z) <= length($v) * $self->{cratio}) {
            $v = $z;
            $flags |= F_COMPRESS;
        }
    }
    return ($v, $flags);
}

# CMF's decompress() then deserialize().  False (and last_error set) when
# the value cannot be decoded: the caller then reports a miss, as CMF does.
sub _decode {
    my ($self, $ref, $flags, $key) = @_;
    if ($flags & F_COMPRESS) {
        my $out;
        unless ($self->{decomp}->($ref, \$out)) {
            $self->{c}->set_error(MCF_ERR_COMPRESS,
                "key '$key': value flagged compressed (0x2) did not decompress; reported as a miss");
            return 0;
        }
        $$ref = $out;
    }
    if ($flags & F_STORABLE) {
        local $@;
        my $r = eval { $self->{deser}->($$ref) };
        if ($@) {
            (my $why = $@) =~ s/\s+\z//;
            $self->{c}->set_error(MCF_ERR_PROTOCOL,
                "key '$key': value flagged serialised (0x1) did not deserialise ($why); reported as a miss");
            return 0;
        }
        $$ref = $r;
    } elsif ($flags & F_UTF8 && $self->{utf8}) {
        unless (utf8::decode($$ref)) {
            $self->{c}->set_error(MCF_ERR_PROTOCOL,
                "key '$key': value flagged utf8 (0x4) is not valid UTF-8; reported as a miss");
            return 0;
        }
    }
    return 1;
}

sub _too_large {
    my ($self, $key, $len) = @_;
    $self->{c}->set_error(MCF_ERR_TOO_LARGE,
        "key '$key': value of $len bytes is over max_size ($self->{max_size} bytes); nothing was sent");
}

# ------------------------------------------------------------------ noreply

# Call flags for a write made in void context: noreply where
# Cache::Memcached::Fast would not wait either (nowait => 1, or the key's
# server was given with noreply => 1).
sub _void_flags {
    my ($self, $key) = @_;
    my $nr;
    if ($self->{nowait} || $self->{all_noreply}) {
        $nr = 1;
    } elsif ($self->{any_noreply}) {
        my $s = $self->{c}->server_for_key($key);
        $nr = defined $s && $self->{srv_noreply}[$s];
    }
    return 0 unless $nr;
    $self->{pending} = 1;
    return MCF_CALL_NOREPLY;
}

# mcf_multi over parallel arrays (keys, values, flags, exptimes, cas,
# deltas).  Returns (\@rc, \@numbers) unless in void context.
sub _multi {
    my ($self, $op, $want, @arrays) = @_;
    my $c = $self->{c};
    if (defined $want) {
        my (@rc, @num);
        my $arith = $op == MCF_OP_INCR || $op == MCF_OP_DECR;
        $c->multi($op, 0, @arrays, \@rc, $arith ? \@num : undef);
        return (\@rc, \@num);
    }
    if ($self->{nowait} || $self->{all_noreply}) {
        $self->{pending} = 1;
        $c->multi($op, MCF_CALL_NOREPLY, @arrays, undef, undef);
        return;
    }
    unless ($self->{any_noreply}) {
        $c->multi($op, 0, @arrays, undef, undef);
        return;
    }
    # Some servers noreply, some not: one call for each group.
    my (@nr, @wr);
    my $keys = $arrays[0];
    for my $j (0 .. $#$keys) {
        my $s = $c->server_for_key($keys->[$j]);
        if (defined $s && $self->{srv_noreply}[$s]) { push @nr, $j } else { push @wr, $j }
    }
    my @err;
    for my $part ([\@nr, MCF_CALL_NOREPLY], [\@wr, 0]) {
        my ($sel, $cf) = @$part;
        next unless @$sel;
        $self->{pending} = 1 if $cf;
        $c->multi($op, $cf, (map { defined $_ ? [@{$_}[@$sel]] : undef } @arrays), undef, undef);
        @err = $c->last_error if !@err;
    }
    $c->set_error(@err) if @err;
    return;
}

# A multi call's results: a list in list context, a hash ref (defined
# results only) in scalar context.
sub _multi_return {
    my ($want, $keys, $res) = @_;
    return @$res if $want;
    my %h;
    for my $i (0 .. $#$res) {
        $h{ $keys->[$i] } = $res->[$i] if defined $res->[$i];
    }
    return \%h;
}

# ------------------------------------------------------------------ storage

for my $cmd ([set => MCF_SET], [add => MCF_ADD], [replace => MCF_REPLACE],
             [append => MCF_APPEND], [prepend => MCF_PREPEND])
{
    my ($name, $mode) = @$cmd;
    my $single = sub {
        my ($self, $key, $value, $exptime) = @_;
        my ($bytes, $flags) = _encode($self, $value);
        return _too_large($self, $key, length $bytes) if length($bytes) > $self->{max_size};
        my $void = !defined wantarray;
        my $rc = $self->{c}->store($mode, $key, $bytes, $flags, $exptime, undef,
            $void ? _void_flags($self, $key) : 0);
        return if $void;
        return $rc == 0 ? 1 : $rc < MCF_ERR_FIRST ? '' : ();
    };
    my $multi = sub {
        my $self = shift;
        return _store_multi($self, $mode, wantarray, \@_);
    };
    no strict 'refs';
    *{$name} = $single;
    *{"${name}_multi"} = $multi;
}

sub cas {
    my ($self, $key, $cas, $value, $exptime) = @_;
    my ($bytes, $flags) = _encode($self, $value);
    return _too_large($self, $key, length $bytes) if length($bytes) > $self->{max_size};
    my $void = !defined wantarray;
    my $rc = $self->{c}->store(MCF_CAS, $key, $bytes, $flags, $exptime, $cas,
        $void ? _void_flags($self, $key) : 0);
    return if $void;
    return $rc == 0 ? 1 : $rc < MCF_ERR_FIRST ? '' : ();
}

sub cas_multi {
    my $self = shift;
    return _store_multi($self, MCF_CAS, wantarray, \@_);
}

sub _store_multi {
    my ($self, $mode, $want, $items) = @_;
    my $has_cas = $mode == MCF_CAS;
    my (@k, @v, @f, @e, @cas, @idx, @big);
    for my $i (0 .. $#$items) {
        my $a = $items->[$i];
        Carp::croak('Not an array reference') unless ref $a eq 'ARRAY';
        my ($key, $cas, $val, $exp) = $has_cas ? @$a[0 .. 3] : ($a->[0], undef, @$a[1, 2]);
        my ($bytes, $flags) = _encode($self, $val);
        if (length($bytes) > $self->{max_size}) {
            @big = ($key, length $bytes) unless @big;
            next;
        }
        push @k, $key;
        push @v, $bytes;
        push @f, $flags;
        push @e, $exp;
        push @cas, $cas if $has_cas;
        push @idx, $i;
    }
    my ($rc) = _multi($self, $mode, $want, \@k, \@v, \@f, \@e, $has_cas ? \@cas : undef, undef);
    _too_large($self, @big) if @big && !$self->{c}->last_error;
    return unless defined $want;
    my @res = (undef) x @$items;
    for my $j (0 .. $#idx) {
        my $r = $rc->[$j];
        $res[ $idx[$j] ] = $r == 0 ? 1 : $r < MCF_ERR_FIRST ? '' : undef;
    }
    return _multi_return($want, [map { $_->[0] } @$items], \@res);
}

# ------------------------------------------------------------------ retrieval

sub get {
    my ($self, $key) = @_;
    my ($v, $f) = $self->{c}->get(MCF_GET, undef, $key) or return;
    return $v unless $f & $self->{mask};
    return _decode($self, \$v, $f, $key) ? $v : ();
}

sub gets {
    my ($self, $key) = @_;
    my ($v, $f, $cas) = $self->{c}->get(MCF_GETS, undef, $key) or return;
    return [$cas, $v] unless $f & $self->{mask};
    return _decode($self, \$v, $f, $key) ? [$cas, $v] : ();
}

sub gat {
    my ($self, $exptime, $key) = @_;
    my ($v, $f) = $self->{c}->get(MCF_GAT, $exptime, $key) or return;
    return $v unless $f & $self->{mask};
    return _decode($self, \$v, $f, $key) ? $v : ();
}

sub gats {
    my ($self, $exptime, $key) = @_;
    my ($v, $f, $cas) = $self->{c}->get(MCF_GATS, $exptime, $key) or return;
    return [$cas, $v] unless $f & $self->{mask};
    return _decode($self, \$v, $f, $key) ? [$cas, $v] : ();
}

sub _get_multi {
    my ($self, $mode, $exptime, $keys) = @_;
    my (%h, @todo);
    my $want_cas = $mode == MCF_GETS || $mode == MCF_GATS;
    my $c = $self->{c};
    $c->get_multi($mode, $exptime, $keys, $want_cas, $self->{mask}, \%h, \@todo);
    if (@todo) {
        my @err = $c->last_error;
        my %done;
        while (my ($i, $f) = splice @todo, 0, 2) {
            my $key = $keys->[$i];
            next if $done{$key}++;
            my $ref = $want_cas ? \$h{$key}[1] : \$h{$key};
            CORE::delete $h{$key} unless _decode($self, $ref, $f, $key);
        }
        $c->set_error(@err) if @err;
    }
    return \%h;
}

sub get_multi  { my $self = shift; return _get_multi($self, MCF_GET,  undef, \@_) }
sub gets_multi { my $self = shift; return _get_multi($self, MCF_GETS, undef, \@_) }
sub gat_multi  { my $self = shift; my $e = shift; return _get_multi($self, MCF_GAT,  $e, \@_) }
sub gats_multi { my $self = shift; my $e = shift; return _get_multi($self, MCF_GATS, $e, \@_) }

# ------------------------------------------------------------------ arithmetic

sub incr { my $self = shift; return _arith($self, MCF_OP_INCR, wantarray, @_) }
sub decr { my $self = shift; return _arith($self, MCF_OP_DECR, wantarray, @_) }

sub _arith {
    my ($self, $op, $want, $key, $delta) = @_;
    my $void = !defined $want;
    my ($rc, $n) = $self->{c}->arith($op, $key, $delta, $void ? _void_flags($self, $key) : 0);
    return if $void;
    return $rc == 0 ? ($n eq '0' ? '0E0' : $n) : $rc < MCF_ERR_FIRST ? '' : ();
}

sub incr_multi { my $self = shift; return _arith_multi($self, MCF_OP_INCR, wantarray, \@_) }
sub decr_multi { my $self = shift; return _arith_multi($self, MCF_OP_DECR, wantarray, \@_) }

sub _arith_multi {
    my ($self, $op, $want, $items) = @_;
    my (@k, @d);
    for my $a (@$items) {
        if (!ref $a) {
            push @k, $a;
            push @d, undef;
        } else {
            Carp::croak('Not an array reference') unless ref $a eq 'ARRAY';
            push @k, $a->[0];
            push @d, $a->[1];
        }
    }
    my ($rc, $num) = _multi($self, $op, $want, \@k, undef, undef, undef, undef, \@d);
    return unless defined $want;
    my @res = map {
        my $r = $rc->[$_];
        $r == 0 ? ($num->[$_] eq '0' ? '0E0' : $num->[$_]) : $r < MCF_ERR_FIRST ? '' : undef
    } 0 .. $#k;
    return _multi_return($want, \@k, \@res);
}

# ------------------------------------------------------------------ delete, touch

sub delete {
    my ($self, $key, $delay) = @_;
    Carp::carp('non-zero delete expiration time is ignored') if $delay;
    my $void = !defined wantarray;
    my $rc = $self->{c}->delete($key, $void ? _void_flags($self, $key) : 0);
    return if $void;
    return $rc == 0 ? 1 : $rc < MCF_ERR_FIRST ? '' : ();
}

# Cache::Memcached's old name.
sub remove {
    my ($self, $key, $delay) = @_;
    Carp::carp('non-zero delete expiration time is ignored') if $delay;
    my $void = !defined wantarray;
    my $rc = $self->{c}->delete($key, $void ? _void_flags($self, $key) : 0);
    return if $void;
    return $rc == 0 ? 1 : $rc < MCF_ERR_FIRST ? '' : ();
}

sub delete_multi {
    my $self = shift;
    my $want = wantarray;
    my @k;
    for my $a (@_) {
        if (!ref $a) {
            push @k, $a;
        } else {
            Carp::croak('Not an array reference') unless ref $a eq 'ARRAY';
            Carp::carp('non-zero delete expiration time is ignored') if $a->[1];
            push @k, $a->[0];
        }
    }
    my ($rc) = _multi($self, MCF_OP_DELETE, $want, \@k, undef, undef, undef, undef, undef);
    return unless defined $want;
    my @res = map { $_ == 0 ? 1 : $_ < MCF_ERR_FIRST ? '' : undef } @$rc;
    return _multi_return($want, \@k, \@res);
}

sub touch {
    my ($self, $key, $exptime) = @_;
    my $void = !defined wantarray;
    my $rc = $self->{c}->touch($key, $exptime, $void ? _void_flags($self, $key) : 0);
    return if $void;
    return $rc == 0 ? 1 : $rc < MCF_ERR_FIRST ? '' : ();
}

sub touch_multi {
    my $self = shift;
    my $want = wantarray;
    my (@k, @e);
    for my $a (@_) {
        Carp::croak('Not an array reference') unless ref $a eq 'ARRAY';
        push @k, $a->[0];
        push @e, $a->[1];
    }
    my ($rc) = _multi($self, MCF_OP_TOUCH, $want, \@k, undef, undef, \@e, undef, undef);
    return unless defined $want;
    my @res = map { $_ == 0 ? 1 : $_ < MCF_ERR_FIRST ? '' : undef } @$rc;
    return _multi_return($want, \@k, \@res);
}

# ------------------------------------------------------------------ fleet

sub flush_all {
    my ($self, $delay) = @_;
    my $void = !defined wantarray;
    my $cf = 0;
    if ($void && ($self->{nowait} || $self->{all_noreply})) {
        $cf = MCF_CALL_NOREPLY;
        $self->{pending} = 1;
    }
    my $c = $self->{c};
    my $rc = $c->flush_all($delay, $cf);
    return if $void;
    my %h;
    my $servers = $self->{servers};
    for my $i (0 .. $#$servers) {
        # A server that failed has its connection closed by the library.
        my $ok = $rc == 0 || do { my $info = $c->server_info($i); $info && $info->{connected} };
        $h{ $servers->[$i] } = 1 if $ok;
    }
    return \%h;
}

sub server_versions {
    my ($self) = @_;
    my $c = $self->{c};
    my (%h, @err);
    my $servers = $self->{servers};
    for my $i (0 .. $#$servers) {
        my $v = $c->version($i);
        if (defined $v) {
            $h{ $servers->[$i] } = $v;
        } elsif (!@err) {
            @err = $c->last_error;
        }
    }
    $c->set_error(@err) if @err;
    return \%h;
}

sub nowait_push {
    my ($self) = @_;
    return unless $self->{pending};
    $self->{pending} = 0;
    # A reply to "version" means the server has processed everything sent
    # before it on that connection.
    my $c = $self->{c};
    for my $i (0 .. $c->server_count - 1) {
        my $info = $c->server_info($i);
        $c->version($i) if $info && $info->{connected};
    }
    return;
}

sub disconnect_all {
    my ($self) = @_;
    $self->{c}->disconnect_all;
    $self->{pending} = 0;
    return;
}

sub namespace {
    my $self = shift;
    my $old = $self->{ns};
    _set_namespace($self, $_[0]) if @_;
    return $old;
}

sub enable_compress {
    my ($self, $enable) = @_;
    $enable = $enable ? 1 : 0;
    if ($enable && !$self->{comp}) {
        warn "Compression module was not found, can't enable compression\n";
    } elsif (($self->{cthr} > 0 ? 1 : 0) != $enable) {
        $self->{cthr} = -$self->{cthr};
    }
    return;
}

# ------------------------------------------------------------------ errors

sub last_error {
    my ($self) = @_;
    my ($rc, $msg) = $self->{c}->last_error;
    return unless $rc;
    return $msg unless wantarray;
    return (Scalar::Util::dualvar($rc, $RC_NAME{$rc} // "MCF_$rc"), $msg);
}

sub last_error_code {
    my ($self) = @_;
    my ($rc) = $self->{c}->last_error;
    return $rc ? Scalar::Util::dualvar($rc, $RC_NAME{$rc} // "MCF_$rc") : 0;
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
C<[$addr, $weight]>.  Weights default to 1 and must be positive.  A server
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
context; a write called in void context is sent as C<noreply> when
C<nowait> or the server's C<noreply> is set.

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

For a multi-key call it is the first error met.  C<last_error_code>
returns the code alone (0 when none); C<Cache::Memcached::Mcfast::strerror($code)>
names a code in English.

=head1 DIFFERENCES FROM Cache::Memcached::Fast

Besides the fixes above, these behaviours differ, and why:

=over

=item *

B<Fractional weights> are rounded to an integer, with a warning: libmcfast
weights are integers.  Integer weights distribute exactly as in
Cache::Memcached::Fast (and Cache::Memcached).

=item *

B<flush_all with a delay> spreads the delay as libmcfast does: server I<i>
of I<n> flushes after C<delay - delay * i / n> seconds;
Cache::Memcached::Fast uses C<delay - delay * i / (n - 1)> (30, 15, 0 for
three servers instead of 30, 20, 10).

=item *

B<Keys are checked before sending>: an empty key, a key over 250 bytes
(namespace included) or with a space or control character gives C<undef>
without a round trip (Cache::Memcached::Fast sends it and gets an error
reply, or a wrong answer).  An empty key is rejected even with a
namespace, where Cache::Memcached::Fast would store under the namespace
itself.  A namespace with such characters dies in C<new> and C<namespace>.

=item *

B<_multi in list context> always returns one result per argument (C<undef>
for failures); Cache::Memcached::Fast drops trailing failures, and returns
an empty list when all failed.

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

B<A host without a port> (C<'cache1'>) means port 11211.

=item *

B<Threads> get a fresh client built from the constructor arguments, as in
Cache::Memcached::Fast, but with the current namespace.

=item *

B<last_error>, B<last_error_code> and the C<MCF_*> constants are additions.

=back

=head1 SEE ALSO

L<Cache::Memcached::Fast>, F<include/mcfast.h> (libmcfast's C API),
F<README.md> of the mcfast repository.

=head1 LICENSE

Same terms as the mcfast library it binds.

=cut
