/*
 * s7v5.c - STEP 7 V5 offline blocks rebuilt as download images
 * (parsers/s7v5.h).
 */
#include "s7v5.h"

#include <stdlib.h>
#include <string.h>

#include "cursor.h"

int s7v5_cols(const struct dbf *d, struct s7v5_cols *c, struct pg_err *err)
{
	static const char *const names[] = {
		"OBJECTID", "BLKLANG", "SUBBLKTYP", "BLKNUMBER", "ATTRIBUTE", "BLKTOTLEN",
		"MC5LEN", "SSBLEN", "ADDLEN", "LOCDATALEN", "TIMESTAMP1", "TIMESTAMP2",
		"PASSWORD", "USERNAME", "BLOCKFNAME", "BLOCKNAME", "VERSION", "CHECKSUM",
		"MC5CODE", "SSBPART", "ADDINFO",
	};
	int *slot[] = {
		&c->objid, &c->lang, &c->typ, &c->num, &c->attr, &c->tot, &c->mc5len,
		&c->ssblen, &c->addlen, &c->loclen, &c->ts1, &c->ts2, &c->pw, &c->user,
		&c->fname, &c->bname, &c->ver, &c->cksum, &c->mc5, &c->ssb, &c->add,
	};
	_Static_assert(sizeof names / sizeof names[0] == sizeof slot / sizeof slot[0],
		       "one slot per name");
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		*slot[i] = dbf_field_index(d, names[i]);
		if (*slot[i] < 0)
			return pg_err_set(err, 32, names[i],
					  "SUBBLK table has no %s field", names[i]);
	}
	return 0;
}

int s7v5_download_row(const struct dbf *d, const struct s7v5_cols *c, const uint8_t *rec,
		      uint8_t *type, uint16_t *number)
{
	int64_t t, n;
	struct pg_err e;
	if (dbf_num(d, rec, c->typ, &t, &e) != 0 || t < 0x08 || t > 0x0F || t == 0x09 ||
	    t == 0x0B)
		return 0;
	if (dbf_num(d, rec, c->num, &n, &e) != 0 || n < 0 || n > 65535)
		return 0;
	*type = (uint8_t)t;
	*number = (uint16_t)n;
	return 1;
}

/* An integer field in 0..max, or -1 with err. */
static int num_in(const struct dbf *d, const uint8_t *rec, int fi, int64_t max,
		  int64_t *v, struct pg_err *err)
{
	int r = dbf_num(d, rec, fi, v, err);
	if (r < 0)
		return -1;
	if (r == 1)
		*v = 0;               /* blank: zero, as SIMATIC Manager writes it */
	if (*v < 0 || *v > max)
		return pg_err_set(err, (size_t)(rec - d->buf) + d->f[fi].off, d->f[fi].name,
				  "%s = %lld out of range 0..%lld", d->f[fi].name,
				  (long long)*v, (long long)max);
	return 0;
}

/* The first `len` bytes of the memo a field names (len 0: none needed). */
static int memo_part(const struct dbf *d, const struct dbt *m, const uint8_t *rec, int fi,
		     size_t len, const uint8_t **p, struct pg_err *err)
{
	uint32_t blk;
	size_t n;
	*p = NULL;
	if (!len)
		return 0;
	if (dbf_memo_block(d, rec, fi, &blk, err) != 0)
		return -1;
	if (!blk)
		return pg_err_set(err, (size_t)(rec - d->buf) + d->f[fi].off, d->f[fi].name,
				  "%s names no memo, %zu bytes expected", d->f[fi].name, len);
	if (dbt_memo(m, blk, p, &n, err) != 0)
		return -1;
	if (n < len)
		return pg_err_set(err, (size_t)(rec - d->buf) + d->f[fi].off, d->f[fi].name,
				  "%s memo holds %zu bytes, its length field says %zu",
				  d->f[fi].name, n, len);
	return 0;
}

static void put16be(uint8_t *p, unsigned v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }

/* A C field's raw bytes into dst[0..n), NUL-padded. */
static void raw_into(const struct dbf *d, const uint8_t *rec, int fi, uint8_t *dst, size_t n)
{
	const uint8_t *p;
	size_t k;
	dbf_raw(d, rec, fi, &p, &k);
	memset(dst, 0, n);
	memcpy(dst, p, k < n ? k : n);
}

int s7v5_image(const struct dbf *d, const struct dbt *m, const struct s7v5_cols *c,
	       const uint8_t *rec, size_t max, uint8_t **out, size_t *n,
	       struct pg_err *err)
{
	int64_t lang, typ, num, attr, tot, mc5, ssb, add, loc, pw, ver, ck;
	if (num_in(d, rec, c->lang, 255, &lang, err) || num_in(d, rec, c->typ, 255, &typ, err) ||
	    num_in(d, rec, c->num, 65535, &num, err) || num_in(d, rec, c->attr, 255, &attr, err) ||
	    num_in(d, rec, c->tot, 0xFFFFFFFFLL, &tot, err) ||
	    num_in(d, rec, c->mc5len, 65535, &mc5, err) ||
	    num_in(d, rec, c->ssblen, 65535, &ssb, err) ||
	    num_in(d, rec, c->addlen, 65535, &add, err) ||
	    num_in(d, rec, c->loclen, 65535, &loc, err) || num_in(d, rec, c->pw, 255, &pw, err) ||
	    num_in(d, rec, c->ver, 255, &ver, err) || num_in(d, rec, c->cksum, 65535, &ck, err))
		return -1;
	size_t len = 72 + (size_t)mc5 + (size_t)ssb + (size_t)add;
	if (tot - 6 != (int64_t)len)
		return pg_err_set(err, (size_t)(rec - d->buf) + d->f[c->tot].off, "BLKTOTLEN",
				  "BLKTOTLEN %lld: minus 6 it should be 72 + MC5LEN %lld + SSBLEN "
				  "%lld + ADDLEN %lld = %zu", (long long)tot, (long long)mc5,
				  (long long)ssb, (long long)add, len);
	if (len > max)
		return pg_err_set(err, (size_t)(rec - d->buf) + d->f[c->tot].off, "BLKTOTLEN",
				  "block of %zu bytes, more than %zu", len, max);
	const uint8_t *pm, *ps, *pa;
	if (memo_part(d, m, rec, c->mc5, (size_t)mc5, &pm, err) ||
	    memo_part(d, m, rec, c->ssb, (size_t)ssb, &ps, err) ||
	    memo_part(d, m, rec, c->add, (size_t)add, &pa, err))
		return -1;
	uint8_t *b = calloc(1, len);
	if (!b)
		return pg_err_set(err, PG_NO_OFFSET, "memory", "out of memory (%zu bytes)", len);
	b[0] = 0x70;
	b[1] = 0x70;
	b[2] = 0x01;
	b[3] = (uint8_t)attr;
	b[4] = (uint8_t)lang;
	b[5] = (uint8_t)typ;
	put16be(b + 6, (unsigned)num);
	b[8] = (uint8_t)(len >> 24);
	b[9] = (uint8_t)(len >> 16);
	b[10] = (uint8_t)(len >> 8);
	b[11] = (uint8_t)len;
	b[15] = (uint8_t)pw;
	raw_into(d, rec, c->ts1, b + 16, 6);
	raw_into(d, rec, c->ts2, b + 22, 6);
	put16be(b + 28, (unsigned)ssb);
	put16be(b + 30, (unsigned)add);
	put16be(b + 32, (unsigned)loc);
	put16be(b + 34, (unsigned)mc5);
	size_t o = 36;
	if (mc5)
		memcpy(b + o, pm, (size_t)mc5);
	o += (size_t)mc5;
	if (ssb)
		memcpy(b + o, ps, (size_t)ssb);
	o += (size_t)ssb;
	if (add)
		memcpy(b + o, pa, (size_t)add);
	o += (size_t)add;
	raw_into(d, rec, c->user, b + o, 8);
	raw_into(d, rec, c->fname, b + o + 8, 8);
	raw_into(d, rec, c->bname, b + o + 16, 8);
	b[o + 24] = (uint8_t)ver;
	b[o + 26] = (uint8_t)ck;            /* LE16 */
	b[o + 27] = (uint8_t)(ck >> 8);
	*out = b;
	*n = len;
	return 0;
}

/* ---- project structure ---- */

static int need(const struct dbf *d, const char *table, const char *name, int *fi,
		struct pg_err *err)
{
	*fi = dbf_field_index(d, name);
	if (*fi < 0)
		return pg_err_set(err, 32, name, "%s table has no %s field", table, name);
	return 0;
}

/* A numeric field of a live row; blank is -1. */
static int row_num(const struct dbf *d, const uint8_t *rec, int fi, int64_t *v,
		   struct pg_err *err)
{
	int r = dbf_num(d, rec, fi, v, err);
	if (r < 0)
		return -1;
	if (r == 1)
		*v = -1;
	return 0;
}

static void *rows_alloc(const struct dbf *d, size_t each, struct pg_err *err)
{
	void *p = calloc(d->nrec_avail ? d->nrec_avail : 1, each);
	if (!p)
		pg_err_set(err, PG_NO_OFFSET, "memory", "out of memory (%zu rows)", d->nrec_avail);
	return p;
}

int s7v5_folders(const struct dbf *d, struct s7v5_folder **out, size_t *n,
		 struct pg_err *err)
{
	static const char *const anz[] = { "ANZOB", "ANZFB", "ANZFC", "ANZDB", "ANZSFB", "ANZSFC" };
	int fid, fa[6];
	*out = NULL;
	*n = 0;
	if (need(d, "BSTCNTOF", "ID", &fid, err))
		return -1;
	for (int k = 0; k < 6; k++)
		fa[k] = dbf_field_index(d, anz[k]);
	struct s7v5_folder *v = rows_alloc(d, sizeof *v, err);
	if (!v)
		return -1;
	for (size_t i = 0; i < d->nrec_avail; i++) {
		const uint8_t *rec;
		int64_t id;
		if (dbf_record(d, i, &rec) != 1)
			continue;
		if (row_num(d, rec, fid, &id, err))
			goto bad;
		if (id < 0 || id > 0xFFFFFFFFLL) {
			pg_err_set(err, (size_t)(rec - d->buf) + d->f[fid].off, "ID",
				   "BSTCNTOF row %zu: folder ID %lld is not a folder number", i + 1,
				   (long long)id);
			goto bad;
		}
		struct s7v5_folder *f = &v[(*n)++];
		f->id = (uint32_t)id;
		f->row = i + 1;
		f->nblocks = 0;
		for (int k = 0; k < 6 && f->nblocks >= 0; k++) {
			int64_t c;
			if (fa[k] < 0 || dbf_num(d, rec, fa[k], &c, err) != 0 || c < 0)
				f->nblocks = -1;
			else
				f->nblocks += c;
		}
	}
	*out = v;
	return 0;
bad:
	free(v);
	*n = 0;
	return -1;
}

/* Windows-1252 bytes of a C field as a UTF-8 component name part. */
static void name_utf8(const uint8_t *p, size_t k, char *o, size_t cap)
{
	while (k && (p[k - 1] == ' ' || p[k - 1] == 0))
		k--;
	size_t w = 0;
	for (size_t i = 0; i < k && w + 3 < cap; i++) {
		uint8_t c = p[i];
		if (c >= 0xA0) {
			o[w++] = (char)(0xC0 | c >> 6);
			o[w++] = (char)(0x80 | (c & 0x3F));
		} else if (c < 0x20 || (c >= 0x7F && c < 0xA0) || c == '/' || c == '\\' ||
			   c == '#' || c == '!') {
			o[w++] = '_';
		} else {
			o[w++] = (char)c;
		}
	}
	o[w] = '\0';
}

int s7v5_programs(const struct dbf *d, const uint8_t *lnk, size_t lnk_len,
		  struct s7v5_program **out, size_t *n, struct pg_err *err)
{
	int fid, fname, foff;
	*out = NULL;
	*n = 0;
	if (need(d, "S7RESOFF", "ID", &fid, err) || need(d, "S7RESOFF", "NAME", &fname, err) ||
	    need(d, "S7RESOFF", "RSRVD4_L", &foff, err))
		return -1;
	struct s7v5_program *v = rows_alloc(d, sizeof *v, err);
	if (!v)
		return -1;
	for (size_t i = 0; i < d->nrec_avail; i++) {
		const uint8_t *rec, *p;
		size_t k;
		int64_t id, off;
		if (dbf_record(d, i, &rec) != 1)
			continue;
		if (row_num(d, rec, fid, &id, err) || row_num(d, rec, foff, &off, err)) {
			free(v);
			*n = 0;
			return -1;
		}
		struct s7v5_program *g = &v[(*n)++];
		g->id = id;
		g->row = i + 1;
		g->folder = -1;
		dbf_raw(d, rec, fname, &p, &k);
		name_utf8(p, k, g->name, sizeof g->name);
		if (off < 0 || (uint64_t)off > lnk_len || lnk_len - (size_t)off < 512)
			continue;
		struct cur c = cur_init_at(lnk + off, 512, (size_t)off);
		for (size_t j = 0; j + 6 <= 512; j++) {
			if (cur_peek(&c, j) == 0x01 && cur_peek(&c, j + 1) == 0x60 &&
			    cur_peek(&c, j + 2) == 0x11 && cur_peek(&c, j + 3) == 0x00) {
				g->folder = cur_peek(&c, j + 4) | cur_peek(&c, j + 5) << 8;
				break;
			}
		}
	}
	*out = v;
	return 0;
}

int s7v5_objects(const struct dbf *d, struct s7v5_object **out, size_t *n,
		 struct pg_err *err)
{
	int fid, ftyp, fnum;
	*out = NULL;
	*n = 0;
	if (need(d, "BAUSTEIN", "ID", &fid, err) || need(d, "BAUSTEIN", "TYP", &ftyp, err) ||
	    need(d, "BAUSTEIN", "NUMMER", &fnum, err))
		return -1;
	struct s7v5_object *v = rows_alloc(d, sizeof *v, err);
	if (!v)
		return -1;
	for (size_t i = 0; i < d->nrec_avail; i++) {
		const uint8_t *rec;
		int64_t id, t, num;
		if (dbf_record(d, i, &rec) != 1)
			continue;
		if (row_num(d, rec, fid, &id, err) || row_num(d, rec, ftyp, &t, err) ||
		    row_num(d, rec, fnum, &num, err)) {
			free(v);
			*n = 0;
			return -1;
		}
		if (t < 0x08 || t > 0x0F || t == 0x09 || t == 0x0B || num < 0 || num > 65535)
			continue;   /* UDTs, variable tables, ...: never downloaded */
		struct s7v5_object *o = &v[(*n)++];
		o->id = id;
		o->type = (uint8_t)t;
		o->number = (uint16_t)num;
		o->row = i + 1;
	}
	*out = v;
	return 0;
}
