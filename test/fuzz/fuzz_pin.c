/*
 * fuzz_pin.c — libFuzzer target over the pin reader and the cleaning rules.
 *
 * Besides "no crash, no out-of-bounds access" (ASan/UBSan), it checks properties:
 * a valid pin's echo (PinRecordToJson) parses again to the same coerced values;
 * every cleaned text is inside the input or the scratch buffer and is valid UTF-8;
 * a JSON array is walked to its end or to an error without looping. The same
 * input is also read as a geo and a user record (the other streams' models):
 * valid ones clean to UTF-8 text, in-range coordinates and parseable timestamps.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "clean.h"
#include "pin_json.h"

#define REQUIRE(c)                                                                                 \
	do                                                                                             \
	{                                                                                              \
		if (!(c))                                                                                  \
			abort();                                                                               \
	} while (0)

static void
CheckText(CleanText t)
{
	if (t.ptr)
		REQUIRE(Utf8Valid(t.ptr, t.len));
}

/* The input as a geo and as a user record: no crash, and the cleaned values keep their rules. */
static void
FuzzStreams(const char *json, size_t size, char *scratch)
{
	PinRecord rec;
	int64_t t;

	if (RecordParse(&geo_model, json, size, &rec, scratch) == PIN_OK)
	{
		CleanGeo geo;

		CleanGeoRecord(&rec, &geo);
		CheckText(geo.country);
		REQUIRE(geo.latitude_null || (geo.latitude >= -90 && geo.latitude <= 90));
		REQUIRE(geo.longitude_null || (geo.longitude >= -180 && geo.longitude <= 180));
		REQUIRE(geo.timestamp_null ==
				!CleanTimestamp(rec.str[GEO_TIMESTAMP], rec.len[GEO_TIMESTAMP], &t));
		REQUIRE(geo.error_mask < (1u << GEO_NFIELDS));
	}
	else
		REQUIRE(rec.nerrors > 0 && rec.errors[0].field < GEO_NFIELDS);
	if (RecordParse(&user_model, json, size, &rec, scratch) == PIN_OK)
	{
		CleanUser user;

		CleanUserRecord(&rec, &user);
		CheckText(user.first_name);
		CheckText(user.last_name);
		REQUIRE(user.error_mask < (1u << USER_NFIELDS));
	}
	else
		REQUIRE(rec.nerrors > 0 && rec.errors[0].field < USER_NFIELDS);
	/* the raw input as a datetime: whatever it is, a parse is within years 1..9999 */
	if (CleanTimestamp(json, size, &t))
		REQUIRE(t >= -62135596800000000LL - 86400000000LL && t < 253402387200000000LL);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *json = (const char *) data;
	char *scratch = malloc(PIN_SCRATCH_SIZE(size));
	PinRecord rec, again;
	PinParseResult r = PinParse(json, size, &rec, scratch);
	char small[64];

	REQUIRE(r == PIN_OK || rec.nerrors > 0);
	PinErrorsToJson(&rec, small, sizeof(small));
	if (r == PIN_OK)
	{
		CleanPin pin;
		size_t need = PinRecordToJson(&rec, NULL, 0);
		char *echo = malloc(need + 1);
		char *scratch2 = malloc(PIN_SCRATCH_SIZE(need));
		CleanText tag;
		size_t pos = 0;
		int ntags = 0;

		REQUIRE(PinRecordToJson(&rec, echo, need + 1) == need);
		REQUIRE(PinParse(echo, need, &again, scratch2) == PIN_OK);
		for (int f = 0; f < PIN_NFIELDS; f++)
		{
			REQUIRE(again.present[f] == rec.present[f]);
			if (rec.present[f])
				REQUIRE(again.len[f] == rec.len[f] &&
						memcmp(again.str[f], rec.str[f], rec.len[f]) == 0);
		}
		CleanPinRecord(&rec, &pin);
		CheckText(pin.title);
		CheckText(pin.description);
		CheckText(pin.poster_name);
		CheckText(pin.is_image_or_video);
		CheckText(pin.image_src);
		CheckText(pin.save_location);
		CheckText(pin.category);
		while (CleanTagNext(pin.tag_list, &pos, &tag))
		{
			CheckText(tag);
			ntags++;
		}
		REQUIRE(ntags == pin.ntags);
		free(echo);
		free(scratch2);
	}
	if (PinJsonIsArray(json, size))
	{
		size_t pos = 0, elen, last = 0;
		const char *elem;
		PinError err;
		int k;

		while ((k = PinJsonArrayNext(json, size, &pos, &elem, &elen, &err)) == 1)
		{
			REQUIRE(pos > last && pos <= size);
			last = pos;
		}
	}
	{
		PinBatch b;
		PinError berr;
		const char *rec;
		size_t n;

		/* a batch yields records inside the input, whichever way it is read */
		if (PinBatchOpen(&b, json, size, &berr))
			while (PinBatchNext(&b, &rec, &n))
				REQUIRE(n > 0 && rec >= json && rec + n <= json + size);
	}
	{
		size_t pos = 0, last = 0, n;
		const char *line;

		/* NDJSON walking moves forward, ends, and yields non-empty slices inside the input */
		while (PinNdjsonNext(json, size, &pos, &line, &n))
		{
			REQUIRE(pos > last && pos <= size && n > 0 && line >= json && line + n <= json + size);
			last = pos;
		}
	}
	{
		int64_t n;
		bool flagged;
		CleanText list;

		CleanFollowerCount(json, size, &n, &flagged);
		CleanTagList(json, size, &list, &flagged);
	}
	FuzzStreams(json, size, scratch);
	free(scratch);
	return 0;
}
