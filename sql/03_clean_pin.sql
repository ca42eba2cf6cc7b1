-- clean_pin(jsonb) and clean_pin(text): whole-pin validation and cleaning.
CREATE EXTENSION IF NOT EXISTS pinpipe;

-- A real pin (from the public data set), with the placeholders of real records.
\set pin '{"index": 7528, "unique_id": "fbe53c66-3442-4773-b19e-d3ec6f54dddf", "title": "No Title Data Available", "description": "No description available Story format", "poster_name": "User Info Error", "follower_count": "User Info Error", "tag_list": "N,o, ,T,a,g,s, ,A,v,a,i,l,a,b,l,e", "is_image_or_video": "multi-video(story page format)", "image_src": "Image src error.", "downloaded": 0, "save_location": "Local save in /data/mens-fashion", "category": "mens-fashion"}'

SELECT * FROM pinpipe.clean_pin(:'pin'::jsonb);
SELECT * FROM pinpipe.clean_pin(:'pin'::text);

-- A clean one, with the trailing no-break space of real descriptions and a 2023 poster_name.
SELECT * FROM pinpipe.clean_pin(jsonb_build_object(
    'index', 1, 'unique_id', '79DBCEDB-4F96-4FCC-BCB2-70DC82F646E1',
    'title', '  Meet The Enigmatic Aykut Aydoğdu Illustrations ',
    'description', E'This Turkish illustrator has developed a unique style…\u00a0',
    'poster_name', 'Bored Panda', 'follower_count', '2M', 'tag_list', 'Surealism Art,Surreal Artwork',
    'is_image_or_video', 'image', 'image_src', 'https://i.pinimg.com/originals/ae/99/06/ae99.jpg',
    'downloaded', 1, 'save_location', 'Local save in /data/art', 'category', 'art'));

-- pydantic v1 lax coercion: int fields take numeric strings, str fields take numbers;
-- poster_name may be absent (older data) or null; unknown fields are ignored.
SELECT ind, title, follower_count, downloaded, poster_name, error_fields
FROM pinpipe.clean_pin('{"index": "42", "unique_id": "{79dbcedb4f964fccbcb270dc82f646e1}", "title": 3.5,
    "description": true, "follower_count": 972, "tag_list": "a", "is_image_or_video": "video",
    "image_src": "x", "downloaded": 1.9, "save_location": "/p", "category": "c", "extra": {"k": [1]}}');

-- Every structural error raises with a specific SQLSTATE and names the field.
CREATE FUNCTION pg_temp.try_clean(p text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pinpipe.clean_pin(p);
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || SQLERRM;
END $$;

SELECT label, pg_temp.try_clean(doc)
FROM (VALUES
    ('not an object',      '[1, 2]'),
    ('scalar',             '"pin"'),
    ('missing field',      '{"index": 1}'),
    ('index not int',      replace(:'pin', '"index": 7528', '"index": "seven"')),
    ('index null',         replace(:'pin', '"index": 7528', '"index": null')),
    ('index too large',    replace(:'pin', '"index": 7528', '"index": 99999999999')),
    ('index is array',     replace(:'pin', '"index": 7528', '"index": [7528]')),
    ('title is object',    replace(:'pin', '"title": "No Title Data Available"', '"title": {"t": 1}')),
    ('title null',         replace(:'pin', '"title": "No Title Data Available"', '"title": null')),
    ('uuid invalid',       replace(:'pin', 'fbe53c66-3442-4773-b19e-d3ec6f54dddf', 'fbe53c66-xxxx')),
    ('NUL in text',        replace(:'pin', 'No Title Data Available', 'a\u0000b')),
    ('truncated',          left(:'pin', 50)),
    ('not JSON',           'hello'),
    ('trailing garbage',   :'pin' || ' x'),
    ('lone surrogate',     replace(:'pin', 'No Title Data Available', '\ud800')),
    ('valid',              :'pin')
) AS t(label, doc);

-- The result has exactly the contract's columns, in order: type pinpipe.cleaned_pin, for
-- both overloads.
SELECT p.oid::regprocedure, p.prorettype::regtype
FROM pg_proc p WHERE p.proname = 'clean_pin' AND p.pronamespace = 'pinpipe'::regnamespace
ORDER BY p.oid::regprocedure::text;
SELECT a.attnum, a.attname, format_type(a.atttypid, a.atttypmod)
FROM pg_attribute a
WHERE a.attrelid = 'pinpipe.cleaned_pin'::regclass AND a.attnum > 0
ORDER BY a.attnum;
