# A fetch restart that no message or end-of-partition event shows settled lets the next
# assignment change go ahead only on the consumer's 1 s bound (CONSUMER_SETTLE_MS,
# docs/kafka.md "Fetch restarts"); that fallback is counted in
# pinpipe_consumer_settle_timeouts_total{worker} and logged. Forced deterministically with
# pinpipe.offset_out_of_range = pause: a stored offset past the log end makes the restarted
# fetcher deliver nothing but its out-of-range event, so the restart that pauses the
# partition, and the one that resumes it, go ahead on the bound. A replay, whose restarted
# fetcher delivers messages, is not counted. /metrics passes promtool check metrics.
use strict;
use warnings;
use PostgreSQL::Test::Utils;
use Test::More;
use PinpipeTest;

my $topic = 'pinterest.pins';
my $broker = PinpipeTest::devbroker_start(1);
my $dir = PostgreSQL::Test::Utils::tempdir('settle');
my $seed = 1;

my $node = PinpipeTest::node(
	'settle',
	http => 1,
	conf => "pinpipe.kafka_brokers = '$broker->{bootstrap}'\n"
	  . "pinpipe.batch_size = 100\npinpipe.batch_timeout_ms = 50\n"
	  . "pinpipe.offset_out_of_range = 'pause'\n");
my $port = $node->{pinpipe_http_port};
$node->safe_psql('postgres', 'CREATE EXTENSION pinpipe');

sub sql { return $node->safe_psql('postgres', $_[0]); }
sub metrics { return `curl -s -m 10 http://127.0.0.1:$port/metrics`; }

# The counter of consumer 0 (-1 when /metrics does not show it).
sub timeouts
{
	my ($v) = metrics() =~ /^pinpipe_consumer_settle_timeouts_total\{worker="0"\} (\d+)$/m;
	return $v // -1;
}

# $n fresh pins to the topic's only partition.
sub produce
{
	my ($n) = @_;
	my $file = "$dir/pins$seed.jsonl";
	PinpipeTest::make_pins($file, $n, $seed++);
	PinpipeTest::devbroker_produce($broker, $file, partition => 0);
}
sub stored { return sql("SELECT coalesce(max(next_offset), -1) FROM pinpipe.kafka_offsets WHERE topic = '$topic'"); }
sub paused { return sql("SELECT count(*) FROM pinpipe.consumer_partition_status WHERE paused"); }
sub dead_letters { return sql("SELECT count(*) FROM pinpipe.dead_letters"); }

# promtool's verdict on the current /metrics text ('' when it passes). The PostgreSQL
# 17/18 build roots have no Prometheus (the host's run, where scripts/setup.sh installs
# it, checks the same text): there, and only there, the check is skipped by name.
my $have_promtool = system('command -v promtool >/dev/null 2>&1') == 0;
die "promtool is missing (scripts/setup.sh installs it)" unless $have_promtool || $ENV{PP_IN_ROOT};
sub promtool_ok
{
	my ($name) = @_;
  SKIP:
	{
		skip("$name: no promtool in this root", 1) unless $have_promtool;
		is(promtool(), '', $name);
	}
}
sub promtool
{
	my $file = "$dir/metrics.txt";
	open(my $fh, '>', $file) or die "$file: $!";
	print $fh metrics();
	close $fh;
	my $out = `promtool check metrics <'$file' 2>&1`;
	return $? == 0 ? '' : "promtool: $out";
}

my $log_re = qr/pinpipe consumer 0: restarting the fetchers \d+ ms after the last fetch restart, not seen to settle/;

produce(10);
ok(PinpipeTest::wait_for(sub { stored() == 10 }, 'the first messages', 120), 'the consumer read the first 10 messages')
  or diag('stored offset: ' . stored());
my $pid = PinpipeTest::worker_pid($node, 'pinpipe consumer');
isnt($pid, '', 'the consumer runs');
like(metrics(), qr/^# TYPE pinpipe_consumer_settle_timeouts_total counter$/m, 'the counter is declared in /metrics');
is(timeouts(), 0, 'no settle timeout before any restart');
promtool_ok('promtool check metrics');

# a replay: the restarted fetcher delivers the 10 messages again (dead-lettered as
# duplicates), which shows that the restart settled
is(sql("SELECT count(*) FROM pinpipe.reset_offsets('$topic', to_offset => 0)"), 1, 'reset_offsets to 0');
ok(PinpipeTest::wait_for(sub { dead_letters() >= 10 }, 'the replay', 120), 'the replayed messages came back')
  or diag('dead letters: ' . dead_letters());
ok(PinpipeTest::wait_for(sub { stored() == 10 }, 'the replay committed', 120), 'the replay is committed');
is(timeouts(), 0, 'a restart that delivered messages is not a settle timeout');
is(PinpipeTest::log_count($node, $log_re), 0, '... and is not logged as one');

# past the log end: the restart's fetcher reports only the out-of-range offset, and the
# partition pauses through a restart that goes ahead on the bound
sql("UPDATE pinpipe.kafka_offsets SET next_offset = next_offset + 1000000 WHERE topic = '$topic'");
ok(PinpipeTest::wait_for(sub { paused() == 1 }, 'the partition to pause', 120), 'the partition paused');
ok(PinpipeTest::wait_for(sub { timeouts() >= 1 }, 'the settle timeout to be counted', 30),
	'the restart that paused it went ahead on the bound: counted')
  or diag('pinpipe_consumer_settle_timeouts_total: ' . timeouts());
ok(PinpipeTest::wait_for(sub { PinpipeTest::log_count($node, $log_re) >= 1 }, 'the LOG line', 30),
	'... and logged');
my $after_pause = timeouts();

# resumed: the paused partition fetched nothing since that restart, so the next one goes
# ahead on the bound too; then it reads on
is(sql("SELECT count(*) FROM pinpipe.reset_offsets('$topic', to_offset => 10)"), 1, 'reset_offsets resumes it');
ok(PinpipeTest::wait_for(sub { paused() == 0 }, 'the partition to resume', 120), 'the partition resumed');
produce(1);
ok(PinpipeTest::wait_for(sub { stored() == 11 }, 'the new message', 120), 'the consumer read the new message')
  or diag('stored offset: ' . stored());
ok(timeouts() > $after_pause, 'the resuming restart went ahead on the bound: counted')
  or diag("before: $after_pause, now: " . timeouts());
is(PinpipeTest::log_count($node, $log_re), timeouts(), 'one LOG line per counted timeout');
promtool_ok('promtool check metrics, the counter non-zero');
is(PinpipeTest::worker_pid($node, 'pinpipe consumer'), $pid, 'the same consumer process');
PinpipeTest::no_crash($node, 'no server process crashed');

$node->stop;
PinpipeTest::devbroker_stop($broker);
done_testing();
