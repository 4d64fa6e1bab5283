#!/bin/bash
# t_version.sh - the file VERSION is the one place the version is set; what
# is written elsewhere agrees with it (tests/test_version.c checks mcfast.h
# and mcf_lib_version(), t_install_destdir.sh the installed mcfast.pc):
#   version_perl_module     Cache::Memcached::Mcfast's $VERSION, as
#                           perl/Makefile.PL's VERSION_FROM reads it
#   version_debian          debian/changelog's upstream version
#   version_man             the source field of man/*.3's .TH lines
#   version_cli             `mcfast --version`
set -u
cd "$(dirname "$0")/.." || exit 1
B=${MCF_BUILD:-build}
V=$(cat VERSION 2>/dev/null)
if ! [[ "$V" =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]]; then
    echo "FAIL: version_file: VERSION holds '$V', not MAJOR.MINOR.PATCH"
    exit 1
fi

# ---------------------------------------------------------------- Perl
if ! command -v perl >/dev/null || ! perl -MExtUtils::MakeMaker -e1 2>/dev/null; then
    echo "SKIP: version_perl_module: perl with ExtUtils::MakeMaker is not installed"
else
    # MakeMaker's own parser (VERSION_FROM), and version.pm to compare:
    # '0.1.0', 'v0.1.0' and '0.001000' are all 0.1.0.
    pm=$(perl -MExtUtils::MakeMaker -e 'print MM->parse_version($ARGV[0])' perl/lib/Cache/Memcached/Mcfast.pm 2>&1)
    same=$(perl -Mversion -e 'print version->parse($ARGV[0]) == version->parse("v$ARGV[1]") ? 1 : 0' "$pm" "$V" 2>/dev/null)
    if [ "$same" = 1 ]; then
        echo "PASS: version_perl_module"
    else
        echo "FAIL: version_perl_module: Cache::Memcached::Mcfast is '$pm', VERSION says $V"
    fi
fi

# ---------------------------------------------------------------- Debian
if [ ! -f debian/changelog ]; then
    echo "FAIL: version_debian: no debian/changelog"
else
    if command -v dpkg-parsechangelog >/dev/null; then
        deb=$(dpkg-parsechangelog -l debian/changelog -S Version)
    else
        deb=$(sed -n '1s/^[^ ]* (\([^)]*\)).*/\1/p' debian/changelog)
    fi
    up=${deb#*:}     # no epoch
    up=${up%-*}      # no Debian revision
    if [ "$up" = "$V" ]; then
        echo "PASS: version_debian"
    else
        echo "FAIL: version_debian: debian/changelog is $deb (upstream '$up'), VERSION says $V"
    fi
fi

# ---------------------------------------------------------------- man pages
bad=""
n=0
for m in man/*.3; do
    [ -f "$m" ] || continue
    n=$((n + 1))
    grep -q "^\.TH .* \"mcfast $V\"" "$m" || bad="$bad $m($(grep -m1 '^\.TH' "$m"))"
done
if [ "$n" -eq 0 ]; then
    echo "FAIL: version_man: no man/*.3"
elif [ -n "$bad" ]; then
    echo "FAIL: version_man: .TH does not say \"mcfast $V\":$bad"
else
    echo "PASS: version_man"
fi

# ---------------------------------------------------------------- CLI
if [ ! -x "$B/mcfast" ]; then
    echo "FAIL: version_cli: $B/mcfast not built"
else
    out=$("$B/mcfast" --version 2>&1)
    if [ "$out" = "mcfast $V" ]; then
        echo "PASS: version_cli"
    else
        echo "FAIL: version_cli: mcfast --version says '$out'"
    fi
fi
