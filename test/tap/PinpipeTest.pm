# test/tap/PinpipeTest.pm — what pinpipe's TAP tests share on top of PostgreSQL::Test::Cluster.
#
#   my $node = PinpipeTest::node('name', http => 1, conf => "pinpipe.batch_size = 100\n");
#       a new, started cluster with shared_preload_libraries = 'pg_cron,pinpipe'
#       (http => 1 gives it an HTTP worker on a free port: $node->{pinpipe_http_port})
#   PinpipeTest::sample('pins_sample.jsonl')   the path of a real sample file
#   PinpipeTest::wait_for(sub { ... }, 'what', $secs)   poll until true (a timeout fails)
#
# Timing never decides a test: waits poll for a state and fail only after a generous bound.
package PinpipeTest;

use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);

our $REPO = $ENV{PP_REPO} or die "PP_REPO not set (run through test/tap.sh)";
our $DATA = $ENV{PP_SHARED_DATA} // "$REPO/../shared/data";

# A started cluster preloading pg_cron and pinpipe; %opt: http => 1, conf => text, preload => text.
sub node
{
	my ($name, %opt) = @_;
	my $node = PostgreSQL::Test::Cluster->new($name);
	$node->init;
	my $preload = $opt{preload} // 'pg_cron,pinpipe';
	my $http_port = 0;
	if ($opt{http})
	{
		$http_port = PostgreSQL::Test::Cluster::get_free_port();
	}
	$node->{pinpipe_http_port} = $http_port;
	$node->append_conf(
		'postgresql.conf', qq{
shared_preload_libraries = '$preload'
cron.database_name = 'postgres'
max_worker_processes = 32
fsync = off
log_min_messages = info
pinpipe.http_port = $http_port
} . ($opt{conf} // ''));
	$node->start unless $opt{no_start};
	return $node;
}

# The path of a file of the real sample data set (../shared/data).
sub sample
{
	my ($file) = @_;
	my $path = "$DATA/$file";
	BAIL_OUT("sample data $path missing") unless -r $path;
	return $path;
}

# Poll $cond every 100 ms until it returns true; after $secs (default 60) fail with $what.
sub wait_for
{
	my ($cond, $what, $secs) = @_;
	$secs //= 60;
	for (1 .. $secs * 10)
	{
		return 1 if $cond->();
		usleep(100_000);
	}
	diag("timed out after ${secs}s waiting for: $what");
	return 0;
}

1;
