/*
 * emu_buf.h — growable byte buffer and JSON string writer of pinpipe-emulate.
 *
 * Allocation failure is fatal (Die): a load generator has no plan B.
 */
#ifndef EMU_BUF_H
#define EMU_BUF_H

#include <stddef.h>

/* A growable byte buffer; allocation failure is fatal (a load generator has no plan B). */
typedef struct EmuBuf
{
	char *data;
	size_t len;
	size_t cap;
} EmuBuf;

/* Print "pinpipe-emulate: <message>" to stderr and exit with status 2. */
void Die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/* Make room for extra more bytes (plus a NUL). */
void BufReserve(EmuBuf *b, size_t extra);

/* Append bytes; the buffer stays NUL-terminated. */
void BufPut(EmuBuf *b, const char *s, size_t n);
void BufPuts(EmuBuf *b, const char *s);
void BufPrintf(EmuBuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Append s as a JSON string literal (quotes included); UTF-8 passes through unescaped. */
void BufPutJsonString(EmuBuf *b, const char *s, size_t n);

#endif /* EMU_BUF_H */
