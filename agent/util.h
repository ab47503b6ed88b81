/* util.h - small helpers of the agent: allocation, files, time, text. */
#ifndef PG_UTIL_H
#define PG_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

/* Allocation that ends the program with a message on exhaustion: the CLI
 * cannot do anything useful without memory, and a clean exit beats a crash. */
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Overflow-checked size arithmetic: 0 on success. */
int size_add(size_t a, size_t b, size_t *out);
int size_mul(size_t a, size_t b, size_t *out);

/*
 * Read a whole regular file of at most max bytes, opened with O_NOFOLLOW.
 * 0 on success (*buf is malloc'd, NUL-terminated past len); -1 with err.
 */
int pg_read_file(const char *path, size_t max, uint8_t **buf, size_t *len,
		 char *err, size_t errlen);

/* Write data to dir/name atomically: temp file, fsync, rename, fsync dir. */
int pg_write_atomic(const char *dir, const char *name, const void *data,
		    size_t len, char *err, size_t errlen);
int pg_fsync_dir(const char *dir);
/* mkdir -p with mode; 0 on success. */
int pg_mkdirs(const char *path, unsigned mode);

/*
 * ISO 8601 date-time: YYYY-MM-DDTHH:MM[:SS[.fff]] followed by Z, +HH:MM,
 * +HHMM or -..  (a zone is required: a change window must not depend on the
 * reader's time zone).  0 on success.
 */
int pg_parse_time(const char *s, time_t *out);
/* "FROM/TO" or "FROM/PTnHnMnS" (ISO 8601 interval); 0 on success. */
int pg_parse_window(const char *s, time_t *from, time_t *to, char *err,
		    size_t errlen);
/* 2026-11-22T08:00:00Z; buf must hold 21 bytes.  Returns buf. */
char *pg_fmt_time(time_t t, char *buf, size_t n);

/* Join a/b into a malloc'd string, without doubling the slash. */
char *pg_path_join(const char *a, const char *b);

/* Is stderr a terminal (progress display allowed)? */
int pg_isatty_stderr(void);

/* Monotonic clock in seconds. */
double pg_now_mono(void);



/*
 * Names from disk and archives are arbitrary bytes; manifests are UTF-8 JSON.
 * Escape, injectively: a backslash becomes "\\\\", a byte that is not part of
 * valid UTF-8 or is a control character becomes "\\xNN".  Valid UTF-8 names
 * without backslashes or controls come out unchanged.  Returns malloc'd text.
 */
char *pg_name_escape(const char *s, size_t len);
#endif
