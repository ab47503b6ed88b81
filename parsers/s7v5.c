/*
 * s7v5.c - STEP 7 V5 offline blocks rebuilt as download images
 * (parsers/s7v5.h).
 */
#include "s7v5.h"

#include <stdlib.h>
#include <string.h>

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
