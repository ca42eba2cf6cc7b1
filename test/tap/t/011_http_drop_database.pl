# DROP DATABASE ... WITH (FORCE) of pinpipe.database (issue 8 item 1): the HTTP worker is
# terminated by the dropping backend, is restarted, answers 503 with the reason while the
# database is missing, and once the database and the extension are created again it
# stores pins in the new database, without a server restart.
use strict;
use warnings;
use PostgreSQL::Test::Utils;
use Test::More;
use PinpipeTest;

my $node = PinpipeTest::node('http_drop_db', http => 1, conf => "pinpipe.database = 'pp'\n");
$node->safe_psql('postgres', 'CREATE DATABASE pp');
$node->safe_psql('pp', 'CREATE EXTENSION pinpipe');

my $pin = PinpipeTest::pin_file();
sub healthz { return PinpipeTest::http($node, 'GET', '/healthz'); }

ok(PinpipeTest::wait_until(sub { (healthz())[0] == 200 }, 'healthz 200'), 'the HTTP worker serves');
is((PinpipeTest::http($node, 'POST', '/pin/', $pin))[0], 200, 'a pin is accepted');
my $pid = PinpipeTest::worker_pid($node, 'pinpipe http');

$node->safe_psql('postgres', 'DROP DATABASE pp WITH (FORCE)');
pass('DROP DATABASE pp WITH (FORCE)');
my ($code, $body) = (0, '');
ok( PinpipeTest::wait_until(
		sub { ($code, $body) = healthz(); $code == 503 && $body =~ /does not exist/ },
		'healthz 503 saying the database does not exist', 90),
	'while the database is missing, /healthz answers 503');
like($body, qr/"reason":"database \\"pp\\" \(pinpipe.database\) does not exist"/, '... with the reason');
isnt(PinpipeTest::worker_pid($node, 'pinpipe http'), $pid, 'a new HTTP worker process');
($code, $body) = PinpipeTest::http($node, 'POST', '/pin/', $pin);
is($code, 503, 'POST /pin/ answers 503 meanwhile');
like($body, qr/does not exist/, '... with the reason');
ok(PinpipeTest::log_count($node, qr/pinpipe http worker terminated by process \d+, restarting/) >= 1,
	'the log says why the worker stopped');

$node->safe_psql('postgres', 'CREATE DATABASE pp');
$node->safe_psql('pp', 'CREATE EXTENSION pinpipe');
ok(PinpipeTest::wait_until(sub { (healthz())[0] == 200 }, 'healthz 200 on the new database', 90),
	'after CREATE DATABASE and CREATE EXTENSION the worker serves again');
is((PinpipeTest::http($node, 'POST', '/pin/', $pin))[0], 200, 'a pin is accepted');
is($node->safe_psql('pp', 'SELECT count(*) FROM pinpipe.pins'), '1', 'and stored in the new database');
ok(PinpipeTest::log_count($node, qr/database "pp" exists now, connecting to it/) >= 1,
	'the log says why the worker restarted');

$node->stop('fast');
done_testing();
