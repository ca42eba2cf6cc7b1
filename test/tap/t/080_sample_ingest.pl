# Every real pin of ../shared/data/pins_sample.jsonl through pinpipe.ingest() (was
# test/t/10_sample_ingest.sh), checked against expectations computed here, independently,
# from the raw data with jq (not from pinpipe's own output); then variants of the same
# pins (other white space, case, number forms) must clean the same.
use strict;
use warnings;
use Digest::MD5 qw(md5_hex);
use IPC::Run;
use PostgreSQL::Test::Utils;
use Test::More;
use PinpipeTest;

my $data = PinpipeTest::sample('pins_sample.jsonl');
my $node = PinpipeTest::node('sample_ingest');
sub sql { return $node->safe_psql('postgres', $_[0]); }
sql('CREATE EXTENSION pinpipe');

open(my $fh, '<', $data) or die;
my @lines = <$fh>;
close $fh;
my $n = @lines;
my %distinct = map { $_ => 1 } @lines;

# Load the lines verbatim (CSV mode with delimiter/quote bytes that never occur).
sql('CREATE TABLE sample(n serial, line text)');
sql("\\copy sample(line) FROM '$data' WITH (FORMAT csv, DELIMITER E'\\x02', QUOTE E'\\x01')");
is(sql('SELECT count(*) FROM sample'), $n, 'all lines loaded');

# Ingest in batches of 500, as the workers do.
sql('SELECT sum(i.accepted), sum(i.dead_lettered)
    FROM (SELECT jsonb_agg(line::jsonb ORDER BY n) AS pins FROM sample GROUP BY (n - 1) / 500) b,
         LATERAL pinpipe.ingest(b.pins) i');
is(sql('SELECT count(*) FROM pinpipe.pins'), $n, 'every real pin accepted');
is(sql('SELECT count(*) FROM pinpipe.dead_letters'), '0', 'no dead letters');
is(sql("SELECT count(*) || '/' || count(DISTINCT payload) FROM pinpipe.raw_pins"),
	"$n/" . scalar(keys %distinct), 'raw log has every message once');
is(sql('SELECT count(*) FROM pinpipe.raw_pins r JOIN sample s ON r.payload::jsonb = s.line::jsonb'),
	$n, 'raw payloads are the messages');

# --- expectations from the raw data (jq), rule by rule
my $jq_defs = <<'JQ';
def trim: sub("^[\\s\u00a0]+"; "") | sub("[\\s\u00a0]+$"; "");
def follower: (.follower_count | trim) as $f
  | if ($f | test("^[0-9]+(\\.[0-9]+)?[kKmMbB]?$")) then
      ($f | capture("^(?<num>[0-9.]+)(?<suf>[kKmMbB]?)$")) as $c
      | ($c.num | tonumber) * ({"": 1, "k": 1000, "m": 1000000, "b": 1000000000}[$c.suf | ascii_downcase])
      | round
    else null end;
def tags: (.tag_list | trim) as $t
  | if $t == "N,o, ,T,a,g,s, ,A,v,a,i,l,a,b,l,e" then null
    else [$t | split(",")[] | trim | select(length > 0)] | if length == 0 then null else . end end;
def title_null: (.title | trim) as $t | $t == "" or $t == "No Title Data Available";
def desc_null: (.description | trim) as $d
  | $d == "" or $d == "No description available Story format" or $d == "No description available";
def poster_null: (has("poster_name") | not) or ((.poster_name | trim) as $p | $p == "" or $p == "User Info Error");
def poster_flag: has("poster_name") and ((.poster_name | trim) as $p | $p == "" or $p == "User Info Error");
def image_null: (.image_src | trim) == "Image src error.";
def save_null: (.save_location | test("/") | not);
def flagged: title_null or desc_null or poster_flag or (follower == null) or (tags == null) or image_null or save_null;
JQ

# One jq program over the whole file (slurped), with the definitions above.
sub jqc
{
	my ($prog, @opt) = @_;
	my ($out, $err);
	IPC::Run::run([ 'jq', '-r', @opt, $prog, $data ], '>', \$out, '2>', \$err)
	  or die "jq $prog: $err";
	chomp $out;
	return $out;
}
sub jqs { return jqc("$jq_defs $_[0]", '-s'); }

is(sql('SELECT count(*) FROM pinpipe.pins WHERE title IS NULL'), jqs('map(select(title_null)) | length'), 'title NULLs');
is(sql('SELECT count(*) FROM pinpipe.pins WHERE description IS NULL'), jqs('map(select(desc_null)) | length'),
	'description NULLs');
is(sql('SELECT count(*) FROM pinpipe.pins WHERE poster_name IS NULL'), jqs('map(select(poster_null)) | length'),
	'poster_name NULLs');
is(sql('SELECT count(*) FROM pinpipe.pins WHERE follower_count IS NULL'),
	jqs('map(select(follower == null)) | length'), 'follower_count NULLs');
is(sql('SELECT sum(follower_count) FROM pinpipe.pins'), jqs('map(follower // 0) | add'), 'follower_count sum');
is(sql('SELECT count(*) FROM pinpipe.pins WHERE tag_list IS NULL'), jqs('map(select(tags == null)) | length'),
	'tag_list NULLs');
is(sql('SELECT sum(cardinality(tag_list)) FROM pinpipe.pins'), jqs('map(tags // [] | length) | add'),
	'number of tags');
is(sql(q{SELECT count(*) FROM pinpipe.pins, unnest(tag_list) t WHERE t <> btrim(t, E' \t\n\u00a0') OR t = ''}),
	'0', 'tags are trimmed');
is(sql('SELECT count(*) FROM pinpipe.pins WHERE image_src IS NULL'), jqs('map(select(image_null)) | length'),
	'image_src NULLs');
is(sql('SELECT count(*) FROM pinpipe.pins WHERE (image_src IS NULL) <> (downloaded = 0)'),
	'0', 'image_src NULL exactly when not downloaded');
is(sql(q{SELECT count(*) FROM pinpipe.pins WHERE save_location = '/data/' || category}),
	jqs('map(select(.save_location == "Local save in /data/" + .category)) | length'),
	'save_location is the path');
is( sql(q{SELECT count(*) FROM pinpipe.pins
           WHERE description ~ E'^[[:space:]\u00a0]|[[:space:]\u00a0]$'
              OR title ~ E'^[[:space:]\u00a0]|[[:space:]\u00a0]$'}),
	'0', 'no text ends or starts in white space');
is(sql(q{SELECT count(*) FROM pinpipe.pins WHERE description LIKE E'%\u2026'}),
	jqs(q{map(select(.description | test("\u2026[\\\\s\u00a0]*$"))) | length}),
	'descriptions that ended in a no-break space were trimmed');
is(sql(q{SELECT count(*) FROM pinpipe.pins WHERE error_fields <> '{}'}), jqs('map(select(flagged)) | length'),
	'flagged pins (error_fields not empty)');
is(sql(q{SELECT count(*) FROM pinpipe.pins WHERE ('follower_count' = ANY (error_fields)) <> (follower_count IS NULL)}),
	'0', 'follower_count flagged exactly when NULL');
is( sql(q{SELECT string_agg(is_image_or_video || '=' || c, ',' ORDER BY is_image_or_video)
            FROM (SELECT is_image_or_video, count(*) c FROM pinpipe.pins GROUP BY 1) x}),
	jqs('group_by(.is_image_or_video) | map(.[0].is_image_or_video + "=" + (length | tostring)) | join(",")'),
	'media types');
# the unique_ids as jq reads them, lower-cased hex, in byte order, comma-joined
my @uids = split /\n/, jqc('.unique_id');
tr/A-F/a-f/ for @uids;
is(sql(q{SELECT md5(string_agg(unique_id::text, ',' ORDER BY unique_id::text)) FROM pinpipe.pins}),
	md5_hex(join(',', sort @uids)), 'unique_ids');
is(sql('SELECT sum(ind) FROM pinpipe.pins'), jqs('map(.index) | add'), 'ind is index');
is(sql(q{SELECT sum(posts) || '/' || sum(error_posts) || '/' || sum(follower_sum) FROM pinpipe.category_minute}),
	"$n/" . jqs('map(select(flagged)) | length') . '/' . jqs('map(follower // 0) | add'),
	'live aggregates count every pin');
is(sql('SELECT count(DISTINCT category) FROM pinpipe.category_minute'), jqs('map(.category) | unique | length'),
	'categories');

is(sql('SELECT count(*) FROM sample WHERE pinpipe.clean_pin(line::jsonb) IS DISTINCT FROM pinpipe.clean_pin(line)'),
	'0', 'clean_pin(jsonb) and clean_pin(text) agree on every pin');

# --- variants: the same pins with other white space, case and number forms; each must
# clean exactly like the original pin.
sql(<<'SQL');
CREATE TABLE variant AS
SELECT n, line::jsonb AS orig,
       line::jsonb
       || jsonb_build_object(
            'title', E'\u00a0 ' || CASE WHEN line::jsonb->>'title' = 'No Title Data Available'
                                        THEN 'NO TITLE  DATA available' ELSE line::jsonb->>'title' END || E' \t',
            'description', E'\n' || (line::jsonb->>'description') || E'\u2003',
            'category', ' ' || (line::jsonb->>'category'),
            'image_src', CASE WHEN line::jsonb->>'image_src' = 'Image src error.'
                              THEN ' image SRC error. ' ELSE line::jsonb->>'image_src' END,
            'tag_list', ' ' || replace(line::jsonb->>'tag_list', ',', E' ,\u00a0') || ', ',
            'save_location', E'\u00a0' || (line::jsonb->>'save_location'),
            'follower_count', CASE
                WHEN line::jsonb->>'follower_count' ~ '^[0-9]+k$' AND n % 2 = 0
                    THEN upper(line::jsonb->>'follower_count')
                WHEN line::jsonb->>'follower_count' ~ '^[0-9]+k$'
                    THEN to_char((rtrim(line::jsonb->>'follower_count', 'k'))::int * 1000, 'FM999,999,999')
                WHEN line::jsonb->>'follower_count' ~ '^[0-9]+M$'
                    THEN rtrim(line::jsonb->>'follower_count', 'M') || '.0 m'
                WHEN line::jsonb->>'follower_count' = 'User Info Error' THEN ' user info ERROR '
                ELSE ' ' || (line::jsonb->>'follower_count') END,
            'index', (line::jsonb->>'index'),
            'downloaded', (line::jsonb->'downloaded')::text)
       AS var
FROM sample
SQL
is(sql('SELECT count(*) FROM variant WHERE pinpipe.clean_pin(var) IS DISTINCT FROM pinpipe.clean_pin(orig)'),
	'0', 'variants clean exactly like the originals');
is(sql('SELECT count(*) FROM variant WHERE var::text <> orig::text'), $n, 'variants were really different');

$node->stop;
done_testing();
