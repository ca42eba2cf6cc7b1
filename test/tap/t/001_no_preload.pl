# The SQL functions work when pinpipe is not in shared_preload_libraries (no workers):
# the library is loaded on first use, its settings are defined, ingest() writes.
use strict;
use warnings;
use PostgreSQL::Test::Utils;
use Test::More;
use PinpipeTest;

my $node = PinpipeTest::node('no_preload', preload => '');

is($node->safe_psql('postgres', 'SHOW shared_preload_libraries'), '', 'pinpipe is not preloaded');
$node->safe_psql('postgres', 'CREATE EXTENSION pinpipe');
pass('CREATE EXTENSION without preloading');
is($node->safe_psql('postgres', "SELECT pinpipe.parse_follower_count('15M')"), '15000000', 'clean function');

open(my $fh, '<', PinpipeTest::sample('pins_sample.jsonl')) or die;
my $pin = <$fh>;
chomp $pin;
close $fh;
is($node->safe_psql('postgres', "SELECT accepted || '/' || dead_lettered FROM pinpipe.ingest_text(\$pin\$$pin\$pin\$)"),
	'1/0', 'ingest');
is($node->safe_psql('postgres', "LOAD 'pinpipe'; SHOW pinpipe.topic"), 'pinterest.pins',
	'settings are defined once loaded');
is($node->safe_psql('postgres', "SELECT count(*) FROM pg_stat_activity WHERE backend_type LIKE 'pinpipe%'"),
	'0', 'no pinpipe background workers');
my ($ret, $out, $err) = $node->psql('postgres', "LOAD 'pinpipe'; SET pinpipe.no_such_setting = 1");
like($err, qr/invalid configuration parameter name/, 'the pinpipe.* prefix is reserved');

$node->stop;
done_testing();
