# ALTER EXTENSION pinpipe UPDATE from the frozen 0.1.0 install script: a 0.1.0
# database filled as production fills one keeps its data and answers, keeps
# working (and can be dumped and restored), and ends up with exactly the schema
# of a fresh install of the default version: every column, type, default,
# function definition, view, index, constraint, trigger, grant, comment,
# extension member and pg_extension_config_dump registration is compared, and a
# mismatch is printed as a diff. Every schema change of a release must come with
# its upgrade script section; this test is what holds them to it.
use strict;
use warnings;
use PostgreSQL::Test::Utils;
use Test::More;
use PinpipeTest;
use PinpipeBackup;

my $node = PinpipeTest::node('upgrade');
my $default = $node->safe_psql('postgres',
	"SELECT default_version FROM pg_available_extensions WHERE name = 'pinpipe'");

PinpipeBackup::fill($node, 'up', version => '0.1.0');
is($node->safe_psql('up', "SELECT extversion FROM pg_extension WHERE extname = 'pinpipe'"),
	'0.1.0', 'installed 0.1.0');
my $before = PinpipeBackup::answers($node, 'up');
$node->safe_psql('up', 'ALTER EXTENSION pinpipe UPDATE');
is($node->safe_psql('up', "SELECT extversion FROM pg_extension WHERE extname = 'pinpipe'"),
	$default, "updated to $default");
is(PinpipeBackup::answers($node, 'up'), $before, 'same data and answers after the update');
PinpipeBackup::keeps_working($node, 'up', 'updated');
if (PinpipeBackup::dump_restore($node, 'up', $node, 'up_restored', 'custom'))
{
	is(PinpipeBackup::answers($node, 'up_restored'), PinpipeBackup::answers($node, 'up'),
		'the updated database dumps and restores with the same answers');
}

$node->safe_psql('postgres', 'CREATE DATABASE fresh');
$node->safe_psql('fresh', 'CREATE EXTENSION pinpipe');

# One line per catalog fact of the extension's objects (partitions that run_batch
# created are data, not schema, and are left out).
my $catalog = q{
WITH ext AS (SELECT oid FROM pg_extension WHERE extname = 'pinpipe'),
nsp AS (SELECT oid, nspname FROM pg_namespace WHERE nspname IN ('pinpipe', 'pinpipe_archive')),
rel AS (SELECT c.* FROM pg_class c JOIN nsp ON nsp.oid = c.relnamespace
         WHERE NOT c.relispartition
           AND NOT EXISTS (SELECT 1 FROM pg_index i JOIN pg_class t ON t.oid = i.indrelid
                            WHERE i.indexrelid = c.oid AND t.relispartition))
SELECT 'relation ' || c.oid::regclass || ' kind ' || c.relkind::text || ' persistence ' || c.relpersistence::text
       || coalesce(' partitioned by ' || pg_get_partkeydef(c.oid), '')
       || coalesce(' options ' || c.reloptions::text, '') || ' acl ' || coalesce(c.relacl::text, '-')
  FROM rel c
UNION ALL
SELECT 'column ' || c.oid::regclass || ' #' || row_number() OVER (PARTITION BY c.oid ORDER BY a.attnum)
       || ' ' || a.attname || ' ' || format_type(a.atttypid, a.atttypmod)
       || CASE WHEN a.attnotnull THEN ' not null' ELSE '' END
       || coalesce(' default ' || pg_get_expr(d.adbin, d.adrelid), '')
       || CASE WHEN a.attidentity <> '' THEN ' identity ' || a.attidentity::text ELSE '' END
       || CASE WHEN a.attgenerated <> '' THEN ' generated ' || a.attgenerated::text ELSE '' END
       || coalesce(' collate ' || nullif(a.attcollation, 0)::regcollation::text, '')
       || coalesce(' acl ' || a.attacl::text, '')
  FROM rel c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
  LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
 WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f')
UNION ALL
SELECT 'index ' || pg_get_indexdef(i.indexrelid) FROM pg_index i JOIN rel c ON c.oid = i.indrelid
UNION ALL
SELECT 'constraint ' || c.oid::regclass || ' ' || k.conname || ' ' || pg_get_constraintdef(k.oid)
  FROM pg_constraint k JOIN rel c ON c.oid = k.conrelid
UNION ALL
SELECT 'trigger ' || pg_get_triggerdef(t.oid) || ' enabled ' || t.tgenabled::text
  FROM pg_trigger t JOIN rel c ON c.oid = t.tgrelid WHERE NOT t.tgisinternal
UNION ALL
SELECT 'view ' || c.oid::regclass || E'\n' || pg_get_viewdef(c.oid) FROM rel c WHERE c.relkind IN ('v', 'm')
UNION ALL
SELECT 'sequence ' || s.seqrelid::regclass || ' ' || format_type(s.seqtypid, NULL) || ' start ' || s.seqstart
       || ' increment ' || s.seqincrement || ' min ' || s.seqmin || ' max ' || s.seqmax
       || ' cache ' || s.seqcache || ' cycle ' || s.seqcycle
  FROM pg_sequence s JOIN rel c ON c.oid = s.seqrelid
UNION ALL
SELECT 'routine ' || p.oid::regprocedure || ' kind ' || p.prokind::text || ' volatility ' || p.provolatile::text
       || ' parallel ' || p.proparallel::text || ' strict ' || p.proisstrict || ' security definer ' || p.prosecdef
       || ' leakproof ' || p.proleakproof || ' cost ' || p.procost || ' rows ' || p.prorows
       || ' config ' || coalesce(p.proconfig::text, '-') || ' acl ' || coalesce(p.proacl::text, '-')
       || E'\n' || pg_get_functiondef(p.oid)
  FROM pg_proc p JOIN nsp ON nsp.oid = p.pronamespace
UNION ALL
SELECT 'schema ' || n.nspname || ' acl ' || coalesce(n2.nspacl::text, '-')
  FROM nsp n JOIN pg_namespace n2 ON n2.oid = n.oid
UNION ALL
SELECT 'type ' || t.oid::regtype || ' ' || t.typtype::text
  FROM pg_type t JOIN nsp ON nsp.oid = t.typnamespace
 WHERE t.typrelid = 0 AND t.typcategory <> 'A'  -- row types and arrays come with their tables
UNION ALL
SELECT 'comment ' || pg_describe_object(d.classoid, d.objoid, d.objsubid) || ': ' || d.description
  FROM pg_description d
 WHERE EXISTS (SELECT 1 FROM pg_depend e, ext WHERE e.refobjid = ext.oid AND e.deptype = 'e'
                  AND e.classid = d.classoid AND e.objid = d.objoid)
    OR (d.classoid = 'pg_class'::regclass AND d.objoid IN (SELECT oid FROM rel))
UNION ALL
SELECT 'member ' || pg_describe_object(e.classid, e.objid, e.objsubid)
  FROM pg_depend e, ext WHERE e.refclassid = 'pg_extension'::regclass AND e.refobjid = ext.oid AND e.deptype = 'e'
UNION ALL
SELECT 'config dump ' || cfg.rel::regclass || ' where ' || quote_literal(cfg.cond)
  FROM pg_extension x, unnest(x.extconfig, x.extcondition) AS cfg(rel, cond)
 WHERE x.extname = 'pinpipe'
ORDER BY 1;
};

my $updated = $node->safe_psql('up', $catalog);
my $fresh = $node->safe_psql('fresh', $catalog);
cmp_ok(scalar(() = $fresh =~ /^routine /mg), '>', 10, 'the catalog query sees the extension');
my $dir = PostgreSQL::Test::Utils::tempdir();
PostgreSQL::Test::Utils::append_to_file("$dir/fresh_$default.txt", "$fresh\n");
PostgreSQL::Test::Utils::append_to_file("$dir/updated_from_0.1.0.txt", "$updated\n");
my $diff = `cd $dir && diff -u fresh_$default.txt updated_from_0.1.0.txt`;
is($diff, '', "the updated schema equals a fresh $default install")
  or diag("schema differences (- fresh install, + updated from 0.1.0):\n$diff");

$node->stop;
done_testing();
