/*
 * dbase.c - dBase tables and memo files (parsers/dbase.h).
 */
#include "dbase.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "cursor.h"

#define DBF_HDR 32u
#define DBF_FDESC 32u

int dbf_open(struct dbf *d, const uint8_t *buf, size_t len, struct pg_err *err)
{
	memset(d, 0, sizeof *d);
	d->buf = buf;
	d->len = len;
	struct cur c = cur_init(buf, len);
	if (len < DBF_HDR + 1)
		return pg_err_set(err, len, "dbf.header",
				  "%zu bytes: shorter than a dBase header (33)", len);
	d->version = cur_u8(&c);
	uint8_t v = d->version & 0x07;
	if (v != 3 && v != 4)
		return pg_err_set(err, 0, "dbf.version",
				  "version byte 0x%02x is not a dBase III/IV table", d->version);
	cur_skip(&c, 3);                  /* date of last update */
	d->nrec = cur_u32le(&c);
	d->hdr_len = cur_u16le(&c);
	d->rec_len = cur_u16le(&c);
	if (d->rec_len < 1)
		return pg_err_set(err, 10, "dbf.record_length", "record length 0");
	if (d->hdr_len < DBF_HDR + 1 || d->hdr_len > len)
		return pg_err_set(err, 8, "dbf.header_length",
				  "header length %u outside 33..%zu", d->hdr_len, len);
	/* field descriptors from 32 to the 0x0D terminator */
	struct cur h = cur_init_at(buf + DBF_HDR, (size_t)d->hdr_len - DBF_HDR, DBF_HDR);
	size_t used = 0;
	for (;;) {
		int t = cur_peek(&h, 0);
		if (t < 0)
			return pg_err_set(err, cur_off(&h), "dbf.fields",
					  "field descriptors run to the end of the header "
					  "without the 0x0D terminator");
		if (t == 0x0D)
			break;
		size_t at = cur_off(&h);
		const uint8_t *fd = cur_bytes(&h, DBF_FDESC);
		if (!fd)
			return pg_err_set(err, at, "dbf.fields",
					  "field descriptor cut short by the header length");
		if (d->nf >= DBF_MAX_FIELDS)
			return pg_err_set(err, at, "dbf.fields", "more than %u fields",
					  (unsigned)DBF_MAX_FIELDS);
		struct dbf_field *f = &d->f[d->nf];
		struct cur fc = cur_init_at(fd, DBF_FDESC, at);
		const uint8_t *nm = cur_bytes(&fc, 11);
		size_t k = 0;
		for (; k < 11 && nm[k]; k++)
			f->name[k] = isprint(nm[k]) ? (char)nm[k] : '?';
		f->name[k] = '\0';
		f->type = (char)cur_u8(&fc);
		cur_skip(&fc, 4);
		f->len = cur_u8(&fc);
		f->dec = cur_u8(&fc);
		if (f->len == 0)
			return pg_err_set(err, at + 16, "dbf.field_length",
					  "field %s has length 0", f->name);
		f->off = 1 + used;
		used += f->len;
		d->nf++;
	}
	if (1 + used > d->rec_len)
		return pg_err_set(err, 10, "dbf.record_length",
				  "fields take %zu bytes, more than the record length %u",
				  1 + used, d->rec_len);
	size_t body = len - d->hdr_len;
	size_t avail = body / d->rec_len;
	d->nrec_avail = avail < d->nrec ? avail : d->nrec;
	d->truncated = d->nrec_avail < d->nrec;
	return 0;
}

int dbf_field_index(const struct dbf *d, const char *name)
{
	for (size_t i = 0; i < d->nf; i++)
		if (strcasecmp(d->f[i].name, name) == 0)
			return (int)i;
	return -1;
}

int dbf_record(const struct dbf *d, size_t i, const uint8_t **rec)
{
	if (i >= d->nrec_avail)
		return -1;
	struct cur c = cur_init(d->buf, d->len);
	cur_skip(&c, (size_t)d->hdr_len + i * d->rec_len);
	const uint8_t *r = cur_bytes(&c, d->rec_len);
	if (!r)
		return -1;       /* cannot happen: nrec_avail was computed from len */
	*rec = r;
	return r[0] == '*' ? 0 : 1;
}

void dbf_raw(const struct dbf *d, const uint8_t *rec, int fi, const uint8_t **p, size_t *n)
{
	if (fi < 0 || (size_t)fi >= d->nf) {
		*p = rec;
		*n = 0;
		return;
	}
	struct cur c = cur_init(rec, d->rec_len);
	cur_skip(&c, d->f[fi].off);
	*p = cur_bytes(&c, d->f[fi].len);
	*n = *p ? d->f[fi].len : 0;
	if (!*p)
		*p = rec;
}

/* Offset of a record field in the file, for error messages. */
static size_t field_pos(const struct dbf *d, const uint8_t *rec, int fi)
{
	return (size_t)(rec - d->buf) + (fi >= 0 && (size_t)fi < d->nf ? d->f[fi].off : 0);
}

int dbf_num(const struct dbf *d, const uint8_t *rec, int fi, int64_t *out,
	    struct pg_err *err)
{
	const uint8_t *p;
	size_t n;
	dbf_raw(d, rec, fi, &p, &n);
	struct cur c = cur_init(p, n);
	while (cur_peek(&c, 0) == ' ')
		cur_skip(&c, 1);
	if (cur_left(&c) == 0 || cur_peek(&c, 0) == 0)
		return 1;
	int neg = 0;
	if (cur_peek(&c, 0) == '-') {
		neg = 1;
		cur_skip(&c, 1);
	}
	int64_t v = 0;
	size_t digits = 0;
	while (cur_left(&c) && cur_peek(&c, 0) >= '0' && cur_peek(&c, 0) <= '9') {
		if (v > (INT64_MAX - 9) / 10)
			return pg_err_set(err, field_pos(d, rec, fi), d->f[fi].name,
					  "number too large");
		v = v * 10 + (cur_u8(&c) - '0');
		digits++;
	}
	while (cur_left(&c) && (cur_peek(&c, 0) == ' ' || cur_peek(&c, 0) == 0))
		cur_skip(&c, 1);
	if (!digits || cur_left(&c))
		return pg_err_set(err, field_pos(d, rec, fi), d->f[fi].name,
				  "not a number: \"%.*s\"", (int)n, (const char *)p);
	*out = neg ? -v : v;
	return 0;
}

int dbf_memo_block(const struct dbf *d, const uint8_t *rec, int fi, uint32_t *block,
		   struct pg_err *err)
{
	int64_t v = 0;
	int r = dbf_num(d, rec, fi, &v, err);
	if (r < 0)
		return -1;
	if (r == 1) {
		*block = 0;
		return 0;
	}
	if (v < 0 || v > UINT32_MAX)
		return pg_err_set(err, field_pos(d, rec, fi), d->f[fi].name,
				  "memo block %lld out of range", (long long)v);
	*block = (uint32_t)v;
	return 0;
}

int dbt_open(struct dbt *m, const uint8_t *buf, size_t len, struct pg_err *err)
{
	memset(m, 0, sizeof *m);
	m->buf = buf;
	m->len = len;
	struct cur c = cur_init(buf, len);
	cur_skip(&c, 20);
	uint16_t bs = cur_u16le(&c);
	if (c.err)
		return pg_err_set(err, len, "dbt.header",
				  "%zu bytes: shorter than a memo header (22)", len);
	if (bs == 0)
		bs = 512;        /* dBase III files leave it 0: 512-byte blocks */
	if (bs < 8)
		return pg_err_set(err, 20, "dbt.block_size", "block size %u below 8", bs);
	m->block_size = bs;
	return 0;
}

int dbt_memo(const struct dbt *m, uint32_t block, const uint8_t **p, size_t *n,
	     struct pg_err *err)
{
	uint64_t at = (uint64_t)block * m->block_size;
	if (block == 0 || at >= m->len)
		return pg_err_set(err, at < m->len ? (size_t)at : m->len, "dbt.block",
				  "memo block %u is outside the memo file (%zu bytes, %u-byte blocks)",
				  block, m->len, m->block_size);
	struct cur c = cur_init_at(m->buf + at, m->len - (size_t)at, (size_t)at);
	static const uint8_t mark[4] = { 0xFF, 0xFF, 0x08, 0x00 };
	if (!cur_peek_eq(&c, mark, 4))
		return pg_err_set(err, (size_t)at, "dbt.marker",
				  "memo block %u does not start with FF FF 08 00", block);
	cur_skip(&c, 4);
	uint32_t total = cur_u32le(&c);
	if (c.err || total < 8)
		return pg_err_set(err, (size_t)at + 4, "dbt.length",
				  "memo block %u: length %u below its 8-byte header", block, total);
	if (total - 8 > DBT_MAX_MEMO)
		return pg_err_set(err, (size_t)at + 4, "dbt.length",
				  "memo block %u: %u bytes, more than %u", block, total,
				  (unsigned)DBT_MAX_MEMO);
	const uint8_t *d = cur_bytes(&c, total - 8);
	if (!d)
		return pg_err_set(err, (size_t)at + 4, "dbt.length",
				  "memo block %u: %u bytes run past the end of the file (%zu bytes)",
				  block, total, m->len);
	*p = d;
	*n = total - 8;
	return 0;
}
