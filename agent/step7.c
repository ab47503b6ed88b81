/*
 * step7.c - a SIMATIC Manager (STEP 7 V5) project folder's blocks as
 * baseline components (agent/scan.h: pg_scan_step7).
 *
 * After the folder walk has hashed every file, each offline block folder
 * (ombstx/offline/<folder>/SUBBLK.DBF with its SUBBLK.DBT) is read again,
 * checked against the hashes just taken (a table that changed in between is
 * a problem, never a component), and every downloadable sub-block is rebuilt
 * as its download image (parsers/s7v5.c) and parsed by mc7_parse(): the
 * component "ombstx/offline/<folder>/SUBBLK.DBF#s7/OB1" then carries the same
 * sha256 and logic fingerprint as the block SIMATIC Manager sends to the PLC,
 * so `sniff` matches a download to the signed project.  The raw files stay
 * file components with their strict hashes.  Deleted rows are skipped; a row
 * whose lengths disagree is a named problem for that block.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "dbase.h"
#include "digest.h"
#include "mc7.h"
#include "pg_limits.h"
#include "s7v5.h"
#include "scan.h"
#include "util.h"

#define PG_STEP7_TABLE_MAX (256u << 20)   /* one offline table or memo file */

static void msg(struct pg_scan *s, int io, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void msg(struct pg_scan *s, int io, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char buf[1024];
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	s->msgs = xrealloc(s->msgs, (s->n_msgs + 1) * sizeof *s->msgs);
	s->msgs[s->n_msgs].text = xstrdup(buf);
	s->msgs[s->n_msgs].io = io;
	s->n_msgs++;
	if (io)
		s->n_io_errors++;
	else
		s->n_parse_errors++;
}

/* The bytes of component c, read again and proved equal to its hash. */
static uint8_t *reread(struct pg_scan *s, const struct pg_component *c, size_t *n)
{
	if (!c->has_sha)
		return NULL;
	char *path = xasprintf("%s/%s", s->root, c->name);
	char err[512];
	uint8_t *b = NULL;
	int rc = pg_read_file(path, PG_STEP7_TABLE_MAX, &b, n, err, sizeof err);
	free(path);
	if (rc != 0) {
		msg(s, 1, "%s", err);
		return NULL;
	}
	uint8_t sha[32];
	pg_sha256(b, *n, sha);
	if (*n != c->size || memcmp(sha, c->sha256, 32) != 0) {
		msg(s, 1, "%s: changed while the project was scanned", c->name);
		free(b);
		return NULL;
	}
	return b;
}

/* What to do with each rebuilt block. */
typedef void (*block_fn)(void *ctx, const char *table, const uint8_t *img, size_t n,
			 const struct mc7_block *b);

static void table(struct pg_scan *s, const struct pg_component *tc,
		  const struct pg_component *mc, block_fn fn, void *ctx)
{
	size_t tn = 0, mn = 0;
	uint8_t *tb = reread(s, tc, &tn), *mb = tb ? reread(s, mc, &mn) : NULL;
	struct dbf d;
	struct dbt m;
	struct s7v5_cols cols;
	struct pg_err e;
	char eb[400];
	if (!tb || !mb)
		goto out;
	if (dbf_open(&d, tb, tn, &e) != 0 || s7v5_cols(&d, &cols, &e) != 0) {
		msg(s, 0, "%s: %s", tc->name, pg_err_str(&e, eb, sizeof eb));
		goto out;
	}
	if (dbt_open(&m, mb, mn, &e) != 0) {
		msg(s, 0, "%s: %s", mc->name, pg_err_str(&e, eb, sizeof eb));
		goto out;
	}
	if (d.truncated)
		msg(s, 0, "%s: %u records declared, %zu present", tc->name, d.nrec,
		    d.nrec_avail);
	for (size_t i = 0; i < d.nrec_avail; i++) {
		const uint8_t *rec;
		uint8_t type;
		uint16_t number;
		if (dbf_record(&d, i, &rec) != 1 || !s7v5_download_row(&d, &cols, rec, &type, &number))
			continue;
		char id[16];
		mc7_block_id(type, number, id, sizeof id);
		uint8_t *img = NULL;
		size_t n = 0;
		if (s7v5_image(&d, &m, &cols, rec, PG_MC7_MAX_BLOCK, &img, &n, &e) != 0) {
			msg(s, 0, "%s: %s (row %zu): %s", tc->name, id, i + 1,
			    pg_err_str(&e, eb, sizeof eb));
			continue;
		}
		struct mc7_block b;
		if (mc7_parse(img, n, &b, &e) != 0) {
			msg(s, 0, "%s: %s (row %zu) does not rebuild as a block: %s", tc->name, id,
			    i + 1, pg_err_str(&e, eb, sizeof eb));
			free(img);
			continue;
		}
		fn(ctx, tc->name, img, n, &b);
		free(img);
	}
out:
	free(tb);
	free(mb);
}

/* "ombstx/offline/<folder>/" + name, case-insensitively. */
static int is_offline(const char *name, const char *file)
{
	if (strncasecmp(name, "ombstx/offline/", 15) != 0)
		return 0;
	const char *f = strchr(name + 15, '/');
	return f && f > name + 15 && strchr(f + 1, '/') == NULL && strcasecmp(f + 1, file) == 0;
}

static void add_block(void *ctx, const char *tname, const uint8_t *img, size_t n,
		      const struct mc7_block *b)
{
	struct pg_complist *add = ctx;
	(void)img;
	(void)n;
	pg_scan_add_mc7(tname, b, add);
	struct pg_component *c = &add->v[add->n - 1];
	json_object_set_new(c->ann, "source", json_string("step7-offline"));
}

/* Every offline table of the scan, each rebuilt block handed to fn. */
static void each_table(struct pg_scan *s, block_fn fn, void *ctx)
{
	for (size_t i = 0; i < s->comps.n; i++) {
		const struct pg_component *tc = &s->comps.v[i];
		if (strcmp(tc->kind, "file") != 0 || !is_offline(tc->name, "SUBBLK.DBF"))
			continue;
		const struct pg_component *mc = NULL;
		size_t dl = (size_t)(strrchr(tc->name, '/') - tc->name) + 1;
		for (size_t k = 0; k < s->comps.n && !mc; k++) {
			const struct pg_component *x = &s->comps.v[k];
			if (strcmp(x->kind, "file") == 0 && strncmp(x->name, tc->name, dl) == 0 &&
			    strcasecmp(x->name + dl, "SUBBLK.DBT") == 0)
				mc = x;
		}
		if (!mc) {
			msg(s, 0, "%s: its memo file SUBBLK.DBT is missing", tc->name);
			continue;
		}
		table(s, tc, mc, fn, ctx);
	}
}

void pg_scan_step7(struct pg_scan *s)
{
	struct pg_complist add = { 0 };
	each_table(s, add_block, &add);
	for (size_t i = 0; i < add.n; i++) {
		struct pg_component *dst = pg_complist_add(&s->comps, add.v[i].name, add.v[i].kind);
		free(dst->name);
		*dst = add.v[i];
	}
	free(add.v);
	pg_complist_sort(&s->comps);
}

/* ---- inspect --extract ---- */

struct extract {
	const char *dir;
	unsigned written, failed;
};

static void write_block(void *ctx, const char *tname, const uint8_t *img, size_t n,
			const struct mc7_block *b)
{
	struct extract *x = ctx;
	/* ombstx/offline/<folder>/SUBBLK.DBF -> <dir>/<folder>/<block>.mc7; the
	 * folder name comes from the project: only [0-9A-Za-z] is used */
	const char *f = tname + 15, *e = strchr(f, '/');
	char folder[64];
	size_t k = 0;
	for (const char *p = f; p < e && k < sizeof folder - 1; p++)
		if ((*p >= '0' && *p <= '9') || (*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z'))
			folder[k++] = *p;
	folder[k] = '\0';
	if (!k) {
		x->failed++;
		return;
	}
	char id[16];
	mc7_block_id(b->type, b->number, id, sizeof id);
	char *sub = xasprintf("%s/%s", x->dir, folder);
	char *name = xasprintf("%s.mc7", id), err[512] = "";
	if (mkdir(sub, 0755) != 0 && errno != EEXIST)
		snprintf(err, sizeof err, "%s: %s", sub, strerror(errno));
	else if (pg_write_atomic(sub, name, img, n, err, sizeof err) != 0 && !err[0])
		snprintf(err, sizeof err, "%s/%s: cannot write", sub, name);
	if (err[0]) {
		fprintf(stderr, "plcguard inspect: %s\n", err);
		x->failed++;
	} else {
		x->written++;
	}
	free(name);
	free(sub);
}

int pg_step7_extract(struct pg_scan *s, const char *dir, unsigned *written)
{
	struct extract x = { dir, 0, 0 };
	if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
		fprintf(stderr, "plcguard inspect: %s: %s\n", dir, strerror(errno));
		return -1;
	}
	each_table(s, write_block, &x);
	*written = x.written;
	return x.failed ? -1 : 0;
}
