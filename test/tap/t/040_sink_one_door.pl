# Embedded HTTP hands the sink the pins it validated before answering (the sink does
# not parse them again) and every dead letter goes through the sink: the stored rows
# equal clean_pin() of the raw payload for the whole real sample (escapes decoded into
# the request's own scratch memory, kept until the commit), a pin dead-lettered at
# insert time is answered as such and counted once in /metrics.
use strict;
use warnings;
use File::Temp qw(tempfile);
use PostgreSQL::Test::Utils;
use Test::More;
use PinpipeTest;

my $node = PinpipeTest::node('one_door', http => 1);
my $port = $node->{pinpipe_http_port};
$node->safe_psql('postgres', 'CREATE EXTENSION pinpipe');

sub http
{
	my ($method, $path, $file) = @_;
	my @cmd = ('curl', '-s', '-o', '-', '-w', '\n%{http_code}', '-X', $method);
	push @cmd, ('-H', 'Content-Type: application/json', '--data-binary', "\@$file") if $file;
	my $out = `@{[join ' ', map { "'$_'" } @cmd]} http://127.0.0.1:$port$path`;
	my ($body, $code) = $out =~ /\A(.*)\n(\d+)\z/s;
	return ($code // 0, $body // '');
}

sub metric
{
	my ($name) = @_;
	my ($code, $body) = http('GET', '/metrics');
	return $body =~ /^\Q$name\E (\d+)$/m ? $1 : -1;
}

ok(PinpipeTest::wait_for(sub { (http('GET', '/healthz'))[0] == 200 }, 'healthz 200'),
	'HTTP worker ready');

# The whole real sample through POST /pins (NDJSON, as received).
my ($code, $body) = http('POST', '/pins', PinpipeTest::sample('pins_sample.jsonl'));
is($code, 200, 'POST /pins of the sample: 200');
like($body, qr/^\{"accepted":3852,"rejected":0,/, 'every sample pin accepted');
is( $node->safe_psql(
		'postgres', q{
SELECT count(*) FILTER (WHERE c IS NOT DISTINCT FROM
           ROW(p.ind, p.unique_id, p.title, p.description, p.poster_name, p.follower_count,
               p.tag_list, p.is_image_or_video, p.image_src, p.downloaded, p.save_location,
               p.category, p.error_fields)::pinpipe.cleaned_pin) || '/' || count(*)
  FROM pinpipe.pins p JOIN pinpipe.raw_pins r ON r.id = p.raw_id
 CROSS JOIN LATERAL pinpipe.clean_pin(r.payload) c
 WHERE r.source = 'http'}),
	'3852/3852',
	'each stored row is clean_pin() of its raw payload');

# A pin that validates but fails at insert time (a trigger) is a dead letter, beside a
# good pin and one that fails validation (answered 422-style, not a dead letter).
$node->safe_psql(
	'postgres', q{
CREATE FUNCTION no_poison() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.title = 'poison' THEN RAISE EXCEPTION 'poison is not welcome'; END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER no_poison BEFORE INSERT ON pinpipe.pins FOR EACH ROW EXECUTE FUNCTION no_poison();
});
open(my $in, '<', PinpipeTest::sample('pins_sample.jsonl')) or die;
my $pin = <$in>;
close $in;
chomp $pin;
(my $good = $pin)   =~ s/"unique_id": *"[^"]*"/"unique_id": "00000000-0000-4000-8000-000000000001"/;
(my $poison = $pin) =~ s/"unique_id": *"[^"]*"/"unique_id": "00000000-0000-4000-8000-000000000002"/;
$poison =~ s/"title": *"(?:[^"\\]|\\.)*"/"title": "poison"/;
my ($fh, $file) = tempfile(UNLINK => 1);
print $fh "$good\n$poison\n{\"index\": 3}\n";
close $fh;
my ($dead0, $rej0, $acc0) = map { metric($_) }
  qw(pinpipe_http_dead_letters_total pinpipe_http_pins_rejected_total pinpipe_http_pins_accepted_total);
($code, $body) = http('POST', '/pins', $file);
is($code, 200, 'POST /pins with a poison pin: 200');
like($body, qr/^\{"accepted":1,"rejected":2,/, 'one accepted, two rejected');
like($body, qr/\{"index":1,"detail":\[\{"loc":\["body"\],"msg":"poison is not welcome","type":"value_error.dead_letter"\}\]\}/,
	'the dead letter is answered with its error');
unlike($body, qr/\{"index":2,"detail":[^}]*dead_letter/, 'the invalid pin is no dead letter');
is(metric('pinpipe_http_dead_letters_total') - $dead0, 1, 'one dead letter counted');
is(metric('pinpipe_http_pins_rejected_total') - $rej0, 2, 'two rejections counted');
is(metric('pinpipe_http_pins_accepted_total') - $acc0, 1, 'one acceptance counted');
is( $node->safe_psql('postgres',
		"SELECT string_agg(source || ' ' || sqlstate || ' ' || error, ',') FROM pinpipe.dead_letters"),
	'http P0001 poison is not welcome',
	'the dead letter is in pinpipe.dead_letters');

$node->stop;
done_testing();
