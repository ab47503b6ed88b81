/*
 * step7.c - a SIMATIC Manager (STEP 7 V5) project folder's blocks as
 * baseline components (agent/scan.h: pg_scan_step7).
 *
 * After the folder walk has hashed every file, the project's structure is
 * read again from those files (../shared/docs/PROTOCOLS.md section 7), each
 * table checked against the hash just taken (a table that changed in between
 * is a problem, never a component):
 *   ombstx/offline/BSTCNTOF.DBF        which offline block folders exist
 *   hrs/S7RESOFF.DBF + hrs/linkhrs.lnk  the S7 program each folder belongs to
 *   ombstx/offline/<folder>/SUBBLK.DBF + SUBBLK.DBT
 *                                      the compiled blocks: every downloadable
 *                                      sub-block is rebuilt as its download
 *                                      image (parsers/s7v5.c) and parsed by
 *                                      mc7_parse()
 *   ombstx/offline/<folder>/BAUSTEIN.DBF
 *                                      the blocks the project lists: a block
 *                                      it lists without compiled code, or
 *                                      compiled code it does not list, is a
 *                                      named problem
 * Each block becomes the component "<program>/<block>" ("S7 Program(1)/OB1")
 * with the same sha256 and logic fingerprint as the block SIMATIC Manager
 * sends to the PLC, so `sniff` matches a download to the signed project.  A
 * folder no program claims is named by its path ("ombstx/offline/00000003").
 * The raw files stay file components with their strict hashes.  Deleted rows
 * are skipped; a row whose lengths disagree, two different compiled copies of
 * one block, a folder BSTCNTOF.DBF does not list: each is a named problem.
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


struct fold {                 /* one offline block folder */
	char *dir;            /* "ombstx/offline/00000001/" as the project spells it */
	int64_t id;           /* the folder name read as hex, -1 when it is not */
	const struct pg_component *sub, *memo, *bau;
	int listed;           /* a live row of BSTCNTOF.DBF names it */
	char *program;        /* its S7 program's name, NULL when none claims it */
	int64_t program_id;
	char *label;          /* component name prefix */
};

struct rblock {               /* one rebuilt block */
	struct fold *f;
	size_t row;           /* 1-based row of SUBBLK.DBF */
	int64_t objid;        /* OBJECTID: its BAUSTEIN.DBF row, -1 blank */
	int orphan;           /* BAUSTEIN.DBF does not list it as this block */
	int drop;             /* not registered (a problem says why) */
	uint8_t *img;
	size_t n;
	struct mc7_block b;
	char id[16];
};

struct ctx {
	struct pg_scan *s;
	int quiet;            /* inspect --extract: problems were said by the scan */
	struct fold *fv;
	size_t nf;
	struct rblock *bv;
	size_t nb;
};

static void msg(struct ctx *x, int io, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void msg(struct ctx *x, int io, const char *fmt, ...)
{
	if (x->quiet)
		return;
	struct pg_scan *s = x->s;
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

/* A file component by its path, case-insensitively (SIMATIC Manager's case
 * varies between projects). */
static const struct pg_component *find_ci(const struct pg_scan *s, const char *name)
{
	for (size_t i = 0; i < s->comps.n; i++)
		if (strcmp(s->comps.v[i].kind, "file") == 0 &&
		    strcasecmp(s->comps.v[i].name, name) == 0)
			return &s->comps.v[i];
	return NULL;
}

/* The bytes of component c, read again and proved equal to its hash. */
static uint8_t *reread(struct ctx *x, const struct pg_component *c, size_t *n)
{
	if (!c->has_sha)
		return NULL;
	char *path = xasprintf("%s/%s", x->s->root, c->name);
	char err[512];
	uint8_t *b = NULL;
	int rc = pg_read_file(path, PG_STEP7_TABLE_MAX, &b, n, err, sizeof err);
	free(path);
	if (rc != 0) {
		msg(x, 1, "%s", err);
		return NULL;
	}
	uint8_t sha[32];
	pg_sha256(b, *n, sha);
	if (*n != c->size || memcmp(sha, c->sha256, 32) != 0) {
		msg(x, 1, "%s: changed while the project was scanned", c->name);
		free(b);
		return NULL;
	}
	return b;
}

/* A table component read again and opened: its buffer (free it), or NULL. */
static uint8_t *open_table(struct ctx *x, const struct pg_component *c, struct dbf *d)
{
	size_t n = 0;
	uint8_t *b = reread(x, c, &n);
	struct pg_err e;
	char eb[400];
	if (b && dbf_open(d, b, n, &e) != 0) {
		msg(x, 0, "%s: %s", c->name, pg_err_str(&e, eb, sizeof eb));
		free(b);
		return NULL;
	}
	if (b && d->truncated)
		msg(x, 0, "%s: %u records declared, %zu present", c->name, d->nrec, d->nrec_avail);
	return b;
}

/* "ombstx/offline/<folder>/" + file, case-insensitively: the length of the
 * folder prefix (with its '/'), or 0. */
static size_t offline_dir(const char *name, const char *file)
{
	if (strncasecmp(name, "ombstx/offline/", 15) != 0)
		return 0;
	const char *f = strchr(name + 15, '/');
	if (!f || f == name + 15 || strchr(f + 1, '/') || strcasecmp(f + 1, file) != 0)
		return 0;
	return (size_t)(f - name) + 1;
}

static const struct pg_component *in_dir(const struct pg_scan *s, const char *dir,
					 const char *file)
{
	size_t dl = strlen(dir);
	for (size_t k = 0; k < s->comps.n; k++) {
		const struct pg_component *c = &s->comps.v[k];
		if (strcmp(c->kind, "file") == 0 && strncmp(c->name, dir, dl) == 0 &&
		    strcasecmp(c->name + dl, file) == 0)
			return c;
	}
	return NULL;
}

static int64_t hex_id(const char *seg, size_t n)
{
	if (n == 0 || n > 8)
		return -1;
	int64_t v = 0;
	for (size_t i = 0; i < n; i++) {
		char c = seg[i];
		int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 :
			c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
		if (d < 0)
			return -1;
		v = v * 16 + d;
	}
	return v;
}

/* 1. the folders that hold a SUBBLK table */
static void find_folders(struct ctx *x)
{
	struct pg_scan *s = x->s;
	for (size_t i = 0; i < s->comps.n; i++) {
		const struct pg_component *c = &s->comps.v[i];
		size_t dl;
		if (strcmp(c->kind, "file") != 0 || !(dl = offline_dir(c->name, "SUBBLK.DBF")))
			continue;
		x->fv = xrealloc(x->fv, (x->nf + 1) * sizeof *x->fv);
		struct fold *f = &x->fv[x->nf++];
		memset(f, 0, sizeof *f);
		f->dir = xasprintf("%.*s", (int)dl, c->name);
		f->id = hex_id(f->dir + 15, dl - 16);
		f->sub = c;
		f->memo = in_dir(s, f->dir, "SUBBLK.DBT");
		f->bau = in_dir(s, f->dir, "BAUSTEIN.DBF");
	}
}

static struct fold *fold_by_id(struct ctx *x, int64_t id)
{
	for (size_t i = 0; i < x->nf; i++)
		if (x->fv[i].id == id)
			return &x->fv[i];
	return NULL;
}

/* 2. ombstx/offline/BSTCNTOF.DBF: which folders the project has */
static void read_bstcntof(struct ctx *x)
{
	static const char name[] = "ombstx/offline/BSTCNTOF.DBF";
	const struct pg_component *c = find_ci(x->s, name);
	if (!c) {
		if (x->nf)
			msg(x, 0, "%s is missing: the block folders cannot be told from leftovers",
			    name);
		return;
	}
	struct dbf d;
	uint8_t *b = open_table(x, c, &d);
	if (!b)
		return;
	struct s7v5_folder *v;
	size_t n;
	struct pg_err e;
	char eb[400];
	if (s7v5_folders(&d, &v, &n, &e) != 0) {
		msg(x, 0, "%s: %s", c->name, pg_err_str(&e, eb, sizeof eb));
		free(b);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		struct fold *f = fold_by_id(x, v[i].id);
		if (f)
			f->listed = 1;
		else if (v[i].nblocks != 0)
			msg(x, 0, "%s: row %zu lists block folder ombstx/offline/%08X/ with %lld "
				  "blocks, and that folder has no SUBBLK.DBF", c->name, v[i].row,
			    (unsigned)v[i].id, (long long)v[i].nblocks);
	}
	for (size_t i = 0; i < x->nf; i++)
		if (!x->fv[i].listed)
			msg(x, 0, "%sSUBBLK.DBF: this block folder is not listed in %s (a leftover "
				  "or planted folder); its blocks are named by the folder",
			    x->fv[i].dir, c->name);
	free(v);
	free(b);
}

/* 3. hrs/: the S7 program each folder belongs to, where it can be read */
static void read_programs(struct ctx *x)
{
	const struct pg_component *rc = find_ci(x->s, "hrs/S7RESOFF.DBF"),
				  *lc = find_ci(x->s, "hrs/linkhrs.lnk");
	if (!rc || !lc)
		return;
	struct dbf d;
	size_t ln = 0;
	uint8_t *b = open_table(x, rc, &d), *l = b ? reread(x, lc, &ln) : NULL;
	struct s7v5_program *v = NULL;
	size_t n = 0;
	struct pg_err e;
	char eb[400];
	if (!l)
		goto out;
	if (s7v5_programs(&d, l, ln, &v, &n, &e) != 0) {
		msg(x, 0, "%s: %s", rc->name, pg_err_str(&e, eb, sizeof eb));
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		struct fold *f = v[i].folder >= 0 ? fold_by_id(x, v[i].folder) : NULL;
		if (!f)
			continue;
		if (f->program) {
			msg(x, 0, "%s: S7 programs \"%s\" and \"%s\" both claim block folder %s",
			    lc->name, f->program, v[i].name, f->dir);
			continue;
		}
		f->program = v[i].name[0] ? xstrdup(v[i].name)
					  : xasprintf("S7 program %lld", (long long)v[i].id);
		f->program_id = v[i].id;
	}
out:
	free(v);
	free(l);
	free(b);
}

/* 4. component name prefixes, unique */
static void label_folders(struct ctx *x)
{
	for (size_t i = 0; i < x->nf; i++) {
		struct fold *f = &x->fv[i];
		f->label = f->program ? xstrdup(f->program)
				      : xasprintf("%.*s", (int)(strlen(f->dir) - 1), f->dir);
	}
	for (size_t i = 0; i < x->nf; i++) {
		int dup = 0;
		for (size_t j = 0; j < x->nf; j++)
			dup |= j != i && strcmp(x->fv[i].label, x->fv[j].label) == 0;
		if (dup && x->fv[i].program) {
			struct fold *f = &x->fv[i];
			char *l = xasprintf("%s [%.*s]", f->label, (int)(strlen(f->dir) - 16),
					    f->dir + 15);
			free(f->label);
			f->label = l;
		}
	}
}

/* 5. the compiled blocks of one folder */
static void read_blocks(struct ctx *x, struct fold *f)
{
	if (!f->memo) {
		msg(x, 0, "%s: its memo file SUBBLK.DBT is missing", f->sub->name);
		return;
	}
	struct dbf d;
	struct dbt m;
	struct s7v5_cols cols;
	struct pg_err e;
	char eb[400];
	size_t mn = 0;
	uint8_t *tb = open_table(x, f->sub, &d), *mb = tb ? reread(x, f->memo, &mn) : NULL;
	if (!mb)
		goto out;
	if (s7v5_cols(&d, &cols, &e) != 0) {
		msg(x, 0, "%s: %s", f->sub->name, pg_err_str(&e, eb, sizeof eb));
		goto out;
	}
	if (dbt_open(&m, mb, mn, &e) != 0) {
		msg(x, 0, "%s: %s", f->memo->name, pg_err_str(&e, eb, sizeof eb));
		goto out;
	}
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
		struct mc7_block b;
		int failed = 0;
		if (s7v5_image(&d, &m, &cols, rec, PG_MC7_MAX_BLOCK, &img, &n, &e) != 0) {
			msg(x, 0, "%s: %s (row %zu): %s", f->sub->name, id, i + 1,
			    pg_err_str(&e, eb, sizeof eb));
			failed = 1;
		} else if (mc7_parse(img, n, &b, &e) != 0) {
			msg(x, 0, "%s: %s (row %zu) does not rebuild as a block: %s", f->sub->name,
			    id, i + 1, pg_err_str(&e, eb, sizeof eb));
			free(img);
			img = NULL;
			failed = 1;
		}
		int64_t objid;
		if (dbf_num(&d, rec, cols.objid, &objid, &e) != 0)
			objid = -1;
		/* a row that failed is kept (dropped) so that BAUSTEIN.DBF's
		 * check does not name its block a second time */
		x->bv = xrealloc(x->bv, (x->nb + 1) * sizeof *x->bv);
		struct rblock *r = &x->bv[x->nb++];
		memset(r, 0, sizeof *r);
		r->f = f;
		r->row = i + 1;
		r->objid = objid;
		r->drop = failed;
		r->img = img;
		r->n = failed ? 0 : n;
		if (!failed)
			r->b = b;
		r->b.type = type;
		r->b.number = number;
		memcpy(r->id, id, sizeof r->id);
	}
out:
	free(tb);
	free(mb);
}

static int obj_by_id(const void *a, const void *b)
{
	const struct s7v5_object *x = a, *y = b;
	return x->id < y->id ? -1 : x->id > y->id;
}

static int by_block(const void *a, const void *b)
{
	const struct rblock *x = a, *y = b;
	if (x->b.type != y->b.type)
		return x->b.type < y->b.type ? -1 : 1;
	if (x->b.number != y->b.number)
		return x->b.number < y->b.number ? -1 : 1;
	return x->row < y->row ? -1 : x->row > y->row;
}

/* 6. BAUSTEIN.DBF: the blocks the project lists, against those compiled */
static void check_listed(struct ctx *x, struct fold *f, size_t from, size_t to)
{
	if (!f->bau)
		return;
	struct dbf d;
	uint8_t *b = open_table(x, f->bau, &d);
	if (!b)
		return;
	struct s7v5_object *v;
	size_t n;
	struct pg_err e;
	char eb[400];
	if (s7v5_objects(&d, &v, &n, &e) != 0) {
		msg(x, 0, "%s: %s", f->bau->name, pg_err_str(&e, eb, sizeof eb));
		free(b);
		return;
	}
	/* by id, then found by bisection: a hostile table of many rows costs
	 * n log n, not n * m */
	qsort(v, n, sizeof *v, obj_by_id);
	char *seen = xcalloc(n ? n : 1, 1);
	for (size_t i = from; i < to; i++) {
		struct rblock *r = &x->bv[i];
		struct s7v5_object key = { .id = r->objid };
		const struct s7v5_object *o = n ? bsearch(&key, v, n, sizeof *v, obj_by_id) : NULL;
		if (!o) {
			r->orphan = 1;
			msg(x, 0, "%s: %s (row %zu) belongs to object %lld, which %s does not list",
			    f->sub->name, r->id, r->row, (long long)r->objid, f->bau->name);
		} else if (o->type != r->b.type || o->number != r->b.number) {
			char oid[16];
			r->orphan = 1;
			msg(x, 0, "%s: %s (row %zu) belongs to object %lld, which %s row %zu says is %s",
			    f->sub->name, r->id, r->row, (long long)r->objid, f->bau->name, o->row,
			    mc7_block_id(o->type, o->number, oid, sizeof oid));
		} else {
			/* every object of that id (a hostile table may repeat one) */
			size_t k = (size_t)(o - v);
			while (k > 0 && v[k - 1].id == r->objid)
				k--;
			for (; k < n && v[k].id == r->objid; k++)
				seen[k] = 1;
		}
	}
	for (size_t k = 0; k < n; k++) {
		/* SFCs and SFBs live in the CPU: a project may list one (its
		 * interface) without code to download */
		if (seen[k] || v[k].type == 0x0D || v[k].type == 0x0F)
			continue;
		char oid[16];
		msg(x, 0, "%s/%s: listed in %s (row %zu), but %s holds no compiled block for it",
		    f->label, mc7_block_id(v[k].type, v[k].number, oid, sizeof oid),
		    f->bau->name, v[k].row, f->sub->name);
	}
	free(seen);
	free(v);
	free(b);
}

/* 7. one block per name: listed copies before unlisted ones; copies with the
 * same bytes are one block; different copies are a problem, and none of
 * them is registered (which one SIMATIC Manager would send is unknown) */
static void resolve_copies(struct ctx *x, size_t from, size_t to)
{
	/* the slice is sorted by block, then row: each block's copies are one run */
	for (size_t i = from, j; i < to; i = j) {
		const struct rblock *r = &x->bv[i];
		size_t listed = 0;
		for (j = i; j < to && x->bv[j].b.type == r->b.type &&
			    x->bv[j].b.number == r->b.number; j++)
			listed += !x->bv[j].drop && !x->bv[j].orphan;
		struct rblock *keep = NULL;
		int differ = 0;
		for (size_t k = i; k < j; k++) {
			struct rblock *c = &x->bv[k];
			if (c->drop)
				continue;
			if (listed && c->orphan) {
				c->drop = 1;
				continue;
			}
			if (!keep) {
				keep = c;
				continue;
			}
			int d = c->n != keep->n || memcmp(c->img, keep->img, c->n) != 0;
			if (d && !differ)
				msg(x, 0, "%s/%s: different compiled copies in %s rows %zu and %zu: "
					  "none is registered", c->f->label, c->id, c->f->sub->name,
				    keep->row, c->row);
			differ |= d;
			c->drop = 1;
		}
		if (differ)
			keep->drop = 1;
	}
}

static void resolve(struct ctx *x)
{
	find_folders(x);
	read_bstcntof(x);
	read_programs(x);
	label_folders(x);
	for (size_t i = 0; i < x->nf; i++) {
		size_t from = x->nb;
		read_blocks(x, &x->fv[i]);
		qsort(x->bv + from, x->nb - from, sizeof *x->bv, by_block);
		check_listed(x, &x->fv[i], from, x->nb);
		resolve_copies(x, from, x->nb);
	}
}

static void ctx_free(struct ctx *x)
{
	for (size_t i = 0; i < x->nf; i++) {
		free(x->fv[i].dir);
		free(x->fv[i].program);
		free(x->fv[i].label);
	}
	for (size_t i = 0; i < x->nb; i++)
		free(x->bv[i].img);
	free(x->fv);
	free(x->bv);
}

void pg_scan_step7(struct pg_scan *s)
{
	struct ctx x = { .s = s };
	struct pg_complist add = { 0 };
	resolve(&x);
	for (size_t i = 0; i < x.nb; i++) {
		struct rblock *r = &x.bv[i];
		if (r->drop)
			continue;
		char *name = xasprintf("%s/%s", r->f->label, r->id);
		if (pg_complist_find(&s->comps, name)) {
			msg(&x, 0, "%s: a file of the project has the name of this block; the "
				   "block is not registered", name);
			free(name);
			continue;
		}
		struct pg_component *c = pg_scan_add_mc7_as(name, &r->b, &add);
		free(name);
		json_object_set_new(c->ann, "source", json_string("step7-offline"));
		if (r->f->program) {
			json_object_set_new(c->ann, "program", json_string(r->f->program));
			json_object_set_new(c->ann, "program_id", json_integer(r->f->program_id));
		}
		json_object_set_new(c->ann, "table", json_string(r->f->sub->name));
		json_object_set_new(c->ann, "row", json_integer((json_int_t)r->row));
	}
	for (size_t i = 0; i < add.n; i++) {
		struct pg_component *dst = pg_complist_add(&s->comps, add.v[i].name, add.v[i].kind);
		free(dst->name);
		*dst = add.v[i];
	}
	free(add.v);
	pg_complist_sort(&s->comps);
	ctx_free(&x);
}

/* ---- inspect --extract ---- */

/* A program name as one safe path segment: [0-9A-Za-z ()[]._-] kept, any
 * other byte '_', never "", "." or "..". */
static char *fs_segment(const char *label)
{
	char *o = xstrdup(label);
	for (char *p = o; *p; p++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= 'a' && *p <= 'z') || strchr(" ()[]._-", *p)))
			*p = '_';
	if (o[0] == '.' || o[0] == '\0') {
		char *t = xasprintf("_%s", o);
		free(o);
		o = t;
	}
	return o;
}

int pg_step7_extract(struct pg_scan *s, const char *dir, unsigned *written)
{
	struct ctx x = { .s = s, .quiet = 1 };
	unsigned failed = 0;
	*written = 0;
	if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
		fprintf(stderr, "plcguard inspect: %s: %s\n", dir, strerror(errno));
		return -1;
	}
	resolve(&x);
	for (size_t i = 0; i < x.nb; i++) {
		struct rblock *r = &x.bv[i];
		if (r->drop)
			continue;
		char *seg = fs_segment(r->f->label);
		char *sub = xasprintf("%s/%s", dir, seg);
		char *name = xasprintf("%s.mc7", r->id), err[512] = "";
		if (mkdir(sub, 0755) != 0 && errno != EEXIST)
			snprintf(err, sizeof err, "%s: %s", sub, strerror(errno));
		else if (pg_write_atomic(sub, name, r->img, r->n, err, sizeof err) != 0 && !err[0])
			snprintf(err, sizeof err, "%s/%s: cannot write", sub, name);
		if (err[0]) {
			fprintf(stderr, "plcguard inspect: %s\n", err);
			failed++;
		} else {
			(*written)++;
		}
		free(name);
		free(sub);
		free(seg);
	}
	ctx_free(&x);
	return failed ? -1 : 0;
}
