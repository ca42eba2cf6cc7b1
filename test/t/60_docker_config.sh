#!/usr/bin/env bash
# test/t/60_docker_config.sh — the docker/ stack is valid, short of running Docker
# (no engine here): compose and Prometheus configs pass their own validators, the
# dashboard parses and its PromQL parses, the Trino catalog has what the connector needs,
# the PostgreSQL settings are real pinpipe settings with valid values, the init script
# really runs against a server, the emulator accepts the command line compose gives it,
# and every metric the dashboard queries exists
# in a live /metrics scrape.
set -uo pipefail
source "$(dirname "$0")/../lib.sh"

D=$PP_REPO/docker
PY=/usr/bin/python3 # Debian's python3 with python3-yaml (a docker-compose dependency)
pp_scratch W docker

for tool in docker-compose promtool jq; do
	command -v $tool >/dev/null || { fail "$tool is not installed (scripts/setup.sh installs it)"; pp_done; }
done

# ---------------------------------------------------------------- compose

if out=$(cd "$D" && docker-compose -f docker-compose.yml config -q 2>&1); then
	ok "docker-compose config -q"
else
	fail "docker-compose config -q: $out"
fi
(cd "$D" && docker-compose -f docker-compose.yml config) >"$W/compose.yml" 2>&1
check "compose services" "$(cd "$D" && docker-compose -f docker-compose.yml config --services | sort | tr '\n' ' ')" \
	"emulator grafana kafka kafka-init postgres prometheus trino "

# one query into the resolved compose file: compose_q 'python expression over c'
# vols(service): its mounts as (source, target), whichever syntax compose printed them in.
compose_q() {
	"$PY" -c "
import yaml
c = yaml.safe_load(open('$W/compose.yml'))
def vols(svc):
    out = []
    for v in c['services'][svc].get('volumes', []):
        if isinstance(v, dict):
            out.append((v.get('source', ''), v['target']))
        else:
            parts = v.split(':')
            out.append((parts[0], parts[1]))
    return out
print($1)"
}
check "Kafka runs in KRaft mode (broker+controller, no ZooKeeper anywhere)" \
	"$(compose_q "c['services']['kafka']['environment'].get('KAFKA_PROCESS_ROLES'), 'zookeeper' in open('$W/compose.yml').read().lower()")" \
	"broker,controller False"
check "the pins topic is created before PostgreSQL starts" \
	"$(compose_q "c['services']['postgres']['depends_on']['kafka-init']['condition'], 'pinterest.pins' in ' '.join(c['services']['kafka-init']['command'])")" \
	"service_completed_successfully True"
check "the postgres service is built from docker/Dockerfile with the repository as context" \
	"$(compose_q "c['services']['postgres']['build']['dockerfile'], c['services']['postgres']['build']['context'] == '$PP_REPO'")" \
	"docker/Dockerfile True"
# every file compose mounts exists
compose_q "'\n'.join(src for svc in c['services'] for src, _ in vols(svc) if src.startswith('/'))" >"$W/binds"
missing=$(while read -r src; do [ -e "$src" ] || echo "$src"; done <"$W/binds")
check "every bind-mounted file exists ($(wc -l <"$W/binds") mounts)" "$missing" ""
check "those are the configs of Trino, Prometheus and Grafana" "$(sed "s|^$D/||" "$W/binds" | sort | tr '\n' ' ')" \
	"grafana/dashboards grafana/provisioning prometheus/prometheus.yml trino/catalog/pinpipe.properties "

# The Dockerfile: the base is Debian PostgreSQL 15, pg_cron is installed, pinpipe is built
# with make && make install, and everything it COPYs from the context exists.
check "Dockerfile: PostgreSQL 15 (Debian) base, pg_cron, make && make install" \
	"$(grep -cE '^ARG PG_IMAGE=postgres:15-bookworm|postgresql-15-cron|make -j.*with_llvm=no|make install with_llvm=no' "$D/Dockerfile")" 4
bad=$(awk '$1 == "COPY" && $2 !~ /^--from/ { for (i = 2; i < NF; i++) print $i }' "$D/Dockerfile" |
	while read -r src; do [ "$src" = . ] || [ -e "$PP_REPO/$src" ] || echo "$src"; done)
check "every COPY source of the Dockerfile exists" "$bad" ""

# ---------------------------------------------------------------- Prometheus, Grafana, Trino

if out=$(promtool check config "$D/prometheus/prometheus.yml" 2>&1); then ok "promtool check config"; else fail "promtool check config: $out"; fi
check "Prometheus scrapes pinpipe's /metrics on the HTTP worker" \
	"$("$PY" -c "import yaml; c=yaml.safe_load(open('$D/prometheus/prometheus.yml')); j=[s for s in c['scrape_configs'] if s['job_name']=='pinpipe'][0]; print(j.get('metrics_path'), j['static_configs'][0]['targets'])")" \
	"/metrics ['postgres:8000']"

DASH=$D/grafana/dashboards/pinpipe.json
if jq -e . "$DASH" >/dev/null 2>&1; then ok "dashboard JSON parses"; else fail "dashboard JSON does not parse"; fi
check "dashboard has a uid, panels and a query in every panel" \
	"$(jq -r '[.uid, (.panels | length > 0), all(.panels[]; (.targets | length) > 0 and all(.targets[]; (.expr | length) > 0))] | map(tostring) | join(" ")' "$DASH")" \
	"pinpipe true true"
ds_uid=$("$PY" -c "import yaml; print(yaml.safe_load(open('$D/grafana/provisioning/datasources/prometheus.yml'))['datasources'][0]['uid'])")
check "every panel uses the provisioned Prometheus datasource" \
	"$(jq -r '[.panels[] | .datasource.uid, (.targets[].datasource.uid)] | unique | join(",")' "$DASH")" "$ds_uid"
check "the dashboard provider points where compose mounts the dashboards" \
	"$("$PY" -c "import yaml; print(yaml.safe_load(open('$D/grafana/provisioning/dashboards/pinpipe.yml'))['providers'][0]['options']['path'])")" \
	"$(compose_q "[t for src, t in vols('grafana') if src.endswith('grafana/dashboards')][0]")"
for want in 'pinpipe_http_pins_accepted_total' 'pinpipe_http_pins_rejected_total' 'dead_letters_total' \
	'pinpipe_consumer_lag' 'pinpipe_http_request_duration_seconds_bucket' 'pinpipe_batch_duration_seconds_bucket'; do
	check "dashboard charts $want" "$(jq -r '.panels[].targets[].expr' "$DASH" | grep -c "$want" | awk '{print ($1 > 0)}')" 1
done
check "consumer lag is shown per partition" "$(jq -r '.panels[] | select(.title == "Consumer lag per partition") | .targets[0].expr' "$DASH" | grep -c 'by (topic, partition)')" 1
check "request latency shows p99" "$(jq -r '.panels[].targets[].expr' "$DASH" | grep -c 'histogram_quantile(0.99, sum by (le, endpoint) (rate(pinpipe_http_request_duration_seconds_bucket')" 1
# Every query is valid PromQL: promtool parses each as a recording rule.
{
	echo "groups:"
	echo "  - name: dashboard"
	echo "    rules:"
	jq -r '.panels[].targets[].expr | gsub("\\$__rate_interval"; "1m")' "$DASH" | nl -ba -w1 -s' ' |
		while read -r n expr; do
			echo "      - record: dashboard:query_$n"
			echo "        expr: $(jq -Rn --arg e "$expr" '$e')"
		done
} >"$W/dashboard_rules.yml"
if out=$(promtool check rules "$W/dashboard_rules.yml" 2>&1); then
	ok "every dashboard query parses as PromQL ($(jq '[.panels[].targets[]] | length' "$DASH") queries)"
else
	fail "dashboard PromQL: $out"
fi

CAT=$D/trino/catalog/pinpipe.properties
prop() { sed -n "s/^$1=//p" "$CAT"; }
check "catalog: PostgreSQL connector" "$(prop connector.name)" postgresql
check "catalog: connection-url to the compose database" "$(prop connection-url)" "jdbc:postgresql://postgres:5432/postgres"
check "catalog: connection-user and connection-password set" "$([ -n "$(prop connection-user)" ] && [ -n "$(prop connection-password)" ] && echo yes)" yes
check "catalog: arrays as Trino arrays" "$(prop postgresql.array-mapping)" AS_ARRAY
check "catalog: its password variable is given to the trino service" \
	"$(prop connection-password | sed -n 's/^\${ENV:\(.*\)}$/\1/p' | xargs -I{} "$PY" -c "import yaml; c=yaml.safe_load(open('$W/compose.yml')); print('{}' in c['services']['trino']['environment'])")" True
check "catalog: mounted into Trino's catalog directory" \
	"$(compose_q "[t for src, t in vols('trino') if src.endswith('pinpipe.properties')][0]")" \
	"/etc/trino/catalog/pinpipe.properties"

# ---------------------------------------------------------------- against a real server

PGCONF=$D/postgres/postgresql.conf
conf() { sed -n "s/^$1[[:space:]]*=[[:space:]]*'\{0,1\}\([^'#]*\)'\{0,1\}.*$/\1/p" "$PGCONF" | sed 's/[[:space:]]*$//'; }
check "postgresql.conf preloads pg_cron and pinpipe" "$(conf shared_preload_libraries)" "pg_cron,pinpipe"
check "postgresql.conf: brokers, HTTP on all addresses port 8000, cron database" \
	"$(conf pinpipe.kafka_brokers) $(conf pinpipe.http_listen_addresses) $(conf pinpipe.http_port) $(conf cron.database_name)" \
	"kafka:9092 * 8000 postgres"

HTTP_PORT=$(pp_free_port)
pp_cluster_start "pinpipe.http_port = $HTTP_PORT" || { fail "server did not start"; pp_done; }

# Each pinpipe.* / cron.* setting is a real setting and its value is accepted (ALTER SYSTEM
# runs the type parser and check hooks without applying anything).
while read -r name value; do
	if out=$(pp_sql "ALTER SYSTEM SET $name = '$value'" 2>&1) &&
		[ "$(pp_sql "SELECT count(*) FROM pg_settings WHERE name = '$name'")" = 1 ]; then
		ok "postgresql.conf: $name = '$value' is a valid setting"
	else
		fail "postgresql.conf: $name = '$value': ${out:-no such setting}"
	fi
done < <(sed -n "s/^\(\(pinpipe\|cron\)\.[a-z_]*\)[[:space:]]*=[[:space:]]*'\{0,1\}\([^'#]*\)'\{0,1\}.*$/\1 \3/p" "$PGCONF" | sed 's/[[:space:]]*$//')
pp_sql "ALTER SYSTEM RESET ALL" >/dev/null

# The init script runs as the image runs it, against this server.
if out=$(POSTGRES_USER=postgres TRINO_PG_PASSWORD=t3st bash "$D/postgres/initdb.d/10-pinpipe.sh" 2>&1); then
	ok "initdb.d/10-pinpipe.sh runs against a real server"
else
	fail "initdb.d/10-pinpipe.sh: $out"
fi
check "it created the extensions" "$(pp_sql "SELECT string_agg(extname, ',' ORDER BY extname) FROM pg_extension WHERE extname IN ('pg_cron','pinpipe')")" "pg_cron,pinpipe"
check "it created the read-only trino role" "$(pp_sql "SELECT rolcanlogin, rolsuper FROM pg_roles WHERE rolname = 'trino'")" "t|f"
if [ "$(pp_sql "SELECT to_regnamespace('pinpipe_archive') IS NOT NULL")" = t ]; then
	check "trino can read every archive table" \
		"$(pp_sql "SELECT count(*) FILTER (WHERE NOT has_table_privilege('trino', c.oid, 'SELECT')) FROM pg_class c WHERE c.relnamespace = 'pinpipe_archive'::regnamespace AND c.relkind IN ('r','p','v')")" 0
	if [ "$(pp_sql "SELECT to_regproc('pinpipe.run_batch') IS NOT NULL AND to_regproc('pinpipe.ingest') IS NOT NULL")" = t ]; then
		# partitions that run_batch creates later must be readable too (default privileges)
		nrel=$(pp_sql "SELECT count(*) FROM pg_class WHERE relnamespace = 'pinpipe_archive'::regnamespace AND relkind IN ('r','p','v')")
		pp_sql "SELECT pinpipe.ingest(line::jsonb) FROM (VALUES (\$pin\$$(head -n 1 "$PP_SHARED_DATA/pins_sample.jsonl")\$pin\$)) v(line)" >/dev/null &&
			pp_psql -c "CALL pinpipe.run_batch()" >/dev/null || fail "ingest + run_batch"
		check "trino can read the archive partitions run_batch created after the init script" \
			"$(pp_sql "SELECT count(*) > $nrel, count(*) FILTER (WHERE NOT has_table_privilege('trino', c.oid, 'SELECT')) FROM pg_class c WHERE c.relnamespace = 'pinpipe_archive'::regnamespace AND c.relkind IN ('r','p','v')")" "t|0"
		check "and reads the archived pin as trino" \
			"$(pp_psql -A -t -c "SET ROLE trino" -c "SELECT count(*) FROM pinpipe_archive.pins")" 1
	fi
	for v in category_stats category_daily_stats; do
		if [ "$(pp_sql "SELECT to_regclass('pinpipe.$v') IS NOT NULL")" = t ]; then
			if out=$(pp_psql -A -t -c "SET ROLE trino" -c "SELECT count(*) >= 0 FROM pinpipe.$v" 2>&1); then
				check "trino can query the serving view pinpipe.$v" "$out" t
			else
				fail "trino cannot query pinpipe.$v: $out"
			fi
		fi
	done
	check "trino cannot write the archive" \
		"$(pp_sql "SELECT count(*) FILTER (WHERE has_table_privilege('trino', c.oid, 'INSERT')) FROM pg_class c WHERE c.relnamespace = 'pinpipe_archive'::regnamespace")" 0
else
	echo "# no pinpipe_archive schema in this build (batch layer not merged): archive grants not checked"
fi
if [ "$(pp_sql "SELECT to_regprocedure('pinpipe.schedule_batch(text)') IS NOT NULL")" = t ]; then
	check "it scheduled the batch with pg_cron" "$(pp_sql "SELECT count(*) FROM cron.job WHERE command ILIKE '%run_batch%'")" 1
else
	echo "# no pinpipe.schedule_batch in this build (batch layer not merged): schedule not checked"
fi
POSTGRES_USER=postgres TRINO_PG_PASSWORD=t3st bash "$D/postgres/initdb.d/10-pinpipe.sh" >/dev/null 2>&1
check "the init script is idempotent" "$?" 0

# The emulator accepts exactly the command line compose gives it.
"$PY" -c "import yaml; [print(a) for a in yaml.safe_load(open('$W/compose.yml'))['services']['emulator']['command']]" >"$W/emu_args"
check "emulator service runs pinpipe-emulate" "$(compose_q "c['services']['emulator']['entrypoint']")" "['pinpipe-emulate']"
mapfile -t emu_args <"$W/emu_args"
if out=$("$PP_REPO/tools/pinpipe-emulate" "${emu_args[@]}" --print --count 3 2>&1 >/dev/null); then
	ok "pinpipe-emulate accepts the compose command line (${emu_args[*]})"
else
	fail "pinpipe-emulate rejects the compose command line: $out"
fi

# ---------------------------------------------------------------- live /metrics

if pp_wait_for "curl -s -o /dev/null http://127.0.0.1:$HTTP_PORT/healthz" 15 "the HTTP worker on port $HTTP_PORT"; then
	# traffic first, so that the labelled series exist
	"$PP_REPO/tools/pinpipe-emulate" --url "http://127.0.0.1:$HTTP_PORT/pin/" --count 200 --seed 1 --quiet
	"$PP_REPO/tools/pinpipe-emulate" --url "http://127.0.0.1:$HTTP_PORT/pin/" --batch 50 --count 200 --seed 2 --quiet
	curl -sf "http://127.0.0.1:$HTTP_PORT/metrics" >"$W/metrics" || fail "GET /metrics"
	if out=$(promtool check metrics <"$W/metrics" 2>&1); then ok "promtool check metrics on a live scrape"; else fail "promtool check metrics: $out"; fi
	# names a query may use: every sample name, and _bucket/_sum/_count of each histogram
	{
		grep -v '^#' "$W/metrics" | sed -n 's/^\([a-zA-Z_:][a-zA-Z0-9_:]*\).*/\1/p'
		awk '$1 == "#" && $2 == "TYPE" { print $3; if ($4 == "histogram") { print $3 "_bucket"; print $3 "_sum"; print $3 "_count" } }' "$W/metrics"
	} | sort -u >"$W/exposed"
	jq -r '.panels[].targets[].expr' "$DASH" | grep -oE 'pinpipe_[a-zA-Z0-9_]+' | sort -u >"$W/used"
	while read -r m; do
		if grep -qx "$m" "$W/exposed"; then ok "dashboard metric $m is exposed"; else fail "dashboard metric $m is not in /metrics"; fi
	done <"$W/used"

	# "Dead letters (total)" shows what pinpipe.dead_letters really holds: a pin that
	# fails a CHECK at insert is dead-lettered by the embedded-mode HTTP worker, and the
	# panel's query, evaluated by promtool over the samples of a live scrape, must equal
	# the table's count (each dead letter is in two counters: it must not count twice).
	pp_sql "ALTER TABLE pinpipe.pins ADD CONSTRAINT dash_test_no_987654 CHECK (ind <> 987654) NOT VALID" >/dev/null
	dl_pin=$(head -n 1 "$PP_SHARED_DATA/pins_sample.jsonl" | jq -c '.index = 987654')
	for _ in 1 2; do
		curl -s -o /dev/null --max-time 30 -X POST --data-binary "$dl_pin" "http://127.0.0.1:$HTTP_PORT/pin/"
	done
	pp_sql "ALTER TABLE pinpipe.pins DROP CONSTRAINT dash_test_no_987654" >/dev/null
	dl_table=$(pp_sql "SELECT count(*) FROM pinpipe.dead_letters")
	curl -sf "http://127.0.0.1:$HTTP_PORT/metrics" >"$W/metrics2" || fail "GET /metrics"
	dl_expr=$(jq -r '.panels[] | select(.title == "Dead letters (total)") | .targets[0].expr' "$DASH")
	{
		echo "rule_files: []"
		echo "tests:"
		echo "  - interval: 1m"
		echo "    input_series:"
		grep -E '^pinpipe_[a-z_]*dead_letters_total' "$W/metrics2" | while read -r series value; do
			echo "      - series: $(jq -Rn --arg s "$series" '$s')"
			echo "        values: '$value $value'"
		done
		echo "    promql_expr_test:"
		echo "      - expr: $(jq -Rn --arg e "$dl_expr" '$e')"
		echo "        eval_time: 1m"
		echo "        exp_samples:"
		echo "          - labels: '{}'"
		echo "            value: $dl_table"
	} >"$W/dead_letters_test.yml"
	check "two pins failing a CHECK are two dead letters" "$dl_table" 2
	if out=$(cd "$W" && promtool test rules dead_letters_test.yml 2>&1); then
		ok "\"Dead letters (total)\" over a live scrape equals pinpipe.dead_letters ($dl_table)"
	else
		fail "\"Dead letters (total)\" over a live scrape is not pinpipe.dead_letters ($dl_table): $(echo "$out" | tr '\n' ' ')"
	fi
else
	fail "the HTTP worker does not listen on pinpipe.http_port $HTTP_PORT"
fi

pp_done
