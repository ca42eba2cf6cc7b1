/*
 * clean.c — the cleaning rules of DESIGN §3 (see clean.h).
 *
 * Input text is valid UTF-8 (PinParse and PostgreSQL guarantee it). Placeholders
 * are recognised after trimming, ignoring ASCII case, the width of inner white
 * space runs and trailing full stops, so "  no title data  available. " is the
 * title placeholder too.
 */
#include "clean.h"

#include <string.h>

static char
Lower(char c)
{
	return (c >= 'A' && c <= 'Z') ? (char) (c - 'A' + 'a') : c;
}

/*
 * Does trimmed text t equal the placeholder p (single-spaced, no final '.')?
 * Case-insensitive; any white space run in t matches one space in p.
 */
static bool
IsPlaceholder(CleanText t, const char *p)
{
	const unsigned char *u = (const unsigned char *) t.ptr;
	size_t i = 0, len = t.len;

	while (len > 0 && t.ptr[len - 1] == '.')
		len--;
	for (; *p; p++)
	{
		if (*p == ' ')
		{
			size_t n, seen = 0;

			while (i < len && (n = TextSpaceAt(u + i, len - i)) > 0)
			{
				i += n;
				seen++;
			}
			if (seen == 0)
				return false;
			continue;
		}
		if (i >= len || Lower(t.ptr[i]) != Lower(*p))
			return false;
		i++;
	}
	return i == len;
}

/* Trim, then NULL (flagged) if empty or one of the placeholders. */
static CleanText
CleanTextField(const char *s, size_t len, const char *const *placeholders, bool *flagged)
{
	CleanText t = TextTrim(s, len);

	*flagged = false;
	if (t.len == 0)
	{
		*flagged = true;
		t.ptr = NULL;
		return t;
	}
	for (; placeholders && *placeholders; placeholders++)
		if (IsPlaceholder(t, *placeholders))
		{
			*flagged = true;
			t.ptr = NULL;
			t.len = 0;
			return t;
		}
	return t;
}

static bool
IsDigit(char c)
{
	return c >= '0' && c <= '9';
}

bool
CleanFollowerCount(const char *s, size_t len, int64_t *out, bool *flagged)
{
	CleanText t = TextTrim(s, len);
	const char *p = t.ptr, *end = t.ptr + t.len;
	uint64_t mantissa = 0, mult = 1, pow10 = 1, value;
	int digits = 0, frac_digits = 0, group = -1;
	bool seen_point = false;

	*flagged = true;
	if (t.len == 0 || IsPlaceholder(t, "user info error"))
		return false;
	/* digits, optional thousands separators (1,234,567), optional fraction */
	for (; p < end; p++)
	{
		if (IsDigit(*p))
		{
			if (digits >= 18)
				return false; /* beyond int64 precision: not a follower count */
			mantissa = mantissa * 10 + (uint64_t) (*p - '0');
			digits++;
			if (seen_point)
				frac_digits++;
			else if (group >= 0)
				group++;
			continue;
		}
		if (*p == ',' && !seen_point && digits > 0 && (group == -1 ? digits <= 3 : group == 3))
		{
			group = 0;
			continue;
		}
		if (*p == '.' && !seen_point && digits > 0)
		{
			seen_point = true;
			continue;
		}
		break;
	}
	if (digits == 0 || (group >= 0 && group != 3) || (seen_point && frac_digits == 0))
		return false;
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	if (p < end)
	{
		switch (Lower(*p))
		{
			case 'k':
				mult = 1000;
				break;
			case 'm':
				mult = 1000000;
				break;
			case 'b':
				mult = 1000000000;
				break;
			default:
				return false;
		}
		p++;
	}
	if (p != end)
		return false;
	for (int i = 0; i < frac_digits; i++)
		pow10 *= 10;
	/* value = mantissa * mult / 10^frac_digits, rounded half up, without overflow */
	if (mantissa > UINT64_MAX / mult)
		return false;
	value = (mantissa * mult + pow10 / 2) / pow10;
	if (value > (uint64_t) INT64_MAX)
		return false;
	*out = (int64_t) value;
	*flagged = false;
	return true;
}

/* Is the list text the "N,o, ,T,a,g,s, ,A,v,a,i,l,a,b,l,e" placeholder (any spacing)? */
static bool
IsNoTagsPlaceholder(CleanText t)
{
	static const char want[] = "notagsavailable";
	const unsigned char *u = (const unsigned char *) t.ptr;
	size_t i = 0, k = 0, n;

	while (i < t.len)
	{
		if (t.ptr[i] == ',' || t.ptr[i] == '.')
		{
			i++;
			continue;
		}
		if ((n = TextSpaceAt(u + i, t.len - i)) > 0)
		{
			i += n;
			continue;
		}
		if (k >= sizeof(want) - 1 || Lower(t.ptr[i]) != want[k])
			return false;
		i++;
		k++;
	}
	return k == sizeof(want) - 1;
}

bool
CleanTagNext(CleanText list, size_t *pos, CleanText *tag)
{
	while (*pos < list.len)
	{
		const char *start = list.ptr + *pos;
		const char *comma = memchr(start, ',', list.len - *pos);
		size_t n = comma ? (size_t) (comma - start) : list.len - *pos;

		*pos += n + (comma ? 1 : 0);
		*tag = TextTrim(start, n);
		if (tag->len > 0)
			return true;
	}
	return false;
}

int
CleanTagList(const char *s, size_t len, CleanText *list, bool *flagged)
{
	CleanText t = TextTrim(s, len), tag;
	size_t pos = 0;
	int n = 0;

	*flagged = true;
	list->ptr = NULL;
	list->len = 0;
	if (t.len == 0 || IsNoTagsPlaceholder(t))
		return 0;
	while (CleanTagNext(t, &pos, &tag))
		n++;
	if (n == 0)
		return 0;
	*flagged = false;
	*list = t;
	return n;
}

CleanText
CleanSaveLocation(const char *s, size_t len, bool *flagged)
{
	CleanText t = TextTrim(s, len);
	const char *slash = t.len ? memchr(t.ptr, '/', t.len) : NULL;

	if (slash == NULL)
	{
		*flagged = true;
		t.ptr = NULL;
		t.len = 0;
		return t;
	}
	*flagged = false;
	t.len -= (size_t) (slash - t.ptr);
	t.ptr = slash;
	return t;
}

const char *const clean_media_names[CLEAN_MEDIA_NCLASSES] = {"image", "video", "story", "other"};

CleanMedia
CleanMediaClass(const char *s, size_t len)
{
	if (s == NULL)
		return CLEAN_MEDIA_OTHER;
	if (len == 5 && memcmp(s, "image", 5) == 0)
		return CLEAN_MEDIA_IMAGE;
	if (len == 5 && memcmp(s, "video", 5) == 0)
		return CLEAN_MEDIA_VIDEO;
	if (len >= 11 && memcmp(s, "multi-video", 11) == 0)
		return CLEAN_MEDIA_STORY;
	return CLEAN_MEDIA_OTHER;
}

static const char *const title_placeholders[] = {"no title data available", NULL};
static const char *const description_placeholders[] = {"no description available story format",
													   "no description available", NULL};
static const char *const user_placeholders[] = {"user info error", NULL};
static const char *const image_src_placeholders[] = {"image src error", NULL};

void
CleanPinRecord(const PinRecord *rec, CleanPin *out)
{
	bool flagged;

#define FLAG(f)                                                                                    \
	do                                                                                             \
	{                                                                                              \
		if (flagged)                                                                               \
			out->error_mask |= 1u << (f);                                                          \
	} while (0)

	memset(out, 0, sizeof(*out));
	out->ind = (int32_t) rec->num[PIN_INDEX];
	out->downloaded = (int32_t) rec->num[PIN_DOWNLOADED];
	memcpy(out->unique_id, rec->unique_id, sizeof(out->unique_id));

	out->title =
		CleanTextField(rec->str[PIN_TITLE], rec->len[PIN_TITLE], title_placeholders, &flagged);
	FLAG(PIN_TITLE);
	out->description = CleanTextField(rec->str[PIN_DESCRIPTION], rec->len[PIN_DESCRIPTION],
									  description_placeholders, &flagged);
	FLAG(PIN_DESCRIPTION);
	if (rec->present[PIN_POSTER_NAME])
	{
		out->poster_name = CleanTextField(rec->str[PIN_POSTER_NAME], rec->len[PIN_POSTER_NAME],
										  user_placeholders, &flagged);
		FLAG(PIN_POSTER_NAME);
	}
	out->follower_count_null = !CleanFollowerCount(
		rec->str[PIN_FOLLOWER_COUNT], rec->len[PIN_FOLLOWER_COUNT], &out->follower_count, &flagged);
	FLAG(PIN_FOLLOWER_COUNT);
	out->ntags =
		CleanTagList(rec->str[PIN_TAG_LIST], rec->len[PIN_TAG_LIST], &out->tag_list, &flagged);
	FLAG(PIN_TAG_LIST);
	out->is_image_or_video = CleanTextField(rec->str[PIN_IS_IMAGE_OR_VIDEO],
											rec->len[PIN_IS_IMAGE_OR_VIDEO], NULL, &flagged);
	FLAG(PIN_IS_IMAGE_OR_VIDEO);
	out->image_src = CleanTextField(rec->str[PIN_IMAGE_SRC], rec->len[PIN_IMAGE_SRC],
									image_src_placeholders, &flagged);
	FLAG(PIN_IMAGE_SRC);
	out->save_location =
		CleanSaveLocation(rec->str[PIN_SAVE_LOCATION], rec->len[PIN_SAVE_LOCATION], &flagged);
	FLAG(PIN_SAVE_LOCATION);
	out->category = CleanTextField(rec->str[PIN_CATEGORY], rec->len[PIN_CATEGORY], NULL, &flagged);
	FLAG(PIN_CATEGORY);
#undef FLAG
}

/* Read exactly n digits at s[*i]; -1 if they are not there. */
static int
Digits(const char *s, size_t len, size_t *i, int n)
{
	int v = 0;

	for (int k = 0; k < n; k++, (*i)++)
	{
		if (*i >= len || !IsDigit(s[*i]))
			return -1;
		v = v * 10 + (s[*i] - '0');
	}
	return v;
}

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar (eras of 400 years). */
static int64_t
DaysFromCivil(int y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static int
DaysInMonth(int y, int m)
{
	static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

	return m == 2 && leap ? 29 : days[m - 1];
}

bool
CleanTimestamp(const char *s, size_t len, int64_t *out)
{
	CleanText t = TextTrim(s, len);
	const char *p = t.ptr;
	size_t n = t.len, i = 0;
	int y, mo, d, h, mi, sec = 0, off = 0;
	int64_t usec = 0;

	if ((y = Digits(p, n, &i, 4)) < 1 || i >= n || p[i++] != '-' ||
		(mo = Digits(p, n, &i, 2)) < 1 || mo > 12 || i >= n || p[i++] != '-' ||
		(d = Digits(p, n, &i, 2)) < 1 || d > DaysInMonth(y, mo))
		return false;
	if (i >= n || (p[i] != ' ' && p[i] != 'T' && p[i] != 't'))
		return false;
	i++;
	if ((h = Digits(p, n, &i, 2)) < 0 || h > 23 || i >= n || p[i++] != ':' ||
		(mi = Digits(p, n, &i, 2)) < 0 || mi > 59)
		return false;
	if (i < n && p[i] == ':')
	{
		i++;
		if ((sec = Digits(p, n, &i, 2)) < 0 || sec > 59)
			return false;
		if (i < n && (p[i] == '.' || p[i] == ','))
		{
			int k = 0;

			i++;
			for (; i < n && IsDigit(p[i]); i++, k++)
				if (k < 6)
					usec = usec * 10 + (p[i] - '0');
			if (k == 0 || k > 6)
				return false;
			for (; k < 6; k++)
				usec *= 10;
		}
	}
	if (i < n && (p[i] == 'Z' || p[i] == 'z'))
		i++;
	else if (i < n && (p[i] == '+' || p[i] == '-'))
	{
		int sign = p[i++] == '-' ? -1 : 1, oh, om = 0;

		if ((oh = Digits(p, n, &i, 2)) < 0 || oh > 23)
			return false;
		if (i < n && p[i] == ':')
			i++;
		if (i < n && (om = Digits(p, n, &i, 2)) < 0)
			return false;
		if (om > 59)
			return false;
		off = sign * (oh * 60 + om);
	}
	if (i != n)
		return false;
	*out = ((DaysFromCivil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec) - (int64_t) off * 60) *
			   1000000 +
		   usec;
	return true;
}

/* A coordinate: finite and within ±limit degrees, else NULL (flagged). */
static bool
CleanCoordinate(double v, double limit, bool *flagged)
{
	*flagged = !(v >= -limit && v <= limit); /* NaN fails both */
	return !*flagged;
}

void
CleanGeoRecord(const PinRecord *rec, CleanGeo *out)
{
	bool flagged;

	memset(out, 0, sizeof(*out));
	out->ind = (int32_t) rec->num[GEO_IND];
	out->timestamp_null =
		!CleanTimestamp(rec->str[GEO_TIMESTAMP], rec->len[GEO_TIMESTAMP], &out->timestamp);
	if (out->timestamp_null)
		out->error_mask |= 1u << GEO_TIMESTAMP;
	out->latitude = rec->real[GEO_LATITUDE];
	out->latitude_null = !CleanCoordinate(out->latitude, 90, &flagged);
	if (flagged)
		out->error_mask |= 1u << GEO_LATITUDE;
	out->longitude = rec->real[GEO_LONGITUDE];
	out->longitude_null = !CleanCoordinate(out->longitude, 180, &flagged);
	if (flagged)
		out->error_mask |= 1u << GEO_LONGITUDE;
	out->country = CleanTextField(rec->str[GEO_COUNTRY], rec->len[GEO_COUNTRY], NULL, &flagged);
	if (flagged)
		out->error_mask |= 1u << GEO_COUNTRY;
}

void
CleanUserRecord(const PinRecord *rec, CleanUser *out)
{
	bool flagged;

	memset(out, 0, sizeof(*out));
	out->ind = (int32_t) rec->num[USER_IND];
	out->age = (int32_t) rec->num[USER_AGE];
	out->first_name =
		CleanTextField(rec->str[USER_FIRST_NAME], rec->len[USER_FIRST_NAME], NULL, &flagged);
	if (flagged)
		out->error_mask |= 1u << USER_FIRST_NAME;
	out->last_name =
		CleanTextField(rec->str[USER_LAST_NAME], rec->len[USER_LAST_NAME], NULL, &flagged);
	if (flagged)
		out->error_mask |= 1u << USER_LAST_NAME;
	out->date_joined_null =
		!CleanTimestamp(rec->str[USER_DATE_JOINED], rec->len[USER_DATE_JOINED], &out->date_joined);
	if (out->date_joined_null)
		out->error_mask |= 1u << USER_DATE_JOINED;
}
