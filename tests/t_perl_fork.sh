#!/bin/bash
# t_perl_fork.sh - Cache::Memcached::Mcfast across fork(), without the
# disconnect_all that Cache::Memcached::Fast asks for in the child.
#
# Two real memcached servers; a Perl script (below) connects to both, forks
# and checks every value it reads:
#   perl_fork_hammer          parent and child both run set/get/incr/get_multi
#                             on disjoint keys (a prefix per process) at the
#                             same time: 0 wrong values, 0 errors on both sides.
#   perl_fork_hammer_nowait   the same with nowait => 1: void-context sets are
#                             noreply, and some are sent before the fork, so
#                             the inherited connections carry unanswered
#                             commands (freeing the client syncs them).
#   perl_fork_child_exits     children that only exit (DESTROY frees their copy
#                             of the client) one after another while the parent
#                             works, then the parent alone: 0 errors, 0 wrong.
# Builds the module with `make perl`, as tests/t_perl.sh does.  Needs perl,
# ExtUtils::MakeMaker, a C compiler and memcached, else SKIP.  ~10 s.
# run.sh: builds (make in the tree)
# run.sh: unsanitized (its builds ignore SANITIZE; see run.sh)
set -u
cd "$(dirname "$0")/.." || exit 1
ROOT=$(pwd)
# shellcheck source=tests/lib.sh
. tests/lib.sh

CASES=(perl_fork_hammer perl_fork_hammer_nowait perl_fork_child_exits)
SCRIPT_TIMEOUT_S=180 # one perl run; its own waits are bounded well below this

fail() { echo "FAIL: $1: $2"; }
skip() { echo "SKIP: $1: $2"; }
skip_all() {
    local s
    for s in "${CASES[@]}"; do skip "$s" "$1"; done
    exit 0
}

T=$(mktemp -d "${TMPDIR:-/tmp}/mcfast-perlfork.XXXXXX") || exit 1
# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
    mc_stop_all
    rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

command -v perl >/dev/null || skip_all "perl is not installed"
perl -MExtUtils::MakeMaker -e1 2>/dev/null || skip_all "ExtUtils::MakeMaker is not installed"
command -v memcached >/dev/null || skip_all "memcached is not installed"
cc_bin=$(perl -MConfig -e 'print $Config{cc}')
command -v "${cc_bin%% *}" >/dev/null || skip_all "no C compiler ($cc_bin, the one perl was built with)"

if ! make perl >"$T/build.log" 2>&1; then
    for s in "${CASES[@]}"; do fail "$s" "make perl failed: $(tail -n 5 "$T/build.log" | tr '\n' '|')"; done
    exit 1
fi

SERVERS=()
for _ in 1 2; do
    if ! mc_start_tcp 127.0.0.1 -t 2 2>"$T/mc.err"; then
        for s in "${CASES[@]}"; do fail "$s" "$(head -c 300 "$T/mc.err")"; done
        exit 1
    fi
    SERVERS+=("127.0.0.1:$MC_PORT")
done

cat >"$T/fork.pl" <<'EOF'
# fork.pl CASE SERVER... - one case; prints PASS:/FAIL:/INFO: lines.
use strict;
use warnings;
use Cache::Memcached::Mcfast;
use POSIX ();
use Time::HiRes qw(time sleep);

my ($case, @servers) = @ARGV;
my $ITERS        = 400;   # hammer iterations per process
my $MULTI_EVERY  = 4;     # a get_multi every this many iterations
my $NKEYS        = 16;    # keys per process
my $ROUNDS       = 20;    # child_exits: children forked one after another
my $ROUND_ITERS  = 20;    # parent iterations while each child exits
my $AFTER_ITERS  = 300;   # parent iterations once every child is gone
my $PRE_NOREPLY  = 16;    # noreply sets before the fork (nowait cases)
my $DEADLINE_S   = 60;    # a hammer stops (counting an error) after this
my $CHILD_WAIT_S = 90;    # a child not done by then is killed

my $nowait = $case ne 'perl_fork_hammer';
my $m = Cache::Memcached::Mcfast->new({ servers => \@servers, nowait => $nowait });

# Connect every server before the fork: a get_multi over keys spread over
# both, and (nowait) noreply sets left unanswered on the connections.
my @warm = map {"warm-$$-$_"} 1 .. 32;
$m->get_multi(@warm);
if (my $e = $m->last_error) { print "FAIL: $case: first connect: $e\n"; exit 1 }
if ($nowait) {
    $m->set("pre-$$-$_", 'pre') for 1 .. $PRE_NOREPLY;    # void context: noreply
}

# One process's checked workload.  Returns [calls, errors, wrong, first problem].
sub hammer {
    my ($tag, $iters, $st) = @_;
    $st //= { calls => 0, errors => 0, wrong => 0, first => '', want => {}, ctr => undef };
    my @keys = map {"$tag-k$_"} 0 .. $NKEYS - 1;
    my $ctr  = "$tag-ctr";
    my $t_end = time + $DEADLINE_S;
    my $note = sub {
        my ($is_err, $what) = @_;
        $st->{ $is_err ? 'errors' : 'wrong' }++;
        $st->{first} ||= $what . ($is_err ? ': ' . ($m->last_error // 'no error message') : '');
    };
    for my $n (1 .. $iters) {
        if (time > $t_end) { $note->(1, "deadline after " . ($n - 1) . " iterations"); last }
        my $it  = $st->{it}++;
        my $key = $keys[ $it % $NKEYS ];
        my $val = "$key=$it";
        $st->{calls}++;
        if ($nowait) {
            $m->set($key, $val);    # void context: noreply
            $st->{want}{$key} = $val;
        } elsif ($m->set($key, $val)) {
            $st->{want}{$key} = $val;
        } else {
            $note->(1, "set $key");
            delete $st->{want}{$key};
        }
        $st->{calls}++;
        my $got = $m->get($key);
        if (!defined $got && $m->last_error) {
            $note->(1, "get $key");
        } elsif (exists $st->{want}{$key} && ($got // '(miss)') ne $st->{want}{$key}) {
            $note->(0, "get $key = " . ($got // '(miss)') . ", want $st->{want}{$key}");
        }
        if (!defined $st->{ctr}) {
            $st->{calls}++;
            if (scalar $m->set($ctr, 0)) { $st->{ctr} = 0 } else { $note->(1, "set $ctr") }
        }
        if (defined $st->{ctr}) {
            $st->{calls}++;
            my $v = $m->incr($ctr);
            if (!defined $v) {
                $note->(1, "incr $ctr");
                $st->{ctr} = undef;
            } elsif ($v != ++$st->{ctr}) {
                $note->(0, "incr $ctr = $v, want $st->{ctr}");
                $st->{ctr} = undef;
            }
        }
        if ($it % $MULTI_EVERY == $MULTI_EVERY - 1) {
            $st->{calls}++;
            my $h = $m->get_multi(@keys);
            $note->(1, "get_multi") if $m->last_error;
            for my $k (@keys) {
                my $w = $st->{want}{$k} // '(miss)';
                my $g = $h->{$k} // '(miss)';
                $note->(0, "get_multi $k = $g, want $w") if $g ne $w && !$m->last_error;
            }
        }
    }
    return $st;
}

sub verdict {
    my ($who, $st) = @_;
    print "INFO: $case: $who: $st->{calls} calls, $st->{errors} errors, $st->{wrong} wrong values"
        . ($st->{first} ? "; first: $st->{first}" : '') . "\n";
    return $st->{errors} == 0 && $st->{wrong} == 0
        ? '' : "$who: $st->{errors} errors, $st->{wrong} wrong values; first: $st->{first}";
}

# Waits (bounded) for a child; its status, or -1 if it had to be killed.
sub reap {
    my ($pid) = @_;
    my $t_end = time + $CHILD_WAIT_S;
    while (time < $t_end) {
        my $w = waitpid($pid, POSIX::WNOHANG());
        return $? if $w == $pid;
        sleep 0.005;
    }
    kill 'KILL', $pid;
    waitpid($pid, 0);
    return -1;
}

my @bad;
if ($case =~ /^perl_fork_hammer/) {
    pipe(my $r, my $w) or die "pipe: $!";
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        close $r;
        my $st = hammer("c$$", $ITERS);
        print {$w} join("\t", @$st{qw(calls errors wrong first)}), "\n";
        close $w;
        exit 0;    # no disconnect_all; DESTROY frees the child's copy
    }
    close $w;
    my $pst = hammer("p$$", $ITERS);
    my $line = <$r> // '';
    close $r;
    my $status = reap($pid);
    chomp $line;
    my %cst;
    @cst{qw(calls errors wrong first)} = split /\t/, $line, 4;
    push @bad, "child exit status $status" if $status != 0;
    if (defined $cst{wrong}) {
        $cst{first} //= '';
        my $v = verdict('child', \%cst);
        push @bad, $v if $v;
    } else {
        push @bad, 'child sent no report';
    }
    my $v = verdict('parent', $pst);
    push @bad, $v if $v;
} elsif ($case eq 'perl_fork_child_exits') {
    my $st;
    my $bad_children = 0;
    for my $round (1 .. $ROUNDS) {
        $m->set("dirty-$$-$round", 'd');    # void context: noreply, left for the child
        my $pid = fork // die "fork: $!";
        exit 0 if $pid == 0;                # only exits: DESTROY runs
        $st = hammer("p$$", $ROUND_ITERS, $st);
        $bad_children++ if reap($pid) != 0;
    }
    $st = hammer("p$$", $AFTER_ITERS, $st);
    push @bad, "$bad_children children did not exit cleanly" if $bad_children;
    my $v = verdict('parent', $st);
    push @bad, $v if $v;
} else {
    print "FAIL: $case: unknown case\n";
    exit 1;
}
print @bad ? "FAIL: $case: " . join('; ', @bad) . "\n" : "PASS: $case\n";
exit 0;
EOF

INC=(-I"$ROOT/perl/blib/lib" -I"$ROOT/perl/blib/arch")
for c in "${CASES[@]}"; do
    timeout -k 5 "$SCRIPT_TIMEOUT_S" perl "${INC[@]}" "$T/fork.pl" "$c" "${SERVERS[@]}" \
        >"$T/out" 2>"$T/err"
    rc=$?
    cat "$T/out"
    if ! grep -qE "^(PASS|FAIL|SKIP): $c(:|$)" "$T/out"; then
        fail "$c" "perl exit $rc without a result: $(head -c 300 "$T/err" | tr '\n' '|')"
    fi
done
exit 0
