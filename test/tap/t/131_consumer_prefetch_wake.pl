# librdkafka before 2.2 stops fetching while the consumer's queue is full and looks again
# only after a second; the consumer wakes the fetcher once it has drained half of the
# queue (src/core/consumer_prefetch.c, docs/kafka.md "Third round"). With a 1 MB queue
# and a 40,000-pin backlog over 8 partitions, the queue fills many times: every message
# arrives exactly once, and the worker logs, once, that it wakes the fetcher — with
# librdkafka 2.2 or later (the PostgreSQL 17/18 roots), which looks again by itself,
# it never does.
use strict;
use warnings;
use PostgreSQL::Test::Utils;
use Test::More;
use PinpipeTest;

my $n = 40000;
my $broker = PinpipeTest::devbroker_start(8);
my $dir = PostgreSQL::Test::Utils::tempdir('prefetch');

my $node = PinpipeTest::node(
	'prefetch',
	conf => "pinpipe.kafka_brokers = '$broker->{bootstrap}'\n"
	  . "pinpipe.batch_size = 500\n"
	  . "pinpipe.kafka_config = 'queued.max.messages.kbytes=1024'\n");

# the whole backlog first, then the extension (the consumer starts with it)
PinpipeTest::make_pins("$dir/pins.jsonl", $n, 131);
PinpipeTest::devbroker_produce($broker, "$dir/pins.jsonl", partitions => 8);
$node->safe_psql('postgres', 'CREATE EXTENSION pinpipe');
PinpipeTest::wait_kafka_consumed($node, 'postgres', $n, 'backlog', 240);
PinpipeTest::kafka_check_exact_offsets($node, 'postgres', $n, 'backlog through a 1 MB queue');

my $log = slurp_file($node->logfile);
my ($major, $minor) = $log =~ /pinpipe consumer 0: subscribed to the topics matching .* \(librdkafka (\d+)\.(\d+)/;
ok(defined $major, 'the consumer logs the librdkafka version it runs with');
my $wakes = () = $log =~ /pinpipe consumer 0: librdkafka \S+ stops fetching while its queue is full/g;
if (defined $major && ($major < 2 || ($major == 2 && $minor < 2)))
{
	is($wakes, 1, "librdkafka $major.$minor: the consumer says once that it wakes the fetcher");
}
else
{
	is($wakes, 0, 'librdkafka 2.2 or later: no wakes, the fetcher looks again by itself');
}

$node->stop;
done_testing();
