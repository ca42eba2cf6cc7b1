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
#   my $b = PinpipeTest::devbroker_start($partitions)   dev broker (tools/pinpipe-devbroker);
#       $b->{bootstrap}, $b->{topic}; stopped at exit
#   PinpipeTest::devbroker_stop($b)                    stop it (topics and messages are gone)
#   PinpipeTest::devbroker_down($b) / devbroker_up($b) every broker unreachable / back
#   PinpipeTest::devbroker_produce($b, $file, partition => $p | partitions => $n)
#       every line of $file as one message (one partition, or round-robin over $n)
#   my $bad = PinpipeTest::make_pins($file, $n, $seed [, $bad_every])
#       $n real pins with fresh unique_ids; every $bad_every-th line malformed; returns
#       how many malformed lines it wrote
#   PinpipeTest::kafka_consumed($node, $db)            kafka pins + kafka dead letters in $db
#   PinpipeTest::kafka_check_exact($node, $db, $n, 'what')
#       exactly $n distinct (partition, offset), none twice, raw log and pins agree
#   PinpipeTest::kafka_check_exact_offsets($node, $db, $n, 'what')
#       the same, and the stored offsets sum to $n
#   PinpipeTest::wait_kafka_consumed($node, $db, $n, 'what', $secs)
#       a check: $db holds $n kafka messages within $secs
#   PinpipeTest::no_crash($node, 'what')                a check: no server process crashed
#       (a signal, an abort) so far; a test that dies, and every test at its end, also
#       reports such crash lines, and stops its servers without bailing out the TAP layer
#   PinpipeTest::devbroker_produce_paced($b, $node, $db, $file, $base, $partitions, $chunk)
#       produce $file in chunks, each once the consumer caught up (the broker keeps ~5 MB
#       per partition); returns true when all was produced
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

# Server log lines of a crashed process: killed by a signal (an abort, a segfault), or the
# postmaster reinitializing after one.
my $CRASH = qr/terminated by signal \d+|was terminated by exception|Assertion .* failed|all server processes terminated; reinitializing/;
my @nodes;    # every node made by node(): checked for crashes when a test dies or ends

# The crash lines of $node's server log, or ''.
sub crash_lines
{
	my ($node) = @_;
	return '' unless -f $node->logfile;
	return join("\n", grep { /$CRASH/ } split /\n/, PostgreSQL::Test::Utils::slurp_file($node->logfile));
}

# A check: no server process of $node crashed so far (the crash lines are shown if one did).
sub no_crash
{
	my ($node, $what) = @_;
	my $lines = crash_lines($node);
	ok($lines eq '', $what) or diag("server process crashed:\n$lines");
	return $lines eq '';
}

# Whatever made a test die (often a psql call refused while the server recovers from a
# crash): say so if a server process crashed.
sub report_crashes
{
	for my $node (@nodes)
	{
		my $lines = eval { crash_lines($node) } // '';
		diag("node \"" . $node->name . "\": a server process crashed:\n$lines") if $lines ne '';
	}
}
$SIG{__DIE__} = sub { report_crashes() unless $^S; };

# Runs before PostgreSQL::Test::Cluster's own END (LIFO), whose immediate stop bails out the
# whole prove run when pg_ctl fails (e.g. after a crash): stop here without that.
END
{
	my $code = $?;
	report_crashes() if $code != 0;
	for my $node (@nodes)
	{
		eval { $node->stop('immediate', fail_ok => 1) if defined $node->{_pid}; };
	}
	$? = $code;
}

# A started cluster preloading pg_cron and pinpipe; %opt: http => 1, conf => text, preload => text.
sub node
{
	my ($name, %opt) = @_;
	my $node = PostgreSQL::Test::Cluster->new($name);
	push @nodes, $node;
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

# A check that $db holds at least $total kafka messages (pins + dead letters) within $secs.
sub wait_kafka_consumed
{
	my ($node, $db, $total, $what, $secs) = @_;
	Test::More::ok(wait_for(sub { kafka_consumed($node, $db) >= $total }, "$total consumed", $secs),
		"$what: $total consumed")
	  or Test::More::diag('consumed ' . kafka_consumed($node, $db));
}

# kafka_check_exact, and the stored offsets of $db sum to $n.
sub kafka_check_exact_offsets
{
	my ($node, $db, $n, $what) = @_;
	kafka_check_exact($node, $db, $n, $what);
	Test::More::is($node->safe_psql($db, 'SELECT coalesce(sum(next_offset), 0) FROM pinpipe.kafka_offsets'),
		$n, "$what: stored offsets sum to produced");
}

# The dev broker (tools/pinpipe-devbroker, a librdkafka mock cluster) with one topic of
# $partitions partitions; it keeps ~5 MB per partition and drops older data like retention.
my @brokers;
sub devbroker_start
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
	my $broker = { handle => $h, bootstrap => $addr, topic => $topic };
	push @brokers, $broker;
	return $broker;
}

# Stop a dev broker (its topics and messages are gone with it).
sub devbroker_stop
{
	my ($broker) = @_;
	return unless $broker->{handle}->pumpable;
	$broker->{handle}->signal('TERM');
	$broker->{handle}->finish;
}

END
{
	devbroker_stop($_) for @brokers;
}

# Take every broker of the dev cluster down (unreachable) / up again (SIGUSR1 / SIGUSR2).
sub devbroker_down { $_[0]->{handle}->signal('USR1'); }
sub devbroker_up { $_[0]->{handle}->signal('USR2'); }

# $n real pins from the sample, cycled, each with a unique_id made from $seed and its
# number; every $bad_every-th line (0 or absent: none) is malformed. The generator is
# test/kafka_lib.sh's kafka_make_pins (bench/bench_kafka.sh uses it too). Returns how
# many malformed lines it wrote.
sub make_pins
{
	my ($file, $n, $seed, $bad_every) = @_;
	my ($out, $err);
	IPC::Run::run(
		[
			'bash', '-c', 'source "$1"; shift; kafka_make_pins "$@"', 'make_pins',
			"$REPO/test/kafka_lib.sh", $file, $n, $seed, $bad_every // 0
		],
		'>', \$out, '2>', \$err) or die "kafka_make_pins failed: $err";
	chomp $out;
	return $out;
}

# Produce every line of $file as one message (partition => P, or partitions => N round-robin).
sub devbroker_produce
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

# Produce $file in chunks of $chunk lines over $partitions, each chunk only once the
# consumer of $db holds $base + everything but the last chunk before it (the dev broker
# keeps ~5 MB per partition, so an unpaced producer would outrun retention).
sub devbroker_produce_paced
{
	my ($broker, $node, $db, $file, $base, $partitions, $chunk) = @_;
	$chunk //= 10000;
	open(my $in, '<', $file) or die "$file: $!";
	my @lines = <$in>;
	close $in;
	my $dir = PostgreSQL::Test::Utils::tempdir('chunks');
	for (my ($i, $done) = (0, 0); $i < @lines; $i += $chunk)
	{
		my $need = $base + $done - $chunk;
		# (the server may be down for a while: a failed query is "not yet")
		return 0
		  unless wait_for(sub { my $c = eval { kafka_consumed($node, $db) }; defined $c && $c >= $need },
			"consumer to catch up to $need", 180);
		my $end = $i + $chunk > @lines ? $#lines : $i + $chunk - 1;
		open(my $out, '>', "$dir/chunk") or die;
		print $out @lines[ $i .. $end ];
		close $out;
		devbroker_produce($broker, "$dir/chunk", partitions => $partitions);
		$done += $end - $i + 1;
	}
	return 1;
}

1;
