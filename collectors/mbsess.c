/*
 * mbsess.c - the Modbus/TCP application on a TCP flow (pg_modbus_app): MBAP
 * stream framing per direction, request/response pairing by transaction id,
 * UMAS program transfers (PC -> PLC download, PLC -> PC read-back),
 * reservations, PLC start/stop, and FC 0x15 file-record writes assembled per
 * file.  Parsers: parsers/modbus.h.  Wire facts: ../shared/docs/PROTOCOLS.md.
 *
 * Framing, per direction, in a fixed buffer of one maximal ADU:
 *
 *   need 7 bytes -> mb_parse_mbap -> need length-1 more -> handle the ADU
 *        | invalid header
 *        v
 *   resync: scan for protocol id 0, sane length, plausible function code
 *   (and, when its bytes are there, a valid next header); one
 *   "modbus.malformed" event per episode.
 *
 * A fixed buffer (not a growing one) because an ADU is at most
 * PG_MB_ADU_MAX bytes: nothing a peer sends can make framing hold more.
 *
 * Transfers: UMAS blocks are kept per block number until the end code or
 * close(), then checked (1..N contiguous, N = declared count, duplicates
 * identical) and hashed as one image.  Whether a transfer is a download or a
 * read-back is decided by the direction that carried the block bytes, not by
 * the code's name (Schneider calls 0x30-0x32 "upload").  A block sent by the
 * PC is tentative until the PLC answers FE; an FD answer removes it.
 * Rejected: hashing blocks as they stream in (a retransmitted or refused
 * block would poison the hash, and blocks may arrive out of order).
 *
 * Completeness is proved by accounting, not by the absence of capture gaps:
 * blocks are numbered, so an image is whole when blocks 1..N are all present,
 * N is the count the end request declares and that request was seen.  A gap
 * between ADUs loses no block and is only counted (`gaps`); a block lost in
 * a gap is a missing block (INCOMPLETE, no hash).  A download whose end the
 * PLC answers with an error was transferred but refused (`accepted` false).
 * File records have no count: a write request lost in a gap cannot be seen
 * from the records alone, so a file write is proved whole only when every
 * transaction id between its first and last write was seen in a request
 * (clients number requests consecutively); otherwise a gap makes it
 * INCOMPLETE.
 */
#include "sniff.h"
#include "xfer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cursor.h"
#include "digest.h"
#include "modbus.h"
#include "pg_limits.h"

/* Named maxima of the session layer: PG_MB_*, PG_UMAS_* in pg_limits.h. */

/* limits_reported bits: one "modbus.limit" event per kind and flow */
#define LIM_TXN   1u
#define LIM_XFER  2u
#define LIM_FILES 4u

struct mb_dir {
	uint8_t buf[PG_MB_ADU_MAX];
	size_t have;
	uint64_t off;          /* stream offset of buf[0] */
	uint64_t bytes;        /* delivered to us */
	uint64_t dropped;      /* bytes skipped while resynchronising */
	int resync;            /* scanning for a header */
	int at_seg;            /* buf[0] is the start of a segment (unproven flows) */
	int episode;           /* a malformed episode is open */
};

struct mb_txn {
	int used;
	uint16_t tid;
	uint8_t unit, func, ucode;
	int enveloped;
	int block_sent;        /* a 0x31-style request carried block bytes */
	uint16_t block;
	uint64_t age;
};

struct mb_xfer {
	int active, started;
	int data_dir;          /* -1 none yet, PG_DIR_C2S, PG_DIR_S2C */
	uint8_t file_type;
	uint8_t unit;
	uint16_t tid;
	int enveloped, mixed_dirs;
	uint16_t end_tid;
	struct pg_xfer t;      /* blocks (slice = block number - 1), accounting, image */
};

struct mb_file {
	int used, done;
	int seen_after_gap;    /* a request framed after the last request-direction gap */
	uint16_t number;
	uint8_t unit;
	uint16_t tid;
	uint16_t first_tid;    /* transaction id of its first write */
	unsigned rewrites;
	struct pg_xfer t;      /* records (slice = record number), sparse */
};

struct mbsess {
	struct pg_sniff *s;
	struct pg_flowinfo fi;
	struct pg_budget bud;    /* this struct, framing state and transfers */
	int confirmed, given_up;
	struct mb_dir d[2];
	struct mb_txn *txn;      /* grown on demand up to PG_MB_TXN_MAX: an idle
				    flow must not hold 8 KiB of empty slots */
	size_t txn_cap;
	uint64_t txn_age, txn_dropped, orphans, over_spec;
	struct mb_xfer xf[2];    /* [0] codes 0x30-0x32, [1] codes 0x33-0x35 */
	struct mb_file *files[PG_MB_FILE_MAX_FILES];  /* made on the first write:
				    an idle flow holds only the pointers */
	struct {
		int pending, heuristic;
		uint16_t tid;
		uint8_t unit;
		char name[PG_UMAS_NAME_MAX + 1];
	} resv;
	char station[PG_UMAS_NAME_MAX + 1];  /* holder of the last granted reservation */
	uint8_t *tidseen;        /* request transaction ids seen since the first
				    file write (bitmap, 8 KiB, made on demand) */
	uint16_t last_req_tid;
	unsigned limits_reported;
	struct {
		int pending, dir;
		uint64_t off;
		char reason[200];
		struct pg_pktinfo pi;
	} pmal;                  /* malformed episode seen before the flow proved Modbus */
};

/* ---- memory ---- */

/* A flow may hold one whole application image in transfer (real Unity
 * applications run to tens of MB), even above the per-flow reassembly cap;
 * the global budget still bounds the total. */
static size_t mb_flow_cap(const struct pg_sniff *s)
{
	size_t cap = s->cfg.flow_mem_max;
	if (cap < PG_UMAS_MAX_IMAGE + (1u << 20))
		cap = PG_UMAS_MAX_IMAGE + (1u << 20);
	return cap;
}

/* ---- events ---- */

static void mb_event(struct mbsess *m, struct pg_event *ev, const struct pg_pktinfo *pi,
		     const char *proto, enum pg_kind kind, enum pg_sev sev,
		     int unit, int tid)
{
	pg_event_wire(ev, &m->fi, pi, proto, kind, sev);
	if (unit >= 0)
		pg_event_set_int(ev, "unit", unit);
	if (tid >= 0)
		pg_event_set_int(ev, "trans_id", tid);
}

static void mb_limit(struct mbsess *m, unsigned bit, const struct pg_pktinfo *pi,
		     const char *what)
{
	struct pg_event ev;

	if (!pg_once(&m->limits_reported, bit))
		return;
	mb_event(m, &ev, pi, "modbus", PG_K_MODBUS_LIMIT, PG_SEV_WARNING, -1, -1);
	pg_event_set_str(&ev, "limit", what);
	pg_event_text(&ev, "Modbus session limit hit: %s", what);
	pg_sniff_emit(m->s, &ev);
}

static void mb_malformed_emit(struct mbsess *m, int dir, uint64_t off,
			      const char *reason, const struct pg_pktinfo *pi)
{
	struct pg_event ev;

	mb_event(m, &ev, pi, "modbus", PG_K_MODBUS_MALFORMED, PG_SEV_WARNING, -1, -1);
	pg_event_set_str(&ev, "dir", dir == PG_DIR_C2S ? "c2s" : "s2c");
	pg_event_set_int(&ev, "stream_offset", (long long)off);
	pg_event_set_str(&ev, "reason", reason);
	pg_event_text(&ev, "malformed Modbus at stream offset %llu: %s",
		      (unsigned long long)off, reason);
	pg_sniff_emit(m->s, &ev);
}

/* A PDU that framed but does not parse: not an episode, one event each. */
static void mb_bad_pdu(struct mbsess *m, int dir, const struct pg_err *e,
		       const struct pg_pktinfo *pi)
{
	char buf[300];

	m->s->st.modbus_bad++;
	mb_malformed_emit(m, dir, e->offset, pg_err_str(e, buf, sizeof buf), pi);
}

/* ---- UMAS transfers ---- */

static void xfer_free(struct mb_xfer *x)
{
	pg_xfer_free(&x->t);
	memset(x, 0, sizeof *x);
	x->data_dir = -1;
}

static void xfer_finish(struct mbsess *m, int fam, const struct pg_pktinfo *pi,
			const char *why)
{
	struct mb_xfer *x = &m->xf[fam];
	struct pg_xfer_out o;

	if (!x->active)
		return;
	pg_xfer_judge(&x->t, why, &o);
	int dl = x->data_dir == PG_DIR_C2S || (x->data_dir < 0 && fam == 0);
	struct pg_event ev;
	mb_event(m, &ev, pi, "umas", dl ? PG_K_UMAS_APP_DOWNLOAD : PG_K_UMAS_APP_UPLOAD,
		 PG_SEV_NOTICE, x->unit, x->tid);
	snprintf(ev.object, sizeof ev.object, "application");
	pg_xfer_event(&x->t, &o, dl, NULL, &ev);
	pg_event_set_int(&ev, "blocks", (long long)x->t.n);
	pg_event_set_int(&ev, "file_type", x->file_type);
	pg_event_set_bool(&ev, "enveloped", x->enveloped);
	if (x->t.end_seen)
		pg_event_set_int(&ev, "declared_blocks", (long long)x->t.count);
	if (x->t.end_seen && !x->t.end_answered)
		pg_event_set_bool(&ev, "end_answered", 0);
	if (x->t.has_announced)
		pg_event_set_int(&ev, "declared_size", (long long)x->t.announced);
	if (!x->started)
		pg_event_set_bool(&ev, "start_seen", 0);
	if (x->mixed_dirs)
		pg_event_set_bool(&ev, "mixed_directions", 1);
	pg_event_text(&ev, "UMAS application %s: %zu bytes in %zu blocks%s%s%s%s",
		      dl ? "download (PC to PLC)" : "read-back (PLC to PC)",
		      x->t.bytes, x->t.n, o.reason ? ", " : "", o.reason ? o.why : "",
		      x->t.gaps && !o.verdict ? ", capture gaps between blocks" : "",
		      x->t.refused ? "; the PLC refused the end of the download" : "");
	pg_sniff_emit(m->s, &ev);
	xfer_free(x);
}

static struct mb_xfer *xfer_get(struct mbsess *m, int fam, uint8_t unit, uint16_t tid)
{
	struct mb_xfer *x = &m->xf[fam];

	if (!x->active) {
		memset(x, 0, sizeof *x);
		x->data_dir = -1;
		x->active = 1;
		x->unit = unit;
		x->tid = tid;
		pg_xfer_init(&x->t, &m->bud, PG_UMAS_MAX_IMAGE, PG_UMAS_MAX_BLOCKS, 0);
		x->t.need_end = 1;    /* the end request declares the block count */
	}
	return x;
}

static void xfer_start(struct mbsess *m, int fam, uint8_t ft, int env, uint8_t unit,
		       uint16_t tid, const struct pg_pktinfo *pi)
{
	if (m->xf[fam].active)
		xfer_finish(m, fam, pi, "restarted");
	struct mb_xfer *x = xfer_get(m, fam, unit, tid);
	x->started = 1;
	x->file_type = ft;
	x->enveloped |= env;
}

static void xfer_add_block(struct mbsess *m, int fam, int dir, const struct umas_block *b,
			   int acked, uint8_t unit, uint16_t tid, int env,
			   const struct pg_pktinfo *pi)
{
	struct mb_xfer *x = xfer_get(m, fam, unit, tid);

	x->enveloped |= env;
	if (x->data_dir < 0)
		x->data_dir = dir;
	else if (x->data_dir != dir)
		x->mixed_dirs = 1;
	if (b->number == 0) {
		x->t.bad_index = 1;   /* blocks are numbered from 1 */
		return;
	}
	enum pg_xput r = pg_xfer_put(&x->t, (size_t)b->number - 1, b->data, b->len,
				     acked, tid);
	if (r == PG_XPUT_CAP)
		mb_limit(m, LIM_XFER, pi, "application image size");
	else if (r == PG_XPUT_MEM)
		mb_limit(m, LIM_XFER, pi, "transfer memory");
}

/* The PLC answered a block it was sent: FE confirms, anything else removes a
 * still-tentative copy so that a retransmission can take its place. */
static void xfer_answer_block(struct mbsess *m, int fam, uint16_t number, uint16_t tid,
			      int ok)
{
	struct mb_xfer *x = &m->xf[fam];

	if (!x->active || number == 0)
		return;
	pg_xfer_answer(&x->t, (size_t)number - 1, tid, ok);
}

/* ---- file records (FC 0x15) ---- */

/*
 * After a gap in the request direction: could a write to this file have been
 * in the lost bytes?  Not if every transaction id from the file's first write
 * to the last request seen was seen in some request, and a request was seen
 * after the last gap (so that the numbering ran on past it).  NULL when no
 * write can be missing, else the reason.
 */
static const char *file_lost_writes(const struct mbsess *m, const struct mb_file *f)
{
	if (!m->tidseen)
		return "gap_crossed";
	if (!f->seen_after_gap)
		return "gap_at_end";
	uint16_t t = f->first_tid;
	for (;;) {
		if (!(m->tidseen[t >> 3] & (1u << (t & 7))))
			return "gap_crossed";
		if (t == m->last_req_tid)
			return NULL;
		t++;
	}
}

static void file_emit(struct mbsess *m, struct mb_file *f, const struct pg_pktinfo *pi,
		      const char *why)
{
	struct pg_event ev;
	struct pg_xfer_out o;
	size_t nrec = 0, prev = 0;
	int overlap = 0, have_prev = 0;

	if (!f->used || f->done)
		return;
	f->done = 1;
	for (size_t i = 0; i < f->t.n; i++) {
		if (!f->t.sl[i].present)
			continue;
		nrec++;
		/* a record runs over the next one: two writes to the same words */
		if (have_prev && prev + f->t.sl[prev].len / 2 > i)
			overlap = 1;
		prev = i;
		have_prev = 1;
	}
	pg_xfer_judge(&f->t, why, &o);
	const char *acct = !o.verdict && f->t.gaps ? file_lost_writes(m, f) : NULL;
	if (acct || (why && !o.verdict)) {
		o.verdict = PG_VERDICT_INCOMPLETE;
		o.reason = why ? why : acct;
		snprintf(o.why, sizeof o.why, "%s", o.reason);
		o.has_sha = 0;
	}
	mb_event(m, &ev, pi, "modbus", PG_K_MODBUS_FILE_WRITE, PG_SEV_NOTICE, f->unit, f->tid);
	snprintf(ev.object, sizeof ev.object, "file %u", f->number);
	pg_xfer_event(&f->t, &o, 0, NULL, &ev);
	pg_event_set_int(&ev, "file", f->number);
	pg_event_set_int(&ev, "records", (long long)nrec);
	if (f->rewrites)
		pg_event_set_int(&ev, "rewrites", f->rewrites);
	if (overlap)
		pg_event_set_bool(&ev, "overlap", 1);
	pg_event_text(&ev, "Modbus file record write: file %u, %zu bytes in %zu records%s%s",
		      f->number, f->t.bytes, nrec, o.reason ? ": " : "",
		      o.reason ? o.why : "");
	pg_sniff_emit(m->s, &ev);
	pg_xfer_free(&f->t);
}

static struct mb_file *file_get(struct mbsess *m, uint16_t number,
				const struct pg_pktinfo *pi)
{
	struct mb_file *fr = NULL;

	for (size_t i = 0; i < PG_MB_FILE_MAX_FILES; i++) {
		if (m->files[i] && m->files[i]->number == number)
			return m->files[i];
	}
	size_t slot = PG_MB_FILE_MAX_FILES;
	for (size_t i = 0; i < PG_MB_FILE_MAX_FILES && slot == PG_MB_FILE_MAX_FILES; i++)
		if (!m->files[i])
			slot = i;
	if (slot == PG_MB_FILE_MAX_FILES) {
		mb_limit(m, LIM_FILES, pi, "files written per flow");
		return NULL;
	}
	if (pg_budget_charge(&m->bud, sizeof *fr) != 0)
		return NULL;
	fr = calloc(1, sizeof *fr);
	if (!fr) {
		pg_budget_release(&m->bud, sizeof *fr);
		return NULL;
	}
	m->files[slot] = fr;
	fr->used = 1;
	fr->number = number;
	pg_xfer_init(&fr->t, &m->bud, PG_MB_FILE_MAX_BYTES, PG_MB_FILE_MAX_RECNO + 1, 1);
	return fr;
}

static void file_write(struct mbsess *m, const struct mb_mbap *h,
		       const struct mb_file_sub *sub, const struct pg_pktinfo *pi)
{
	struct mb_file *f = file_get(m, sub->file, pi);
	size_t n = (size_t)sub->words * 2;

	if (!f || f->done)
		return;
	if (!f->t.n)
		f->first_tid = h->trans_id;
	f->unit = h->unit;
	f->tid = h->trans_id;
	/* A write whose answer we never check: acked (the device's exception
	 * answer is reported as an event of its own). */
	enum pg_xput r = pg_xfer_put(&f->t, sub->record, sub->data, n, 1, h->trans_id);
	if (r == PG_XPUT_REPLACED)
		f->rewrites++;
	else if (r == PG_XPUT_CAP)
		file_emit(m, f, pi, PG_XR_SIZECAP);
	else if (r == PG_XPUT_MEM)
		file_emit(m, f, pi, PG_XR_MEMCAP);
}

/* ---- transactions ---- */

static struct mb_txn *txn_add(struct mbsess *m, const struct mb_mbap *h,
			      const struct pg_pktinfo *pi)
{
	struct mb_txn *fr = NULL, *old = NULL;

	for (size_t i = 0; i < m->txn_cap; i++) {
		struct mb_txn *t = &m->txn[i];
		if (t->used && t->tid == h->trans_id) {
			fr = t;  /* id reused before the answer: newest wins */
			break;
		}
		if (!t->used && !fr)
			fr = t;
		if (t->used && (!old || t->age < old->age))
			old = t;
	}
	if (!fr && m->txn_cap < PG_MB_TXN_MAX) {
		size_t nc = m->txn_cap ? m->txn_cap * 2 : 4;
		if (nc > PG_MB_TXN_MAX)
			nc = PG_MB_TXN_MAX;
		if (pg_budget_charge(&m->bud, (nc - m->txn_cap) * sizeof *m->txn) == 0) {
			struct mb_txn *nt = realloc(m->txn, nc * sizeof *nt);
			if (nt) {
				memset(nt + m->txn_cap, 0,
				       (nc - m->txn_cap) * sizeof *nt);
				fr = nt + m->txn_cap;
				m->txn = nt;
				m->txn_cap = nc;
			} else {
				pg_budget_release(&m->bud, (nc - m->txn_cap) * sizeof *m->txn);
			}
		}
	}
	if (!fr) {
		m->txn_dropped++;
		mb_limit(m, LIM_TXN, pi, "outstanding requests");
		fr = old;
	}
	if (!fr)
		return NULL;   /* no table at all (memory): the reply will not pair */
	memset(fr, 0, sizeof *fr);
	fr->used = 1;
	fr->tid = h->trans_id;
	fr->unit = h->unit;
	fr->age = ++m->txn_age;
	return fr;
}

static struct mb_txn *txn_find(struct mbsess *m, uint16_t tid)
{
	for (size_t i = 0; i < m->txn_cap; i++)
		if (m->txn[i].used && m->txn[i].tid == tid)
			return &m->txn[i];
	return NULL;
}

/* ---- requests and responses ---- */

static void resv_emit(struct mbsess *m, const struct pg_pktinfo *pi, const char *resp,
		      int key)
{
	struct pg_event ev;

	if (!m->resv.pending)
		return;
	m->resv.pending = 0;
	mb_event(m, &ev, pi, "umas", PG_K_UMAS_RESERVE, PG_SEV_NOTICE, m->resv.unit, m->resv.tid);
	pg_event_set_str(&ev, "station", m->resv.name);
	if (m->resv.heuristic)
		pg_event_set_bool(&ev, "station_heuristic", 1);
	pg_event_set_str(&ev, "response", resp);
	if (!strcmp(resp, "granted"))
		memcpy(m->station, m->resv.name, sizeof m->station);
	if (key >= 0)
		pg_event_set_int(&ev, "pair_key", key);
	pg_event_text(&ev, "UMAS reservation by station \"%s\": %s", m->resv.name, resp);
	pg_sniff_emit(m->s, &ev);
}

static void umas_request(struct mbsess *m, const struct mb_mbap *h, const struct mb_pdu *pdu,
			 struct mb_txn *t, const struct pg_pktinfo *pi)
{
	struct umas_req r;
	struct pg_err e;

	pg_err_clear(&e);
	if (umas_parse_req(pdu->data, pdu->data_len, pdu->data_off, &r, &e) != 0) {
		mb_bad_pdu(m, PG_DIR_C2S, &e, pi);
		return;
	}
	t->ucode = r.code;
	t->enveloped = r.enveloped;
	switch (r.code) {
	case UMAS_RESERVE: {
		int heur = 0;
		if (m->resv.pending)
			resv_emit(m, pi, "none", -1);
		if (umas_parse_reserve(r.data, r.data_len, r.data_off, m->resv.name,
				       sizeof m->resv.name, &heur, &e) != 0) {
			mb_bad_pdu(m, PG_DIR_C2S, &e, pi);
			m->resv.name[0] = '\0';
		}
		m->resv.pending = 1;
		m->resv.heuristic = heur;
		m->resv.tid = h->trans_id;
		m->resv.unit = h->unit;
		break;
	}
	case UMAS_DL_START:
	case UMAS_UL_START: {
		uint8_t ft = 0;
		if (umas_parse_xfer_start(r.data, r.data_len, r.data_off, &ft, &e) != 0)
			mb_bad_pdu(m, PG_DIR_C2S, &e, pi);
		xfer_start(m, r.code == UMAS_DL_START ? 0 : 1, ft, r.enveloped,
			   h->unit, h->trans_id, pi);
		break;
	}
	case UMAS_DL_BLOCK:
	case UMAS_UL_BLOCK: {
		struct umas_block b;
		if (umas_parse_block_req(r.data, r.data_len, r.data_off, &b, &e) != 0) {
			mb_bad_pdu(m, PG_DIR_C2S, &e, pi);
			break;
		}
		t->block = b.number;
		if (b.has_data) {
			t->block_sent = 1;
			xfer_add_block(m, r.code == UMAS_DL_BLOCK ? 0 : 1, PG_DIR_C2S, &b, 0,
				       h->unit, h->trans_id, r.enveloped, pi);
		}
		break;
	}
	case UMAS_DL_END:
	case UMAS_UL_END: {
		uint16_t cnt = 0;
		struct mb_xfer *x;
		if (umas_parse_xfer_end(r.data, r.data_len, r.data_off, &cnt, &e) != 0) {
			mb_bad_pdu(m, PG_DIR_C2S, &e, pi);
			break;
		}
		x = xfer_get(m, r.code == UMAS_DL_END ? 0 : 1, h->unit, h->trans_id);
		x->t.end_seen = 1;
		x->t.has_count = 1;
		x->t.count = cnt;
		x->end_tid = h->trans_id;
		x->enveloped |= r.enveloped;
		break;
	}
	default:
		break;
	}
}

static void umas_control_emit(struct mbsess *m, const struct mb_txn *t, const char *status,
			      const struct pg_pktinfo *pi)
{
	struct pg_event ev;
	enum pg_kind kind;
	const char *what;
	enum pg_sev sev = PG_SEV_NOTICE;

	switch (t->ucode) {
	case UMAS_RELEASE: kind = PG_K_UMAS_RELEASE; what = "release reservation"; break;
	case UMAS_START_PLC: kind = PG_K_UMAS_PLC_START; what = "start PLC"; break;
	case UMAS_STOP_PLC:
		kind = PG_K_UMAS_PLC_STOP;
		what = "stop PLC";
		sev = PG_SEV_ALERT;
		break;
	default: return;
	}
	mb_event(m, &ev, pi, "umas", kind, sev, t->unit, t->tid);
	pg_event_set_str(&ev, "response", status);
	if (t->ucode == UMAS_RELEASE && m->station[0])
		pg_event_set_str(&ev, "station", m->station);
	if (t->enveloped)
		pg_event_set_bool(&ev, "enveloped", 1);
	pg_event_text(&ev, "UMAS %s: %s", what, status);
	pg_sniff_emit(m->s, &ev);
}

static void umas_response(struct mbsess *m, const struct mb_mbap *h, const struct mb_pdu *pdu,
			  const struct mb_txn *t, const struct pg_pktinfo *pi)
{
	struct umas_rsp r;
	struct pg_err e;
	const char *status;
	int ok;

	pg_err_clear(&e);
	memset(&r, 0, sizeof r);
	if (pdu->exception) {
		status = "exception";
		ok = 0;
	} else if (umas_parse_rsp(pdu->data, pdu->data_len, pdu->data_off, &r, &e) != 0) {
		mb_bad_pdu(m, PG_DIR_S2C, &e, pi);
		return;
	} else {
		ok = r.status == UMAS_STATUS_OK;
		status = ok ? "ok" : r.status == UMAS_STATUS_ERROR ? "error" : "unknown";
	}
	if (!t)
		return;
	switch (t->ucode) {
	case UMAS_RESERVE:
		if (m->resv.pending && m->resv.tid == t->tid) {
			struct cur c = cur_init(r.data, r.data_len);
			int key = ok && cur_left(&c) ? cur_u8(&c) : -1;
			resv_emit(m, pi, ok ? "granted" : "refused", key);
		}
		break;
	case UMAS_RELEASE:
	case UMAS_START_PLC:
	case UMAS_STOP_PLC:
		umas_control_emit(m, t, status, pi);
		break;
	case UMAS_UL_START:
		if (ok && m->xf[1].active) {
			uint32_t total;
			if (umas_parse_ul_start_rsp(r.data, r.data_len, r.data_off, &total, &e) == 0) {
				m->xf[1].t.has_announced = 1;
				m->xf[1].t.announced = total;
			}
		}
		break;
	case UMAS_DL_BLOCK:
	case UMAS_UL_BLOCK: {
		int fam = t->ucode == UMAS_DL_BLOCK ? 0 : 1;
		if (t->block_sent) {
			xfer_answer_block(m, fam, t->block, t->tid, ok);
			break;
		}
		if (!ok || !r.data_len)
			break;
		struct umas_block b;
		int last = 0;
		if (umas_parse_block_rsp(r.data, r.data_len, r.data_off, &b, &last, &e) != 0) {
			mb_bad_pdu(m, PG_DIR_S2C, &e, pi);
			break;
		}
		b.number = t->block;
		xfer_add_block(m, fam, PG_DIR_S2C, &b, 1, t->unit, t->tid, t->enveloped, pi);
		if (last && m->xf[fam].active)
			m->xf[fam].t.last_seen = 1;
		break;
	}
	case UMAS_DL_END:
	case UMAS_UL_END: {
		int fam = t->ucode == UMAS_DL_END ? 0 : 1;
		struct mb_xfer *x = &m->xf[fam];
		if (x->active && x->t.end_seen && x->end_tid == t->tid) {
			x->t.end_answered = 1;
			x->t.refused = !ok;
			xfer_finish(m, fam, pi, NULL);
		}
		break;
	}
	default:
		break;
	}
}

static void mb_request(struct mbsess *m, const struct mb_mbap *h, const struct mb_pdu *pdu,
		       const struct pg_pktinfo *pi)
{
	struct mb_txn scratch;
	struct mb_txn *t = txn_add(m, h, pi);
	struct mb_file_sub subs[PG_MB_FILE_SUB_MAX];
	size_t n = 0;
	struct pg_err e;

	pg_err_clear(&e);
	if (!t) {
		memset(&scratch, 0, sizeof scratch);
		scratch.tid = h->trans_id;
		scratch.unit = h->unit;
		t = &scratch;
	}
	t->func = pdu->func;
	if (!m->tidseen && pdu->func == MB_FC_WRITE_FILE && !pdu->exception &&
	    pg_budget_charge(&m->bud, 8192) == 0) {
		m->tidseen = calloc(1, 8192);
		if (!m->tidseen)
			pg_budget_release(&m->bud, 8192);
	}
	if (m->tidseen) {
		m->tidseen[h->trans_id >> 3] |= (uint8_t)(1u << (h->trans_id & 7));
		m->last_req_tid = h->trans_id;
	}
	for (size_t i = 0; i < PG_MB_FILE_MAX_FILES; i++)
		if (m->files[i] && !m->files[i]->done)
			m->files[i]->seen_after_gap = 1;
	if (pdu->exception)
		return;
	switch (pdu->func) {
	case MB_FC_UMAS:
		umas_request(m, h, pdu, t, pi);
		break;
	case MB_FC_WRITE_FILE:
		if (mb_parse_write_file(pdu->data, pdu->data_len, pdu->data_off, subs,
					PG_MB_FILE_SUB_MAX, &n, &e) != 0) {
			mb_bad_pdu(m, PG_DIR_C2S, &e, pi);
			break;
		}
		for (size_t i = 0; i < n; i++)
			file_write(m, h, &subs[i], pi);
		break;
	case MB_FC_READ_FILE:
		/* recognised; a read changes nothing on the device */
		if (mb_parse_read_file(pdu->data, pdu->data_len, pdu->data_off, subs,
				       PG_MB_FILE_SUB_MAX, &n, &e) != 0)
			mb_bad_pdu(m, PG_DIR_C2S, &e, pi);
		break;
	default:
		break;
	}
}

static void mb_response(struct mbsess *m, const struct mb_mbap *h, const struct mb_pdu *pdu,
			const struct pg_pktinfo *pi)
{
	struct mb_txn *t = txn_find(m, h->trans_id);
	struct mb_txn copy;

	if (t) {
		copy = *t;
		t->used = 0;
		t = &copy;
	} else {
		m->orphans++;
	}
	if (pdu->exception) {
		struct pg_event ev;
		const char *name = mb_exception_name(pdu->exc_code);
		mb_event(m, &ev, pi, pdu->func == MB_FC_UMAS ? "umas" : "modbus",
			 PG_K_MODBUS_EXCEPTION,
			 pdu->func == MB_FC_UMAS ? PG_SEV_WARNING : PG_SEV_NOTICE,
			 h->unit, h->trans_id);
		pg_event_set_int(&ev, "func", pdu->func);
		pg_event_set_int(&ev, "exception", pdu->exc_code);
		pg_event_set_str(&ev, "exception_name", name ? name : "unknown");
		if (t && t->func == MB_FC_UMAS && t->ucode)
			pg_event_set_int(&ev, "umas_code", t->ucode);
		pg_event_text(&ev, "Modbus exception to function 0x%02x: %02x %s",
			      pdu->func, pdu->exc_code, name ? name : "unknown");
		pg_sniff_emit(m->s, &ev);
	}
	if (pdu->func == MB_FC_UMAS && (!t || t->func == MB_FC_UMAS))
		umas_response(m, h, pdu, t, pi);
}

/* ---- framing ---- */

static void mb_confirm(struct mbsess *m)
{
	if (m->confirmed)
		return;
	m->confirmed = 1;
	if (m->pmal.pending) {
		m->pmal.pending = 0;
		mb_malformed_emit(m, m->pmal.dir, m->pmal.off, m->pmal.reason, &m->pmal.pi);
	}
}

static void mb_pdu_trace(struct mbsess *m, int dir, const struct mb_mbap *h,
			 const struct mb_pdu *pdu, int fc, const struct pg_pktinfo *pi)
{
	struct pg_event ev;

	mb_event(m, &ev, pi, fc == MB_FC_UMAS ? "umas" : "modbus", PG_K_MODBUS_PDU,
		 PG_SEV_INFO, -1, -1);
	pg_event_set_str(&ev, "dir", dir == PG_DIR_C2S ? "c2s" : "s2c");
	pg_event_set_int(&ev, "trans_id", h->trans_id);
	pg_event_set_int(&ev, "unit", h->unit);
	pg_event_set_int(&ev, "func", fc);
	if (pdu && pdu->func == MB_FC_UMAS && !pdu->exception) {
		struct cur c = cur_init(pdu->data, pdu->data_len);
		cur_u8(&c);
		int code = cur_peek(&c, 0);
		if (code >= 0)
			pg_event_set_int(&ev, "umas_code", code);
	}
	if (h->length > PG_MB_LEN_SPEC_MAX)
		pg_event_set_int(&ev, "mbap_length", h->length);
	pg_event_text(&ev, "Modbus %s trans %u unit %u function 0x%02x",
		      dir == PG_DIR_C2S ? "request" : "response", h->trans_id, h->unit, fc);
	pg_sniff_emit(m->s, &ev);
}

static void mb_adu(struct mbsess *m, int dir, const struct mb_mbap *h, const uint8_t *pdu_p,
		   size_t pdu_n, uint64_t off, const struct pg_pktinfo *pi)
{
	struct mb_pdu pdu;
	struct pg_err e;

	m->s->st.modbus_adus++;
	m->d[dir].episode = 0;
	mb_confirm(m);
	if (h->over_spec)
		m->over_spec++;
	pg_err_clear(&e);
	int bad = mb_parse_pdu(pdu_p, pdu_n, (size_t)off + PG_MB_MBAP_LEN, &pdu, &e) != 0;
	struct cur c = cur_init(pdu_p, pdu_n);
	int fc = cur_u8(&c);
	if ((fc & 0x7F) == MB_FC_UMAS)
		m->s->st.umas_pdus++;
	if (m->s->cfg.pdu_trace)
		mb_pdu_trace(m, dir, h, bad ? NULL : &pdu, fc, pi);
	if (bad) {
		mb_bad_pdu(m, dir, &e, pi);
		return;
	}
	if (dir == PG_DIR_C2S)
		mb_request(m, h, &pdu, pi);
	else
		mb_response(m, h, &pdu, pi);
}

static void dir_drop(struct mb_dir *d, size_t n)
{
	if (n > d->have)
		n = d->have;
	memmove(d->buf, d->buf + n, d->have - n);
	d->have -= n;
	d->off += n;
}

/* Is there a believable header at buf[i]?  1 yes, 0 no. */
static int dir_plausible_at(const struct mb_dir *d, size_t i)
{
	struct cur c = cur_init(d->buf, d->have);
	struct mb_mbap h;

	cur_skip(&c, i);
	const uint8_t *p = cur_bytes(&c, PG_MB_MBAP_LEN + 1);
	if (!p || mb_parse_mbap(p, PG_MB_MBAP_LEN, 0, &h, NULL) != 0)
		return 0;
	struct cur f = cur_init(p, PG_MB_MBAP_LEN + 1);
	cur_skip(&f, PG_MB_MBAP_LEN);
	if (!mb_fc_plausible(cur_u8(&f)))
		return 0;
	/* Preferably the next header too, when its bytes are here. */
	struct cur n = cur_init(d->buf, d->have);
	cur_skip(&n, i + 6 + h.length);
	const uint8_t *q = cur_bytes(&n, PG_MB_MBAP_LEN);
	if (q && mb_parse_mbap(q, PG_MB_MBAP_LEN, 0, &h, NULL) != 0)
		return 0;
	return 1;
}

static void mb_episode(struct mbsess *m, int dir, const struct pg_err *e,
		       const struct pg_pktinfo *pi)
{
	struct mb_dir *d = &m->d[dir];
	char buf[200];

	d->resync = 1;
	if (d->episode)
		return;
	d->episode = 1;
	m->s->st.resyncs++;
	m->s->st.modbus_bad++;
	pg_err_str(e, buf, sizeof buf);
	if (m->confirmed) {
		mb_malformed_emit(m, dir, e->offset, buf, pi);
	} else if (!m->pmal.pending) {
		m->pmal.pending = 1;
		m->pmal.dir = dir;
		m->pmal.off = e->offset;
		snprintf(m->pmal.reason, sizeof m->pmal.reason, "%s", buf);
		if (pi)
			m->pmal.pi = *pi;
	}
}

static void mb_frame(struct mbsess *m, int dir, const struct pg_pktinfo *pi)
{
	struct mb_dir *d = &m->d[dir];
	struct mb_mbap h;
	struct pg_err e;

	for (;;) {
		if (d->resync && !m->confirmed) {
			/* Until the flow has proved to be Modbus a header is only
			 * believed at the start of a segment: scanning inside other
			 * protocols (RPC, TLS) finds runs of zeros that pass as MBAP. */
			if (d->at_seg && d->have < PG_MB_MBAP_LEN + 1)
				return;
			if (!d->at_seg || !dir_plausible_at(d, 0)) {
				d->dropped += d->have;
				dir_drop(d, d->have);
				d->at_seg = 0;
				if (d->dropped > PG_MB_PROBE_BYTES)
					m->given_up = 1;
				return;
			}
			d->at_seg = 0;
			d->resync = 0;
		} else if (d->resync) {
			size_t i = 0;
			while (i + PG_MB_MBAP_LEN + 1 <= d->have && !dir_plausible_at(d, i))
				i++;
			d->dropped += i;
			dir_drop(d, i);
			if (d->have < PG_MB_MBAP_LEN + 1)
				return;  /* nothing yet: keep a possible header start */
			d->resync = 0;
		}
		if (d->have < PG_MB_MBAP_LEN)
			return;
		pg_err_clear(&e);
		if (mb_parse_mbap(d->buf, d->have, (size_t)d->off, &h, &e) != 0) {
			mb_episode(m, dir, &e, pi);
			continue;
		}
		size_t adu = 6 + (size_t)h.length;
		if (d->have < adu)
			return;
		struct cur c = cur_init(d->buf, d->have);
		cur_skip(&c, PG_MB_MBAP_LEN);
		const uint8_t *pdu = cur_bytes(&c, adu - PG_MB_MBAP_LEN);
		mb_adu(m, dir, &h, pdu, adu - PG_MB_MBAP_LEN, d->off, pi);
		dir_drop(d, adu);
	}
}

/* ---- pg_app_ops ---- */

static void *mb_open(struct pg_sniff *s, const struct pg_flowinfo *fi)
{
	if (pg_mem_charge(s, sizeof(struct mbsess)) != 0)
		return NULL;
	struct mbsess *m = calloc(1, sizeof *m);
	if (!m) {
		pg_mem_release(s, sizeof(struct mbsess));
		return NULL;
	}
	m->s = s;
	if (fi)
		m->fi = *fi;
	pg_budget_init(&m->bud, s, mb_flow_cap(s));
	m->bud.used = sizeof *m;   /* charged above, counted against the flow too */
	m->xf[0].data_dir = m->xf[1].data_dir = -1;
	return m;
}

static void mb_data(void *app, int dir, const uint8_t *p, size_t n,
		    const struct pg_pktinfo *pi)
{
	struct mbsess *m = app;

	if (!m || (dir != PG_DIR_C2S && dir != PG_DIR_S2C) || !p)
		return;
	struct mb_dir *d = &m->d[dir];
	struct cur c = cur_init(p, n);
	d->bytes += n;
	if (d->resync && !m->confirmed && !d->at_seg) {
		d->dropped += d->have;
		dir_drop(d, d->have);
		d->at_seg = 1;
	}
	while (!m->given_up && cur_left(&c)) {
		size_t room = sizeof d->buf - d->have;
		size_t k = cur_left(&c) < room ? cur_left(&c) : room;
		cur_copy(&c, d->buf + d->have, k);
		d->have += k;
		mb_frame(m, dir, pi);
	}
}

static void mb_gap(void *app, int dir, uint64_t n, const struct pg_pktinfo *pi)
{
	struct mbsess *m = app;

	if (!m || (dir != PG_DIR_C2S && dir != PG_DIR_S2C))
		return;
	struct mb_dir *d = &m->d[dir];
	d->off += d->have + n;
	d->have = 0;
	/* A gap is capture loss, not malformation: resync without an episode. */
	d->resync = 1;
	m->s->st.resyncs++;
	for (int i = 0; i < 2; i++)
		if (m->xf[i].active)
			m->xf[i].t.gaps++;
	if (dir == PG_DIR_C2S)
		for (size_t i = 0; i < PG_MB_FILE_MAX_FILES; i++)
			if (m->files[i] && !m->files[i]->done) {
				m->files[i]->t.gaps++;
				m->files[i]->seen_after_gap = 0;
			}
	(void)pi;
}

static void mb_conflict(void *app, int dir, const struct pg_pktinfo *pi)
{
	struct mbsess *m = app;
	(void)dir;
	(void)pi;
	if (!m)
		return;
	for (int i = 0; i < 2; i++)
		if (m->xf[i].active)
			m->xf[i].t.tcp_conflict = 1;
	for (size_t i = 0; i < PG_MB_FILE_MAX_FILES; i++)
		if (m->files[i] && !m->files[i]->done)
			m->files[i]->t.tcp_conflict = 1;
}

static void mb_close(void *app, const struct pg_pktinfo *pi)
{
	struct mbsess *m = app;

	if (!m)
		return;
	struct pg_sniff *s = m->s;
	if (m->confirmed) {
		if (m->resv.pending)
			resv_emit(m, pi, "none", -1);
		for (size_t i = 0; i < m->txn_cap; i++) {
			struct mb_txn *t = &m->txn[i];
			if (t->used && t->func == MB_FC_UMAS)
				umas_control_emit(m, t, "none", pi);
		}
		for (int i = 0; i < 2; i++)
			xfer_finish(m, i, pi, "end_not_seen");
		for (size_t i = 0; i < PG_MB_FILE_MAX_FILES; i++)
			if (m->files[i])
				file_emit(m, m->files[i], pi, NULL);
	} else if (m->d[0].bytes + m->d[1].bytes > 0 &&
		   pg_rate_ok(++s->st.not_modbus_flows)) {
		/* one event per flow, but the first 64 and then every power of
		 * two only: a scan of port 502 must not flood the feed */
		struct pg_event ev;
		mb_event(m, &ev, pi, "modbus", PG_K_MODBUS_NOT_MODBUS, PG_SEV_NOTICE, -1, -1);
		pg_event_set_int(&ev, "bytes_c2s", (long long)m->d[0].bytes);
		pg_event_set_int(&ev, "bytes_s2c", (long long)m->d[1].bytes);
		pg_event_set_int(&ev, "flows_so_far", (long long)s->st.not_modbus_flows);
		pg_event_text(&ev, "traffic on the Modbus port never framed as Modbus/TCP "
			      "(%llu bytes)",
			      (unsigned long long)(m->d[0].bytes + m->d[1].bytes));
		pg_sniff_emit(s, &ev);
	}
	for (int i = 0; i < 2; i++)
		xfer_free(&m->xf[i]);
	for (size_t i = 0; i < PG_MB_FILE_MAX_FILES; i++)
		if (m->files[i]) {
			pg_xfer_free(&m->files[i]->t);
			free(m->files[i]);
			pg_budget_release(&m->bud, sizeof *m->files[i]);
		}
	free(m->txn);
	free(m->tidseen);
	pg_mem_release(s, m->bud.used);   /* the struct and anything left */
	free(m);
}

const struct pg_app_ops pg_modbus_app = {
	.name = "modbus",
	.open = mb_open,
	.data = mb_data,
	.gap = mb_gap,
	.close = mb_close,
	.conflict = mb_conflict,
};
