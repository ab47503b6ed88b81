/*
 * tiazip.h - write a ZIP archive byte for byte the way TIA Portal V16 does
 * (the .NET zip writer), for the samples generator and the unit tests.
 *
 * Written by hand, not with libzip, so that the layout is exact:
 *  - every local header: version needed 45, a Zip64 extended-information
 *    extra field (0x0001, 16 bytes: uncompressed size, then compressed size)
 *    and 0xFFFFFFFF in the 32-bit size fields;
 *  - the matching central record: version made by and needed 20, no extra
 *    field, the real 32-bit sizes;
 *  - names as given (TIA: '\' separators; folders are entries ending in '\'
 *    or '/', stored, empty); files deflated (raw deflate, zlib), empty files
 *    stored, like .NET;
 *  - optionally (tz_opts.descriptor) flag bit 3 with CRC and sizes zero in the
 *    local header and a signed data descriptor after the data, as streaming
 *    writers do.
 * Header-only (static functions) so that both users compile it in.
 */
#ifndef PG_TIAZIP_H
#define PG_TIAZIP_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

struct tz_entry {
	const char *name;
	const void *data;
	size_t len;
};

struct tz_opts {
	int descriptor;      /* bit 3 + data descriptor, local CRC/sizes zero */
	int no_zip64;        /* plain 32-bit local header (for contrast in tests) */
	int stored;          /* never deflate */
};

struct tz_buf {
	uint8_t *p;
	size_t n, cap;
};

static void tz_put(struct tz_buf *b, const void *d, size_t n)
{
	if (b->n + n > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		while (cap < b->n + n)
			cap *= 2;
		uint8_t *np = realloc(b->p, cap);
		if (!np) {
			fprintf(stderr, "tiazip: out of memory\n");
			exit(1);
		}
		b->p = np;
		b->cap = cap;
	}
	if (n)
		memcpy(b->p + b->n, d, n);
	b->n += n;
}

static void tz_u16(struct tz_buf *b, unsigned v)
{
	uint8_t x[2] = { (uint8_t)v, (uint8_t)(v >> 8) };
	tz_put(b, x, 2);
}

static void tz_u32(struct tz_buf *b, uint32_t v)
{
	uint8_t x[4] = { (uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24) };
	tz_put(b, x, 4);
}

static void tz_u64(struct tz_buf *b, uint64_t v)
{
	tz_u32(b, (uint32_t)v);
	tz_u32(b, (uint32_t)(v >> 32));
}

/* Raw deflate (no zlib header), level 6 like .NET's Optimal. */
static uint8_t *tz_deflate(const void *d, size_t n, size_t *out)
{
	z_stream z;
	memset(&z, 0, sizeof z);
	if (deflateInit2(&z, 6, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		exit(1);
	uLong cap = deflateBound(&z, (uLong)n);
	uint8_t *o = malloc(cap ? cap : 1);
	if (!o)
		exit(1);
	z.next_in = (Bytef *)(uintptr_t)d;
	z.avail_in = (uInt)n;
	z.next_out = o;
	z.avail_out = (uInt)cap;
	if (deflate(&z, Z_FINISH) != Z_STREAM_END)
		exit(1);
	*out = z.total_out;
	deflateEnd(&z);
	return o;
}

/* Returns a malloc'd archive of *outlen bytes. */
static uint8_t *tiazip_build(const struct tz_entry *e, size_t n, const struct tz_opts *o,
			     size_t *outlen)
{
	static const struct tz_opts none;
	if (!o)
		o = &none;
	struct tz_buf a = { NULL, 0, 0 }, cd = { NULL, 0, 0 };
	const unsigned dos_time = 0x6000, dos_date = 0x5a21; /* 2025-01-01 12:00 */
	for (size_t i = 0; i < n; i++) {
		size_t nl = strlen(e[i].name);
		int folder = nl && (e[i].name[nl - 1] == '\\' || e[i].name[nl - 1] == '/');
		int deflated = !o->stored && !folder && e[i].len > 0;
		uint32_t crc = (uint32_t)crc32(0L, e[i].data, (uInt)e[i].len);
		size_t clen = e[i].len;
		uint8_t *comp = NULL;
		if (deflated)
			comp = tz_deflate(e[i].data, e[i].len, &clen);
		const void *cdata = deflated ? (const void *)comp : e[i].data;
		uint32_t off = (uint32_t)a.n;
		unsigned flags = o->descriptor ? 0x0008 : 0;

		tz_put(&a, "PK\x03\x04", 4);
		tz_u16(&a, o->no_zip64 ? 20 : 45);
		tz_u16(&a, flags);
		tz_u16(&a, deflated ? 8 : 0);
		tz_u16(&a, dos_time);
		tz_u16(&a, dos_date);
		tz_u32(&a, o->descriptor ? 0 : crc);
		if (o->no_zip64) {
			tz_u32(&a, o->descriptor ? 0 : (uint32_t)clen);
			tz_u32(&a, o->descriptor ? 0 : (uint32_t)e[i].len);
		} else {
			tz_u32(&a, 0xffffffffu);
			tz_u32(&a, 0xffffffffu);
		}
		tz_u16(&a, (unsigned)nl);
		tz_u16(&a, o->no_zip64 ? 0 : 20);
		tz_put(&a, e[i].name, nl);
		if (!o->no_zip64) {
			tz_u16(&a, 0x0001);
			tz_u16(&a, 16);
			tz_u64(&a, o->descriptor ? 0 : e[i].len);
			tz_u64(&a, o->descriptor ? 0 : clen);
		}
		tz_put(&a, cdata, clen);
		if (o->descriptor) {
			tz_put(&a, "PK\x07\x08", 4);
			tz_u32(&a, crc);
			if (o->no_zip64) {
				tz_u32(&a, (uint32_t)clen);
				tz_u32(&a, (uint32_t)e[i].len);
			} else {
				tz_u64(&a, clen);
				tz_u64(&a, e[i].len);
			}
		}
		free(comp);

		tz_put(&cd, "PK\x01\x02", 4);
		tz_u16(&cd, 20);           /* made by: MS-DOS, 2.0 */
		tz_u16(&cd, 20);           /* needed: 2.0 (45 in the local header) */
		tz_u16(&cd, flags);
		tz_u16(&cd, deflated ? 8 : 0);
		tz_u16(&cd, dos_time);
		tz_u16(&cd, dos_date);
		tz_u32(&cd, crc);
		tz_u32(&cd, (uint32_t)clen);
		tz_u32(&cd, (uint32_t)e[i].len);
		tz_u16(&cd, (unsigned)nl);
		tz_u16(&cd, 0);            /* no extra field here */
		tz_u16(&cd, 0);            /* comment */
		tz_u16(&cd, 0);            /* disk */
		tz_u16(&cd, 0);            /* internal attributes */
		tz_u32(&cd, folder ? 0x10 : 0); /* DOS directory attribute */
		tz_u32(&cd, off);
		tz_put(&cd, e[i].name, nl);
	}
	uint32_t cd_off = (uint32_t)a.n;
	tz_put(&a, cd.p, cd.n);
	tz_put(&a, "PK\x05\x06", 4);
	tz_u16(&a, 0);
	tz_u16(&a, 0);
	tz_u16(&a, (unsigned)n);
	tz_u16(&a, (unsigned)n);
	tz_u32(&a, (uint32_t)cd.n);
	tz_u32(&a, cd_off);
	tz_u16(&a, 0);
	free(cd.p);
	*outlen = a.n;
	return a.p;
}

#endif
