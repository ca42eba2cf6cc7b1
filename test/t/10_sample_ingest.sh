#!/usr/bin/env bash
# Ingest every real pin of ../shared/data/pins_sample.jsonl through pinpipe.ingest()
# and check the cleaned tables against expectations computed here, independently,
# from the raw data with jq (not from pinpipe's own output). Then check that
# variants of the same pins (other white space, case, number forms) clean the same.
set -uo pipefail
source "$(dirname "$0")/../lib.sh"
DATA=$PP_SHARED_DATA/pins_sample.jsonl
[ -r "$DATA" ] || { fail "sample data $DATA is missing"; pp_done; }

pp_cluster_start || { fail "server start"; pp_done; }
pp_psql -c "CREATE EXTENSION pinpipe" || { fail "create extension"; pp_done; }

# Load the lines verbatim (CSV mode with delimiter/quote bytes that never occur).
pp_psql -c "CREATE TABLE sample(n serial, line text)"
pp_psql -c "\\copy sample(line) FROM '$DATA' WITH (FORMAT csv, DELIMITER E'\\x02', QUOTE E'\\x01')"
n=$(wc -l <"$DATA")
check "all lines loaded" "$(pp_sql "SELECT count(*) FROM sample")" "$n"

# Ingest in batches of 500, as the workers do.
pp_psql -c "SELECT sum(i.accepted), sum(i.dead_lettered)
    FROM (SELECT jsonb_agg(line::jsonb ORDER BY n) AS pins FROM sample GROUP BY (n - 1) / 500) b,
         LATERAL pinpipe.ingest(b.pins) i" >/dev/null
check "every real pin accepted" "$(pp_sql "SELECT count(*) FROM pinpipe.pins")" "$n"
check "no dead letters" "$(pp_sql "SELECT count(*) FROM pinpipe.dead_letters")" "0"
check "raw log has every message once" "$(pp_sql "SELECT count(*) || '/' || count(DISTINCT payload) FROM pinpipe.raw_pins")" "$n/$(sort -u "$DATA" | wc -l)"
check "raw payloads are the messages" \
	"$(pp_sql "SELECT count(*) FROM pinpipe.raw_pins r JOIN sample s ON r.payload::jsonb = s.line::jsonb")" "$n"

# --- expectations from the raw data (jq), rule by rule -------------------------------
JQ_DEFS='def trim: sub("^[\\s\u00a0]+"; "") | sub("[\\s\u00a0]+$"; "");
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
def flagged: title_null or desc_null or poster_flag or (follower == null) or (tags == null) or image_null or save_null;'
jqc() { jq -r -s "$JQ_DEFS $1" "$DATA"; }

check "title NULLs" "$(pp_sql "SELECT count(*) FROM pinpipe.pins WHERE title IS NULL")" "$(jqc 'map(select(title_null)) | length')"
check "description NULLs" "$(pp_sql "SELECT count(*) FROM pinpipe.pins WHERE description IS NULL")" "$(jqc 'map(select(desc_null)) | length')"
check "poster_name NULLs" "$(pp_sql "SELECT count(*) FROM pinpipe.pins WHERE poster_name IS NULL")" "$(jqc 'map(select(poster_null)) | length')"
check "follower_count NULLs" "$(pp_sql "SELECT count(*) FROM pinpipe.pins WHERE follower_count IS NULL")" "$(jqc 'map(select(follower == null)) | length')"
check "follower_count sum" "$(pp_sql "SELECT sum(follower_count) FROM pinpipe.pins")" "$(jqc 'map(follower // 0) | add')"
check "tag_list NULLs" "$(pp_sql "SELECT count(*) FROM pinpipe.pins WHERE tag_list IS NULL")" "$(jqc 'map(select(tags == null)) | length')"
check "number of tags" "$(pp_sql "SELECT sum(cardinality(tag_list)) FROM pinpipe.pins")" "$(jqc 'map(tags // [] | length) | add')"
check "tags are trimmed" "$(pp_sql "SELECT count(*) FROM pinpipe.pins, unnest(tag_list) t WHERE t <> btrim(t, E' \t\n\u00a0') OR t = ''")" "0"
check "image_src NULLs" "$(pp_sql "SELECT count(*) FROM pinpipe.pins WHERE image_src IS NULL")" "$(jqc 'map(select(image_null)) | length')"
check "image_src NULL exactly when not downloaded" "$(pp_sql "SELECT count(*) FROM pinpipe.pins WHERE (image_src IS NULL) <> (downloaded = 0)")" "0"
check "save_location is the path" "$(pp_sql "SELECT count(*) FROM pinpipe.pins WHERE save_location = '/data/' || category")" "$(jqc 'map(select(.save_location == "Local save in /data/" + .category)) | length')"
check "no text ends or starts in white space" "$(pp_sql "SELECT count(*) FROM pinpipe.pins WHERE description ~ E'^[[:space:]\u00a0]|[[:space:]\u00a0]\$' OR title ~ E'^[[:space:]\u00a0]|[[:space:]\u00a0]\$'")" "0"
check "descriptions that ended in a no-break space were trimmed" "$(pp_sql "SELECT count(*) FROM pinpipe.pins WHERE description LIKE E'%\u2026'")" "$(jqc 'map(select(.description | test("\u2026[\\s\u00a0]*$"))) | length')"
check "flagged pins (error_fields not empty)" "$(pp_sql "SELECT count(*) FROM pinpipe.pins WHERE error_fields <> '{}'")" "$(jqc 'map(select(flagged)) | length')"
check "follower_count flagged exactly when NULL" "$(pp_sql "SELECT count(*) FROM pinpipe.pins WHERE ('follower_count' = ANY (error_fields)) <> (follower_count IS NULL)")" "0"
check "media types" "$(pp_sql "SELECT string_agg(is_image_or_video || '=' || c, ',' ORDER BY is_image_or_video) FROM (SELECT is_image_or_video, count(*) c FROM pinpipe.pins GROUP BY 1) x")" \
	"$(jqc 'group_by(.is_image_or_video) | map(.[0].is_image_or_video + "=" + (length | tostring)) | join(",")')"
check "unique_ids" "$(pp_sql "SELECT md5(string_agg(unique_id::text, ',' ORDER BY unique_id::text)) FROM pinpipe.pins")" \
	"$(jq -r .unique_id "$DATA" | tr 'A-F' 'a-f' | LC_ALL=C sort | paste -sd, | tr -d '\n' | md5sum | cut -d' ' -f1)"
check "ind is index" "$(pp_sql "SELECT sum(ind) FROM pinpipe.pins")" "$(jqc 'map(.index) | add')"
check "live aggregates count every pin" "$(pp_sql "SELECT sum(posts) || '/' || sum(error_posts) || '/' || sum(follower_sum) FROM pinpipe.category_minute")" \
	"$n/$(jqc 'map(select(flagged)) | length')/$(jqc 'map(follower // 0) | add')"
check "categories" "$(pp_sql "SELECT count(DISTINCT category) FROM pinpipe.category_minute")" "$(jqc 'map(.category) | unique | length')"

check "clean_pin(jsonb) and clean_pin(text) agree on every pin" \
	"$(pp_sql "SELECT count(*) FROM sample WHERE pinpipe.clean_pin(line::jsonb) IS DISTINCT FROM pinpipe.clean_pin(line)")" "0"

# --- variants: the same pins with other white space, case and number forms ------------
# Each variant must clean exactly like the original pin.
pp_psql -c "
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
                WHEN line::jsonb->>'follower_count' ~ '^[0-9]+k\$' AND n % 2 = 0
                    THEN upper(line::jsonb->>'follower_count')
                WHEN line::jsonb->>'follower_count' ~ '^[0-9]+k\$'
                    THEN to_char((rtrim(line::jsonb->>'follower_count', 'k'))::int * 1000, 'FM999,999,999')
                WHEN line::jsonb->>'follower_count' ~ '^[0-9]+M\$'
                    THEN rtrim(line::jsonb->>'follower_count', 'M') || '.0 m'
                WHEN line::jsonb->>'follower_count' = 'User Info Error' THEN ' user info ERROR '
                ELSE ' ' || (line::jsonb->>'follower_count') END,
            'index', (line::jsonb->>'index'),
            'downloaded', (line::jsonb->'downloaded')::text)
       AS var
FROM sample"
check "variants clean exactly like the originals" \
	"$(pp_sql "SELECT count(*) FROM variant WHERE pinpipe.clean_pin(var) IS DISTINCT FROM pinpipe.clean_pin(orig)")" "0"
check "variants were really different" \
	"$(pp_sql "SELECT count(*) FROM variant WHERE var::text <> orig::text")" "$n"

pp_done
