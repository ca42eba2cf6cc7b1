/*
 * pin_json.h — parse one JSON pin into typed fields, validating it the way the
 * reference API's pydantic (v1) model does.
 *
 * Pure C: no PostgreSQL headers, no allocation. The caller hands in a scratch
 * buffer of PIN_SCRATCH_SIZE(len) bytes that receives decoded strings; every
 * pointer in a PinRecord points into the input or into that buffer. Used by the
 * SQL functions, the sink, the HTTP worker (before it answers 422) and the tools,
 * and fuzzed on its own (test/fuzz/fuzz_pin.c).
 */
#ifndef PIN_JSON_H
#define PIN_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The fields of a pin, in the order of the reference model (poster_name: 2023 data). */
typedef enum PinField
{
	PIN_CATEGORY = 0,
	PIN_INDEX,
	PIN_UNIQUE_ID,
	PIN_TITLE,
	PIN_DESCRIPTION,
	PIN_POSTER_NAME,
	PIN_FOLLOWER_COUNT,
	PIN_TAG_LIST,
	PIN_IS_IMAGE_OR_VIDEO,
	PIN_IMAGE_SRC,
	PIN_DOWNLOADED,
	PIN_SAVE_LOCATION,
	PIN_NFIELDS
} PinField;

/* Not a field: an error about the body as a whole ("loc": ["body"]). */
#define PIN_FIELD_BODY (-1)

extern const char *const pin_field_names[PIN_NFIELDS];

/* Field name → PinField, or PIN_FIELD_BODY if it is not one of ours. */
int PinFieldLookup(const char *name, size_t len);

/*
 * One validation error, in pydantic v1 terms (msg, type) plus the SQLSTATE that
 * the SQL functions raise for it. field is a PinField or PIN_FIELD_BODY.
 * offset is the byte position of a syntax error (PIN_BAD_JSON), else 0.
 */
typedef struct PinError
{
	int field;
	const char *msg;
	const char *type;
	const char *sqlstate;
	size_t offset;
} PinError;

#define PIN_MAX_ERRORS (PIN_NFIELDS + 1)

typedef enum PinParseResult
{
	PIN_OK = 0,	  /* a valid pin: every required field present and coercible */
	PIN_INVALID,  /* valid JSON, but fails validation: see errors (HTTP 422) */
	PIN_BAD_JSON, /* not JSON, not UTF-8, truncated, too deep (HTTP 400) */
} PinParseResult;

/*
 * A parsed pin. For str fields, str/len hold the value after pydantic coercion
 * (a JSON number becomes its Python str(), true becomes "True"); not yet cleaned.
 * For int fields, num holds the value and str/len its decimal text.
 */
typedef struct PinRecord
{
	bool present[PIN_NFIELDS];
	const char *str[PIN_NFIELDS];
	size_t len[PIN_NFIELDS];
	int64_t num[PIN_NFIELDS];
	double real[PIN_NFIELDS]; /* float fields (geo latitude/longitude): the value */
	uint8_t unique_id[16];	  /* the parsed UUID (valid when there are no errors) */
	int nerrors;
	PinError errors[PIN_MAX_ERRORS];
	size_t scratch_used; /* bytes of the caller's scratch the record's values occupy */
} PinRecord;

/* The kind of JSON value given for a field. */
typedef enum PinValueKind
{
	PIN_VALUE_NONE = 0, /* field absent */
	PIN_VALUE_STRING,
	PIN_VALUE_NUMBER,
	PIN_VALUE_TRUE,
	PIN_VALUE_FALSE,
	PIN_VALUE_NULL,
	PIN_VALUE_OBJECT,
	PIN_VALUE_ARRAY
} PinValueKind;

/* A field's JSON value before validation. */
typedef struct PinValue
{
	PinValueKind kind;
	const char *ptr; /* string: its contents; number: its literal text */
	size_t len;
	bool escaped;	 /* string: ptr still holds JSON backslash escapes */
	bool is_integer; /* number: no fraction or exponent */
} PinValue;

/* Scratch needed to parse len bytes: decoded strings plus room for coerced numbers. */
#define PIN_SCRATCH_SIZE(len) ((len) + 64 * PIN_NFIELDS + 64)

/* Deepest nesting of arrays/objects accepted anywhere in a message. */
#define PIN_JSON_MAX_DEPTH 64

/*
 * Validate and coerce field values that came from elsewhere (e.g. a jsonb
 * object): the same rules as PinParse. scratch: PIN_SCRATCH_SIZE(0) bytes
 * plus the length of any escaped strings.
 */
PinParseResult PinValidate(const PinValue values[PIN_NFIELDS], PinRecord *rec, char *scratch);

/* Parse and validate one pin (a JSON object). Never reads past json[len]. */
PinParseResult PinParse(const char *json, size_t len, PinRecord *rec, char *scratch);

/*
 * Iterate the elements of a top-level JSON array without parsing them further:
 * call with *pos = 0; each call returns 1 and sets *elem and *elem_len to the next
 * element's raw text, 0 at the end of the array, -1 if the text is not a
 * well-formed array (err then says why; *pos is the error's byte offset).
 */
int PinJsonArrayNext(const char *json, size_t len, size_t *pos, const char **elem, size_t *elem_len,
					 PinError *err);

/*
 * Iterate the records of NDJSON: call with *pos = 0; each call returns true and sets
 * *line and *line_len to the next non-blank line without its surrounding blanks (space,
 * tab, CR), false at the end. Blank lines are skipped.
 */
bool PinNdjsonNext(const char *s, size_t len, size_t *pos, const char **line, size_t *line_len);

/* One member of a JSON object, as JsonObjectNext reads it. */
typedef struct JsonMember
{
	PinValue key;	 /* a string: its contents between the quotes */
	PinValue value;	 /* as a field value (containers: ptr/len span the whole text) */
	const char *raw; /* the value's text as in the input (a string with its quotes) */
	size_t raw_len;
} JsonMember;

/*
 * Iterate the members of a top-level JSON object, each value read (and
 * validated) but not parsed further: call with *pos = 0; returns 1 with *m set,
 * 0 at the end of the object, -1 if the text is not a well-formed object (err
 * then says why, with the byte offset). Same contract as PinJsonArrayNext.
 */
int JsonObjectNext(const char *json, size_t len, size_t *pos, JsonMember *m, PinError *err);

/* Decode a string value's escapes into out (v->len bytes suffice); returns the length. */
size_t JsonStringDecode(const PinValue *v, char *out);

/* True when the member's key, its escapes decoded, is exactly name (of at most 64 bytes). */
#define JSON_KEY_NAME_MAX 64
bool JsonKeyIs(const JsonMember *m, const char *name);

/* The value of a JSON integer (a number without fraction or exponent) that fits in int64. */
bool JsonIntegerValue(const PinValue *v, int64_t *out);

/* True when the first non-space byte of json is '[' (a batch, not a single pin). */
bool PinJsonIsArray(const char *json, size_t len);

/*
 * A batch of pins, as POST /pins and ingest_text read it: one JSON array when
 * the whole text is one well-formed array, otherwise NDJSON (one pin per line),
 * so that one bad line, even a first line that starts with '[', costs only
 * itself. A text of a single non-blank line that starts with '[' but is not a
 * well-formed array stays a malformed array: PinBatchOpen then returns false.
 */
typedef struct PinBatch
{
	const char *s;
	size_t len;
	size_t pos;
	bool array; /* iterating array elements, not NDJSON lines */
} PinBatch;

/* Decide how to read s; false (err says why) for a one-line malformed array. */
bool PinBatchOpen(PinBatch *b, const char *s, size_t len, PinError *err);

/* The next record's raw text (an array element or an NDJSON line); false at the end. */
bool PinBatchNext(PinBatch *b, const char **rec, size_t *rec_len);

/* Check that s[0..len) is well-formed UTF-8 (no overlongs, no surrogates). */
bool Utf8Valid(const char *s, size_t len);

/*
 * The other streams of the 2023 data set (DESIGN §10): geolocation and user
 * records, validated by the same reader and the same pydantic-v1 lax rules,
 * into the same PinRecord (field indexes are the model's). A RecordModel says
 * which fields a stream has and of which type.
 */
typedef enum RecordFieldType
{
	RECORD_STR = 0,
	RECORD_INT,	  /* int4, pydantic int */
	RECORD_FLOAT, /* pydantic float: a JSON number, a numeric string, a boolean */
	RECORD_UUID	  /* str that must be a UUID (the pin's unique_id) */
} RecordFieldType;

typedef struct RecordModel
{
	const char *name; /* "pin", "geo", "user": raw_pins.stream */
	int nfields;
	const char *const *field_names;
	const RecordFieldType *types;
	uint32_t optional; /* bit per field that may be absent or null */
} RecordModel;

typedef enum GeoField
{
	GEO_IND = 0,
	GEO_TIMESTAMP,
	GEO_LATITUDE,
	GEO_LONGITUDE,
	GEO_COUNTRY,
	GEO_NFIELDS
} GeoField;

typedef enum UserField
{
	USER_IND = 0,
	USER_FIRST_NAME,
	USER_LAST_NAME,
	USER_AGE,
	USER_DATE_JOINED,
	USER_NFIELDS
} UserField;

extern const RecordModel pin_model;
extern const RecordModel geo_model;
extern const RecordModel user_model;

/* The model of a stream name ("pin", "geo", "user"), or NULL. */
const RecordModel *RecordModelLookup(const char *name, size_t len);

/* PinValidate for any model: values[] has model->nfields entries. */
PinParseResult RecordValidate(const RecordModel *model, const PinValue *values, PinRecord *rec,
							  char *scratch);

/* PinParse for any model. Never reads past json[len]; scratch: PIN_SCRATCH_SIZE(len). */
PinParseResult RecordParse(const RecordModel *model, const char *json, size_t len, PinRecord *rec,
						   char *scratch);

/*
 * Write the validated pin as a JSON object (the echo of POST /pin/): the model's
 * fields in model order with their coerced values, poster_name only if present.
 * Returns the length it needs; writes at most cap bytes (snprintf-style).
 */
size_t PinRecordToJson(const PinRecord *rec, char *out, size_t cap);

/* Write the errors as FastAPI's {"detail":[{"loc":["body",…],"msg":…,"type":…}]}. */
size_t PinErrorsToJson(const PinRecord *rec, char *out, size_t cap);

/*
 * The errors as one line of text ("invalid pin: field \"index\": …; …", or
 * "invalid JSON: … at byte N"): the dead letters' error and the REST APIs'
 * per-record error. Same snprintf-style contract.
 */
size_t RecordErrorsFormat(const RecordModel *m, const PinRecord *rec, PinParseResult result,
						  char *out, size_t cap);

/* JSON-escape s into out (no quotes added); same snprintf-style contract. */
size_t JsonEscape(const char *s, size_t len, char *out, size_t cap);

#endif /* PIN_JSON_H */
