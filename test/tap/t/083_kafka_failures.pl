# Kafka consumer failure behaviour (was test/t/32_kafka_failures.sh): broker unreachable
# at start (then available: consumption starts without a restart); broker down mid-stream
# and back; a poison record that fails at insert time (not at parsing) ends in dead
# letters while the rest continues; an oversize message is dead-lettered; SIGHUP reloads
# settings; a database error rolls the batch back and retries it; the extension dropped
# and created again makes the worker idle, then resume; SIGTERM ends it promptly.
use strict;
use warnings;
use JSON::PP;
use PostgreSQL::Test::Utils;
use Test::More;
use PinpipeTest;

my $n = $ENV{KAFKA_TEST_PINS} // 5000;
my $dir = PostgreSQL::Test::Utils::tempdir('failures');
my $json = JSON::PP->new->utf8->ascii->canonical;
my $broker = PinpipeTest::devbroker_start(4);
PinpipeTest::make_pins("$dir/p1.jsonl", $n, 21);
PinpipeTest::make_pins("$dir/p2.jsonl", $n, 22);
PinpipeTest::devbroker_produce($broker, "$dir/p1.jsonl", partitions => 4);

sub uuid { my $u = PostgreSQL::Test::Utils::slurp_file('/proc/sys/kernel/random/uuid'); chomp $u; return $u; }
# The first $count pins of $from, each with a fresh unique_id, passed through $edit.
sub rewrite
{
	my ($from, $to, $count, $edit) = @_;
	open(my $in, '<', $from) or die;
	open(my $out, '>', $to) or die;
	for my $i (0 .. $count - 1)
	{
		my $p = $json->decode(scalar <$in>);
		$p->{unique_id} = uuid();
		$edit->($p, $i) if $edit;
		print $out $json->encode($p), "\n";
	}
	close $out;
	close $in;
}

# --- broker unreachable at start
PinpipeTest::devbroker_down($broker);
my $node = PinpipeTest::node(
	'failures',
	conf => "pinpipe.kafka_brokers = '$broker->{bootstrap}'\n"
	  . "pinpipe.batch_size = 500\npinpipe.max_message_bytes = 2048\n");
sub sql { return $node->safe_psql('postgres', $_[0]); }
sub consumed { return PinpipeTest::kafka_consumed($node, 'postgres'); }
sub state { return sql("SELECT state FROM pinpipe.workers WHERE kind = 'consumer'"); }
sub consumer_pid { return sql("SELECT pid FROM pinpipe.workers WHERE kind = 'consumer'"); }
sql('CREATE EXTENSION pinpipe');

ok(PinpipeTest::wait_for(sub { state() eq 'broker unreachable' }, "state 'broker unreachable'", 60),
	"state 'broker unreachable'")
  or diag('state is ' . state());
is(consumed(), '0', 'nothing consumed while the broker is down');
is(PinpipeTest::log_count($node, qr/pinpipe consumer 0: broker unreachable/), 1, 'state change logged once');
PinpipeTest::devbroker_up($broker);
PinpipeTest::wait_kafka_consumed($node, 'postgres', $n, 'the broker came up', 120);
PinpipeTest::kafka_check_exact_offsets($node, 'postgres', $n, 'broker up late');
is(state(), 'consuming', 'state consuming');

# --- broker down mid-stream, then back
PinpipeTest::devbroker_produce($broker, "$dir/p2.jsonl", partitions => 4);
PinpipeTest::devbroker_down($broker);
ok(PinpipeTest::wait_for(sub { state() eq 'broker unreachable' }, "state 'broker unreachable' mid-stream", 60),
	"state 'broker unreachable' mid-stream")
  or diag('state is ' . state());
my $pid = consumer_pid();
PinpipeTest::devbroker_up($broker);
PinpipeTest::wait_kafka_consumed($node, 'postgres', 2 * $n, 'after the outage', 120);
PinpipeTest::kafka_check_exact_offsets($node, 'postgres', 2 * $n, 'broker outage');
is(consumer_pid(), $pid, 'same worker process throughout the outage');

# --- a poison record that fails at insert time, between good ones
sql("ALTER TABLE pinpipe.pins ADD CONSTRAINT no_poison CHECK (title IS DISTINCT FROM 'POISON PIN')");
my @good;
rewrite("$dir/p1.jsonl", "$dir/p3.jsonl", 300,
	sub {
		my ($p, $i) = @_;
		if ($i == 150) { $p->{title} = 'POISON PIN'; }
		else { push @good, $p->{unique_id}; }
	});
PinpipeTest::devbroker_produce($broker, "$dir/p3.jsonl", partitions => 1);
my $total = 2 * $n + 300;
PinpipeTest::wait_kafka_consumed($node, 'postgres', $total, 'poison record', 60);
PinpipeTest::kafka_check_exact_offsets($node, 'postgres', $total, 'poison record');
is(sql("SELECT sqlstate || ' ' || (payload LIKE '%POISON PIN%') FROM pinpipe.dead_letters WHERE sqlstate = '23514'"),
	'23514 true', 'poison record dead-lettered with its SQLSTATE');
is(sql('SELECT count(*) FROM pinpipe.pins WHERE unique_id IN (' . join(',', map { "'$_'" } @good) . ')'),
	'299', 'the 299 around it accepted');

# --- SIGHUP: settings reload in the running worker, which keeps consuming
$node->append_conf('postgresql.conf', "pinpipe.batch_size = 100\n");
$node->reload;
ok( PinpipeTest::wait_for(
		sub { PinpipeTest::log_count($node, qr/parameter "pinpipe.batch_size" changed to "100"/) > 0 },
		'reload logged', 30),
	'reload logged');

# --- oversize message (pinpipe.max_message_bytes = 2048 here)
rewrite("$dir/p1.jsonl", "$dir/big.jsonl", 1,
	sub { $_[0]->{description} = 'x' x 4000; $_[0]->{unique_id} = '00000000-0000-4000-8000-0000000000aa'; });
PinpipeTest::devbroker_produce($broker, "$dir/big.jsonl", partitions => 1);
$total++;
PinpipeTest::wait_kafka_consumed($node, 'postgres', $total, 'oversize message', 60);
is(sql("SELECT sqlstate || ' ' || length(payload_bytes) FROM pinpipe.dead_letters WHERE sqlstate = '54000'"),
	'54000 1024', 'oversize message dead-lettered, first KiB kept');
is(consumer_pid(), $pid, 'same worker process after the reload');

# --- a database error that is not about a record: the batch rolls back and is retried
sql(q{CREATE FUNCTION test_block_offsets() RETURNS trigger LANGUAGE plpgsql AS
        $$ BEGIN RAISE EXCEPTION 'offsets blocked by the test' USING ERRCODE = '55P03'; END $$;
      CREATE TRIGGER block_offsets BEFORE INSERT OR UPDATE ON pinpipe.kafka_offsets
        FOR EACH ROW EXECUTE FUNCTION test_block_offsets()});
my $errors = "SELECT errors FROM pinpipe.workers WHERE kind = 'consumer'";
my $errors0 = sql($errors);
rewrite("$dir/p2.jsonl", "$dir/p4.jsonl", 50);
PinpipeTest::devbroker_produce($broker, "$dir/p4.jsonl", partitions => 4);
ok(PinpipeTest::wait_for(sub { sql($errors) >= $errors0 + 2 }, 'failed attempts counted', 60),
	'failed attempts counted');
is(state(), 'retrying batch', 'state while failing');
is(sql("SELECT last_error FROM pinpipe.workers WHERE kind = 'consumer'"), 'offsets blocked by the test',
	'last_error recorded');
is(consumed(), $total, 'nothing of the failing batch committed');
sql('DROP TRIGGER block_offsets ON pinpipe.kafka_offsets');
$total += 50;
PinpipeTest::wait_kafka_consumed($node, 'postgres', $total, 'after the retry', 60);
PinpipeTest::kafka_check_exact_offsets($node, 'postgres', $total, 'retried batch');
is(consumer_pid(), $pid, 'same worker process through the retries');

# --- extension dropped: the worker idles; created again: it consumes the topic again
my $idle_re = qr/pinpipe consumer 0: waiting for extension/;
my $idle_logs = PinpipeTest::log_count($node, $idle_re);
sql('DROP EXTENSION pinpipe');
ok(PinpipeTest::wait_for(sub { PinpipeTest::log_count($node, $idle_re) > $idle_logs }, 'worker idles', 60),
	'worker idles without the extension');
sql('CREATE EXTENSION pinpipe');
PinpipeTest::wait_kafka_consumed($node, 'postgres', $total, 'extension created again', 90);
is(consumed(), $total, 'the topic re-read exactly once into the new tables');

# --- SIGTERM: the worker exits promptly even with the broker down (it does not wait for it)
PinpipeTest::devbroker_down($broker);
$pid = consumer_pid();
sql("SELECT pg_terminate_backend($pid)");
ok(PinpipeTest::wait_for(sub { !kill(0, $pid) }, "consumer $pid to exit after SIGTERM", 5),
	'consumer exits on SIGTERM with the broker down');
PinpipeTest::devbroker_up($broker);
is(PinpipeTest::log_count($node, qr/terminated by signal/), 0, 'no consumer crash in the log');

$node->stop;
done_testing();
