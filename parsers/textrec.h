/*
 * textrec.h - the line-and-TAB record format of plcguard's own state files
 * (the store index, the watcher's state): one record per line, fields
 * separated by TAB, text fields with TAB, newline, other control bytes, DEL
 * and '%' written as %XX, hashes as lower-case hex, "-" for "none".
 *
 * Reading goes through the bounds-checked cursor (cursor.h): the files are
 * untrusted (anyone who can write the folder can write them).  Writing goes
 * into a growable buffer that remembers an allocation failure instead of
 * exiting.
 */
#ifndef PG_TEXTREC_H
#define PG_TEXTREC_H

#include <stddef.h>
#include <stdint.h>

#include "cursor.h"

/* ---- reading ---- */

/* The next line (without its newline) into *line: 1, 0 at the end, -1 when
 * the last line has no newline (a file cut short). */
int pg_tr_line(struct cur *c, struct cur *line);
/* The next TAB-separated field of a line: 1, or 0 when there is none.
 * *more starts at 1 for a fresh line. */
int pg_tr_field(struct cur *line, struct cur *f, int *more);
/* The field is exactly lit. */
int pg_tr_is(const struct cur *f, const char *lit);
/* A text field, %XX decoded; malloc'd, NULL when malformed, longer than max
 * bytes, holding a control byte or a NUL, or when memory is short. */
char *pg_tr_text(struct cur f, size_t max);
/* A decimal integer in [lo, hi]: 0, or -1. */
int pg_tr_int(struct cur f, long long lo, long long hi, long long *out);
/* Exactly n bytes as 2n hex digits into out: 1; "-": 0 (out zeroed); -1
 * when malformed. */
int pg_tr_hex(struct cur f, uint8_t *out, size_t n);

/* ---- writing ---- */

struct pg_sbuf {
	char *p;
	size_t n, cap;
	int oom;                   /* an append found no memory: p is incomplete */
};

void pg_sb_put(struct pg_sbuf *b, const void *s, size_t n);
void pg_sb_str(struct pg_sbuf *b, const char *s);
void pg_sb_fmt(struct pg_sbuf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* A text field, escaped as above. */
void pg_sb_text(struct pg_sbuf *b, const char *s);
/* n bytes as lower-case hex, or "-" when p is NULL. */
void pg_sb_hex(struct pg_sbuf *b, const uint8_t *p, size_t n);
void pg_sb_free(struct pg_sbuf *b);

#endif
