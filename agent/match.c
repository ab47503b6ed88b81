/*
 * match.c - transferred blocks and images against trusted baselines
 * (agent/match.h).
 *
 * The index is a flat array sorted by key (block id such as "OB1", or
 * "umas-app", or a SHA-256 for plain files), searched by bisection: baselines
 * hold thousands of components at most, and a sniffer sees few transfers, so
 * a hash table would buy nothing here.
 */
#include "match.h"

#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "digest.h"
#include "mc7.h"
#include "util.h"

struct mentry {
	char key[72];                     /* "OB1" | "umas-app" | sha256 hex */
	const struct pg_baseline *b;
	const struct pg_component *c;
	int has_strict;
	uint8_t strict[32];
};

struct pg_matcher {
	struct mentry *v;
	size_t n, cap;
	const struct pg_baseline **bl;    /* trusted baselines */
	size_t nbl;
};

static void add(struct pg_matcher *m, const char *key, const struct pg_baseline *b,
		const struct pg_component *c)
{
	if (m->n == m->cap) {
		m->cap = m->cap ? m->cap * 2 : 64;
		m->v = xrealloc(m->v, m->cap * sizeof *m->v);
	}
	struct mentry *e = &m->v[m->n++];
	memset(e, 0, sizeof *e);
	snprintf(e->key, sizeof e->key, "%s", key);
	e->b = b;
	e->c = c;
	const char *st = c->ann ? json_string_value(json_object_get(c->ann, "strict_sha256")) : NULL;
	if (st && strlen(st) == 64 && pg_unhex(st, e->strict, 32) == 0)
		e->has_strict = 1;
}

static int cmp_entry(const void *a, const void *b)
{
	return strcmp(((const struct mentry *)a)->key, ((const struct mentry *)b)->key);
}

struct pg_matcher *pg_matcher_new(struct pg_baseline *b, size_t n)
{
	struct pg_matcher *m = xcalloc(1, sizeof *m);
	m->bl = xcalloc(n ? n : 1, sizeof *m->bl);
	for (size_t i = 0; i < n; i++) {
		if (!b[i].trusted || !b[i].parsed)
			continue;
		m->bl[m->nbl++] = &b[i];
		const struct pg_complist *l = &b[i].m.comps;
		for (size_t k = 0; k < l->n; k++) {
			const struct pg_component *c = &l->v[k];
			char hex[PG_SHA256_HEX];
			if (strcmp(c->kind, "s7-block") == 0) {
				const char *id = c->ann ? json_string_value(json_object_get(c->ann, "block")) : NULL;
				uint8_t t;
				uint16_t num;
				char norm[32];
				if (id && mc7_parse_block_id(id, &t, &num) == 0)
					add(m, mc7_block_id(t, num, norm, sizeof norm), &b[i], c);
			} else if (strcmp(c->kind, "umas-app") == 0) {
				add(m, "umas-app", &b[i], c);
			}
			if (c->has_sha)
				add(m, pg_hex(c->sha256, 32, hex), &b[i], c);
		}
	}
	if (m->n)
		qsort(m->v, m->n, sizeof *m->v, cmp_entry);
	return m;
}

void pg_matcher_free(struct pg_matcher *m)
{
	if (!m)
		return;
	free(m->v);
	free(m->bl);
	free(m);
}

size_t pg_matcher_baselines(const struct pg_matcher *m)
{
	return m ? m->nbl : 0;
}

/* [lo, hi) of entries with this key. */
static void range(const struct pg_matcher *m, const char *key, size_t *lo, size_t *hi)
{
	size_t a = 0, b = m->n;
	while (a < b) {
		size_t mid = a + (b - a) / 2;
		if (strcmp(m->v[mid].key, key) < 0)
			a = mid + 1;
		else
			b = mid;
	}
	*lo = a;
	while (a < m->n && strcmp(m->v[a].key, key) == 0)
		a++;
	*hi = a;
}

int pg_event_is_transfer(const struct pg_event *ev)
{
	return pg_kind_is_transfer(ev->kind);
}

static long long field_int(const struct pg_event *ev, const char *k, long long dflt)
{
	json_t *v = ev->fields ? json_object_get(ev->fields, k) : NULL;
	return json_is_integer(v) ? json_integer_value(v) : dflt;
}

static int same_addr(const char *a, const char *b)
{
	uint8_t x[16], y[16];
	if (inet_pton(AF_INET, a, x) == 1 && inet_pton(AF_INET, b, y) == 1)
		return memcmp(x, y, 4) == 0;
	if (inet_pton(AF_INET6, a, x) == 1 && inet_pton(AF_INET6, b, y) == 1)
		return memcmp(x, y, 16) == 0;
	return strcmp(a, b) == 0;
}

/* 1 listed, 0 not listed, -1 the baseline declares no targets. */
static int target_listed(const struct pg_baseline *b, const struct pg_event *ev)
{
	if (!b->m.n_targets)
		return -1;
	long long rack = field_int(ev, "rack", -1), slot = field_int(ev, "slot", -1);
	long long unit = field_int(ev, "unit", -1);
	for (size_t i = 0; i < b->m.n_targets; i++) {
		const struct pg_target *t = &b->m.targets[i];
		if (!same_addr(t->address, ev->dst.addr))
			continue;
		if (t->rack >= 0 && rack >= 0 && t->rack != rack)
			continue;
		if (t->slot >= 0 && slot >= 0 && t->slot != slot)
			continue;
		if (t->unit >= 0 && unit >= 0 && t->unit != unit)
			continue;
		return 1;
	}
	return 0;
}

static json_t *baseline_json(const struct pg_baseline *b, const struct pg_component *c,
			     const struct pg_event *ev, int listed)
{
	char t[64];
	json_t *o = json_object();
	json_object_set_new(o, "id", json_string(b->id));
	json_object_set_new(o, "project", json_string(b->m.project_name ? b->m.project_name : ""));
	if (c)
		json_object_set_new(o, "component", json_string(c->name));
	json_object_set_new(o, "created", json_string(pg_fmt_time(b->m.created, t, sizeof t)));
	json_object_set_new(o, "ticket", b->m.ticket ? json_string(b->m.ticket) : json_null());
	if (b->m.has_window) {
		char f[64];
		json_object_set_new(o, "window", json_pack("{s:s,s:s}",
			"from", pg_fmt_time(b->m.win_from, f, sizeof f),
			"to", pg_fmt_time(b->m.win_to, t, sizeof t)));
		json_object_set_new(o, "in_window", json_boolean(ev->ts.tv_sec >= b->m.win_from &&
								   ev->ts.tv_sec <= b->m.win_to));
	} else {
		json_object_set_new(o, "window", json_null());
		json_object_set_new(o, "in_window", json_null());
	}
	json_object_set_new(o, "target_listed", listed < 0 ? json_null() : json_boolean(listed));
	json_object_set_new(o, "signer", json_string(b->pki.signer.subject));
	return o;
}

static void append_text(struct pg_event *ev, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void append_text(struct pg_event *ev, const char *fmt, ...)
{
	size_t n = strnlen(ev->text, sizeof ev->text);
	if (n >= sizeof ev->text - 1)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(ev->text + n, sizeof ev->text - n, fmt, ap);
	va_end(ap);
}

/* Rank a candidate: exact > checksum-only > logic > differs; then a baseline
 * that lists this PLC; then the newest. */
static int better(int score, int listed, time_t created, int bscore, int blisted,
		  time_t bcreated)
{
	if (score != bscore)
		return score > bscore;
	if ((listed == 1) != (blisted == 1))
		return listed == 1;
	return created > bcreated;
}

static void judge_block(const struct pg_matcher *m, struct pg_event *ev, int upload)
{
	uint8_t t;
	uint16_t num;
	char id[32];
	if (mc7_parse_block_id(ev->object, &t, &num) != 0) {
		ev->verdict = PG_VERDICT_INVALID;
		append_text(ev, "%s", " - no block id to match");
		return;
	}
	mc7_block_id(t, num, id, sizeof id);
	size_t lo, hi;
	range(m, id, &lo, &hi);
	const struct mentry *best = NULL;
	int bscore = -1, blisted = -2;
	for (size_t i = lo; i < hi; i++) {
		const struct mentry *e = &m->v[i];
		int score = 1;
		if (e->c->has_sha && ev->has_sha256 && memcmp(e->c->sha256, ev->sha256, 32) == 0)
			score = 4;
		else if (e->has_strict && ev->has_fp && memcmp(e->strict, ev->strict, 32) == 0)
			score = 3;
		else if (e->c->has_fp && ev->has_fp && memcmp(e->c->fp, ev->logic_fp, 32) == 0)
			score = 2;
		int listed = target_listed(e->b, ev);
		if (!best || better(score, listed, e->b->m.created, bscore, blisted,
				    best->b->m.created)) {
			best = e;
			bscore = score;
			blisted = listed;
		}
	}
	if (!best) {
		ev->verdict = PG_VERDICT_UNKNOWN;
		ev->sev = upload ? PG_SEV_WARNING : PG_SEV_ALERT;
		append_text(ev, " - UNKNOWN: %s is in no trusted baseline%s", id,
			    m->nbl ? "" : " (no baselines loaded)");
		return;
	}
	json_object_set_new(ev->fields ? ev->fields : (ev->fields = json_object()),
			    "baseline", baseline_json(best->b, best->c, ev, blisted));
	static const char *const how[] = { "", "", "logic", "checksum", "exact" };
	if (bscore >= 2) {
		ev->verdict = PG_VERDICT_MATCHES;
		ev->sev = upload ? PG_SEV_INFO : PG_SEV_NOTICE;
		pg_event_set_str(ev, "match", how[bscore]);
		append_text(ev, " - MATCHES %s in baseline %s", best->c->name, best->b->id);
		if (bscore == 2)
			append_text(ev, "%s", " (same logic; only timestamps or header attributes differ)");
		else if (bscore == 3)
			append_text(ev, "%s", " (only the block checksum differs)");
	} else {
		ev->verdict = PG_VERDICT_DIFFERS;
		ev->sev = upload ? PG_SEV_WARNING : PG_SEV_ALERT;
		append_text(ev, " - DIFFERS from %s in baseline %s (other logic)",
			    best->c->name, best->b->id);
	}
	if (blisted == 0)
		append_text(ev, "%s", "; this PLC is not among the baseline's targets");
}

static void judge_image(const struct pg_matcher *m, struct pg_event *ev, int upload)
{
	char hex[PG_SHA256_HEX];
	size_t lo, hi;
	pg_hex(ev->sha256, 32, hex);
	range(m, hex, &lo, &hi);
	const struct mentry *best = NULL;
	int blisted = -2;
	for (size_t i = lo; i < hi; i++) {
		const struct mentry *e = &m->v[i];
		if (strcmp(e->c->kind, "umas-app") != 0)
			continue;
		int listed = target_listed(e->b, ev);
		if (!best || better(1, listed, e->b->m.created, 1, blisted, best->b->m.created)) {
			best = e;
			blisted = listed;
		}
	}
	if (best) {
		ev->verdict = PG_VERDICT_MATCHES;
		ev->sev = upload ? PG_SEV_INFO : PG_SEV_NOTICE;
		pg_event_set_str(ev, "match", "exact");
		json_object_set_new(ev->fields ? ev->fields : (ev->fields = json_object()),
				    "baseline", baseline_json(best->b, best->c, ev, blisted));
		append_text(ev, " - MATCHES %s in baseline %s", best->c->name, best->b->id);
		if (blisted == 0)
			append_text(ev, "%s", "; this PLC is not among the baseline's targets");
		return;
	}
	/* Not registered anywhere: DIFFERS if a baseline says which image
	 * this PLC should run, UNKNOWN otherwise. */
	range(m, "umas-app", &lo, &hi);
	for (size_t i = lo; i < hi; i++) {
		const struct mentry *e = &m->v[i];
		if (target_listed(e->b, ev) == 1 &&
		    (!best || e->b->m.created > best->b->m.created))
			best = e;
	}
	if (best) {
		ev->verdict = PG_VERDICT_DIFFERS;
		ev->sev = upload ? PG_SEV_WARNING : PG_SEV_ALERT;
		json_object_set_new(ev->fields ? ev->fields : (ev->fields = json_object()),
				    "baseline", baseline_json(best->b, best->c, ev, 1));
		append_text(ev, " - DIFFERS from the application image %s approved for this PLC in baseline %s",
			    best->c->name, best->b->id);
		return;
	}
	ev->verdict = PG_VERDICT_UNKNOWN;
	ev->sev = upload ? PG_SEV_WARNING : PG_SEV_ALERT;
	append_text(ev, " - UNKNOWN: this application image is in no trusted baseline%s",
		    m->nbl ? "" : " (no baselines loaded)");
}

static void judge_file(const struct pg_matcher *m, struct pg_event *ev)
{
	char hex[PG_SHA256_HEX];
	size_t lo, hi;
	pg_hex(ev->sha256, 32, hex);
	range(m, hex, &lo, &hi);
	if (lo < hi) {
		const struct mentry *e = &m->v[lo];
		ev->verdict = PG_VERDICT_MATCHES;
		ev->sev = PG_SEV_NOTICE;
		pg_event_set_str(ev, "match", "exact");
		json_object_set_new(ev->fields ? ev->fields : (ev->fields = json_object()),
				    "baseline", baseline_json(e->b, e->c, ev, target_listed(e->b, ev)));
		append_text(ev, " - MATCHES %s in baseline %s", e->c->name, e->b->id);
		return;
	}
	ev->verdict = PG_VERDICT_UNKNOWN;
	ev->sev = PG_SEV_ALERT;
	append_text(ev, " - UNKNOWN: these bytes are in no trusted baseline%s",
		    m->nbl ? "" : " (no baselines loaded)");
}

int pg_event_overlap_conflict(const struct pg_event *ev)
{
	return json_is_true(ev->fields ? json_object_get(ev->fields, "overlap_conflict") : NULL);
}

void pg_judge_event(void *arg, struct pg_event *ev)
{
	struct pg_matcher *const *m = arg;
	if (!pg_event_is_transfer(ev))
		return;
	pg_match_event(*m, ev);
	/* Bytes of this transfer were sent twice with different content: what
	 * we hashed is the first copy, the PLC may have taken the other one.
	 * Whatever the verdict, this is not clean. */
	if (pg_event_overlap_conflict(ev)) {
		ev->sev = PG_SEV_ALERT;
		append_text(ev, "%s", "; WARNING: part of it was sent twice with different bytes "
			    "(TCP overlap conflict): the hash is of the first copy, the PLC may have "
			    "taken the other");
	}
	/* A transfer that could not be verified is at least a warning: logic
	 * reached (or left) a PLC and nobody can say what it was. */
	if (ev->sev < PG_SEV_WARNING &&
	    (ev->verdict == PG_VERDICT_INCOMPLETE || ev->verdict == PG_VERDICT_INVALID))
		ev->sev = PG_SEV_WARNING;
}

void pg_match_event(const struct pg_matcher *m, struct pg_event *ev)
{
	if (!pg_event_is_transfer(ev) || ev->verdict || !ev->has_sha256)
		return;
	static const struct pg_matcher empty;
	if (!m)
		m = &empty;
	int up = (pg_kind_flags(ev->kind) & PG_KF_UPLOAD) != 0;
	if (ev->kind == PG_K_S7_BLOCK_DOWNLOAD || ev->kind == PG_K_S7_BLOCK_UPLOAD)
		judge_block(m, ev, up);
	else if (ev->kind == PG_K_UMAS_APP_DOWNLOAD || ev->kind == PG_K_UMAS_APP_UPLOAD)
		judge_image(m, ev, up);
	else
		judge_file(m, ev);
	/* A download the PLC refused was transferred, never taken: what it
	 * would have been is still judged, but it is not logic the PLC runs. */
	json_t *rf = ev->fields ? json_object_get(ev->fields, "refused") : NULL;
	if (json_is_true(rf)) {
		if (ev->sev == PG_SEV_ALERT)
			ev->sev = PG_SEV_WARNING;
		append_text(ev, "%s", "; REFUSED by the PLC: not accepted, never ran");
	}
}
