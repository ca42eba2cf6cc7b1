-- bench/sql_cleaning.sql — the baseline: DESIGN §3's cleaning rules written as plain SQL
-- expressions over jsonb, what a pipeline without pinpipe's C functions would run.
-- A query template: __SRC__ is replaced by a relation with a jsonb column j; the
-- result has clean_pin()'s columns. Inline expressions (no function call per row),
-- so the planner can do its best.
SELECT (j->>'index')::int AS ind,
       (j->>'unique_id')::uuid AS unique_id,
       CASE WHEN t.title IN ('', 'No Title Data Available') THEN NULL ELSE t.title END AS title,
       CASE WHEN t.descr IN ('', 'No description available Story format', 'No description available')
            THEN NULL ELSE t.descr END AS description,
       CASE WHEN t.poster IN ('', 'User Info Error') THEN NULL ELSE t.poster END AS poster_name,
       CASE WHEN t.fc ~ '^[0-9]+(\.[0-9]+)?[kKmMbB]?$'
            THEN round(substring(t.fc FROM '^[0-9.]+')::numeric
                       * CASE lower(right(t.fc, 1)) WHEN 'k' THEN 1000 WHEN 'm' THEN 1000000
                                                    WHEN 'b' THEN 1000000000 ELSE 1 END)::bigint
       END AS follower_count,
       CASE WHEN t.tags = 'N,o, ,T,a,g,s, ,A,v,a,i,l,a,b,l,e' THEN NULL
            ELSE (SELECT array_agg(btrim(x, E' \t\r\n\u00a0'))
                  FROM unnest(string_to_array(t.tags, ',')) AS x
                  WHERE btrim(x, E' \t\r\n\u00a0') <> '') END AS tag_list,
       NULLIF(btrim(j->>'is_image_or_video', E' \t\r\n\u00a0'), '') AS is_image_or_video,
       CASE WHEN t.img IN ('', 'Image src error.') THEN NULL ELSE t.img END AS image_src,
       (j->>'downloaded')::int AS downloaded,
       substring(btrim(j->>'save_location', E' \t\r\n\u00a0') FROM '/.*$') AS save_location,
       NULLIF(btrim(j->>'category', E' \t\r\n\u00a0'), '') AS category,
       array_remove(ARRAY[
           CASE WHEN t.title IN ('', 'No Title Data Available') THEN 'title' END,
           CASE WHEN t.descr IN ('', 'No description available Story format', 'No description available') THEN 'description' END,
           CASE WHEN t.poster IN ('', 'User Info Error') THEN 'poster_name' END,
           CASE WHEN t.fc !~ '^[0-9]+(\.[0-9]+)?[kKmMbB]?$' THEN 'follower_count' END,
           CASE WHEN t.tags = 'N,o, ,T,a,g,s, ,A,v,a,i,l,a,b,l,e' THEN 'tag_list' END,
           CASE WHEN t.img IN ('', 'Image src error.') THEN 'image_src' END,
           CASE WHEN j->>'save_location' !~ '/' THEN 'save_location' END], NULL) AS error_fields,
       s.*
FROM __SRC__ AS s,
     LATERAL (SELECT btrim(j->>'title', E' \t\r\n\u00a0') AS title,
                     btrim(j->>'description', E' \t\r\n\u00a0') AS descr,
                     btrim(j->>'poster_name', E' \t\r\n\u00a0') AS poster,
                     btrim(j->>'follower_count', E' \t\r\n\u00a0') AS fc,
                     btrim(j->>'tag_list', E' \t\r\n\u00a0') AS tags,
                     btrim(j->>'image_src', E' \t\r\n\u00a0') AS img) AS t
