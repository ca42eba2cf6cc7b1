-- One media rule (src/core/clean.c, pinpipe.media_class) behind every media count: the live
-- aggregates (category_minute), the archive rollups (category_daily) and the serving
-- views agree, also for multi-video… values that are not the exact story string.
\i sql/include/batch_fixture.sql

SELECT v AS is_image_or_video, pinpipe.media_class(v)
  FROM (VALUES ('image'), ('video'), ('multi-video(story page format)'), ('multi-video'),
               ('multi-video(carousel)'), ('Image'), ('images'), ('multi-vide'), ('gif'),
               (NULL)) AS t(v);

-- Pins through the live path (the sink), one of each media value, in one category.
SELECT sum(i.accepted) AS accepted
  FROM (VALUES (1, 'image'), (2, 'video'), (3, 'multi-video(story page format)'),
               (4, 'multi-video'), (5, 'multi-video(carousel)'), (6, '  multi-video(story page format) '),
               (7, 'gif'), (8, 'Image'), (9, 'video'), (10, 'multi-video(story page format)'))
       AS m(n, media)
 CROSS JOIN LATERAL pinpipe.ingest(jsonb_build_object(
        'index', m.n, 'unique_id', format('00000000-0000-4000-8000-%s', lpad(m.n::text, 12, '0')),
        'title', 't', 'description', 'd', 'poster_name', 'p', 'follower_count', '1k',
        'tag_list', 'a', 'is_image_or_video', m.media, 'image_src', 'https://i.pinimg.com/x.jpg',
        'downloaded', 1, 'save_location', 'Local save in /data/media', 'category', 'media')) AS i;

CREATE TEMP VIEW live_media AS
SELECT sum(image_posts) AS image, sum(video_posts) AS video, sum(story_posts) AS story,
       sum(other_media_posts) AS other
  FROM pinpipe.category_minute WHERE category = 'media';

-- Live aggregates, and the serving view while everything is still live.
SELECT * FROM live_media;
SELECT image_pins AS image, video_pins AS video, story_pins AS story, other_media_pins AS other
  FROM pinpipe.category_stats WHERE category = 'media';

-- The batch archives the same pins: its rollups and the serving view agree with the live counts.
CALL pinpipe.run_batch();
SELECT sum(image_pins) AS image, sum(video_pins) AS video, sum(story_pins) AS story,
       sum(other_media_pins) AS other
  FROM pinpipe_archive.category_daily WHERE category = 'media';
SELECT (l.image, l.video, l.story, l.other)
       = (d.image_pins, d.video_pins, d.story_pins, d.other_media_pins) AS live_and_batch_agree
  FROM live_media l, pinpipe.category_stats d WHERE d.category = 'media';

\i sql/include/batch_fixture_end.sql
