# A physical backup (pg_basebackup, then start the copy) of a cluster with a live
# pinpipe database: the copy has the same system identifier and continues the
# transaction counter, so its watermark keeps its meaning; it answers as the
# original did at the backup and keeps working (docs/batch.md, "Backup and restore").
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PinpipeTest;
use PinpipeBackup;

my $src = PinpipeTest::node('primary', conf => "wal_level = replica\nmax_wal_senders = 4\n");
PinpipeBackup::fill($src, 'live');
my $answers = PinpipeBackup::answers($src, 'live');
$src->backup('physical');
# the original moves on after the backup; the copy must not see that
PinpipeBackup::ingest($src, 'live', 3000, 3100);

my $copy = PostgreSQL::Test::Cluster->new('copy');
$copy->init_from_backup($src, 'physical');
$copy->start;
is($copy->safe_psql('postgres', 'SELECT system_identifier FROM pg_control_system()'),
	$src->safe_psql('postgres', 'SELECT system_identifier FROM pg_control_system()'),
	'the copy keeps the system identifier');
is($copy->safe_psql('live', 'SELECT watermark_cluster = pinpipe.system_identifier() FROM pinpipe.batch_state'),
	't', "the watermark is the copy's own");
is(PinpipeBackup::answers($copy, 'live'), $answers, 'the copy answers as the original did at the backup');
PinpipeBackup::keeps_working($copy, 'live', 'physical copy');

$copy->stop;
$src->stop;
done_testing();
