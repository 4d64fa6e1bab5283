#!/bin/bash
# t_debian.sh - the Debian packages (debian/), built, installed, used and
# removed again:
#   debian_build          dpkg-buildpackage -us -uc -b in a copy of the tree
#                         gives libmcfast0, libmcfast-dev, mcfast and
#                         libcache-memcached-mcfast-perl
#   debian_lintian        lintian (with the packages' overrides) reports no
#                         error and no warning
#   debian_install        dpkg -i installs the four
#   debian_pkg_config     the installed mcfast.pc says VERSION and gives the
#                         flags the README's C example builds with
#                         (-Wall -Wextra -Wpedantic -Werror), linked against
#                         the installed libmcfast.so.0 (no path into the tree)
#   debian_c_example      that program stores and reads back through a real
#                         memcached, and the installed CLI reads its value
#   debian_seed_perl      tests/seed_scenario.pl (the seed's script, module
#                         renamed) stores its key through the installed Perl
#                         module; on a host like the seed's (only loopback
#                         addresses, in a network namespace: memcached on
#                         127.0.0.1:11211, the script unchanged) where there
#                         is one, else against a throwaway memcached
#   debian_purge          dpkg --purge removes them, and no file any of the
#                         packages shipped is left
#   debian_tree_clean     the source tree has no new file afterwards (the
#                         build ran in the copy)
# Needs root (dpkg -i), dpkg-buildpackage, debhelper and memcached, else SKIP;
# SKIP also when one of the packages is installed already (it is not ours to
# remove).  Slow (a full package build): about a minute on two cores; each
# phase prints its time.  KEEP_T=1 keeps the scratch directory.
# run.sh: unsanitized (its builds ignore SANITIZE; see run.sh)
# run.sh: alone (dpkg -i: the packages are installed system-wide)
set -u
cd "$(dirname "$0")/.." || exit 1
ROOT=$(pwd)
PKGS=(libmcfast0 libmcfast-dev mcfast libcache-memcached-mcfast-perl)
CASES=(debian_build debian_lintian debian_install debian_pkg_config debian_c_example
       debian_seed_perl debian_purge debian_tree_clean)
pass() { echo "PASS: $1"; }
fail() { echo "FAIL: $1: $2"; }
skip() { echo "SKIP: $1: $2"; }
skip_all() {
    local c
    for c in "${CASES[@]}"; do skip "$c" "$1"; done
    exit 0
}
# skip_rest FROM WHY: FROM and every case after it are skipped; then exit.
skip_rest() {
    local c on=""
    for c in "${CASES[@]}"; do
        [ "$c" = "$1" ] && on=1
        [ -n "$on" ] && skip "$c" "$2"
    done
    exit 0
}
snip() { tail -n "${2:-5}" "$1" | tr '\n' '|'; }
t0=$(date +%s)
lap() { echo "INFO: $1: $(( $(date +%s) - t0 ))s since start"; }

command -v dpkg-buildpackage >/dev/null || skip_all "dpkg-buildpackage (dpkg-dev) is not installed"
command -v dh >/dev/null || skip_all "debhelper is not installed"
command -v memcached >/dev/null || skip_all "memcached is not installed"
[ "$(id -u)" -eq 0 ] || skip_all "dpkg -i needs root"
for p in "${PKGS[@]}"; do
    st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
    case "$st" in
        *" installed" | *config-files*) skip_all "$p is installed already ($st): not removing a package this test did not install" ;;
    esac
done

T=$(mktemp -d "${TMPDIR:-/tmp}/mcfast-debian.XXXXXX") || exit 1
INSTALLED=""
cleanup() {
    # Whatever happened, the system is left as found.
    [ -n "$INSTALLED" ] && dpkg --purge "${PKGS[@]}" >/dev/null 2>&1
    [ -n "${MC_PIDS+x}" ] && mc_stop_all
    [ -n "${KEEP_T:-}" ] || rm -rf "$T"
}
trap cleanup EXIT
# One run at a time on a machine: packages are installed system-wide.
exec 9>"${TMPDIR:-/tmp}/mcfast-t_debian.lock"
flock -w 600 9 || skip_all "another t_debian.sh run holds the lock"

tree_state() { git -C "$ROOT" status --porcelain --ignored 2>/dev/null; }
before=$(tree_state)

# ---------------------------------------------------------------- build
# The working tree as it is (committed or not, new files too), without
# build output: what git tracks or would track.
SRC=$T/src/mcfast
mkdir -p "$SRC"
if git -C "$ROOT" rev-parse --git-dir >/dev/null 2>&1; then
    git -C "$ROOT" ls-files -z --cached --others --exclude-standard |
        (cd "$ROOT" && xargs -0 cp -a --parents -t "$SRC" 2>/dev/null)
else
    (cd "$ROOT" && tar cf - --exclude='./build*' --exclude=./perl/blib --exclude=./debian/tmp .) |
        (cd "$SRC" && tar xf -)
fi
if [ ! -f "$SRC/debian/control" ]; then
    fail debian_build "no debian/control in the copy of the tree"
    skip_rest debian_lintian "nothing built"
fi
# Not make check's build settings (SANITIZE, OPT...): a package build of its own.
if (cd "$SRC" && env -u SANITIZE -u OPT -u TLS -u CC -u CFLAGS -u CPPFLAGS -u LDFLAGS -u MAKEFLAGS \
    dpkg-buildpackage -us -uc -b -j2) >"$T/build.log" 2>&1; then
    missing=""
    for p in "${PKGS[@]}"; do
        ls "$T/src/${p}_"*.deb >/dev/null 2>&1 || missing="$missing $p"
    done
    if [ -n "$missing" ]; then
        fail debian_build "built, but no .deb for:$missing"
        skip_rest debian_lintian "not every package was built"
    fi
    pass debian_build
else
    fail debian_build "dpkg-buildpackage: $(snip "$T/build.log" 8)"
    skip_rest debian_lintian "nothing built"
fi
lap "built"
DEBS=()
for p in "${PKGS[@]}"; do DEBS+=("$(ls "$T/src/${p}_"*.deb | head -n 1)"); done
VERSION=$(cat VERSION)

# ---------------------------------------------------------------- lintian
if ! command -v lintian >/dev/null; then
    skip debian_lintian "lintian is not installed"
else
    # Errors and warnings only: info and pedantic tags are explained in
    # debian/README.source.
    lintian "$T/src/"mcfast_*.changes >"$T/lintian.log" 2>&1
    bad=$(grep -E '^[EW]: ' "$T/lintian.log" | head -n 5 | tr '\n' '|')
    if ! grep -q 'mcfast' <<<"$(ls "$T/src/"mcfast_*.changes 2>/dev/null)"; then
        fail debian_lintian "no .changes file to check"
    elif [ -n "$bad" ]; then
        fail debian_lintian "$bad"
    else
        pass debian_lintian
    fi
    lap "lintian"
fi

# ---------------------------------------------------------------- install
# Every file the packages ship, to check the purge against.
for d in "${DEBS[@]}"; do dpkg-deb --fsys-tarfile "$d" | tar tf - ; done |
    sed 's|^\./|/|' | grep -v '/$' | sort -u >"$T/shipped"
INSTALLED=1
if dpkg -i "${DEBS[@]}" >"$T/install.log" 2>&1; then
    pass debian_install
else
    fail debian_install "dpkg -i: $(snip "$T/install.log")"
    skip_rest debian_pkg_config "not installed"
fi
lap "installed"

# ---------------------------------------------------------------- C example
. tests/lib.sh
mc_start_tcp 127.0.0.1 || { fail debian_c_example "cannot start memcached"; skip_rest debian_seed_perl "no memcached"; }
port=$MC_PORT
# The README's first C block, with its two servers replaced by ours.
awk '/^```c$/{f=1;next} /^```$/{if(f){exit}} f' README.md |
    sed "s/127.0.0.1:11211, \[::1\]:11211/127.0.0.1:$port/" >"$T/example.c"
# Built outside the tree, with the system's pkg-config only: no -I or -L
# into the tree can help it.
unset PKG_CONFIG_PATH
pcver=$(cd "$T" && pkg-config --modversion mcfast 2>&1)
flags=$(cd "$T" && pkg-config --cflags --libs mcfast 2>&1)
if [ "$pcver" != "$VERSION" ]; then
    fail debian_pkg_config "pkg-config --modversion mcfast: '$pcver', VERSION says $VERSION"
elif ! (cd "$T" && cc -std=c11 -Wall -Wextra -Wpedantic -Werror example.c -o example $flags) >"$T/cc.log" 2>&1; then
    fail debian_pkg_config "cc example.c $flags: $(snip "$T/cc.log")"
elif ! lib=$(ldd "$T/example" | awk '$1=="libmcfast.so.0"{print $3}') || [ -z "$lib" ] ||
    [ "$(realpath "$lib")" != "$(realpath "$(dpkg -L libmcfast0 | grep '/libmcfast\.so\.0$')")" ]; then
    fail debian_pkg_config "example links libmcfast.so.0 from '$lib', not libmcfast0's"
else
    pass debian_pkg_config
fi
if [ -x "$T/example" ]; then
    out=$("$T/example" 2>&1)
    cli=$(mcfast --servers "127.0.0.1:$port" get greeting 2>&1)
    if ! grep -q '^greeting = hello$' <<<"$out" || ! grep -q '^nope: miss' <<<"$out"; then
        fail debian_c_example "output: $(tr '\n' '|' <<<"$out")"
    elif [ "$cli" != hello ]; then
        fail debian_c_example "installed mcfast get greeting: '$cli'"
    else
        pass debian_c_example
    fi
else
    skip debian_c_example "the example did not build"
fi
lap "C example"

# ---------------------------------------------------------------- Perl seed
# get_item PORT KEY: the raw "get" reply for KEY from 127.0.0.1:PORT, one line.
cat >"$T/get_item.sh" <<'EOF'
exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
printf 'get %s\r\n' "$2" >&3
while IFS= read -r -t 5 line <&3; do
    printf '%s|' "${line%$'\r'}"
    [ "${line%$'\r'}" = END ] && break
done
EOF
# run_seed.sh PORT SCRIPT DIR: the seed script, run from DIR (outside the
# tree, without PERL5LIB: perl can only find the installed module) against
# 127.0.0.1:PORT; prints rc=, err=, item= (the server's reply for the key)
# and mod= (where the module was loaded from), one line each.
cat >"$T/run_seed.sh" <<'EOF'
port=$1 script=$2 dir=$3
sed "s/127.0.0.1:11211/127.0.0.1:$port/" "$script" >"$dir/seed.pl"
cd "$dir" || exit 1
err=$(env -u PERL5LIB perl seed.pl 2>&1 >/dev/null)
echo "rc=$?"
echo "err=$(echo $err)"
echo "item=$(bash "$dir/get_item.sh" "$port" ismemcached)"
echo "mod=$(env -u PERL5LIB perl -MCache::Memcached::Mcfast -e 'print $INC{"Cache/Memcached/Mcfast.pm"}' 2>&1)"
# The control: the seed's own module, where installed, on the same host.
if env -u PERL5LIB perl -MCache::Memcached::Fast -e1 2>/dev/null; then
    sed 's/Cache::Memcached::Mcfast/Cache::Memcached::Fast/g; s/ismemcached/ismemcached_cmf/' seed.pl >cmf.pl
    echo "cmf=$(env -u PERL5LIB perl cmf.pl 2>&1 | tr '\n' ' ')"
fi
EOF
perl_dir=$(dpkg -L libcache-memcached-mcfast-perl | grep '/Cache/Memcached/Mcfast\.pm$')
field() { sed -n "s/^$1=//p" <<<"$2" | head -n 1; }
check_seed() { # HOW RESULT
    local rc err item mod
    rc=$(field rc "$2") err=$(field err "$2") item=$(field item "$2") mod=$(field mod "$2")
    if [ "$rc" != 0 ] || [ -n "$err" ]; then
        fail debian_seed_perl "$1: exit '$rc', stderr '$err' ($(tr '\n' ' ' <<<"$2"))"
    elif [ "$item" != "VALUE ismemcached 0 1|1|END|" ]; then
        fail debian_seed_perl "$1: the server's reply for ismemcached: '$item'"
    elif [ "$mod" != "$perl_dir" ]; then
        fail debian_seed_perl "$1: perl loaded '$mod', not the package's $perl_dir"
    else
        pass "debian_seed_perl ($1)"
    fi
    if grep -q '^cmf=' <<<"$2"; then
        # The seed's failure, where the host reproduces it.
        echo "INFO: the seed with Cache::Memcached::Fast there: '$(field cmf "$2")'"
    fi
}
if unshare -n true 2>/dev/null && command -v ip >/dev/null; then
    # The seed's host: a global IPv6 address and no IPv4 but loopback, so
    # glibc's AI_ADDRCONFIG drops IPv4, 127.0.0.1 included (the address sits
    # on lo: glibc ignores only 127.0.0.1 and ::1, not the interface), and
    # memcached's default 127.0.0.1:11211.
    res=$(unshare -n bash -c '
        ip link set lo up || exit 1
        ip addr add 2001:db8::216:3eff:fe62:e89f/128 dev lo nodad || exit 1
        memcached -u root -U 0 -l 127.0.0.1 -p 11211 >/dev/null 2>&1 &
        pid=$!
        for _ in $(seq 1 100); do (exec 3<>/dev/tcp/127.0.0.1/11211) 2>/dev/null && break; sleep 0.05; done
        bash "$1/run_seed.sh" 11211 "$2" "$1"
        kill $pid; wait $pid 2>/dev/null' _ "$T" "$ROOT/tests/seed_scenario.pl" 2>&1)
    check_seed "namespace with IPv4 on loopback only" "$res"
else
    res=$(bash "$T/run_seed.sh" "$port" "$ROOT/tests/seed_scenario.pl" "$T" 2>&1)
    check_seed "127.0.0.1:$port, no namespace" "$res"
fi
lap "Perl seed"
mc_stop_all

# ---------------------------------------------------------------- purge
if dpkg --purge "${PKGS[@]}" >"$T/purge.log" 2>&1; then
    INSTALLED=""
    left=""
    for p in "${PKGS[@]}"; do
        st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
        case "$st" in *installed* | *config-files*) left="$left $p($st)" ;; esac
    done
    files=$(while read -r f; do [ -e "$f" ] || [ -L "$f" ] && echo "$f"; done <"$T/shipped" | head -n 5 | tr '\n' ' ')
    if [ -n "$left" ]; then
        fail debian_purge "still known to dpkg:$left"
    elif [ -n "$files" ]; then
        fail debian_purge "left behind: $files"
    elif [ ! -s "$T/shipped" ]; then
        fail debian_purge "no list of shipped files to check"
    else
        pass debian_purge
    fi
else
    fail debian_purge "dpkg --purge: $(snip "$T/purge.log")"
fi
lap "purged"

# ---------------------------------------------------------------- tree
after=$(tree_state)
if [ "$before" = "$after" ]; then
    pass debian_tree_clean
else
    fail debian_tree_clean "the tree changed: $(diff <(echo "$before") <(echo "$after") | grep '^[<>]' | head -n 5 | tr '\n' ' ')"
fi
echo "INFO: t_debian.sh took $(( $(date +%s) - t0 ))s"
