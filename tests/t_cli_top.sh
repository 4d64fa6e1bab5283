#!/bin/bash
# t_cli_top.sh - `mcfast top` against a real memcached and a dead server:
# --once prints one plain frame (server rows, the down row's reason, a
# totals row, items and ops/s that follow the traffic); full screen under
# tmux: a frame appears, a value changes after traffic, q (and ^C) quit
# and the terminal is restored (termios as before, main screen back).
set -u
cd "$(dirname "$0")/.." || exit 1
BIN=${MCF_BUILD:-build}/mcfast

. tests/lib.sh
needs_cli cli_top
needs_tools cli_top memcached
T=$(mktemp -d "${TMPDIR:-/tmp}/mcfast-cli-top.XXXXXX") || exit 1
# One tmux server per top run, its socket in $T: a server being killed and
# a new one on the same socket race ("server exited unexpectedly").
TMUX_SOCK=$T/tmux
cleanup() {
    local s
    if command -v tmux >/dev/null; then
        for s in "$T"/tmux-*; do [ -S "$s" ] && tmux -S "$s" kill-server 2>/dev/null; done
    fi
    mc_stop_all
    rm -rf "$T"
}
trap cleanup EXIT
mc_start_tcp 127.0.0.1 || { fail cli_top_setup "cannot start memcached"; exit 1; }
LIVE=127.0.0.1:$MC_PORT
DEAD=127.0.0.1:1 # nothing listens on port 1: connection refused
SERVERS=$LIVE,$DEAD

# row FRAME SPEC: the frame's line for SPEC, its spaces squeezed.
row() { grep -E "^$2 " "$1" | head -1 | tr -s ' '; }
# The columns of an up row: SPEC up OPS/S HIT% MEMORY CONNS EVICTIONS ITEMS.
ops_of() { awk '{ print $3 }' <<<"$1"; }
items_of() { awk '{ print $NF }' <<<"$1"; }

# ---- --once: one plain frame
"$BIN" --servers "$SERVERS" top --once --interval 200 >"$T/once" 2>"$T/once.err"
rc=$?
live=$(row "$T/once" "$LIVE") dead=$(row "$T/once" "$DEAD") total=$(row "$T/once" TOTAL)
if [ $rc -eq 2 ] && grep -q '^SERVER ' "$T/once" && [[ "$live" == "$LIVE up "* ]] &&
    [ "$(items_of "$live")" = 0 ] && [ "$(ops_of "$live")" = 0 ] && [ -n "$total" ]; then
    pass cli_top_once_frame
else
    fail cli_top_once_frame "exit $rc: $(tr '\n' '|' <"$T/once") $(cat "$T/once.err")"
fi
if [[ "$dead" == "$DEAD down "*refused* ]]; then
    pass cli_top_once_down_with_reason
else
    fail cli_top_once_down_with_reason "row: '$dead'"
fi
if ! grep -q $'\033' "$T/once"; then
    pass cli_top_once_no_escapes
else
    fail cli_top_once_no_escapes "escape sequences in --once output"
fi
"$BIN" --servers "$LIVE" top --once --interval 100 >"$T/once-up" 2>&1
if [ $? -eq 0 ]; then
    pass cli_top_once_all_up_exit_0
else
    fail cli_top_once_all_up_exit_0 "$(tr '\n' '|' <"$T/once-up")"
fi

# Items and ops/s follow the traffic: 3 keys set, then bench running.
for k in a b c; do "$BIN" --servers "$LIVE" set "top-$k" v >/dev/null; done
"$BIN" --servers "$LIVE" bench --duration 3 --keys 100 --concurrency 4 >/dev/null 2>&1 &
bench_pid=$!
sleep 1
"$BIN" --servers "$LIVE" top --once --interval 500 >"$T/busy" 2>&1
wait $bench_pid
live=$(row "$T/busy" "$LIVE")
if [ "$(items_of "$live")" = 103 ] && [ "$(ops_of "$live")" -gt 0 ] 2>/dev/null; then
    pass "cli_top_once_follows_traffic ($(ops_of "$live") ops/s)"
else
    fail cli_top_once_follows_traffic "row: '$live' (want 103 items, ops/s > 0)"
fi

# ---- --json: the --once figures as objects, parsed by python3; the
# items follow the keys stored above (103), the dead server has its reason.
if command -v python3 >/dev/null; then
    "$BIN" --servers "$SERVERS" --json top --interval 100 >"$T/json" 2>"$T/json.err"
    rc=$?
    if [ $rc -eq 2 ] && python3 - "$T/json" "$LIVE" "$DEAD" <<'PY'
import json, sys
objs = [json.loads(l) for l in open(sys.argv[1])]
by = {o.get("server"): o for o in objs if "server" in o}
live, dead, total = by[sys.argv[2]], by[sys.argv[3]], objs[-1]
assert live["state"] == "up" and live["curr_items"] == 103 and "ops_per_s" in live, live
assert dead["state"] == "down" and dead["reason"], dead
assert total["total"] is True and total["up"] == 1 and total["servers"] == len(by), total
PY
    then
        pass cli_top_json
    else
        fail cli_top_json "exit $rc: $(tr '\n' '|' <"$T/json") $(cat "$T/json.err")"
    fi
else
    skip cli_top_json "python3 is not installed"
fi

# ---- usage
bad=0
for args in "--interval" "--interval 10" "--interval x" "--bogus"; do
    # shellcheck disable=SC2086
    "$BIN" --servers "$LIVE" top $args >/dev/null 2>"$T/usage.err"
    rc=$?
    if [ $rc -ne 64 ] || ! grep -q '^mcfast: top: ' "$T/usage.err"; then
        fail cli_top_usage "top $args: exit $rc, $(head -1 "$T/usage.err")"
        bad=1
    fi
done
[ $bad -eq 0 ] && pass cli_top_usage

# ---- not a terminal: plain frames until a signal
"$BIN" --servers "$LIVE" top --interval 100 >"$T/batch" 2>&1 </dev/null &
top_pid=$!
sleep 1
kill -TERM $top_pid
wait $top_pid
rc=$?
frames=$(grep -c '^SERVER ' "$T/batch")
if [ $rc -eq 0 ] && [ "$frames" -ge 2 ] && ! grep -q $'\033' "$T/batch"; then
    pass "cli_top_plain_frames_off_tty ($frames frames in 1 s)"
else
    fail cli_top_plain_frames_off_tty "exit $rc, $frames frames: $(head -c 300 "$T/batch" | tr '\n' '|')"
fi

# ---- full screen under tmux
if ! command -v tmux >/dev/null; then
    skip cli_top_tmux "tmux is not installed"
    exit 0
fi
tm() { tmux -S "$TMUX_SOCK" "$@"; }

# wait_for SECONDS CMD...: until CMD succeeds, every 0.1 s.
wait_for() {
    local n=$(($1 * 10))
    shift
    while [ $n -gt 0 ]; do
        "$@" && return 0
        sleep 0.1
        n=$((n - 1))
    done
    return 1
}
pane_has() { tm capture-pane -p -t top >"$T/pane" 2>/dev/null && grep -qE "$1" "$T/pane"; }
live_row_busy() {
    tm capture-pane -p -t top >"$T/pane" 2>/dev/null || return 1
    local r
    r=$(row "$T/pane" "$LIVE")
    [ "$(items_of "$r")" -gt 0 ] 2>/dev/null && [ "$(ops_of "$r")" -gt 0 ] 2>/dev/null
}

"$BIN" --servers "$LIVE" flush >/dev/null
# One top per key that should quit it; the shell around it records the
# terminal settings before and after, and top's exit status.  ^C reaches
# the shell too (the pane's foreground group): its trap keeps it alive,
# and the trap is reset for top at exec.
for key in q C-c; do
    name=${key//-/}
    rm -f "$T/done" "$T/stty-before" "$T/stty-after"
    TMUX_SOCK=$T/tmux-$name
    tm new-session -d -s top -x 160 -y 40 \
        "trap 'true' INT; stty -a >'$T/stty-before'; '$BIN' --servers '$SERVERS' top --interval 200; echo \$? >'$T/done'; stty -a >'$T/stty-after'; sleep 60"
    # The first frame's rates are "-" (one sample); wait for the second's.
    if ! wait_for 5 pane_has "^$LIVE +up +[0-9]+ "; then
        fail "cli_top_tmux_frame_$name" "no frame: $(tr '\n' '|' <"$T/pane")"
        continue
    fi
    if [ "$(tm display -p -t top '#{alternate_on}')" = 1 ] && pane_has "^$DEAD +down .*refused" &&
        pane_has "^TOTAL " && pane_has "q quits"; then
        pass "cli_top_tmux_frame_$name"
    else
        fail "cli_top_tmux_frame_$name" "$(tr '\n' '|' <"$T/pane")"
    fi
    if [ "$key" = q ]; then
        before=$(row "$T/pane" "$LIVE")
        "$BIN" --servers "$LIVE" bench --duration 3 --keys 50 --concurrency 4 >/dev/null 2>&1 &
        bench_pid=$!
        if [ "$(ops_of "$before")" = 0 ] && wait_for 5 live_row_busy; then
            pass "cli_top_tmux_value_changes (before: $before; during traffic: $(row "$T/pane" "$LIVE"))"
        else
            fail cli_top_tmux_value_changes "before '$before', now '$(row "$T/pane" "$LIVE")'"
        fi
        wait $bench_pid
    fi
    tm send-keys -t top "$key"
    if wait_for 5 test -s "$T/stty-after"; then
        if [ "$(cat "$T/done" 2>/dev/null)" = 0 ] && cmp -s "$T/stty-before" "$T/stty-after" &&
            [ "$(tm display -p -t top '#{alternate_on}')" = 0 ]; then
            pass "cli_top_tmux_${name}_quits_and_restores"
        else
            fail "cli_top_tmux_${name}_quits_and_restores" "exit $(cat "$T/done"), alternate_on $(tm display -p -t top '#{alternate_on}'), stty diff: $(diff "$T/stty-before" "$T/stty-after" | tr '\n' '|')"
        fi
    else
        fail "cli_top_tmux_${name}_quits_and_restores" "top did not exit after $key"
    fi
done
exit 0
