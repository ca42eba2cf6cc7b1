/*
 * clean.h — the cleaning rules of DESIGN §3, one implementation for every path
 * (SQL functions, sink, batch layer).
 *
 * Pure C: no PostgreSQL headers, no allocation. Cleaned text values are slices
 * of the input (trimming and placeholder removal never need to copy).
 */
#ifndef CLEAN_H
#define CLEAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pin_json.h"
#include "text.h"

/* A slice of text; ptr == NULL means SQL NULL. */
typedef TextSpan CleanText;

/* A cleaned pin: the columns of pinpipe.clean_pin() in its order. */
typedef struct CleanPin
{
	int32_t ind;
	uint8_t unique_id[16];
	CleanText title;
	CleanText description;
	CleanText poster_name;
	bool follower_count_null;
	int64_t follower_count;
	CleanText tag_list; /* the trimmed list text; iterate with CleanTagNext */
	int ntags;			/* number of tags in tag_list; tag_list.ptr NULL if none */
	CleanText is_image_or_video;
	CleanText image_src;
	int32_t downloaded;
	CleanText save_location;
	CleanText category;
	uint32_t error_mask; /* bit (1 << PinField) per flagged field */
} CleanPin;

/*
 * A cleaned geolocation record (the columns of pinpipe.clean_geo() in its order;
 * coordinates is {latitude, longitude}, NULL when either is). Timestamps are
 * microseconds since 1970-01-01 00:00 UTC.
 */
typedef struct CleanGeo
{
	int32_t ind;
	bool timestamp_null;
	int64_t timestamp;
	bool latitude_null;
	double latitude;
	bool longitude_null;
	double longitude;
	CleanText country;
	uint32_t error_mask; /* bit (1 << GeoField) per flagged field */
} CleanGeo;

/* A cleaned user record; user_name is first_name || ' ' || last_name (NULL if either is). */
typedef struct CleanUser
{
	int32_t ind;
	CleanText first_name;
	CleanText last_name;
	int32_t age;
	bool date_joined_null;
	int64_t date_joined;
	uint32_t error_mask; /* bit (1 << UserField) per flagged field */
} CleanUser;

/* Clean a geolocation / user record that RecordParse accepted for its model. */
void CleanGeoRecord(const PinRecord *rec, CleanGeo *out);
void CleanUserRecord(const PinRecord *rec, CleanUser *out);

/*
 * A datetime as the 2023 data writes it ("2019-01-01 07:21:13") or in ISO 8601:
 * YYYY-MM-DD, then 'T', 't' or a space, HH:MM[:SS[.ffffff]], then an optional
 * zone (Z, ±HH, ±HH:MM, ±HHMM); no zone means UTC. Trimmed first. Sets *out to
 * microseconds since the Unix epoch; false if it is not such a datetime.
 */
bool CleanTimestamp(const char *s, size_t len, int64_t *out);

/*
 * The media class of a cleaned is_image_or_video value, the one rule behind the
 * live (category_minute) and batch (category_daily) media counts: "image" and
 * "video" exactly, "story" for anything starting with "multi-video" (the
 * reference data spells it "multi-video(story page format)"), "other" for the
 * rest, NULL included. clean_media_names[] holds the SQL spelling of each class.
 */
typedef enum CleanMedia
{
	CLEAN_MEDIA_IMAGE = 0,
	CLEAN_MEDIA_VIDEO,
	CLEAN_MEDIA_STORY,
	CLEAN_MEDIA_OTHER
} CleanMedia;

#define CLEAN_MEDIA_NCLASSES 4
extern const char *const clean_media_names[CLEAN_MEDIA_NCLASSES];

/* The class of a cleaned value (s NULL: no value). */
CleanMedia CleanMediaClass(const char *s, size_t len);

/* Clean a pin that PinParse accepted (PIN_OK). */
void CleanPinRecord(const PinRecord *rec, CleanPin *out);

/*
 * follower_count: "972" → 972, "5k" → 5000, "1.5M" → 1500000, "2B"; any case.
 * Returns true with *out set when parseable; false → NULL. *flagged is set
 * for anything that is not a clean number (including "User Info Error").
 */
bool CleanFollowerCount(const char *s, size_t len, int64_t *out, bool *flagged);

/*
 * tag_list: split on ',', trim, drop empties. Returns the number of tags and
 * sets *list to the trimmed text to iterate; 0 (and *list NULL) for the
 * placeholder or an empty list, with *flagged set.
 */
int CleanTagList(const char *s, size_t len, CleanText *list, bool *flagged);

/* Next tag of a list from CleanTagList; *pos starts at 0. False at the end. */
bool CleanTagNext(CleanText list, size_t *pos, CleanText *tag);

/* save_location: keep the path from the first '/'; NULL (flagged) if there is none. */
CleanText CleanSaveLocation(const char *s, size_t len, bool *flagged);

#endif /* CLEAN_H */
