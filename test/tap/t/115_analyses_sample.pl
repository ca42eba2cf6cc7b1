# The analyses' views (sql/install/55_analyses.sql) on the real samples of the 2023 data
# set (../shared/data: pins, geo, users) after ingest and run_batch. Every expected
# answer is computed here, in Perl, from the raw files with the cleaning rules the
# answers depend on written out again (DESIGN §3: follower counts "5k" → 5000,
# "User Info Error" → NULL, trimmed text, empty → NULL; timestamps without a zone are
# UTC), sharing nothing with the SQL. Then the Trino SQL of docs/batch.md, run through
# PostgreSQL (it is written in the subset both dialects share), must give the same.
use strict;
use warnings;
use Encode qw(encode_utf8);
use JSON::PP;
use PostgreSQL::Test::Utils;
use Test::More;
use PinpipeTest;

my %file = map { $_ => PinpipeTest::sample("${_}_sample.jsonl") } qw(pins geo user);

# --- the raw records, cleaned as far as the analyses need ---------------------------------
sub read_jsonl
{
	my ($path) = @_;
	my $json = JSON::PP->new->utf8;
	open(my $fh, '<', $path) or die "$path: $!";
	my @recs = map { $json->decode($_) } grep { /\S/ } <$fh>;
	close $fh;
	return @recs;
}

# trim white space (U+00A0 included); empty or a placeholder → undef
sub text_field
{
	my ($v, @placeholders) = @_;
	return undef unless defined $v;
	$v =~ s/^[\s\x{a0}]+|[\s\x{a0}]+$//g;
	return undef if $v eq '';
	for my $p (@placeholders)
	{
		return undef if lc($v) eq lc($p);
	}
	return $v;
}

# "972" → 972, "5k" → 5000, "1.5M" → 1500000; anything else → undef
sub followers
{
	my $v = text_field($_[0]);
	return undef unless defined $v && $v =~ /^(\d+)(?:\.(\d+))?([kmb]?)$/i;
	my ($int, $frac, $suffix) = ($1, $2 // '', lc $3);
	my $mult = { '' => 1, k => 1e3, m => 1e6, b => 1e9 }->{$suffix};
	return int(("$int.$frac" + 0) * $mult + 0.5);
}

sub year_of { my ($ts) = @_; return defined $ts && $ts =~ /^(\d{4})-/ ? $1 + 0 : undef }

sub age_group
{
	my ($age) = @_;
	return $age < 18 ? undef : $age <= 24 ? '18-24' : $age <= 35 ? '25-35' : $age <= 50 ? '36-50' : '+50';
}

my @pins = read_jsonl($file{pins});
my @geo = read_jsonl($file{geo});
my @users = read_jsonl($file{user});
is(scalar(@pins) . ' ' . scalar(@geo) . ' ' . scalar(@users), '3852 4513 5197', 'read every sample record');

my (%geo_of, %user_of);
$geo_of{ $_->{ind} } = { country => text_field($_->{country}), year => year_of($_->{timestamp}) } for @geo;
for my $u (@users)
{
	my ($first, $last) = (text_field($u->{first_name}), text_field($u->{last_name}));
	$user_of{ $u->{ind} } = {
		age => $u->{age},
		user_name => (defined $first && defined $last ? "$first $last" : undef),
		joined => $u->{date_joined},
		join_year => year_of($u->{date_joined}) };
}
my @clean_pins = map {
	{
		ind => $_->{index},
		category => text_field($_->{category}),
		poster_name => text_field($_->{poster_name}, 'User Info Error'),
		followers => followers($_->{follower_count}) }
} @pins;

# every key whose count is the greatest, per group: "group|key|count" rows
sub most
{
	my ($counts) = @_;
	my @rows;
	for my $g (keys %$counts)
	{
		my $max = (sort { $b <=> $a } values %{ $counts->{$g} })[0];
		push @rows, map { "$g|$_|$max" } grep { $counts->{$g}{$_} == $max } keys %{ $counts->{$g} };
	}
	return [ sort @rows ];
}

sub median
{
	my @v = sort { $a <=> $b } @_;
	my $n = @v;
	return $n % 2 ? $v[ ($n - 1) / 2 ] : ($v[ $n / 2 - 1 ] + $v[ $n / 2 ]) / 2;
}

sub medians
{
	my ($lists) = @_;
	return [ sort map { "$_|" . sprintf('%.1f', median(@{ $lists->{$_} })) } keys %$lists ];
}

my (%by_country, %by_year, %followers_in, %by_age, %f_age, %f_join, %f_join_age, %joined);
for my $p (@clean_pins)
{
	if (my $g = $geo_of{ $p->{ind} })
	{
		my $c = $g->{country};
		$by_country{$c}{ $p->{category} }++ if defined $c && defined $p->{category};
		$by_year{ $g->{year} }{ $p->{category} }++
		  if defined $p->{category} && $g->{year} >= 2018 && $g->{year} <= 2022;
		if (defined $c && defined $p->{poster_name} && defined $p->{followers})
		{
			my $f = \$followers_in{$c}{ $p->{poster_name} };
			$$f = $p->{followers} if !defined $$f || $p->{followers} > $$f;
		}
	}
	if (my $u = $user_of{ $p->{ind} })
	{
		my $ag = age_group($u->{age});
		my $jy = $u->{join_year};
		my $in_years = defined $jy && $jy >= 2015 && $jy <= 2020;
		$by_age{$ag}{ $p->{category} }++ if defined $ag && defined $p->{category};
		next unless defined $p->{followers};
		push @{ $f_age{$ag} }, $p->{followers} if defined $ag;
		push @{ $f_join{$jy} }, $p->{followers} if $in_years;
		push @{ $f_join_age{"$ag|$jy"} }, $p->{followers} if defined $ag && $in_years;
	}
}
for my $u (values %user_of)
{
	my $jy = $u->{join_year};
	$joined{$jy}{"$u->{user_name}\0$u->{joined}"} = 1
	  if defined $u->{user_name} && defined $jy && $jy >= 2015 && $jy <= 2020;
}

my %want = (
	popular_category_by_country => most(\%by_country),
	popular_category_by_year => most(\%by_year),
	top_user_by_country => most(\%followers_in),
	popular_category_by_age_group => most(\%by_age),
	median_followers_by_age_group => medians(\%f_age),
	median_followers_by_join_year => medians(\%f_join),
	median_followers_by_join_year_age_group => medians(\%f_join_age),
	users_joined_by_year => [ sort map { "$_|" . scalar(keys %{ $joined{$_} }) } keys %joined ]);
# the columns of each view, in order; the last one is the measured value
my %columns = (
	popular_category_by_country => 'country, category, category_count',
	popular_category_by_year => 'post_year, category, category_count',
	top_user_by_country => 'country, poster_name, follower_count',
	popular_category_by_age_group => 'age_group, category, category_count',
	median_followers_by_age_group => 'age_group, median_follower_count',
	median_followers_by_join_year => 'join_year, median_follower_count',
	median_followers_by_join_year_age_group => 'age_group, join_year, median_follower_count',
	users_joined_by_year => 'join_year, number_users_joined');

# as psql prints them: UTF-8 bytes
$want{$_} = [ map { encode_utf8($_) } @{ $want{$_} } ] for keys %want;

# The expectations are not degenerate: every group of the questions is present.
is(join(' ', sort keys %by_year), '2018 2019 2020 2021 2022', 'posts in each year 2018-2022');
is(join(' ', sort keys %f_age), '+50 18-24 25-35 36-50', 'pins in every age group');
is(join(' ', sort keys %joined), '2015 2016 2017', 'users joined in 2015-2017 (the sample has no later year)');
cmp_ok(scalar(@{ $want{popular_category_by_country} }), '>', 150, 'many countries');

# --- ingest, archive, and the views ----------------------------------------------------------
my $node = PinpipeTest::node('analyses_sample');
$node->safe_psql('postgres', 'CREATE EXTENSION pinpipe');
my $q = sub { $node->safe_psql('postgres', "SET timezone = 'UTC'; " . $_[0]) };

# The lines verbatim (CSV mode with delimiter/quote bytes that never occur), as NDJSON
# through ingest_text in batches of 500 per stream.
$q->(q{CREATE TABLE sample(stream text, n serial, line text)});
for my $stream (qw(pin geo user))
{
	my $path = $file{ $stream eq 'pin' ? 'pins' : $stream };
	$q->(qq{COPY sample(line) FROM '$path' WITH (FORMAT csv, DELIMITER E'\\x02', QUOTE E'\\x01');
		UPDATE sample SET stream = '$stream' WHERE stream IS NULL});
}
is( $q->(q{SELECT string_agg(stream || ' ' || accepted || '/' || dead_lettered, ', ' ORDER BY stream)
	  FROM (SELECT stream, sum(i.accepted) AS accepted, sum(i.dead_lettered) AS dead_lettered
	          FROM (SELECT stream, string_agg(line, E'\n' ORDER BY n) AS body FROM sample
	                 GROUP BY stream, (n - 1) / 500) t,
	               LATERAL pinpipe.ingest_text(t.body, t.stream) i
	         GROUP BY stream) s}),
	'geo 4513/0, pin 3852/0, user 5197/0', 'every sample record accepted');
$node->safe_psql('postgres', 'CALL pinpipe.run_batch()');
is( $q->(q{SELECT (SELECT count(*) FROM pinpipe_archive.pins) || ' ' || (SELECT count(*) FROM pinpipe_archive.geo)
	  || ' ' || (SELECT count(*) FROM pinpipe_archive.users)}),
	'3852 4513 5197', 'run_batch archived every record');

# One view's rows as sorted "a|b|c" lines; a median as a number with one decimal.
sub view_rows
{
	my ($view, $query) = @_;
	my @cols = split /, /, $columns{$view};
	my $last = pop @cols;
	my $value = $last =~ /^median/ ? "to_char($last, 'FM999999999990.0')" : $last;
	my $out = $q->(
		$query // "SELECT concat_ws('|', " . join(', ', @cols, $value) . ") FROM pinpipe.$view");
	return [ sort split /\n/, $out ];
}

for my $view (sort keys %want)
{
	is_deeply(view_rows($view), $want{$view}, "$view: the independently computed answer")
	  or diag(explain({ got => view_rows($view), want => $want{$view} }));
}
note("$_: " . join(', ', @{ $want{$_} })) for grep { !/country/ } sort keys %want;

# The views' columns: the names the docs promise, types Trino's connector reads.
for my $view (sort keys %columns)
{
	is( $q->(qq{SELECT string_agg(attname, ', ' ORDER BY attnum) FROM pg_attribute
		  WHERE attrelid = 'pinpipe.$view'::regclass AND attnum > 0}),
		$columns{$view}, "$view: columns");
}

# --- the Trino SQL of docs/batch.md gives the same answers ----------------------------------
# Each analysis there is a ```sql block opening with "-- <view name>"; it reads the catalog
# pinpipe (pinpipe.pinpipe_archive.<table>), which here is the database itself.
my $doc = slurp_file("$PinpipeTest::REPO/docs/batch.md");
my %trino;
while ($doc =~ /```sql\n-- (\w+)\n(.*?)```/sg)
{
	$trino{$1} = $2 if $want{$1};
}
is(join(' ', sort keys %trino), join(' ', sort keys %want), 'docs/batch.md has the Trino SQL of every analysis');
for my $view (sort keys %trino)
{
	(my $sql = $trino{$view}) =~ s/\bpinpipe\.pinpipe_archive\./pinpipe_archive./g;
	$sql =~ s/;\s*$//;
	my @cols = split /, /, $columns{$view};
	my $last = pop @cols;
	my $value = $last =~ /^median/ ? "to_char($last, 'FM999999999990.0')" : $last;
	is_deeply(view_rows($view, "SELECT concat_ws('|', " . join(', ', @cols, $value) . ") FROM ($sql) t"),
		$want{$view}, "$view: the Trino SQL, run by PostgreSQL, gives the same answer");
}

$node->stop;
done_testing();
