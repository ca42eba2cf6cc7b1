# test/tap/PinpipeTest.pm — what pinpipe's TAP tests share on top of PostgreSQL::Test::Cluster.
#
#   my $node = PinpipeTest::node('name', http => 1, conf => "pinpipe.batch_size = 100\n");
#       a new, started cluster with shared_preload_libraries = 'pg_cron,pinpipe'
#       (http => 1 gives it an HTTP worker on a free port: $node->{pinpipe_http_port})
#   PinpipeTest::sample('pins_sample.jsonl')   the path of a real sample file
#   PinpipeTest::wait_for(sub { ... }, 'what', $secs)   poll until true (a timeout fails)
#   my $b = PinpipeTest::pinpipe_kafka_broker_start($partitions)   dev broker; $b->{bootstrap}
#   PinpipeTest::pinpipe_kafka_broker_stop($b)
#   PinpipeTest::pinpipe_kafka_make_pins($file, $n, $seed)   $n real pins, fresh unique_ids
#   PinpipeTest::pinpipe_kafka_produce($b, $file, partition => $p | partitions => $n)
#
# Timing never decides a test: waits poll for a state and fail only after a generous bound.
package PinpipeTest;

use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);
use IPC::Run;

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

# The dev broker (tools/pinpipe-devbroker, a librdkafka mock cluster) with one topic of
# $partitions partitions; it keeps ~5 MB per partition and drops older data like retention.
sub pinpipe_kafka_broker_start
{
	my ($partitions, $topic) = @_;
	$topic //= 'pinterest.pins';
	my $dir = PostgreSQL::Test::Utils::tempdir('devbroker');
	my $out = "$dir/address";
	my $h = IPC::Run::start([ 'pinpipe-devbroker', '--partitions', $partitions, '--topic', $topic ],
		'>', $out, '2>', "$dir/stderr");
	wait_for(sub { -s $out }, 'dev broker to print its address', 20)
	  or BAIL_OUT('dev broker did not start');
	my $addr = PostgreSQL::Test::Utils::slurp_file($out);
	chomp $addr;
	return { handle => $h, bootstrap => $addr, topic => $topic };
}

# Stop a dev broker (its topics and messages are gone with it).
sub pinpipe_kafka_broker_stop
{
	my ($broker) = @_;
	$broker->{handle}->signal('TERM');
	$broker->{handle}->finish;
}

# $n real pins from the sample, cycled, each with a unique_id made from $seed and its number.
sub pinpipe_kafka_make_pins
{
	my ($file, $n, $seed) = @_;
	open(my $in, '<', sample('pins_sample.jsonl')) or die;
	my @pins = <$in>;
	close $in;
	chomp @pins;
	open(my $out, '>', $file) or die "$file: $!";
	for my $i (0 .. $n - 1)
	{
		my $line = $pins[ $i % @pins ];
		my $uid = sprintf('%08x-%04x-4%03x-8%03x-%012x',
			$seed, ($i >> 24) & 0xffff, ($i >> 12) & 0xfff, $i & 0xfff, $i);
		$line =~ s/"unique_id": *"[^"]*"/"unique_id": "$uid"/;
		$line =~ s/"index": *[0-9]+/"index": @{[$i + 1]}/;
		print $out "$line\n";
	}
	close $out;
	return $file;
}

# Produce every line of $file as one message (partition => P, or partitions => N round-robin).
sub pinpipe_kafka_produce
{
	my ($broker, $file, %opt) = @_;
	my @where = defined $opt{partition}
	  ? ('--partition', $opt{partition})
	  : ('--partitions', $opt{partitions} // 1);
	my ($stdout, $stderr);
	IPC::Run::run(
		[
			'pinpipe-devbroker', '--produce', $file, '--bootstrap', $broker->{bootstrap},
			'--topic', $broker->{topic}, @where
		],
		'>', \$stdout, '2>', \$stderr) or die "producing $file failed: $stderr";
	chomp $stdout;
	return $stdout;
}

1;
