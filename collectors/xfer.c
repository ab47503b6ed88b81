/*
 * xfer.c - one transfer transaction (collectors/xfer.h).
 *
 * Storage: slots by index; slices that arrive in index order are appended to
 * one contiguous image and streamed into SHA-256 as they come (the usual
 * case: S7 slices always, UMAS blocks almost always), so a 64 MiB image is
 * neither copied again nor hashed at the end.  A slice ahead of the image
 * waits in a buffer of its own until the ones before it arrive.  Removing a
 * slice that is already in the image (a UMAS block the PLC refused) moves the
 * slices after it back out and marks the hash to be recomputed: rare, and
 * correct.  Sparse transfers (file records) keep every slice apart and build
 * the image when judged.
 *
 * Rejected: hashing slices as they arrive regardless of order (a refused or
 * conflicting copy would poison the hash); keeping only per-slice buffers and
 * concatenating at the end (a second copy of the whole image at the worst
 * moment, the end of a large download).
 */
#include "xfer.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "digest.h"

/* ---- budget ---- */

void pg_budget_init(struct pg_budget *b, struct pg_sniff *s, size_t cap)
{
	b->s = s;
	b->used = 0;
	b->cap = cap;
}

int pg_budget_charge(struct pg_budget *b, size_t n)
{
	if (n > b->cap || b->used > b->cap - n) {
		b->s->st.memcap_hits++;
		return -1;
	}
	if (pg_mem_charge(b->s, n) != 0)
		return -1;          /* counted (and reported) by pg_mem_charge */
	b->used += n;
	return 0;
}

void pg_budget_release(struct pg_budget *b, size_t n)
{
	if (n > b->used)
		n = b->used;
	pg_mem_release(b->s, n);
	b->used -= n;
}

/* ---- storage ---- */

/* Bytes charged for a slice held apart (malloc of 0 is avoided). */
static size_t held_sz(size_t len)
{
	return len ? len : 1;
}

void pg_xfer_init(struct pg_xfer *x, struct pg_budget *bud, size_t max_bytes,
		  size_t max_slices, int sparse)
{
	memset(x, 0, sizeof *x);
	x->bud = bud;
	x->max_bytes = max_bytes;
	x->max_slices = max_slices;
	x->sparse = sparse;
}

static void drop_all(struct pg_xfer *x)
{
	for (size_t i = 0; i < x->cap; i++) {
		struct pg_xslice *s = &x->sl[i];
		if (s->data) {
			free(s->data);
			pg_budget_release(x->bud, held_sz(s->len));
			s->data = NULL;
		}
		s->in_img = 0;
	}
	if (x->img) {
		free(x->img);
		pg_budget_release(x->bud, x->img_cap);
		x->img = NULL;
	}
	x->img_len = x->img_cap = x->img_slices = 0;
	x->nheld = 0;
	if (x->h) {
		pg_sha256_free(x->h);
		x->h = NULL;
	}
}

void pg_xfer_free(struct pg_xfer *x)
{
	if (!x->bud)
		return;
	drop_all(x);
	if (x->sl) {
		free(x->sl);
		pg_budget_release(x->bud, x->cap * sizeof *x->sl);
	}
	x->sl = NULL;
	x->cap = x->n = 0;
}

/* Stop collecting: the verdict will say why (capped or memfail). */
static enum pg_xput give_up(struct pg_xfer *x, enum pg_xput why)
{
	if (why == PG_XPUT_CAP)
		x->capped = 1;
	else
		x->memfail = 1;
	drop_all(x);
	return why;
}

static int slots(struct pg_xfer *x, size_t need)
{
	if (need <= x->cap)
		return 0;
	size_t nc = x->cap ? x->cap : 16;
	while (nc < need)
		nc = nc > x->max_slices / 2 ? x->max_slices : nc * 2;
	if (nc < need)
		return -1;
	size_t add = (nc - x->cap) * sizeof *x->sl;
	if (pg_budget_charge(x->bud, add) != 0)
		return -1;
	struct pg_xslice *ns = realloc(x->sl, nc * sizeof *ns);
	if (!ns) {
		pg_budget_release(x->bud, add);
		return -1;
	}
	memset(ns + x->cap, 0, add);
	x->sl = ns;
	x->cap = nc;
	return 0;
}

static int img_reserve(struct pg_xfer *x, size_t need)
{
	if (need <= x->img_cap)
		return 0;
	size_t nc = x->img_cap ? x->img_cap : 1024;
	while (nc < need)
		nc *= 2;
	if (nc > x->max_bytes && need <= x->max_bytes)
		nc = x->max_bytes;
	if (pg_budget_charge(x->bud, nc - x->img_cap) != 0)
		return -1;
	uint8_t *ni = realloc(x->img, nc);
	if (!ni) {
		pg_budget_release(x->bud, nc - x->img_cap);
		return -1;
	}
	x->img = ni;
	x->img_cap = nc;
	return 0;
}

/* Append slice s's bytes p[0..n) to the image and the streaming hash. */
static int img_append(struct pg_xfer *x, struct pg_xslice *s, const uint8_t *p, size_t n)
{
	if (img_reserve(x, x->img_len + n) != 0)
		return -1;
	if (n)
		memcpy(x->img + x->img_len, p, n);
	if (!x->h && !x->h_dirty && !(x->h = pg_sha256_new()))
		x->h_dirty = 1;
	if (x->h && !x->h_dirty)
		pg_sha256_update(x->h, x->img + x->img_len, n);
	s->off = x->img_len;
	s->in_img = 1;
	x->img_len += n;
	x->img_slices++;
	return 0;
}

/* Move held slices at img_slices, img_slices+1 ... into the image while
 * present (a slice already there only advances the count). */
static int img_pull(struct pg_xfer *x)
{
	while (x->img_slices < x->n && x->sl[x->img_slices].present) {
		struct pg_xslice *s = &x->sl[x->img_slices];
		if (s->in_img) {
			x->img_slices++;
			continue;
		}
		uint8_t *held = s->data;
		if (img_append(x, s, held, s->len) != 0)
			return -1;
		if (held) {
			free(held);
			pg_budget_release(x->bud, held_sz(s->len));
			s->data = NULL;
			x->nheld--;
		}
	}
	return 0;
}

static const uint8_t *slice_bytes(const struct pg_xfer *x, const struct pg_xslice *s)
{
	return s->in_img ? x->img + s->off : s->data;
}

enum pg_xput pg_xfer_put(struct pg_xfer *x, size_t index, const uint8_t *p, size_t n,
			 int acked, uint16_t tag)
{
	if (x->capped || x->memfail)
		return x->capped ? PG_XPUT_CAP : PG_XPUT_MEM;
	if (index >= x->max_slices) {
		x->bad_index = 1;
		return PG_XPUT_INDEX;
	}
	if (n > x->max_bytes)
		return give_up(x, PG_XPUT_CAP);
	if (slots(x, index + 1) != 0)
		return give_up(x, PG_XPUT_MEM);
	struct pg_xslice *s = &x->sl[index];
	if (s->present) {
		const uint8_t *old = slice_bytes(x, s);
		int same = s->len == n && (n == 0 || memcmp(old, p, n) == 0);
		if (same) {
			x->dups++;
			s->acked |= (uint8_t)acked;
			return PG_XPUT_DUP;
		}
		if (!x->sparse) {
			x->conflict = 1;        /* first copy kept */
			return PG_XPUT_CONFLICT;
		}
		/* sparse: the later write is what the device holds now */
		if (x->bytes - s->len > x->max_bytes - n)
			return give_up(x, PG_XPUT_CAP);
		if (pg_budget_charge(x->bud, held_sz(n)) != 0)
			return give_up(x, PG_XPUT_MEM);
		uint8_t *nd = malloc(held_sz(n));
		if (!nd) {
			pg_budget_release(x->bud, held_sz(n));
			return give_up(x, PG_XPUT_MEM);
		}
		if (n)
			memcpy(nd, p, n);
		free(s->data);
		pg_budget_release(x->bud, held_sz(s->len));
		x->bytes = x->bytes - s->len + n;
		s->data = nd;
		s->len = (uint32_t)n;
		s->acked = (uint8_t)acked;
		s->tag = tag;
		return PG_XPUT_REPLACED;
	}
	if (x->bytes > x->max_bytes - n)
		return give_up(x, PG_XPUT_CAP);
	s->present = 1;
	s->len = (uint32_t)n;
	s->acked = (uint8_t)acked;
	s->tag = tag;
	s->in_img = 0;
	x->bytes += n;
	if (index + 1 > x->n)
		x->n = index + 1;
	if (!x->sparse && index == x->img_slices) {
		/* in order: straight into the image, no copy of its own */
		if (img_append(x, s, p, n) != 0)
			return give_up(x, PG_XPUT_MEM);
		if (x->nheld && img_pull(x) != 0)
			return give_up(x, PG_XPUT_MEM);
		return PG_XPUT_OK;
	}
	if (pg_budget_charge(x->bud, held_sz(n)) != 0)
		return give_up(x, PG_XPUT_MEM);
	s->data = malloc(held_sz(n));
	if (!s->data) {
		pg_budget_release(x->bud, held_sz(n));
		return give_up(x, PG_XPUT_MEM);
	}
	if (n)
		memcpy(s->data, p, n);
	x->nheld++;
	return PG_XPUT_OK;
}

enum pg_xput pg_xfer_append(struct pg_xfer *x, const uint8_t *p, size_t n)
{
	return pg_xfer_put(x, x->n, p, n, 1, 0);
}

/* Take slices index.. out of the image again (their bytes kept apart). */
static int img_cut(struct pg_xfer *x, size_t index)
{
	for (size_t j = index + 1; j < x->img_slices; j++) {
		struct pg_xslice *s = &x->sl[j];
		if (pg_budget_charge(x->bud, held_sz(s->len)) != 0)
			return -1;
		s->data = malloc(held_sz(s->len));
		if (!s->data) {
			pg_budget_release(x->bud, held_sz(s->len));
			return -1;
		}
		if (s->len)
			memcpy(s->data, x->img + s->off, s->len);
		s->in_img = 0;
		x->nheld++;
	}
	x->img_len = x->sl[index].off;
	x->img_slices = index;
	x->h_dirty = 1;
	return 0;
}

void pg_xfer_answer(struct pg_xfer *x, size_t index, uint16_t tag, int ok)
{
	if (index >= x->n || x->capped || x->memfail)
		return;
	struct pg_xslice *s = &x->sl[index];
	if (!s->present || s->acked || s->tag != tag)
		return;
	if (ok) {
		s->acked = 1;
		return;
	}
	if (s->in_img) {
		if (img_cut(x, index) != 0) {
			give_up(x, PG_XPUT_MEM);
			return;
		}
	} else if (s->data) {
		free(s->data);
		pg_budget_release(x->bud, held_sz(s->len));
		x->nheld--;
	}
	x->bytes -= s->len;
	memset(s, 0, sizeof *s);
	x->refused_slices++;
}

/* ---- verdict ---- */

static void set(struct pg_xfer_out *o, enum pg_verdict verdict, const char *reason,
		const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void set(struct pg_xfer_out *o, enum pg_verdict verdict, const char *reason,
		const char *fmt, ...)
{
	va_list ap;
	o->verdict = verdict;
	o->reason = reason;
	va_start(ap, fmt);
	vsnprintf(o->why, sizeof o->why, fmt, ap);
	va_end(ap);
}

/* The whole image, hashed: streamed when possible, else built and hashed. */
static int image(struct pg_xfer *x, struct pg_xfer_out *o)
{
	if (x->capped || x->memfail)
		return -1;
	if (x->sparse) {
		/* present slices in index order, holes skipped */
		size_t len = 0;
		for (size_t i = 0; i < x->n; i++)
			if (x->sl[i].present)
				len += x->sl[i].len;
		if (img_reserve(x, len ? len : 1) != 0)
			return -1;
		size_t off = 0;
		for (size_t i = 0; i < x->n; i++) {
			const struct pg_xslice *s = &x->sl[i];
			if (s->present && s->len) {
				memcpy(x->img + off, s->data, s->len);
				off += s->len;
			}
		}
		x->img_len = off;
		x->h_dirty = 1;
	} else if (x->img_slices != x->n) {
		return -1;           /* holes: not a whole image */
	}
	if (x->h && !x->h_dirty) {
		pg_sha256_final(x->h, o->sha256);
		x->h_dirty = 1;      /* finalised: a second judge recomputes */
	} else {
		pg_sha256(x->img ? x->img : (const uint8_t *)"", x->img_len, o->sha256);
	}
	o->has_sha = 1;
	o->image = x->img ? x->img : (const uint8_t *)"";
	o->len = x->img_len;
	return 0;
}

void pg_xfer_judge(struct pg_xfer *x, const char *closing, struct pg_xfer_out *o)
{
	memset(o, 0, sizeof *o);
	unsigned holes = 0, unacked = 0;
	if (!x->sparse)
		for (size_t i = 0; i < x->n && i < x->cap; i++) {
			if (!x->sl[i].present)
				holes++;
			else if (!x->sl[i].acked)
				unacked++;
		}
	unsigned req_missing = x->requested > x->answered ? x->requested - x->answered : 0;
	o->missing = holes + req_missing;
	o->unacked = unacked;
	const char *cl = closing ? closing : "";
	const char *sep = closing ? ": " : "";
	int hash_invalid = 0;

	/* Most decisive first: an invalid transfer beats an incomplete one. */
	if (x->capped)
		set(o, PG_VERDICT_INVALID, PG_XR_SIZECAP,
		    "more bytes than a transfer of this kind may hold (%zu)", x->max_bytes);
	else if (x->conflict) {
		set(o, PG_VERDICT_INVALID, PG_XR_CONFLICT,
		    "a slice came twice with different bytes (the first copy was kept)");
		hash_invalid = 1;
	} else if (x->bad_index)
		set(o, PG_VERDICT_INVALID, PG_XR_INDEX, "a slice number is out of range");
	else if (x->memfail)
		set(o, PG_VERDICT_INCOMPLETE, PG_XR_MEMCAP, "the memory limit stopped the reassembly");
	else if (o->missing)
		set(o, PG_VERDICT_INCOMPLETE, PG_XR_MISSING, "%u slice(s) not seen (%u requested and "
		    "not answered, %u numbers absent)", o->missing, req_missing, holes);
	else if (x->n == 0)
		set(o, PG_VERDICT_INCOMPLETE, PG_XR_NODATA, "no data was seen%s%s", sep, cl);
	else if (x->expect_last && !x->last_seen && !x->slice_err)
		set(o, PG_VERDICT_INCOMPLETE, PG_XR_LAST, "the last slice was not seen%s%s", sep, cl);
	else if (x->need_end && !x->end_seen)
		set(o, PG_VERDICT_INCOMPLETE, PG_XR_END, "the end that declares the slice count was "
		    "not seen%s%s", sep, cl);
	else if (x->has_count && x->count != x->n)
		set(o, PG_VERDICT_INCOMPLETE, PG_XR_COUNT, "%zu slices declared, %zu seen",
		    x->count, x->n);
	else if (x->slice_err) {
		set(o, PG_VERDICT_INVALID, PG_XR_SLICE_ERR,
		    "a data reply carried an error or was malformed");
		hash_invalid = 1;
	} else if (x->has_announced && x->bytes != x->announced) {
		char w[96];
		snprintf(w, sizeof w, "received %zu bytes, %llu were announced", x->bytes,
			 (unsigned long long)x->announced);
		hash_invalid = 1;
		set(o, PG_VERDICT_INVALID, PG_XR_SIZE, "%s", w);
		if (x->gaps || x->midstream)
			pg_xfer_content_fail(x, o, PG_XR_SIZE, w);
	}
	if (!o->verdict || (hash_invalid && o->verdict == PG_VERDICT_INVALID))
		image(x, o);
}

void pg_xfer_content_fail(const struct pg_xfer *x, struct pg_xfer_out *o,
			  const char *reason, const char *why)
{
	char w[240];
	snprintf(w, sizeof w, "%.200s", why);
	if (x->gaps || x->midstream) {
		/* bytes may have been lost where no request was seen to miss them */
		o->verdict = PG_VERDICT_INCOMPLETE;
		o->reason = x->gaps ? PG_XR_GAP : PG_XR_MIDSTREAM;
		snprintf(o->why, sizeof o->why, "%s after %s", w, x->gaps ?
			 "a capture gap" : "the capture started in the middle of the transfer");
		o->has_sha = 0;
		o->image = NULL;
		o->len = 0;
	} else {
		o->verdict = PG_VERDICT_INVALID;
		o->reason = reason;
		snprintf(o->why, sizeof o->why, "%s", w);
	}
}

void pg_xfer_event(const struct pg_xfer *x, const struct pg_xfer_out *o,
		   int download, const char *err_name, struct pg_event *ev)
{
	size_t present = 0;
	for (size_t i = 0; i < x->n && i < x->cap; i++)
		present += x->sl[i].present;
	ev->verdict = o->verdict;
	ev->sev = o->verdict ? PG_SEV_WARNING : PG_SEV_NOTICE;
	if (o->reason)
		pg_event_set_str(ev, "reason", o->reason);
	if (!x->capped && !x->memfail)
		ev->size = (int64_t)x->bytes;
	if (o->has_sha) {
		memcpy(ev->sha256, o->sha256, 32);
		ev->has_sha256 = 1;
		ev->payload = o->image;
		ev->payload_len = o->len;
	}
	pg_event_set_int(ev, "slices", (long long)present);
	if (x->requested || x->answered)
		pg_event_set_int(ev, "slices_requested", x->requested);
	if (x->unpaired)
		pg_event_set_int(ev, "slices_unpaired", x->unpaired);
	if (o->missing)
		pg_event_set_int(ev, "slices_missing", o->missing);
	if (o->unacked)
		pg_event_set_int(ev, "slices_unacked", o->unacked);
	if (x->gaps)
		pg_event_set_int(ev, "gaps", (long long)x->gaps);
	if (x->dups)
		pg_event_set_int(ev, "duplicates", x->dups);
	if (x->refused_slices)
		pg_event_set_int(ev, "refused_slices", x->refused_slices);
	if (x->conflict)
		pg_event_set_bool(ev, "duplicate_conflict", 1);
	if (x->tcp_conflict)
		pg_event_set_bool(ev, "overlap_conflict", 1);
	if (download) {
		pg_event_set_bool(ev, "end_seen", x->end_seen);
		/* only logic whose end the PLC confirmed can be running */
		pg_event_set_bool(ev, "accepted", x->end_answered && !x->refused);
		if (x->refused) {
			pg_event_set_bool(ev, "refused", 1);
			if (x->err)
				pg_event_set_int(ev, "error_code", x->err);
			if (err_name)
				pg_event_set_str(ev, "error_name", err_name);
		}
	}
	if (o->verdict == PG_VERDICT_INCOMPLETE)
		x->bud->s->st.transfers_incomplete++;
	else
		x->bud->s->st.transfers_complete++;
}
