/*
 * ziplayout.c - read a ZIP archive's layout and check every local header
 * against its central-directory record (PKWARE APPNOTE 6.3.x, sections 4.3
 * and 4.5).  See ziplayout.h for what is accepted and what is named.
 *
 *   [local header 1][data 1][descriptor 1?] ... [local header n][data n][desc n?]
 *   [central record 1] ... [central record n] [Zip64 EOCD + locator?] [EOCD][comment]
 *
 *   local header  (30 + name + extra)       central record (46 + name + extra + comment)
 *    0 "PK\3\4"                               0 "PK\1\2"
 *    4 version needed                         4 version made by   6 version needed
 *    6 flags        8 method                  8 flags            10 method
 *   10 time/date                             12 time/date
 *   14 crc32  18 csize  22 usize             16 crc32  20 csize  24 usize
 *   26 name length  28 extra length          28 name len  30 extra len  32 comment len
 *                                            34 disk  36 int attr  38 ext attr  42 offset
 *
 * Why our own check instead of libzip's ZIP_CHECKCONS: ZIP_CHECKCONS compares
 * the two headers field by field, extra fields and version numbers included,
 * so it refuses every archive TIA Portal writes (.NET puts a Zip64 extra in
 * each local header only, version 45 there and 20 in the directory).  Here
 * only the differences that can change extracted content are problems.
 *
 * Why the second-EOCD search: without ZIP_CHECKCONS libzip looks at every end
 * record in the last 64 KiB and keeps the "most consistent" one; an archive
 * with two plausible end records could make libzip hash one directory while
 * another reader extracts the other.  Any plausible second end record is a
 * named problem, so libzip and this file always read the same directory.
 */
#include "ziplayout.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cursor.h"

#define EOCD_LEN 22u
#define EOCD64_LOC_LEN 20u
#define EOCD64_LEN 56u
#define LOCAL_LEN 30u
#define U32MAX 0xffffffffu
#define EOCD_WINDOW (0xffffu + EOCD_LEN + EOCD64_LOC_LEN + 64u)
#define ZIP64_EXTRA 0x0001u
/* flag bits that change how an entry is read: encrypted, strong encryption,
 * UTF-8 names, masked local header.  Bits 1-2 (deflate options) and 3 (data
 * descriptor, checked separately) do not. */
#define FLAG_MEANINGFUL 0x2841u
#define FLAG_DESCRIPTOR 0x0008u

const char *ziplayout_shown(const uint8_t *name, size_t len, char *out, size_t n)
{
	if (!out || n < 8) {
		if (out && n)
			out[0] = '\0';
		return out ? out : "";
	}
	struct cur c = cur_init(name, len);
	size_t o = 0;
	while (cur_left(&c) && o + 4 < n) {
		uint8_t ch = cur_u8(&c);
		out[o++] = ch == '\\' ? '/' : (ch < 0x20 || ch == 0x7f) ? '?' : (char)ch;
	}
	if (cur_left(&c))
		out[o++] = '.', out[o++] = '.', out[o++] = '.';
	out[o] = '\0';
	return out;
}

/* A cursor at absolute offset off of buf (latched empty when off > len). */
static struct cur cur_at(const uint8_t *buf, size_t len, uint64_t off)
{
	struct cur c = cur_init(buf, len);
	if (off > len)
		cur_fail(&c);
	else
		cur_skip(&c, (size_t)off);
	return c;
}

/* The body of extra field `id` in an extra area, or a latched-empty cursor.
 * A malformed extra area (a length past its end) ends the search. */
static struct cur extra_find(struct cur x, uint16_t id)
{
	while (cur_left(&x) >= 4) {
		uint16_t tag = cur_u16le(&x), sz = cur_u16le(&x);
		struct cur body = cur_sub(&x, sz);
		if (x.err)
			break;
		if (tag == id)
			return body;
	}
	struct cur none = cur_init(NULL, 0);
	cur_fail(&none);
	return none;
}

/* ---- the end records ----------------------------------------------------- */

struct ends {
	size_t eocd;           /* offset of the EOCD record */
	uint64_t dir_end;      /* where the central directory must end */
	uint64_t cd_off, cd_size, n;
};

/*
 * The EOCD record whose comment runs exactly to the end of the buffer (the
 * last one, searching backwards, as .NET and 7-Zip do), and the Zip64 end
 * record when a locator sits right before it.
 */
static int ends_locate(const uint8_t *buf, size_t len, struct ends *e, struct pg_err *err)
{
	if (len < EOCD_LEN)
		return pg_err_set(err, 0, "zip", "too short for a ZIP archive (%zu bytes)", len);
	size_t last = len - EOCD_LEN;
	size_t lo = last > 0xffff ? last - 0xffff : 0;
	for (size_t pos = last + 1; pos-- > lo;) {
		struct cur c = cur_at(buf, len, pos);
		if (!cur_peek_eq(&c, "PK\x05\x06", 4))
			continue;
		cur_skip(&c, 4 + 2 + 2 + 2);
		uint16_t n16 = cur_u16le(&c);
		uint32_t size32 = cur_u32le(&c), off32 = cur_u32le(&c);
		uint16_t clen = cur_u16le(&c);
		if (c.err || pos + EOCD_LEN + clen != len)
			continue;
		e->eocd = pos;
		e->dir_end = pos;
		e->n = n16;
		e->cd_size = size32;
		e->cd_off = off32;
		if (pos >= EOCD64_LOC_LEN) {
			struct cur l = cur_at(buf, len, pos - EOCD64_LOC_LEN);
			if (cur_peek_eq(&l, "PK\x06\x07", 4)) {
				cur_skip(&l, 8);
				uint64_t off64 = cur_u64le(&l);
				struct cur r = cur_at(buf, len, off64);
				if (!cur_peek_eq(&r, "PK\x06\x06", 4))
					return pg_err_set(err, off64 > len ? PG_NO_OFFSET : (size_t)off64,
							  "zip64 eocd",
							  "no Zip64 end record where the locator at offset %zu points (%" PRIu64 ")",
							  pos - EOCD64_LOC_LEN, off64);
				cur_skip(&r, 4);
				uint64_t rsize = cur_u64le(&r);
				cur_skip(&r, 2 + 2 + 4 + 4 + 8);
				e->n = cur_u64le(&r);
				e->cd_size = cur_u64le(&r);
				e->cd_off = cur_u64le(&r);
				if (r.err)
					return pg_err_set(err, (size_t)off64, "zip64 eocd", "truncated Zip64 end record");
				e->dir_end = off64;
				if (rsize < EOCD64_LEN - 12 || rsize > len ||
				    off64 + 12 + rsize != pos - EOCD64_LOC_LEN)
					return pg_err_set(err, (size_t)off64, ZL_HIDDEN,
							  "the Zip64 end record (%" PRIu64 " bytes) does not end where its locator starts (offset %zu)",
							  rsize, pos - EOCD64_LOC_LEN);
			}
		}
		if (e->cd_off > len || e->cd_size > len - e->cd_off)
			return pg_err_set(err, pos, "eocd", "central directory (offset %" PRIu64
					  ", %" PRIu64 " bytes) outside the archive", e->cd_off, e->cd_size);
		return 0;
	}
	return pg_err_set(err, PG_NO_OFFSET, "eocd",
			  "no end-of-central-directory record whose comment ends at the end of the file");
}

/*
 * Another EOCD signature that a reader could take for the end record: its
 * fields are sane and its central directory starts with a central signature.
 */
static int second_eocd(const uint8_t *buf, size_t len, const struct ends *e, struct pg_err *err)
{
	size_t start = len > EOCD_WINDOW ? len - EOCD_WINDOW : 0;
	for (size_t pos = start; pos + EOCD_LEN <= len; pos++) {
		if (pos == e->eocd)
			continue;
		struct cur c = cur_at(buf, len, pos);
		if (!cur_peek_eq(&c, "PK\x05\x06", 4))
			continue;
		cur_skip(&c, 4);
		uint16_t disk = cur_u16le(&c), cd_disk = cur_u16le(&c);
		uint16_t nd = cur_u16le(&c), n = cur_u16le(&c);
		uint32_t size = cur_u32le(&c), off = cur_u32le(&c);
		uint16_t clen = cur_u16le(&c);
		if (c.err || disk || cd_disk || nd != n || clen > len - pos - EOCD_LEN ||
		    (uint64_t)off + size > pos)
			continue;
		struct cur d = cur_at(buf, len, off);
		if ((n == 0 && size == 0) || cur_peek_eq(&d, "PK\x01\x02", 4))
			return pg_err_set(err, pos, ZL_SECOND_EOCD,
					  "a second end-of-central-directory record (the archive's is at offset %zu): "
					  "readers may disagree which directory is the archive's", e->eocd);
	}
	return 0;
}

/* ---- central records ------------------------------------------------------ */

static int central_read(struct cur *c, struct zl_entry *e, uint64_t i, struct pg_err *err)
{
	size_t at = cur_off(c);
	if (!cur_peek_eq(c, "PK\x01\x02", 4))
		return pg_err_set(err, at, "central directory",
				  "entry %" PRIu64 ": no central-directory signature", i);
	cur_skip(c, 4 + 2 + 2); /* versions: made by, needed (TIA: 20, local 45) */
	e->flags = cur_u16le(c);
	e->method = cur_u16le(c);
	cur_skip(c, 4);
	e->crc = cur_u32le(c);
	uint32_t cs = cur_u32le(c), us = cur_u32le(c);
	uint16_t nlen = cur_u16le(c), elen = cur_u16le(c), clen = cur_u16le(c);
	cur_skip(c, 2 + 2 + 4);
	uint32_t off = cur_u32le(c);
	e->name = cur_bytes(c, nlen);
	e->name_len = nlen;
	struct cur x = cur_sub(c, elen);
	cur_skip(c, clen);
	if (c->err)
		return pg_err_set(err, c->err_off, "central directory",
				  "entry %" PRIu64 ": record runs past the central directory", i);
	e->cd_off = at;
	e->csize = cs;
	e->usize = us;
	e->lh_off = off;
	if (us == U32MAX || cs == U32MAX || off == U32MAX) {
		/* only the deferred fields are present, in this order */
		struct cur z = extra_find(x, ZIP64_EXTRA);
		if (us == U32MAX)
			e->usize = cur_u64le(&z);
		if (cs == U32MAX)
			e->csize = cur_u64le(&z);
		if (off == U32MAX)
			e->lh_off = cur_u64le(&z);
		if (z.err) {
			char nm[128];
			return pg_err_set(err, at, "central directory",
					  "entry %" PRIu64 " \"%s\": no Zip64 extra field for the sizes or offset it defers to one",
					  i, ziplayout_shown(e->name, e->name_len, nm, sizeof nm));
		}
	}
	return 0;
}

/* ---- local headers ----------------------------------------------------------- */

/* A local size field against the central value: the Zip64 extra is used when
 * the 32-bit field is all ones and checked whenever it is present; with a data
 * descriptor (bit 3) zero means "see the descriptor". */
static int size_ok(uint32_t v32, int has64, uint64_t v64, uint64_t want, int dd)
{
	if (v32 == U32MAX && has64)
		return v64 == want || (dd && v64 == 0);
	if (!(v32 == want || (dd && v32 == 0)))
		return 0;
	return !has64 || v64 == want || (dd && v64 == 0);
}

static uint64_t size_shown(uint32_t v32, int has64, uint64_t v64)
{
	return v32 == U32MAX && has64 ? v64 : v32;
}

/* The data descriptor after the data: with or without its signature, 32- or
 * 64-bit sizes (64 first when the local header has a Zip64 extra, as APPNOTE
 * 4.3.9.2 says: for an empty entry both forms agree); the first form that
 * agrees with the central record wins.  A form picked wrongly leaves bytes
 * unclaimed or overlapping the next entry: a named problem, never silence. */
static int descriptor_find(const uint8_t *buf, size_t len, const struct zl_entry *e,
			   uint64_t at, int zip64, uint64_t *end)
{
	for (int sig = 1; sig >= 0; sig--) {
		for (int k = 0; k <= 1; k++) {
			int wide = zip64 ? !k : k;
			struct cur d = cur_at(buf, len, at);
			if (sig) {
				if (!cur_peek_eq(&d, "PK\x07\x08", 4))
					continue;
				cur_skip(&d, 4);
			}
			uint32_t crc = cur_u32le(&d);
			uint64_t cs = wide ? cur_u64le(&d) : cur_u32le(&d);
			uint64_t us = wide ? cur_u64le(&d) : cur_u32le(&d);
			if (!d.err && crc == e->crc && cs == e->csize && us == e->usize) {
				*end = cur_off(&d);
				return 1;
			}
		}
	}
	return 0;
}

static int local_read(const uint8_t *buf, size_t len, uint64_t cd_off, struct zl_entry *e,
		      uint64_t i, struct pg_err *err)
{
	char nm[128], ln[128];
	ziplayout_shown(e->name, e->name_len, nm, sizeof nm);
	size_t at = e->lh_off > len ? PG_NO_OFFSET : (size_t)e->lh_off;
	if (e->lh_off >= cd_off)
		return pg_err_set(err, at, ZL_OVERLAP,
				  "entry %" PRIu64 " \"%s\": local header offset %" PRIu64
				  " is not before the central directory (offset %" PRIu64 ")",
				  i, nm, e->lh_off, cd_off);
	struct cur c = cur_at(buf, len, e->lh_off);
	if (!cur_peek_eq(&c, "PK\x03\x04", 4))
		return pg_err_set(err, at, "local header",
				  "entry %" PRIu64 " \"%s\": no local header signature", i, nm);
	cur_skip(&c, 4 + 2); /* version needed: TIA writes 45 here, 20 centrally */
	uint16_t flags = cur_u16le(&c), method = cur_u16le(&c);
	cur_skip(&c, 4);
	uint32_t crc = cur_u32le(&c), cs = cur_u32le(&c), us = cur_u32le(&c);
	uint16_t nlen = cur_u16le(&c), elen = cur_u16le(&c);
	const uint8_t *name = cur_bytes(&c, nlen);
	struct cur x = cur_sub(&c, elen);
	if (c.err)
		return pg_err_set(err, at, "local header",
				  "entry %" PRIu64 " \"%s\": local header runs past the end of the archive", i, nm);
	e->data_off = cur_off(&c);

	if (nlen != e->name_len || (nlen && memcmp(name, e->name, nlen) != 0))
		return pg_err_set(err, at, ZL_NAME_MISMATCH,
				  "entry %" PRIu64 " \"%s\": the local header names it \"%s\": "
				  "tools would extract it under different names", i, nm,
				  ziplayout_shown(name, nlen, ln, sizeof ln));
	if (method != e->method)
		return pg_err_set(err, at, ZL_METHOD_MISMATCH,
				  "entry %" PRIu64 " \"%s\": compression method %u in the local header, %u in the central directory",
				  i, nm, method, e->method);
	if ((flags ^ e->flags) & FLAG_MEANINGFUL)
		return pg_err_set(err, at, ZL_FLAGS_MISMATCH,
				  "entry %" PRIu64 " \"%s\": flags 0x%04x in the local header, 0x%04x in the central directory "
				  "(encryption or name encoding differ)", i, nm, flags, e->flags);

	int dd = (flags & FLAG_DESCRIPTOR) != 0;
	struct cur z = extra_find(x, ZIP64_EXTRA);
	int has_u = cur_left(&z) >= 8;
	uint64_t u64 = has_u ? cur_u64le(&z) : 0;
	int has_c = cur_left(&z) >= 8;
	uint64_t c64 = has_c ? cur_u64le(&z) : 0;
	if (!(crc == e->crc || (dd && crc == 0)))
		return pg_err_set(err, at, ZL_CRC_MISMATCH,
				  "entry %" PRIu64 " \"%s\": CRC-32 %08" PRIx32 " in the local header, %08" PRIx32
				  " in the central directory", i, nm, crc, e->crc);
	if (!size_ok(cs, has_c, c64, e->csize, dd) || !size_ok(us, has_u, u64, e->usize, dd))
		return pg_err_set(err, at, ZL_SIZE_MISMATCH,
				  "entry %" PRIu64 " \"%s\": the local header declares %" PRIu64 " compressed / %"
				  PRIu64 " uncompressed bytes, the central directory %" PRIu64 " / %" PRIu64,
				  i, nm, size_shown(cs, has_c, c64), size_shown(us, has_u, u64),
				  e->csize, e->usize);

	if (e->data_off > cd_off || e->csize > cd_off - e->data_off)
		return pg_err_set(err, at, ZL_OVERLAP,
				  "entry %" PRIu64 " \"%s\": its %" PRIu64 " bytes of data from offset %" PRIu64
				  " run into the central directory (offset %" PRIu64 ")",
				  i, nm, e->csize, e->data_off, cd_off);
	e->end = e->data_off + e->csize;
	if (dd) {
		uint64_t end = 0;
		if (!descriptor_find(buf, len, e, e->end, has_u || has_c, &end))
			return pg_err_set(err, (size_t)e->end, ZL_DESCRIPTOR,
					  "entry %" PRIu64 " \"%s\": flag bit 3 is set but no data descriptor after the data "
					  "agrees with the central directory (CRC-32 %08" PRIx32 ", %" PRIu64 " / %" PRIu64 " bytes)",
					  i, nm, e->crc, e->csize, e->usize);
		if (end > cd_off)
			return pg_err_set(err, (size_t)e->end, ZL_OVERLAP,
					  "entry %" PRIu64 " \"%s\": its data descriptor runs into the central directory",
					  i, nm);
		e->end = end;
	}
	return 0;
}

/* ---- the whole layout ---------------------------------------------------------- */

static int by_offset(const void *a, const void *b)
{
	const struct zl_entry *x = *(const struct zl_entry *const *)a;
	const struct zl_entry *y = *(const struct zl_entry *const *)b;
	return x->lh_off < y->lh_off ? -1 : x->lh_off > y->lh_off;
}

/* Every byte before the central directory belongs to exactly one entry. */
static int coverage_check(struct zip_layout *l, struct pg_err *err)
{
	if (l->n == 0) {
		if (l->cd_off)
			return pg_err_set(err, 0, ZL_PREFIX, "%" PRIu64
					  " bytes before the central directory of an archive without entries",
					  l->cd_off);
		return 0;
	}
	struct zl_entry **s = malloc((size_t)l->n * sizeof *s);
	if (!s)
		return pg_err_set(err, PG_NO_OFFSET, "zip", "out of memory for %" PRIu64 " entries", l->n);
	for (uint64_t i = 0; i < l->n; i++)
		s[i] = &l->v[i];
	qsort(s, (size_t)l->n, sizeof *s, by_offset);
	char a[128], b[128];
	int rc = 0;
	if (s[0]->lh_off > 0)
		rc = pg_err_set(err, 0, ZL_PREFIX,
				"%" PRIu64 " bytes before the first local header (entry %" PRIu64 " \"%s\")",
				s[0]->lh_off, (uint64_t)(s[0] - l->v),
				ziplayout_shown(s[0]->name, s[0]->name_len, a, sizeof a));
	for (uint64_t k = 1; !rc && k < l->n; k++) {
		const struct zl_entry *p = s[k - 1], *e = s[k];
		ziplayout_shown(p->name, p->name_len, a, sizeof a);
		ziplayout_shown(e->name, e->name_len, b, sizeof b);
		if (e->lh_off < p->end)
			rc = pg_err_set(err, (size_t)e->lh_off, ZL_OVERLAP,
					"entry %" PRIu64 " \"%s\" starts at offset %" PRIu64 ", inside entry %" PRIu64
					" \"%s\" (offsets %" PRIu64 "..%" PRIu64 "): the entries share bytes",
					(uint64_t)(e - l->v), b, e->lh_off, (uint64_t)(p - l->v), a,
					p->lh_off, p->end);
		else if (e->lh_off > p->end)
			rc = pg_err_set(err, (size_t)p->end, ZL_HIDDEN,
					"%" PRIu64 " bytes between entry %" PRIu64 " \"%s\" and entry %" PRIu64
					" \"%s\" belong to no entry", e->lh_off - p->end,
					(uint64_t)(p - l->v), a, (uint64_t)(e - l->v), b);
	}
	const struct zl_entry *last = s[l->n - 1];
	if (!rc && last->end < l->cd_off)
		rc = pg_err_set(err, (size_t)last->end, ZL_HIDDEN,
				"%" PRIu64 " bytes between the last entry %" PRIu64 " \"%s\" and the central directory "
				"belong to no entry", l->cd_off - last->end, (uint64_t)(last - l->v),
				ziplayout_shown(last->name, last->name_len, a, sizeof a));
	free(s);
	return rc;
}

int ziplayout_read(const uint8_t *buf, size_t len, uint64_t max_entries,
		   struct zip_layout *out, struct pg_err *err)
{
	memset(out, 0, sizeof *out);
	if (!buf)
		len = 0;
	struct ends e = { 0 };
	if (ends_locate(buf, len, &e, err) < 0)
		return -1;
	if (e.n > max_entries)
		return pg_err_set(err, PG_NO_OFFSET, "zip", "%" PRIu64 " entries exceed the limit of %" PRIu64,
				  e.n, max_entries);
	/* a record is at least 46 bytes: a count the directory cannot hold is a lie */
	if (e.n > e.cd_size / 46)
		return pg_err_set(err, e.eocd, "eocd", "%" PRIu64 " entries cannot fit in a central directory of %"
				  PRIu64 " bytes", e.n, e.cd_size);
	if (second_eocd(buf, len, &e, err) < 0)
		return -1;
	out->n = e.n;
	out->cd_off = e.cd_off;
	out->cd_size = e.cd_size;
	out->eocd_off = e.eocd;
	out->v = calloc(e.n ? (size_t)e.n : 1, sizeof *out->v);
	if (!out->v)
		return pg_err_set(err, PG_NO_OFFSET, "zip", "out of memory for %" PRIu64 " entries", e.n);

	struct cur all = cur_at(buf, len, e.cd_off);
	struct cur c = cur_sub(&all, (size_t)e.cd_size);
	for (uint64_t i = 0; i < e.n; i++)
		if (central_read(&c, &out->v[i], i, err) < 0)
			goto fail;
	if (cur_left(&c)) {
		pg_err_set(err, cur_off(&c), ZL_HIDDEN, "%zu bytes in the central directory after its %" PRIu64
			   " records belong to no entry", cur_left(&c), e.n);
		goto fail;
	}
	if (e.cd_off + e.cd_size != e.dir_end) {
		if (e.cd_off + e.cd_size < e.dir_end)
			pg_err_set(err, (size_t)(e.cd_off + e.cd_size), ZL_HIDDEN,
				   "%" PRIu64 " bytes between the central directory and the end record",
				   e.dir_end - (e.cd_off + e.cd_size));
		else
			pg_err_set(err, (size_t)e.dir_end, ZL_OVERLAP,
				   "the central directory runs into the end record");
		goto fail;
	}
	for (uint64_t i = 0; i < e.n; i++)
		if (local_read(buf, len, e.cd_off, &out->v[i], i, err) < 0)
			goto fail;
	if (coverage_check(out, err) < 0)
		goto fail;
	return 0;
fail:
	ziplayout_free(out);
	return -1;
}

void ziplayout_free(struct zip_layout *l)
{
	if (!l)
		return;
	free(l->v);
	l->v = NULL;
	l->n = 0;
}
