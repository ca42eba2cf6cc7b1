# Every partition of a worker out of range at once, over and over (issue 8, item 3): the
# stored offsets of both partitions jump past their logs' end (what a re-created topic looks
# like to the consumer), both fail in the same fetch and pause; then they resume, by
# pinpipe.reset_offsets (and, last, by a reload with pinpipe.offset_out_of_range = earliest). Each step
# restarts every fetcher of the worker, often twice in a row; librdkafka (up to 2.15) aborted
# the consumer process when such restarts overlapped. Checks, each round: both paused, both
# resumed, new messages stored exactly once, no server process crashed, the same consumer.
use strict;
use warnings;
use PostgreSQL::Test::Utils;
use Test::More;
use PinpipeTest;

my $topic = 'pinterest.pins';
my $rounds = 8;
my $broker = PinpipeTest::devbroker_start(2);
my $dir = PostgreSQL::Test::Utils::tempdir('pauseall');
my $seed = 1;

my $node = PinpipeTest::node(
	'pauseall',
	conf => "pinpipe.kafka_brokers = '$broker->{bootstrap}'\n"
	  . "pinpipe.batch_size = 100\npinpipe.batch_timeout_ms = 50\n"
	  . "pinpipe.offset_out_of_range = 'pause'\n");
$node->safe_psql('postgres', 'CREATE EXTENSION pinpipe');
sub sql { return $node->safe_psql('postgres', $_[0]); }

# $n fresh pins to partition $p.
sub produce
{
	my ($p, $n) = @_;
	my $file = "$dir/pins$seed.jsonl";
	PinpipeTest::make_pins($file, $n, $seed++);
	PinpipeTest::devbroker_produce($broker, $file, partition => $p);
}
sub paused { return sql("SELECT count(*) FROM pinpipe.consumer_partition_status WHERE paused"); }
sub stored
{
	return sql("SELECT string_agg(\"partition\" || ':' || next_offset, ' ' ORDER BY \"partition\")
	              FROM pinpipe.kafka_offsets WHERE topic = '$topic'");
}
sub pins { return sql("SELECT count(*) || '|' || count(DISTINCT (\"partition\", \"offset\")) FROM pinpipe.pins WHERE source = 'kafka'"); }

produce($_, 10) for (0, 1);
ok(PinpipeTest::wait_for(sub { stored() eq '0:10 1:10' }, 'first messages', 120), 'both partitions consumed')
  or diag('stored offsets: ' . stored());
my $pid = PinpipeTest::worker_pid($node, 'pinpipe consumer');
isnt($pid, '', 'the consumer runs');

# Both partitions past their log's end, both paused; resumed by $how; a new message each.
sub round
{
	my ($round, $how) = @_;
	my $end = 10 + $round - 1;    # each partition's log end
	sql("UPDATE pinpipe.kafka_offsets SET next_offset = next_offset + 1000000 WHERE topic = '$topic'");
	ok(PinpipeTest::wait_for(sub { paused() == 2 }, "round $round: both paused", 120),
		"round $round: both partitions paused")
	  or diag('paused partitions: ' . paused());
	if ($how eq 'reset_offsets')
	{
		is(sql("SELECT count(*) FROM pinpipe.reset_offsets('$topic', to_timestamp => now() + interval '1 hour')"),
			2, "round $round: reset_offsets moves both partitions");
	}
	else
	{
		sql("ALTER SYSTEM SET pinpipe.offset_out_of_range = 'earliest'");
		sql("SELECT pg_reload_conf()");
	}
	ok(PinpipeTest::wait_for(sub { paused() == 0 }, "round $round: resumed", 120),
		"round $round: both partitions resumed ($how)");
	produce($_, 1) for (0, 1);
	my $want = ($end + 1) * 2;
	ok( PinpipeTest::wait_for(sub { stored() eq "0:" . ($end + 1) . " 1:" . ($end + 1) }, "round $round: caught up", 120),
		"round $round: both partitions read the new message")
	  or diag('stored offsets: ' . stored());
	is(pins(), "$want|$want", "round $round: every offset stored exactly once");
	my $ok = PinpipeTest::no_crash($node, "round $round: no server process crashed");
	is(PinpipeTest::worker_pid($node, 'pinpipe consumer'), $pid, "round $round: the same consumer process");
	return $ok;
}

for my $round (1 .. $rounds)
{
	round($round, 'reset_offsets') or last;
}
# the last round resumes by a reload: earliest rereads both logs from their start (what
# pinpipe holds already is dead-lettered as duplicates)
round($rounds + 1, 'reload earliest');
ok(sql("SELECT count(*) FROM pinpipe.kafka_gaps WHERE reason = 'log_end_passed'") >= 1,
	'the rewind is recorded in kafka_gaps');

$node->stop;
PinpipeTest::devbroker_stop($broker);
done_testing();
