# Kafka topics routed to streams (DESIGN §10, docs/kafka.md "Routing"): real geolocation and
# user records of the 2023 data set (../shared/data) and pins, produced to the configured
# topics (pinterest.pins, pinterest.geo, pinterest.user) and to "<id>.pin|.geo|.user" topics
# that are created only after the consumer started (regex subscription, picked up at a
# metadata refresh). Every record lands exactly once in its stream's table and in the raw
# log with its stream; topics that carry no stream are left alone; a kill -9 of the consumer
# mid-backlog over three streams loses and doubles nothing; offsets and gaps are per topic.
use strict;
use warnings;
use POSIX ();
use PostgreSQL::Test::Utils;
use Test::More;
use PinpipeTest;

my $dir = PostgreSQL::Test::Utils::tempdir('kafka_streams');
my $id = '0a1b2c3d';    # a REST-proxy client's id: its topics are <id>.pin, <id>.geo, <id>.user
my $broker = PinpipeTest::devbroker_start(2);    # creates pinterest.pins (2 partitions)

# --- the records ------------------------------------------------------------------------
sub lines
{
	open(my $in, '<', $_[0]) or die "$_[0]: $!";
	my @l = grep { /\S/ } <$in>;
	close $in;
	return @l;
}
my @geo = lines(PinpipeTest::sample('geo_sample.jsonl'));
my @usr = lines(PinpipeTest::sample('user_sample.jsonl'));
is(scalar(@geo), 4513, 'the 4,513 real geo records');
is(scalar(@usr), 5197, 'the 5,197 real user records');
my @bad_geo = ('{"ind": 90001, "timestamp": "2020-01-01 00:00:00", "latitude": "north", "longitude": 1, "country": "X"}',
	'{"ind": 90002, "timestamp":');
my @bad_usr = ('{"ind": 90003, "first_name": "A", "last_name": "B", "age": "old", "date_joined": "2016-01-01 00:00:00"}',
	'[1, 2]');

my $nfile = 0;
sub write_file
{
	my $path = "$dir/f" . $nfile++ . '.jsonl';
	open(my $out, '>', $path) or die "$path: $!";
	print $out map { /\n\z/ ? $_ : "$_\n" } @_;
	close $out;
	return $path;
}
sub pin_lines
{
	my ($n, $seed, $bad_every) = @_;
	my $path = "$dir/pins$seed.jsonl";
	PinpipeTest::make_pins($path, $n, $seed, $bad_every);
	return lines($path);
}

# Messages produced so far, per topic.
my %produced;
sub produce
{
	my ($topic, $partitions, @records) = @_;
	my $n = PinpipeTest::devbroker_produce({ %$broker, topic => $topic }, write_file(@records),
		partitions => $partitions);
	die "produced $n of " . scalar(@records) . " to $topic" unless $n == @records;
	$produced{$topic} += $n;
}

my %stream_of = (
	'pinterest.pins' => 'pin', 'pinterest.geo' => 'geo', 'pinterest.user' => 'user',
	"$id.pin" => 'pin', "$id.geo" => 'geo', "$id.user" => 'user');
my %table_of = (pin => 'pins', geo => 'geo', user => 'users');

# --- phase 1: the configured topics, filled before the consumer starts --------------------
my $half_geo = int(@geo / 2);
my $half_usr = int(@usr / 2);
my @pins1 = pin_lines(2000, 1, 0);
produce('pinterest.pins', 2, @pins1);
produce('pinterest.geo', 4, @geo[ 0 .. $half_geo - 1 ], @bad_geo);
produce('pinterest.user', 4, @usr[ 0 .. $half_usr - 1 ]);

my $node = PinpipeTest::node(
	'kafka_streams',
	http => 1,
	conf => "pinpipe.kafka_brokers = '$broker->{bootstrap}'\npinpipe.batch_size = 500\n"
	  . "restart_after_crash = on\n");
sub sql { return $node->safe_psql('postgres', $_[0]); }
sql('CREATE EXTENSION pinpipe');

my $all = join(' UNION ALL ',
	map { "SELECT topic, \"partition\", \"offset\" FROM pinpipe.$_ WHERE source = 'kafka'" }
	  qw(pins geo users dead_letters));
sub consumed { return sql("SELECT count(*) FROM ($all) m"); }
sub total { my $t = 0; $t += $_ for values %produced; return $t; }

# Exactly once, per topic: its stream's rows + its dead letters = what was produced to it,
# nothing of it in another stream's table, raw log rows with its stream, no coordinate twice.
sub check_exact
{
	my ($what, %skipped) = @_;
	for my $topic (sort keys %produced)
	{
		my $stream = $stream_of{$topic};
		my $want = $produced{$topic} - ($skipped{$topic} // 0);
		my $own = $table_of{$stream};
		my @other = grep { $_ ne $own } values %table_of;
		is( sql("SELECT (SELECT count(*) FROM pinpipe.$own WHERE topic = '$topic')
		              + (SELECT count(*) FROM pinpipe.dead_letters WHERE topic = '$topic' AND stream = '$stream')"),
			$want, "$what: $topic: its $own rows + $stream dead letters = produced");
		is( sql('SELECT ' . join(' + ', map { "(SELECT count(*) FROM pinpipe.$_ WHERE topic = '$topic')" } @other)
				  . " + (SELECT count(*) FROM pinpipe.dead_letters WHERE topic = '$topic' AND stream <> '$stream')"),
			'0', "$what: $topic: nothing in another stream");
		my $rows = sql("SELECT count(*) FROM pinpipe.$own WHERE topic = '$topic'");
		is( sql("SELECT count(*) FILTER (WHERE stream = '$stream') || '/' || count(*) FROM pinpipe.raw_pins WHERE topic = '$topic'"),
			"$rows/$rows", "$what: $topic: raw log rows = $own rows, all with stream $stream");
	}
	is(sql("SELECT count(*) FROM (SELECT 1 FROM ($all) m GROUP BY topic, \"partition\", \"offset\" HAVING count(*) > 1) d"),
		'0', "$what: no (topic, partition, offset) twice");
	my $want = total();
	$want -= $_ for values %skipped;
	is(consumed(), $want, "$what: every message once");
}

# Wait until the tables hold $n Kafka messages (a failed query, e.g. during a crash
# restart, counts as not yet).
sub wait_consumed
{
	my ($n, $what, $secs) = @_;
	ok(PinpipeTest::wait_until(sub { my $c = eval { consumed() }; defined $c && $c >= $n }, "$n consumed", $secs),
		"$what: $n consumed")
	  or diag('consumed ' . consumed());
}

wait_consumed(total(), 'phase 1', 120);
check_exact('configured topics');
is( sql("SELECT string_agg(DISTINCT topic, ',') || ' ' || count(*) FROM pinpipe.dead_letters WHERE stream = 'geo'"),
	'pinterest.geo 2', 'malformed geo records are dead letters of stream geo, with their topic')
  or diag(sql('SELECT topic, field, error FROM pinpipe.dead_letters'));

# --- phase 2: <id>.* topics created now, while the consumer runs; topics of no stream ------
my @pins2 = pin_lines(1000, 2, 0);
produce("$id.pin", 4, @pins2);
produce("$id.geo", 4, @geo[ $half_geo .. $#geo ]);
produce("$id.user", 4, @usr[ $half_usr .. $#usr ], @bad_usr);
for my $t ("$id.users", 'other.topic')
{
	my $n = PinpipeTest::devbroker_produce({ %$broker, topic => $t }, write_file(@geo[ 0 .. 9 ]),
		partitions => 1);
	is($n, 10, "10 records produced to $t (a topic of no stream)");
}
wait_consumed(total(), 'phase 2 (new topics picked up by the regex subscription)', 180);
check_exact('topics created after the consumer started');
is( sql(q{SELECT count(*) || ' ' || count(DISTINCT ind) || ' ' || sum(ind) FROM pinpipe.geo}),
	scalar(@geo) . ' ' . scalar(keys %{ { map { /"ind":\s*(\d+)/; ($1 => 1) } @geo } }) . ' '
	  . eval { my $s = 0; $s += $_ for map { /"ind":\s*(\d+)/; $1 } @geo; $s },
	'every real geo record once in pinpipe.geo (count, distinct ind, sum of ind)');
is( sql(q{SELECT count(*) || ' ' || sum(ind) || ' ' || sum(age) FROM pinpipe.users}),
	scalar(@usr) . ' ' . eval { my $s = 0; $s += $_ for map { /"ind":\s*(\d+)/; $1 } @usr; $s } . ' '
	  . eval { my $s = 0; $s += $_ for map { /"age":\s*(\d+)/; $1 } @usr; $s },
	'every real user record once in pinpipe.users (count, sum of ind, sum of age)');
is(sql("SELECT count(*) FROM pinpipe.users WHERE user_name IS DISTINCT FROM first_name || ' ' || last_name"),
	'0', 'users cleaned on the way (user_name)');
is(sql('SELECT count(*) FROM pinpipe.pins'), scalar(@pins1) + scalar(@pins2), 'every pin once in pinpipe.pins');
is(sql("SELECT count(*) FROM pinpipe.dead_letters WHERE stream = 'user' AND topic = '$id.user'"),
	'2', 'malformed user records are dead letters of stream user, with their topic');
is( sql("SELECT count(*) FROM ($all) m WHERE topic IN ('$id.users', 'other.topic')")
	  . sql("SELECT count(*) FROM pinpipe.kafka_offsets WHERE topic IN ('$id.users', 'other.topic')")
	  . sql("SELECT count(*) FROM pinpipe.consumer_partition_status WHERE topic IN ('$id.users', 'other.topic')"),
	'000', 'topics that carry no stream are neither consumed nor assigned');
ok(PinpipeTest::log_count($node, qr/assigned \d+ partition\(s\) of topic "$id\.geo" \(stream geo\)/) > 0,
	'the consumer logs the new topic with its stream');
like(slurp_file($node->logfile), qr/subscribed to the topics matching "\^\(pinterest\\\.pins\|/,
	'the consumer subscribes with a regex');

# --- phase 3: kill -9 of the consumer mid-backlog over three streams ----------------------
my @pins3 = pin_lines(12000, 3, 100);
my $base = total();
my @chunks;
for my $c (0 .. 3)
{
	my @g = map { $geo[ ($c * 700 + $_) % @geo ] } 0 .. 699;
	my @u = map { $usr[ ($c * 700 + $_) % @usr ] } 0 .. 699;
	push @chunks, [ [ "$id.pin", 4, @pins3[ $c * 3000 .. $c * 3000 + 2999 ] ], [ 'pinterest.geo', 4, @g ], [ "$id.user", 4, @u ] ];
}
my $chunk_size = 3000 + 700 + 700;
$produced{"$id.pin"} += 12000;
$produced{'pinterest.geo'} += 4 * 700;
$produced{"$id.user"} += 4 * 700;

# the chunks in a child, each once the consumer holds all but the chunk before it
my $producer = fork();
die "fork: $!" unless defined $producer;
if ($producer == 0)
{
	my $ok = eval {
		for my $c (0 .. $#chunks)
		{
			my $need = $base + ($c - 1) * $chunk_size;
			die "consumer stuck"
			  unless PinpipeTest::wait_until(sub { my $n = eval { consumed() }; defined $n && $n >= $need },
				"consumer at $need", 180);
			for my $part (@{ $chunks[$c] })
			{
				my ($topic, $partitions, @records) = @$part;
				PinpipeTest::devbroker_produce({ %$broker, topic => $topic }, write_file(@records),
					partitions => $partitions);
			}
		}
		1;
	};
	POSIX::_exit($ok ? 0 : 1);
}
ok(PinpipeTest::wait_until(sub { consumed() > $base + $chunk_size + 500 }, 'phase 3 under way', 120),
	'phase 3 under way');
my $pid = sql("SELECT pid FROM pinpipe.workers WHERE kind = 'consumer'");
my $mid = consumed();
ok(kill('KILL', $pid), "kill -9 consumer $pid at $mid/" . total());
is(waitpid($producer, 0) == $producer && $? == 0, 1, 'phase 3 produced');
wait_consumed(total(), 'phase 3', 180);
check_exact('after kill -9 mid-backlog');
is(sql("SELECT count(*) >= 120 FROM pinpipe.dead_letters WHERE topic = '$id.pin' AND stream = 'pin'"), 't',
	'malformed pins of <id>.pin are dead letters of stream pin');

# --- offsets, lag and metrics per topic ----------------------------------------------------
for my $topic (sort keys %produced)
{
	is(sql("SELECT sum(next_offset) FROM pinpipe.kafka_offsets WHERE topic = '$topic'"),
		$produced{$topic}, "stored offsets of $topic sum to what was produced to it");
}
ok(PinpipeTest::wait_until(sub { sql("SELECT lag FROM pinpipe.workers WHERE kind = 'consumer'") eq '0' }, 'lag 0', 30),
	'lag is zero over every topic');
is( sql("SELECT string_agg(DISTINCT topic, ',' ORDER BY topic) FROM pinpipe.consumer_partition_status"),
	join(',', sort keys %stream_of), 'per-partition view: the partitions of every stream topic');
my ($code, $metrics) = PinpipeTest::http($node, 'GET', '/metrics');
is($code, 200, '/metrics answers');
for my $topic (sort keys %stream_of)
{
	like($metrics, qr/^pinpipe_consumer_lag\{worker="0",topic="\Q$topic\E",partition="0"\} 0$/m,
		"/metrics: lag of $topic by its topic label");
}
like(sql("SELECT topic FROM pinpipe.workers WHERE kind = 'consumer'"), qr/pinterest\.geo/,
	'workers.topic lists the assigned topics');

# --- gaps per topic: reset_offsets skips part of one topic only ---------------------------
$node->append_conf('postgresql.conf', "pinpipe.consumer_workers = 0\n");
$node->restart;
produce('pinterest.geo', 1, @geo[ 0 .. 49 ]);
is( sql("SELECT string_agg(partition_id || ':' || (next_offset - previous_offset), ',' ORDER BY partition_id)
	       FROM pinpipe.reset_offsets('pinterest.geo', to_timestamp => now() + interval '1 hour')"),
	'0:50,1:0,2:0,3:0', 'reset_offsets of pinterest.geo skips the 50 new records of partition 0');
is( sql("SELECT topic || ' ' || \"partition\" || ' ' || sum(skipped) FROM pinpipe.kafka_gaps GROUP BY topic, \"partition\""),
	'pinterest.geo 0 50', 'the gap is on record for that topic and partition only');
$node->append_conf('postgresql.conf', "pinpipe.consumer_workers = 1\n");
$node->restart;
produce('pinterest.geo', 4, @geo[ 100 .. 119 ]);
produce("$id.user", 4, @usr[ 100 .. 119 ]);
wait_consumed(total() - 50, 'after the reset', 120);
check_exact('after reset_offsets', 'pinterest.geo' => 50);

$node->stop;
done_testing();
