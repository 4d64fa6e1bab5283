#!/bin/bash
# t_symbols.sh - libmcfast.so's dynamic symbol table is the public API,
# versioned by src/libmcfast.map.
#   symbols_version_node     the library defines the version MCFAST_0.1 (and
#                            no other version node)
#   symbols_all_versioned    every symbol it exports carries MCFAST_0.1 as its
#                            default version (mcf_x@@MCFAST_0.1)
#   symbols_only_mcf         it exports nothing without the mcf_ prefix
#   symbols_headers_exported every function include/*.h declares extern is
#                            exported, and every exported function is one the
#                            headers declare (an internal mcf_ function marked
#                            MCF_API by mistake shows up here)
# The headers' declarations are read by the compiler (gcc -aux-info), not by
# pattern matching, so comments, line breaks and static inline helpers do
# not confuse it.  Prints PASS:/FAIL:/SKIP: lines for tests/run.sh.
set -u
cd "$(dirname "$0")/.." || exit 1
B=${MCF_BUILD:-build}
SO=$B/libmcfast.so
VER=MCFAST_0.1
CASES=(symbols_version_node symbols_all_versioned symbols_only_mcf symbols_headers_exported)
skip_all() {
    local c
    for c in "${CASES[@]}"; do echo "SKIP: $c: $1"; done
    exit 0
}
command -v objdump >/dev/null || skip_all "objdump (binutils) is not installed"
if [ ! -f "$SO" ]; then
    echo "FAIL: symbols: $SO not built"
    exit 1
fi
T=$(mktemp -d "${TMPDIR:-/tmp}/mcfast-symbols.XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT

# ---------------------------------------------------------------- version node
objdump -p "$SO" | awk '/^Version definitions:/{f=1;next} f&&NF==0{exit} f' >"$T/verdefs"
# The first definition is the soname itself (flag 0x01, BASE); the rest are nodes.
nodes=$(awk '$2!="0x01"{print $4}' "$T/verdefs" | tr '\n' ' ')
if [ "$nodes" = "$VER " ]; then
    echo "PASS: symbols_version_node"
else
    echo "FAIL: symbols_version_node: version nodes are '$nodes', want '$VER'"
fi

# ---------------------------------------------------------------- exports
# objdump -T columns: address, flags, section, size, version, name.  Skip
# the undefined ones (what we import) and the node's own *ABS* symbol.
objdump -T "$SO" | awk '/^[0-9a-f]+ / && !/\*UND\*/ && !/\*ABS\*/ {print $(NF-1), $NF}' >"$T/defined"
if [ ! -s "$T/defined" ]; then
    echo "FAIL: symbols_all_versioned: objdump -T lists no defined symbol in $SO"
    exit 1
fi
unversioned=$(awk -v v="$VER" '$1!=v{print $2 "(" $1 ")"}' "$T/defined" | head -n 5 | tr '\n' ' ')
if [ -z "$unversioned" ]; then
    echo "PASS: symbols_all_versioned"
else
    echo "FAIL: symbols_all_versioned: not $VER: $unversioned"
fi
foreign=$(awk '$2 !~ /^mcf_/{print $2}' "$T/defined" | head -n 5 | tr '\n' ' ')
if [ -z "$foreign" ]; then
    echo "PASS: symbols_only_mcf"
else
    echo "FAIL: symbols_only_mcf: exported without the mcf_ prefix: $foreign"
fi

# ---------------------------------------------------------------- headers
if ! command -v gcc >/dev/null; then
    echo "SKIP: symbols_headers_exported: gcc (for -aux-info) is not installed"
    exit 0
fi
for h in include/*.h; do echo "#include \"$(basename "$h")\""; done >"$T/all.c"
if ! gcc -std=c11 -Iinclude -fsyntax-only -aux-info "$T/aux" "$T/all.c" 2>"$T/cc.err"; then
    echo "FAIL: symbols_headers_exported: the headers do not compile: $(head -n 3 "$T/cc.err" | tr '\n' ' ')"
    exit 0
fi
# Lines like "/* include/mcfast.h:102:NC */ extern const char *mcf_strerror (int);"
# for our headers only; static inline helpers say "static" and are skipped.
grep -E '^/\* include/[^/]+\.h:[0-9]+:' "$T/aux" | grep -E '\*/ extern ' |
    grep -oE '[A-Za-z_][A-Za-z0-9_]* \(' | tr -d ' (' | sort -u >"$T/declared"
awk '{print $2}' "$T/defined" | sort -u >"$T/exported"
if [ ! -s "$T/declared" ]; then
    echo "FAIL: symbols_headers_exported: no extern function found in include/*.h"
elif missing=$(comm -23 "$T/declared" "$T/exported" | head -n 5 | tr '\n' ' ') && [ -n "$missing" ]; then
    echo "FAIL: symbols_headers_exported: declared but not exported: $missing"
elif extra=$(comm -13 "$T/declared" "$T/exported" | head -n 5 | tr '\n' ' ') && [ -n "$extra" ]; then
    echo "FAIL: symbols_headers_exported: exported but declared in no public header: $extra"
else
    echo "PASS: symbols_headers_exported ($(wc -l <"$T/declared") functions)"
fi
