# A terminated HTTP worker comes back (issue 8 item 1): pg_terminate_backend of the
# embedded-mode HTTP worker makes it exit non-zero, log why, and be restarted by the
# postmaster; the new process listens and stores pins. A server shutdown still ends
# it quietly with exit code 0 (no restart message).
use strict;
use warnings;
use PostgreSQL::Test::Utils;
use Test::More;
use PinpipeTest;

my $node = PinpipeTest::node('http_terminate', http => 1);
$node->safe_psql('postgres', 'CREATE EXTENSION pinpipe');

my $pin = PinpipeTest::pin_file();

ok(PinpipeTest::wait_until(sub { (PinpipeTest::http($node, 'GET', '/healthz'))[0] == 200 }, 'healthz 200'),
	'the HTTP worker serves');
is((PinpipeTest::http($node, 'POST', '/pin/', $pin))[0], 200, 'a pin is accepted');

for my $round (1 .. 2)
{
	my $pid = PinpipeTest::worker_pid($node, 'pinpipe http');
	isnt($pid, '', "round $round: worker pid $pid");
	$node->safe_psql('postgres', "SELECT pg_terminate_backend($pid)");
	ok( PinpipeTest::wait_until(
			sub {
				my $now = PinpipeTest::worker_pid($node, 'pinpipe http');
				$now ne '' && $now ne $pid;
			},
			'a new HTTP worker process',
			60),
		"round $round: the postmaster started a new HTTP worker");
	ok(PinpipeTest::wait_until(sub { (PinpipeTest::http($node, 'GET', '/healthz'))[0] == 200 }, 'healthz 200'),
		"round $round: the new worker answers /healthz 200");
	is((PinpipeTest::http($node, 'POST', '/pin/', $pin))[0], 200, "round $round: and accepts a pin");
	ok(PinpipeTest::log_count($node, qr/pinpipe http worker terminated by process \d+, restarting/) >= $round,
		"round $round: the log says why it stopped");
}
is($node->safe_psql('postgres', 'SELECT count(*) FROM pinpipe.pins'), '3', 'every accepted pin is stored');

$node->stop('fast');
is(PinpipeTest::log_count($node, qr/pinpipe http worker terminated by process/), 2,
	'a server shutdown is not logged as a termination');
ok(PinpipeTest::log_count($node, qr/background worker "pinpipe http" \(PID \d+\) exited with exit code 1/) >= 2,
	'a terminated worker exits with code 1');
done_testing();
