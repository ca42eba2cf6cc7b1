# "A 2xx means the pin will not be lost", embedded mode, under the worst stops (was
# test/t/42_http_crash.sh): clients post pins concurrently while the server is killed with
# kill -9 (postmaster and every child), and again while it is stopped with a fast shutdown.
# After each restart every pin that was answered 200 must be in pinpipe.pins, and every
# answer must be 200, 503, or no answer at all (connection cut).
use strict;
use warnings;
use IPC::Run;
use PostgreSQL::Test::Utils;
use Test::More;
use PinpipeTest;

my $dir = PostgreSQL::Test::Utils::tempdir('http_crash');
my $node = PinpipeTest::node('http_crash', http => 1, conf => "pinpipe.consumer_workers = 0\n");
my $url = "http://127.0.0.1:$node->{pinpipe_http_port}";
$node->safe_psql('postgres', 'CREATE EXTENSION pinpipe');
sub healthy { my ($code) = PinpipeTest::http($node, 'GET', '/healthz'); return $code == 200; }
ok(PinpipeTest::wait_for(\&healthy, 'healthz 200', 60), 'the HTTP worker is healthy');

# 400 real pins with well-formed unique_ids, for the clients to post with fresh ones.
my $data = PinpipeTest::sample('pins_sample.jsonl');
IPC::Run::run([ 'sh', '-c', q{jq -c 'select(.unique_id|test("^[0-9a-f-]{36}$"))' "$1" | head -n 400}, 'sh', $data ],
	'>', "$dir/pins.jsonl")
  or die 'jq failed';

# 4 clients, each posting the pins with fresh unique_ids until $dir/stop exists;
# each answer is logged as "<code> <unique_id>" in $dir/answers.N.
my $client = q{
while [ ! -f "$1/stop" ]; do
	while IFS= read -r line && [ ! -f "$1/stop" ]; do
		u=$(cat /proc/sys/kernel/random/uuid)
		p=$(jq -c --arg u "$u" '.unique_id = $u' <<<"$line")
		code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 30 -X POST "$2/pin/" --data-binary "$p")
		echo "$code $u" >>"$1/answers.$3"
	done <"$1/pins.jsonl"
done
};
my @clients;
sub start_clients
{
	unlink "$dir/stop";
	push @clients, IPC::Run::start([ 'bash', '-c', $client, 'client', $dir, $url, $_ ]) for 1 .. 4;
}
sub stop_clients
{
	open(my $fh, '>', "$dir/stop") or die;
	close $fh;
	$_->finish for @clients;
	@clients = ();
}
END { stop_clients() if @clients; }

sub answers
{
	my @a;
	for my $f (glob("$dir/answers.*"))
	{
		open(my $fh, '<', $f) or die;
		push @a, map { chomp; [ split / / ] } <$fh>;
		close $fh;
	}
	return @a;
}
sub count200 { return scalar grep { $_->[0] eq '200' } answers(); }
# Acknowledged pins (answered 200) that are not in pinpipe.pins.
sub missing
{
	my @acked = map { "'$_->[1]'" } grep { $_->[0] eq '200' } answers();
	return $node->safe_psql('postgres',
		'SELECT count(*) FROM unnest(ARRAY[' . join(',', @acked) . ']::uuid[]) a(u)
		  WHERE NOT EXISTS (SELECT 1 FROM pinpipe.pins p WHERE p.unique_id = a.u)');
}

# kill -9 of the postmaster and every child (no process gets to clean up).
sub kill9_all
{
	my $pm = $node->{_pid};
	my @children;
	for my $stat (glob('/proc/[0-9]*/stat'))
	{
		open(my $fh, '<', $stat) or next;
		my $line = <$fh>;
		close $fh;
		push @children, $1 if defined $line && $line =~ /^(\d+) \(.*\) \S (\d+) / && $2 == $pm;
	}
	kill 'KILL', @children;
	$node->kill9;
	PinpipeTest::wait_for(sub { !grep { kill 0, $_ } ($pm, @children) }, 'killed processes gone', 60)
	  or BAIL_OUT('killed server processes still there');
}

for my $round ('kill9', 'fast')
{
	start_clients();
	my $base = count200();
	ok(PinpipeTest::wait_for(sub { count200() >= $base + 100 }, '100 pins acknowledged', 120),
		"$round: clients got 200s");
	my $unanswered = sub { scalar grep { $_->[0] eq '000' } answers() };
	my $cut = $unanswered->();
	if ($round eq 'kill9') { kill9_all(); }
	else { $node->stop('fast'); }
	# clients keep trying against the dead server for a moment (answers 000)
	PinpipeTest::wait_for(sub { $unanswered->() > $cut }, 'an unanswered post', 30);
	stop_clients();
	$node->start;
	ok(PinpipeTest::wait_for(\&healthy, "healthz 200 after $round", 60), "$round: worker healthy after restart");
	my $acked = count200();
	is(missing(), '0', "$round: every pin answered 200 is in pinpipe.pins ($acked acknowledged)");
	is(scalar(grep { $_->[0] !~ /^(200|503|000)$/ } answers()), 0, "$round: answers only 200, 503 or none");
}
is( $node->safe_psql('postgres',
		'SELECT count(*) FROM (SELECT unique_id FROM pinpipe.pins GROUP BY 1 HAVING count(*) > 1) d'),
	'0', 'no duplicate rows for acknowledged pins');

$node->stop;
done_testing();
