# test/run_shell.pl — runs one shell contract test (test/t/NN_name.sh) against a server
# that PostgreSQL::Test::Cluster owns, and reports its checks through Test::More.
#
#   perl -I PGXS/src/test/perl -I test/tap test/run_shell.pl test/t/40_http_api.sh
#   (test/integration.sh runs every test/t/*.sh this way under prove, as the server user)
#
# The node is PinpipeTest::node's (pg_cron and pinpipe preloaded, HTTP worker off until the
# test sets pinpipe.http_port), initialised in C.UTF-8 and started before the shell test runs.
# The shell test gets PGHOST, PGPORT, PGUSER, PGDATABASE, PP_DATA (data directory), PP_LOG
# (server log) and PP_FREE_PORTS (ports reserved with get_free_port) in its environment;
# test/lib.sh's pp_cluster_start appends its postgresql.conf lines and restarts the node with
# pg_ctl, as its pp_conf, pp_cluster_restart, pp_cluster_reload and pp_cluster_stop do.
#
# Each "ok N - ..." / "not ok N - ..." line the shell test prints becomes a pass / fail here,
# "# ..." lines and other output notes, its stderr diagnostics; its plan "1..N" must match what
# it reported and it must exit 0 (else one more failed check says so). Test::More numbers
# the checks as the shell test did, so a passing run has the same checks.
use strict;
use warnings;
use File::Basename;

# PostgreSQL::Test::Utils names the test's log and data directories after $0.
BEGIN { $0 = basename($ARGV[0]) if @ARGV; }

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use PinpipeTest;

my $script = shift @ARGV or BAIL_OUT('usage: run_shell.pl test/t/NN_name.sh');
BAIL_OUT("$script not found") unless -f $script;

# initdb takes the locale from the environment (Utils removed LC_ALL): UTF8, as pins need.
$ENV{LANG} = 'C.UTF-8';
delete $ENV{$_} for grep { /^LC_/ && $_ ne 'LC_MESSAGES' } keys %ENV;

my $node = PinpipeTest::node('main');

# A test uses up to three free ports (HTTP, a second server, a port nobody listens on).
my @ports;
push @ports, PostgreSQL::Test::Cluster::get_free_port() for 1 .. 8;

my %env = (
	PGHOST => $node->host,
	PGPORT => $node->port,
	PGUSER => scalar(getpwuid($<)),
	PGDATABASE => 'postgres',
	PP_DATA => $node->data_dir,
	PP_LOG => $node->logfile,
	PP_FREE_PORTS => join(' ', @ports),
	PP_FREE_PORTS_USED => $node->basedir . "/free_ports_used",);
@ENV{ keys %env } = values %env;

my ($reported, $plan, $out_buf, $err_buf) = (0, undef, '', '');

sub tap_line
{
	my ($line) = @_;
	if ($line =~ /^ok \d+ # skip (.*)$/)
	{
		# a check that could not run here, with its reason: prove counts and shows it
		$reported++;
		Test::More->builder->skip($1);
	}
	elsif ($line =~ /^(not )?ok \d+(?: - (.*))?$/)
	{
		my ($bad, $what) = ($1, $2 // '');
		$reported++;
		ok(!$bad, $what);
	}
	elsif ($line =~ /^1\.\.(\d+)$/)
	{
		$plan = $1;
	}
	elsif ($line =~ /^#\s?(.*)$/)
	{
		note($1);
	}
	elsif ($line ne '')
	{
		note($line);
	}
}

# Complete lines of $$buf go to $each; the rest waits for more output.
sub lines_of
{
	my ($buf, $each) = @_;
	return sub {
		$$buf .= $_[0];
		while ($$buf =~ s/^(.*)\n//) { $each->($1); }
	};
}

my $h = IPC::Run::start(
	[ 'bash', $script ],
	'<', \undef,
	'>', lines_of(\$out_buf, \&tap_line),
	'2>', lines_of(\$err_buf, sub { diag($_[0]); }));
$h->finish;
my $status = $h->full_result(0);
tap_line($out_buf) if $out_buf ne '';
diag($err_buf) if $err_buf ne '';

if (!defined $plan)
{
	fail("$script printed its plan (1..N)");
}
elsif ($plan != $reported)
{
	fail("$script planned $plan checks and reported $reported");
}
fail("$script exited with status $status") if $status != 0 && Test::More->builder->is_passing;

# The shell test may have stopped or restarted the server with pg_ctl.
$node->stop('fast', fail_ok => 1);
done_testing();
