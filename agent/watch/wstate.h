/*
 * wstate.h - what `plcguard watch` knew about each registered project when it
 * last stopped (--state DIR/watch.state), so that on the next start it can say
 * what changed while it was not running (watch.catchup).
 *
 *   plcguard-watch-state<TAB>1
 *   saved<TAB><unix seconds>
 *   run<TAB><run id, 32 hex><TAB><last seq of that run>
 *   p<TAB><status><TAB><content digest hex | -><TAB><baseline id | -><TAB><flags><TAB><path>
 *   ...
 *   end<TAB><number of p lines><TAB><SHA-256 of every byte before this line>
 *
 * Text fields are %XX-escaped (parsers/textrec.h).  The file is written
 * atomically (temporary file, fsync, rename, fsync of the folder).  It is
 * untrusted on read: anything wrong with it is named (line and field) and the
 * watcher then starts as if it had no state, and says so.
 */
#ifndef PG_WSTATE_H
#define PG_WSTATE_H

#include <stddef.h>
#include <stdint.h>

/* What the last verification of a project found. */
enum pg_wstatus {
	PG_WS_VERIFIED = 0, PG_WS_DIFFERS, PG_WS_TRUST, PG_WS_UNSIGNED,
	PG_WS_UNREADABLE, PG_WS_MISSING, PG_WS_COUNT
};

#define PG_WSF_EXPIRED_SAID 1u    /* baseline.expired was reported */
#define PG_WSF_REVOKED_SAID 2u    /* baseline.revoked was reported */
#define PG_WSF_ALL          3u

struct pg_wstate_proj {
	char *path;
	enum pg_wstatus status;
	int has_digest;
	uint8_t digest[32];       /* SHA-256 over the scanned components */
	char *baseline;           /* store id judged against, NULL when none */
	unsigned flags;
};

struct pg_wstate {
	long long saved;          /* unix seconds */
	char run[33];
	unsigned long long last_seq;
	struct pg_wstate_proj *v;
	size_t n;
};

const char *pg_wstatus_name(enum pg_wstatus s);  /* "verified", "differs", ... */

/* Parse buf; 0, or -1 with err naming the line and the field.  out is
 * always valid to free. */
int pg_wstate_parse(const uint8_t *buf, size_t len, struct pg_wstate *out,
		    char *err, size_t errlen);
/* The file's bytes (malloc'd), NULL when memory is short. */
char *pg_wstate_serialize(const struct pg_wstate *s, size_t *len);
/* Read FILE: 0; 1 when it does not exist; -1 with err (the file named). */
int pg_wstate_load(const char *file, struct pg_wstate *out, char *err, size_t errlen);
/* Write FILE atomically: 0, or -1 with err. */
int pg_wstate_save(const char *file, const struct pg_wstate *s, char *err, size_t errlen);
void pg_wstate_free(struct pg_wstate *s);

#endif
