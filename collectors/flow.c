/*
 * flow.c - TCP flow table and per-direction stream reassembly
 * (collectors/flow.h).
 *
 * Table: chained hash on the normalised 5-tuple (the lower endpoint first, so
 * both orientations find one flow), seeded per table from its own address
 * and the first packet's time, so that a sender cannot precompute colliding
 * tuples.  A doubly linked LRU list (most recent at the head) gives O(1)
 * eviction when cfg.max_flows is reached and an idle scan that stops at the
 * first flow still alive (O(expired), not O(flows)).  A flow that closed
 * (FIN both ways, RST) stays as a small tombstone for PG_FLOW_TOMBSTONE_S so
 * that the last ACK or a late retransmission does not start a spurious
 * mid-stream flow; a SYN on its tuple replaces it.
 *
 * Per direction ("half"):
 *
 *     seq space:   ...delivered...|next     hole     [seg][seg]  [seg]
 *                  <- window ring>|<-------- ooo list, sorted -------->
 *     stream off:  off = bytes delivered + bytes declared missing (gaps)
 *
 *  - in-order bytes go to app->data straight from the packet buffer (no copy
 *    except into the window ring);
 *  - segments ahead of `next` are copied into a sorted singly linked list;
 *    overlaps with what is buffered keep the first copy and compare the rest
 *    (a difference is an evasion signal: "tcp.overlap_conflict");
 *  - bytes before `next` are retransmissions: compared with the ring of the
 *    last PG_FLOW_WIN_MAX delivered bytes, then dropped;
 *  - holes become app->gap + "tcp.gap" when the buffer cap is hit (skip to
 *    the first buffered segment), when the peer has ACKed bytes we never saw,
 *    when a snaplen cut leaves `missing` bytes, and at close.
 *
 * ACK-proven holes (the peer ACKed bytes the capture does not have) are
 * applied lazily, but never later than causality allows:
 *
 *   Causal order.  A data segment was sent after its sender had received
 *   everything it acknowledges, so those bytes of the other direction must
 *   reach the application first: a reply is never handed over before the
 *   request it answers.  When such a segment ACKs bytes the capture has not
 *   shown, it is parked (one per flow, a copy charged to the budget) until
 *     - the missing bytes arrive (a SPAN port or multi-queue capture often
 *       records a segment a few microseconds after the peer's data that
 *       ACKs it: s7comm_clean.pcap does so a dozen times), then everything
 *       is delivered in causal order with no gap; or
 *     - loss is proved: the other direction sends data beyond the hole, the
 *       parked direction sends more data (or its FIN), PG_FLOW_PARK_NS of
 *       packet time pass, or the flow ends.  Then the hole below the parked
 *       ACK is declared a gap, the bytes held behind it are delivered, and
 *       then the parked segment.
 *   A bare ACK parks nothing and releases nothing: it only records how far
 *   the peer got; the hole is then applied when later data of the same
 *   direction arrives beyond it, or at close.
 *
 * This is what makes filtered exports work (`tshark -Y s7comm -w`: STEP 7's
 * empty COTP DT before every PDU and the bare ACKs are gone, so each ES PDU
 * sits behind a 7-byte hole that no later ES byte fills before the PLC
 * answers).  Before, a direction waited for more data of its own while the
 * other ran on, and the S7 session saw the PLC's replies before the requests.
 * Suricata's IDS-mode stream engine (release by ACK) and Zeek's "ACK above
 * hole" content gaps follow the same reasoning; the parking step is ours, so
 * that SPAN reordering costs no PDU.
 *
 * Sequence numbers are compared with 32-bit wraparound (RFC 793 / 1982
 * serial arithmetic) through seq_diff(); stream offsets are 64-bit.
 * Memory held on behalf of traffic (flows, window rings, buffered segments)
 * is charged with pg_mem_charge(); buffered segments are also capped per
 * flow by cfg.flow_mem_max and per direction by PG_FLOW_MAX_SEGS.
 */
#include "flow.h"

#include <stdlib.h>
#include <string.h>

/* ---- data structures ---- */

struct seg {
	struct seg *next;
	struct pg_pktinfo pi;  /* the packet that carried it: PDUs completed by
				  buffered bytes keep their own frame and time */
	uint32_t seq;
	uint32_t len;
	uint8_t data[];
};

/* The last delivered bytes of one direction; cap is 0 or a power of two. */
struct ring {
	uint8_t *buf;
	size_t cap;
	size_t len;        /* valid bytes, ending just before `head` */
	size_t head;
};

struct half {
	uint32_t next;     /* next expected sequence number */
	uint32_t acked;    /* highest peer ACK beyond next (when has_ack) */
	uint32_t fin_seq;  /* sequence number of our FIN (when has_fin) */
	uint32_t isn;      /* our SYN's sequence number (when has_isn) */
	uint64_t off;      /* stream offset of `next` */
	struct seg *ooo;   /* buffered segments, sorted, all beyond `next` */
	uint32_t nsegs;
	uint8_t has_next, has_ack, has_fin, has_isn;
	struct ring win;
	uint64_t ngaps;    /* gaps in this direction (events are rate-limited) */
	uint64_t gap_bytes;
};

/*
 * A data segment whose ACK covers bytes of the other direction that the
 * capture has not shown yet (see "Causal order" in the header comment).  It
 * waits, at most one per flow, until those bytes arrive or are proved lost.
 */
struct parked {
	int dir;
	uint32_t seq, ack;         /* its first sequence number; the ACK it carries */
	size_t len, missing;
	struct pg_pktinfo pi;
	uint8_t data[];
};

struct fkey {
	uint8_t a[16], b[16];
	uint16_t pa, pb;
	uint8_t af;
	uint8_t pad[3];    /* zeroed: keys are compared with memcmp */
};

struct flow {
	struct flow *hnext;
	struct flow *prev, *next;  /* LRU: prev = more recent */
	uint64_t hash;
	struct fkey key;
	struct pg_flowinfo fi;
	const struct pg_app_ops *ops;
	void *app;
	struct half h[2];          /* PG_DIR_C2S, PG_DIR_S2C */
	struct parked *park;       /* a data segment waiting for the bytes it ACKs */
	size_t ooo_mem;            /* buffered bytes of both directions */
	int64_t last;              /* packet time of the last segment, seconds */
	int closed;
};

struct flowtab {
	struct pg_sniff *s;
	const struct pg_app_ops *s7, *modbus;
	struct flow **bkt;
	size_t mask;
	struct flow *lru_head, *lru_tail;
	size_t n;          /* flows in the table, tombstones included */
	size_t nlive;      /* open flows */
	uint64_t seed;
	int seeded;
	uint64_t next_id;
	int64_t last_check;
	uint32_t since_check;
	struct flowtab_counts cnt;
};

/* ---- small helpers ---- */

/* a - b in serial arithmetic: positive when a is after b. */
static inline int64_t seq_diff(uint32_t a, uint32_t b)
{
	uint32_t d = a - b;
	return d < 0x80000000u ? (int64_t)d : (int64_t)d - 0x100000000LL;
}

static inline uint64_t rotl64(uint64_t x, int r)
{
	return (x << r) | (x >> (64 - r));
}

static inline uint64_t mix64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	x ^= x >> 33;
	return x;
}

/* Keyed multiply-rotate over the 40-byte key, murmur-style finaliser.  Not a
 * MAC (SipHash was considered and judged slower than the threat warrants):
 * the seed is unknown to the sender, which is what defeats precomputed
 * collision sets; chains are walked anyway, so collisions cost time only. */
static uint64_t flow_hash(const struct fkey *k, uint64_t seed)
{
	uint64_t w[5];
	_Static_assert(sizeof *k == sizeof w, "fkey must be 40 bytes");
	memcpy(w, k, sizeof w);
	uint64_t h = seed;
	for (int i = 0; i < 5; i++) {
		h ^= w[i] * 0x9E3779B97F4A7C15ULL;
		h = rotl64(h, 29) * 0xBF58476D1CE4E5B9ULL;
	}
	return mix64(h);
}

/* p + n, except that a snaplen cut may leave p NULL with no bytes
 * (NULL + 0 is undefined behaviour in C, and clang's UBSan says so). */
static inline const uint8_t *adv(const uint8_t *p, size_t n)
{
	return p ? p + n : p;
}

static int64_t pkt_sec(const struct pg_pktinfo *pi)
{
	return pi ? (int64_t)pi->ts.tv_sec : 0;
}

static const char *dir_name(int dir)
{
	return dir == PG_DIR_C2S ? "c2s" : "s2c";
}

/* ---- window ring ---- */

static void ring_free(struct pg_sniff *s, struct ring *r)
{
	if (r->buf) {
		free(r->buf);
		pg_mem_release(s, r->cap);
	}
	memset(r, 0, sizeof *r);
}

static void ring_grow(struct pg_sniff *s, struct ring *r, size_t want)
{
	size_t ncap = r->cap ? r->cap * 2 : PG_FLOW_WIN_MIN;
	while (ncap < want && ncap < PG_FLOW_WIN_MAX)
		ncap *= 2;
	if (ncap > PG_FLOW_WIN_MAX)
		ncap = PG_FLOW_WIN_MAX;
	if (ncap <= r->cap)
		return;
	/* Under memory pressure the window stays as it is: retransmissions
	 * are then compared over fewer bytes, nothing else changes. */
	if (pg_mem_charge(s, ncap - r->cap) != 0)
		return;
	uint8_t *nb = malloc(ncap);
	if (!nb) {
		pg_mem_release(s, ncap - r->cap);
		return;
	}
	/* Linearise: the valid bytes end at head. */
	size_t len = r->len;
	if (len) {
		size_t start = (r->head - len) & (r->cap - 1);
		size_t first = r->cap - start < len ? r->cap - start : len;
		memcpy(nb, r->buf + start, first);
		memcpy(nb + first, r->buf, len - first);
	}
	free(r->buf);
	r->buf = nb;
	r->cap = ncap;
	r->head = len & (ncap - 1);
}

static void ring_append(struct pg_sniff *s, struct ring *r, const uint8_t *p,
			size_t n)
{
	if (r->cap < PG_FLOW_WIN_MAX && r->len + n > r->cap)
		ring_grow(s, r, r->len + n);
	if (!r->cap || !n)
		return;
	if (n >= r->cap) {
		memcpy(r->buf, p + (n - r->cap), r->cap);
		r->head = 0;
		r->len = r->cap;
		return;
	}
	size_t first = r->cap - r->head < n ? r->cap - r->head : n;
	memcpy(r->buf + r->head, p, first);
	memcpy(r->buf, p + first, n - first);
	r->head = (r->head + n) & (r->cap - 1);
	r->len = r->len + n > r->cap ? r->cap : r->len + n;
}

/*
 * Compare p[0..n) with the delivered bytes that sat `back` bytes before the
 * end of the ring (back >= n).  Only the part still in the ring is compared.
 * Returns -1 on a difference, 1 when some bytes compared equal, 0 when none
 * could be compared.
 */
static int ring_compare(const struct ring *r, const uint8_t *p, size_t n,
			uint64_t back)
{
	if (!r->len || back > r->len + (uint64_t)n)
		return 0;
	size_t skip = back > r->len ? (size_t)(back - r->len) : 0;
	if (skip >= n)
		return 0;
	size_t pos = (r->head - (size_t)(back - skip)) & (r->cap - 1);
	size_t left = n - skip;
	p += skip;
	while (left) {
		size_t chunk = r->cap - pos < left ? r->cap - pos : left;
		if (memcmp(r->buf + pos, p, chunk) != 0)
			return -1;
		p += chunk;
		left -= chunk;
		pos = (pos + chunk) & (r->cap - 1);
	}
	return 1;
}

/* ---- events ---- */

/*
 * Gap events per direction: the first PG_FLOW_GAP_EVENTS one by one, later
 * ones at the 128th, 256th, 512th ... with the running totals.  A sender that
 * leaves a one-byte hole before each of its one-byte segments forces a gap
 * per packet once the segment cap is full (holes1.pcap: 100,000 packets were
 * 100,000 warnings); every gap is still counted and still reaches the
 * application.
 */
#define PG_FLOW_GAP_EVENTS 64

static void ev_gap(struct flowtab *ft, struct flow *f, int dir, uint64_t n,
		   uint64_t off, const struct pg_pktinfo *pi)
{
	struct half *h = &f->h[dir];
	uint64_t k = ++h->ngaps;
	h->gap_bytes += n;
	if (k > PG_FLOW_GAP_EVENTS && (k & (k - 1)) != 0)
		return;
	struct pg_event ev;
	pg_event_wire(&ev, &f->fi, pi, "tcp", PG_K_TCP_GAP, PG_SEV_WARNING);
	pg_event_text(&ev, "%llu bytes missing from the %s stream at offset %llu%s",
		      (unsigned long long)n, dir_name(dir),
		      (unsigned long long)off,
		      k < PG_FLOW_GAP_EVENTS ? "" :
		      " (many gaps in this direction: further ones are reported "
		      "at each power of two, with totals)");
	pg_event_set_str(&ev, "dir", dir_name(dir));
	pg_event_set_int(&ev, "bytes", (long long)n);
	pg_event_set_int(&ev, "offset", (long long)off);
	if (k >= PG_FLOW_GAP_EVENTS) {
		pg_event_set_int(&ev, "gaps", (long long)k);
		pg_event_set_int(&ev, "gap_bytes", (long long)h->gap_bytes);
	}
	pg_sniff_emit(ft->s, &ev);
}

static void ev_conflict(struct flowtab *ft, struct flow *f, int dir,
			uint32_t seq, size_t len, uint64_t off,
			const struct pg_pktinfo *pi)
{
	ft->s->st.overlap_conflicts++;
	struct pg_event ev;
	pg_event_wire(&ev, &f->fi, pi, "tcp", PG_K_TCP_OVERLAP_CONFLICT,
		      PG_SEV_ALERT);
	pg_event_text(&ev, "TCP segment of %zu bytes at %s stream offset %llu "
		      "overlaps earlier bytes with different content; the first "
		      "copy was kept", len, dir_name(dir),
		      (unsigned long long)off);
	pg_event_set_str(&ev, "dir", dir_name(dir));
	pg_event_set_int(&ev, "seq", (long long)seq);
	pg_event_set_int(&ev, "length", (long long)len);
	pg_event_set_int(&ev, "offset", (long long)off);
	pg_sniff_emit(ft->s, &ev);
	if (f->app && f->ops->conflict)
		f->ops->conflict(f->app, dir, pi);
}

static void ev_flow(struct flowtab *ft, struct flow *f, enum pg_kind kind,
		    enum pg_sev sev, const char *why, const struct pg_pktinfo *pi)
{
	struct pg_event ev;
	pg_event_wire(&ev, &f->fi, pi, "tcp", kind, sev);
	pg_event_text(&ev, "flow %llu %s:%u -> %s:%u %s",
		      (unsigned long long)f->fi.id, f->fi.cli.addr,
		      f->fi.cli.port, f->fi.srv.addr, f->fi.srv.port, why);
	pg_sniff_emit(ft->s, &ev);
}

/* ---- one direction: deliver, gap, buffer ---- */

static void half_deliver(struct flowtab *ft, struct flow *f, int dir,
			 const uint8_t *p, size_t n, const struct pg_pktinfo *pi)
{
	struct half *h = &f->h[dir];
	if (!n)
		return;
	if (f->app && f->ops->data)
		f->ops->data(f->app, dir, p, n, pi);
	ring_append(ft->s, &h->win, p, n);
	h->next += (uint32_t)n;
	h->off += n;
	/* A mark we have passed must not come back 2^31 bytes later as a
	 * phantom hole through sequence-number wraparound. */
	if (h->has_ack && seq_diff(h->acked, h->next) <= 0)
		h->has_ack = 0;
}

static void half_gap(struct flowtab *ft, struct flow *f, int dir, uint64_t n,
		     const struct pg_pktinfo *pi)
{
	struct half *h = &f->h[dir];
	if (!n)
		return;
	ft->s->st.gaps++;
	ft->s->st.gap_bytes += n;
	ev_gap(ft, f, dir, n, h->off, pi);
	if (f->app && f->ops->gap)
		f->ops->gap(f->app, dir, n, pi);
	h->next += (uint32_t)n;
	h->off += n;
	/* The ring must stay contiguous with `next`: forget it. */
	h->win.len = 0;
	if (h->has_ack && seq_diff(h->acked, h->next) <= 0)
		h->has_ack = 0;
}

static void seg_free(struct flowtab *ft, struct flow *f, struct half *h,
		     struct seg *x)
{
	size_t sz = sizeof *x + x->len;
	f->ooo_mem -= sz;
	pg_mem_release(ft->s, sz);
	h->nsegs--;
	free(x);
}

/* Deliver buffered segments that now touch `next`. */
static void half_drain(struct flowtab *ft, struct flow *f, int dir,
		       const struct pg_pktinfo *pi)
{
	struct half *h = &f->h[dir];
	struct seg *x;
	while ((x = h->ooo)) {
		int64_t xs = seq_diff(x->seq, h->next);
		if (xs > 0)
			break;
		uint64_t skip = (uint64_t)-xs;
		h->ooo = x->next;
		if (skip < x->len)
			half_deliver(ft, f, dir, x->data + skip, x->len - skip,
				     x->pi.frame ? &x->pi : pi);
		seg_free(ft, f, h, x);
	}
}

/* The hole before the first buffered segment will not fill: skip it. */
static void half_skip_first(struct flowtab *ft, struct flow *f, int dir,
			    const struct pg_pktinfo *pi)
{
	struct half *h = &f->h[dir];
	if (!h->ooo)
		return;
	int64_t d = seq_diff(h->ooo->seq, h->next);
	if (d > 0)
		half_gap(ft, f, dir, (uint64_t)d, pi);
	half_drain(ft, f, dir, pi);
}

static void half_apply_upto(struct flowtab *ft, struct flow *f, int dir, uint32_t upto,
			    const struct pg_pktinfo *pi);

/* The peer ACKed up to h->acked: every hole below it is lost. */
static void half_apply_ack(struct flowtab *ft, struct flow *f, int dir,
			   const struct pg_pktinfo *pi)
{
	struct half *h = &f->h[dir];
	if (!h->has_ack)
		return;
	half_apply_upto(ft, f, dir, h->acked, pi);
	h->has_ack = 0;
}

/* Everything buffered goes out, holes as gaps (close, eviction, timeout). */
static void half_flush(struct flowtab *ft, struct flow *f, int dir,
		       const struct pg_pktinfo *pi)
{
	struct half *h = &f->h[dir];
	if (!h->has_next)
		return;
	half_drain(ft, f, dir, pi);
	while (h->ooo)
		half_skip_first(ft, f, dir, pi);
	half_apply_ack(ft, f, dir, pi);
}

/* The peer's hole below `upto` is lost: declare it (not beyond `upto`). */
static void half_apply_upto(struct flowtab *ft, struct flow *f, int dir, uint32_t upto,
			    const struct pg_pktinfo *pi)
{
	struct half *h = &f->h[dir];
	int64_t d;
	while ((d = seq_diff(upto, h->next)) > 0) {
		int64_t to_seg = h->ooo ? seq_diff(h->ooo->seq, h->next) : d;
		if (to_seg <= 0) {
			half_drain(ft, f, dir, pi);
			continue;
		}
		half_gap(ft, f, dir, (uint64_t)(to_seg < d ? to_seg : d), pi);
		half_drain(ft, f, dir, pi);
	}
}

/*
 * Buffer [seq, seq+len) (at or after next).  Parts that overlap buffered
 * segments are compared and dropped (first copy wins); the rest is copied in
 * pieces.  Returns -1 when a piece does not fit (caps or memory); pieces
 * stored before that stay, the caller retries after making room.
 */
static int half_insert(struct flowtab *ft, struct flow *f, int dir, uint32_t seq,
		       const uint8_t *p, size_t len, int quiet,
		       const struct pg_pktinfo *pi)
{
	struct half *h = &f->h[dir];
	struct pg_sniff *s = ft->s;
	uint64_t st = (uint64_t)seq_diff(seq, h->next);
	uint64_t en = st + len, cur = st;
	struct seg **pp = &h->ooo;
	int conflict = 0, same = 0;

	while (cur < en) {
		struct seg *x = *pp;
		uint64_t xs = 0, xe = 0;
		if (x) {
			xs = (uint64_t)seq_diff(x->seq, h->next);
			xe = xs + x->len;
			if (xe <= cur) {
				pp = &x->next;
				continue;
			}
		}
		if (!x || xs > cur) {
			uint64_t pe = x && xs < en ? xs : en;
			size_t n = (size_t)(pe - cur);
			size_t sz = sizeof(struct seg) + n;
			if (h->nsegs >= PG_FLOW_MAX_SEGS ||
			    f->ooo_mem + sz > s->cfg.flow_mem_max ||
			    pg_mem_charge(s, sz) != 0)
				return -1;
			struct seg *ns = malloc(sz);
			if (!ns) {
				pg_mem_release(s, sz);
				return -1;
			}
			ns->seq = h->next + (uint32_t)cur;
			ns->len = (uint32_t)n;
			if (pi)
				ns->pi = *pi;
			else
				memset(&ns->pi, 0, sizeof ns->pi);
			memcpy(ns->data, p + (cur - st), n);
			ns->next = x;
			*pp = ns;
			pp = &ns->next;
			f->ooo_mem += sz;
			h->nsegs++;
			cur = pe;
			continue;
		}
		/* x covers cur: compare the overlap, keep x's bytes. */
		uint64_t oe = en < xe ? en : xe;
		if (memcmp(x->data + (cur - xs), p + (cur - st),
			   (size_t)(oe - cur)) != 0)
			conflict = 1;
		else
			same = 1;
		cur = oe;
		pp = &x->next;
	}
	if (!quiet) {
		if (conflict)
			ev_conflict(ft, f, dir, seq, len, h->off + st, pi);
		else if (same)
			s->st.overlaps++;
	}
	return 0;
}

/*
 * One segment's payload for direction dir: `len` bytes present at p plus
 * `missing` bytes the capture cut off (snaplen).
 */
static void half_segment(struct flowtab *ft, struct flow *f, int dir,
			 uint32_t seq, const uint8_t *p, size_t len,
			 size_t missing, const struct pg_pktinfo *pi)
{
	struct half *h = &f->h[dir];
	struct pg_sniff *s = ft->s;
	int quiet = 0;

	if (!h->has_next) {
		h->next = seq;
		h->has_next = 1;
	}
	for (;;) {
		int64_t d = seq_diff(seq, h->next);
		if (d < 0) {
			/* A keep-alive probe repeats the last byte (seq =
			 * next - 1, one byte, often garbage): not a conflict. */
			if (d == -1 && len <= 1 && !missing && !quiet)
				return;
			/* Bytes before next: already delivered (or gapped). */
			uint64_t old = (uint64_t)-d;
			size_t n = old < len ? (size_t)old : len;
			int cmp = ring_compare(&h->win, p, n, old);
			if (!quiet && cmp < 0)
				ev_conflict(ft, f, dir, seq, n,
					    h->off >= old ? h->off - old : 0, pi);
			if (old >= (uint64_t)len + missing) {
				if (!quiet)
					s->st.retransmits++;
				return;
			}
			if (!quiet && cmp > 0)
				s->st.overlaps++;
			quiet = 1;
			seq += (uint32_t)n;
			p = adv(p, n);
			len -= n;
			if (old > n) {       /* the old part reaches into `missing` */
				missing -= (size_t)(old - n);
				seq += (uint32_t)(old - n);
			}
			continue;
		}
		if (d == 0) {
			if (!h->ooo) {                       /* the fast path */
				half_deliver(ft, f, dir, p, len, pi);
				half_gap(ft, f, dir, missing, pi);
				return;
			}
			/* Deliver up to the first buffered segment, which
			 * arrived first and so wins any overlap. */
			int64_t fd = seq_diff(h->ooo->seq, h->next);
			size_t pre = (uint64_t)fd < len ? (size_t)fd : len;
			half_deliver(ft, f, dir, p, pre, pi);
			seq += (uint32_t)pre;
			p = adv(p, pre);
			len -= pre;
			if (!len) {
				if (missing) {
					fd = seq_diff(h->ooo->seq, h->next);
					half_gap(ft, f, dir,
						 missing < (uint64_t)fd ?
						 missing : (uint64_t)fd, pi);
				}
				half_drain(ft, f, dir, pi);
				return;
			}
		} else {
			/* A hole before this segment.  If the peer already
			 * ACKed past next, the hole is capture loss: up to this
			 * segment, never into it (its own bytes are here; the
			 * ACK may cover them too when this segment was parked
			 * or reordered). */
			if (h->has_ack && seq_diff(h->acked, h->next) > 0) {
				half_apply_upto(ft, f, dir,
						seq_diff(h->acked, seq) > 0 ? seq : h->acked, pi);
				continue;
			}
			if ((uint64_t)d >= PG_FLOW_MAX_AHEAD) {
				ft->cnt.out_of_window++;
				return;
			}
			if (!quiet)
				s->st.out_of_order++;
			if (!len)
				return;      /* only a snaplen cut: no bytes */
		}
		if (half_insert(ft, f, dir, seq, p, len, quiet, pi) == 0) {
			half_drain(ft, f, dir, pi);
			return;
		}
		/* Over a cap: give up the oldest hole and try again. */
		quiet = 1;
		if (h->ooo)
			half_skip_first(ft, f, dir, pi);
		else
			half_gap(ft, f, dir, (uint64_t)seq_diff(seq, h->next), pi);
	}
}

/* ---- causal order: a segment parked until the bytes it ACKs arrive ---- */

#define PG_FLOW_PARK_NS 1000000000LL  /* packet time a parked segment may wait */

static int park(struct flowtab *ft, struct flow *f, int dir, uint32_t seq,
		const uint8_t *p, size_t len, size_t missing, const struct pg_pktinfo *pi)
{
	size_t sz = sizeof(struct parked) + len;
	if (pg_mem_charge(ft->s, sz) != 0)
		return -1;
	struct parked *k = malloc(sz);
	if (!k) {
		pg_mem_release(ft->s, sz);
		return -1;
	}
	k->dir = dir;
	k->seq = seq;
	k->ack = f->h[!dir].acked;
	k->len = len;
	k->missing = missing;
	if (pi)
		k->pi = *pi;
	else
		memset(&k->pi, 0, sizeof k->pi);
	if (len)
		memcpy(k->data, p, len);
	f->park = k;
	ft->cnt.parked++;
	return 0;
}

/* Deliver the parked segment; lost: first declare the hole it ACKed. */
static void park_release(struct flowtab *ft, struct flow *f, int lost)
{
	struct parked *k = f->park;
	if (!k)
		return;
	f->park = NULL;
	if (lost) {
		ft->cnt.ack_released++;
		half_apply_upto(ft, f, !k->dir, k->ack, &k->pi);
	}
	if (k->len || k->missing)
		half_segment(ft, f, k->dir, k->seq, k->len ? k->data : NULL, k->len,
			     k->missing, &k->pi);
	pg_mem_release(ft->s, sizeof *k + k->len);
	free(k);
}

/* ---- flows ---- */

static void lru_unlink(struct flowtab *ft, struct flow *f)
{
	if (f->prev)
		f->prev->next = f->next;
	else
		ft->lru_head = f->next;
	if (f->next)
		f->next->prev = f->prev;
	else
		ft->lru_tail = f->prev;
	f->prev = f->next = NULL;
}

static void lru_push(struct flowtab *ft, struct flow *f)
{
	f->prev = NULL;
	f->next = ft->lru_head;
	if (ft->lru_head)
		ft->lru_head->prev = f;
	ft->lru_head = f;
	if (!ft->lru_tail)
		ft->lru_tail = f;
}

static void lru_touch(struct flowtab *ft, struct flow *f)
{
	if (ft->lru_head == f)
		return;
	lru_unlink(ft, f);
	lru_push(ft, f);
}

/* Flush both directions and close the application: the flow becomes a
 * tombstone (or is about to be freed). */
static void flow_finish(struct flowtab *ft, struct flow *f,
			const struct pg_pktinfo *pi)
{
	if (f->closed)
		return;
	park_release(ft, f, 1);
	half_flush(ft, f, PG_DIR_C2S, pi);
	half_flush(ft, f, PG_DIR_S2C, pi);
	if (f->app && f->ops->close)
		f->ops->close(f->app, pi);
	f->app = NULL;
	for (int d = 0; d < 2; d++)
		ring_free(ft->s, &f->h[d].win);
	f->closed = 1;
	ft->nlive--;
}

static void flow_free(struct flowtab *ft, struct flow *f,
		      const struct pg_pktinfo *pi)
{
	flow_finish(ft, f, pi);
	struct flow **pp = &ft->bkt[f->hash & ft->mask];
	while (*pp && *pp != f)
		pp = &(*pp)->hnext;
	if (*pp)
		*pp = f->hnext;
	lru_unlink(ft, f);
	ft->n--;
	pg_mem_release(ft->s, sizeof *f);
	free(f);
}

static int fin_complete(const struct half *h);

static void flowtab_expire(struct flowtab *ft, int64_t now,
			   const struct pg_pktinfo *pi)
{
	int64_t idle = ft->s->cfg.idle_timeout_s;
	if (!idle)
		return;
	int64_t tomb = idle < PG_FLOW_TOMBSTONE_S ? idle : PG_FLOW_TOMBSTONE_S;
	struct flow *f;
	while ((f = ft->lru_tail)) {
		if (now - f->last < (f->closed ? tomb : idle))
			break;
		if (!f->closed) {
			ft->s->st.flows_timed_out++;
			ev_flow(ft, f, PG_K_FLOW_TIMEOUT, PG_SEV_INFO,
				"closed after the idle timeout", pi);
		}
		flow_free(ft, f, pi);
	}
}

static void flow_key(const struct nd_tcp *t, struct fkey *k)
{
	memset(k, 0, sizeof *k);
	int c = memcmp(t->src, t->dst, 16);
	int src_first = c < 0 || (c == 0 && t->sport <= t->dport);
	memcpy(k->a, src_first ? t->src : t->dst, 16);
	memcpy(k->b, src_first ? t->dst : t->src, 16);
	k->pa = src_first ? t->sport : t->dport;
	k->pb = src_first ? t->dport : t->sport;
	k->af = (uint8_t)t->af;
}

static struct flow *flow_find(struct flowtab *ft, const struct fkey *k,
			      uint64_t hash)
{
	for (struct flow *f = ft->bkt[hash & ft->mask]; f; f = f->hnext)
		if (f->hash == hash && memcmp(&f->key, k, sizeof *k) == 0)
			return f;
	return NULL;
}

static const struct pg_app_ops *port_app(const struct flowtab *ft, uint16_t port)
{
	if (port == ft->s->cfg.s7_port && ft->s7)
		return ft->s7;
	if (port == ft->s->cfg.modbus_port && ft->modbus)
		return ft->modbus;
	return NULL;
}

/*
 * Room a new flow should find in the global budget.  Without it, idle flows
 * that fill the budget (a few thousand connections with one PDU each) make
 * every later connection invisible: its creation would be refused, and a
 * program download on it never seen.  The least recently used flows are
 * evicted instead, exactly as when cfg.max_flows is reached.  A fraction of
 * the budget, so that a small total_mem_max still holds several flows.
 */
#define PG_FLOW_NEW_RESERVE (64u << 10)
#define PG_FLOW_EVICT_EVENTS 64         /* evictions reported one by one; later
					   ones at the 128th, 256th, 512th ... */

static int flow_mem_short(const struct pg_sniff *s)
{
	size_t want = s->cfg.total_mem_max / 64;
	if (want > PG_FLOW_NEW_RESERVE)
		want = PG_FLOW_NEW_RESERVE;
	if (want < sizeof(struct flow))
		want = sizeof(struct flow);
	return s->mem_used > s->cfg.total_mem_max ||
	       s->cfg.total_mem_max - s->mem_used < want;
}

/* An eviction is counted always, reported as an event for the first
 * PG_FLOW_EVICT_EVENTS and then at each power of two: 200k connections must
 * not become 200k warnings (the flood would bury what matters); transfers
 * cut short by the eviction are still reported one by one by the
 * application's close(). */
static void flow_evict_event(struct flowtab *ft, struct flow *f, int full,
			     const struct pg_pktinfo *pi)
{
	uint64_t n = ++ft->s->st.flows_evicted;
	if (n > PG_FLOW_EVICT_EVENTS && (n & (n - 1)) != 0)
		return;
	struct pg_event ev;
	pg_event_wire(&ev, &f->fi, pi, "tcp", PG_K_FLOW_EVICTED, PG_SEV_WARNING);
	pg_event_set_str(&ev, "reason", full ? "max_flows" : "memcap");
	pg_event_set_int(&ev, "evicted", (long long)n);
	pg_event_text(&ev, "flow %llu %s:%u -> %s:%u evicted: %s (%llu evictions so far%s)",
		      (unsigned long long)f->fi.id, f->fi.cli.addr,
		      f->fi.cli.port, f->fi.srv.addr, f->fi.srv.port,
		      full ? "the flow table is full" :
		      "the memory cap is reached",
		      (unsigned long long)n,
		      n >= PG_FLOW_EVICT_EVENTS ?
		      "; further ones are reported at each power of two" : "");
	pg_sniff_emit(ft->s, &ev);
}

static struct flow *flow_create(struct flowtab *ft, const struct nd_tcp *t,
				const struct fkey *k, uint64_t hash,
				int cli_is_src, int midstream,
				const struct pg_app_ops *ops,
				const struct pg_pktinfo *pi)
{
	size_t maxf = ft->s->cfg.max_flows ? ft->s->cfg.max_flows : 1;
	int full = 0;
	while (ft->lru_tail &&
	       ((full = ft->n >= maxf) || flow_mem_short(ft->s))) {
		struct flow *v = ft->lru_tail;
		if (!v->closed)
			flow_evict_event(ft, v, full, pi);
		flow_free(ft, v, pi);
	}
	if (pg_mem_charge(ft->s, sizeof(struct flow)) != 0)
		return NULL;
	struct flow *f = calloc(1, sizeof *f);
	if (!f) {
		pg_mem_release(ft->s, sizeof(struct flow));
		return NULL;
	}
	f->key = *k;
	f->hash = hash;
	f->hnext = ft->bkt[hash & ft->mask];
	ft->bkt[hash & ft->mask] = f;
	lru_push(ft, f);
	ft->n++;
	ft->nlive++;
	f->last = pkt_sec(pi);
	f->ops = ops;

	struct pg_flowinfo *fi = &f->fi;
	fi->id = ++ft->next_id;
	fi->af = t->af;
	memcpy(fi->cli_ip, cli_is_src ? t->src : t->dst, 16);
	memcpy(fi->srv_ip, cli_is_src ? t->dst : t->src, 16);
	fi->cli.port = cli_is_src ? t->sport : t->dport;
	fi->srv.port = cli_is_src ? t->dport : t->sport;
	nd_addr_str(t->af, fi->cli_ip, fi->cli.addr, sizeof fi->cli.addr);
	nd_addr_str(t->af, fi->srv_ip, fi->srv.addr, sizeof fi->srv.addr);
	fi->midstream = midstream;
	ft->s->st.flows++;
	if (midstream)
		ft->s->st.flows_midstream++;
	if (ops->open)
		f->app = ops->open(ft->s, fi);
	return f;
}

static int flow_dir(const struct flow *f, const struct nd_tcp *t)
{
	return (t->sport == f->fi.cli.port &&
		memcmp(t->src, f->fi.cli_ip, 16) == 0) ? PG_DIR_C2S : PG_DIR_S2C;
}

/* ---- public ---- */

struct flowtab *flowtab_new(struct pg_sniff *s, const struct pg_app_ops *s7,
			    const struct pg_app_ops *modbus)
{
	struct flowtab *ft = calloc(1, sizeof *ft);
	if (!ft)
		return NULL;
	size_t want = s->cfg.max_flows < 256 ? 256 : s->cfg.max_flows;
	if (want > PG_FLOW_MAX_BUCKETS)
		want = PG_FLOW_MAX_BUCKETS;
	size_t nb = 256;
	while (nb < want)
		nb *= 2;
	ft->bkt = calloc(nb, sizeof *ft->bkt);
	if (!ft->bkt) {
		free(ft);
		return NULL;
	}
	ft->mask = nb - 1;
	ft->s = s;
	ft->s7 = s7;
	ft->modbus = modbus;
	ft->seed = mix64((uint64_t)(uintptr_t)ft ^ 0x6a09e667f3bcc908ULL);
	return ft;
}

void flowtab_packet(struct flowtab *ft, const struct nd_tcp *t,
		    const struct pg_pktinfo *pi)
{
	/* Cheapest test first: most traffic on a SPAN port is not ours. */
	const struct pg_app_ops *sa = port_app(ft, t->sport);
	const struct pg_app_ops *da = port_app(ft, t->dport);
	if (!sa && !da) {
		ft->s->st.other_ports++;
		return;
	}
	int64_t now = pkt_sec(pi);
	if (!ft->seeded) {
		/* Before the first insertion: mix in data the sender does not
		 * control precisely enough to aim collisions. */
		ft->seed = mix64(ft->seed ^ (pi ? (uint64_t)pi->ts.tv_nsec : 0));
		ft->seeded = 1;
		ft->last_check = now;
	}
	if (++ft->since_check >= PG_FLOW_CHECK_PKTS || now - ft->last_check >= 1 ||
	    now < ft->last_check) {
		flowtab_expire(ft, now, pi);
		ft->last_check = now;
		ft->since_check = 0;
	}

	int syn = t->flags & ND_SYN, ack = t->flags & ND_ACK;
	struct fkey k;
	flow_key(t, &k);
	uint64_t hash = flow_hash(&k, ft->seed);
	struct flow *f = flow_find(ft, &k, hash);

	if (f && syn && !ack && !f->closed) {
		/* A SYN again: a retransmission if the ISN is the one we
		 * know, otherwise a new connection on the same tuple. */
		const struct half *sh = &f->h[flow_dir(f, t)];
		if (!sh->has_isn || sh->isn != t->seq) {
			ft->cnt.new_on_tuple++;
			flow_free(ft, f, pi);
			f = NULL;
		}
	} else if (f && f->closed) {
		if (syn) {
			flow_free(ft, f, pi);
			f = NULL;
		} else {
			if (t->len || t->missing)
				ft->cnt.after_close++;
			return;
		}
	}

	if (!f) {
		if (!syn && !t->len && !t->missing)
			return;      /* pure ACK/FIN/RST: nothing to pick up */
		if (t->flags & ND_RST)
			return;
		int cli_is_src, midstream = 0;
		if (syn && !ack)
			cli_is_src = 1;
		else if (syn)
			cli_is_src = 0;
		else {
			midstream = 1;
			cli_is_src = da != NULL;
		}
		const struct pg_app_ops *ops = cli_is_src ? (da ? da : sa)
							  : (sa ? sa : da);
		f = flow_create(ft, t, &k, hash, cli_is_src, midstream, ops, pi);
		if (!f)
			return;
	}

	f->last = now;
	lru_touch(ft, f);
	int dir = flow_dir(f, t);
	struct half *h = &f->h[dir], *o = &f->h[!dir];

	if (t->flags & ND_RST) {
		if (h->has_next &&
		    (seq_diff(t->seq, h->next) > (int64_t)PG_FLOW_RST_WINDOW ||
		     seq_diff(t->seq, h->next) < -(int64_t)PG_FLOW_RST_WINDOW)) {
			ft->cnt.rst_ignored++;
			return;
		}
		ft->cnt.closed_rst++;
		flow_finish(ft, f, pi);
		return;
	}
	uint32_t dseq = t->seq;
	if (syn) {
		if (!h->has_isn) {
			h->isn = t->seq;
			h->has_isn = 1;
			if (!h->has_next) {
				h->next = t->seq + 1;
				h->has_next = 1;
			}
		}
		if (ack && !o->has_next) {
			/* SYN+ACK: it acknowledges the client's ISN + 1. */
			o->next = t->ack;
			o->has_next = 1;
		}
		dseq = t->seq + 1;   /* the SYN takes one sequence number */
	}
	if (ack && o->has_next) {
		uint32_t a = t->ack;
		if (o->has_fin && seq_diff(a, o->fin_seq) > 0)
			a = o->fin_seq;  /* the FIN's own sequence number */
		int64_t d = seq_diff(a, o->next);
		if (d > 0 && (uint64_t)d < PG_FLOW_MAX_AHEAD &&
		    (!o->has_ack || seq_diff(a, o->acked) > 0)) {
			o->acked = a;
			o->has_ack = 1;
		}
	}
	/* Causal order (see the header comment). */
	int has_data = t->len || t->missing;
	if (f->park) {
		struct parked *pk = f->park;
		if (dir == pk->dir) {
			/* its sender went on: what it ACKed is not coming */
			if (has_data || (t->flags & ND_FIN))
				park_release(ft, f, 1);
		} else if (has_data && seq_diff(dseq, h->next) > 0 &&
			   seq_diff(dseq, pk->ack) >= 0) {
			/* the peer sends beyond the hole without filling it: the
			 * parked segment came first, then this */
			park_release(ft, f, 1);
		}
		if (f->park && pi && (int64_t)(pi->ts.tv_sec - pk->pi.ts.tv_sec) * 1000000000LL +
		    (pi->ts.tv_nsec - pk->pi.ts.tv_nsec) > PG_FLOW_PARK_NS)
			park_release(ft, f, 1);
	}
	if (has_data && o->has_ack && seq_diff(o->acked, o->next) > 0) {
		if (!f->park && park(ft, f, dir, dseq, t->payload, t->len, t->missing, pi) == 0)
			has_data = 0;      /* parked: delivered when the hole is settled */
		else {
			ft->cnt.ack_released++;
			half_apply_ack(ft, f, !dir, pi);
		}
	}
	if (has_data)
		half_segment(ft, f, dir, dseq, t->payload, t->len, t->missing, pi);
	/* the bytes a parked segment waited for have all come: no gap */
	if (f->park && f->park->dir != dir && seq_diff(h->next, f->park->ack) >= 0)
		park_release(ft, f, 0);
	if ((t->flags & ND_FIN) && !h->has_fin) {
		h->has_fin = 1;
		h->fin_seq = dseq + (uint32_t)t->len + (uint32_t)t->missing;
	}
	/* Both FINs seen: close, unless a direction still has a hole before
	 * its FIN.  Then wait: the retransmission that fills it usually follows
	 * (a peer retransmits before its FIN is acknowledged), and closing now
	 * would report a false gap and an incomplete transfer.  Idle timeout or
	 * the end of input closes it otherwise. */
	if (h->has_fin && o->has_fin && fin_complete(h) && fin_complete(o) && !f->park) {
		ft->cnt.closed_fin++;
		flow_finish(ft, f, pi);
	}
}

/* Everything up to this direction's FIN has been delivered. */
static int fin_complete(const struct half *h)
{
	return !h->has_next || seq_diff(h->fin_seq, h->next) <= 0;
}

void flowtab_close_all(struct flowtab *ft, const struct pg_pktinfo *pi)
{
	while (ft->lru_tail)
		flow_free(ft, ft->lru_tail, pi);
}

void flowtab_free(struct flowtab *ft)
{
	if (!ft)
		return;
	flowtab_close_all(ft, NULL);
	free(ft->bkt);
	free(ft);
}

size_t flowtab_count(const struct flowtab *ft)
{
	return ft->nlive;
}

void flowtab_get_counts(const struct flowtab *ft, struct flowtab_counts *out)
{
	*out = ft->cnt;
}
