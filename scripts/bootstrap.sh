#!/bin/sh
# bootstrap.sh demo|check - install the Debian packages mcfast needs.
# As root, missing packages are installed with apt-get; otherwise the exact
# apt-get line is printed and the script fails.
set -eu
what=${1:-check}
# Build: compiler, make, zlib and c-ares headers, and OpenSSL's (libssl-dev) for
# TLS (without it the library builds without TLS).  Demo adds memcached.
pkgs="gcc make libc6-dev zlib1g-dev libssl-dev libc-ares-dev pkg-config memcached"
if [ "$what" = check ]; then
    # Tests: network namespaces and nftables (t_blackhole.sh), the clients
    # we prove compatibility with, valgrind and clang (fuzzing, second compiler),
    # the event libraries the async adapters are tested on (test_async_adapters).
    pkgs="$pkgs iproute2 nftables procps libmemcached-dev libcache-memcached-fast-perl libcache-memcached-perl libchi-driver-memcached-perl libplack-middleware-session-perl libcgi-session-driver-memcached-perl perl clang valgrind"
    # The other clients whose key placement is proven (tests/t_compat_*.sh).
    pkgs="$pkgs python3-pylibmc php-cli php-memcached python3-pymemcache nutcracker"
    pkgs="$pkgs libevent-dev libuv1-dev libev-dev"
    # TLS tests make their certificates at run time with the openssl tool.
    pkgs="$pkgs openssl"
    # The TLS bench's peer (bench/tls_pymemcache.py, smoke-run by
    # t_bench_smoke.sh; the bench targets bootstrap with the tests' list):
    # pymemcache, the only TLS-capable memcached client in Debian.
    pkgs="$pkgs python3-pymemcache"
    # The man pages are linted (t_man.sh: mandoc -T lint); t_cli_commands.sh
    # parses --json output with python3.
    pkgs="$pkgs mandoc python3"
    # The Debian packages (tests/t_debian.sh: debian/control's build
    # dependencies, libperl-dev for perl-xs-dev), lintian, and strace for
    # t_install_destdir.sh (python3 reads its trace).
    pkgs="$pkgs dpkg-dev debhelper libperl-dev lintian strace python3"
    # mcfast bench's yardstick (memcaslap, make bench-cli) and the terminal
    # mcfast top is tested in (tests/t_cli_top.sh).
    pkgs="$pkgs libmemcached-tools tmux"
fi
missing=""
for p in $pkgs; do
    st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
    case "$st" in
        *"install ok installed"*) ;;
        *) missing="$missing $p" ;;
    esac
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
    echo "mcfast: missing Debian packages. As root, run:" >&2
    echo "  apt-get update && apt-get install -y$missing" >&2
    exit 1
fi
echo "bootstrap: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
