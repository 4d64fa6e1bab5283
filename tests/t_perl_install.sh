#!/bin/bash
# t_perl_install.sh - installing the Perl binding the Perl way.
#   perl_install_prefix     `make install PREFIX=tmp` installs the library
#                           (libmcfast_pic.a, mcfast.pc) and, perl being
#                           present, the module under that prefix; the
#                           installed module loads from there and talks to
#                           a real memcached
#   perl_install_destdir    `make install-perl DESTDIR=tmp` stages the
#                           module under DESTDIR and nowhere else
#   perl_build_installed    perl/'s sources alone (no mcfast tree in reach)
#                           build against the installed library, found with
#                           pkg-config
#   perl_dist_tarball       `make dist` in perl/ gives a tarball that, alone,
#                           builds (pkg-config) and passes its own tests
#   perl_manifest           perl/MANIFEST lists every file git has in perl/
# Needs perl with ExtUtils::MakeMaker, pkg-config and memcached (else SKIP).
# run.sh: builds (make in the tree)
# run.sh: unsanitized (its builds ignore SANITIZE; see run.sh)
set -u
cd "$(dirname "$0")/.." || exit 1
ROOT=$(pwd)
CASES=(perl_install_prefix perl_install_destdir perl_build_installed perl_dist_tarball
       perl_manifest)
skip_all() {
    local c
    for c in "${CASES[@]}"; do echo "SKIP: $c: $1"; done
    exit 0
}
command -v perl >/dev/null && perl -MExtUtils::MakeMaker -e1 2>/dev/null ||
    skip_all "perl with ExtUtils::MakeMaker is not installed"
command -v pkg-config >/dev/null || skip_all "pkg-config is not installed"
command -v memcached >/dev/null || skip_all "memcached is not installed"

T=$(mktemp -d "${TMPDIR:-/tmp}/mcfast-perl-install.XXXXXX") || exit 1
[ -n "${KEEP_T:-}" ] || trap 'rm -rf "$T"' EXIT
snip() { tail -n 5 "$1" | tr '\n' '|'; }

# One set/get through the module perl finds with PERL5LIB=$1, against a
# memcached the test helpers start; prints where the module came from.
roundtrip() {
    PERL5LIB="$1" perl -I"$ROOT/perl/t/lib" -MMcTest -e '
        require Cache::Memcached::Mcfast;
        my $m = Cache::Memcached::Mcfast->new({ servers => [ start_server() ] });
        $m->set("k", "installed") or die "set failed: " . $m->last_error . "\n";
        my $v = $m->get("k") // "undef";
        die "get gave $v\n" unless $v eq "installed";
        print $INC{"Cache/Memcached/Mcfast.pm"}, "\n";'
}

# ---------------------------------------------------------------- prefix
P="$T/prefix"
# Installed without sanitizers whatever make check was given: perl is not
# built with them, so it cannot load an ASan-built module.
if make -s B="$T/b" SANITIZE= PREFIX="$P" install >"$T/install.log" 2>&1; then
    pm=$(find "$P" -name Mcfast.pm -path '*Cache/Memcached/*' | head -n 1)
    so=$(find "$P" -name Mcfast.so | head -n 1)
    libs=""
    for d in $(find "$P" -name Mcfast.pm -path '*Cache/Memcached/*' -printf '%h\n' | sed 's|/Cache/Memcached$||';
               find "$P" -name Mcfast.so -printf '%h\n' | sed 's|/auto/Cache/Memcached/Mcfast$||'); do
        libs="$libs${libs:+:}$d"
    done
    if [ ! -f "$P/lib/libmcfast_pic.a" ] || [ ! -f "$P/lib/pkgconfig/mcfast.pc" ]; then
        echo "FAIL: perl_install_prefix: no libmcfast_pic.a or mcfast.pc under $P/lib"
    elif [ -z "$pm" ] || [ -z "$so" ]; then
        echo "FAIL: perl_install_prefix: the module is not under $P: $(snip "$T/install.log")"
    elif ! from=$(roundtrip "$libs" 2>"$T/rt.err"); then
        echo "FAIL: perl_install_prefix: installed module: $(snip "$T/rt.err")"
    elif [ "${from#"$P"}" = "$from" ]; then
        echo "FAIL: perl_install_prefix: module loaded from $from, not from $P"
    else
        echo "PASS: perl_install_prefix"
    fi
else
    echo "FAIL: perl_install_prefix: make install: $(snip "$T/install.log")"
fi

# ---------------------------------------------------------------- DESTDIR
D="$T/stage"
if make -s SANITIZE= DESTDIR="$D" PREFIX=/usr/local install-perl >"$T/destdir.log" 2>&1; then
    pm=$(find "$D" -name Mcfast.pm -path "$D/usr/local/*" | head -n 1)
    outside=$(find "$D" -type f ! -path "$D/usr/local/*" | head -n 3)
    if [ -z "$pm" ]; then
        echo "FAIL: perl_install_destdir: no Mcfast.pm under $D/usr/local"
    elif [ -n "$outside" ]; then
        echo "FAIL: perl_install_destdir: files outside the prefix: $outside"
    else
        echo "PASS: perl_install_destdir"
    fi
else
    echo "FAIL: perl_install_destdir: $(snip "$T/destdir.log")"
fi

# ------------------------------------------------- build against installed
export PKG_CONFIG_PATH="$P/lib/pkgconfig"
mkdir -p "$T/src"
(cd perl && tar cf - $(cat MANIFEST)) | (cd "$T/src" && tar xf -)
if [ ! -f "$P/lib/pkgconfig/mcfast.pc" ]; then
    echo "SKIP: perl_build_installed: nothing installed (perl_install_prefix failed)"
elif (cd "$T/src" && perl Makefile.PL && make) >"$T/src.log" 2>&1; then
    if ! grep -q "libmcfast from $P/lib/libmcfast_pic.a (pkg-config)" "$T/src.log"; then
        echo "FAIL: perl_build_installed: did not use the installed library: $(grep -m1 'libmcfast from' "$T/src.log")"
    elif ! roundtrip "$T/src/blib/lib:$T/src/blib/arch" >/dev/null 2>"$T/rt2.err"; then
        echo "FAIL: perl_build_installed: $(snip "$T/rt2.err")"
    else
        echo "PASS: perl_build_installed"
    fi
else
    echo "FAIL: perl_build_installed: $(snip "$T/src.log")"
fi

# ---------------------------------------------------------------- dist
if [ ! -f "$P/lib/pkgconfig/mcfast.pc" ]; then
    echo "SKIP: perl_dist_tarball: nothing installed (perl_install_prefix failed)"
elif (cd "$T/src" && make dist) >"$T/dist.log" 2>&1; then
    tgz=$(ls "$T"/src/Cache-Memcached-Mcfast-*.tar.gz 2>/dev/null | head -n 1)
    mkdir -p "$T/unpack"
    if [ -z "$tgz" ] || ! tar xzf "$tgz" -C "$T/unpack"; then
        echo "FAIL: perl_dist_tarball: no tarball: $(snip "$T/dist.log")"
    else
        dir=$(ls -d "$T"/unpack/Cache-Memcached-Mcfast-*/ | head -n 1)
        if (cd "$dir" && perl Makefile.PL && make && timeout -k 5 600 make test) >"$T/disttest.log" 2>&1; then
            if grep -q "^Result: PASS" "$T/disttest.log" || grep -q "^All tests successful" "$T/disttest.log"; then
                echo "PASS: perl_dist_tarball"
            else
                echo "FAIL: perl_dist_tarball: $(snip "$T/disttest.log")"
            fi
        else
            echo "FAIL: perl_dist_tarball: $(grep -m3 -E 'not ok|Failed|Error' "$T/disttest.log" | tr '\n' '|')"
        fi
    fi
else
    echo "FAIL: perl_dist_tarball: make dist: $(snip "$T/dist.log")"
fi

# ---------------------------------------------------------------- MANIFEST
want=$( (echo MANIFEST; git ls-files perl | sed 's|^perl/||' | grep -v '^\.gitignore$') | sort -u)
have=$(sort -u perl/MANIFEST)
if [ "$want" = "$have" ]; then
    echo "PASS: perl_manifest"
else
    echo "FAIL: perl_manifest: $(diff <(echo "$want") <(echo "$have") | grep '^[<>]' | head -n 5 | tr '\n' ' ')"
fi
