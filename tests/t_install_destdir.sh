#!/bin/bash
# t_install_destdir.sh - `make install DESTDIR=D` stages everything under D
# and writes nothing anywhere else:
#   install_writes_only_destdir  an strace of the whole install (the Perl
#                           module's build and install included) shows no
#                           file created, written, renamed, removed, linked
#                           or chmod'ed outside the scratch directory (the
#                           copy of the tree it runs in, D, TMPDIR)
#   install_layout          headers (and the adapters), libmcfast.a,
#                           libmcfast_pic.a, libmcfast.so.VERSION with its
#                           .so.0 and .so links, mcfast.pc, libmcfast.3, the
#                           CLI and the Perl module land where PREFIX,
#                           LIBDIR, INCDIR, BINDIR, MANDIR say, under D
#   install_pic_archive     the installed libmcfast_pic.a links whole into a
#                           shared object (it is position-independent)
#   install_no_destdir_leak no installed file mentions D (a .pc or .packlist
#                           naming the staging directory)
#   install_pc_builds       the staged mcfast.pc says VERSION, and the
#                           README's C example builds with its
#                           `pkg-config --cflags --libs` (PKG_CONFIG_PATH
#                           and PKG_CONFIG_SYSROOT_DIR into D), and runs
#                           against a real memcached
#   install_uninstall       `make uninstall DESTDIR=D` leaves no library
#                           file behind (the Perl module is MakeMaker's)
# Runs in a copy of the tree (git ls-files), so the source tree gets no
# build output.  Needs strace (else that case SKIPs), pkg-config, memcached.
# run.sh: unsanitized (its builds ignore SANITIZE; see run.sh)
set -u
cd "$(dirname "$0")/.." || exit 1
ROOT=$(pwd)
CASES=(install_writes_only_destdir install_layout install_pic_archive install_no_destdir_leak
       install_pc_builds install_uninstall)
pass() { echo "PASS: $1"; }
fail() { echo "FAIL: $1: $2"; }
skip() { echo "SKIP: $1: $2"; }
snip() { tail -n "${2:-5}" "$1" | tr '\n' '|'; }
t0=$(date +%s)

T=$(mktemp -d "${TMPDIR:-/tmp}/mcfast-destdir.XXXXXX") || exit 1
T=$(realpath "$T")
trap 'mc_stop_all 2>/dev/null; [ -n "${KEEP_T:-}" ] || rm -rf "$T"' EXIT
SRC=$T/src D=$T/dest
mkdir -p "$SRC" "$D" "$T/tmp" "$T/home"
git ls-files -z --cached --others --exclude-standard | xargs -0 cp -a --parents -t "$SRC"
# Every program of the install writes its temporary files under T.
export TMPDIR=$T/tmp HOME=$T/home
# The library as make check builds it, minus sanitizers (perl cannot load
# an ASan-built module); the default PREFIX and its derived directories.
MK=(make -C "$SRC" -s SANITIZE= B=b)
if ! "${MK[@]}" -j2 all >"$T/build.log" 2>&1; then
    for c in "${CASES[@]}"; do fail "$c" "make all: $(snip "$T/build.log")"; done
    exit 1
fi
PREFIX=/usr/local
echo "INFO: built in $(( $(date +%s) - t0 ))s"

# ---------------------------------------------------------------- strace
# -y: a descriptor argument is printed with its path, so an openat()
# relative to a directory descriptor can be resolved.
if command -v strace >/dev/null && strace -f -o /dev/null true 2>/dev/null; then
    traced=(strace -f -y -qq -s 4096 -o "$T/strace.log"
            -e trace=%file,%process,chdir,fchdir)
else
    traced=()
    skip install_writes_only_destdir "strace is not installed or cannot trace here"
fi
if ! "${traced[@]}" "${MK[@]}" install DESTDIR="$D" >"$T/install.log" 2>&1; then
    for c in "${CASES[@]}"; do fail "$c" "make install: $(snip "$T/install.log")"; done
    exit 1
fi
echo "INFO: installed in $(( $(date +%s) - t0 ))s"

if [ ${#traced[@]} -gt 0 ]; then
    # Each process's working directory is followed (fork/clone inherit it,
    # chdir/fchdir change it) to resolve relative paths; what is written
    # is every call that creates, truncates, opens for writing, removes,
    # renames, links or changes the mode/owner/times of a path.
    cat >"$T/writes.py" <<'EOF'
import os, re, sys
log, start_cwd = sys.argv[1], sys.argv[2]
line_re = re.compile(r'^(\d+) +(\w+)\((.*)\) += (-?\d+|\?)')
fd_path = re.compile(r'^(-?\d+|AT_FDCWD)(?:<([^>]*)>)?$')
cwd = {}
out = set()
def args(s):
    # Top-level comma-separated arguments; strings are "..." with escapes.
    res, cur, q, depth, i = [], '', False, 0, 0
    while i < len(s):
        ch = s[i]
        if q:
            cur += ch
            if ch == '\\' and i + 1 < len(s):
                cur += s[i + 1]; i += 1
            elif ch == '"':
                q = False
        elif ch == '"':
            q = True; cur += ch
        elif ch in '[{(':
            depth += 1; cur += ch
        elif ch in ']})':
            depth -= 1; cur += ch
        elif ch == ',' and depth == 0:
            res.append(cur.strip()); cur = ''
        else:
            cur += ch
        i += 1
    if cur.strip():
        res.append(cur.strip())
    return res
def unq(a):
    a = re.sub(r'<[^>]*>$', '', a)  # -y decorations on strings are not expected
    if not a.startswith('"'):
        return None
    return bytes(a[1:a.rindex('"')], 'utf-8').decode('unicode_escape')
def base(pid, dirarg):
    if dirarg is None or dirarg.startswith('AT_FDCWD'):
        return cwd.get(pid, start_cwd)
    m = fd_path.match(dirarg)
    return m.group(2) if m and m.group(2) else cwd.get(pid, start_cwd)
def resolve(pid, p, dirarg=None):
    if p is None:
        return None
    return os.path.normpath(p if p.startswith('/') else os.path.join(base(pid, dirarg), p))
# The calls and where their path (and dirfd) are, by argument index.
path_calls = {'mkdir': [(None, 0)], 'rmdir': [(None, 0)], 'unlink': [(None, 0)],
              'creat': [(None, 0)], 'truncate': [(None, 0)], 'chmod': [(None, 0)],
              'chown': [(None, 0)], 'lchown': [(None, 0)], 'utime': [(None, 0)],
              'utimes': [(None, 0)], 'mknod': [(None, 0)],
              'mkdirat': [(0, 1)], 'unlinkat': [(0, 1)], 'mknodat': [(0, 1)],
              'fchmodat': [(0, 1)], 'fchownat': [(0, 1)], 'utimensat': [(0, 1)],
              'futimesat': [(0, 1)],
              'rename': [(None, 0), (None, 1)], 'link': [(None, 1)], 'symlink': [(None, 1)],
              'renameat': [(0, 1), (2, 3)], 'renameat2': [(0, 1), (2, 3)],
              'linkat': [(2, 3)], 'symlinkat': [(1, 2)]}
# The calls, completed ("<unfinished ...>" joined to its "<... resumed>").
calls, pending = [], {}
for raw in open(log, errors='replace'):
    m0 = re.match(r'^(\d+) +(.*)$', raw.rstrip('\n'))
    if not m0:
        continue
    pid, rest = int(m0.group(1)), m0.group(2)
    if rest.endswith('<unfinished ...>'):
        pending[pid] = rest[:-len('<unfinished ...>')]
        continue
    mres = re.match(r'^<\.\.\. (\w+) resumed>(.*)$', rest)
    if mres:
        rest = pending.pop(pid, mres.group(1) + '(') + mres.group(2)
    m = line_re.match('%d %s' % (pid, rest))
    if m:
        calls.append((pid, m.group(2), args(m.group(3)), m.group(4)))
# A child's first calls may be logged before its parent's fork returns:
# its parent is known from the fork's result, and it starts in the
# directory the parent is in when the child is first seen (the parent
# cannot chdir while it forks).
parent = {int(r): pid for pid, n, _, r in calls
          if n in ('clone', 'clone3', 'fork', 'vfork') and r != '?' and int(r) > 0}
for pid, name, a, ret in calls:
    if pid not in cwd:
        cwd[pid] = cwd.get(parent.get(pid), start_cwd)
    if ret == '?' or int(ret) < 0:
        continue  # failed: nothing written
    if name == 'chdir':
        cwd[pid] = resolve(pid, unq(a[0]))
    elif name == 'fchdir':
        mm = fd_path.match(a[0])
        if mm and mm.group(2):
            cwd[pid] = mm.group(2)
    elif name in ('open', 'openat', 'openat2'):
        d, p, fl = (None, a[0], a[1]) if name == 'open' else (a[0], a[1], a[2])
        if re.search(r'O_WRONLY|O_RDWR|O_CREAT|O_TRUNC|O_APPEND', fl):
            out.add(resolve(pid, unq(p), d))
    elif name in path_calls:
        for d, i in path_calls[name]:
            if i < len(a):
                out.add(resolve(pid, unq(a[i]), a[d] if d is not None and d < len(a) else None))
for p in sorted(x for x in out if x):
    print(p)
EOF
    if ! python3 "$T/writes.py" "$T/strace.log" "$ROOT" >"$T/writes" 2>"$T/writes.err"; then
        fail install_writes_only_destdir "reading the strace: $(snip "$T/writes.err")"
    else
        # Allowed: the scratch directory, and the devices every shell writes.
        outside=$(grep -vE "^($T(/|\$)|/dev/(null|tty|pts/.*)\$)" "$T/writes" | head -n 8 | tr '\n' ' ')
        nw=$(grep -c "^$D/" "$T/writes")
        if [ -n "$outside" ]; then
            fail install_writes_only_destdir "written outside $T: $outside"
        elif [ "$nw" -lt 10 ]; then
            fail install_writes_only_destdir "the trace shows only $nw writes under DESTDIR: not read right"
        else
            pass "install_writes_only_destdir ($nw paths under DESTDIR, $(wc -l <"$T/writes") in all)"
        fi
    fi
fi

# ---------------------------------------------------------------- layout
V=$(cat VERSION)
arch_so=$(find "$D" -name Mcfast.so -path '*/auto/Cache/Memcached/Mcfast/*' | head -n 1)
pm=$(find "$D" -name Mcfast.pm -path '*/Cache/Memcached/*' | head -n 1)
missing=""
for f in include/mcfast.h include/mcfast_async.h include/mcfast/adapters/libevent.h \
         include/mcfast/adapters/libuv.h include/mcfast/adapters/libev.h \
         lib/libmcfast.a lib/libmcfast_pic.a "lib/libmcfast.so.$V" lib/pkgconfig/mcfast.pc \
         share/man/man3/libmcfast.3 bin/mcfast; do
    [ -f "$D$PREFIX/$f" ] || missing="$missing $f"
done
for l in lib/libmcfast.so.0 lib/libmcfast.so; do
    [ "$(readlink "$D$PREFIX/$l")" = "libmcfast.so.$V" ] || missing="$missing $l(-> $(readlink "$D$PREFIX/$l"))"
done
[ -x "$D$PREFIX/bin/mcfast" ] || missing="$missing bin/mcfast(not executable)"
[ -n "$pm" ] && [ -n "$arch_so" ] || missing="$missing Cache::Memcached::Mcfast"
elsewhere=$(find "$D" \( -type f -o -type l \) ! -path "$D$PREFIX/*" | head -n 3 | tr '\n' ' ')
if [ -n "$missing" ]; then
    fail install_layout "missing under $D$PREFIX:$missing"
elif [ -n "$elsewhere" ]; then
    fail install_layout "installed outside PREFIX: $elsewhere"
elif [ "$(nm -D --defined-only "$D$PREFIX/lib/libmcfast.so.$V" 2>/dev/null | grep -c ' mcf_new@@MCFAST_0.1$')" != 1 ]; then
    fail install_layout "the installed libmcfast.so.$V does not export mcf_new@@MCFAST_0.1"
else
    pass install_layout
fi

# ---------------------------------------------------------------- PIC
# The reason libmcfast_pic.a is installed: it links whole into a shared
# object (as the Perl module's), which non-PIC code cannot go into.
pic=$D$PREFIX/lib/libmcfast_pic.a
if [ ! -f "$pic" ]; then
    fail install_pic_archive "no $pic"
elif ! cc -shared -o "$T/whole.so" -Wl,--whole-archive "$pic" -Wl,--no-whole-archive \
    -Wl,--no-undefined $(sed -n "s/^Libs.private: //p" "$D$PREFIX/lib/pkgconfig/mcfast.pc") 2>"$T/pic.log"; then
    fail install_pic_archive "cannot link it into a shared object: $(snip "$T/pic.log")"
else
    pass install_pic_archive
fi

# ---------------------------------------------------------------- leak
leak=$(grep -rlF "$D" "$D" 2>/dev/null | head -n 3 | tr '\n' ' ')
if [ -n "$leak" ]; then
    fail install_no_destdir_leak "mention $D: $leak"
else
    pass install_no_destdir_leak
fi

# ---------------------------------------------------------------- pkg-config
# The .pc names the final paths (/usr/local/...); the sysroot maps them into D.
export PKG_CONFIG_PATH=$D$PREFIX/lib/pkgconfig PKG_CONFIG_SYSROOT_DIR=$D
pcv=$(pkg-config --modversion mcfast 2>&1)
flags=$(pkg-config --cflags --libs mcfast 2>&1)
awk '/^```c$/{f=1;next} /^```$/{if(f){exit}} f' README.md >"$T/example.c"
if ! command -v pkg-config >/dev/null; then
    skip install_pc_builds "pkg-config is not installed"
elif [ "$pcv" != "$V" ]; then
    fail install_pc_builds "the staged mcfast.pc says '$pcv', VERSION $V"
elif [[ "$flags" != *"-I$D$PREFIX/include"* ]]; then
    fail install_pc_builds "pkg-config --cflags --libs: '$flags'"
elif ! command -v memcached >/dev/null; then
    skip install_pc_builds "memcached is not installed"
else
    . tests/lib.sh
    if ! mc_start_tcp 127.0.0.1; then
        fail install_pc_builds "cannot start memcached"
    else
        sed -i "s/127.0.0.1:11211, \[::1\]:11211/127.0.0.1:$MC_PORT/" "$T/example.c"
        if ! cc -std=c11 -Wall -Wextra -Wpedantic -Werror "$T/example.c" -o "$T/example" $flags \
            -Wl,-rpath,"$D$PREFIX/lib" 2>"$T/cc.log"; then
            fail install_pc_builds "cc example.c $flags: $(snip "$T/cc.log")"
        elif ! out=$("$T/example" 2>&1) || ! grep -q '^greeting = hello$' <<<"$out"; then
            fail install_pc_builds "the example: $(tr '\n' '|' <<<"$out")"
        elif ! ldd "$T/example" | grep -q "$D$PREFIX/lib/libmcfast.so.0"; then
            fail install_pc_builds "the example did not load the staged libmcfast.so.0"
        else
            pass install_pc_builds
        fi
        mc_stop_all
    fi
fi
unset PKG_CONFIG_PATH PKG_CONFIG_SYSROOT_DIR

# ---------------------------------------------------------------- uninstall
if ! "${MK[@]}" uninstall DESTDIR="$D" >"$T/uninstall.log" 2>&1; then
    fail install_uninstall "make uninstall: $(snip "$T/uninstall.log")"
else
    left=$(find "$D" \( -type f -o -type l \) ! -path '*/perl*' ! -name '*.3pm' |
        head -n 5 | tr '\n' ' ')
    if [ -n "$left" ]; then
        fail install_uninstall "left behind: $left"
    else
        pass install_uninstall
    fi
fi
echo "INFO: t_install_destdir.sh took $(( $(date +%s) - t0 ))s"
