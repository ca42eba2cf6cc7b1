# test/tap/PinpipeBackup.pm — what the backup, restore and upgrade tests share:
# a database filled the way production fills one, its answers, and the checks
# that it keeps working.
#
#   PinpipeBackup::burn_xids($node, 3000)     move the cluster's xid counter on
#   PinpipeBackup::fill($node, 'db')          ingest (several days, resends, dead
#       letters, Kafka offsets), run_batch, then ingest more (left pending)
#   PinpipeBackup::answers($node, 'db')       what the serving views, archive and
#       rollups answer, as one comparable text
#   PinpipeBackup::keeps_working($node, 'db', 'label')   new pins, dead letters and
#       runs get ids and are archived; incremental and full => true agree; nothing
#       counted twice (Test::More checks)
#   PinpipeBackup::dump_restore($from, 'db', $to, 'newdb', 'plain' | 'custom')
package PinpipeBackup;

use strict;
use warnings;
use IPC::Run;
use PostgreSQL::Test::Utils;
use Test::More;
use PinpipeTest;

my @SAMPLE;

# Lines $from .. $to - 1 of the sample data set, as NDJSON.
sub sample_lines
{
	my ($from, $to) = @_;
	if (!@SAMPLE)
	{
		open(my $fh, '<', PinpipeTest::sample('pins_sample.jsonl')) or die;
		@SAMPLE = <$fh>;
		close $fh;
		chomp @SAMPLE;
	}
	return join("\n", @SAMPLE[ $from .. $to - 1 ]);
}

# Ingest sample lines [from, to) through pinpipe.ingest_text (the sink's path).
sub ingest
{
	my ($node, $db, $from, $to) = @_;
	my $text = sample_lines($from, $to);
	return $node->safe_psql($db,
		"SELECT accepted || '/' || dead_lettered FROM pinpipe.ingest_text(\$nd\$$text\$nd\$)");
}

# Use up n transaction ids, so that a fresh cluster's counter is far behind this one.
sub burn_xids
{
	my ($node, $n) = @_;
	$node->safe_psql('postgres', join('', map { "SELECT pg_current_xact_id();\n" } 1 .. $n));
}

# A database as production leaves it: archived days, pending rows, dead letters, offsets.
sub fill
{
	my ($node, $db, %opt) = @_;
	my $version = $opt{version} ? " VERSION '$opt{version}'" : '';
	$node->safe_psql('postgres', "CREATE DATABASE $db");
	$node->safe_psql($db, "CREATE EXTENSION pinpipe$version");
	ingest($node, $db, 0, 600);
	ingest($node, $db, 500, 700);    # resends
	# spread the pins over five days (the archive gets five partitions)
	$node->safe_psql($db, q{
		UPDATE pinpipe.raw_pins SET received_at = received_at - (id % 5) * interval '1 day';
		UPDATE pinpipe.pins p SET received_at = r.received_at FROM pinpipe.raw_pins r WHERE r.id = p.raw_id;
	});
	$node->safe_psql($db, q{SELECT pinpipe.ingest_text('{"index": 1, "unique_id": "not a uuid"}')});
	$node->safe_psql($db, q(SELECT pinpipe.ingest_text('{not json')));
	$node->safe_psql($db, q{
		INSERT INTO pinpipe.kafka_offsets (consumer_group, topic, "partition", next_offset)
		VALUES ('pinpipe', 'pinterest.pins', 0, 1234), ('pinpipe', 'pinterest.pins', 1, 99);
		UPDATE pinpipe.batch_state SET retention_days = 3650;
	});
	$node->safe_psql($db, 'CALL pinpipe.run_batch()');
	ingest($node, $db, 700, 900);
	ingest($node, $db, 100, 150);    # resends of archived pins, pending
}

# Everything a reader sees, in one text (equal text = equal answers).
sub answers
{
	my ($node, $db) = @_;
	return $node->safe_psql($db, q{
		SELECT 'stats', s.* FROM pinpipe.category_stats s ORDER BY category;
		SELECT 'daily', d.* FROM pinpipe.category_daily_stats d ORDER BY day, category;
		SELECT 'rollup', day, category, posts, distinct_pins, error_pins, follower_known, follower_sum,
		       follower_max, follower_p50, follower_p90, image_pins, video_pins, top_tags
		  FROM pinpipe_archive.category_daily ORDER BY day, category;
		SELECT 'archive', count(*), md5(string_agg(a::text, '|' ORDER BY unique_id)) FROM pinpipe_archive.pins a;
		SELECT 'partitions', string_agg(c.relname, ',' ORDER BY c.relname)
		  FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
		 WHERE i.inhparent = 'pinpipe_archive.pins'::regclass;
		SELECT 'pending', pending_raw_rows, retention_days FROM pinpipe.batch_status;
		SELECT 'raw', count(*), md5(string_agg(payload, '|' ORDER BY id)) FROM pinpipe.raw_pins;
		SELECT 'dead', count(*), max(id) FROM pinpipe.dead_letters;
		SELECT 'offsets', string_agg(topic || ':' || "partition" || '=' || next_offset, ',' ORDER BY "partition")
		  FROM pinpipe.kafka_offsets;
		SELECT 'runs', count(*), max(id) FROM pinpipe.batch_runs;
	});
}

# Archive and rollups without the computation times (to compare two runs).
sub archive_state
{
	my ($node, $db) = @_;
	return $node->safe_psql($db, q{
		SELECT count(*), md5(string_agg(a::text, '|' ORDER BY unique_id)) FROM pinpipe_archive.pins a;
		SELECT md5(string_agg(row(day, category, posts, distinct_pins, error_pins, follower_known,
		       follower_sum, follower_avg, follower_max, follower_p50, follower_p90, image_pins,
		       video_pins, story_pins, other_media_pins, downloaded_pins, top_tags)::text, '|'
		       ORDER BY day, category)) FROM pinpipe_archive.category_daily;
	});
}

# The restored (or upgraded, or recovered) database keeps working.
sub keeps_working
{
	my ($node, $db, $label) = @_;
	my $dead_max = $node->safe_psql($db, 'SELECT coalesce(max(id), 0) FROM pinpipe.dead_letters');
	my $run_max = $node->safe_psql($db, 'SELECT coalesce(max(id), 0) FROM pinpipe.batch_runs');

	is(ingest($node, $db, 2000, 2100), '100/0', "$label: new pins ingested");
	ingest($node, $db, 20, 40);    # resends of pins archived before the backup
	my ($ret, $out, $err) = $node->psql($db, q(SELECT pinpipe.ingest_text('{broken')));
	is($ret, 0, "$label: a new dead letter is written") or diag($err);
	cmp_ok($node->safe_psql($db, 'SELECT max(id) FROM pinpipe.dead_letters'), '>', $dead_max,
		"$label: the new dead letter gets a new id");

	($ret, $out, $err) = $node->psql($db, 'CALL pinpipe.run_batch()');
	is($ret, 0, "$label: run_batch succeeds") or diag($err);
	cmp_ok($node->safe_psql($db, "SELECT max(id) FROM pinpipe.batch_runs WHERE status = 'succeeded'"),
		'>', $run_max, "$label: the run gets a new id");
	is($node->safe_psql($db, 'SELECT pending_raw_rows FROM pinpipe.batch_status'), '0',
		"$label: nothing left pending");

	# ground truth from the raw log and the speed layer, not from the batch layer
	my $truth = $node->safe_psql($db, q{
		SELECT (SELECT count(*) FROM pinpipe.raw_pins) || ' posts, '
		    || (SELECT count(DISTINCT unique_id) FROM pinpipe.pins) || ' pins'});
	is($node->safe_psql($db, q{
		SELECT sum(posts) || ' posts, ' || sum(distinct_pins) || ' pins' FROM pinpipe_archive.category_daily}),
		$truth, "$label: rollups count every event and pin once");
	is($node->safe_psql($db, q{
		SELECT sum(posts) || ' posts, ' || sum(distinct_pins) || ' pins' FROM pinpipe.category_stats}),
		$truth, "$label: serving view counts every event and pin once");
	is($node->safe_psql($db, q{SELECT (SELECT count(*) FROM pinpipe_archive.pins) || ' pins'}),
		($truth =~ s/^.*, //r), "$label: archive holds every pin once");
	is($node->safe_psql($db, q{
		SELECT count(*) FROM pinpipe.pins p
		 WHERE NOT EXISTS (SELECT 1 FROM pinpipe_archive.pins a WHERE a.unique_id = p.unique_id)}),
		'0', "$label: every new pin is archived");

	my $incremental = archive_state($node, $db);
	($ret, $out, $err) = $node->psql($db, 'CALL pinpipe.run_batch(full => true)');
	is($ret, 0, "$label: full rebuild succeeds") or diag($err);
	is(archive_state($node, $db), $incremental, "$label: incremental and full rebuild agree");
	is($node->safe_psql($db, 'SELECT pending_raw_rows FROM pinpipe.batch_status'), '0',
		"$label: nothing pending after the full rebuild");
}

# Run a command; true when it exits 0 with nothing on stderr but notices.
sub run_clean
{
	my ($what, @cmd) = @_;
	my ($out, $err) = ('', '');
	my $ok = IPC::Run::run(\@cmd, '>', \$out, '2>', \$err);
	my @errors = grep { !/^(NOTICE|WARNING: +no privileges)/ && /\S/ } split /\n/, $err;
	ok($ok && !@errors, $what) or diag("exit $?; stderr:\n$err");
	return $ok;
}

# pg_dump $from/$db (plain or custom format), restore into a new database $to/$newdb
# in one transaction that stops at the first error.
sub dump_restore
{
	my ($from, $db, $to, $newdb, $format) = @_;
	my $file = PostgreSQL::Test::Utils::tempdir() . "/$db.$format";
	run_clean("pg_dump $db ($format)",
		'pg_dump', '-d', $from->connstr($db), '-f', $file, $format eq 'custom' ? ('-Fc') : ());
	$to->safe_psql('postgres', "CREATE DATABASE $newdb");
	if ($format eq 'custom')
	{
		return run_clean("pg_restore --exit-on-error --single-transaction into $newdb",
			'pg_restore', '--exit-on-error', '--single-transaction', '-d', $to->connstr($newdb), $file);
	}
	return run_clean("psql -1 -v ON_ERROR_STOP=1 into $newdb",
		'psql', '-X', '-q', '-1', '-v', 'ON_ERROR_STOP=1', '-d', $to->connstr($newdb), '-f', $file);
}

1;
