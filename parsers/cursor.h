/*
 * cursor.h - the one bounds-checked reader for untrusted bytes.
 *
 * Every parser in parsers/ reads wire data, project files and archive entries
 * through this cursor and nothing else: no p[i] on untrusted buffers, no struct
 * overlays.  Modelled on BoringSSL's CBS and mpack's latching reader.
 *
 *   struct cur c = cur_init(buf, len);
 *   uint8_t  type = cur_u8(&c);
 *   uint16_t n    = cur_u16be(&c);
 *   struct cur body = cur_sub(&c, n);     // nested length, consumed whole
 *   if (c.err) -> report c.err_off: the first short read, never a crash
 *
 * Short reads latch: the first failure records the offset, empties the cursor,
 * and every later read returns 0.  A parser checks err once, before it commits
 * a result.  Offsets are absolute from the outermost buffer (base), so an error
 * inside a nested sub-cursor still names the byte offset in the file.
 */
#ifndef PG_CURSOR_H
#define PG_CURSOR_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct cur {
	const uint8_t *p;  /* current read position */
	size_t len;        /* bytes left */
	size_t off;        /* absolute offset of p in the outermost buffer */
	int err;           /* latched: 1 after the first short read */
	size_t err_off;    /* absolute offset where the short read happened */
};

static inline struct cur cur_init(const uint8_t *p, size_t len)
{
	/* A NULL buffer becomes an empty one, so that no arithmetic is ever
	 * done on a null pointer (undefined behaviour even when adding 0). */
	static const uint8_t empty[1];
	struct cur c = { p, len, 0, 0, 0 };
	if (!p) {
		c.p = empty;
		c.len = 0;
	}
	return c;
}

/* Same, with an absolute base offset (a buffer that starts mid-stream). */
static inline struct cur cur_init_at(const uint8_t *p, size_t len, size_t base)
{
	struct cur c = cur_init(p, len);
	c.off = base;
	return c;
}

static inline void cur_fail(struct cur *c)
{
	if (!c->err) {
		c->err = 1;
		c->err_off = c->off;
	}
	c->p += c->len;
	c->off += c->len;
	c->len = 0;
}

static inline int cur_need(struct cur *c, size_t n)
{
	if (c->err || c->len < n) {
		cur_fail(c);
		return 0;
	}
	return 1;
}

static inline size_t cur_left(const struct cur *c) { return c->err ? 0 : c->len; }
static inline size_t cur_off(const struct cur *c) { return c->off; }

static inline void cur_skip(struct cur *c, size_t n)
{
	if (!cur_need(c, n))
		return;
	c->p += n;
	c->off += n;
	c->len -= n;
}

static inline uint8_t cur_u8(struct cur *c)
{
	if (!cur_need(c, 1))
		return 0;
	uint8_t v = c->p[0];
	cur_skip(c, 1);
	return v;
}

static inline uint16_t cur_u16be(struct cur *c)
{
	if (!cur_need(c, 2))
		return 0;
	uint16_t v = (uint16_t)((uint16_t)c->p[0] << 8 | c->p[1]);
	cur_skip(c, 2);
	return v;
}

static inline uint16_t cur_u16le(struct cur *c)
{
	if (!cur_need(c, 2))
		return 0;
	uint16_t v = (uint16_t)((uint16_t)c->p[1] << 8 | c->p[0]);
	cur_skip(c, 2);
	return v;
}

static inline uint32_t cur_u32be(struct cur *c)
{
	if (!cur_need(c, 4))
		return 0;
	uint32_t v = (uint32_t)c->p[0] << 24 | (uint32_t)c->p[1] << 16 |
		     (uint32_t)c->p[2] << 8 | c->p[3];
	cur_skip(c, 4);
	return v;
}

static inline uint32_t cur_u32le(struct cur *c)
{
	if (!cur_need(c, 4))
		return 0;
	uint32_t v = (uint32_t)c->p[3] << 24 | (uint32_t)c->p[2] << 16 |
		     (uint32_t)c->p[1] << 8 | c->p[0];
	cur_skip(c, 4);
	return v;
}

static inline uint64_t cur_u64le(struct cur *c)
{
	uint64_t lo = cur_u32le(c);
	uint64_t hi = cur_u32le(c);
	return hi << 32 | lo;
}

static inline uint64_t cur_u64be(struct cur *c)
{
	uint64_t hi = cur_u32be(c);
	uint64_t lo = cur_u32be(c);
	return hi << 32 | lo;
}

/* Pointer to the next n bytes (valid while the buffer lives), or NULL. */
static inline const uint8_t *cur_bytes(struct cur *c, size_t n)
{
	if (!cur_need(c, n))
		return NULL;
	const uint8_t *p = c->p;
	cur_skip(c, n);
	return p;
}

/* Copy n bytes out; on a short read dst is zero-filled. */
static inline int cur_copy(struct cur *c, void *dst, size_t n)
{
	const uint8_t *p = cur_bytes(c, n);
	if (!p) {
		memset(dst, 0, n);
		return 0;
	}
	memcpy(dst, p, n);
	return 1;
}

/*
 * A nested cursor over the next n bytes, which the parent skips whole.  If the
 * parent has fewer than n bytes both latch an error.
 */
static inline struct cur cur_sub(struct cur *c, size_t n)
{
	struct cur s = cur_init(NULL, 0);
	s.off = c->off;
	const uint8_t *p = cur_bytes(c, n);
	if (!p) {
		s.err = 1;
		s.err_off = c->err_off;
		return s;
	}
	s.p = p;
	s.len = n;
	s.off = c->off - n;
	return s;
}

/* Peek without consuming: byte at relative index i, or -1 when out of range. */
static inline int cur_peek(const struct cur *c, size_t i)
{
	if (c->err || i >= c->len)
		return -1;
	return c->p[i];
}

/* Index of the first byte equal to ch among the bytes left (a bounded
 * memchr), without consuming; -1 when there is none. */
static inline long cur_find(const struct cur *c, uint8_t ch)
{
	if (c->err || !c->len)
		return -1;
	const uint8_t *q = memchr(c->p, ch, c->len);
	return q ? (long)(q - c->p) : -1;
}

/* Compare the next n bytes with lit without consuming; 1 when equal. */
static inline int cur_peek_eq(const struct cur *c, const void *lit, size_t n)
{
	return !c->err && c->len >= n && memcmp(c->p, lit, n) == 0;
}

#endif
