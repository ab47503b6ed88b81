/* wstate.c - the watcher's state file (wstate.h). */
#include "wstate.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "digest.h"
#include "pg_limits.h"
#include "textrec.h"
#include "util.h"

#define WS_MAGIC "plcguard-watch-state\t1\n"

static const char *const status_names[PG_WS_COUNT] = {
	"verified", "differs", "trust-failure", "unsigned", "unreadable", "missing",
};

const char *pg_wstatus_name(enum pg_wstatus s)
{
	return (unsigned)s < PG_WS_COUNT ? status_names[s] : "unknown";
}

void pg_wstate_free(struct pg_wstate *s)
{
	for (size_t i = 0; i < s->n; i++) {
		free(s->v[i].path);
		free(s->v[i].baseline);
	}
	free(s->v);
	memset(s, 0, sizeof *s);
}

char *pg_wstate_serialize(const struct pg_wstate *s, size_t *len)
{
	struct pg_sbuf b = { 0 };
	pg_sb_str(&b, WS_MAGIC);
	pg_sb_fmt(&b, "saved\t%lld\n", s->saved);
	pg_sb_str(&b, "run\t");
	pg_sb_text(&b, s->run[0] ? s->run : "-");
	pg_sb_fmt(&b, "\t%llu\n", s->last_seq);
	for (size_t i = 0; i < s->n; i++) {
		const struct pg_wstate_proj *p = &s->v[i];
		pg_sb_fmt(&b, "p\t%s\t", pg_wstatus_name(p->status));
		pg_sb_hex(&b, p->has_digest ? p->digest : NULL, 32);
		pg_sb_str(&b, "\t");
		pg_sb_text(&b, p->baseline ? p->baseline : "-");
		pg_sb_fmt(&b, "\t%u\t", p->flags & PG_WSF_ALL);
		pg_sb_text(&b, p->path);
		pg_sb_str(&b, "\n");
	}
	uint8_t h[32];
	char hex[PG_SHA256_HEX];
	if (!b.oom)
		pg_sha256(b.p, b.n, h);
	pg_sb_fmt(&b, "end\t%zu\t%s\n", s->n, b.oom ? "" : pg_hex(h, 32, hex));
	if (b.oom) {
		pg_sb_free(&b);
		return NULL;
	}
	*len = b.n;
	return b.p;
}

__attribute__((format(printf, 4, 5)))
static int fail(char *err, size_t errlen, size_t line, const char *fmt, ...)
{
	char msg[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	snprintf(err, errlen, "line %zu: %s", line, msg);
	return -1;
}

static int valid_run(const char *r)
{
	if (strcmp(r, "-") == 0)
		return 1;
	if (strlen(r) != 32)
		return 0;
	for (const char *p = r; *p; p++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
			return 0;
	return 1;
}

/* The fields of a "p" line after its tag. */
static int parse_p(struct cur *line, int more, struct pg_wstate_proj *p, size_t ln, char *err,
		   size_t errlen)
{
	struct cur f[5];
	int nf = 0;
	while (nf < 5 && pg_tr_field(line, &f[nf], &more))
		nf++;
	if (nf != 5 || more)
		return fail(err, errlen, ln, "a project line has 6 fields");
	int st = -1;
	for (int i = 0; i < PG_WS_COUNT; i++)
		if (pg_tr_is(&f[0], status_names[i]))
			st = i;
	if (st < 0)
		return fail(err, errlen, ln, "field 2 (status): not a status");
	p->status = (enum pg_wstatus)st;
	int h = pg_tr_hex(f[1], p->digest, 32);
	if (h < 0)
		return fail(err, errlen, ln, "field 3 (digest): not 64 hex digits or -");
	p->has_digest = h == 1;
	p->baseline = pg_tr_text(f[2], IDX_MAX_ID);
	if (!p->baseline || !p->baseline[0] || strchr(p->baseline, '/'))
		return fail(err, errlen, ln, "field 4 (baseline): not a store entry id or -");
	if (strcmp(p->baseline, "-") == 0) {
		free(p->baseline);
		p->baseline = NULL;
	}
	long long fl;
	if (pg_tr_int(f[3], 0, PG_WSF_ALL, &fl) < 0)
		return fail(err, errlen, ln, "field 5 (flags): not 0..%u", PG_WSF_ALL);
	p->flags = (unsigned)fl;
	p->path = pg_tr_text(f[4], PG_WSTATE_MAX_PATH);
	if (!p->path || p->path[0] != '/')
		return fail(err, errlen, ln, "field 6 (path): not an absolute path of at most %d bytes",
			    PG_WSTATE_MAX_PATH);
	return 0;
}

int pg_wstate_parse(const uint8_t *buf, size_t len, struct pg_wstate *out,
		    char *err, size_t errlen)
{
	memset(out, 0, sizeof *out);
	if (len > PG_WSTATE_MAX_BYTES)
		return fail(err, errlen, 0, "larger than %u bytes", PG_WSTATE_MAX_BYTES);
	struct cur c = cur_init(buf, len), line;
	size_t ln = 0, cap = 0;
	int r, seen_end = 0, seen_saved = 0, seen_run = 0;
	while ((r = pg_tr_line(&c, &line)) != 0) {
		ln++;
		if (r < 0)
			return fail(err, errlen, ln, "no newline at the end (cut short?)");
		if (seen_end)
			return fail(err, errlen, ln, "data after the end line");
		size_t line_start = cur_off(&line);
		if (ln == 1) {
			if (!pg_tr_is(&line, "plcguard-watch-state\t1"))
				return fail(err, errlen, ln, "not a plcguard watch state file (version 1)");
			continue;
		}
		struct cur f;
		int more = 1;
		pg_tr_field(&line, &f, &more);
		if (pg_tr_is(&f, "saved") && more && !seen_saved) {
			pg_tr_field(&line, &f, &more);
			if (more || pg_tr_int(f, 0, INT64_MAX, &out->saved) < 0)
				return fail(err, errlen, ln, "field 2 (saved): not a time");
			seen_saved = 1;
		} else if (pg_tr_is(&f, "run") && more && !seen_run) {
			pg_tr_field(&line, &f, &more);
			char *run = pg_tr_text(f, 32);
			if (!run || !valid_run(run)) {
				free(run);
				return fail(err, errlen, ln, "field 2 (run): not a run id");
			}
			snprintf(out->run, sizeof out->run, "%s", strcmp(run, "-") ? run : "");
			free(run);
			long long seq;
			if (!more || (pg_tr_field(&line, &f, &more), more) ||
			    pg_tr_int(f, 0, INT64_MAX, &seq) < 0)
				return fail(err, errlen, ln, "field 3 (seq): not a number");
			out->last_seq = (unsigned long long)seq;
			seen_run = 1;
		} else if (pg_tr_is(&f, "p") && more) {
			if (out->n >= PG_WSTATE_MAX_PROJECTS)
				return fail(err, errlen, ln, "more than %d projects", PG_WSTATE_MAX_PROJECTS);
			if (out->n == cap) {
				size_t nc = cap ? cap * 2 : 64;
				struct pg_wstate_proj *v = realloc(out->v, nc * sizeof *v);
				if (!v)
					return fail(err, errlen, ln, "out of memory");
				out->v = v;
				cap = nc;
			}
			struct pg_wstate_proj *p = &out->v[out->n++];
			memset(p, 0, sizeof *p);
			if (parse_p(&line, more, p, ln, err, errlen) < 0)
				return -1;
		} else if (pg_tr_is(&f, "end") && more) {
			long long n;
			pg_tr_field(&line, &f, &more);
			if (!more || pg_tr_int(f, 0, PG_WSTATE_MAX_PROJECTS, &n) < 0)
				return fail(err, errlen, ln, "field 2 (count): not a number");
			if ((size_t)n != out->n)
				return fail(err, errlen, ln, "field 2 (count): says %lld projects, the file holds %zu",
					    n, out->n);
			pg_tr_field(&line, &f, &more);
			uint8_t want[32], got[32];
			if (more || pg_tr_hex(f, want, 32) != 1)
				return fail(err, errlen, ln, "field 3 (sha256): not 64 hex digits");
			pg_sha256(buf, line_start, got); /* every byte before this line */
			if (memcmp(want, got, 32) != 0)
				return fail(err, errlen, ln, "field 3 (sha256): the file's bytes do not match it (damaged or edited)");
			seen_end = 1;
		} else {
			return fail(err, errlen, ln, "field 1: unknown or repeated record");
		}
	}
	if (!seen_end)
		return fail(err, errlen, ln, "no end line (cut short?)");
	if (!seen_saved || !seen_run)
		return fail(err, errlen, ln, "no %s line", seen_saved ? "run" : "saved");
	return 0;
}

int pg_wstate_load(const char *file, struct pg_wstate *out, char *err, size_t errlen)
{
	memset(out, 0, sizeof *out);
	uint8_t *buf;
	size_t len;
	char e[512];
	struct stat st;
	if (lstat(file, &st) != 0 && errno == ENOENT)
		return 1;
	if (pg_read_file(file, PG_WSTATE_MAX_BYTES, &buf, &len, e, sizeof e) != 0) {
		snprintf(err, errlen, "%s", e);
		return -1;
	}
	char pe[400];
	int rc = pg_wstate_parse(buf, len, out, pe, sizeof pe);
	free(buf);
	if (rc) {
		snprintf(err, errlen, "%s: %s", file, pe);
		pg_wstate_free(out);
	}
	return rc;
}

int pg_wstate_save(const char *file, const struct pg_wstate *s, char *err, size_t errlen)
{
	size_t len;
	char *txt = pg_wstate_serialize(s, &len);
	if (!txt) {
		snprintf(err, errlen, "%s: out of memory", file);
		return -1;
	}
	char *dir = strdup(file);
	char *slash = dir ? strrchr(dir, '/') : NULL;
	int rc = -1;
	if (!dir) {
		snprintf(err, errlen, "%s: out of memory", file);
	} else if (slash) {
		*slash = 0;
		rc = pg_write_atomic(*dir ? dir : "/", slash + 1, txt, len, err, errlen);
	} else {
		rc = pg_write_atomic(".", file, txt, len, err, errlen);
	}
	free(dir);
	free(txt);
	return rc;
}
