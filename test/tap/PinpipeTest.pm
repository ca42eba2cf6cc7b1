# test/tap/PinpipeTest.pm — what pinpipe's TAP tests share on top of PostgreSQL::Test::Cluster.
#
#   my $node = PinpipeTest::node('name', http => 1, conf => "pinpipe.batch_size = 100\n");
#       a new, started cluster with shared_preload_libraries = 'pg_cron,pinpipe'
#       (http => 1 gives it an HTTP worker on a free port: $node->{pinpipe_http_port})
#   PinpipeTest::sample('pins_sample.jsonl')   the path of a real sample file
#   PinpipeTest::wait_for(sub { ... }, 'what', $secs)   poll until true (a timeout fails)
#   PinpipeTest::wait_until(sub { ... }, 'what', $secs)  the same with a wall-clock bound
#       (for conditions that are slow to evaluate, e.g. a psql call per try)
#   my $file = PinpipeTest::pin_file()                a file holding the sample's first pin
#   my ($code, $body) = PinpipeTest::http($node, 'GET', '/healthz' [, $body_file])
#       one request to the node's HTTP worker (code 0 = no answer, e.g. connection refused)
#   PinpipeTest::worker_pid($node, 'pinpipe http')     pid of a worker by backend_type, or ''
#   PinpipeTest::log_count($node, qr/.../)             matching lines in the server log so far
#   my $broker = PinpipeTest::devbroker_start($partitions)   dev broker: {bootstrap, pid}
#   PinpipeTest::make_pins($file, $n, $seed)           $n real pins with fresh unique_ids
#   PinpipeTest::produce($broker, $file, $partitions)  every line of $file as one message
#   PinpipeTest::kafka_consumed($node, $db)            kafka pins + kafka dead letters in $db
#   PinpipeTest::kafka_check_exact($node, $db, $n, 'what')
#       exactly $n distinct (partition, offset), none twice, raw log and pins agree
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

# Poll $cond every 100 ms until it returns true; fail with $what once $secs (default 60)
# of wall-clock time have passed, however long each evaluation takes.
sub wait_until
{
	my ($cond, $what, $secs) = @_;
	$secs //= 60;
	my $deadline = time() + $secs;
	while (time() < $deadline)
	{
		return 1 if $cond->();
		usleep(100_000);
	}
	return 1 if $cond->();
	diag("timed out after ${secs}s waiting for: $what");
	return 0;
}

# A file (in the test's tmp_check) holding the first pin of the sample, for POST bodies.
sub pin_file
{
	my $path = "$PostgreSQL::Test::Utils::tmp_check/pin.json";
	open(my $in, '<', sample('pins_sample.jsonl')) or die;
	my $line = <$in>;
	close $in;
	open(my $out, '>', $path) or die;
	print $out $line;
	close $out;
	return $path;
}

# One HTTP request with curl; returns (status code, body). Code 0: no answer.
sub http
{
	my ($node, $method, $path, $body_file) = @_;
	my $url = "http://127.0.0.1:$node->{pinpipe_http_port}$path";
	my @cmd = ('curl', '-s', '-m', '10', '-o', '-', '-w', '\n%{http_code}', '-X', $method);
	push @cmd, ('-H', 'Content-Type: application/json', '--data-binary', "\@$body_file")
	  if defined $body_file;
	open(my $fh, '-|', @cmd, $url) or die "curl: $!";
	my $out = do { local $/; <$fh> } // '';
	close $fh;
	my ($body, $code) = $out =~ /\A(.*)\n(\d{3})\z/s;
	return (0, '') unless defined $code;
	return ($code + 0, $body);
}

# The pid of the worker with this backend_type ('' when none runs).
sub worker_pid
{
	my ($node, $type) = @_;
	return $node->safe_psql('postgres',
		"SELECT coalesce(min(pid)::text, '') FROM pg_stat_activity WHERE backend_type = '$type'");
}

# How many lines of the server log so far match $re.
sub log_count
{
	my ($node, $re) = @_;
	my $log = PostgreSQL::Test::Utils::slurp_file($node->logfile);
	my $n = () = $log =~ /$re/mg;
	return $n;
}

# Start the dev broker (tools/pinpipe-devbroker) with one topic; killed at exit.
my @brokers;
sub devbroker_start
{
	my ($partitions, $topic) = @_;
	$topic //= 'pinterest.pins';
	my $out = "$PostgreSQL::Test::Utils::tmp_check/devbroker.$$." . scalar(@brokers);
	my $pid = fork();
	die "fork: $!" unless defined $pid;
	if ($pid == 0)
	{
		open(STDOUT, '>', $out) or die;
		open(STDERR, '>', "$out.err") or die;
		exec('pinpipe-devbroker', '--partitions', $partitions, '--topic', $topic) or die;
	}
	push @brokers, $pid;
	wait_for(sub { -s $out }, 'dev broker to print its address', 20) or BAIL_OUT('dev broker');
	open(my $fh, '<', $out) or die;
	my $bootstrap = <$fh>;
	close $fh;
	chomp $bootstrap;
	return { bootstrap => $bootstrap, pid => $pid, topic => $topic };
}

END
{
	kill 'TERM', $_ for @brokers;
}

# $n real pins from the sample, each with a fresh unique_id (from $seed); one a line.
sub make_pins
{
	my ($file, $n, $seed) = @_;
	system('bash', '-c', 'source "$1"; shift; kafka_make_pins "$@" >/dev/null', 'make_pins',
		"$REPO/test/kafka_lib.sh", $file, $n, $seed) == 0
	  or die "kafka_make_pins failed";
}

# Produce every line of $file as one message, round-robin over $partitions.
sub produce
{
	my ($broker, $file, $partitions) = @_;
	system('pinpipe-devbroker', '--produce', $file, '--bootstrap', $broker->{bootstrap},
		'--topic', $broker->{topic}, '--partitions', $partitions) == 0
	  or die "produce failed";
}

# Kafka messages in database $db: pins plus dead letters.
sub kafka_consumed
{
	my ($node, $db) = @_;
	return $node->safe_psql($db,
		"SELECT (SELECT count(*) FROM pinpipe.pins WHERE source = 'kafka')
		      + (SELECT count(*) FROM pinpipe.dead_letters WHERE source = 'kafka')");
}

# Exactly $n distinct (partition, offset) in $db, none twice, raw log and pins agree.
sub kafka_check_exact
{
	my ($node, $db, $n, $what) = @_;
	my $m = "SELECT \"partition\", \"offset\" FROM pinpipe.pins WHERE source = 'kafka'
	         UNION ALL
	         SELECT \"partition\", \"offset\" FROM pinpipe.dead_letters WHERE source = 'kafka'";
	Test::More::is(kafka_consumed($node, $db), $n, "$what: pins + dead letters = produced");
	Test::More::is($node->safe_psql($db, "SELECT count(*) FROM (SELECT 1 FROM ($m) m
		GROUP BY \"partition\", \"offset\" HAVING count(*) > 1) d"), '0',
		"$what: no (partition, offset) twice");
	Test::More::is($node->safe_psql($db, "SELECT count(DISTINCT (\"partition\", \"offset\")) FROM ($m) m"),
		$n, "$what: every offset present");
	Test::More::is($node->safe_psql($db, "SELECT count(*) FROM pinpipe.raw_pins WHERE source = 'kafka'"),
		$node->safe_psql($db, "SELECT count(*) FROM pinpipe.pins WHERE source = 'kafka'"),
		"$what: raw log and pins agree");
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
