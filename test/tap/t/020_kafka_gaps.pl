# Kafka offsets outside the partition's log, for real (issue 8, items 3 and 4):
# the dev broker keeps ~5 MB per partition, so producing 60,000 pins while the
# server is down moves partition 0's log start past its stored offset (retention);
# a new dev broker is a re-created, empty topic (stored offsets past the log end).
# Checks each pinpipe.offset_out_of_range mode (earliest, latest, pause), the
# WARNING, the kafka_gaps row, the skipped-messages metric, the paused state,
# and pinpipe.reset_offsets by timestamp and by offset on a running worker;
# outside the recorded gaps, every offset is stored exactly once.
use strict;
use warnings;
use PostgreSQL::Test::Utils;
use Test::More;
use PinpipeTest;

my $topic = 'pinterest.pins';
my $broker = PinpipeTest::devbroker_start(2);
my $dir = PostgreSQL::Test::Utils::tempdir('gaps');
my $seed = 1;

# A file of $n fresh pins.
sub pins
{
	my ($n) = @_;
	my $file = "$dir/pins$seed.jsonl";
	PinpipeTest::make_pins($file, $n, $seed++);
	return $file;
}

my $node = PinpipeTest::node(
	'gaps',
	http => 1,
	conf => "pinpipe.kafka_brokers = '$broker->{bootstrap}'\n"
	  . "pinpipe.batch_size = 1000\npinpipe.batch_timeout_ms = 50\n");
my $port = $node->{pinpipe_http_port};
$node->safe_psql('postgres', 'CREATE EXTENSION pinpipe');

sub sql { return $node->safe_psql('postgres', $_[0]); }

# "count|distinct offsets" of the pins of a partition in [lo, hi).
sub stored_range
{
	my ($p, $lo, $hi) = @_;
	return sql(
		"SELECT count(*) || '|' || count(DISTINCT \"offset\") FROM pinpipe.pins
		  WHERE source = 'kafka' AND \"partition\" = $p AND \"offset\" >= $lo AND \"offset\" < $hi");
}
sub pins_of { return sql("SELECT count(*) FROM pinpipe.pins WHERE source = 'kafka' AND \"partition\" = $_[0]"); }
sub stored_offset
{
	return sql("SELECT next_offset FROM pinpipe.kafka_offsets WHERE topic = '$topic' AND \"partition\" = $_[0]");
}
sub wait_pins
{
	my ($p, $n, $what) = @_;
	ok(PinpipeTest::wait_for(sub { pins_of($p) == $n }, $what, 120), $what)
	  or diag('partition ' . $p . ' has ' . pins_of($p) . " pins, expected $n");
}
sub metrics { return `curl -s http://127.0.0.1:$port/metrics`; }
sub log_since { return substr(PostgreSQL::Test::Utils::slurp_file($node->logfile), $_[0]); }

# --- 100 pins per partition consumed
PinpipeTest::devbroker_produce($broker, pins(200), partitions => 2);
wait_pins(0, 100, 'partition 0: 100 pins');
wait_pins(1, 100, 'partition 1: 100 pins');

# --- earliest (default): retention passes the stored offset while the server is down
$node->stop;
PinpipeTest::devbroker_produce($broker, pins(60000), partition => 0);
PinpipeTest::devbroker_produce($broker, pins(50), partition => 1);
my $log = -s $node->logfile;
$node->start;
ok( PinpipeTest::wait_for(
		sub { sql("SELECT count(*) FROM pinpipe.kafka_gaps") == 1 }, 'the gap row', 120),
	'earliest: one gap row');
my ($from, $to, $skipped, $reason) = split /\|/,
  sql("SELECT from_offset, to_offset, skipped, reason FROM pinpipe.kafka_gaps WHERE \"partition\" = 0");
is($from, 100, 'gap starts at the stored offset');
cmp_ok($to, '>', 100, "gap ends at the log start ($to)");
cmp_ok($to, '<', 60100, 'the log still holds the newest messages');
is($skipped, $to - 100, 'skipped = to - from');
is($reason, 'log_start_passed', 'reason');
wait_pins(0, 100 + 60100 - $to, 'partition 0: everything after the gap');
wait_pins(1, 150, 'partition 1: all its messages');
is(stored_range(0, 0, 100), '100|100', 'before the gap: each offset once');
is(stored_range(0, 100, $to), '0|0', 'inside the gap: nothing');
is(stored_range(0, $to, 60100), (60100 - $to) . '|' . (60100 - $to), 'after the gap: each offset once');
ok(PinpipeTest::wait_for(sub { stored_offset(0) == 60100 }, 'stored offset 60100'), 'stored offset is the log end');
like(log_since($log),
	qr/WARNING:  pinpipe consumer 0: skipping offsets 100 to offset $to of partition 0 of topic "pinterest.pins"/,
	'WARNING names the range, the partition and the topic');
like(metrics(), qr/^pinpipe_consumer_skipped_messages_total\{topic="pinterest.pins",partition="0"\} $skipped$/m,
	'metric counts the skipped messages');
is(sql("SELECT count(*) FROM pinpipe.dead_letters"), 0, 'no dead letters');

# --- latest: the consumer goes on at the log end; the gap row comes with the first batch after it
sql("ALTER SYSTEM SET pinpipe.offset_out_of_range = 'latest'");
$node->stop;
PinpipeTest::devbroker_produce($broker, pins(60000), partition => 0);    # log end 120100
$log = -s $node->logfile;
$node->start;
ok( PinpipeTest::wait_for(sub { log_since($log) =~ /skipping offsets 60100 to offset 120100 of partition 0/ },
		'latest WARNING', 120),
	'latest: WARNING for [60100, 120100)');
PinpipeTest::devbroker_produce($broker, pins(30), partition => 0);
wait_pins(0, 100 + 60100 - $to + 30, 'latest: only the 30 new messages');
is(stored_range(0, 120100, 120130), '30|30', 'latest: the new messages, each once');
is(sql("SELECT from_offset || '-' || to_offset || ' ' || skipped || ' ' || reason
          FROM pinpipe.kafka_gaps WHERE from_offset = 60100"),
	'60100-120100 60000 log_start_passed', 'latest: gap row [60100, 120100)');
like(metrics(), qr/^pinpipe_consumer_skipped_messages_total\{topic="pinterest.pins",partition="0"\} 60000$/m,
	'latest: metric');

# --- pause: partition 0 stops, partition 1 goes on, until reset_offsets
sql("ALTER SYSTEM SET pinpipe.offset_out_of_range = 'pause'");
$node->stop;
PinpipeTest::devbroker_produce($broker, pins(60000), partition => 0);    # log end 180130
PinpipeTest::devbroker_produce($broker, pins(40), partition => 1);
$log = -s $node->logfile;
$node->start;
my $p0 = pins_of(0);
wait_pins(1, 190, 'pause: partition 1 goes on');
ok( PinpipeTest::wait_for(
		sub { sql("SELECT paused FROM pinpipe.consumer_partition_status WHERE \"partition\" = 0") eq 't' },
		'partition 0 paused'),
	'pause: consumer_partition_status shows partition 0 paused');
is(sql("SELECT paused FROM pinpipe.consumer_partition_status WHERE \"partition\" = 1"), 'f', 'partition 1 not paused');
like(sql("SELECT state FROM pinpipe.workers WHERE kind = 'consumer'"), qr/1 partition\(s\) paused/,
	'pause: pinpipe.workers says so');
like(metrics(), qr/^pinpipe_consumer_partition_paused\{worker="0",topic="pinterest.pins",partition="0"\} 1$/m,
	'pause: /metrics says so');
like(log_since($log),
	qr/WARNING:  pinpipe consumer 0: partition 0 of topic "pinterest.pins" paused: stored offset 120130 is below/,
	'pause: WARNING');
PinpipeTest::devbroker_produce($broker, pins(20), partition => 0);    # log end 180150
PinpipeTest::devbroker_produce($broker, pins(10), partition => 1);
wait_pins(1, 200, 'pause: partition 1 still consumed');
is(pins_of(0), $p0, 'pause: nothing read from partition 0');
is(stored_offset(0), 120130, 'pause: stored offset unchanged');
is(sql("SELECT count(*) FROM pinpipe.kafka_gaps WHERE from_offset = 120130"), 0, 'pause: no gap row');

# --- reset_offsets: bad arguments and privileges
my %bad = (
	"pinpipe.reset_offsets('$topic')" => '22023',
	"pinpipe.reset_offsets('$topic', to_offset => 1, to_timestamp => now())" => '22023',
	"pinpipe.reset_offsets('$topic', to_offset => -1)" => '22023',
	"pinpipe.reset_offsets('', to_offset => 1)" => '22023',
	"pinpipe.reset_offsets('$topic', to_offset => 0, \"partition\" => -1)" => '22023',
	"pinpipe.reset_offsets('$topic', to_offset => 0, \"partition\" => 7)" => '22023',
	"pinpipe.reset_offsets('$topic', to_offset => 999999999, \"partition\" => 0)" => '22003',
	"pinpipe.reset_offsets('$topic', to_offset => 0, \"partition\" => 0)" => '22003',  # below the log start
	"pinpipe.reset_offsets('no.such.topic', to_offset => 0)" => '42704',
	"pinpipe.reset_offsets('$topic', to_timestamp => '-infinity')" => '22008',
);
for my $call (sort keys %bad)
{
	my ($ret, $out, $err) = $node->psql('postgres',
		"\\set VERBOSITY verbose\nSELECT * FROM $call");
	like($err, qr/ERROR:  $bad{$call}:/, "$call fails with $bad{$call}");
}
sql("CREATE ROLE plain LOGIN; GRANT USAGE ON SCHEMA pinpipe TO plain");
my ($ret, $out, $err) = $node->psql('postgres',
	"\\set VERBOSITY verbose\nSET ROLE plain;\nSELECT * FROM pinpipe.reset_offsets('$topic', to_offset => 0)");
like($err, qr/ERROR:  42501: permission denied for function reset_offsets/, 'reset_offsets is not granted to PUBLIC');
is(stored_offset(0), 120130, 'failed calls moved nothing');

# --- by timestamp on the running worker: no message after that time = the log end; resumes the pause
is(sql("SELECT partition_id || ':' || previous_offset || '->' || next_offset
          FROM pinpipe.reset_offsets('$topic', to_timestamp => now() + interval '1 hour', \"partition\" => 0)"),
	'0:120130->180150', 'reset by timestamp: partition 0 to the log end');
ok( PinpipeTest::wait_for(
		sub { sql("SELECT paused FROM pinpipe.consumer_partition_status WHERE \"partition\" = 0") eq 'f' },
		'partition 0 resumed'),
	'reset resumed the paused partition');
PinpipeTest::devbroker_produce($broker, pins(5), partition => 0);    # 180150 .. 180154
wait_pins(0, $p0 + 5, 'after the reset: the new messages of partition 0');
is(stored_range(0, 120130, 180155), '5|5', 'after the reset: only offsets from 180150, each once');
is(sql("SELECT from_offset || '-' || to_offset || ' ' || skipped || ' ' || reason
          FROM pinpipe.kafka_gaps WHERE reason = 'reset_offsets'"),
	'120130-180150 60020 reset_offsets', 'the skip is recorded in kafka_gaps');

# --- by offset on the running worker: replay partition 1 from 150 (after deleting those rows)
sql("DELETE FROM pinpipe.pins WHERE source = 'kafka' AND \"partition\" = 1 AND \"offset\" >= 150;
     DELETE FROM pinpipe.raw_pins WHERE source = 'kafka' AND \"partition\" = 1 AND \"offset\" >= 150");
is(pins_of(1), 150, 'replay: 50 rows deleted');
is(sql("SELECT previous_offset || '->' || next_offset
          FROM pinpipe.reset_offsets('$topic', to_offset => 150, \"partition\" => 1)"),
	'200->150', 'reset by offset: partition 1 back to 150');
wait_pins(1, 200, 'replay: the running worker read them again');
is(stored_range(1, 0, 200), '200|200', 'replay: each offset once');
ok(PinpipeTest::wait_for(sub { stored_offset(1) == 200 }, 'stored offset 200'), 'replay: stored offset 200');

# --- past the log end: a re-created (empty) topic; both partitions paused (the mode is still
# pause: both fail in the same fetch), then a reload with earliest resumes them at the new
# log's start. Each of these restarts every fetcher at once: librdkafka (up to 2.15) aborted
# the consumer process when the restarts overlapped (docs/kafka.md, "Fetch restarts").
$node->stop;
PinpipeTest::devbroker_stop($broker);
$broker = PinpipeTest::devbroker_start(2);
$node->append_conf('postgresql.conf', "pinpipe.kafka_brokers = '$broker->{bootstrap}'\n");
$log = -s $node->logfile;
$node->start;
my $consumer_pid = PinpipeTest::worker_pid($node, 'pinpipe consumer');
PinpipeTest::devbroker_produce($broker, pins(8), partition => 1);    # new log [0, 8); stored 200
ok( PinpipeTest::wait_for(
		sub { sql("SELECT count(*) FROM pinpipe.consumer_partition_status WHERE paused") == 2 },
		'both partitions paused', 120),
	're-created topic under pause: both partitions paused');
like(log_since($log), qr/partition 1 of topic "pinterest.pins" paused: stored offset 200 is past the end of/,
	're-created topic under pause: WARNING');
PinpipeTest::no_crash($node, 're-created topic under pause: no server process crashed');
sql("ALTER SYSTEM SET pinpipe.offset_out_of_range = 'earliest'");
sql("SELECT pg_reload_conf()");
ok( PinpipeTest::wait_for(
		sub { sql("SELECT count(*) FROM pinpipe.kafka_gaps WHERE reason = 'log_end_passed'") == 1 },
		'rewind row', 180),
	're-created topic: a log_end_passed row');
is(sql("SELECT from_offset || '-' || to_offset || ' ' || skipped FROM pinpipe.kafka_gaps
         WHERE reason = 'log_end_passed' AND \"partition\" = 1"),
	'200-0 0', 're-created topic: rewind from 200 to 0, nothing of the new log skipped');
ok( PinpipeTest::wait_for(
		sub { sql("SELECT count(*) FROM pinpipe.dead_letters WHERE \"partition\" = 1 AND sqlstate = '23505'") == 8 },
		'duplicates dead-lettered', 180),
	're-created topic: offsets pinpipe already holds are dead-lettered as duplicates');
is(stored_range(1, 0, 200), '200|200', 're-created topic: nothing stored twice');
ok(PinpipeTest::wait_for(sub { stored_offset(1) == 8 }, 'stored offset 8', 180),
	're-created topic: stored offset follows the new log');
like(log_since(0), qr/WARNING:  pinpipe consumer 0: stored offset 200 of partition 1 of topic "pinterest.pins" is past the end of its log \[0, \d+\)/,
	're-created topic: WARNING');
PinpipeTest::no_crash($node, 'no server process crashed');
is(PinpipeTest::worker_pid($node, 'pinpipe consumer'), $consumer_pid, 'the same consumer process throughout');

$node->stop;
PinpipeTest::devbroker_stop($broker);
done_testing();
