/* textrec.c - see textrec.h. */
#include "textrec.h"

#include "digest.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int pg_tr_line(struct cur *c, struct cur *line)
{
	if (!cur_left(c))
		return 0;
	long i = cur_find(c, '\n');
	if (i < 0)
		return -1;
	*line = cur_sub(c, (size_t)i);
	cur_skip(c, 1);
	return 1;
}

int pg_tr_field(struct cur *line, struct cur *f, int *more)
{
	if (!*more)
		return 0;
	long i = cur_find(line, '\t');
	*more = i >= 0;
	*f = cur_sub(line, *more ? (size_t)i : cur_left(line));
	if (*more)
		cur_skip(line, 1);
	return 1;
}

int pg_tr_is(const struct cur *f, const char *lit)
{
	size_t n = strlen(lit);
	return cur_left(f) == n && cur_peek_eq(f, lit, n);
}

char *pg_tr_text(struct cur f, size_t max)
{
	size_t n = cur_left(&f);
	if (n > max * 3)
		return NULL;
	char *o = malloc(n + 1);
	if (!o)
		return NULL;
	size_t k = 0;
	while (cur_left(&f)) {
		int ch = cur_u8(&f);
		if (ch == '%') {
			int a = pg_hexval(cur_peek(&f, 0)), b = pg_hexval(cur_peek(&f, 1));
			if (a < 0 || b < 0 || (a == 0 && b == 0)) {
				free(o);
				return NULL;
			}
			cur_skip(&f, 2);
			ch = a << 4 | b;
		} else if (ch < 0x20 || ch == 0x7f) {
			free(o);
			return NULL;
		}
		o[k++] = (char)ch;
	}
	o[k] = 0;
	if (k > max) {
		free(o);
		return NULL;
	}
	return o;
}

int pg_tr_int(struct cur f, long long lo, long long hi, long long *out)
{
	int neg = 0, digits = 0;
	unsigned long long v = 0;
	if (cur_peek(&f, 0) == '-') {
		neg = 1;
		cur_skip(&f, 1);
	}
	while (cur_left(&f)) {
		int ch = cur_u8(&f);
		if (ch < '0' || ch > '9' || ++digits > 19)
			return -1;
		v = v * 10 + (unsigned)(ch - '0');
	}
	if (!digits || v > (unsigned long long)INT64_MAX)
		return -1;
	long long s = neg ? -(long long)v : (long long)v;
	if (s < lo || s > hi)
		return -1;
	*out = s;
	return 0;
}

int pg_tr_hex(struct cur f, uint8_t *out, size_t n)
{
	memset(out, 0, n);
	if (pg_tr_is(&f, "-"))
		return 0;
	if (cur_left(&f) != 2 * n)
		return -1;
	for (size_t i = 0; i < n; i++) {
		int a = pg_hexval(cur_u8(&f)), b = pg_hexval(cur_u8(&f));
		if (a < 0 || b < 0)
			return -1;
		out[i] = (uint8_t)(a << 4 | b);
	}
	return 1;
}

void pg_sb_put(struct pg_sbuf *b, const void *s, size_t n)
{
	if (b->oom)
		return;
	if (b->n + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		while (cap < b->n + n + 1)
			cap *= 2;
		char *p = realloc(b->p, cap);
		if (!p) {
			b->oom = 1;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->n, s, n);
	b->n += n;
	b->p[b->n] = 0;
}

void pg_sb_str(struct pg_sbuf *b, const char *s)
{
	pg_sb_put(b, s, strlen(s));
}

void pg_sb_fmt(struct pg_sbuf *b, const char *fmt, ...)
{
	char tmp[256];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
	va_end(ap);
	if (n > 0)
		pg_sb_put(b, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

void pg_sb_text(struct pg_sbuf *b, const char *s)
{
	static const char hx[] = "0123456789ABCDEF";
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p < 0x20 || *p == 0x7f || *p == '%') {
			char e[3] = { '%', hx[*p >> 4], hx[*p & 15] };
			pg_sb_put(b, e, 3);
		} else {
			pg_sb_put(b, p, 1);
		}
	}
}

void pg_sb_hex(struct pg_sbuf *b, const uint8_t *p, size_t n)
{
	static const char hx[] = "0123456789abcdef";
	if (!p) {
		pg_sb_put(b, "-", 1);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		char e[2] = { hx[p[i] >> 4], hx[p[i] & 15] };
		pg_sb_put(b, e, 2);
	}
}

void pg_sb_free(struct pg_sbuf *b)
{
	free(b->p);
	memset(b, 0, sizeof *b);
}
