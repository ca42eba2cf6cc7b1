# pinpipe.database names a database that does not exist (issue 8 item 2): no crash loop.
# The HTTP worker waits without a database, its port is open and answers 503 with the
# reason on /healthz and the ingest endpoints, the reason is logged once; once the
# database and the extension exist, pins are stored there without a server restart.
use strict;
use warnings;
use PostgreSQL::Test::Utils;
use Test::More;
use PinpipeTest;

my $node = PinpipeTest::node('http_missing_db', http => 1, conf => "pinpipe.database = 'nodb'\n");

my $pin = PinpipeTest::pin_file();
sub healthz { return PinpipeTest::http($node, 'GET', '/healthz'); }

my ($code, $body) = (0, '');
ok(PinpipeTest::wait_until(sub { ($code, $body) = healthz(); $code == 503 }, 'healthz 503', 90),
	'the port is open and /healthz answers 503');
like($body, qr/"reason":"database \\"nodb\\" \(pinpipe.database\) does not exist"/, '... with the reason');
($code, $body) = PinpipeTest::http($node, 'POST', '/pin/', $pin);
is($code, 503, 'POST /pin/ answers 503');
like($body, qr/does not exist/, '... with the reason');
($code, $body) = PinpipeTest::http($node, 'POST', '/pins', $pin);
is($code, 503, 'POST /pins answers 503');

# No crash loop: the same process keeps answering across several restart periods
# (the postmaster would restart a failing worker every 5 s).
my $pid = PinpipeTest::worker_pid($node, 'pinpipe http');
sleep 12;
is(PinpipeTest::worker_pid($node, 'pinpipe http'), $pid, 'the worker process is stable');
is((healthz())[0], 503, 'and still answers');
ok(PinpipeTest::log_count($node, qr/FATAL:  database "nodb" does not exist/) <= 1,
	'at most one failed connection attempt');
is(PinpipeTest::log_count($node, qr/pinpipe http worker: database "nodb" \(pinpipe.database\) does not exist, answering 503/),
	1, 'the reason is logged once');

$node->safe_psql('postgres', 'CREATE DATABASE nodb');
$node->safe_psql('nodb', 'CREATE EXTENSION pinpipe');
ok(PinpipeTest::wait_until(sub { (healthz())[0] == 200 }, 'healthz 200', 90),
	'once the database and the extension exist the worker serves');
is((PinpipeTest::http($node, 'POST', '/pin/', $pin))[0], 200, 'a pin is accepted');
is($node->safe_psql('nodb', 'SELECT count(*) FROM pinpipe.pins'), '1', 'and stored');

$node->stop('fast');
done_testing();
