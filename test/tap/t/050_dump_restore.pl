# pg_dump (plain and custom format) of a live pinpipe database restores without an
# error into a new database of the same cluster and of a fresh cluster, in one
# transaction that stops at the first error; the restored database answers as the
# original did and keeps working (docs/batch.md, "Backup and restore"). The fresh
# cluster's transaction counter is far behind the original's, so a watermark
# that only compared transaction ids would never archive its new pins.
use strict;
use warnings;
use PostgreSQL::Test::Utils;
use Test::More;
use PinpipeTest;
use PinpipeBackup;

my $src = PinpipeTest::node('source');
PinpipeBackup::burn_xids($src, 3000);
PinpipeBackup::fill($src, 'live');
my $answers = PinpipeBackup::answers($src, 'live');
like($answers, qr/^pending\|250\|3650$/m, 'the source has pending rows and a retention setting');

my $fresh = PinpipeTest::node('fresh');
isnt($fresh->safe_psql('postgres', 'SELECT system_identifier FROM pg_control_system()'),
	$src->safe_psql('postgres', 'SELECT system_identifier FROM pg_control_system()'),
	'the fresh cluster has its own system identifier');
cmp_ok($fresh->safe_psql('postgres', 'SELECT pg_current_xact_id()::text::bigint'), '<',
	$src->safe_psql('live', 'SELECT watermark::text::bigint FROM pinpipe.batch_state'),
	"the fresh cluster's xid counter is behind the source's watermark");

for my $case ([ $src, 'same cluster' ], [ $fresh, 'fresh cluster' ])
{
	my ($to, $where) = @$case;
	for my $format ('plain', 'custom')
	{
		my $db = ($to == $src ? 'same_' : 'fresh_') . $format;
		my $label = "$where, $format";
		PinpipeBackup::dump_restore($src, 'live', $to, $db, $format) or next;
		is(PinpipeBackup::answers($to, $db), $answers, "$label: same answers as the original");
		PinpipeBackup::keeps_working($to, $db, $label);
	}
}

# And back again: the fresh cluster's database (rows of both clusters, archived
# there) restored into the original cluster.
if (PinpipeBackup::dump_restore($fresh, 'fresh_custom', $src, 'back', 'custom'))
{
	is(PinpipeBackup::answers($src, 'back'), PinpipeBackup::answers($fresh, 'fresh_custom'),
		'round trip: same answers as in the fresh cluster');
	PinpipeBackup::keeps_working($src, 'back', 'round trip');
}

$src->stop;
$fresh->stop;
done_testing();
