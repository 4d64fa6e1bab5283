# seed_scenario.pl - the Perl application of the seed scenario
# (../shared/mission/seed-scenario.md, "The story"), with only the module
# name changed from Cache::Memcached::Fast to Cache::Memcached::Mcfast.
# tests/t_debian.sh runs it against the installed Debian package, on a
# host whose only IPv4 address is 127.0.0.1, where the original fails.
use Cache::Memcached::Mcfast;
my $m = Cache::Memcached::Mcfast->new({ servers => ['127.0.0.1:11211'] });
$m->set('ismemcached', '1') or warn "Memcached is not responding\n";
