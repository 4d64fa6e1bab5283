#!/usr/bin/perl
# The module loads, has every public method of Cache::Memcached::Fast, and
# exports the library's constants.
use strict;
use warnings;
use Test::More;
use FindBin;

use_ok('Cache::Memcached::Mcfast', ':all');
like($Cache::Memcached::Mcfast::VERSION, qr/^\d+\.\d+/, 'version');
like(Cache::Memcached::Mcfast::library_version(), qr/^\d+\.\d+\.\d+$/, 'libmcfast version');
is(MCF_OK(), 0, 'MCF_OK');
ok(MCF_ERR_CONNECT() >= MCF_ERR_FIRST(), 'error codes from MCF_ERR_FIRST on');
is(MCF_FLAG_COMPRESSED(), 2, 'compression flag is 0x2');

# Every distribution, hash, option and protocol constant of the C library's
# header is exported (read from the source tree; absent in a dist tarball).
SKIP: {
    my $h = "$FindBin::Bin/../../include/mcfast.h";
    skip 'no mcfast.h in reach (built from the tarball)', 1 unless -r $h;
    open my $fh, '<', $h or die "$h: $!";
    my %names = map { $_ => 1 } join('', <$fh>) =~ /\b(MCF_(?:DIST|HASH|OPT|PROTO)_[A-Z0-9_]+)\b/g;
    my @missing = grep { !Cache::Memcached::Mcfast->can($_) } sort keys %names;
    is_deeply(\@missing, [], 'every MCF_DIST_/MCF_HASH_/MCF_OPT_/MCF_PROTO_ constant exported')
        or diag("missing: @missing");
}

my @methods = qw(new set add replace append prepend cas set_multi add_multi replace_multi
                 append_multi prepend_multi cas_multi get gets gat gats get_multi gets_multi
                 gat_multi gats_multi incr decr incr_multi decr_multi delete remove delete_multi
                 touch touch_multi flush_all nowait_push server_versions namespace
                 enable_compress disconnect_all last_error last_error_code);
can_ok('Cache::Memcached::Mcfast', @methods);

SKIP: {
    skip 'Cache::Memcached::Fast is not installed', 1
        unless eval { require Cache::Memcached::Fast; 1 };
    no strict 'refs';
    # Its own subs, not those it imported (Storable's store and retrieve).
    my @public = grep { /^[a-z]/ && defined &{"Cache::Memcached::Fast::$_"}
                        && !(defined &{"Storable::$_"} && \&{"Storable::$_"} == \&{"Cache::Memcached::Fast::$_"}) }
                 keys %Cache::Memcached::Fast::;
    my @missing = grep { !Cache::Memcached::Mcfast->can($_) } sort @public;
    is_deeply(\@missing, [], 'every public sub of Cache::Memcached::Fast exists')
        or diag("missing: @missing");
}

SKIP: {
    skip 'Test::Pod is not installed', 1 unless eval { require Test::Pod; 1 };
    Test::Pod::pod_file_ok($INC{'Cache/Memcached/Mcfast.pm'}, 'POD is well-formed');
}

done_testing();
