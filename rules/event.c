/*
 * event.c - building and printing the one event type (rules/event.h).
 * JSON schema: docs/EVENTS.md.  Strings that came off the wire are made safe
 * here, once: invalid UTF-8 and control bytes become \xNN text, so a sink can
 * never be handed bytes that break its framing (JSON lines, syslog, CEF).
 */
#include "event.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "digest.h"

static const struct {
	const char *name;
	unsigned flags;
} kinds[PG_K_COUNT] = {
	[PG_K_NONE] = { "unknown", 0 },
#define PG_KIND_ROW(id, nm, fl) [PG_K_##id] = { nm, fl },
	PG_KIND_LIST(PG_KIND_ROW)
#undef PG_KIND_ROW
};

const char *pg_kind_name(enum pg_kind k)
{
	return (unsigned)k < PG_K_COUNT ? kinds[k].name : "unknown";
}

enum pg_kind pg_kind_from_name(const char *name)
{
	for (unsigned k = 1; name && k < PG_K_COUNT; k++)
		if (strcmp(kinds[k].name, name) == 0)
			return (enum pg_kind)k;
	return PG_K_NONE;
}

unsigned pg_kind_flags(enum pg_kind k)
{
	return (unsigned)k < PG_K_COUNT ? kinds[k].flags : 0;
}

const char *pg_verdict_name(enum pg_verdict v)
{
	static const char *const names[PG_VERDICT_COUNT] = {
		[PG_VERDICT_MATCHES] = "matches",
		[PG_VERDICT_DIFFERS] = "differs",
		[PG_VERDICT_UNKNOWN] = "unknown",
		[PG_VERDICT_INCOMPLETE] = "incomplete",
		[PG_VERDICT_UNVERIFIABLE] = "unverifiable",
		[PG_VERDICT_INVALID] = "invalid",
	};
	return (unsigned)v < PG_VERDICT_COUNT ? names[v] : NULL;
}

void pg_event_init(struct pg_event *ev)
{
	memset(ev, 0, sizeof *ev);
	ev->size = -1;
}

void pg_event_clear(struct pg_event *ev)
{
	if (ev->fields)
		json_decref(ev->fields);
	pg_event_init(ev);
}

void pg_event_text(struct pg_event *ev, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(ev->text, sizeof ev->text, fmt, ap);
	va_end(ap);
}

static json_t *fields(struct pg_event *ev)
{
	if (!ev->fields)
		ev->fields = json_object();
	return ev->fields;
}

/* Length of a valid UTF-8 sequence starting at p (1-4), 0 if invalid. */
static size_t utf8_seq(const unsigned char *p, size_t n)
{
	unsigned c = p[0];
	size_t need;
	unsigned min;
	if (c < 0x80)
		return 1;
	if (c >= 0xC2 && c <= 0xDF) { need = 2; min = 0x80; }
	else if (c >= 0xE0 && c <= 0xEF) { need = 3; min = 0x800; }
	else if (c >= 0xF0 && c <= 0xF4) { need = 4; min = 0x10000; }
	else return 0;
	if (n < need)
		return 0;
	unsigned cp = c & (0xFF >> (need + 1));
	for (size_t i = 1; i < need; i++) {
		if ((p[i] & 0xC0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[i] & 0x3F);
	}
	if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
		return 0;
	return need;
}

/* Copy n bytes into a fresh NUL-terminated string, escaping what is not
 * printable UTF-8 as \xNN (and a backslash as \\). */
static char *safe_copy(const char *s, size_t n)
{
	char *out = malloc(n * 4 + 1);
	if (!out)
		return NULL;
	size_t o = 0;
	const unsigned char *p = (const unsigned char *)s;
	for (size_t i = 0; i < n;) {
		size_t k = utf8_seq(p + i, n - i);
		if (k == 1 && p[i] >= 0x20 && p[i] != 0x7F && p[i] != '\\') {
			out[o++] = (char)p[i++];
		} else if (k > 1) {
			memcpy(out + o, p + i, k);
			o += k;
			i += k;
		} else if (p[i] == '\\') {
			out[o++] = '\\';
			out[o++] = '\\';
			i++;
		} else {
			o += (size_t)sprintf(out + o, "\\x%02x", p[i]);
			i++;
		}
	}
	out[o] = 0;
	return out;
}

char *pg_event_safe(const char *s)
{
	return safe_copy(s ? s : "", s ? strlen(s) : 0);
}

void pg_event_set_strn(struct pg_event *ev, const char *key, const char *val, size_t n)
{
	char *s = safe_copy(val ? val : "", val ? n : 0);
	if (!s)
		return;
	json_object_set_new(fields(ev), key, json_string(s));
	free(s);
}

void pg_event_set_str(struct pg_event *ev, const char *key, const char *val)
{
	pg_event_set_strn(ev, key, val, val ? strlen(val) : 0);
}

void pg_event_set_int(struct pg_event *ev, const char *key, long long val)
{
	json_object_set_new(fields(ev), key, json_integer(val));
}

void pg_event_set_bool(struct pg_event *ev, const char *key, int val)
{
	json_object_set_new(fields(ev), key, json_boolean(val));
}

void pg_event_set_hex(struct pg_event *ev, const char *key, const uint8_t *p, size_t n)
{
	char *h = malloc(2 * n + 1);
	if (!h)
		return;
	pg_hex(p, n, h);
	json_object_set_new(fields(ev), key, json_string(h));
	free(h);
}

void pg_event_set_json(struct pg_event *ev, const char *key, json_t *val)
{
	if (val)
		json_object_set_new(fields(ev), key, val);
}

const char *pg_sev_name(enum pg_sev s)
{
	switch (s) {
	case PG_SEV_INFO: return "info";
	case PG_SEV_NOTICE: return "notice";
	case PG_SEV_WARNING: return "warning";
	case PG_SEV_ALERT: return "alert";
	}
	return "info";
}

const char *pg_source_name(enum pg_source s)
{
	switch (s) {
	case PG_SRC_WIRE: return "wire";
	case PG_SRC_FILE: return "file";
	case PG_SRC_SELF: return "self";
	}
	return "self";
}

/* n decimal digits of v, zero-padded, at p. */
static void put_digits(char *p, unsigned v, int n)
{
	while (n--) {
		p[n] = (char)('0' + v % 10);
		v /= 10;
	}
}

char *pg_ts_str(const struct timespec *ts, char *buf, size_t n)
{
	struct tm tm;
	time_t t = ts->tv_sec;
	if (!gmtime_r(&t, &tm)) {
		snprintf(buf, n, "invalid-time");
		return buf;
	}
	/* Years 1000..9999 and a microsecond field of 6 digits (every real
	 * time): digits by hand, exactly what strftime and %06ld print; called
	 * once per event. */
	long us = (long)(ts->tv_nsec / 1000);
	if (n >= 28 && tm.tm_year >= 1000 - 1900 && tm.tm_year <= 9999 - 1900 &&
	    us >= 0 && us <= 999999) {
		put_digits(buf, (unsigned)(tm.tm_year + 1900), 4);
		buf[4] = '-';
		put_digits(buf + 5, (unsigned)tm.tm_mon + 1, 2);
		buf[7] = '-';
		put_digits(buf + 8, (unsigned)tm.tm_mday, 2);
		buf[10] = 'T';
		put_digits(buf + 11, (unsigned)tm.tm_hour, 2);
		buf[13] = ':';
		put_digits(buf + 14, (unsigned)tm.tm_min, 2);
		buf[16] = ':';
		put_digits(buf + 17, (unsigned)tm.tm_sec, 2);
		buf[19] = '.';
		put_digits(buf + 20, (unsigned)us, 6);
		buf[26] = 'Z';
		buf[27] = 0;
		return buf;
	}
	char d[32];
	strftime(d, sizeof d, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf, n, "%s.%06ldZ", d, (long)(ts->tv_nsec / 1000));
	return buf;
}

/*
 * JSON lines are written here directly into a growing buffer, byte for byte
 * what jansson's json_dumps(JSON_COMPACT | JSON_PRESERVE_ORDER) printed for
 * the object the previous version built (tests/unit/test_event_json.c keeps
 * that version and compares): member order, the rule that a field never
 * overrides a common member, escapes (\" \\ \b \f \n \r \t, other controls
 * as \u00XX), integers as %lld, a member left out when its string is not
 * valid UTF-8 (json_string() refused it).  Building a jansson tree per event
 * and dumping it cost ~7 us an event, most of `sniff --pdus` (672k events on
 * the 100 MB bench capture); this costs well under one.  Extra fields still
 * live in ev->fields (jansson): their strings, integers and booleans are
 * written here, nested values by json_dumps with the same flags.
 */
struct jbuf {
	char *p;
	size_t len, cap;
	int oom;
};

static void jb_grow(struct jbuf *b, size_t n)
{
	size_t ncap = b->cap ? b->cap : 512;
	while (ncap - b->len <= n) {
		if (ncap > ((size_t)-1) / 2) {
			b->oom = 1;
			return;
		}
		ncap *= 2;
	}
	char *np = realloc(b->p, ncap);
	if (!np) {
		b->oom = 1;
		return;
	}
	b->p = np;
	b->cap = ncap;
}

/* Room for n more bytes (and the NUL); b->oom when there is none. */
static inline void jb_reserve(struct jbuf *b, size_t n)
{
	if (!b->oom && b->cap - b->len <= n)
		jb_grow(b, n);
}

static inline void jb_put(struct jbuf *b, const char *s, size_t n)
{
	jb_reserve(b, n);
	if (b->oom)
		return;
	memcpy(b->p + b->len, s, n);
	b->len += n;
}

static void jb_lit(struct jbuf *b, const char *s)
{
	jb_put(b, s, strlen(s));
}

/* A JSON string as jansson dumps it; -1 (nothing usable written) when s is
 * not valid UTF-8, which json_string() would have refused. */
static int jb_str(struct jbuf *b, const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;
	jb_reserve(b, n + 2);
	jb_put(b, "\"", 1);
	size_t i = 0, run = 0;
	while (i < n) {
		unsigned c = u[i];
		if (c >= 0x80) {
			size_t k = utf8_seq(u + i, n - i);
			if (!k)
				return -1;
			i += k;
			continue;
		}
		if (c >= 0x20 && c != '"' && c != '\\') {
			i++;
			continue;
		}
		jb_put(b, s + run, i - run);
		char esc[8];
		switch (c) {
		case '"': jb_put(b, "\\\"", 2); break;
		case '\\': jb_put(b, "\\\\", 2); break;
		case '\b': jb_put(b, "\\b", 2); break;
		case '\f': jb_put(b, "\\f", 2); break;
		case '\n': jb_put(b, "\\n", 2); break;
		case '\r': jb_put(b, "\\r", 2); break;
		case '\t': jb_put(b, "\\t", 2); break;
		default:
			snprintf(esc, sizeof esc, "\\u%04X", c);
			jb_put(b, esc, 6);
			break;
		}
		run = ++i;
	}
	jb_put(b, s + run, n - run);
	jb_put(b, "\"", 1);
	return 0;
}

/* %lld without printf (a third of the time went to vfprintf). */
static void jb_int(struct jbuf *b, long long v)
{
	char d[24];
	size_t k = sizeof d;
	unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
	do {
		d[--k] = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	if (v < 0)
		d[--k] = '-';
	jb_put(b, d + k, sizeof d - k);
}

/* ,"key": then the value by the caller; jb_undo() drops the member again. */
static size_t jb_key(struct jbuf *b, const char *key)
{
	size_t mark = b->len;
	jb_put(b, ",", 1);
	jb_str(b, key, strlen(key));
	jb_put(b, ":", 1);
	return mark;
}

static void jb_undo(struct jbuf *b, size_t mark)
{
	if (!b->oom)
		b->len = mark;
}

/* The common members written so far: a field of the same name is dropped
 * (json_object_get() found it).  A member whose string was refused is not
 * in the list, so a field may take its name, as it could in jansson. */
#define JB_COMMON_MAX 24

struct jcommon {
	const char *k[JB_COMMON_MAX];
	int n;
};

static void jc_add(struct jcommon *c, const char *k)
{
	if (c->n < JB_COMMON_MAX)
		c->k[c->n++] = k;
}

static int jc_has(const struct jcommon *c, const char *k)
{
	for (int i = 0; i < c->n; i++)
		if (strcmp(c->k[i], k) == 0)
			return 1;
	return 0;
}

static void jb_member_str(struct jbuf *b, struct jcommon *c, const char *key,
			  const char *val)
{
	size_t mark = jb_key(b, key);
	if (jb_str(b, val, strlen(val)) < 0)
		jb_undo(b, mark);
	else
		jc_add(c, key);
}

static void jb_member_int(struct jbuf *b, struct jcommon *c, const char *key,
			  long long v)
{
	jb_key(b, key);
	jb_int(b, v);
	jc_add(c, key);
}

static void jb_endpoint(struct jbuf *b, struct jcommon *c, const char *key,
			const struct pg_endpoint *e)
{
	size_t mark = jb_key(b, key);
	jb_put(b, "{\"ip\":", 6);
	if (jb_str(b, e->addr, strlen(e->addr)) < 0) {
		jb_undo(b, mark);   /* json_pack() failed: no member */
		return;
	}
	jb_put(b, ",\"port\":", 8);
	jb_int(b, (int)e->port);
	jb_put(b, "}", 1);
	jc_add(c, key);
}

static void jb_hash(struct jbuf *b, struct jcommon *c, const char *key,
		    const uint8_t h[32])
{
	char hex[PG_SHA256_HEX];
	jb_member_str(b, c, key, pg_hex(h, 32, hex));
}

/* A value from ev->fields. */
static void jb_value(struct jbuf *b, size_t mark, json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_STRING:
		if (jb_str(b, json_string_value(v), json_string_length(v)) < 0)
			jb_undo(b, mark);
		return;
	case JSON_INTEGER:
		jb_int(b, (long long)json_integer_value(v));
		return;
	case JSON_TRUE:
		jb_lit(b, "true");
		return;
	case JSON_FALSE:
		jb_lit(b, "false");
		return;
	case JSON_NULL:
		jb_lit(b, "null");
		return;
	default: {
		char *d = json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY);
		if (!d) {
			jb_undo(b, mark);
			return;
		}
		jb_lit(b, d);
		free(d);
		return;
	}
	}
}

/* The text member's value (its key was written from mark on). */
static void jb_text(struct jbuf *b, size_t mark, const struct pg_event *ev)
{
	char *s = safe_copy(ev->text, strnlen(ev->text, sizeof ev->text));
	if (jb_str(b, s ? s : "", s ? strlen(s) : 0) < 0)
		jb_undo(b, mark);
	free(s);
}

char *pg_event_json(const struct pg_event *ev)
{
	struct jbuf b = { NULL, 0, 0, 0 };
	struct jcommon c = { { NULL }, 0 };
	char ts[64];
	jb_reserve(&b, 1024);
	jb_put(&b, "{\"seq\":", 7);
	jb_int(&b, (long long)ev->seq);
	jc_add(&c, "seq");
	if (ev->obs) {
		jb_member_str(&b, &c, "run", ev->obs->run);
		char *h = safe_copy(ev->obs->host, strnlen(ev->obs->host, sizeof ev->obs->host));
		jb_member_str(&b, &c, "host", h ? h : "");
		free(h);
	}
	jb_member_str(&b, &c, "ts", pg_ts_str(&ev->ts, ts, sizeof ts));
	jb_member_str(&b, &c, "source", pg_source_name(ev->source));
	jb_member_str(&b, &c, "kind", pg_kind_name(ev->kind));
	jb_member_str(&b, &c, "severity", pg_sev_name(ev->sev));
	if (ev->proto)
		jb_member_str(&b, &c, "proto", ev->proto);
	if (ev->flow_id) {
		jb_member_int(&b, &c, "flow", (long long)ev->flow_id);
		jb_endpoint(&b, &c, "src", &ev->src);
		jb_endpoint(&b, &c, "dst", &ev->dst);
	}
	if (ev->frame)
		jb_member_int(&b, &c, "frame", (long long)ev->frame);
	if (ev->object[0]) {
		char *s = safe_copy(ev->object, strnlen(ev->object, sizeof ev->object));
		jb_member_str(&b, &c, "object", s ? s : "");
		free(s);
	}
	if (ev->size >= 0)
		jb_member_int(&b, &c, "size", (long long)ev->size);
	if (ev->has_sha256)
		jb_hash(&b, &c, "sha256", ev->sha256);
	if (ev->has_fp) {
		jb_hash(&b, &c, "strict_sha256", ev->strict);
		jb_hash(&b, &c, "logic_fp", ev->logic_fp);
	}
	if (pg_verdict_name(ev->verdict))
		jb_member_str(&b, &c, "verdict", pg_verdict_name(ev->verdict));
	int text_done = 0;
	if (ev->fields) {
		const char *k;
		json_t *v;
		json_object_foreach(ev->fields, k, v) {
			if (jc_has(&c, k))
				continue;
			size_t mark = jb_key(&b, k);
			if (strcmp(k, "text") == 0) {
				/* jansson kept the field's place and took the
				 * event's text as its value. */
				jb_text(&b, mark, ev);
				text_done = 1;
				continue;
			}
			jb_value(&b, mark, v);
		}
	}
	if (!text_done)
		jb_text(&b, jb_key(&b, "text"), ev);
	jb_put(&b, "}", 1);
	jb_put(&b, "", 1);   /* the terminating NUL */
	if (b.oom) {
		free(b.p);
		return NULL;
	}
	return b.p;
}

char *pg_event_human(const struct pg_event *ev, char *buf, size_t n)
{
	char ts[64], ends[160] = "";
	if (ev->flow_id)
		snprintf(ends, sizeof ends, " %s:%u -> %s:%u", ev->src.addr,
			 ev->src.port, ev->dst.addr, ev->dst.port);
	char *text = safe_copy(ev->text, strnlen(ev->text, sizeof ev->text));
	const char *v = pg_verdict_name(ev->verdict);
	snprintf(buf, n, "%s %-8s %-26s%s%s%s  %s", pg_ts_str(&ev->ts, ts, sizeof ts),
		 pg_sev_name(ev->sev), ev->kind ? pg_kind_name(ev->kind) : "?", ends,
		 v ? "  " : "", v ? v : "", text ? text : "");
	free(text);
	return buf;
}
