# The Kafka consumer through the admin actions of issue 8 items 1 and 2, with the dev
# broker (tools/pinpipe-devbroker):
#   - pg_terminate_backend of the consumer: it exits non-zero, says why, is restarted,
#     and consumption goes on with nothing lost or doubled;
#   - DROP DATABASE ... WITH (FORCE) of pinpipe.database: the consumer waits without a
#     database (state "waiting for database", one log line, no crash loop), and once
#     the database and the extension are created again it consumes the topic into the
#     new database from the start, exactly once, without a server restart.
use strict;
use warnings;
use PostgreSQL::Test::Utils;
use Test::More;
use PinpipeTest;

my $parts = 4;
my $broker = PinpipeTest::devbroker_start($parts);
my $node = PinpipeTest::node(
	'consumer_lifecycle',
	conf => "pinpipe.database = 'pp'\n"
	  . "pinpipe.kafka_brokers = '$broker->{bootstrap}'\n"
	  . "pinpipe.batch_size = 500\n");
# the extension in postgres too: pinpipe.workers is read from there while pp is gone
$node->safe_psql('postgres', 'CREATE EXTENSION pinpipe');
$node->safe_psql('postgres', 'CREATE DATABASE pp');
$node->safe_psql('pp', 'CREATE EXTENSION pinpipe');

my $dir = $PostgreSQL::Test::Utils::tmp_check;
PinpipeTest::make_pins("$dir/p$_.jsonl", 3000, 10 + $_) for 1 .. 3;
sub consumed { return PinpipeTest::kafka_consumed($node, 'pp'); }
sub consumer_pid { return PinpipeTest::worker_pid($node, 'pinpipe consumer'); }
sub consumer_state
{
	return $node->safe_psql('postgres', "SELECT state FROM pinpipe.workers WHERE kind = 'consumer'");
}

# --- phase 1: consume, then terminate the consumer while more is produced
PinpipeTest::devbroker_produce($broker, "$dir/p1.jsonl", partitions => $parts);
ok(PinpipeTest::wait_until(sub { consumed() >= 3000 }, '3000 consumed', 120), 'phase 1 consumed');
my $pid = consumer_pid();
PinpipeTest::devbroker_produce($broker, "$dir/p2.jsonl", partitions => $parts);
$node->safe_psql('postgres', "SELECT pg_terminate_backend($pid)");
pass("terminated consumer $pid");
ok( PinpipeTest::wait_until(sub { my $p = consumer_pid(); $p ne '' && $p ne $pid }, 'new consumer', 60),
	'the postmaster started a new consumer');
ok(PinpipeTest::wait_until(sub { consumed() >= 6000 }, '6000 consumed', 180), 'consumption went on');
PinpipeTest::kafka_check_exact($node, 'pp', 6000, 'after terminate');
# Between batches the loop logs who terminated it; inside a batch's transaction the
# SIGTERM cancels the write at once and PostgreSQL's own FATAL line says why.
ok( PinpipeTest::log_count($node,
		qr/pinpipe consumer 0 terminated by process \d+, restarting|FATAL:  terminating background worker "pinpipe consumer" due to administrator command/)
	  >= 1,
	'the log says why the consumer stopped (ours between batches, PostgreSQL\'s when cancelled mid-batch)');
ok(PinpipeTest::log_count($node, qr/background worker "pinpipe consumer" \(PID $pid\) exited with exit code 1/) == 1,
	'the terminated consumer exited with code 1');

# --- phase 2: drop the database under the consumer, produce meanwhile, re-create
# (the first start may already have missed pp, created after the server: count from here)
my $missing_re = qr/pinpipe consumer 0: database "pp" \(pinpipe.database\) does not exist; checking/;
my $fatal = PinpipeTest::log_count($node, qr/FATAL:  database "pp" does not exist/);
my $missing = PinpipeTest::log_count($node, $missing_re);
$node->safe_psql('postgres', 'DROP DATABASE pp WITH (FORCE)');
pass('DROP DATABASE pp WITH (FORCE)');
PinpipeTest::devbroker_produce($broker, "$dir/p3.jsonl", partitions => $parts);
ok(PinpipeTest::wait_until(sub { consumer_state() eq 'waiting for database' }, 'waiting for database', 90),
	'the consumer waits for the database');
$pid = consumer_pid();
sleep 12;    # several restart periods (5 s): a crash loop would show a new pid
is(consumer_pid(), $pid, 'no crash loop: the consumer process is stable');
ok(PinpipeTest::log_count($node, qr/FATAL:  database "pp" does not exist/) <= $fatal + 1,
	'at most one failed connection attempt since the drop');
is(PinpipeTest::log_count($node, $missing_re), $missing + 1, 'the reason is logged once');
like($node->safe_psql('postgres', "SELECT last_error FROM pinpipe.workers WHERE kind = 'consumer'"),
	qr/does not exist/, 'pinpipe.workers shows the reason');

$node->safe_psql('postgres', 'CREATE DATABASE pp');
$node->safe_psql('pp', 'CREATE EXTENSION pinpipe');
ok(PinpipeTest::wait_until(sub { consumed() >= 9000 }, '9000 consumed into the new database', 180),
	'the consumer consumes into the new database');
PinpipeTest::kafka_check_exact($node, 'pp', 9000, 'new database');
is($node->safe_psql('pp', 'SELECT sum(next_offset) FROM pinpipe.kafka_offsets'), '9000',
	'stored offsets cover the whole topic');

$node->stop('fast');
done_testing();
