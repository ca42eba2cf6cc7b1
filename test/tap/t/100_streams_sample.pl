# All real geo and user records of the 2023 data set (../shared/data/geo_sample.jsonl,
# user_sample.jsonl) through ingest(…, stream), with malformed records mixed in, then
# run_batch. The expectations are computed here from the raw files with python3,
# independently of pinpipe (counts, sums, min/max timestamps, name concatenations).
use strict;
use warnings;
use PostgreSQL::Test::Utils;
use Test::More;
use PinpipeTest;

my $geo_file = PinpipeTest::sample('geo_sample.jsonl');
my $user_file = PinpipeTest::sample('user_sample.jsonl');

# --- expectations, from the raw files ---------------------------------------------------
my $py = q{
import json, sys, hashlib
from datetime import datetime, timezone
from decimal import Decimal, ROUND_HALF_UP
def epoch(s):
    return int(datetime.strptime(s, '%Y-%m-%d %H:%M:%S').replace(tzinfo=timezone.utc).timestamp())
geo = [json.loads(l) for l in open(sys.argv[1])]
usr = [json.loads(l) for l in open(sys.argv[2])]
geo.sort(key=lambda r: r['ind'])
usr.sort(key=lambda r: r['ind'])
out = {
  'geo_count': len(geo),
  'geo_inds': len({r['ind'] for r in geo}),
  'geo_ind_sum': sum(r['ind'] for r in geo),
  'lat_sum': str(sum(Decimal(repr(r['latitude'])) for r in geo).quantize(Decimal('0.000001'), rounding=ROUND_HALF_UP)),
  'lon_sum': str(sum(Decimal(repr(r['longitude'])) for r in geo).quantize(Decimal('0.000001'), rounding=ROUND_HALF_UP)),
  'ts_min': min(epoch(r['timestamp']) for r in geo),
  'ts_max': max(epoch(r['timestamp']) for r in geo),
  'ts_sum': sum(epoch(r['timestamp']) for r in geo),
  'countries': hashlib.md5('|'.join(r['country'].strip() for r in geo).encode()).hexdigest(),
  'n_countries': len({r['country'] for r in geo}),
  'user_count': len(usr),
  'user_inds': len({r['ind'] for r in usr}),
  'age_sum': sum(r['age'] for r in usr),
  'names': hashlib.md5('|'.join(r['first_name'].strip() + ' ' + r['last_name'].strip() for r in usr).encode()).hexdigest(),
  'joined_min': min(epoch(r['date_joined']) for r in usr),
  'joined_max': max(epoch(r['date_joined']) for r in usr),
  'joined_sum': sum(epoch(r['date_joined']) for r in usr),
}
for k, v in out.items():
    print(k, v)
};
my $script = PostgreSQL::Test::Utils::tempdir() . '/expect.py';
open(my $fh, '>', $script) or die "$script: $!";
print $fh $py;
close $fh;
my %want = map { split / /, $_, 2 } split /\n/, `python3 '$script' '$geo_file' '$user_file'`;
is($want{geo_count}, 4513, 'python3 read the 4,513 geo records');
is($want{user_count}, 5197, 'python3 read the 5,197 user records');

my $node = PinpipeTest::node('streams_sample');
$node->safe_psql('postgres', 'CREATE EXTENSION pinpipe');
my $q = sub { $node->safe_psql('postgres', "SET timezone = 'UTC'; " . $_[0]) };

# The lines verbatim (CSV mode with delimiter/quote bytes that never occur).
$q->(qq{CREATE TABLE sample(stream text, n serial, line text);
	COPY sample(line) FROM '$geo_file' WITH (FORMAT csv, DELIMITER E'\\x02', QUOTE E'\\x01');
	UPDATE sample SET stream = 'geo';
	COPY sample(line) FROM '$user_file' WITH (FORMAT csv, DELIMITER E'\\x02', QUOTE E'\\x01');
	UPDATE sample SET stream = 'user' WHERE stream IS NULL;});

# Malformed records, each in the middle of a batch of good ones.
my @bad_geo = (
	'{"ind": 90001, "timestamp": "2020-01-01 00:00:00", "latitude": "north", "longitude": 1, "country": "X"}',
	'{"ind": 90002, "latitude": 1, "longitude": 1, "country": "X"}',
	'{"ind": "x", "timestamp": "t", "latitude": 1, "longitude": 1, "country": "X"}',
	'{"ind": 90004, "timestamp": "t", "latitude": [1], "longitude": 1, "country": "X"}',
	'{"ind": 90005, "timestamp":',
	'[1, 2]');
my @bad_user = (
	'{"ind": 90001, "first_name": "A", "last_name": "B", "age": "old", "date_joined": "2016-01-01 00:00:00"}',
	'{"ind": 90002, "first_name": null, "last_name": "B", "age": 1, "date_joined": "2016-01-01 00:00:00"}',
	'{"ind": 90003, "first_name": "A", "last_name": "B", "age": 1e12, "date_joined": "2016-01-01 00:00:00"}',
	'"just a string"');
$q->(qq{CREATE TABLE bad(stream text, k int, line text)});
for my $i (0 .. $#bad_geo)
{
	$q->(qq{INSERT INTO bad VALUES ('geo', $i, \$b\$$bad_geo[$i]\$b\$)});
}
for my $i (0 .. $#bad_user)
{
	$q->(qq{INSERT INTO bad VALUES ('user', $i, \$b\$$bad_user[$i]\$b\$)});
}

# geo: NDJSON through ingest_text in batches of 500, a malformed line in each of the
# first batches; users: JSON arrays through ingest(jsonb, 'user'), the same way
# (the malformed user records go in as a text batch: one is not JSON-valid for jsonb).
is( $q->(qq{SELECT sum(i.accepted) || '/' || sum(i.dead_lettered)
	  FROM (SELECT b, string_agg(line, E'\\n' ORDER BY o) AS body
	          FROM (SELECT (n - 1) / 500 AS b, n AS o, line FROM sample WHERE stream = 'geo'
	                UNION ALL SELECT k, k * 500 + 250, line FROM bad WHERE stream = 'geo') x
	         GROUP BY b) t,
	       LATERAL pinpipe.ingest_text(t.body, 'geo') i}),
	"$want{geo_count}/" . scalar(@bad_geo),
	'geo: every real record accepted, every malformed one dead-lettered, in the same batches');
is( $q->(qq{SELECT sum(i.accepted) || '/' || sum(i.dead_lettered)
	  FROM (SELECT jsonb_agg(line::jsonb ORDER BY n) AS recs FROM sample WHERE stream = 'user'
	         GROUP BY (n - 1) / 500) t,
	       LATERAL pinpipe.ingest(t.recs, 'user') i}),
	"$want{user_count}/0", 'users: every real record accepted');
is( $q->(qq{SELECT sum(i.accepted) || '/' || sum(i.dead_lettered)
	  FROM (SELECT string_agg(line, E'\\n' ORDER BY k) AS body FROM bad WHERE stream = 'user'
	        UNION ALL
	        SELECT string_agg(line, E'\\n' ORDER BY n) FROM (SELECT * FROM sample WHERE stream = 'user' ORDER BY n LIMIT 3) s) t,
	       LATERAL pinpipe.ingest_text(t.body, 'user') i}),
	'3/' . scalar(@bad_user), 'users: malformed records dead-lettered beside good ones');

# --- the speed layer against the expectations -------------------------------------------
is( $q->(q{SELECT count(*) || ' ' || count(DISTINCT ind) || ' ' || sum(ind) FROM pinpipe.geo}),
	"$want{geo_count} $want{geo_inds} $want{geo_ind_sum}", 'geo: rows, distinct ind, sum of ind');
is( $q->(q{SELECT round(sum(latitude::text::numeric), 6) || ' ' || round(sum(longitude::text::numeric), 6) FROM pinpipe.geo}),
	"$want{lat_sum} $want{lon_sum}", 'geo: latitude and longitude kept');
is($q->(q{SELECT count(*) FROM pinpipe.geo WHERE coordinates IS DISTINCT FROM ARRAY[latitude, longitude]}),
	'0', 'geo: coordinates = {latitude, longitude} on every row');
is( $q->(q{SELECT min(extract(epoch FROM "timestamp"))::bigint || ' ' || max(extract(epoch FROM "timestamp"))::bigint
	  || ' ' || sum(extract(epoch FROM "timestamp"))::bigint FROM pinpipe.geo}),
	"$want{ts_min} $want{ts_max} $want{ts_sum}", 'geo: timestamp as timestamptz, read as UTC');
is( $q->(q{SELECT md5(string_agg(country, '|' ORDER BY ind)) || ' ' || count(DISTINCT country) FROM pinpipe.geo}),
	"$want{countries} $want{n_countries}", 'geo: countries');
is($q->(q{SELECT count(*) FROM pinpipe.geo WHERE error_fields <> '{}'}), '0', 'geo: no real record is flagged');

is( $q->(q{SELECT count(*) || ' ' || count(DISTINCT ind) || ' ' || (SELECT sum(age) FROM
	  (SELECT DISTINCT ON (ind) age FROM pinpipe.users ORDER BY ind, raw_id) u) FROM pinpipe.users}),
	($want{user_count} + 3) . " $want{user_inds} $want{age_sum}",
	'users: rows (3 records sent twice), distinct ind, sum of age');
is( $q->(q{SELECT md5(string_agg(user_name, '|' ORDER BY ind, raw_id))
	  FROM (SELECT DISTINCT ON (ind) ind, raw_id, user_name FROM pinpipe.users ORDER BY ind, raw_id) u}),
	$want{names}, "users: user_name = first_name || ' ' || last_name");
is( $q->(q{SELECT min(extract(epoch FROM date_joined))::bigint || ' ' || max(extract(epoch FROM date_joined))::bigint
	  || ' ' || sum(extract(epoch FROM date_joined))::bigint
	  FROM (SELECT DISTINCT ON (ind) * FROM pinpipe.users ORDER BY ind, raw_id) u}),
	"$want{joined_min} $want{joined_max} $want{joined_sum}", 'users: date_joined as timestamptz');
is($q->(q{SELECT count(*) FROM pinpipe.users WHERE error_fields <> '{}'}), '0', 'users: no real record is flagged');

# --- raw log and dead letters ----------------------------------------------------------
is( $q->(q{SELECT count(*) FROM pinpipe.raw_pins r JOIN sample s ON s.stream = 'geo' AND r.payload = s.line
	  WHERE r.stream = 'geo'}),
	$want{geo_count}, 'raw log: every geo line verbatim, as stream geo');
is($q->(q{SELECT stream || ' ' || count(*) FROM pinpipe.raw_pins GROUP BY stream ORDER BY stream}),
	"geo $want{geo_count}\nuser " . ($want{user_count} + 3), 'raw log: rows per stream');
is( $q->(q{SELECT count(*) FROM pinpipe.dead_letters d JOIN bad b ON b.line = d.payload AND b.stream = d.stream}),
	scalar(@bad_geo) + scalar(@bad_user), 'dead letters: each malformed record, with its stream');
is( $q->(q{SELECT string_agg(coalesce(field, '-') || ':' || sqlstate, ' ' ORDER BY id) FROM pinpipe.dead_letters}),
	'latitude:22P02 timestamp:2203A ind:22P02 latitude:22023 -:22032 -:2203C age:22P02 first_name:22004 age:22003 -:2203C',
	'dead letters: field and SQLSTATE of each');
is($q->(q{SELECT count(*) FROM pinpipe.pins}), '0', 'no pin rows from the other streams');

# --- the batch layer --------------------------------------------------------------------
$node->safe_psql('postgres', 'CALL pinpipe.run_batch()');
is( $q->(q{SELECT status || ' ' || raw_rows || ' ' || rejected_rows || ' ' || geo_written || ' ' || users_written
	  FROM pinpipe.batch_runs ORDER BY id DESC LIMIT 1}),
	'succeeded ' . ($want{geo_count} + $want{user_count} + 3) . " 0 $want{geo_inds} $want{user_inds}",
	'run_batch archives both streams, one row per ind');
is( $q->(q{SELECT count(*) FROM pinpipe_archive.geo a JOIN pinpipe.geo g ON g.raw_id = a.raw_id
	  WHERE (a.ind, a."timestamp", a.latitude, a.longitude, a.coordinates, a.country, a.error_fields)
	      = (g.ind, g."timestamp", g.latitude, g.longitude, g.coordinates, g.country, g.error_fields)}),
	$want{geo_inds}, 'geo archive: the cleaned rows of the speed layer');
is( $q->(q{SELECT count(*) || ' ' || sum(age) || ' ' || sum(events) FROM pinpipe_archive.users}),
	"$want{user_inds} $want{age_sum} " . ($want{user_count} + 3), 'users archive: one row per ind, every event counted');
is($q->(q{SELECT md5(string_agg(user_name, '|' ORDER BY ind)) FROM pinpipe_archive.users}),
	$want{names}, 'users archive: user names');

$node->stop;
done_testing();
