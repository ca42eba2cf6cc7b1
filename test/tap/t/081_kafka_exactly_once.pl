# Kafka -> tables, exactly once (was test/t/30_kafka_exactly_once.sh): 100,000 real pins
# (1% malformed) over 4 partitions through the dev broker; then a kill -9 of the consumer
# worker mid-stream and an immediate-mode stop of the whole server mid-stream. After each,
# every message is in pins or dead_letters exactly once, and the stored offsets match.
# (The dev broker retains ~5 MB per partition, so producers pace themselves.)
use strict;
use warnings;
use POSIX ();
use PostgreSQL::Test::Utils;
use Test::More;
use PinpipeTest;

my $n1 = $ENV{KAFKA_TEST_PINS} // 100000;
my $n2 = int($n1 / 2);
my $n3 = int($n1 / 2);
my $dir = PostgreSQL::Test::Utils::tempdir('exactly_once');
my $broker = PinpipeTest::devbroker_start(4);
my $bad1 = PinpipeTest::make_pins("$dir/p1.jsonl", $n1, 1, 100);
my $bad2 = PinpipeTest::make_pins("$dir/p2.jsonl", $n2, 2, 100);
my $bad3 = PinpipeTest::make_pins("$dir/p3.jsonl", $n3, 3, 100);
is($bad1, int($n1 / 100), 'generator wrote 1% malformed');

my $node = PinpipeTest::node(
	'exactly_once',
	conf => "pinpipe.kafka_brokers = '$broker->{bootstrap}'\npinpipe.batch_size = 2000\n"
	  # the kill -9 of a worker is survived by the postmaster's crash restart, which
	  # PostgreSQL::Test::Cluster turns off by default
	  . "restart_after_crash = on\n");
sub sql { return $node->safe_psql('postgres', $_[0]); }
sub consumed { return PinpipeTest::kafka_consumed($node, 'postgres'); }
sql('CREATE EXTENSION pinpipe');

# Produce $file paced in a child process (the test goes on meanwhile); returns its pid.
sub produce_in_background
{
	my ($file, $base) = @_;
	my $pid = fork();
	die "fork: $!" unless defined $pid;
	return $pid if $pid;
	# the child leaves through _exit: the parent's END blocks (clusters, brokers) are not its own
	my $done = eval { PinpipeTest::devbroker_produce_paced($broker, $node, 'postgres', $file, $base, 4, 5000) };
	POSIX::_exit($done ? 0 : 1);
}

# --- phase 1: 100,000 messages
ok(PinpipeTest::devbroker_produce_paced($broker, $node, 'postgres', "$dir/p1.jsonl", 0, 4),
	"produced $n1 messages");
PinpipeTest::wait_kafka_consumed($node, 'postgres', $n1, 'phase 1', 150);
PinpipeTest::kafka_check_exact_offsets($node, 'postgres', $n1, '100k messages');
is(sql("SELECT count(*) >= $bad1 FROM pinpipe.dead_letters WHERE source = 'kafka'"), 't',
	'malformed messages are dead letters');
is(sql('SELECT count(*) FROM pinpipe.dead_letters WHERE error IS NULL OR sqlstate IS NULL OR "offset" IS NULL'),
	'0', 'dead letters say why');
is(sql("SELECT sum(rows) + sum(dead_letters) FROM pinpipe.workers WHERE kind = 'consumer'"), $n1,
	'worker counters match the tables');
ok(PinpipeTest::wait_for(sub { sql("SELECT lag FROM pinpipe.workers WHERE kind = 'consumer'") eq '0' }, 'lag 0', 10),
	'lag is zero at the end')
  or diag('lag: ' . sql('SELECT lag FROM pinpipe.workers'));
is(sql('SELECT count(*) FROM pinpipe.consumer_partition_status WHERE committed_offset = high_watermark'),
	'4', 'per-partition view: 4 partitions, committed = high watermark');

# --- phase 2: kill -9 of the consumer worker mid-stream (the postmaster then resets everything)
my $total = $n1 + $n2;
my $producer = produce_in_background("$dir/p2.jsonl", $n1);
ok(PinpipeTest::wait_for(sub { consumed() > $n1 + 6000 }, 'phase 2 under way', 60), 'phase 2 under way');
my $pid = sql("SELECT pid FROM pinpipe.workers WHERE kind = 'consumer'");
my $mid = consumed();
ok(kill('KILL', $pid), "kill -9 consumer $pid at $mid/$total");
is(waitpid($producer, 0) == $producer && $? == 0, 1, 'phase 2 produced');
PinpipeTest::wait_kafka_consumed($node, 'postgres', $total, 'phase 2', 120);
PinpipeTest::kafka_check_exact_offsets($node, 'postgres', $total, 'after kill -9');
is(sql("SELECT pid <> $pid FROM pinpipe.workers WHERE kind = 'consumer'"), 't', 'a new consumer process');

# --- phase 3: immediate stop of the whole server mid-stream, then start
my $base = $total;
$total += $n3;
$producer = produce_in_background("$dir/p3.jsonl", $base);
ok(PinpipeTest::wait_for(sub { consumed() > $base + 6000 }, 'phase 3 under way', 60), 'phase 3 under way');
$mid = consumed();
$node->stop('immediate');
pass("immediate stop at $mid/$total");
$node->start;
is(waitpid($producer, 0) == $producer && $? == 0, 1, 'phase 3 produced');
PinpipeTest::wait_kafka_consumed($node, 'postgres', $total, 'phase 3', 120);
PinpipeTest::kafka_check_exact_offsets($node, 'postgres', $total, 'after immediate stop');
is(sql("SELECT count(*) >= " . ($bad1 + $bad2 + $bad3) . " FROM pinpipe.dead_letters WHERE source = 'kafka'"),
	't', 'all malformed messages dead-lettered');

$node->stop;
done_testing();
