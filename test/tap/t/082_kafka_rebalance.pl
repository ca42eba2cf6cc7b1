# Two consumer workers share 4 partitions (both consume), and a rebalance in the middle
# of the stream (one worker terminated, its partitions move to the other, then it comes
# back and takes some again) loses and doubles nothing (was test/t/31_kafka_rebalance.sh).
use strict;
use warnings;
use PostgreSQL::Test::Utils;
use Test::More;
use PinpipeTest;

my $n = $ENV{KAFKA_TEST_PINS} // 40000;
my $dir = PostgreSQL::Test::Utils::tempdir('rebalance');
my $broker = PinpipeTest::devbroker_start(4);
PinpipeTest::make_pins("$dir/p$_.jsonl", $n, 10 + $_, 100) for 1 .. 3;

my $node = PinpipeTest::node(
	'rebalance',
	conf => "pinpipe.kafka_brokers = '$broker->{bootstrap}'\n"
	  . "pinpipe.consumer_workers = 2\npinpipe.batch_size = 500\n");
sub sql { return $node->safe_psql('postgres', $_[0]); }
sub consumed { return PinpipeTest::kafka_consumed($node, 'postgres'); }
sql('CREATE EXTENSION pinpipe');

# Both workers must hold partitions before data arrives, so both consume.
ok( PinpipeTest::wait_for(
		sub { sql("SELECT count(*) FROM pinpipe.workers WHERE kind = 'consumer' AND partitions = 2") == 2 },
		'both consumers assigned 2 partitions', 60),
	'both consumers assigned 2 partitions')
  or diag(sql("SELECT string_agg(number || ':' || partitions, ' ') FROM pinpipe.workers"));
PinpipeTest::devbroker_produce($broker, "$dir/p1.jsonl", partitions => 4);
PinpipeTest::wait_kafka_consumed($node, 'postgres', $n, 'phase 1', 120);
PinpipeTest::kafka_check_exact_offsets($node, 'postgres', $n, 'two workers');
is(sql("SELECT count(*) FROM pinpipe.workers WHERE kind = 'consumer' AND rows > 0"), '2', 'both workers consumed');
is(sql('SELECT count(*) FROM pinpipe.consumer_partition_status WHERE lag = 0'),
	'4', "each partition written by exactly one worker's batches (offsets cover it)");

# Rebalance mid-stream: terminate worker 1 while a backlog is being consumed.
PinpipeTest::devbroker_produce($broker, "$dir/p2.jsonl", partitions => 4);
my $total = 2 * $n;
ok(PinpipeTest::wait_for(sub { consumed() > $n + 1000 }, 'phase 2 under way', 60), 'phase 2 under way');
my $pid1 = sql("SELECT pid FROM pinpipe.workers WHERE kind = 'consumer' AND number = 1");
is(sql("SELECT pg_terminate_backend($pid1)"), 't', 'terminate consumer 1');
# Worker 0 takes all 4 partitions when the group drops worker 1, or worker 1 is restarted
# (bgw_restart_time 5 s) and the group rebalances again; either way consumption completes.
PinpipeTest::wait_kafka_consumed($node, 'postgres', $total, 'phase 2', 150);
PinpipeTest::kafka_check_exact_offsets($node, 'postgres', $total, 'after a rebalance');

# Once worker 1 is back, both share the partitions again and a third backlog is split.
ok( PinpipeTest::wait_for(
		sub {
			sql("SELECT count(*) FROM pinpipe.workers
			      WHERE kind = 'consumer' AND partitions = 2 AND pid <> $pid1") == 2;
		},
		'both consumers assigned again', 90),
	'both consumers assigned again')
  or diag(sql("SELECT string_agg(number || ':' || partitions || ':' || state, ' ') FROM pinpipe.workers"));
my $rows = "SELECT string_agg(rows::text, ',' ORDER BY number) FROM pinpipe.workers WHERE kind = 'consumer'";
my $before = sql($rows);
PinpipeTest::devbroker_produce($broker, "$dir/p3.jsonl", partitions => 4);
$total = 3 * $n;
PinpipeTest::wait_kafka_consumed($node, 'postgres', $total, 'phase 3', 120);
PinpipeTest::kafka_check_exact_offsets($node, 'postgres', $total, 'after rejoining');
is(sql("SELECT rows > 0 FROM pinpipe.workers WHERE kind = 'consumer' AND number = 1"), 't',
	'restarted worker consumes again');
note("rows per worker before phase 3: $before; after: " . sql($rows));
note('batch errors per worker: '
	  . sql("SELECT string_agg(number || ':' || errors || ' ' || coalesce(last_error, ''), '; ')
	           FROM pinpipe.workers WHERE kind = 'consumer'"));

$node->stop;
done_testing();
