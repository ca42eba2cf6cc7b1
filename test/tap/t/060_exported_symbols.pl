# pinpipe.so lives in every backend next to every other loaded library: it exports only
# what PostgreSQL looks up (SQL functions, worker entry points, _PG_init, the magic block),
# all named pinpipe_*, and PostgreSQL still finds each of them by name.
use strict;
use warnings;
use PostgreSQL::Test::Utils;
use Test::More;
use PinpipeTest;

my $libdir = `pg_config --pkglibdir`;
chomp $libdir;
my $so = "$libdir/pinpipe.so";
ok(-r $so, "pinpipe.so installed in $libdir");

my @symbols = map { (split ' ')[-1] } grep { /\S/ } split /\n/, `nm -D --defined-only '$so'`;
is($?, 0, 'nm -D --defined-only ran');
cmp_ok(scalar @symbols, '>', 0, 'the library exports symbols');
my @foreign = grep { !/^(pinpipe_\w+|pg_finfo_pinpipe_\w+|_PG_init|Pg_magic_func)$/ } @symbols;
is(join(' ', @foreign), '', 'only pinpipe_*, pg_finfo_pinpipe_*, _PG_init and Pg_magic_func are exported')
  or diag(scalar(@foreign) . ' other symbols exported');

# Every C function the install script binds is exported under its pinpipe_ name.
my $node = PinpipeTest::node('symbols', http => 1);
$node->safe_psql('postgres', 'CREATE EXTENSION pinpipe');
my @bound = split /\n/, $node->safe_psql('postgres', q{
	SELECT DISTINCT p.prosrc FROM pg_proc p JOIN pg_depend d ON d.objid = p.oid
	 JOIN pg_extension e ON e.oid = d.refobjid
	 WHERE e.extname = 'pinpipe' AND p.prolang = (SELECT oid FROM pg_language WHERE lanname = 'c')
	 ORDER BY 1});
cmp_ok(scalar @bound, '>', 0, 'the extension has C functions');
my %exported = map { $_ => 1 } @symbols;
is(join(' ', grep { !$exported{$_} || !/^pinpipe_/ } @bound), '', 'each C function is an exported pinpipe_ symbol');
is($node->safe_psql('postgres', "SELECT pinpipe.parse_follower_count('2k')"), '2000', 'an SQL function loads by name');

# The worker entry points are looked up by their bgw_function_name strings.
ok( PinpipeTest::wait_for(
		sub {
			$node->safe_psql('postgres',
				"SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'pinpipe http'") eq '1';
		},
		'the HTTP worker to start'),
	'the HTTP worker entry point is found');
my $log = slurp_file($node->logfile);
unlike($log, qr/could not find function/, 'no entry point was missing');

$node->stop;
done_testing();
