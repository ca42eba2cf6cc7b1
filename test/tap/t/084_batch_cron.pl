# pg_cron itself runs the scheduled batch (was test/t/50_batch_cron.sh): schedule_batch
# registers the job (stable name, rescheduling updates it), cron.job_run_details shows a
# succeeded run of it, batch_runs agrees and the archive holds every pin; unschedule_batch
# removes the job. pg_cron 1.4 has no seconds syntax, so the job runs every minute (the
# wait is bounded at 150 s; a condition, never a sleep, decides).
use strict;
use warnings;
use PostgreSQL::Test::Utils;
use Test::More;
use PinpipeTest;

my $node = PinpipeTest::node('batch_cron', no_start => 1);
# pg_cron connects with libpq; the node listens on its Unix socket directory.
$node->append_conf('postgresql.conf', "cron.host = '" . $node->host . "'\n");
$node->start;
sub sql { return $node->safe_psql('postgres', $_[0]); }

sql('CREATE EXTENSION pg_cron');
sql('CREATE EXTENSION pinpipe');

# The real sample through the real ingest path, in arrays of 200 pins.
my $data = PinpipeTest::sample('pins_sample.jsonl');
sql(qq{
CREATE TEMP TABLE s (n serial, payload text);
\\copy s (payload) FROM '$data' WITH (FORMAT csv, QUOTE e'\\x01', DELIMITER e'\\x02')
SELECT sum(i.accepted)
  FROM generate_series(0, (SELECT count(*) FROM s) / 200) g,
       LATERAL pinpipe.ingest((SELECT jsonb_agg(payload::jsonb ORDER BY n) FROM s WHERE n > g * 200 AND n <= g * 200 + 200)) i;
});
my $total = sql('SELECT count(*) FROM pinpipe.raw_pins');
my $uniq = sql('SELECT count(DISTINCT unique_id) FROM pinpipe.pins');
open(my $fh, '<', $data) or die;
my $lines = () = <$fh>;
close $fh;
is($total, $lines, 'sample ingested');
is(sql('SELECT count(*) FROM pinpipe_archive.pins'), '0', 'nothing archived before cron ran');

my $job = sql("SELECT pinpipe.schedule_batch('*/5 * * * *')");
is(sql("SELECT schedule || ' | ' || command || ' | ' || database FROM cron.job WHERE jobid = $job"),
	'*/5 * * * * | CALL pinpipe.run_batch() | postgres', 'job registered');
is(sql("SELECT pinpipe.schedule_batch('* * * * *')"), $job, 'rescheduling keeps the job id');
is(sql("SELECT count(*) || ' ' || min(schedule) FROM cron.job WHERE jobname = 'pinpipe-run-batch'"),
	'1 * * * * *', 'rescheduling updates the schedule');

ok( PinpipeTest::wait_for(
		sub {
			sql("SELECT count(*) FROM cron.job_run_details WHERE jobid = $job AND status IN ('succeeded', 'failed')")
			  >= 1;
		},
		"a finished pg_cron run of job $job",
		150),
	'pg_cron ran the job');
is( sql("SELECT status || ' ' || command FROM cron.job_run_details
          WHERE jobid = $job AND status <> 'running' ORDER BY runid LIMIT 1"),
	'succeeded CALL pinpipe.run_batch()', 'cron.job_run_details: succeeded');
diag(sql("SELECT status, return_message FROM cron.job_run_details WHERE jobid = $job LIMIT 3"));
is(sql("SELECT status || ' ' || raw_rows FROM pinpipe.batch_runs WHERE raw_rows > 0 ORDER BY id LIMIT 1"),
	"succeeded $total", 'batch_runs: a succeeded run that read every raw pin');
is(sql('SELECT count(*) FROM pinpipe_archive.pins'), $uniq, 'archive: one row per unique_id');
is(sql('SELECT sum(posts) FROM pinpipe_archive.category_daily'), $total, 'rollups: every post counted once');
is(sql('SELECT count(DISTINCT category) FROM pinpipe_archive.category_daily'), '13', '13 categories rolled up');
is(sql('SELECT pending_raw_rows FROM pinpipe.batch_status'), '0', 'nothing pending after the run');
is(sql("SELECT sum(posts) || ' ' || sum(distinct_pins) || ' ' || sum(live_posts) FROM pinpipe.category_stats"),
	"$total $uniq 0", 'serving view equals the archive');

is(sql('SELECT pinpipe.unschedule_batch()'), 't', 'unschedule_batch removes the job');
is(sql("SELECT count(*) FROM cron.job WHERE jobname = 'pinpipe-run-batch'"), '0', 'job gone');
is(sql('SELECT pinpipe.unschedule_batch()'), 'f', 'unschedule_batch again: false');

$node->stop;
done_testing();
