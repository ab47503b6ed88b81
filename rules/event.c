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

#include "../parsers/digest.h"

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

char *pg_ts_str(const struct timespec *ts, char *buf, size_t n)
{
	struct tm tm;
	time_t t = ts->tv_sec;
	if (!gmtime_r(&t, &tm)) {
		snprintf(buf, n, "invalid-time");
		return buf;
	}
	char d[32];
	strftime(d, sizeof d, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf, n, "%s.%06ldZ", d, (long)(ts->tv_nsec / 1000));
	return buf;
}

static json_t *endpoint(const struct pg_endpoint *e)
{
	return json_pack("{s:s,s:i}", "ip", e->addr, "port", (int)e->port);
}

static void set_hash(json_t *o, const char *k, const uint8_t h[32])
{
	char hex[PG_SHA256_HEX];
	json_object_set_new(o, k, json_string(pg_hex(h, 32, hex)));
}

char *pg_event_json(const struct pg_event *ev)
{
	char ts[64];
	json_t *o = json_object();
	json_object_set_new(o, "seq", json_integer((json_int_t)ev->seq));
	json_object_set_new(o, "ts", json_string(pg_ts_str(&ev->ts, ts, sizeof ts)));
	json_object_set_new(o, "source", json_string(pg_source_name(ev->source)));
	json_object_set_new(o, "kind", json_string(ev->kind ? ev->kind : "unknown"));
	json_object_set_new(o, "severity", json_string(pg_sev_name(ev->sev)));
	if (ev->proto)
		json_object_set_new(o, "proto", json_string(ev->proto));
	if (ev->flow_id) {
		json_object_set_new(o, "flow", json_integer((json_int_t)ev->flow_id));
		json_object_set_new(o, "src", endpoint(&ev->src));
		json_object_set_new(o, "dst", endpoint(&ev->dst));
	}
	if (ev->frame)
		json_object_set_new(o, "frame", json_integer((json_int_t)ev->frame));
	if (ev->object[0]) {
		char *s = safe_copy(ev->object, strnlen(ev->object, sizeof ev->object));
		json_object_set_new(o, "object", json_string(s ? s : ""));
		free(s);
	}
	if (ev->size >= 0)
		json_object_set_new(o, "size", json_integer(ev->size));
	if (ev->has_sha256)
		set_hash(o, "sha256", ev->sha256);
	if (ev->has_fp) {
		set_hash(o, "strict_sha256", ev->strict);
		set_hash(o, "logic_fp", ev->logic_fp);
	}
	if (ev->verdict)
		json_object_set_new(o, "verdict", json_string(ev->verdict));
	if (ev->fields) {
		const char *k;
		json_t *v;
		json_object_foreach(ev->fields, k, v) {
			if (!json_object_get(o, k))  /* common members win */
				json_object_set(o, k, v);
		}
	}
	{
		char *s = safe_copy(ev->text, strnlen(ev->text, sizeof ev->text));
		json_object_set_new(o, "text", json_string(s ? s : ""));
		free(s);
	}
	char *out = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(o);
	return out;
}

char *pg_event_human(const struct pg_event *ev, char *buf, size_t n)
{
	char ts[64], ends[160] = "";
	if (ev->flow_id)
		snprintf(ends, sizeof ends, " %s:%u -> %s:%u", ev->src.addr,
			 ev->src.port, ev->dst.addr, ev->dst.port);
	char *text = safe_copy(ev->text, strnlen(ev->text, sizeof ev->text));
	snprintf(buf, n, "%s %-8s %-26s%s%s%s  %s", pg_ts_str(&ev->ts, ts, sizeof ts),
		 pg_sev_name(ev->sev), ev->kind ? ev->kind : "?", ends,
		 ev->verdict ? "  " : "", ev->verdict ? ev->verdict : "",
		 text ? text : "");
	free(text);
	return buf;
}
