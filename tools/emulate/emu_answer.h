/*
 * emu_answer.h — reading a 2xx answer of the produce APIs pinpipe-emulate speaks,
 * strictly: a REST Proxy v2 produce answer must account for every record sent, a
 * Kinesis PutRecord answer must carry its SequenceNumber and ShardId. Anything else is
 * an unparsable answer, counted as errors (the records' fate is unknown).
 */
#ifndef EMU_ANSWER_H
#define EMU_ANSWER_H

#include <stdbool.h>
#include <stddef.h>

/* What one answer says about the records of its request. */
typedef struct EmuAnswer
{
	int accepted;		   /* stored (REST Proxy: partition and offset given, no error_code) */
	int rejected;		   /* refused for good (a non-retriable error_code, e.g. 1 or 4xxxx) */
	int retriable;		   /* failed, worth sending again (error_code 2, or 5xxxx) */
	char why[160];		   /* when the answer is unparsable: what was wrong */
	char first_error[160]; /* the first per-record error, "error_code: error" */
} EmuAnswer;

/*
 * Confluent REST Proxy v2 produce answer for nrecords records:
 * {"offsets":[{"partition":P,"offset":O,"error_code":null,"error":null},…],
 *  "key_schema_id":…,"value_schema_id":…}. Exactly nrecords entries, in order; a
 * success has integer partition and offset (>= 0) and a null or absent error_code;
 * a failure has an integer error_code and a string or null error. False (why set)
 * when the answer is not of that shape.
 */
bool AnswerRestProxy(const char *json, size_t len, int nrecords, EmuAnswer *out);

/* Kinesis PutRecord answer: {"SequenceNumber":"…","ShardId":"…"}, both non-empty strings. */
bool AnswerKinesis(const char *json, size_t len, EmuAnswer *out);

#endif /* EMU_ANSWER_H */
