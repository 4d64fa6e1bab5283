#!/bin/bash
# t_man.sh - the manual pages: man/*.1 and man/*.3 pass `mandoc -T lint`
# at warning level (style notes, such as a page not installed yet, are
# not failures), and mcfast(1) covers every command and every option that
# `mcfast --help` lists.  PASS:/FAIL:/SKIP: lines for tests/run.sh.
set -u
cd "$(dirname "$0")/.." || exit 1
BIN=${MCF_BUILD:-${B:-build}}/mcfast

pass() { echo "PASS: $1"; }
fail() { echo "FAIL: $1: $2"; }
skip() { echo "SKIP: $1: $2"; }

if ! command -v mandoc >/dev/null; then
    skip man "mandoc is not installed (Debian package mandoc)"
    exit 0
fi
shopt -s nullglob
pages=(man/*.1 man/*.3)
if [ ${#pages[@]} = 0 ]; then
    fail man_pages "no man/*.1 or man/*.3"
    exit 1
fi
for p in "${pages[@]}"; do
    name=man_lint_$(basename "$p")
    if out=$(mandoc -T lint -W warning "$p" 2>&1); then
        pass "$name"
    else
        fail "$name" "$(echo "$out" | head -5 | tr '\n' ' ')"
    fi
done

PAGE=man/mcfast.1
if [ ! -f "$PAGE" ]; then
    fail man_mcfast "$PAGE missing"
    exit 1
fi
if [ ! -x "$BIN" ]; then
    fail man_mcfast_coverage "$BIN not built"
    exit 1
fi
help=$("$BIN" --help)
# Commands: the first word of each line of the "Commands:" section.
cmds=$(echo "$help" | sed -n '/^Commands:/,/^$/p' | sed -n 's/^  \([a-z][a-z-]*\).*/\1/p')
missing=""
for c in $cmds; do
    grep -qE "^\.It Cm ([a-z-]+ \| )*$c( |$)" "$PAGE" || missing="$missing $c"
done
if [ -n "$cmds" ] && [ -z "$missing" ]; then
    pass man_every_command
else
    fail man_every_command "not described:${missing:- (no commands in --help)}"
fi
# Long options, global and command ones, as --help names them ("--opt"
# stands for any in "--opt=VALUE or --opt VALUE").
opts=$(echo "$help" | grep -oE -- '--[a-z][a-z-]+' | grep -vx -- --opt | sort -u)
missing=""
for o in $opts; do
    grep -qE -- "Fl -${o#--}( |$)" "$PAGE" || missing="$missing $o"
done
if [ -n "$opts" ] && [ -z "$missing" ]; then
    pass man_every_option
else
    fail man_every_option "not described:${missing:- (no options in --help)}"
fi
