/*
 * pin_json.c — a strict JSON (RFC 8259) reader specialised for pins, and the
 * pydantic v1 validation/coercion of the reference model (see pin_json.h).
 *
 * Pure C, no allocation: reads only json[0..len), writes decoded strings into
 * the caller's scratch buffer. Every byte sequence ends in PIN_OK, PIN_INVALID
 * or PIN_BAD_JSON (fuzzed by test/fuzz/fuzz_pin.c). Nesting is bounded by
 * PIN_JSON_MAX_DEPTH, so recursion depth is too.
 */
#include "pin_json.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "text.h"

const char *const pin_field_names[PIN_NFIELDS] = {
	"category",		  "index",	  "unique_id",		   "title",		"description", "poster_name",
	"follower_count", "tag_list", "is_image_or_video", "image_src", "downloaded",  "save_location",
};

/* SQLSTATEs (PostgreSQL error codes) for the kinds of validation error. */
#define SQLSTATE_INVALID_JSON "22032"	/* invalid_json_text */
#define SQLSTATE_MISSING "2203A"		/* sql_json_member_not_found */
#define SQLSTATE_NOT_OBJECT "2203C"		/* sql_json_object_not_found */
#define SQLSTATE_WRONG_TYPE "22023"		/* invalid_parameter_value */
#define SQLSTATE_NULL "22004"			/* null_value_not_allowed */
#define SQLSTATE_BAD_TEXT "22P02"		/* invalid_text_representation */
#define SQLSTATE_OUT_OF_RANGE "22003"	/* numeric_value_out_of_range */
#define SQLSTATE_UNTRANSLATABLE "22P05" /* untranslatable_character */

typedef struct Reader
{
	const char *s;
	size_t len;
	size_t pos;
	const char *error; /* first syntax error */
	size_t error_pos;
} Reader;

static bool ReadValue(Reader *r, int depth, PinValue *out);
static int ModelFieldLookup(const RecordModel *m, const char *name, size_t len);

int
PinFieldLookup(const char *name, size_t len)
{
	return ModelFieldLookup(&pin_model, name, len);
}

static const RecordFieldType pin_field_types[PIN_NFIELDS] = {
	[PIN_INDEX] = RECORD_INT,
	[PIN_DOWNLOADED] = RECORD_INT,
	[PIN_UNIQUE_ID] = RECORD_UUID,
};

const RecordModel pin_model = {"pin", PIN_NFIELDS, pin_field_names, pin_field_types,
							   1u << PIN_POSTER_NAME};

/* The 2023 posting API's models: geolocation and user records (all fields required). */
static const char *const geo_field_names[GEO_NFIELDS] = {"ind", "timestamp", "latitude",
														 "longitude", "country"};
static const RecordFieldType geo_field_types[GEO_NFIELDS] = {
	[GEO_IND] = RECORD_INT,
	[GEO_LATITUDE] = RECORD_FLOAT,
	[GEO_LONGITUDE] = RECORD_FLOAT,
};

const RecordModel geo_model = {"geo", GEO_NFIELDS, geo_field_names, geo_field_types, 0};

static const char *const user_field_names[USER_NFIELDS] = {"ind", "first_name", "last_name", "age",
														   "date_joined"};
static const RecordFieldType user_field_types[USER_NFIELDS] = {
	[USER_IND] = RECORD_INT,
	[USER_AGE] = RECORD_INT,
};

const RecordModel user_model = {"user", USER_NFIELDS, user_field_names, user_field_types, 0};

const RecordModel *
RecordModelLookup(const char *name, size_t len)
{
	static const RecordModel *const models[] = {&pin_model, &geo_model, &user_model};

	for (size_t i = 0; i < sizeof(models) / sizeof(models[0]); i++)
		if (strlen(models[i]->name) == len && memcmp(models[i]->name, name, len) == 0)
			return models[i];
	return NULL;
}

/* Field name → index in the model, or PIN_FIELD_BODY. */
static int
ModelFieldLookup(const RecordModel *m, const char *name, size_t len)
{
	for (int i = 0; i < m->nfields; i++)
		if (strlen(m->field_names[i]) == len && memcmp(m->field_names[i], name, len) == 0)
			return i;
	return PIN_FIELD_BODY;
}

/* Record the first syntax error; always returns false for tail calls. */
static bool
Fail(Reader *r, const char *msg)
{
	if (r->error == NULL)
	{
		r->error = msg;
		r->error_pos = r->pos;
	}
	return false;
}

static void
SkipSpace(Reader *r)
{
	while (r->pos < r->len)
	{
		char c = r->s[r->pos];

		if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
			break;
		r->pos++;
	}
}

/* Length of the UTF-8 sequence at s (at most avail bytes), 0 if ill-formed. */
static size_t
Utf8SequenceLength(const unsigned char *s, size_t avail)
{
	unsigned char c = s[0];

	if (c < 0x80)
		return 1;
	if (c >= 0xC2 && c <= 0xDF)
		return (avail >= 2 && (s[1] & 0xC0) == 0x80) ? 2 : 0;
	if (c >= 0xE0 && c <= 0xEF)
	{
		if (avail < 3 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80)
			return 0;
		if (c == 0xE0 && s[1] < 0xA0)
			return 0; /* overlong */
		if (c == 0xED && s[1] >= 0xA0)
			return 0; /* UTF-16 surrogate */
		return 3;
	}
	if (c >= 0xF0 && c <= 0xF4)
	{
		if (avail < 4 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80 || (s[3] & 0xC0) != 0x80)
			return 0;
		if (c == 0xF0 && s[1] < 0x90)
			return 0; /* overlong */
		if (c == 0xF4 && s[1] >= 0x90)
			return 0; /* above U+10FFFF */
		return 4;
	}
	return 0;
}

bool
Utf8Valid(const char *s, size_t len)
{
	const unsigned char *u = (const unsigned char *) s;
	size_t i = 0;

	while (i < len)
	{
		size_t n;

		if (u[i] < 0x80)
		{
			i++;
			continue;
		}
		n = Utf8SequenceLength(u + i, len - i);
		if (n == 0)
			return false;
		i += n;
	}
	return true;
}

/* Four hex digits at s; -1 if not. */
static long
Hex4(const char *s)
{
	long v = 0;

	for (int i = 0; i < 4; i++)
	{
		int h = TextHexDigit(s[i]);

		if (h < 0)
			return -1;
		v = v * 16 + h;
	}
	return v;
}

/*
 * Read a string token (r->pos at the opening quote): validates UTF-8, control
 * characters and escapes (surrogates must pair). out->ptr/len span the raw
 * contents between the quotes.
 */
static bool
ReadString(Reader *r, PinValue *out)
{
	const unsigned char *u = (const unsigned char *) r->s;
	size_t start;

	r->pos++; /* opening quote */
	start = r->pos;
	out->kind = PIN_VALUE_STRING;
	out->escaped = false;
	while (r->pos < r->len)
	{
		unsigned char c = u[r->pos];

		if (c == '"')
		{
			out->ptr = r->s + start;
			out->len = r->pos - start;
			r->pos++;
			return true;
		}
		if (c < 0x20)
			return Fail(r, "control character in string");
		if (c == '\\')
		{
			char e;

			out->escaped = true;
			if (r->pos + 1 >= r->len)
				break;
			e = r->s[r->pos + 1];
			if (e == 'u')
			{
				long cp;

				if (r->pos + 6 > r->len || (cp = Hex4(r->s + r->pos + 2)) < 0)
					return Fail(r, "invalid \\u escape");
				r->pos += 6;
				if (cp >= 0xDC00 && cp <= 0xDFFF)
					return Fail(r, "unpaired UTF-16 surrogate in \\u escape");
				if (cp >= 0xD800 && cp <= 0xDBFF)
				{
					long lo;

					if (r->pos + 6 > r->len || r->s[r->pos] != '\\' || r->s[r->pos + 1] != 'u' ||
						(lo = Hex4(r->s + r->pos + 2)) < 0xDC00 || lo > 0xDFFF)
						return Fail(r, "unpaired UTF-16 surrogate in \\u escape");
					r->pos += 6;
				}
				continue;
			}
			if (e != '"' && e != '\\' && e != '/' && e != 'b' && e != 'f' && e != 'n' && e != 'r' &&
				e != 't')
				return Fail(r, "invalid escape in string");
			r->pos += 2;
			continue;
		}
		if (c < 0x80)
		{
			r->pos++;
			continue;
		}
		{
			size_t n = Utf8SequenceLength(u + r->pos, r->len - r->pos);

			if (n == 0)
				return Fail(r, "invalid UTF-8 in string");
			r->pos += n;
		}
	}
	return Fail(r, "unterminated string");
}

static bool
IsDigit(char c)
{
	return c >= '0' && c <= '9';
}

/* Read a number token per the JSON grammar (no NaN, Infinity, leading zeros or '+'). */
static bool
ReadNumber(Reader *r, PinValue *out)
{
	size_t start = r->pos;

	out->kind = PIN_VALUE_NUMBER;
	out->is_integer = true;
	if (r->pos < r->len && r->s[r->pos] == '-')
		r->pos++;
	if (r->pos >= r->len || !IsDigit(r->s[r->pos]))
		return Fail(r, "invalid number");
	if (r->s[r->pos] == '0')
		r->pos++;
	else
		while (r->pos < r->len && IsDigit(r->s[r->pos]))
			r->pos++;
	if (r->pos < r->len && r->s[r->pos] == '.')
	{
		out->is_integer = false;
		r->pos++;
		if (r->pos >= r->len || !IsDigit(r->s[r->pos]))
			return Fail(r, "invalid number");
		while (r->pos < r->len && IsDigit(r->s[r->pos]))
			r->pos++;
	}
	if (r->pos < r->len && (r->s[r->pos] == 'e' || r->s[r->pos] == 'E'))
	{
		out->is_integer = false;
		r->pos++;
		if (r->pos < r->len && (r->s[r->pos] == '+' || r->s[r->pos] == '-'))
			r->pos++;
		if (r->pos >= r->len || !IsDigit(r->s[r->pos]))
			return Fail(r, "invalid number");
		while (r->pos < r->len && IsDigit(r->s[r->pos]))
			r->pos++;
	}
	out->ptr = r->s + start;
	out->len = r->pos - start;
	return true;
}

static bool
ReadLiteral(Reader *r, const char *word, PinValueKind kind, PinValue *out)
{
	size_t n = strlen(word);

	if (r->len - r->pos < n || memcmp(r->s + r->pos, word, n) != 0)
		return Fail(r, "invalid literal");
	r->pos += n;
	out->kind = kind;
	out->ptr = word;
	out->len = n;
	return true;
}

/* Read (and validate) an array or object; only its kind is kept. */
static bool
ReadContainer(Reader *r, int depth, PinValue *out)
{
	char open = r->s[r->pos];
	char close = open == '{' ? '}' : ']';
	PinValue ignored;
	bool first = true;

	if (depth >= PIN_JSON_MAX_DEPTH)
		return Fail(r, "nesting too deep");
	out->kind = open == '{' ? PIN_VALUE_OBJECT : PIN_VALUE_ARRAY;
	out->ptr = r->s + r->pos;
	r->pos++;
	for (;;)
	{
		SkipSpace(r);
		if (r->pos >= r->len)
			return Fail(r, "unexpected end of input");
		if (r->s[r->pos] == close && first)
		{
			r->pos++;
			break;
		}
		if (!first)
		{
			if (r->s[r->pos] == close)
			{
				r->pos++;
				break;
			}
			if (r->s[r->pos] != ',')
				return Fail(r, open == '{' ? "expected ',' or '}'" : "expected ',' or ']'");
			r->pos++;
			SkipSpace(r);
		}
		first = false;
		if (open == '{')
		{
			if (r->pos >= r->len || r->s[r->pos] != '"')
				return Fail(r, "expected a string key");
			if (!ReadString(r, &ignored))
				return false;
			SkipSpace(r);
			if (r->pos >= r->len || r->s[r->pos] != ':')
				return Fail(r, "expected ':'");
			r->pos++;
		}
		if (!ReadValue(r, depth + 1, &ignored))
			return false;
	}
	out->len = (size_t) (r->s + r->pos - out->ptr);
	return true;
}

/* Read any JSON value at r->pos (leading white space allowed). */
static bool
ReadValue(Reader *r, int depth, PinValue *out)
{
	SkipSpace(r);
	if (r->pos >= r->len)
		return Fail(r, "unexpected end of input");
	switch (r->s[r->pos])
	{
		case '"':
			return ReadString(r, out);
		case '{':
		case '[':
			return ReadContainer(r, depth, out);
		case 't':
			return ReadLiteral(r, "true", PIN_VALUE_TRUE, out);
		case 'f':
			return ReadLiteral(r, "false", PIN_VALUE_FALSE, out);
		case 'n':
			return ReadLiteral(r, "null", PIN_VALUE_NULL, out);
		default:
			if (r->s[r->pos] == '-' || IsDigit(r->s[r->pos]))
				return ReadNumber(r, out);
			return Fail(r, "unexpected character");
	}
}

/* Append code point cp as UTF-8 at out; returns bytes written. */
static size_t
PutUtf8(char *out, unsigned long cp)
{
	if (cp < 0x80)
	{
		out[0] = (char) cp;
		return 1;
	}
	if (cp < 0x800)
	{
		out[0] = (char) (0xC0 | (cp >> 6));
		out[1] = (char) (0x80 | (cp & 0x3F));
		return 2;
	}
	if (cp < 0x10000)
	{
		out[0] = (char) (0xE0 | (cp >> 12));
		out[1] = (char) (0x80 | ((cp >> 6) & 0x3F));
		out[2] = (char) (0x80 | (cp & 0x3F));
		return 3;
	}
	out[0] = (char) (0xF0 | (cp >> 18));
	out[1] = (char) (0x80 | ((cp >> 12) & 0x3F));
	out[2] = (char) (0x80 | ((cp >> 6) & 0x3F));
	out[3] = (char) (0x80 | (cp & 0x3F));
	return 4;
}

/* Decode the escapes of a validated string token into out (never longer than the token). */
static size_t
DecodeString(const char *s, size_t len, char *out)
{
	size_t i = 0, o = 0;

	while (i < len)
	{
		if (s[i] != '\\')
		{
			out[o++] = s[i++];
			continue;
		}
		switch (s[i + 1])
		{
			case 'b':
				out[o++] = '\b';
				break;
			case 'f':
				out[o++] = '\f';
				break;
			case 'n':
				out[o++] = '\n';
				break;
			case 'r':
				out[o++] = '\r';
				break;
			case 't':
				out[o++] = '\t';
				break;
			case 'u':
			{
				unsigned long cp = (unsigned long) Hex4(s + i + 2);

				if (cp >= 0xD800 && cp <= 0xDBFF)
				{
					unsigned long lo = (unsigned long) Hex4(s + i + 8);

					cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
					i += 6;
				}
				o += PutUtf8(out + o, cp);
				i += 6;
				continue;
			}
			default: /* " \ / */
				out[o++] = s[i + 1];
				break;
		}
		i += 2;
	}
	return o;
}

/* Python's repr() of a double: shortest round-trip digits, repr's layout rules. */
static size_t
PythonFloatRepr(double v, char *out)
{
	char digits[32];
	int prec, exp10, ndig, decpt;
	size_t o = 0;
	char *e;

	if (isnan(v))
		return (size_t) sprintf(out, "nan");
	if (isinf(v))
		return (size_t) sprintf(out, v < 0 ? "-inf" : "inf");
	if (v == 0)
		return (size_t) sprintf(out, signbit(v) ? "-0.0" : "0.0");
	for (prec = 1; prec <= 17; prec++)
	{
		snprintf(digits, sizeof(digits), "%.*e", prec - 1, v);
		if (strtod(digits, NULL) == v)
			break;
	}
	/* digits: [-]d[.ddd]e±XX → sign, mantissa digits, exponent */
	e = strchr(digits, 'e');
	exp10 = atoi(e + 1);
	*e = '\0';
	if (digits[0] == '-')
	{
		out[o++] = '-';
		memmove(digits, digits + 1, strlen(digits));
	}
	if (digits[1] == '.')
		memmove(digits + 1, digits + 2, strlen(digits + 2) + 1);
	ndig = (int) strlen(digits);
	while (ndig > 1 && digits[ndig - 1] == '0')
		digits[--ndig] = '\0';
	decpt = exp10 + 1;
	if (decpt > -4 && decpt <= 16)
	{
		if (decpt <= 0)
		{
			out[o++] = '0';
			out[o++] = '.';
			for (int i = 0; i < -decpt; i++)
				out[o++] = '0';
			memcpy(out + o, digits, (size_t) ndig);
			o += (size_t) ndig;
		}
		else
		{
			for (int i = 0; i < decpt; i++)
				out[o++] = i < ndig ? digits[i] : '0';
			out[o++] = '.';
			if (ndig > decpt)
			{
				memcpy(out + o, digits + decpt, (size_t) (ndig - decpt));
				o += (size_t) (ndig - decpt);
			}
			else
				out[o++] = '0';
		}
	}
	else
	{
		out[o++] = digits[0];
		if (ndig > 1)
		{
			out[o++] = '.';
			memcpy(out + o, digits + 1, (size_t) (ndig - 1));
			o += (size_t) (ndig - 1);
		}
		o += (size_t) sprintf(out + o, "e%c%02d", exp10 < 0 ? '-' : '+', abs(exp10));
	}
	out[o] = '\0';
	return o;
}

static void
AddError(PinRecord *rec, int field, const char *msg, const char *type, const char *sqlstate)
{
	if (rec->nerrors < PIN_MAX_ERRORS)
	{
		PinError *e = &rec->errors[rec->nerrors++];

		e->field = field;
		e->msg = msg;
		e->type = type;
		e->sqlstate = sqlstate;
		e->offset = 0;
	}
}

static bool
IsPySpace(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

/*
 * Python's int() of a str: optional white space, sign, digits with single
 * underscores between them. Returns false if not an integer; *overflow if it
 * does not fit in int64.
 */
static bool
PythonIntFromString(const char *s, size_t len, int64_t *out, bool *overflow)
{
	size_t i = 0, end = len;
	bool neg = false, any = false, prev_us = false;
	uint64_t v = 0;

	*overflow = false;
	while (i < end && IsPySpace(s[i]))
		i++;
	while (end > i && IsPySpace(s[end - 1]))
		end--;
	if (i < end && (s[i] == '+' || s[i] == '-'))
		neg = s[i++] == '-';
	for (; i < end; i++)
	{
		if (s[i] == '_')
		{
			if (!any || prev_us)
				return false;
			prev_us = true;
			continue;
		}
		if (!IsDigit(s[i]))
			return false;
		prev_us = false;
		any = true;
		if (v > (UINT64_MAX - 9) / 10)
			*overflow = true;
		else
			v = v * 10 + (uint64_t) (s[i] - '0');
	}
	if (!any || prev_us)
		return false;
	if (v > (uint64_t) INT64_MAX + (neg ? 1 : 0))
		*overflow = true;
	if (!*overflow)
		*out = neg ? (int64_t) (0 - v) : (int64_t) v;
	return true;
}

/* The value of a JSON number literal (already checked by the grammar; huge ones are ±HUGE_VAL). */
static double
JsonNumberValue(const PinValue *v)
{
	char buf[512];
	size_t l = v->len < sizeof(buf) - 1 ? v->len : sizeof(buf) - 1;

	memcpy(buf, v->ptr, l);
	buf[l] = '\0';
	return strtod(buf, NULL);
}

/* Validate/coerce an int field (pydantic v1 int_validator), bounded to int4. */
static void
CoerceInt(PinRecord *rec, int f, const PinValue *v, char **scratch)
{
	int64_t n = 0;
	bool overflow = false;

	switch (v->kind)
	{
		case PIN_VALUE_NULL:
			AddError(rec, f, "none is not an allowed value", "type_error.none.not_allowed",
					 SQLSTATE_NULL);
			return;
		case PIN_VALUE_TRUE:
		case PIN_VALUE_FALSE:
			n = v->kind == PIN_VALUE_TRUE;
			break;
		case PIN_VALUE_NUMBER:
			if (v->is_integer)
			{
				if (!PythonIntFromString(v->ptr, v->len, &n, &overflow))
					overflow = true;
			}
			else
			{
				double d = JsonNumberValue(v);

				if (!isfinite(d))
				{
					AddError(rec, f, "value is not a valid integer", "type_error.integer",
							 SQLSTATE_WRONG_TYPE);
					return;
				}
				d = trunc(d);
				if (d < -9.2e18 || d > 9.2e18)
					overflow = true;
				else
					n = (int64_t) d;
			}
			break;
		case PIN_VALUE_STRING:
		{
			char *buf = *scratch;
			size_t l = v->escaped ? DecodeString(v->ptr, v->len, buf) : v->len;
			const char *src = v->escaped ? buf : v->ptr;

			if (!PythonIntFromString(src, l, &n, &overflow))
			{
				AddError(rec, f, "value is not a valid integer", "type_error.integer",
						 SQLSTATE_BAD_TEXT);
				return;
			}
			break;
		}
		default:
			AddError(rec, f, "value is not a valid integer", "type_error.integer",
					 SQLSTATE_WRONG_TYPE);
			return;
	}
	if (overflow || n > INT32_MAX)
	{
		AddError(rec, f, "ensure this value is less than or equal to 2147483647",
				 "value_error.number.not_le", SQLSTATE_OUT_OF_RANGE);
		return;
	}
	if (n < INT32_MIN)
	{
		AddError(rec, f, "ensure this value is greater than or equal to -2147483648",
				 "value_error.number.not_ge", SQLSTATE_OUT_OF_RANGE);
		return;
	}
	rec->num[f] = n;
	rec->str[f] = *scratch;
	rec->len[f] = (size_t) sprintf(*scratch, "%lld", (long long) n);
	*scratch += rec->len[f] + 1;
}

/* Validate/coerce a str field (pydantic v1 str_validator). */
static void
CoerceStr(PinRecord *rec, int f, const PinValue *v, char **scratch)
{
	switch (v->kind)
	{
		case PIN_VALUE_STRING:
			if (v->escaped)
			{
				rec->str[f] = *scratch;
				rec->len[f] = DecodeString(v->ptr, v->len, *scratch);
				*scratch += rec->len[f];
				if (memchr(rec->str[f], '\0', rec->len[f]) != NULL)
				{
					AddError(rec, f,
							 "string contains a NUL character (\\u0000), which PostgreSQL text "
							 "cannot store",
							 "value_error.str.nul", SQLSTATE_UNTRANSLATABLE);
					return;
				}
			}
			else
			{
				rec->str[f] = v->ptr;
				rec->len[f] = v->len;
			}
			break;
		case PIN_VALUE_NUMBER:
			if (v->is_integer)
			{
				/* JSON integers are canonical Python ints, except "-0" */
				if (v->len == 2 && v->ptr[0] == '-' && v->ptr[1] == '0')
				{
					rec->str[f] = "0";
					rec->len[f] = 1;
				}
				else
				{
					rec->str[f] = v->ptr;
					rec->len[f] = v->len;
				}
			}
			else
			{
				rec->str[f] = *scratch;
				rec->len[f] = PythonFloatRepr(JsonNumberValue(v), *scratch);
				*scratch += rec->len[f] + 1;
			}
			break;
		case PIN_VALUE_TRUE:
			rec->str[f] = "True";
			rec->len[f] = 4;
			break;
		case PIN_VALUE_FALSE:
			rec->str[f] = "False";
			rec->len[f] = 5;
			break;
		case PIN_VALUE_NULL:
			AddError(rec, f, "none is not an allowed value", "type_error.none.not_allowed",
					 SQLSTATE_NULL);
			return;
		default:
			AddError(rec, f, "str type expected", "type_error.str", SQLSTATE_WRONG_TYPE);
			return;
	}
}

/*
 * Python's float() of a str: white space around, a sign, then digits with
 * single underscores between digits, an optional fraction and exponent, or
 * inf/infinity/nan in any case. strtod alone would also take hex and "nan(...)".
 */
static bool
PythonFloatFromString(const char *s, size_t len, double *out)
{
	char buf[512];
	size_t i = 0, end = len, o = 0;
	bool digits = false;

	while (i < end && IsPySpace(s[i]))
		i++;
	while (end > i && IsPySpace(s[end - 1]))
		end--;
	if (end - i >= sizeof(buf))
		return false;
	for (size_t k = i; k < end; k++)
	{
		char c = s[k];

		if (c == '_')
		{
			/* only between two digits */
			if (k == i || k + 1 >= end || !IsDigit(s[k - 1]) || !IsDigit(s[k + 1]))
				return false;
			continue;
		}
		if (IsDigit(c))
			digits = true;
		else if (c != '.' && c != 'e' && c != 'E' && c != '+' && c != '-')
		{
			/* inf, infinity, nan: let strtod judge the word, but only those words */
			size_t w = end - k;
			char word[9];

			if (digits || w > 8)
				return false;
			for (size_t j = 0; j < w; j++)
				word[j] = (char) (s[k + j] | 0x20);
			word[w] = '\0';
			if (strcmp(word, "inf") != 0 && strcmp(word, "infinity") != 0 &&
				strcmp(word, "nan") != 0)
				return false;
			digits = true;
			for (; k < end; k++)
				buf[o++] = s[k];
			break;
		}
		buf[o++] = c;
	}
	if (!digits)
		return false;
	buf[o] = '\0';
	{
		char *stop;

		*out = strtod(buf, &stop);
		return *stop == '\0';
	}
}

/* Validate/coerce a float field (pydantic v1 float_validator). */
static void
CoerceFloat(PinRecord *rec, int f, const PinValue *v, char **scratch)
{
	double d;

	switch (v->kind)
	{
		case PIN_VALUE_NULL:
			AddError(rec, f, "none is not an allowed value", "type_error.none.not_allowed",
					 SQLSTATE_NULL);
			return;
		case PIN_VALUE_TRUE:
		case PIN_VALUE_FALSE:
			d = v->kind == PIN_VALUE_TRUE;
			break;
		case PIN_VALUE_NUMBER:
			d = JsonNumberValue(v);
			break;
		case PIN_VALUE_STRING:
		{
			char *buf = *scratch;
			size_t l = v->escaped ? DecodeString(v->ptr, v->len, buf) : v->len;

			if (!PythonFloatFromString(v->escaped ? buf : v->ptr, l, &d))
			{
				AddError(rec, f, "value is not a valid float", "type_error.float",
						 SQLSTATE_BAD_TEXT);
				return;
			}
			break;
		}
		default:
			AddError(rec, f, "value is not a valid float", "type_error.float", SQLSTATE_WRONG_TYPE);
			return;
	}
	rec->real[f] = d;
	rec->str[f] = *scratch;
	rec->len[f] = PythonFloatRepr(d, *scratch);
	*scratch += rec->len[f] + 1;
}

/* Decode a key into buf (keys longer than the buffer cannot be ours). */
static int
KeyField(const RecordModel *m, const PinValue *key)
{
	char buf[64];
	size_t l;

	if (!key->escaped)
		return ModelFieldLookup(m, key->ptr, key->len);
	if (key->len >= sizeof(buf))
		return PIN_FIELD_BODY;
	l = DecodeString(key->ptr, key->len, buf);
	return ModelFieldLookup(m, buf, l);
}

PinParseResult
RecordValidate(const RecordModel *m, const PinValue *values, PinRecord *rec, char *scratch)
{
	const char *scratch_start = scratch;

	memset(rec, 0, sizeof(*rec));
	/* Validation, in model field order (the order pydantic reports errors in). */
	for (int f = 0; f < m->nfields; f++)
	{
		bool optional = (m->optional & (1u << f)) != 0;

		if (values[f].kind == PIN_VALUE_NONE)
		{
			if (!optional)
				AddError(rec, f, "field required", "value_error.missing", SQLSTATE_MISSING);
			continue;
		}
		if (optional && values[f].kind == PIN_VALUE_NULL)
			continue; /* Optional[str]: null is the same as absent */
		rec->present[f] = true;
		switch (m->types[f])
		{
			case RECORD_INT:
				CoerceInt(rec, f, &values[f], &scratch);
				break;
			case RECORD_FLOAT:
				CoerceFloat(rec, f, &values[f], &scratch);
				break;
			case RECORD_UUID:
			{
				int before = rec->nerrors;

				CoerceStr(rec, f, &values[f], &scratch);
				if (rec->nerrors == before &&
					!TextParseUuid(rec->str[f], rec->len[f], rec->unique_id))
					AddError(rec, f, "value is not a valid uuid", "type_error.uuid",
							 SQLSTATE_BAD_TEXT);
				break;
			}
			default:
				CoerceStr(rec, f, &values[f], &scratch);
				break;
		}
	}
	rec->scratch_used = (size_t) (scratch - scratch_start);
	return rec->nerrors == 0 ? PIN_OK : PIN_INVALID;
}

PinParseResult
PinValidate(const PinValue values[PIN_NFIELDS], PinRecord *rec, char *scratch)
{
	return RecordValidate(&pin_model, values, rec, scratch);
}

PinParseResult
PinParse(const char *json, size_t len, PinRecord *rec, char *scratch)
{
	return RecordParse(&pin_model, json, len, rec, scratch);
}

PinParseResult
RecordParse(const RecordModel *m, const char *json, size_t len, PinRecord *rec, char *scratch)
{
	Reader r = {json, len, 0, NULL, 0};
	PinValue values[PIN_NFIELDS];
	bool first = true;

	memset(rec, 0, sizeof(*rec));
	memset(values, 0, sizeof(values));
	SkipSpace(&r);
	if (r.pos < r.len && r.s[r.pos] != '{')
	{
		PinValue top;

		/* valid JSON that is not an object is a validation error, like pydantic's */
		if (ReadValue(&r, 0, &top))
		{
			SkipSpace(&r);
			if (r.pos == r.len)
			{
				AddError(rec, PIN_FIELD_BODY, "value is not a valid dict", "type_error.dict",
						 SQLSTATE_NOT_OBJECT);
				return PIN_INVALID;
			}
			Fail(&r, "extra data after the JSON value");
		}
		goto bad_json;
	}
	if (r.pos >= r.len)
	{
		Fail(&r, "empty input");
		goto bad_json;
	}
	r.pos++;
	for (;;)
	{
		PinValue key, value;
		int field;

		SkipSpace(&r);
		if (r.pos >= r.len)
		{
			Fail(&r, "unexpected end of input");
			goto bad_json;
		}
		if (r.s[r.pos] == '}' && first)
		{
			r.pos++;
			break;
		}
		if (!first)
		{
			if (r.s[r.pos] == '}')
			{
				r.pos++;
				break;
			}
			if (r.s[r.pos] != ',')
			{
				Fail(&r, "expected ',' or '}'");
				goto bad_json;
			}
			r.pos++;
			SkipSpace(&r);
		}
		first = false;
		if (r.pos >= r.len || r.s[r.pos] != '"')
		{
			Fail(&r, "expected a string key");
			goto bad_json;
		}
		if (!ReadString(&r, &key))
			goto bad_json;
		SkipSpace(&r);
		if (r.pos >= r.len || r.s[r.pos] != ':')
		{
			Fail(&r, "expected ':'");
			goto bad_json;
		}
		r.pos++;
		if (!ReadValue(&r, 1, &value))
			goto bad_json;
		field = KeyField(m, &key);
		if (field != PIN_FIELD_BODY)
			values[field] = value; /* duplicate keys: the last one wins, as in Python */
	}
	SkipSpace(&r);
	if (r.pos != r.len)
	{
		Fail(&r, "extra data after the JSON value");
		goto bad_json;
	}

	return RecordValidate(m, values, rec, scratch);

bad_json:
	memset(rec, 0, sizeof(*rec));
	AddError(rec, PIN_FIELD_BODY, r.error ? r.error : "invalid JSON", "value_error.jsondecode",
			 SQLSTATE_INVALID_JSON);
	rec->errors[0].offset = r.error ? r.error_pos : r.pos;
	return PIN_BAD_JSON;
}

static bool
IsLineBlank(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

bool
PinNdjsonNext(const char *s, size_t len, size_t *pos, const char **line, size_t *line_len)
{
	while (*pos < len)
	{
		const char *nl = memchr(s + *pos, '\n', len - *pos);
		size_t a = *pos, z = nl ? (size_t) (nl - s) : len;

		*pos = nl ? z + 1 : len;
		while (a < z && IsLineBlank(s[a]))
			a++;
		while (z > a && IsLineBlank(s[z - 1]))
			z--;
		if (z > a)
		{
			*line = s + a;
			*line_len = z - a;
			return true;
		}
	}
	return false;
}

bool
PinJsonIsArray(const char *json, size_t len)
{
	size_t i = 0;

	while (i < len && (json[i] == ' ' || json[i] == '\t' || json[i] == '\n' || json[i] == '\r'))
		i++;
	return i < len && json[i] == '[';
}

bool
PinBatchOpen(PinBatch *b, const char *s, size_t len, PinError *err)
{
	size_t pos = 0, n;
	const char *rec;
	int r;

	b->s = s;
	b->len = len;
	b->pos = 0;
	b->array = false;
	if (!PinJsonIsArray(s, len))
		return true;
	while ((r = PinJsonArrayNext(s, len, &pos, &rec, &n, err)) == 1)
		;
	if (r == 0)
	{
		b->array = true;
		return true;
	}
	/* Not one array: NDJSON, unless there is no second line to read. */
	pos = 0;
	(void) PinNdjsonNext(s, len, &pos, &rec, &n);
	return PinNdjsonNext(s, len, &pos, &rec, &n);
}

bool
PinBatchNext(PinBatch *b, const char **rec, size_t *rec_len)
{
	if (b->array)
		return PinJsonArrayNext(b->s, b->len, &b->pos, rec, rec_len, NULL) == 1;
	return PinNdjsonNext(b->s, b->len, &b->pos, rec, rec_len);
}

/* An array or object iterator's syntax error: into err, and *pos at it (-1). */
static int
IterFail(Reader *r, size_t *pos, PinError *err)
{
	if (err)
	{
		err->field = PIN_FIELD_BODY;
		err->msg = r->error;
		err->type = "value_error.jsondecode";
		err->sqlstate = SQLSTATE_INVALID_JSON;
		err->offset = r->error_pos;
	}
	*pos = r->error_pos;
	return -1;
}

/* An array or object iterator at its closing bracket: nothing may follow (0, else -1). */
static int
IterEnd(Reader *r, size_t *pos, PinError *err)
{
	r->pos++;
	SkipSpace(r);
	if (r->pos != r->len)
	{
		Fail(r, "extra data after the JSON value");
		return IterFail(r, pos, err);
	}
	*pos = r->pos;
	return 0;
}

/*
 * One step of an array ('[') or object ('{') iterator: at the first call the
 * opening bracket, else the ',' after the previous element. 1: an element
 * follows (r at it); 0: the closing bracket (r at it); -1: failed (r holds why).
 */
static int
IterStep(Reader *r, bool first, char open, const char *open_missing_at_end,
		 const char *open_missing)
{
	char close = open == '[' ? ']' : '}';

	SkipSpace(r);
	if (first)
	{
		if (r->pos >= r->len || r->s[r->pos] != open)
		{
			Fail(r, r->pos >= r->len ? open_missing_at_end : open_missing);
			return -1;
		}
		r->pos++;
		SkipSpace(r);
		return r->pos < r->len && r->s[r->pos] == close ? 0 : 1;
	}
	if (r->pos < r->len && r->s[r->pos] == close)
		return 0;
	if (r->pos >= r->len || r->s[r->pos] != ',')
	{
		Fail(r, r->pos >= r->len ? "unexpected end of input"
				: close == ']'	 ? "expected ',' or ']'"
								 : "expected ',' or '}'");
		return -1;
	}
	r->pos++;
	SkipSpace(r);
	return 1;
}

int
PinJsonArrayNext(const char *json, size_t len, size_t *pos, const char **elem, size_t *elem_len,
				 PinError *err)
{
	Reader r = {json, len, *pos, NULL, 0};
	PinValue v;
	size_t start;

	switch (IterStep(&r, *pos == 0, '[', "expected a JSON array", "expected a JSON array"))
	{
		case 0:
			goto end;
		case -1:
			goto bad;
	}
	start = r.pos;
	if (!ReadValue(&r, 1, &v))
		goto bad;
	*elem = json + start;
	*elem_len = r.pos - start;
	*pos = r.pos;
	return 1;

end:
	return IterEnd(&r, pos, err);

bad:
	return IterFail(&r, pos, err);
}

int
JsonObjectNext(const char *json, size_t len, size_t *pos, JsonMember *m, PinError *err)
{
	Reader r = {json, len, *pos, NULL, 0};
	size_t start;

	switch (IterStep(&r, *pos == 0, '{', "empty input", "expected a JSON object"))
	{
		case 0:
			goto end;
		case -1:
			goto bad;
	}
	if (r.pos >= r.len || r.s[r.pos] != '"')
	{
		Fail(&r, r.pos >= r.len ? "unexpected end of input" : "expected a string key");
		goto bad;
	}
	if (!ReadString(&r, &m->key))
		goto bad;
	SkipSpace(&r);
	if (r.pos >= r.len || r.s[r.pos] != ':')
	{
		Fail(&r, "expected ':'");
		goto bad;
	}
	r.pos++;
	SkipSpace(&r);
	start = r.pos;
	if (!ReadValue(&r, 1, &m->value))
		goto bad;
	m->raw = json + start;
	m->raw_len = r.pos - start;
	*pos = r.pos;
	return 1;

end:
	return IterEnd(&r, pos, err);

bad:
	return IterFail(&r, pos, err);
}

size_t
JsonStringDecode(const PinValue *v, char *out)
{
	if (!v->escaped)
	{
		memcpy(out, v->ptr, v->len);
		return v->len;
	}
	return DecodeString(v->ptr, v->len, out);
}

bool
JsonKeyIs(const JsonMember *m, const char *name)
{
	char buf[JSON_KEY_NAME_MAX * 6];
	size_t want = strlen(name), l;

	if (!m->key.escaped)
		return m->key.len == want && memcmp(m->key.ptr, name, want) == 0;
	/* each source byte decodes to at least a sixth of one (\uXXXX): a longer key cannot match */
	if (m->key.len > sizeof(buf) || want > JSON_KEY_NAME_MAX)
		return false;
	l = DecodeString(m->key.ptr, m->key.len, buf);
	return l == want && memcmp(buf, name, want) == 0;
}

bool
JsonIntegerValue(const PinValue *v, int64_t *out)
{
	bool overflow;

	/* the JSON grammar's integers are a subset of what Python's int() reads */
	return v->kind == PIN_VALUE_NUMBER && v->is_integer &&
		   PythonIntFromString(v->ptr, v->len, out, &overflow) && !overflow;
}

/* Append to an snprintf-style output: writes what fits, always counts. */
typedef struct Out
{
	char *buf;
	size_t cap;
	size_t n;
} Out;

static void
OutBytes(Out *o, const char *s, size_t len)
{
	if (o->n < o->cap)
	{
		size_t room = o->cap - o->n;

		memcpy(o->buf + o->n, s, len < room ? len : room);
	}
	o->n += len;
}

static void
OutStr(Out *o, const char *s)
{
	OutBytes(o, s, strlen(s));
}

static void
OutQuoted(Out *o, const char *s, size_t len)
{
	size_t need;

	OutBytes(o, "\"", 1);
	need =
		JsonEscape(s, len, o->n < o->cap ? o->buf + o->n : NULL, o->n < o->cap ? o->cap - o->n : 0);
	o->n += need;
	OutBytes(o, "\"", 1);
}

static void
OutTerminate(Out *o)
{
	if (o->cap > 0)
		o->buf[o->n < o->cap ? o->n : o->cap - 1] = '\0';
}

size_t
JsonEscape(const char *s, size_t len, char *out, size_t cap)
{
	static const char hex[] = "0123456789abcdef";
	size_t n = 0;

	for (size_t i = 0; i < len; i++)
	{
		unsigned char c = (unsigned char) s[i];
		char esc[6];
		size_t k = 0;

		if (c == '"' || c == '\\')
		{
			esc[0] = '\\';
			esc[1] = (char) c;
			k = 2;
		}
		else if (c == '\n')
			k = (size_t) (memcpy(esc, "\\n", 2), 2);
		else if (c == '\r')
			k = (size_t) (memcpy(esc, "\\r", 2), 2);
		else if (c == '\t')
			k = (size_t) (memcpy(esc, "\\t", 2), 2);
		else if (c == '\b')
			k = (size_t) (memcpy(esc, "\\b", 2), 2);
		else if (c == '\f')
			k = (size_t) (memcpy(esc, "\\f", 2), 2);
		else if (c < 0x20)
		{
			/* as Python's json.dumps: other controls as \u00XX, DEL and non-ASCII as they are */
			memcpy(esc, "\\u00", 4);
			esc[4] = hex[c >> 4];
			esc[5] = hex[c & 15];
			k = 6;
		}
		else
		{
			if (n < cap)
				out[n] = (char) c;
			n++;
			continue;
		}
		for (size_t j = 0; j < k; j++, n++)
			if (n < cap)
				out[n] = esc[j];
	}
	return n;
}

size_t
PinRecordToJson(const PinRecord *rec, char *out, size_t cap)
{
	Out o = {out, cap, 0};
	bool first = true;

	OutStr(&o, "{");
	for (int f = 0; f < PIN_NFIELDS; f++)
	{
		if (!rec->present[f])
			continue;
		if (!first)
			OutStr(&o, ",");
		first = false;
		OutQuoted(&o, pin_field_names[f], strlen(pin_field_names[f]));
		OutStr(&o, ":");
		if (pin_field_types[f] == RECORD_INT)
			OutBytes(&o, rec->str[f], rec->len[f]);
		else
			OutQuoted(&o, rec->str[f], rec->len[f]);
	}
	OutStr(&o, "}");
	OutTerminate(&o);
	return o.n;
}

size_t
PinErrorsToJson(const PinRecord *rec, char *out, size_t cap)
{
	Out o = {out, cap, 0};

	OutStr(&o, "{\"detail\":[");
	for (int i = 0; i < rec->nerrors; i++)
	{
		const PinError *e = &rec->errors[i];

		if (i > 0)
			OutStr(&o, ",");
		OutStr(&o, "{\"loc\":[\"body\"");
		if (e->field != PIN_FIELD_BODY)
		{
			OutStr(&o, ",");
			OutQuoted(&o, pin_field_names[e->field], strlen(pin_field_names[e->field]));
		}
		OutStr(&o, "],\"msg\":");
		OutQuoted(&o, e->msg, strlen(e->msg));
		OutStr(&o, ",\"type\":");
		OutQuoted(&o, e->type, strlen(e->type));
		OutStr(&o, "}");
	}
	OutStr(&o, "]}");
	OutTerminate(&o);
	return o.n;
}

size_t
RecordErrorsFormat(const RecordModel *m, const PinRecord *rec, PinParseResult result, char *out,
				   size_t cap)
{
	Out o = {out, cap, 0};
	char num[32];

	if (result == PIN_BAD_JSON)
	{
		snprintf(num, sizeof(num), "%zu", rec->errors[0].offset);
		OutStr(&o, "invalid JSON: ");
		OutStr(&o, rec->errors[0].msg);
		OutStr(&o, " at byte ");
		OutStr(&o, num);
		OutTerminate(&o);
		return o.n;
	}
	OutStr(&o, "invalid ");
	OutStr(&o, m->name);
	OutStr(&o, m == &pin_model ? ": " : " record: ");
	for (int i = 0; i < rec->nerrors; i++)
	{
		const PinError *e = &rec->errors[i];

		if (i > 0)
			OutStr(&o, "; ");
		if (e->field == PIN_FIELD_BODY)
			OutStr(&o, "body: ");
		else
		{
			OutStr(&o, "field \"");
			OutStr(&o, m->field_names[e->field]);
			OutStr(&o, "\": ");
		}
		OutStr(&o, e->msg);
	}
	OutTerminate(&o);
	return o.n;
}
