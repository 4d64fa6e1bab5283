#!/bin/bash
# t_cli_commands.sh - the mcfast commands dump, exists, touch TTL KEY...,
# stats ARG..., strerror, cp and the options --raw, --json, -q,
# --max-value-size, and the server named in error lines, against real
# memcached servers.  PASS:/FAIL:/SKIP: lines for tests/run.sh.
set -u
cd "$(dirname "$0")/.." || exit 1
BIN=${MCF_BUILD:-${B:-build}}/mcfast
. tests/lib.sh

T=$(mktemp -d "${TMPDIR:-/tmp}/mcfast-cmds.XXXXXX") || exit 1
trap 'mc_stop_all; rm -rf "$T"' EXIT

needs_cli cmds
needs_tools cmds memcached
HAVE_PY=1
command -v python3 >/dev/null || HAVE_PY=0

# Two plain servers (A, B), one with dumping off (X), one with the plain
# LRU so that cachedump lists new items (C; memcached's segmented LRU has
# cachedump walk the cold LRU only), one with 4 MiB items (I).
mc_start_tcp 127.0.0.1 || { fail cmds_setup "memcached A"; exit 1; }
SA=127.0.0.1:$MC_PORT
mc_start_tcp 127.0.0.1 || { fail cmds_setup "memcached B"; exit 1; }
SB=127.0.0.1:$MC_PORT
mc_start_tcp 127.0.0.1 -X || { fail cmds_setup "memcached -X"; exit 1; }
SX=127.0.0.1:$MC_PORT
mc_start_tcp 127.0.0.1 -o no_lru_maintainer || { fail cmds_setup "memcached C"; exit 1; }
SC=127.0.0.1:$MC_PORT
mc_start_tcp 127.0.0.1 -I 4m || { fail cmds_setup "memcached -I 4m"; exit 1; }
SI=127.0.0.1:$MC_PORT
DEAD=""
for _ in 1 2 3 4 5 6 7 8 9 10; do
    p=$((20000 + RANDOM % 30000))
    if ! mc_listening 127.0.0.1 "$p"; then
        DEAD=127.0.0.1:$p
        break
    fi
done

# run SERVERS ARGS...: stdout $T/out, stderr $T/err, exit code $RC.
run() {
    local servers=$1
    shift
    "$BIN" --servers "$servers" "$@" >"$T/out" 2>"$T/err"
    RC=$?
}

# check NAME WANT_RC [EXPECTED_STDOUT]: tests/lib.sh.

# check_err NAME TEXT: stderr has TEXT (a fixed string).
check_err() {
    if grep -qF -- "$2" "$T/err"; then
        pass "$1"
    else
        fail "$1" "stderr lacks '$2': $(head -c 300 "$T/err")"
    fi
}

# json_check NAME PYTHON-EXPR: every stdout line is a JSON object; EXPR
# (over the list `o` of the objects) must be true.
json_check() {
    local name=$1 expr=$2
    if [ "$HAVE_PY" = 0 ]; then
        skip "$name" "python3 is not installed"
        return
    fi
    if python3 -c '
import json, sys
import os, re
o = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8")]
assert all(isinstance(x, dict) for x in o)
sys.exit(0 if ('"$expr"') else 1)' "$T/out" 2>"$T/pyerr"; then
        pass "$name"
    else
        fail "$name" "$(head -c 300 "$T/out") / $(head -c 200 "$T/pyerr")"
    fi
}

BOTH="$SA,$SB"

# ------------------------------------------------------------------ dump

for k in user:1 user:2 'odd%key:x' other; do
    run "$BOTH" set "$k" "v-$k"
done
run "$BOTH" --ttl 1000 set user:ttl t
NOW=$(date +%s)
# The expected lines: KEY -1 SPEC (SIZE checked apart), the spec from server-for.
run "$BOTH" server-for user:1 user:2 'odd%key:x' other
sed 's/^\([^ ]*\) \(.*\)$/\1 -1 \2/' "$T/out" | sort >"$T/want_dump"
run "$BOTH" dump
awk '$1 != "user:ttl" { print $1, $2, $4 }' "$T/out" | sort >"$T/got_dump"
if [ "$RC" = 0 ] && cmp -s "$T/want_dump" "$T/got_dump" &&
    awk '{ if ($3 !~ /^[0-9]+$/ || $3 < 10) exit 1 }' "$T/out"; then
    pass dump_every_server
else
    fail dump_every_server "exit $RC: $(cat "$T/out") / want $(cat "$T/want_dump")"
fi
EXP=$(awk '$1 == "user:ttl" { print $2 }' "$T/out")
if [ -n "$EXP" ] && [ "$EXP" -ge $((NOW + 990)) ] && [ "$EXP" -le $((NOW + 1010)) ]; then
    pass dump_expiry_unix_time
else
    fail dump_expiry_unix_time "exp '$EXP', now $NOW"
fi

run "$BOTH" dump --pattern 'user:[0-9]'
cut -d' ' -f1 "$T/out" | sort >"$T/got"
printf 'user:1\nuser:2\n' >"$T/want"
if [ "$RC" = 0 ] && cmp -s "$T/want" "$T/got"; then pass dump_pattern; else fail dump_pattern "$(cat "$T/out")"; fi
run "$BOTH" dump
grep '^other ' "$T/out" >"$T/want_other"
run "$BOTH" dump --pattern=other
check dump_pattern_equals 0 "$(cat "$T/want_other")
"

run "$BOTH" --json dump --pattern 'odd*'
json_check dump_json 'len(o) == 1 and o[0]["key"] == "odd%key:x" and o[0]["exp"] == -1 and o[0]["size"] > 0 and o[0]["server"] in ("'"$SA"'", "'"$SB"'")'

# A key with a space and a byte over 0x7f (meta protocol: sent base64)
# comes back decoded, exactly.
run "$SA" --protocol meta set "$(printf 'sp ace\xff')" v
run "$SA" --json dump --pattern 'sp*'
json_check dump_binary_key_json 'len(o) == 1 and o[0]["key_base64"] == "c3AgYWNl/w=="'
run "$SA" dump --pattern 'sp*'
printf 'sp ace\xff -1 ' >"$T/want"
if [ "$RC" = 0 ] && [ "$(wc -l <"$T/out")" = 1 ] && cmp -s -n 10 "$T/want" "$T/out" &&
    grep -qE " [0-9]+ $SA\$" "$T/out"; then
    pass dump_binary_key_text
else
    fail dump_binary_key_text "exit $RC: $(od -c "$T/out" | head -2)"
fi

run "$SX,$SA" dump --pattern 'user:*'
if [ "$RC" = 2 ]; then pass dump_refused_exit; else fail dump_refused_exit "exit $RC"; fi
check_err dump_refused_names_server "server $SX"
check_err dump_refused_says_why "metadump"
run "$SA" dump extra
check dump_usage 64 ""

# ------------------------------------------------------------------ exists

run "$BOTH" exists user:1 user:2
check exists_all 0 ""
run "$BOTH" exists user:1 nope
check exists_one_missing 1 ""
check_err exists_miss_line "exists nope: miss"
run "$BOTH" -q exists nope1 nope2
if [ "$RC" = 1 ] && [ ! -s "$T/err" ]; then pass exists_quiet; else fail exists_quiet "exit $RC, stderr '$(cat "$T/err")'"; fi
run "$BOTH" --json exists user:1 nope
json_check exists_json 'o == [{"key": "user:1", "status": "ok"}, {"key": "nope", "status": "miss"}]'
# exists changes nothing: the expiry stays as dump shows it.
run "$BOTH" dump --pattern user:ttl
before=$(cut -d' ' -f2 "$T/out")
run "$BOTH" exists user:ttl
run "$BOTH" dump --pattern user:ttl
after=$(cut -d' ' -f2 "$T/out")
if [ -n "$before" ] && [ "$before" = "$after" ]; then pass exists_keeps_ttl; else fail exists_keeps_ttl "$before -> $after"; fi
run "$BOTH" --protocol text exists user:1
if [ "$RC" = 2 ]; then pass exists_text_refused; else fail exists_text_refused "exit $RC"; fi
check_err exists_text_says_meta "meta"

# ------------------------------------------------------------------ touch

run "$SA" set t1 a
run "$SA" set t2 b
run "$SA" set 5 five
run "$SA" touch t1 500
check touch_key_ttl 0 ""
run "$SA" dump --pattern t1
e=$(cut -d' ' -f2 "$T/out")
if [ "$e" != -1 ] && [ "$e" -gt "$NOW" ]; then pass touch_key_ttl_applied; else fail touch_key_ttl_applied "exp $e"; fi
run "$SA" touch 700 t1 t2
check touch_multi 0 ""
run "$SA" dump --pattern 't[12]'
n=$(awk -v now="$NOW" '$2 >= now + 690 && $2 <= now + 710' "$T/out" | wc -l)
if [ "$n" = 2 ]; then pass touch_multi_applied; else fail touch_multi_applied "$(cat "$T/out")"; fi
run "$SA" touch 5 900
check touch_numeric_key_old_meaning 0 ""
run "$SA" dump --pattern 5
e=$(cut -d' ' -f2 "$T/out")
if [ "$e" -ge $((NOW + 890)) ]; then pass touch_numeric_key_applied; else fail touch_numeric_key_applied "exp $e"; fi
run "$SA" touch 700 t1 nope
check touch_multi_miss 1 ""
check_err touch_multi_miss_line "touch nope: not found"
run "$SA" touch x y
check touch_bad_ttl 64 ""

# ------------------------------------------------------------------ stats ARG...

run "$SC" set cd:1 12345
run "$SC" stats items
cls=$(sed -n 's/^[^ ]* items:\([0-9]*\):number .*/\1/p' "$T/out" | head -1)
run "$SC" stats cachedump "$cls" 100
check stats_cachedump_words 0 "$SC cd:1 [5 b; 0 s]
"
run "$SC" stats "cachedump $cls 100"
check stats_cachedump_one_arg 0 "$SC cd:1 [5 b; 0 s]
"
run "$SA" stats slabs
if [ "$RC" = 0 ] && grep -q "^$SA active_slabs " "$T/out"; then pass stats_slabs; else fail stats_slabs "exit $RC"; fi
run "$SA" stats "$(printf 'items\tflush_all')"
check stats_control_char_refused 64 ""
run "$SA" stats items "" x
check stats_empty_word_refused 64 ""

# ------------------------------------------------------------------ strerror

n=0 bad=""
while read -r name num; do
    n=$((n + 1))
    run "$SA" strerror "$name"
    case $(cat "$T/out") in
    "$num $name ("*) ;;
    *) bad="$bad $name" ;;
    esac
    run "$SA" strerror "$num"
    case $(cat "$T/out") in
    "$num $name ("*) ;;
    *) bad="$bad $num" ;;
    esac
done < <(sed -n '/^typedef enum mcf_rc/,/} mcf_rc;/p' include/mcfast.h |
    sed -n 's/^ *\(MCF_[A-Z_]*\) = \([0-9]*\),.*/\1 \2/p' | grep -v -e _FIRST -e _LAST)
if [ "$n" -ge 20 ] && [ -z "$bad" ]; then pass strerror_every_code; else fail strerror_every_code "$n codes, wrong:$bad"; fi
"$BIN" strerror timeout >"$T/out" 2>"$T/err"
RC=$?
if [ "$RC" = 0 ] && grep -q '^23 MCF_ERR_TIMEOUT (error): .' "$T/out"; then
    pass strerror_short_name
else
    fail strerror_short_name "exit $RC: $(cat "$T/out")"
fi
"$BIN" strerror 99 >"$T/out" 2>"$T/err"
RC=$?
check strerror_unknown 64 ""
"$BIN" --json strerror MCF_MISS >"$T/out" 2>"$T/err"
json_check strerror_json 'o[0]["code"] == 1 and o[0]["name"] == "MCF_MISS" and o[0]["kind"] == "negative" and o[0]["message"]'

# ------------------------------------------------------------------ cp, --raw

head -c 5000 /dev/urandom >"$T/blob.bin"
printf 'text file\n' >"$T/notes.txt"
run "$SA" cp "$T/blob.bin" "$T/notes.txt"
check cp_files 0 ""
run "$SA" --raw get blob.bin
if [ "$RC" = 0 ] && cmp -s "$T/blob.bin" "$T/out" && [ "$(wc -c <"$T/out")" = 5000 ]; then
    pass raw_binary_5000
else
    fail raw_binary_5000 "exit $RC, $(wc -c <"$T/out") bytes"
fi
run "$SA" --raw get notes.txt
check cp_raw_text 0 "text file
"
run "$SA" cp --key-prefix files/ "$T/notes.txt"
run "$SA" get files/notes.txt
check cp_key_prefix 0 "text file

"
run "$SA" cp "$T/no-such-file"
if [ "$RC" = 2 ]; then pass cp_missing_file; else fail cp_missing_file "exit $RC"; fi
check_err cp_missing_file_named "no-such-file"
run "$SA" --raw get blob.bin notes.txt
check raw_one_key_only 64 ""
run "$SA" --raw --json get blob.bin
check raw_not_with_json 64 ""

# ------------------------------------------------------------------ --json

run "$SA" --json set j1 hello
json_check json_set 'o == [{"key": "j1", "status": "ok"}]'
run "$SA" --json add j1 again
json_check json_add_not_stored 'o == [{"key": "j1", "status": "not_stored"}]'
run "$SA" --json get j1 nope
json_check json_get 'o == [{"key": "j1", "status": "ok", "value": "hello", "flags": 0}, {"key": "nope", "status": "miss"}]'
run "$SA" --json gets j1
json_check json_gets_cas 'o[0]["cas"] > 0 and o[0]["value"] == "hello"'
run "$SA" --json get blob.bin
if [ "$HAVE_PY" = 1 ] && python3 -c '
import json, sys, base64
o = json.loads(open(sys.argv[1]).read())
sys.exit(0 if base64.b64decode(o["value_base64"]) == open(sys.argv[2], "rb").read() else 1)' \
    "$T/out" "$T/blob.bin"; then
    pass json_binary_base64
else
    fail json_binary_base64 "$(head -c 100 "$T/out")"
fi
run "$SA" set jq "$(printf 'a"b\\c\001d')"
run "$SA" --json get jq
json_check json_escapes 'o[0]["value"] == "a\"b\\c\x01d"'
run "$SA" set n 5
run "$SA" --json incr n 3
json_check json_incr 'o == [{"key": "n", "status": "ok", "value": 8}]'
run "$SA" --json incr --info n 1
json_check json_incr_info 'o[0]["value"] == 9 and o[0]["ttl"] == -1 and o[0]["cas"] > 0'
run "$SA" --json get --info j1
json_check json_get_info 'o[0]["info"]["ttl"] == -1 and o[0]["info"]["win"] is False and "hit_before" in o[0]["info"]'
run "$SA" --json delete j1 nope
json_check json_delete 'o == [{"key": "j1", "status": "ok"}, {"key": "nope", "status": "not_found"}]'
run "$SA" --json touch 100 t1
json_check json_touch 'o == [{"key": "t1", "status": "ok"}]'
run "$BOTH" --json version
json_check json_version 'len(o) == 2 and o[0]["server"] == "'"$SA"'" and o[1]["version"]'
run "$BOTH" --json stats
json_check json_stats 'len(o) == 2 and int(o[0]["stats"]["pid"]) > 0 and o[1]["server"] == "'"$SB"'"'
run "$SA" --json ping
json_check json_ping 'o[0]["server"] == "'"$SA"'" and o[0]["family"] and o[0]["connect_ms"] >= 0 and o[0]["version"]'
run "$BOTH" --json server-for user:1
json_check json_server_for 'o[0]["key"] == "user:1" and o[0]["server"] in ("'"$SA"'", "'"$SB"'")'
run "$SA" --json cp "$T/notes.txt"
json_check json_cp 'o == [{"key": "notes.txt", "status": "ok"}]'
run "$SA" --json flush
json_check json_flush 'o == [{"status": "ok"}]'
run "$BOTH" --json --distribution ketama ring --keys 1000 --add 10.0.0.9:11211
json_check json_ring 'o[0]["distribution"] == "ketama" and o[0]["servers"] == 2 and sum(x["keys"] for x in o if x.get("list") == "before") == 1000 and sum(x["keys"] for x in o if x.get("list") == "after") == 1000 and len([x for x in o if x.get("list") == "after"]) == 3 and o[-1]["moved"] == sum(x["keys"] for x in o if x.get("server") == "10.0.0.9:11211")'
# resolve_json NAME SPEC WANT_RC EXPR: `--json resolve SPEC` exits WANT_RC
# with one object on stdout for which EXPR holds, and its will_try is the
# text form's "mcfast will try" list (address and family, in order) and its
# source (or, when nothing is tried, its error) the text form's.
resolve_json() {
    local name=$1 spec=$2 want=$3 expr=$4
    "$BIN" resolve "$spec" >"$T/text" 2>/dev/null
    local text_rc=$?
    run "$SA" --json resolve "$spec"
    if [ "$RC" != "$want" ] || [ "$text_rc" != "$want" ]; then
        fail "$name" "exit $RC (text form: $text_rc), want $want; stderr: $(head -c 300 "$T/err")"
        return
    fi
    json_check "$name" 'len(o) == 1 and (lambda j, t: (
        j["will_try"] == [{"address": a, "family": f} for a, f in re.findall(r"(?m)^  [0-9]+\. (.*) \((\w+)\)$", t)]
        and (j.get("source") == re.search(r"(?m)^mcfast will try, in this order \(source: (.*)\):$", t).group(1)
             if j["will_try"] else
             "source" not in j and j["error"] == re.search(r"(?m)^mcfast will try nothing: (.*)$", t).group(1))
        and ('"$expr"')))(o[0], open(os.path.join(os.path.dirname(sys.argv[1]), "text"), encoding="utf-8", errors="replace").read())'
}
resolve_json json_resolve_literal 127.0.0.1:11211 0 \
    'j["spec"] == "127.0.0.1:11211" and j["host"] == "127.0.0.1" and j["port"] == 11211 and j["source"] == "literal" and j["will_try"] == [{"address": "127.0.0.1:11211", "family": "IPv4"}] and {"address": "127.0.0.1:11211", "family": "IPv4"} in j["getaddrinfo"]["no_addrconfig"]["addresses"] and j["families"]["ipv4"] in ("yes", "no", "link-local-only") and all(i["scope"] in ("global", "link-local") for i in j["interfaces"]) and isinstance(j["notes"], list)'
resolve_json json_resolve_localhost localhost 0 \
    'j["host"] == "localhost" and j["source"] == "localhost" and j["will_try"] and {a["address"] for a in j["will_try"]} <= {"127.0.0.1:11211", "[::1]:11211"}'
resolve_json json_resolve_unix /tmp/x.sock 0 \
    'j["unix"] == "/tmp/x.sock" and j["source"] == "unix" and j["will_try"] == [{"address": "/tmp/x.sock", "family": "unix"}] and "getaddrinfo" not in j'
# RFC 6761: .invalid never resolves.
resolve_json json_resolve_no_such_name nosuch.invalid 2 \
    'j["will_try"] == [] and j["error"].startswith("resolve nosuch.invalid:") and j["getaddrinfo"]["no_addrconfig"]["error"].startswith("EAI_") and j["getaddrinfo"]["no_addrconfig"]["message"]'
# Escapes: a quote, a backslash, and a byte that is not UTF-8 (U+FFFD).
resolve_json json_resolve_escapes "$(printf '%s/a"b\\\377c.sock' "$T")" 0 \
    'j["unix"] == "'"$T"'/a\"b\\\ufffdc.sock" and j["state"] == "No such file or directory"'
run "$DEAD" --json get a
json_check json_error 'o[0]["status"] == "error" and "'"$DEAD"'" in o[0]["error"]'

# ------------------------------------------------------------------ -q

run "$SA" -q get m1 m2 m3 m4
if [ "$RC" = 1 ] && [ ! -s "$T/err" ] && [ ! -s "$T/out" ]; then
    pass quiet_misses
else
    fail quiet_misses "exit $RC, stderr '$(cat "$T/err")'"
fi
run "$SA" --quiet get m1
if [ "$RC" = 1 ] && [ ! -s "$T/err" ]; then pass quiet_long; else fail quiet_long "exit $RC"; fi
run "$DEAD" -q get a
if [ "$RC" = 2 ] && [ -s "$T/err" ]; then pass quiet_errors_still_print; else fail quiet_errors_still_print "exit $RC"; fi

# ------------------------------------------------------------------ --max-value-size

head -c 2097152 /dev/urandom >"$T/big"
"$BIN" --servers "$SI" set big - <"$T/big" >"$T/out" 2>"$T/err"
RC=$?
if [ "$RC" = 2 ]; then pass max_value_default_refuses; else fail max_value_default_refuses "exit $RC"; fi
check_err max_value_error_names_server "server $SI"
"$BIN" --servers "$SI" --max-value-size 4194304 set big - <"$T/big" >"$T/out" 2>"$T/err"
RC=$?
check max_value_set 0 ""
run "$SI" --max-value-size 4194304 --raw get big
if [ "$RC" = 0 ] && cmp -s "$T/big" "$T/out"; then pass max_value_get; else fail max_value_get "exit $RC, $(wc -c <"$T/out") bytes"; fi
run "$SI" get big
if [ "$RC" = 2 ]; then pass max_value_get_default_refuses; else fail max_value_get_default_refuses "exit $RC"; fi
run "$SI" --max-value-size x get big
check max_value_bad_number 64 ""

# ------------------------------------------------------------------ errors name the server

run "$DEAD" get a
check_err error_single_names_server "get a: "
check_err error_single_names_spec "$DEAD"
run "$DEAD" get a b
if [ "$(grep -c "server $DEAD" "$T/err")" -ge 2 ]; then pass error_multi_get_names_server; else fail error_multi_get_names_server "$(cat "$T/err")"; fi
run "$DEAD" delete a b
if [ "$(grep -c "server $DEAD" "$T/err")" -ge 2 ]; then pass error_multi_delete_names_server; else fail error_multi_delete_names_server "$(cat "$T/err")"; fi
run "$DEAD" stats
check_err error_stats_names_server "$DEAD"
run "$DEAD" dump
check_err error_dump_names_server "$DEAD"

# ------------------------------------------------------------------ leaks

# The new commands and options under valgrind (it cannot run sanitizer builds).
if [ -n "${SANITIZE:-}" ]; then
    skip cmds_valgrind "SANITIZE build"
elif ! command -v valgrind >/dev/null; then
    skip cmds_valgrind "valgrind is not installed"
else
    # vg NAME WANT_RC SERVERS ARGS...: exit 9 is a valgrind error or leak.
    vg() {
        local name=$1 want=$2 servers=$3
        shift 3
        valgrind -q --leak-check=full --errors-for-leak-kinds=definite,indirect \
            --error-exitcode=9 "$BIN" --servers "$servers" "$@" >"$T/out" 2>"$T/err"
        RC=$?
        check "$name" "$want"
    }
    vg cmds_valgrind_dump 2 "$SX,$SA" dump --pattern 'user:*'
    vg cmds_valgrind_dump_json 0 "$BOTH" --json dump
    vg cmds_valgrind_exists 1 "$BOTH" exists user:1 nope
    vg cmds_valgrind_touch_multi 1 "$SA" touch 100 t1 t2 nope
    vg cmds_valgrind_stats_words 0 "$SC" stats cachedump "$cls" 10
    vg cmds_valgrind_cp 0 "$SA" cp "$T/notes.txt" "$T/blob.bin"
    vg cmds_valgrind_json_get 1 "$SA" --json get --info blob.bin nope
    vg cmds_valgrind_json_stats 0 "$BOTH" --json stats
    vg cmds_valgrind_raw 0 "$SA" --raw get blob.bin
    vg cmds_valgrind_strerror 0 "$SA" strerror timeout
    vg cmds_valgrind_ring_json 0 "$BOTH" --json ring --keys 1000 --remove "$SB"
    vg cmds_valgrind_error_path 2 "$DEAD" get a b
fi
exit 0
