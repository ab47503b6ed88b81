/*
 * pgerr.h - errors that carry their place.
 *
 * A parser that rejects input fills a pg_err with the byte offset and the name
 * of the field that was wrong, plus a sentence for people.  The caller prefixes
 * the file name (and archive entry) when it prints: "plc.xml: offset 412
 * (pou/name): ...".  Defensive "cannot happen" checks stay compiled in and
 * report through the same structure.
 */
#ifndef PG_PGERR_H
#define PG_PGERR_H

#include <stddef.h>

struct pg_err {
	size_t offset;      /* byte offset in the input, or PG_NO_OFFSET */
	char field[48];     /* field or structure that was wrong, "" if none */
	char msg[256];      /* human sentence, no trailing newline */
};

#define PG_NO_OFFSET ((size_t)-1)

void pg_err_clear(struct pg_err *e);
/* Always returns -1 so that parsers can `return pg_err_set(...)`. */
int pg_err_set(struct pg_err *e, size_t offset, const char *field,
	       const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* "offset 412 (pou/name): text" or just "text" */
const char *pg_err_str(const struct pg_err *e, char *buf, size_t n);

#endif
