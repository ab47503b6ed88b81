/*
 * match.c - transferred blocks and images against trusted baselines
 * (agent/match.h).
 *
 * Two sources of baselines, one matcher:
 *   - pg_matcher_new(): baselines already loaded and checked (tests);
 *   - pg_matcher_new_store(): an opened store (agent/store.h).  At start-up
 *     only the store index is read; an entry is loaded and its signature
 *     checked the first time a transfer needs it, and the result is kept for
 *     the run.
 * Either way the candidates for a transfer are found through keys made from
 * each entry's hints (agent/storeidx.h: block id, and the first 8 bytes of
 * the SHA-256, the strict hash and the logic fingerprint): a flat array
 * sorted by key and searched by bisection.  The hints only choose and order
 * the entries to look at; every verdict is made from the full hashes of a
 * checked manifest.
 *
 * Which baseline a transfer is matched against is the same as when every
 * baseline was checked at start-up: among the trusted ones, the best score
 * (exact > checksum only > logic > differs), then one that lists the PLC,
 * then the newest, then the first in store order.  Candidates are checked
 * in the order of their hints' rank, which is never below their true rank,
 * and the search stops once the next candidate's hint rank is below the
 * best true rank found: nothing after it can be better.
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

enum { K_BLOCK = 'B', K_SHA = 'S', K_STRICT = 'T', K_FP = 'F', K_UMAS = 'U' };

struct mkey {
	uint8_t kind;
	uint8_t k[PG_IDX_HASH];          /* block: type, number (big end.) */
	uint32_t ent;                    /* entry index (store order) */
	int64_t created;                 /* newest first within a key */
};

struct ment {
	struct pg_idx_entry *h;          /* hints (exact once checked) */
	struct pg_baseline *b;           /* checked baseline, once known */
	signed char state;               /* 0 not checked, 1 trusted, -1 not usable */
};

struct pg_matcher {
	struct ment *e;
	size_t n;
	struct mkey *k;
	size_t nk, kcap;
	struct pg_store *store;          /* lazy source, or NULL */
	struct pg_idx_entry *own;        /* hints made here (eager source) */
	size_t n_own;
	pg_match_bad_fn on_bad;
	void *arg;
	size_t ntrusted;
	size_t probe;                    /* any_trusted(): next entry to try */
};

/* ---------------------------------------------------------------- keys -- */

static void add_key(struct pg_matcher *m, uint8_t kind, const uint8_t *k, uint32_t ent)
{
	if (m->nk == m->kcap) {
		m->kcap = m->kcap ? m->kcap * 2 : 256;
		m->k = xrealloc(m->k, m->kcap * sizeof *m->k);
	}
	struct mkey *x = &m->k[m->nk++];
	memset(x, 0, sizeof *x);
	x->kind = kind;
	if (k)
		memcpy(x->k, k, PG_IDX_HASH);
	x->ent = ent;
	x->created = (int64_t)m->e[ent].h->created;
}

static int cmp_key(const void *a, const void *b)
{
	const struct mkey *x = a, *y = b;
	if (x->kind != y->kind)
		return x->kind < y->kind ? -1 : 1;
	int c = memcmp(x->k, y->k, PG_IDX_HASH);
	if (c)
		return c;
	if (x->created != y->created)
		return x->created > y->created ? -1 : 1;   /* newest first */
	return x->ent < y->ent ? -1 : x->ent > y->ent;     /* then store order */
}

static void block_key(uint8_t type, uint16_t num, uint8_t k[PG_IDX_HASH])
{
	memset(k, 0, PG_IDX_HASH);
	k[0] = type;
	k[1] = (uint8_t)(num >> 8);
	k[2] = (uint8_t)num;
}

static void index_entry(struct pg_matcher *m, uint32_t i)
{
	const struct pg_idx_entry *h = m->e[i].h;
	if (!h->ok)
		return;
	int umas = 0;
	for (size_t c = 0; c < h->n_comps; c++) {
		const struct pg_idx_comp *x = &h->comps[c];
		uint8_t k[PG_IDX_HASH];
		if (x->has_sha)
			add_key(m, K_SHA, x->sha, i);
		if (x->cls == PG_IDX_BLOCK) {
			block_key(x->block_type, x->block_num, k);
			add_key(m, K_BLOCK, k, i);
			if (x->has_strict)
				add_key(m, K_STRICT, x->strict, i);
			if (x->has_fp)
				add_key(m, K_FP, x->fp, i);
		} else if (x->cls == PG_IDX_UMAS && !umas++) {
			add_key(m, K_UMAS, NULL, i);
		}
	}
}

static void build_keys(struct pg_matcher *m)
{
	for (size_t i = 0; i < m->n; i++)
		index_entry(m, (uint32_t)i);
	if (m->nk)
		qsort(m->k, m->nk, sizeof *m->k, cmp_key);
	/* an entry holding a block or hash twice is one candidate, once */
	size_t w = 0;
	for (size_t r = 0; r < m->nk; r++)
		if (!w || m->k[w - 1].kind != m->k[r].kind || m->k[w - 1].ent != m->k[r].ent ||
		    memcmp(m->k[w - 1].k, m->k[r].k, PG_IDX_HASH) != 0)
			m->k[w++] = m->k[r];
	m->nk = w;
}

/* [lo, hi) of the keys (kind, k). */
static void range(const struct pg_matcher *m, uint8_t kind, const uint8_t *k,
		  size_t *lo, size_t *hi)
{
	uint8_t z[PG_IDX_HASH] = { 0 };
	if (!k)
		k = z;
	size_t a = 0, b = m->nk;
	while (a < b) {
		size_t mid = a + (b - a) / 2;
		const struct mkey *x = &m->k[mid];
		int c = x->kind != kind ? (x->kind < kind ? -1 : 1) : memcmp(x->k, k, PG_IDX_HASH);
		if (c < 0)
			a = mid + 1;
		else
			b = mid;
	}
	*lo = a;
	while (a < m->nk && m->k[a].kind == kind && memcmp(m->k[a].k, k, PG_IDX_HASH) == 0)
		a++;
	*hi = a;
}

/* ------------------------------------------------------------ sources -- */

struct pg_matcher *pg_matcher_new(struct pg_baseline *b, size_t n)
{
	struct pg_matcher *m = xcalloc(1, sizeof *m);
	m->e = xcalloc(n ? n : 1, sizeof *m->e);
	m->own = xcalloc(n ? n : 1, sizeof *m->own);
	for (size_t i = 0; i < n; i++) {
		if (!b[i].trusted || !b[i].parsed)
			continue;
		struct pg_idx_entry *h = &m->own[m->n_own++];
		pg_idx_entry_hints(h, &b[i].m);
		m->e[m->n].h = h;
		m->e[m->n].b = &b[i];
		m->e[m->n].state = 1;
		m->n++;
	}
	m->ntrusted = m->n;
	build_keys(m);
	return m;
}

struct pg_matcher *pg_matcher_new_store(struct pg_store *s, pg_match_bad_fn on_bad, void *arg)
{
	struct pg_matcher *m = xcalloc(1, sizeof *m);
	m->store = s;
	m->on_bad = on_bad;
	m->arg = arg;
	m->n = s->ix.n;
	m->e = xcalloc(m->n ? m->n : 1, sizeof *m->e);
	for (size_t i = 0; i < m->n; i++) {
		m->e[i].h = &s->ix.v[i];
		if (s->checked[i]) {
			struct pg_baseline *b = s->b[i];
			m->e[i].b = b;
			m->e[i].state = b->trusted && b->parsed ? 1 : -1;
			if (m->e[i].state > 0)
				m->ntrusted++;
		}
	}
	build_keys(m);
	return m;
}

void pg_matcher_free(struct pg_matcher *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->n_own; i++)
		pg_idx_entry_free(&m->own[i]);
	free(m->own);
	free(m->k);
	free(m->e);
	free(m);
}

size_t pg_matcher_baselines(const struct pg_matcher *m)
{
	return m ? m->ntrusted : 0;
}

/* Entry i checked (on first use): its baseline if trusted, else NULL. */
static struct pg_baseline *resolve(struct pg_matcher *m, size_t i)
{
	struct ment *e = &m->e[i];
	if (e->state == 0) {
		e->b = pg_store_get(m->store, i);
		e->state = e->b->trusted && e->b->parsed ? 1 : -1;
		if (e->state > 0)
			m->ntrusted++;
		else if (m->on_bad)
			m->on_bad(m->arg, i, e->b);
	}
	return e->state > 0 ? e->b : NULL;
}

/* Is any baseline trusted at all?  Checks entries in store order until one
 * is (usually the first). */
static int any_trusted(struct pg_matcher *m)
{
	while (!m->ntrusted && m->probe < m->n)
		resolve(m, m->probe++);
	return m->ntrusted > 0;
}

/* ------------------------------------------------------------- ranking -- */

static long long field_int(const struct pg_event *ev, const char *k, long long dflt)
{
	json_t *v = ev->fields ? json_object_get(ev->fields, k) : NULL;
	return json_is_integer(v) ? json_integer_value(v) : dflt;
}

/* The transfer's destination, parsed once per event. */
struct dest {
	const char *addr;
	int family;
	uint8_t bin[16];
	long long rack, slot, unit;
};

static void dest_of(const struct pg_event *ev, struct dest *d)
{
	d->addr = ev->dst.addr;
	d->family = 0;
	memset(d->bin, 0, sizeof d->bin);
	if (inet_pton(AF_INET, ev->dst.addr, d->bin) == 1)
		d->family = 4;
	else if (inet_pton(AF_INET6, ev->dst.addr, d->bin) == 1)
		d->family = 6;
	d->rack = field_int(ev, "rack", -1);
	d->slot = field_int(ev, "slot", -1);
	d->unit = field_int(ev, "unit", -1);
}

/* 1 listed, 0 not listed, -1 the baseline declares no targets (from the
 * hints, which are exact for a checked entry). */
static int target_listed(const struct pg_idx_entry *h, const struct dest *d)
{
	if (!h->n_targets)
		return -1;
	for (size_t i = 0; i < h->n_targets; i++) {
		const struct pg_idx_target *t = &h->targets[i];
		int same;
		if (t->family && t->family == d->family)
			same = memcmp(t->bin, d->bin, t->family == 4 ? 4 : 16) == 0;
		else if (t->family || d->family)
			same = 0;
		else
			same = strcmp(t->address, d->addr) == 0;
		if (!same)
			continue;
		if (t->rack >= 0 && d->rack >= 0 && t->rack != d->rack)
			continue;
		if (t->slot >= 0 && d->slot >= 0 && t->slot != d->slot)
			continue;
		if (t->unit >= 0 && d->unit >= 0 && t->unit != d->unit)
			continue;
		return 1;
	}
	return 0;
}

struct rank {
	int score;                       /* 4 exact, 3 checksum, 2 logic, 1 differs */
	int listed;                      /* 1, 0, -1 */
	time_t created;
	size_t ent;
	size_t comp;                     /* hint component (of a checked entry) */
};

/* a ranks above b (a baseline that lists the PLC, then the newest, then the
 * first in store order) */
static int above(const struct rank *a, const struct rank *b)
{
	if (a->score != b->score)
		return a->score > b->score;
	if ((a->listed == 1) != (b->listed == 1))
		return a->listed == 1;
	if (a->created != b->created)
		return a->created > b->created;
	return a->ent < b->ent;
}

static int cmp_rank_desc(const void *a, const void *b)
{
	return above(a, b) ? -1 : above(b, a) ? 1 : 0;
}

static int strict_of(const struct pg_component *c, uint8_t out[32])
{
	const char *st = c->ann ? json_string_value(json_object_get(c->ann, "strict_sha256")) : NULL;
	return st && strlen(st) == 64 && pg_unhex(st, out, 32) == 0;
}

/* Score of block (type, num) of entry i against the transfer: from the
 * hints' prefixes when the entry is not checked (never below the truth),
 * from the checked manifest's full hashes when it is.  0 when the entry
 * does not hold that block; *comp gets the (first) best component. */
static int block_score(const struct pg_matcher *m, size_t i, uint8_t type, uint16_t num,
		       const struct pg_event *ev, size_t *comp)
{
	const struct ment *e = &m->e[i];
	const struct pg_idx_entry *h = e->h;
	int best = 0;
	for (size_t c = 0; c < h->n_comps; c++) {
		const struct pg_idx_comp *x = &h->comps[c];
		if (x->cls != PG_IDX_BLOCK || x->block_type != type || x->block_num != num)
			continue;
		int s = 1;
		if (e->state > 0 && h->exact && x->src < e->b->m.comps.n) {
			const struct pg_component *pc = &e->b->m.comps.v[x->src];
			uint8_t strict[32];
			if (pc->has_sha && ev->has_sha256 && memcmp(pc->sha256, ev->sha256, 32) == 0)
				s = 4;
			else if (ev->has_fp && strict_of(pc, strict) && memcmp(strict, ev->strict, 32) == 0)
				s = 3;
			else if (pc->has_fp && ev->has_fp && memcmp(pc->fp, ev->logic_fp, 32) == 0)
				s = 2;
		} else {
			if (x->has_sha && ev->has_sha256 && memcmp(x->sha, ev->sha256, PG_IDX_HASH) == 0)
				s = 4;
			else if (x->has_strict && ev->has_fp && memcmp(x->strict, ev->strict, PG_IDX_HASH) == 0)
				s = 3;
			else if (x->has_fp && ev->has_fp && memcmp(x->fp, ev->logic_fp, PG_IDX_HASH) == 0)
				s = 2;
		}
		if (s > best) {
			best = s;
			*comp = c;
		}
	}
	return best;
}

/* The checked manifest's component behind hint component c of entry i. */
static const struct pg_component *component(const struct pg_matcher *m, size_t i, size_t c)
{
	const struct ment *e = &m->e[i];
	if (e->state <= 0 || !e->h->exact || c >= e->h->n_comps)
		return NULL;
	uint32_t src = e->h->comps[c].src;
	return src < e->b->m.comps.n ? &e->b->m.comps.v[src] : NULL;
}

/* ------------------------------------------------------------- judging -- */

static void set_ref(struct pg_event *ev, const struct pg_baseline *b, int listed)
{
	struct pg_baseline_ref *r = &ev->base;
	memset(r, 0, sizeof *r);
	snprintf(r->id, sizeof r->id, "%s", b->id);
	snprintf(r->ticket, sizeof r->ticket, "%s", b->m.ticket ? b->m.ticket : "");
	r->has_window = b->m.has_window;
	r->win_from = (int64_t)b->m.win_from;
	r->win_to = (int64_t)b->m.win_to;
	r->in_window = b->m.has_window ? (ev->ts.tv_sec >= b->m.win_from && ev->ts.tv_sec <= b->m.win_to) : -1;
	r->target_listed = listed < 0 ? -1 : listed != 0;
}

static json_t *baseline_json(const struct pg_baseline *b, const struct pg_component *c,
			     struct pg_event *ev, int listed)
{
	set_ref(ev, b, listed);
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

static json_t *fields(struct pg_event *ev)
{
	return ev->fields ? ev->fields : (ev->fields = json_object());
}

/* Add entry ent to the candidate list once. */
static void cand_add(struct rank **v, size_t *n, size_t *cap, size_t ent)
{
	for (size_t i = 0; i < *n; i++)
		if ((*v)[i].ent == ent)
			return;
	if (*n == *cap) {
		*cap = *cap ? *cap * 2 : 16;
		*v = xrealloc(*v, *cap * sizeof **v);
	}
	memset(&(*v)[*n], 0, sizeof **v);
	(*v)[(*n)++].ent = ent;
}

/*
 * The best trusted baseline holding the block with score >= 2 (same bytes,
 * same bytes but the checksum, same logic): the candidates are the entries
 * whose hints share a prefix of the transfer's hash, strict hash or
 * fingerprint; checked in rank order until no candidate left can beat the
 * best found.  0 when there is none.
 */
static int block_match(struct pg_matcher *m, const struct pg_event *ev, uint8_t type,
		       uint16_t num, const struct dest *d, struct rank *best)
{
	struct rank *v = NULL;
	size_t n = 0, cap = 0, lo, hi;
	const struct { uint8_t kind; const uint8_t *h; int on; } src[] = {
		{ K_SHA, ev->sha256, ev->has_sha256 },
		{ K_STRICT, ev->strict, ev->has_fp },
		{ K_FP, ev->logic_fp, ev->has_fp },
	};
	for (size_t s = 0; s < 3; s++) {
		if (!src[s].on)
			continue;
		range(m, src[s].kind, src[s].h, &lo, &hi);
		for (size_t i = lo; i < hi; i++)
			if (m->e[m->k[i].ent].state >= 0)
				cand_add(&v, &n, &cap, m->k[i].ent);
	}
	for (size_t i = 0; i < n; i++) {
		struct rank *r = &v[i];
		r->score = block_score(m, r->ent, type, num, ev, &r->comp);
		r->listed = target_listed(m->e[r->ent].h, d);
		r->created = m->e[r->ent].h->created;
	}
	if (n > 1)
		qsort(v, n, sizeof *v, cmp_rank_desc);
	int found = 0;
	for (size_t i = 0; i < n; i++) {
		if (v[i].score < 2 || (found && !above(&v[i], best)))
			break;
		if (!resolve(m, v[i].ent))
			continue;
		struct rank r = { 0 };
		r.ent = v[i].ent;
		r.score = block_score(m, r.ent, type, num, ev, &r.comp);
		r.listed = target_listed(m->e[r.ent].h, d);
		r.created = m->e[r.ent].b->m.created;
		if (r.score >= 2 && (!found || above(&r, best))) {
			*best = r;
			found = 1;
		}
	}
	free(v);
	return found;
}

/*
 * No baseline has this block's logic: the one it DIFFERS from is the best
 * trusted baseline holding the block id at all, one that lists the PLC
 * first, then the newest, then the first in store order.  The keys of a
 * block id are sorted newest first (then store order), so the first trusted
 * entry that lists the PLC, or failing that the first trusted entry, is it.
 */
static int block_differs(struct pg_matcher *m, uint8_t type, uint16_t num,
			 const struct pg_event *ev, const struct dest *d, struct rank *best)
{
	uint8_t k[PG_IDX_HASH];
	size_t lo, hi;
	block_key(type, num, k);
	range(m, K_BLOCK, k, &lo, &hi);
	for (int pass = 0; pass < 2; pass++)
		for (size_t i = lo; i < hi; i++) {
			size_t ent = m->k[i].ent;
			if (m->e[ent].state < 0)
				continue;
			if (pass == 0 && target_listed(m->e[ent].h, d) != 1)
				continue;
			if (!resolve(m, ent))
				continue;
			struct rank r = { 0 };
			r.ent = ent;
			r.score = block_score(m, ent, type, num, ev, &r.comp);
			r.listed = target_listed(m->e[ent].h, d);
			r.created = m->e[ent].b->m.created;
			if (!r.score || (pass == 0 && r.listed != 1))
				continue; /* the hints said otherwise */
			*best = r;
			return 1;
		}
	return 0;
}

static void judge_block(struct pg_matcher *m, struct pg_event *ev, int upload)
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
	struct dest d;
	dest_of(ev, &d);
	struct rank best = { 0 };
	if (!block_match(m, ev, t, num, &d, &best) && !block_differs(m, t, num, ev, &d, &best)) {
		ev->verdict = PG_VERDICT_UNKNOWN;
		ev->sev = upload ? PG_SEV_WARNING : PG_SEV_ALERT;
		append_text(ev, " - UNKNOWN: %s is in no trusted baseline%s", id,
			    any_trusted(m) ? "" : " (no baselines loaded)");
		return;
	}
	const struct pg_baseline *b = m->e[best.ent].b;
	const struct pg_component *c = component(m, best.ent, best.comp);
	if (!c) { /* cannot happen: a checked entry's hints are its own */
		ev->verdict = PG_VERDICT_UNKNOWN;
		ev->sev = upload ? PG_SEV_WARNING : PG_SEV_ALERT;
		append_text(ev, " - UNKNOWN: %s is in no trusted baseline", id);
		return;
	}
	json_object_set_new(fields(ev), "baseline", baseline_json(b, c, ev, best.listed));
	static const char *const how[] = { "", "", "logic", "checksum", "exact" };
	if (best.score >= 2) {
		ev->verdict = PG_VERDICT_MATCHES;
		ev->sev = upload ? PG_SEV_INFO : PG_SEV_NOTICE;
		pg_event_set_str(ev, "match", how[best.score]);
		append_text(ev, " - MATCHES %s in baseline %s", c->name, b->id);
		if (best.score == 2)
			append_text(ev, "%s", " (same logic; only timestamps or header attributes differ)");
		else if (best.score == 3)
			append_text(ev, "%s", " (only the block checksum differs)");
	} else {
		ev->verdict = PG_VERDICT_DIFFERS;
		ev->sev = upload ? PG_SEV_WARNING : PG_SEV_ALERT;
		append_text(ev, " - DIFFERS from %s in baseline %s (other logic)", c->name, b->id);
	}
	if (best.listed == 0)
		append_text(ev, "%s", "; this PLC is not among the baseline's targets");
}

/* First component of entry i (checked) of class cls whose full SHA-256 is
 * h (any SHA-256 with h NULL for UMAS: the first image); hint index in *c. */
static const struct pg_component *find_comp(const struct pg_matcher *m, size_t i, int cls,
					    const uint8_t *h, size_t *cidx)
{
	const struct pg_idx_entry *x = m->e[i].h;
	for (size_t c = 0; c < x->n_comps; c++) {
		if (cls && x->comps[c].cls != cls)
			continue;
		const struct pg_component *pc = component(m, i, c);
		if (!pc)
			continue;
		if (h && !(pc->has_sha && memcmp(pc->sha256, h, 32) == 0))
			continue;
		*cidx = c;
		return pc;
	}
	return NULL;
}

static void judge_image(struct pg_matcher *m, struct pg_event *ev, int upload)
{
	struct dest d;
	dest_of(ev, &d);
	struct rank *v = NULL, best = { 0 };
	size_t n = 0, cap = 0, lo, hi;
	const struct pg_component *bc = NULL;
	range(m, K_SHA, ev->sha256, &lo, &hi);
	for (size_t i = lo; i < hi; i++)
		if (m->e[m->k[i].ent].state >= 0)
			cand_add(&v, &n, &cap, m->k[i].ent);
	for (size_t i = 0; i < n; i++) {
		v[i].score = 1;
		v[i].listed = target_listed(m->e[v[i].ent].h, &d);
		v[i].created = m->e[v[i].ent].h->created;
	}
	if (n > 1)
		qsort(v, n, sizeof *v, cmp_rank_desc);
	for (size_t i = 0; i < n; i++) {
		if (bc && !above(&v[i], &best))
			break;
		if (!resolve(m, v[i].ent))
			continue;
		size_t ci;
		const struct pg_component *pc = find_comp(m, v[i].ent, PG_IDX_UMAS, ev->sha256, &ci);
		if (!pc)
			continue;
		struct rank r = { 1, target_listed(m->e[v[i].ent].h, &d),
				  m->e[v[i].ent].b->m.created, v[i].ent, ci };
		if (!bc || above(&r, &best)) {
			best = r;
			bc = pc;
		}
	}
	free(v);
	if (bc) {
		const struct pg_baseline *b = m->e[best.ent].b;
		ev->verdict = PG_VERDICT_MATCHES;
		ev->sev = upload ? PG_SEV_INFO : PG_SEV_NOTICE;
		pg_event_set_str(ev, "match", "exact");
		json_object_set_new(fields(ev), "baseline", baseline_json(b, bc, ev, best.listed));
		append_text(ev, " - MATCHES %s in baseline %s", bc->name, b->id);
		if (best.listed == 0)
			append_text(ev, "%s", "; this PLC is not among the baseline's targets");
		return;
	}
	/* Not registered anywhere: DIFFERS if a baseline says which image
	 * this PLC should run (the newest such), UNKNOWN otherwise. */
	range(m, K_UMAS, NULL, &lo, &hi);
	for (size_t i = lo; i < hi && !bc; i++) {
		size_t ent = m->k[i].ent, ci;
		if (m->e[ent].state < 0 || target_listed(m->e[ent].h, &d) != 1 || !resolve(m, ent) ||
		    target_listed(m->e[ent].h, &d) != 1)
			continue;
		bc = find_comp(m, ent, PG_IDX_UMAS, NULL, &ci);
		best.ent = ent;
	}
	if (bc) {
		const struct pg_baseline *b = m->e[best.ent].b;
		ev->verdict = PG_VERDICT_DIFFERS;
		ev->sev = upload ? PG_SEV_WARNING : PG_SEV_ALERT;
		json_object_set_new(fields(ev), "baseline", baseline_json(b, bc, ev, 1));
		append_text(ev, " - DIFFERS from the application image %s approved for this PLC in baseline %s",
			    bc->name, b->id);
		return;
	}
	ev->verdict = PG_VERDICT_UNKNOWN;
	ev->sev = upload ? PG_SEV_WARNING : PG_SEV_ALERT;
	append_text(ev, " - UNKNOWN: this application image is in no trusted baseline%s",
		    any_trusted(m) ? "" : " (no baselines loaded)");
}

static int cmp_size(const void *a, const void *b)
{
	size_t x = *(const size_t *)a, y = *(const size_t *)b;
	return x < y ? -1 : x > y;
}

static void judge_file(struct pg_matcher *m, struct pg_event *ev)
{
	size_t lo, hi, n = 0;
	range(m, K_SHA, ev->sha256, &lo, &hi);
	size_t *v = xcalloc(hi - lo + 1, sizeof *v);
	for (size_t i = lo; i < hi; i++)
		if (m->e[m->k[i].ent].state >= 0)
			v[n++] = m->k[i].ent;
	qsort(v, n, sizeof *v, cmp_size);
	/* the first baseline in store order that holds these bytes */
	const struct pg_component *pc = NULL;
	size_t ent = 0, ci;
	for (size_t i = 0; i < n && !pc; i++)
		if ((i == 0 || v[i] != v[i - 1]) && resolve(m, v[i]))
			pc = find_comp(m, ent = v[i], 0, ev->sha256, &ci);
	free(v);
	if (pc) {
		const struct pg_baseline *b = m->e[ent].b;
		struct dest d;
		dest_of(ev, &d);
		ev->verdict = PG_VERDICT_MATCHES;
		ev->sev = PG_SEV_NOTICE;
		pg_event_set_str(ev, "match", "exact");
		json_object_set_new(fields(ev), "baseline",
				    baseline_json(b, pc, ev, target_listed(m->e[ent].h, &d)));
		append_text(ev, " - MATCHES %s in baseline %s", pc->name, b->id);
		return;
	}
	ev->verdict = PG_VERDICT_UNKNOWN;
	ev->sev = PG_SEV_ALERT;
	append_text(ev, " - UNKNOWN: these bytes are in no trusted baseline%s",
		    any_trusted(m) ? "" : " (no baselines loaded)");
}

int pg_event_is_transfer(const struct pg_event *ev)
{
	return pg_kind_is_transfer(ev->kind);
}

int pg_event_overlap_conflict(const struct pg_event *ev)
{
	return json_is_true(ev->fields ? json_object_get(ev->fields, "overlap_conflict") : NULL);
}

void pg_judge_event(void *arg, struct pg_event *ev)
{
	struct pg_matcher **m = arg;
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

void pg_match_event(struct pg_matcher *m, struct pg_event *ev)
{
	if (!pg_event_is_transfer(ev) || ev->verdict || !ev->has_sha256)
		return;
	struct pg_matcher empty;
	if (!m) {
		memset(&empty, 0, sizeof empty);
		m = &empty;
	}
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
