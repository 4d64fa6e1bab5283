package Compare;
# Runs the same steps against Cache::Memcached::Fast and
# Cache::Memcached::Mcfast and compares what each step returned, in the
# context it was called in, with warnings and exceptions.
use strict;
use warnings;
use Data::Dumper ();
use Exporter 'import';
use Test::More;

our @EXPORT = qw(run_steps compare_runs);

# Canonical text of a result: sorted hash keys, numbers and strings alike
# as Perl prints them (0E0, '' and undef stay distinct), cas values hidden.
sub canon {
    my ($v) = @_;
    local $Data::Dumper::Sortkeys = 1;
    local $Data::Dumper::Terse = 1;
    local $Data::Dumper::Indent = 0;
    local $Data::Dumper::Useqq = 1;
    return Data::Dumper::Dumper($v);
}

sub clean_msg {
    my ($m) = @_;
    $m =~ s/ at \S+ line \d+\.?\n?//g;
    $m =~ s/Cache::Memcached::(?:Fast|Mcfast)/MODULE/g;
    return $m;
}

# run_steps($class, \%conf, \@steps, $before): each step is
# [name, context ('list' | 'scalar' | 'void'), sub { my ($m) = @_; ... }].
# Returns [[name, canonical outcome], ...].
sub run_steps {
    my ($class, $conf, $steps, $before) = @_;
    my @warn;
    local $SIG{__WARN__} = sub { push @warn, clean_msg($_[0]) };
    my $m = $class->new({%$conf});
    my @out;
    for my $s (@$steps) {
        my ($name, $ctx, $code) = @$s;
        $before->() if $before && $name =~ /^reset/;
        @warn = ();
        my ($r, $ok);
        if ($ctx eq 'list') {
            $ok = eval { $r = [ $code->($m) ]; 1 };
        } elsif ($ctx eq 'scalar') {
            $ok = eval { $r = scalar $code->($m); 1 };
        } else {
            $ok = eval { $code->($m); 1 };
            $r = 'void';
        }
        my $text = $ok ? canon($r) : 'died: ' . clean_msg($@);
        $text .= ' warnings: ' . join('|', @warn) if @warn;
        push @out, [ $name, $text ];
    }
    return \@out;
}

# compare_runs($ref, $got, \%expected_diff): one test per step; a step named
# in %expected_diff must instead give that value with Mcfast (a documented
# difference).
sub compare_runs {
    my ($ref, $got, $known) = @_;
    $known ||= {};
    for my $i (0 .. $#$ref) {
        my ($name, $want) = @{ $ref->[$i] };
        my $have = $got->[$i][1];
        if (exists $known->{$name}) {
            is($have, $known->{$name}, "$name (documented difference; Fast gives $want)");
        } else {
            is($have, $want, $name);
        }
    }
}

1;
