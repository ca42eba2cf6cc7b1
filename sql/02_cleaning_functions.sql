-- parse_follower_count, parse_tag_list, clean_save_location (DESIGN §3, §5).
CREATE EXTENSION IF NOT EXISTS pinpipe;

SELECT input, pinpipe.parse_follower_count(input)
FROM unnest(ARRAY['972', '0', '5k', '15M', '1.5k', '2B', '7m', '450K', ' 12k ',
                  E'3k\u00a0', '1,234', '1.2345k', '3 k', 'User Info Error', 'user info error',
                  '', 'junk', '-5', '5kk', '12,34', '99999999999B', '1.', '.5']) AS t(input);

SELECT pinpipe.parse_follower_count(NULL) IS NULL AS strict_null;

SELECT input, pinpipe.parse_tag_list(input)
FROM unnest(ARRAY['Art,Painting', ' a , b ,, c ,', 'single',
                  'N,o, ,T,a,g,s, ,A,v,a,i,l,a,b,l,e', 'No Tags Available', '', ' , ',
                  E'tag one\u00a0,tag two']) AS t(input);

SELECT input, pinpipe.clean_save_location(input)
FROM unnest(ARRAY['Local save in /data/art', 'File path is /data/post', '  /already/a/path ',
                  'no path here', '']) AS t(input);

-- declared IMMUTABLE STRICT PARALLEL SAFE, so the planner may fold and parallelise them
SELECT proname, provolatile, proisstrict, proparallel
FROM pg_proc
WHERE pronamespace = 'pinpipe'::regnamespace
  AND proname IN ('parse_follower_count', 'parse_tag_list', 'clean_save_location', 'clean_pin')
ORDER BY proname, pg_get_function_identity_arguments(oid);
