# `make installcheck` (PGXS REGRESS) against a running server whose HTTP worker runs, as
# the demo's does: the regress suite must not depend on which workers run.
use strict;
use warnings;
use File::Temp qw(tempdir);
use PostgreSQL::Test::Utils;
use Test::More;
use PinpipeTest;

my $node = PinpipeTest::node('installcheck', http => 1);
ok( PinpipeTest::wait_for(
		sub {
			$node->safe_psql('postgres',
				"SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'pinpipe http'") eq '1';
		},
		'the HTTP worker to start'),
	'the HTTP worker runs');

# Results go to a scratch directory: the tree may belong to another user.
my $out = tempdir('installcheck_XXXX', DIR => $PostgreSQL::Test::Utils::tmp_check, CLEANUP => 1);
my $make = "make -s -C '$PinpipeTest::REPO' installcheck PG_CONFIG=pg_config"
  . " EXTRA_REGRESS_OPTS='--outputdir=$out --host=" . $node->host . " --port=" . $node->port . "'";
my $output = `$make 2>&1`;
my $status = $?;
note($output);
is($status, 0, 'make installcheck passes against the running server');
like($output, qr/All \d+ tests passed|# All \d+ tests passed/, 'pg_regress reports every test passed');
diag(slurp_file("$out/regression.diffs")) if -f "$out/regression.diffs";

$node->stop;
done_testing();
