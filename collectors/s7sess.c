/*
 * s7sess.c - the S7 application on TCP/102 (pg_s7_app, collectors/sniff.h):
 * TPKT stream framing, COTP connection and DT reassembly, S7comm session
 * state (download / upload assembly, PI services, stop, errors) and
 * S7comm-plus recognition.  Follows ../shared/docs/PROTOCOLS.md sections 1-4;
 * the event kinds are listed in docs/EVENTS.md.
 *
 *   data(dir) -> stream buffer -> TPKT (03 00 LL LL) -> COTP TPDU
 *      CR/CC -> "cotp.connect"            DT -> PDU buffer until EOT
 *      PDU 32 -> s7_parse_pdu -> trace, pair Job/Ack_Data, transfers
 *      PDU 72 -> s7p_parse    -> counts, "s7plus.session" (unverifiable)
 *
 * A download is a transaction keyed by the block file name (Job 1A opens it,
 * the PLC's Job 1B names it again with its own PDU reference, the client's
 * Ack_Data 1B with the same reference carries a slice); an upload is keyed
 * by the PLC's upload id.  There is no offset in a slice, so completeness
 * is proved by accounting, not by the absence of TCP gaps:
 *   - every slice the peer asked for (the PLC's Job 1B, the ES's Job 1E,
 *     paired with its reply by direction and PDU reference) was received
 *     whole: a request with no reply is a missing slice;
 *   - the last slice (no more-data flag) was seen;
 *   - the bytes add up to the announced length (Request Download / Start
 *     Upload) and to the block's own header (load length, MC7 code length).
 * A capture gap between PDUs, such as STEP 7's empty COTP DT frames missing
 * from a `tshark -Y s7comm` export, loses no slice and so changes nothing
 * but the event's `gaps` count.  A missing slice, or a gap after which the
 * lengths do not add up, ends INCOMPLETE without a hash (never a wrong hash);
 * without a gap, lengths that disagree end INVALID, with hash and payload
 * for forensics.  A download is reported when the PLC ends it (Job 1C): a
 * non-zero error code there means the PLC refused the block, which was
 * transferred but never accepted.  Blocks are followed from download to
 * activation (_INSE) or deletion (_DELE) in s7life.c; close() reports each
 * block's fate.  The transfer itself (slices, accounting, image, hash,
 * verdict) is the transaction of xfer.c.  Everything we hold for the traffic
 * is charged to the context and to the flow's own budget (pg_budget).
 *
 * Rejected alternatives: parsing TPKTs straight from the caller's buffer
 * (saves a copy, but doubles the code paths for a TPKT across calls);
 * keying slices by arrival order instead of (direction, PDU reference)
 * (interleaved transfers on one connection would mix).
 */
#include "sniff.h"
#include "s7life.h"
#include "xfer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cotp.h"
#include "cursor.h"
#include "digest.h"
#include "mc7.h"
#include "pg_limits.h"
#include "s7comm.h"
#include "s7plus.h"

/* Named maxima of this module: PG_S7_* in pg_limits.h. */

enum s7_limit_bit {
	LIM_JOBS = 1, LIM_XFERS = 2, LIM_MEM = 4, LIM_PDU = 8, LIM_FRAGS = 16,
	LIM_MALFORMED = 32, LIM_FATES = 64,
};

struct s7_dir {
	uint8_t *buf;          /* stream bytes not yet framed */
	size_t len, cap;
	uint64_t off;          /* stream offset of buf[0] */
	int resync;            /* looking for a plausible TPKT header */
	int resync_quiet;      /* resync started by a gap: no event */
	uint64_t skipped;      /* bytes skipped in this resync episode */
	uint8_t *pdu;          /* COTP DT reassembly */
	size_t pdu_len, pdu_cap;
	unsigned frags;
	int pdu_drop;          /* discarding until EOT (too big) */
	uint64_t pdu_off;      /* stream offset of the first DT of the PDU */
};

struct s7_job {
	uint8_t dir, func;
	uint16_t pduref;
	uint32_t xfer_id;
	int has_upload_id;
	uint32_t upload_id;
	char filename[S7_FILENAME_MAX + 1];
	size_t filename_len;
};

struct s7_xfer {
	uint32_t id;
	int upload;
	char filename[S7_FILENAME_MAX + 1];
	size_t filename_len;
	int has_block;
	uint8_t type;
	uint16_t number;
	char fs;
	uint32_t ann_mc7;                /* download: announced MC7 code length */
	int has_upload_id;
	uint32_t upload_id;
	int orphan;                      /* no request seen that started it */
	struct pg_xfer t;                /* slices, accounting, image, verdict */
};

struct s7_app {
	struct pg_sniff *s;
	struct pg_flowinfo fi;
	struct pg_budget bud;            /* what this flow holds (flow_mem_max) */
	struct s7_dir d[2];
	/* COTP connection */
	int cr_seen, connect_done;
	struct cotp_tsap calling, called;
	int has_rackslot;
	uint8_t rack, slot;
	uint64_t dr, dc, er;
	/* S7comm */
	struct s7_job *jobs;
	size_t njobs, jobs_cap;
	struct s7_xfer *xfers[PG_S7_MAX_XFERS];
	size_t nxfers;
	uint32_t next_xfer_id;
	unsigned limits_hit;             /* enum s7_limit_bit */
	unsigned malformed;
	uint64_t gaps_seen;              /* capture gaps on this flow */
	struct s7_life life;             /* blocks from download to activation */
	/* S7comm-plus */
	uint64_t s7p_ver[5];             /* 01 02 03 FE FF */
	int s7p_seen, s7p_tls, s7p_initssl, s7p_prog, s7p_done;
};

static const char *dir_name(int dir)
{
	return dir == PG_DIR_C2S ? "c2s" : "s2c";
}

/* ---- memory: the global budget and this flow's own ---- */

/* Grow *buf to hold need bytes (doubling from min, at most max). */
static int s7_reserve(struct s7_app *a, uint8_t **buf, size_t *cap, size_t need,
		      size_t min, size_t max)
{
	if (need <= *cap)
		return 0;
	if (need > max)
		return -1;
	size_t nc = *cap ? *cap : min;
	while (nc < need)
		nc = nc > max / 2 ? max : nc * 2;
	if (pg_budget_charge(&a->bud, nc - *cap) < 0)
		return -1;
	uint8_t *nb = realloc(*buf, nc);
	if (!nb) {
		pg_budget_release(&a->bud, nc - *cap);
		return -1;
	}
	*buf = nb;
	*cap = nc;
	return 0;
}

static void s7_free_buf(struct s7_app *a, uint8_t **buf, size_t *cap)
{
	free(*buf);
	*buf = NULL;
	pg_budget_release(&a->bud, *cap);
	*cap = 0;
}

/* ---- events ---- */

static void s7_ev(struct s7_app *a, struct pg_event *ev, const struct pg_pktinfo *pi,
		  const char *proto, enum pg_kind kind, enum pg_sev sev)
{
	pg_event_wire(ev, &a->fi, pi, proto, kind, sev);
}

static void s7_limit(struct s7_app *a, const struct pg_pktinfo *pi, unsigned bit,
		     const char *what)
{
	if (!pg_once(&a->limits_hit, bit))
		return;            /* once per flow and limit: a flood is one event */
	struct pg_event ev;
	s7_ev(a, &ev, pi, "s7comm", PG_K_S7_LIMIT, PG_SEV_WARNING);
	pg_event_set_str(&ev, "limit", what);
	pg_event_text(&ev, "S7 session limit reached: %s", what);
	pg_sniff_emit(a->s, &ev);
}

static void s7_malformed(struct s7_app *a, const struct pg_pktinfo *pi, int dir,
			 uint64_t off, const char *reason)
{
	if (a->malformed >= PG_S7_MAX_MALFORMED) {
		s7_limit(a, pi, LIM_MALFORMED,
			 "malformed-input events for this flow (further ones are only counted)");
		return;
	}
	a->malformed++;
	struct pg_event ev;
	s7_ev(a, &ev, pi, "s7comm", PG_K_S7_MALFORMED, PG_SEV_WARNING);
	pg_event_set_str(&ev, "dir", dir_name(dir));
	pg_event_set_int(&ev, "stream_offset", (long long)off);
	pg_event_set_str(&ev, "reason", reason);
	pg_event_text(&ev, "malformed S7 traffic (%s) at stream offset %llu: %s",
		      dir_name(dir), (unsigned long long)off, reason);
	pg_sniff_emit(a->s, &ev);
}

static void s7_set_block(struct s7_app *a, struct pg_event *ev, int has_block,
			 uint8_t type, uint16_t number, char fs,
			 const char *fn, size_t fn_len)
{
	if (has_block) {
		const char *tn = mc7_type_name(type);
		mc7_block_id(type, number, ev->object, sizeof ev->object);
		if (tn)
			pg_event_set_str(ev, "block_type", tn);
		pg_event_set_int(ev, "block_number", number);
		if (fs)
			pg_event_set_strn(ev, "filesystem", &fs, 1);
	}
	if (fn && fn_len)
		pg_event_set_strn(ev, "filename", fn, fn_len);
	if (a->has_rackslot) {
		pg_event_set_int(ev, "rack", a->rack);
		pg_event_set_int(ev, "slot", a->slot);
	}
}

/* ---- block lifecycle (collectors/s7life.c) ---- */

static struct s7_life_ent *s7_fate_get(struct s7_app *a, const struct pg_pktinfo *pi,
				       uint8_t type, uint16_t number)
{
	int full;
	struct s7_life_ent *f = s7_life_get(&a->life, &a->bud, type, number, &full);
	if (!f)
		s7_limit(a, pi, full ? LIM_FATES : LIM_MEM, full ?
			 "blocks followed from download to activation" :
			 "memory for S7 session state");
	return f;
}

/* ---- COTP connection ---- */

static void s7_connect_emit(struct s7_app *a, const struct pg_pktinfo *pi, int cc)
{
	if (a->connect_done)
		return;
	a->connect_done = 1;
	struct pg_event ev;
	s7_ev(a, &ev, pi, "cotp", PG_K_COTP_CONNECT, PG_SEV_INFO);
	if (a->calling.len)
		pg_event_set_hex(&ev, "calling_tsap", a->calling.b, a->calling.len);
	if (a->called.len)
		pg_event_set_hex(&ev, "called_tsap", a->called.b, a->called.len);
	pg_event_set_bool(&ev, "confirmed", cc);
	uint8_t ct, rack, slot;
	if (cotp_tsap_classic(&a->called, &ct, &rack, &slot) == 0) {
		pg_event_set_str(&ev, "conn_type", cotp_conn_type_name(ct));
		pg_event_set_int(&ev, "rack", rack);
		pg_event_set_int(&ev, "slot", slot);
		a->has_rackslot = 1;
		a->rack = rack;
		a->slot = slot;
		pg_event_text(&ev, "COTP connection %s: %s, rack %u slot %u",
			      cc ? "confirmed" : "requested", cotp_conn_type_name(ct),
			      rack, slot);
	} else if (cotp_tsap_is_ascii(&a->called) || cotp_tsap_is_ascii(&a->calling)) {
		const struct cotp_tsap *t = cotp_tsap_is_ascii(&a->called) ?
					    &a->called : &a->calling;
		pg_event_set_strn(&ev, "tsap_ascii", (const char *)t->b, t->len);
		pg_event_text(&ev, "COTP connection %s with ASCII TSAP (S7comm-plus style)",
			      cc ? "confirmed" : "requested");
	} else {
		pg_event_text(&ev, "COTP connection %s", cc ? "confirmed" : "requested");
	}
	pg_sniff_emit(a->s, &ev);
}

/* ---- jobs (pairing by direction of the job and PDU reference) ---- */

static struct s7_job *s7_job_add(struct s7_app *a, const struct pg_pktinfo *pi,
				 int dir, uint16_t pduref, uint8_t func)
{
	/* A reused reference replaces the older job (the PLC reuses them). */
	for (size_t i = 0; i < a->njobs; i++) {
		if (a->jobs[i].dir == dir && a->jobs[i].pduref == pduref) {
			memmove(&a->jobs[i], &a->jobs[i + 1],
				(a->njobs - i - 1) * sizeof *a->jobs);
			a->njobs--;
			break;
		}
	}
	if (a->njobs >= PG_S7_MAX_JOBS) {
		s7_limit(a, pi, LIM_JOBS, "outstanding jobs (the oldest are forgotten)");
		memmove(&a->jobs[0], &a->jobs[1], (a->njobs - 1) * sizeof *a->jobs);
		a->njobs--;
	}
	if (a->njobs == a->jobs_cap) {
		size_t nc = a->jobs_cap ? a->jobs_cap * 2 : 8;
		if (nc > PG_S7_MAX_JOBS)
			nc = PG_S7_MAX_JOBS;
		if (pg_budget_charge(&a->bud, (nc - a->jobs_cap) * sizeof *a->jobs) < 0) {
			s7_limit(a, pi, LIM_MEM, "memory for S7 session state");
			return NULL;
		}
		struct s7_job *nj = realloc(a->jobs, nc * sizeof *nj);
		if (!nj) {
			pg_budget_release(&a->bud, (nc - a->jobs_cap) * sizeof *a->jobs);
			return NULL;
		}
		a->jobs = nj;
		a->jobs_cap = nc;
	}
	struct s7_job *j = &a->jobs[a->njobs++];
	memset(j, 0, sizeof *j);
	j->dir = (uint8_t)dir;
	j->pduref = pduref;
	j->func = func;
	return j;
}

/* Take (remove) the job a reply in direction dir answers; 0 if none. */
static int s7_job_take(struct s7_app *a, int dir, uint16_t pduref, struct s7_job *out)
{
	for (size_t i = 0; i < a->njobs; i++) {
		if (a->jobs[i].dir != dir && a->jobs[i].pduref == pduref) {
			*out = a->jobs[i];
			memmove(&a->jobs[i], &a->jobs[i + 1],
				(a->njobs - i - 1) * sizeof *a->jobs);
			a->njobs--;
			return 1;
		}
	}
	return 0;
}

/* ---- transfers ---- */

static struct s7_xfer *s7_xfer_by_id(struct s7_app *a, uint32_t id)
{
	for (size_t i = 0; i < a->nxfers; i++)
		if (a->xfers[i]->id == id)
			return a->xfers[i];
	return NULL;
}

static struct s7_xfer *s7_xfer_by_name(struct s7_app *a, int upload,
				       const char *fn, size_t n)
{
	for (size_t i = 0; i < a->nxfers; i++) {
		struct s7_xfer *x = a->xfers[i];
		if (x->upload == upload && x->filename_len == n &&
		    memcmp(x->filename, fn, n) == 0)
			return x;
	}
	return NULL;
}

static struct s7_xfer *s7_xfer_by_upload_id(struct s7_app *a, uint32_t uid)
{
	for (size_t i = 0; i < a->nxfers; i++) {
		struct s7_xfer *x = a->xfers[i];
		if (x->upload && x->has_upload_id && x->upload_id == uid)
			return x;
	}
	return NULL;
}

static void s7_xfer_set_name(struct s7_xfer *x, const char *fn, size_t n)
{
	if (n > S7_FILENAME_MAX)
		n = S7_FILENAME_MAX;
	memcpy(x->filename, fn, n);
	x->filename[n] = '\0';
	x->filename_len = n;
	x->has_block = mc7_parse_filename(fn, n, &x->type, &x->number, &x->fs) == 0;
}

static struct s7_xfer *s7_xfer_new(struct s7_app *a, const struct pg_pktinfo *pi,
				   int upload, const char *fn, size_t n)
{
	if (a->nxfers >= PG_S7_MAX_XFERS) {
		s7_limit(a, pi, LIM_XFERS, "block transfers in progress on one connection");
		return NULL;
	}
	if (pg_budget_charge(&a->bud, sizeof(struct s7_xfer)) < 0) {
		s7_limit(a, pi, LIM_MEM, "memory for S7 session state");
		return NULL;
	}
	struct s7_xfer *x = calloc(1, sizeof *x);
	if (!x) {
		pg_budget_release(&a->bud, sizeof *x);
		return NULL;
	}
	x->id = ++a->next_xfer_id;
	x->upload = upload;
	pg_xfer_init(&x->t, &a->bud, PG_MC7_MAX_BLOCK, PG_S7_MAX_SLICES, 0);
	x->t.expect_last = 1;            /* the more-data flag ends the slices */
	if (fn && n)
		s7_xfer_set_name(x, fn, n);
	a->xfers[a->nxfers++] = x;
	return x;
}

static void s7_xfer_free(struct s7_app *a, struct s7_xfer *x)
{
	for (size_t i = 0; i < a->nxfers; i++) {
		if (a->xfers[i] == x) {
			a->xfers[i] = a->xfers[--a->nxfers];
			break;
		}
	}
	pg_xfer_free(&x->t);
	free(x);
	pg_budget_release(&a->bud, sizeof *x);
}

/* An announced length bounds what we collect (with some slack, so that an
 * overlong transfer is seen as such and ends INVALID). */
static void s7_xfer_announce(struct s7_xfer *x, uint32_t len)
{
	x->t.has_announced = 1;
	x->t.announced = len;
	if ((size_t)len + PG_S7_XFER_SLACK < PG_MC7_MAX_BLOCK)
		x->t.max_bytes = (size_t)len + PG_S7_XFER_SLACK;
}

static void s7_xfer_append(struct s7_app *a, const struct pg_pktinfo *pi,
			   struct s7_xfer *x, const uint8_t *p, size_t n)
{
	if (pg_xfer_append(&x->t, p, n) == PG_XPUT_MEM)
		s7_limit(a, pi, LIM_MEM, "memory for block transfers");
}

/*
 * End a transfer: one "s7.block.download" / "s7.block.upload" event with the
 * verdict of the transaction (collectors/xfer.h) and of the MC7 checks, then
 * free it.  `ctx` says why it ends now when that is not its own end (capture
 * ended, a new request for the same block); it is the reason only if the
 * accounting finds it incomplete.
 */
static void s7_xfer_finish(struct s7_app *a, const struct pg_pktinfo *pi,
			   struct s7_xfer *x, const char *ctx)
{
	struct pg_event ev;
	const char *what = x->upload ? "upload" : "download";
	struct pg_xfer_out o;
	x->t.midstream = x->orphan;
	pg_xfer_judge(&x->t, ctx, &o);

	/* The block's own header must account for the bytes too. */
	struct mc7_block m;
	struct pg_err e;
	pg_err_clear(&e);
	int mrc = o.has_sha ? mc7_parse(o.image, o.len, &m, &e) : -1;
	if (!o.verdict) {
		char why[400];
		if (mrc < 0) {
			char eb[320];
			snprintf(why, sizeof why, "not a valid MC7 block: %s",
				 pg_err_str(&e, eb, sizeof eb));
			pg_xfer_content_fail(&x->t, &o, "not_mc7", why);
		} else if (!x->upload && x->t.has_announced && m.code_len != x->ann_mc7) {
			snprintf(why, sizeof why, "MC7 code length %u in the block, %u announced",
				 m.code_len, x->ann_mc7);
			pg_xfer_content_fail(&x->t, &o, "mc7_len_mismatch", why);
		} else if (x->has_block && (m.type != x->type || m.number != x->number)) {
			pg_xfer_content_fail(&x->t, &o, "name_mismatch",
					     "the block header names another block than the file name");
		}
	}

	s7_ev(a, &ev, pi, "s7comm", x->upload ? PG_K_S7_BLOCK_UPLOAD : PG_K_S7_BLOCK_DOWNLOAD,
	      PG_SEV_NOTICE);
	s7_set_block(a, &ev, x->has_block, x->type, x->number, x->fs,
		     x->filename, x->filename_len);
	if (!ev.object[0] && x->filename_len)
		snprintf(ev.object, sizeof ev.object, "%.*s", (int)x->filename_len,
			 x->filename);
	const char *en = x->t.refused ? s7_error_name(x->t.err) : NULL;
	pg_xfer_event(&x->t, &o, !x->upload, en, &ev);
	if (x->t.has_announced) {
		pg_event_set_int(&ev, x->upload ? "total_len" : "load_len",
				 (long long)x->t.announced);
		if (!x->upload)
			pg_event_set_int(&ev, "mc7_len", x->ann_mc7);
	} else {
		pg_event_set_bool(&ev, "announced", 0);
	}
	if (x->has_upload_id)
		pg_event_set_int(&ev, "upload_id", x->upload_id);
	char refusal[160] = "";
	if (x->t.refused)
		snprintf(refusal, sizeof refusal, "; refused by the PLC: error 0x%04X%s%s%s",
			 x->t.err, en ? " (" : "", en ? en : "", en ? ")" : "");
	if (mrc == 0 && o.has_sha) {
		pg_event_set_str(&ev, "lang", mc7_lang_name(m.lang));
		pg_event_set_int(&ev, "block_version", m.version);
		pg_event_set_bool(&ev, "know_how", m.know_how);
		if (!x->has_block)
			mc7_block_id(m.type, m.number, ev.object, sizeof ev.object);
	}
	const char *obj = ev.object[0] ? ev.object : "an unnamed block";
	if (o.verdict == PG_VERDICT_INCOMPLETE) {
		pg_event_text(&ev, "%s of %s incomplete (%zu bytes seen): %s%s", what, obj,
			      x->t.bytes, o.why, refusal);
	} else if (o.verdict) {
		pg_event_text(&ev, "%s of %s (%zu bytes) failed a check: %s%s", what, obj,
			      x->t.bytes, o.why, refusal);
	} else {
		ev.has_fp = 1;
		memcpy(ev.strict, m.strict, 32);
		memcpy(ev.logic_fp, m.logic_fp, 32);
		pg_event_text(&ev, "%s of %s complete (%zu bytes%s%s)%s", what, obj, x->t.bytes,
			      x->t.gaps ? ", capture gaps between PDUs" : "",
			      !x->upload && !x->t.end_seen ? ", end of download not seen" : "",
			      refusal);
	}
	if (!x->upload) {
		uint8_t bt = x->type;
		uint16_t bn = x->number;
		int known = x->has_block;
		if (!known && mrc == 0) {
			bt = m.type;
			bn = m.number;
			known = 1;
		}
		struct s7_life_ent *f = known ? s7_fate_get(a, pi, bt, bn) : NULL;
		if (f) {
			f->downloaded = 1;
			f->fate = x->t.refused ? FATE_REFUSED :
				  o.verdict == PG_VERDICT_INCOMPLETE ?
				  FATE_INCOMPLETE : FATE_DOWNLOADED;
			f->err = x->t.err;
			f->has_sha = ev.has_sha256;
			if (ev.has_sha256)
				memcpy(f->sha256, ev.sha256, 32);
			f->frame = pi ? pi->frame : 0;
		}
	}
	pg_sniff_emit(a->s, &ev);
	s7_xfer_free(a, x);
}

/* ---- S7comm ---- */

static void s7_trace(struct s7_app *a, const struct pg_pktinfo *pi, int dir,
		     const struct s7_pdu *u)
{
	struct pg_event ev;
	s7_ev(a, &ev, pi, "s7comm", PG_K_S7_PDU, PG_SEV_INFO);
	pg_event_set_str(&ev, "dir", dir_name(dir));
	pg_event_set_int(&ev, "rosctr", u->rosctr);
	pg_event_set_int(&ev, "pduref", u->pduref);
	if (u->has_func)
		pg_event_set_int(&ev, "func", u->func);
	if (u->has_err) {
		pg_event_set_int(&ev, "errcls", u->errcls);
		pg_event_set_int(&ev, "errcod", u->errcod);
	}
	if (u->has_filename) {
		pg_event_set_strn(&ev, "filename", u->filename, u->filename_len);
	} else if (u->nblocks) {
		/* As tshark lists them with -E occurrence=a: comma-separated. */
		char list[S7_PI_MAX_BLOCKS * 9 + 1];
		size_t o = 0;
		for (unsigned i = 0; i < u->nblocks; i++) {
			if (i)
				list[o++] = ',';
			memcpy(list + o, u->blocks[i].name, 8);
			o += 8;
		}
		pg_event_set_strn(&ev, "filename", list, o);
	}
	const char *fn = u->has_func ? s7_func_name(u->func) : NULL;
	pg_event_text(&ev, "S7 %s %s pduref %u%s%s", dir_name(dir),
		      s7_rosctr_name(u->rosctr), u->pduref, fn ? " " : "", fn ? fn : "");
	pg_sniff_emit(a->s, &ev);
}

static void s7_error_emit(struct s7_app *a, const struct pg_pktinfo *pi,
			  const struct s7_pdu *u, int func, const char *extra)
{
	uint16_t code = (uint16_t)(u->errcls << 8 | u->errcod);
	const char *name = s7_error_name(code);
	struct pg_event ev;
	s7_ev(a, &ev, pi, "s7comm", PG_K_S7_ERROR, PG_SEV_WARNING);
	pg_event_set_int(&ev, "errcls", u->errcls);
	pg_event_set_int(&ev, "errcod", u->errcod);
	if (func >= 0)
		pg_event_set_int(&ev, "func", func);
	pg_event_set_int(&ev, "pduref", u->pduref);
	const char *fname = func >= 0 ? s7_func_name((uint8_t)func) : NULL;
	pg_event_text(&ev, "PLC answered %s (pduref %u) with error 0x%04X%s%s%s%s",
		      fname ? fname : "a job", u->pduref, code,
		      name ? " (" : "", name ? name : "", name ? ")" : "",
		      extra ? extra : "");
	pg_sniff_emit(a->s, &ev);
}

static void s7_on_request_download(struct s7_app *a, const struct pg_pktinfo *pi,
				   int dir, const struct s7_pdu *u)
{
	struct s7_job *j = s7_job_add(a, pi, dir, u->pduref, u->func);
	if (!u->has_filename)
		return;
	if (j) {
		memcpy(j->filename, u->filename, u->filename_len + 1);
		j->filename_len = u->filename_len;
	}
	struct s7_xfer *old = s7_xfer_by_name(a, 0, u->filename, u->filename_len);
	if (old)
		s7_xfer_finish(a, pi, old, "a new download request for the same block started");
	/* An unnamed transfer (its slices came while the requests were lost)
	 * cannot be this block's: it began before this request. */
	struct s7_xfer *x = s7_xfer_new(a, pi, 0, u->filename, u->filename_len);
	if (x && u->has_lengths) {
		s7_xfer_announce(x, u->load_len);
		x->ann_mc7 = u->mc7_len;
	}
	struct pg_event ev;
	s7_ev(a, &ev, pi, "s7comm", PG_K_S7_DOWNLOAD_REQUEST, PG_SEV_NOTICE);
	s7_set_block(a, &ev, u->filename_ok, u->blk_type, u->blk_number, u->blk_fs,
		     u->filename, u->filename_len);
	if (u->has_lengths) {
		pg_event_set_int(&ev, "load_len", u->load_len);
		pg_event_set_int(&ev, "mc7_len", u->mc7_len);
	}
	pg_event_text(&ev, "download of %s requested (%u bytes announced)",
		      ev.object[0] ? ev.object : "a block", u->load_len);
	pg_sniff_emit(a->s, &ev);
}

/* The PLC's Job 1B: names the block whose next slice it asks for. */
static void s7_on_download_job(struct s7_app *a, const struct pg_pktinfo *pi,
			       int dir, const struct s7_pdu *u)
{
	struct s7_job *j = s7_job_add(a, pi, dir, u->pduref, u->func);
	if (!j || !u->has_filename)
		return;
	struct s7_xfer *x = s7_xfer_by_name(a, 0, u->filename, u->filename_len);
	if (!x) { /* adopt an unnamed orphan (its first slice came without a job) */
		x = s7_xfer_by_name(a, 0, "", 0);
		if (x && x->t.last_seen)
			x = NULL;    /* it is over: only its Job 1C is to come */
	}
	if (x && !x->filename_len)
		s7_xfer_set_name(x, u->filename, u->filename_len);
	if (!x) {
		x = s7_xfer_new(a, pi, 0, u->filename, u->filename_len);
		if (x)
			x->orphan = a->fi.midstream || a->gaps_seen;  /* its start may be lost */
	}
	if (x) {
		j->xfer_id = x->id;
		x->t.requested++;
	}
}

/* Block data reply (1B Ack_Data or 1E Ack_Data): one slice. */
static void s7_on_slice(struct s7_app *a, const struct pg_pktinfo *pi, int dir,
			const struct s7_pdu *u, int prc, const struct s7_job *j,
			int have_job)
{
	int upload = u->func == S7_F_UPLOAD;
	struct s7_xfer *x = NULL;
	int paired = 0;
	if (have_job && !upload && j->xfer_id)
		x = s7_xfer_by_id(a, j->xfer_id);
	if (have_job && upload && j->has_upload_id)
		x = s7_xfer_by_upload_id(a, j->upload_id);
	paired = x != NULL;
	if (!x && !have_job) {
		/* The request was lost (a capture gap): the reply belongs to the
		 * one transfer of its kind in progress, if there is exactly one.
		 * The lengths still have to add up for it to complete. */
		struct s7_xfer *only = NULL;
		size_t n = 0;
		for (size_t i = 0; i < a->nxfers; i++)
			if (a->xfers[i]->upload == upload && !a->xfers[i]->t.last_seen) {
				only = a->xfers[i];   /* one whose last slice came is
							 only waiting for its Job 1C */
				n++;
			}
		if (n == 1)
			x = only;
	}
	if (!x) {
		x = s7_xfer_new(a, pi, upload, have_job ? j->filename : NULL,
				have_job ? j->filename_len : 0);
		if (!x)
			return;
		x->orphan = 1;
		x->t.gaps += a->gaps_seen ? 1 : 0;
		if (have_job && upload && j->has_upload_id) {
			x->has_upload_id = 1;
			x->upload_id = j->upload_id;
		}
	}
	int err = (u->errcls | u->errcod) != 0 || (u->status & S7_FS_ERROR) || prc != 0;
	if (err) {
		x->t.slice_err = 1;
		if ((u->errcls | u->errcod) != 0)
			s7_error_emit(a, pi, u, u->func, NULL);
	}
	if (paired)
		x->t.answered++;
	else
		x->t.unpaired++;
	if (u->has_slice)
		s7_xfer_append(a, pi, x, u->slice, u->slice_len);
	if (!(u->status & S7_FS_MORE) && !err) {
		x->t.last_seen = 1;
		/* An upload ends with its last slice; a download when the PLC
		 * says whether it took the block (Job 1C), or at close. */
		if (upload)
			s7_xfer_finish(a, pi, x, NULL);
	}
}

static void s7_on_download_end(struct s7_app *a, const struct pg_pktinfo *pi,
			       int dir, const struct s7_pdu *u)
{
	s7_job_add(a, pi, dir, u->pduref, u->func);
	struct s7_xfer *x = u->has_filename ?
		s7_xfer_by_name(a, 0, u->filename, u->filename_len) : NULL;
	if (!x && u->has_filename) {
		/* The requests that named it were lost: an unnamed transfer that
		 * has seen its last slice is the one this Job 1C ends. */
		x = s7_xfer_by_name(a, 0, "", 0);
		if (x && x->t.last_seen)
			s7_xfer_set_name(x, u->filename, u->filename_len);
		else
			x = NULL;
	}
	if (x) {
		/* the PLC's Job 1C is both the end and its answer */
		x->t.end_seen = x->t.end_answered = 1;
		x->t.refused = u->blk_err != 0;
		x->t.err = u->blk_err;
		s7_xfer_finish(a, pi, x, "the PLC ended the download");
	}
	struct pg_event ev;
	const char *en = u->blk_err ? s7_error_name(u->blk_err) : NULL;
	s7_ev(a, &ev, pi, "s7comm", PG_K_S7_DOWNLOAD_END,
	      u->blk_err ? PG_SEV_WARNING : PG_SEV_INFO);
	s7_set_block(a, &ev, u->filename_ok, u->blk_type, u->blk_number, u->blk_fs,
		     u->filename, u->filename_len);
	pg_event_set_int(&ev, "error_code", u->blk_err);
	if (en)
		pg_event_set_str(&ev, "error_name", en);
	pg_event_text(&ev, "download of %s ended (error code 0x%04X%s%s%s)",
		      ev.object[0] ? ev.object : "a block", u->blk_err,
		      u->blk_err ? ": refused" : "", en ? ", " : "", en ? en : "");
	pg_sniff_emit(a->s, &ev);
}

static void s7_on_pi(struct s7_app *a, const struct pg_pktinfo *pi, int dir,
		     const struct s7_pdu *u)
{
	s7_job_add(a, pi, dir, u->pduref, u->func);
	if (!u->has_service)
		return;
	enum pg_kind kind = PG_K_S7_PI;
	enum pg_sev sev = PG_SEV_NOTICE;
	int is_blocks = 0;
	if (u->service_len == 5 && !memcmp(u->service, "_INSE", 5)) {
		kind = PG_K_S7_BLOCK_ACTIVATE;
		is_blocks = 1;
	} else if (u->service_len == 5 && !memcmp(u->service, "_DELE", 5)) {
		kind = PG_K_S7_BLOCK_DELETE;
		sev = PG_SEV_WARNING;
		is_blocks = 1;
	} else if (u->service_len == 9 && !memcmp(u->service, "P_PROGRAM", 9)) {
		kind = PG_K_S7_PLC_START;
	}
	struct pg_event ev;
	s7_ev(a, &ev, pi, "s7comm", kind, sev);
	pg_event_set_strn(&ev, "service", u->service, u->service_len);
	if (a->has_rackslot) {
		pg_event_set_int(&ev, "rack", a->rack);
		pg_event_set_int(&ev, "slot", a->slot);
	}
	if (is_blocks) {
		json_t *ids = json_array(), *fss = json_array(), *dl = json_array();
		size_t o = 0;
		for (unsigned i = 0; i < u->nblocks; i++) {
			const struct s7_pi_block *b = &u->blocks[i];
			struct s7_life_ent *f = b->valid ?
				s7_fate_get(a, pi, b->type, b->number) : NULL;
			if (f) {
				if (f->downloaded && f->fate == FATE_DOWNLOADED) {
					char did[24];
					mc7_block_id(b->type, b->number, did, sizeof did);
					json_array_append_new(dl, json_string(did));
				}
				f->pi_pending = 1;
				f->pi_kind = sev == PG_SEV_WARNING ? FATE_DELETED : FATE_ACTIVATED;
				f->pi_ref = u->pduref;
				f->frame = pi ? pi->frame : 0;
			}
			char id[24];
			if (b->valid)
				mc7_block_id(b->type, b->number, id, sizeof id);
			else
				snprintf(id, sizeof id, "?%.8s", b->name);
			/* Raw bytes may be anything: only safe characters in ids. */
			for (char *c = id; *c; c++)
				if (*c < 0x20 || *c > 0x7E)
					*c = '?';
			char fs[2] = { b->valid ? b->fs : '?', 0 };
			json_array_append_new(ids, json_string(id));
			json_array_append_new(fss, json_string(fs));
			int w = snprintf(ev.object + o, sizeof ev.object - o, "%s%s",
					 i ? "," : "", id);
			if (w > 0 && (size_t)w < sizeof ev.object - o)
				o += (size_t)w;
		}
		pg_event_set_json(&ev, "blocks", ids);
		pg_event_set_json(&ev, "filesystems", fss);
		/* which of them this session was seen downloading (and the PLC
		 * accepted): the join from a download to its activation */
		pg_event_set_json(&ev, "downloaded_here", dl);
		pg_event_text(&ev, "PI %.*s: %s %u block(s) %s", (int)u->service_len,
			      u->service, sev == PG_SEV_WARNING ? "delete" : "activate",
			      u->nblocks, ev.object);
	} else if (kind == PG_K_S7_PLC_START) {
		/* Warm restart carries an empty parameter block, cold restart "C ". */
		const char *mode = NULL;
		struct cur c = cur_init(u->pi_param, u->pi_param_len);
		if (u->pi_param_len == 0)
			mode = "warm";
		else if (cur_peek(&c, 0) == 'C')
			mode = "cold";
		if (mode)
			pg_event_set_str(&ev, "start", mode);
		if (u->pi_param_len)
			pg_event_set_hex(&ev, "argument", u->pi_param, u->pi_param_len);
		pg_event_text(&ev, "PLC start requested (P_PROGRAM%s%s)",
			      mode ? ", " : "", mode ? mode : "");
	} else {
		if (u->pi_param_len)
			pg_event_set_hex(&ev, "argument", u->pi_param, u->pi_param_len);
		pg_event_text(&ev, "PI service %.*s requested", (int)u->service_len,
			      u->service);
	}
	pg_sniff_emit(a->s, &ev);
}

static void s7_on_job(struct s7_app *a, const struct pg_pktinfo *pi, int dir,
		      const struct s7_pdu *u, int prc)
{
	struct s7_job *j;
	switch (u->func) {
	case S7_F_REQ_DOWNLOAD:
		s7_on_request_download(a, pi, dir, u);
		break;
	case S7_F_DOWNLOAD_BLOCK:
		s7_on_download_job(a, pi, dir, u);
		break;
	case S7_F_DOWNLOAD_END:
		s7_on_download_end(a, pi, dir, u);
		break;
	case S7_F_START_UPLOAD:
	case S7_F_UPLOAD:
		j = s7_job_add(a, pi, dir, u->pduref, u->func);
		if (j && u->has_filename) {
			memcpy(j->filename, u->filename, u->filename_len + 1);
			j->filename_len = u->filename_len;
		}
		if (j && u->has_upload_id) {
			j->has_upload_id = 1;
			j->upload_id = u->upload_id;
			struct s7_xfer *ux = u->func == S7_F_UPLOAD ?
				s7_xfer_by_upload_id(a, u->upload_id) : NULL;
			if (ux)
				ux->t.requested++;
		}
		break;
	case S7_F_END_UPLOAD: {
		s7_job_add(a, pi, dir, u->pduref, u->func);
		struct s7_xfer *x = u->has_upload_id ?
			s7_xfer_by_upload_id(a, u->upload_id) : NULL;
		struct pg_event ev;
		s7_ev(a, &ev, pi, "s7comm", PG_K_S7_UPLOAD_END, PG_SEV_INFO);
		if (x)
			s7_set_block(a, &ev, x->has_block, x->type, x->number, x->fs,
				     x->filename, x->filename_len);
		pg_event_set_int(&ev, "upload_id", u->upload_id);
		pg_event_set_int(&ev, "error_code", u->blk_err);
		pg_event_text(&ev, "upload %u ended (error code 0x%04X)", u->upload_id,
			      u->blk_err);
		if (x)
			s7_xfer_finish(a, pi, x, u->blk_err ?
				       "the upload was ended with an error code" : NULL);
		pg_sniff_emit(a->s, &ev);
		break;
	}
	case S7_F_PI:
		s7_on_pi(a, pi, dir, u);
		break;
	case S7_F_PLC_STOP: {
		s7_job_add(a, pi, dir, u->pduref, u->func);
		struct pg_event ev;
		s7_ev(a, &ev, pi, "s7comm", PG_K_S7_PLC_STOP, PG_SEV_ALERT);
		if (u->has_service)
			pg_event_set_strn(&ev, "service", u->service, u->service_len);
		if (a->has_rackslot) {
			pg_event_set_int(&ev, "rack", a->rack);
			pg_event_set_int(&ev, "slot", a->slot);
		}
		pg_event_text(&ev, "PLC stop requested");
		pg_sniff_emit(a->s, &ev);
		break;
	}
	default:
		s7_job_add(a, pi, dir, u->pduref, u->func);
		break;
	}
	(void)prc;
}

/* Request Download answered with an error: the PLC refused the block before
 * any byte of it was sent. */
static void s7_refused_emit(struct s7_app *a, const struct pg_pktinfo *pi,
			    const struct s7_pdu *u, const struct s7_job *j)
{
	uint16_t code = (uint16_t)(u->errcls << 8 | u->errcod);
	const char *en = s7_error_name(code);
	uint8_t bt = 0, fs = 0;
	uint16_t bn = 0;
	int ok = mc7_parse_filename(j->filename, j->filename_len, &bt, &bn, (char *)&fs) == 0;
	struct pg_event ev;
	s7_ev(a, &ev, pi, "s7comm", PG_K_S7_DOWNLOAD_REFUSED, PG_SEV_NOTICE);
	s7_set_block(a, &ev, ok, bt, bn, (char)fs, j->filename, j->filename_len);
	pg_event_set_bool(&ev, "accepted", 0);
	pg_event_set_int(&ev, "error_code", code);
	if (en)
		pg_event_set_str(&ev, "error_name", en);
	pg_event_text(&ev, "download of %s refused by the PLC before any byte was sent: "
		      "error 0x%04X%s%s%s", ev.object[0] ? ev.object : "a block", code,
		      en ? " (" : "", en ? en : "", en ? ")" : "");
	if (ok) {
		struct s7_life_ent *f = s7_fate_get(a, pi, bt, bn);
		if (f) {
			f->fate = FATE_REFUSED;
			f->err = code;
			f->frame = pi ? pi->frame : 0;
		}
	}
	pg_sniff_emit(a->s, &ev);
}

static void s7_on_reply(struct s7_app *a, const struct pg_pktinfo *pi, int dir,
			const struct s7_pdu *u, int prc)
{
	struct s7_job j;
	memset(&j, 0, sizeof j);
	int have = s7_job_take(a, dir, u->pduref, &j);
	int func = u->has_func ? u->func : (have ? j.func : -1);
	int err = (u->errcls | u->errcod) != 0;

	if (u->rosctr == S7_ACK_DATA && u->has_func &&
	    (u->func == S7_F_DOWNLOAD_BLOCK || u->func == S7_F_UPLOAD)) {
		s7_on_slice(a, pi, dir, u, prc, &j, have);
		return;
	}
	if (have && j.func == S7_F_PI) {
		/* The PLC's answer decides whether _INSE/_DELE took effect. */
		s7_life_pi_answer(&a->life, u->pduref,
				  err ? (uint16_t)(u->errcls << 8 | u->errcod) : 0,
				  pi ? pi->frame : 0);
	}
	if (err) {
		const char *extra = NULL;
		if (func == S7_F_REQ_DOWNLOAD && have && j.filename_len) {
			struct s7_xfer *x = s7_xfer_by_name(a, 0, j.filename, j.filename_len);
			if (x)
				s7_xfer_free(a, x);   /* refused: nothing will follow */
			extra = ": download refused";
			s7_error_emit(a, pi, u, func, extra);
			s7_refused_emit(a, pi, u, &j);
			return;
		}
		s7_error_emit(a, pi, u, func, extra);
		return;
	}
	if (u->rosctr != S7_ACK_DATA || !u->has_func)
		return;
	if (u->func == S7_F_SETUP && u->has_setup) {
		struct pg_event ev;
		s7_ev(a, &ev, pi, "s7comm", PG_K_S7_SETUP, PG_SEV_INFO);
		pg_event_set_int(&ev, "pdu_size", u->pdu_size);
		pg_event_set_int(&ev, "amq_calling", u->amq_calling);
		pg_event_set_int(&ev, "amq_called", u->amq_called);
		pg_event_text(&ev, "S7 communication set up: PDU size %u", u->pdu_size);
		pg_sniff_emit(a->s, &ev);
	} else if (u->func == S7_F_START_UPLOAD && u->has_upload_id) {
		struct s7_xfer *old = s7_xfer_by_upload_id(a, u->upload_id);
		if (old)
			s7_xfer_finish(a, pi, old, "a new upload reused its id");
		struct s7_xfer *x = s7_xfer_new(a, pi, 1, have ? j.filename : NULL,
						have ? j.filename_len : 0);
		if (x) {
			x->has_upload_id = 1;
			x->upload_id = u->upload_id;
			if (u->has_total)
				s7_xfer_announce(x, u->total_len);
		}
		struct pg_event ev;
		s7_ev(a, &ev, pi, "s7comm", PG_K_S7_UPLOAD_START, PG_SEV_NOTICE);
		if (x)
			s7_set_block(a, &ev, x->has_block, x->type, x->number, x->fs,
				     x->filename, x->filename_len);
		pg_event_set_int(&ev, "upload_id", u->upload_id);
		if (u->has_total)
			pg_event_set_int(&ev, "total_len", u->total_len);
		pg_event_text(&ev, "upload of %s started (%u bytes announced)",
			      ev.object[0] ? ev.object : "a block", u->total_len);
		pg_sniff_emit(a->s, &ev);
	}
}

static void s7_on_s7comm(struct s7_app *a, const struct pg_pktinfo *pi, int dir,
			 const uint8_t *p, size_t n, uint64_t off)
{
	struct s7_pdu *u = malloc(sizeof *u);   /* ~2.5 KB: keep it off the stack */
	if (!u)
		return;
	struct pg_err e;
	pg_err_clear(&e);
	int rc = s7_parse_pdu(p, n, 0, u, &e);
	char eb[360];
	if (rc < 0) {
		a->s->st.s7_bad++;
		s7_malformed(a, pi, dir, off + (e.offset != PG_NO_OFFSET ? e.offset : 0),
			     pg_err_str(&e, eb, sizeof eb));
		free(u);
		return;
	}
	a->s->st.s7_pdus++;
	if (a->s->cfg.pdu_trace)
		s7_trace(a, pi, dir, u);
	if (rc > 0 && !(u->errcls | u->errcod))
		s7_malformed(a, pi, dir, off + (e.offset != PG_NO_OFFSET ? e.offset : 0),
			     pg_err_str(&e, eb, sizeof eb));
	if (u->rosctr == S7_JOB && u->has_func)
		s7_on_job(a, pi, dir, u, rc);
	else if (u->rosctr == S7_ACK || u->rosctr == S7_ACK_DATA)
		s7_on_reply(a, pi, dir, u, rc);
	free(u);
}

/* ---- S7comm-plus ---- */

/* Reported at most twice per flow: when the session is first seen doing
 * something (program activity), and again when it turns to TLS (InitSSL or
 * encrypted records), since from then on nothing at all can be seen. */
#define S7P_REPORTED 1
#define S7P_REPORTED_TLS 2
static void s7p_session_emit(struct s7_app *a, const struct pg_pktinfo *pi,
			     enum pg_sev sev, const char *why)
{
	int stage = (a->s7p_tls || a->s7p_initssl) ? S7P_REPORTED_TLS : S7P_REPORTED;
	if (a->s7p_done & stage || (stage == S7P_REPORTED && a->s7p_done))
		return;
	a->s7p_done |= stage | S7P_REPORTED;
	struct pg_event ev;
	s7_ev(a, &ev, pi, "s7comm-plus", PG_K_S7PLUS_SESSION, sev);
	ev.verdict = PG_VERDICT_UNVERIFIABLE;
	static const char *vn[5] = { "v1", "v2", "v3", "system", "keepalive" };
	json_t *vc = json_object();
	for (int i = 0; i < 5; i++)
		json_object_set_new(vc, vn[i], json_integer((json_int_t)a->s7p_ver[i]));
	pg_event_set_json(&ev, "versions", vc);
	pg_event_set_bool(&ev, "tls", a->s7p_tls);
	pg_event_set_bool(&ev, "init_ssl", a->s7p_initssl);
	pg_event_set_bool(&ev, "program_activity", a->s7p_prog);
	pg_event_set_str(&ev, "reason", why);
	pg_event_text(&ev, "S7comm-plus session observed, content not verifiable: %s", why);
	pg_sniff_emit(a->s, &ev);
}

static void s7_on_s7plus(struct s7_app *a, const struct pg_pktinfo *pi, int dir,
			 const uint8_t *p, size_t n, uint64_t off)
{
	struct s7p_pdu q;
	struct pg_err e;
	pg_err_clear(&e);
	if (s7p_parse(p, n, 0, &q, &e) < 0) {
		char eb[360];
		a->s->st.s7_bad++;
		s7_malformed(a, pi, dir, off + (e.offset != PG_NO_OFFSET ? e.offset : 0),
			     pg_err_str(&e, eb, sizeof eb));
		return;
	}
	a->s->st.s7plus_pdus++;
	a->s7p_seen = 1;
	int vi = q.version <= 3 ? q.version - 1 : (q.version == 0xFE ? 3 : 4);
	a->s7p_ver[vi]++;
	if (!q.has_function || q.opcode != S7P_OP_REQUEST)
		return;
	if (q.function == S7P_FN_INIT_SSL) {
		a->s7p_initssl = 1;
		s7p_session_emit(a, pi, PG_SEV_WARNING,
				 "InitSSL: the session switches to TLS");
	} else if (q.function == S7P_FN_CREATE_OBJECT ||
		   q.function == S7P_FN_DELETE_OBJECT ||
		   q.function == S7P_FN_SET_MULTI_VARS) {
		a->s7p_prog = 1;
		char why[96];
		snprintf(why, sizeof why, "%s request (program or object activity)",
			 s7p_function_name(q.function));
		s7p_session_emit(a, pi, PG_SEV_WARNING, why);
	}
}

/* ---- COTP DT reassembly and PDU dispatch ---- */

static void s7_dispatch(struct s7_app *a, const struct pg_pktinfo *pi, int dir,
			const uint8_t *p, size_t n, uint64_t off)
{
	struct cur c = cur_init(p, n);
	int b0 = cur_peek(&c, 0);
	if (b0 < 0)
		return;            /* an empty PDU: nothing to say */
	if (b0 == S7_PROTID) {
		s7_on_s7comm(a, pi, dir, p, n, off);
	} else if (b0 == S7P_PROTID) {
		s7_on_s7plus(a, pi, dir, p, n, off);
	} else if (a->s7p_seen || a->s7p_initssl) {
		/* Not 0x72 on an S7comm-plus connection: TLS records. */
		a->s7p_tls = 1;
		s7p_session_emit(a, pi, PG_SEV_WARNING,
				 "encrypted (TLS) payload on an S7comm-plus connection");
	} else {
		char why[64];
		a->s->st.s7_bad++;
		snprintf(why, sizeof why, "unknown protocol id 0x%02x in a COTP DT", b0);
		s7_malformed(a, pi, dir, off, why);
	}
}

static void s7_on_dt(struct s7_app *a, const struct pg_pktinfo *pi, int dir,
		     const struct cotp_tpdu *t)
{
	struct s7_dir *d = &a->d[dir];
	a->s->st.cotp_dt++;
	if (d->pdu_len == 0 && d->frags == 0 && !d->pdu_drop)
		d->pdu_off = t->payload_off;
	if (t->payload_len && !d->pdu_drop) {
		if (++d->frags > PG_S7_MAX_FRAGS) {
			s7_limit(a, pi, LIM_FRAGS, "COTP DT fragments in one PDU");
			d->pdu_drop = 1;
		} else if (d->pdu_len + t->payload_len > PG_S7_PDU_MAX) {
			s7_limit(a, pi, LIM_PDU, "reassembled S7 PDU size");
			d->pdu_drop = 1;
		} else if (s7_reserve(a, &d->pdu, &d->pdu_cap, d->pdu_len + t->payload_len,
				      1024, PG_S7_PDU_MAX) < 0) {
			s7_limit(a, pi, LIM_MEM, "memory for PDU reassembly");
			d->pdu_drop = 1;
		} else {
			memcpy(d->pdu + d->pdu_len, t->payload, t->payload_len);
			d->pdu_len += t->payload_len;
		}
	}
	if (!t->eot)
		return;
	if (d->pdu_drop)
		a->s->st.s7_bad++;
	else if (d->pdu_len)
		s7_dispatch(a, pi, dir, d->pdu, d->pdu_len, d->pdu_off);
	d->pdu_len = 0;
	d->frags = 0;
	d->pdu_drop = 0;
	if (d->pdu)   /* idle flows hold no buffers (see s7_data) */
		s7_free_buf(a, &d->pdu, &d->pdu_cap);
}

static void s7_on_tpkt(struct s7_app *a, const struct pg_pktinfo *pi, int dir,
		       const uint8_t *p, size_t n, uint64_t off)
{
	struct cotp_tpdu t;
	struct pg_err e;
	pg_err_clear(&e);
	a->s->st.tpkt++;
	/* Offsets in errors: relative to the TPKT, made absolute below. */
	struct cur c = cur_init(p, n);
	cur_skip(&c, COTP_TPKT_HDR);
	if (cotp_parse(c.p, cur_left(&c), COTP_TPKT_HDR, &t, &e) < 0) {
		char eb[360];
		a->s->st.s7_bad++;
		s7_malformed(a, pi, dir, off + (e.offset != PG_NO_OFFSET ? e.offset : 0),
			     pg_err_str(&e, eb, sizeof eb));
		return;
	}
	t.payload_off += off;
	switch (t.type) {
	case COTP_CR:
	case COTP_CC:
		if (t.calling.len)
			a->calling = t.calling;
		if (t.called.len)
			a->called = t.called;
		if (t.type == COTP_CR)
			a->cr_seen = 1;
		else
			s7_connect_emit(a, pi, 1);
		break;
	case COTP_DT:
		if (a->cr_seen && !a->connect_done)
			s7_connect_emit(a, pi, 0);   /* CR alone: its CC was not seen */
		s7_on_dt(a, pi, dir, &t);
		break;
	case COTP_DR: a->dr++; break;
	case COTP_DC: a->dc++; break;
	case COTP_ER: a->er++; break;
	default: break;
	}
}

/* ---- TPKT stream framing ---- */

static void s7_resync_start(struct s7_app *a, const struct pg_pktinfo *pi, int dir,
			    uint64_t off, const char *reason)
{
	struct s7_dir *d = &a->d[dir];
	d->resync = 1;
	d->resync_quiet = 0;
	d->skipped = 0;
	a->s->st.resyncs++;
	char why[400];
	snprintf(why, sizeof why, "%s; scanning for the next TPKT header", reason);
	s7_malformed(a, pi, dir, off, why);
}

/* Frame every complete TPKT in d->buf; keep the unfinished rest. */
static void s7_drain(struct s7_app *a, const struct pg_pktinfo *pi, int dir)
{
	struct s7_dir *d = &a->d[dir];
	size_t pos = 0;
	for (;;) {
		size_t avail = d->len - pos;
		const uint8_t *q = d->buf + pos;
		if (d->resync) {
			int found;
			size_t skip = cotp_tpkt_scan(q, avail, &found);
			pos += skip;
			q += skip;
			avail -= skip;
			d->skipped += skip;
			if (found <= 0)
				break;
			if (d->resync_quiet && d->skipped)
				a->s->st.resyncs++;   /* after a gap: counted, no event */
			d->resync = 0;
			d->resync_quiet = 0;
		}
		uint16_t tl = 0;
		struct pg_err e;
		pg_err_clear(&e);
		int r = cotp_tpkt_header(q, avail, d->off + pos, &tl, &e);
		if (r == 0)
			break;
		if (r < 0) {
			char eb[360];
			s7_resync_start(a, pi, dir, d->off + pos, pg_err_str(&e, eb, sizeof eb));
			pos++;
			d->skipped++;
			continue;
		}
		if (avail < tl)
			break;
		s7_on_tpkt(a, pi, dir, q, tl, d->off + pos);
		pos += tl;
	}
	if (pos) {
		memmove(d->buf, d->buf + pos, d->len - pos);
		d->len -= pos;
		d->off += pos;
	}
}

static void *s7_open(struct pg_sniff *s, const struct pg_flowinfo *fi)
{
	if (pg_mem_charge(s, sizeof(struct s7_app)) < 0)
		return NULL;
	struct s7_app *a = calloc(1, sizeof *a);
	if (!a) {
		pg_mem_release(s, sizeof(struct s7_app));
		return NULL;
	}
	a->s = s;
	a->fi = *fi;
	/* the struct itself is charged globally only */
	pg_budget_init(&a->bud, s, s->cfg.flow_mem_max);
	/* A flow picked up mid-way may start inside a TPKT. */
	if (fi->midstream) {
		a->d[0].resync = a->d[1].resync = 1;
		a->d[0].resync_quiet = a->d[1].resync_quiet = 1;
	}
	return a;
}

static void s7_gap(void *app, int dir, uint64_t n, const struct pg_pktinfo *pi);

static void s7_data(void *app, int dir, const uint8_t *p, size_t n,
		    const struct pg_pktinfo *pi)
{
	struct s7_app *a = app;
	if (!a || (dir != 0 && dir != 1))
		return;
	struct s7_dir *d = &a->d[dir];
	struct cur in = cur_init(p, n);
	while (cur_left(&in) > 0) {
		size_t need = d->len + cur_left(&in);
		if (need > PG_S7_STREAM_BUF)
			need = PG_S7_STREAM_BUF;
		if (s7_reserve(a, &d->buf, &d->cap, need, PG_S7_STREAM_BUF_MIN,
			       PG_S7_STREAM_BUF) < 0 && d->cap == d->len) {
			/* No room to frame: what we drop is a gap to us. */
			s7_limit(a, pi, LIM_MEM, "memory for TPKT framing");
			s7_gap(a, dir, cur_left(&in), pi);
			return;
		}
		size_t room = d->cap - d->len;
		size_t take = cur_left(&in) < room ? cur_left(&in) : room;
		cur_copy(&in, d->buf + d->len, take);
		d->len += take;
		s7_drain(a, pi, dir);
	}
	/* An idle flow holds no buffers: the budget is what lets the flow
	 * table reach max_flows (256 MiB / 65536 flows = 4 KiB each), and most
	 * segments end on a TPKT boundary, so this rarely reallocates. */
	if (d->len == 0 && d->buf)
		s7_free_buf(a, &d->buf, &d->cap);
}

static void s7_gap(void *app, int dir, uint64_t n, const struct pg_pktinfo *pi)
{
	struct s7_app *a = app;
	if (!a || (dir != 0 && dir != 1))
		return;
	struct s7_dir *d = &a->d[dir];
	d->off += d->len + n;
	d->len = 0;
	d->pdu_len = 0;
	d->frags = 0;
	d->pdu_drop = 0;
	d->resync = 1;
	d->resync_quiet = 1;
	d->skipped = 0;
	/* Not a verdict by itself: the accounting at the end of each transfer
	 * says whether a slice was in the lost bytes. */
	a->gaps_seen++;
	for (size_t i = 0; i < a->nxfers; i++)
		a->xfers[i]->t.gaps++;
}

static void s7_conflict(void *app, int dir, const struct pg_pktinfo *pi)
{
	struct s7_app *a = app;
	(void)dir;
	(void)pi;
	if (!a)
		return;
	for (size_t i = 0; i < a->nxfers; i++)
		a->xfers[i]->t.tcp_conflict = 1;
}

static void s7_close(void *app, const struct pg_pktinfo *pi)
{
	struct s7_app *a = app;
	if (!a)
		return;
	if (a->cr_seen && !a->connect_done)
		s7_connect_emit(a, pi, 0);
	while (a->nxfers)
		s7_xfer_finish(a, pi, a->xfers[a->nxfers - 1],
			       "capture ended / flow closed before the transfer completed");
	s7_life_close(&a->life);
	struct pg_event lev;
	s7_ev(a, &lev, pi, "s7comm", PG_K_S7_SESSION_BLOCKS, PG_SEV_INFO);
	if (s7_life_event(&a->life, &lev))
		pg_sniff_emit(a->s, &lev);
	else
		pg_event_clear(&lev);
	if (a->s7p_seen && !a->s7p_done)
		s7p_session_emit(a, pi, PG_SEV_NOTICE,
				 "S7comm-plus content is not decoded");
	for (int i = 0; i < 2; i++) {
		s7_free_buf(a, &a->d[i].buf, &a->d[i].cap);
		s7_free_buf(a, &a->d[i].pdu, &a->d[i].pdu_cap);
	}
	free(a->jobs);
	pg_budget_release(&a->bud, a->jobs_cap * sizeof *a->jobs);
	s7_life_free(&a->life, &a->bud);
	struct pg_sniff *s = a->s;
	free(a);
	pg_mem_release(s, sizeof(struct s7_app));
}

const struct pg_app_ops pg_s7_app = {
	.name = "s7",
	.open = s7_open,
	.data = s7_data,
	.gap = s7_gap,
	.close = s7_close,
	.conflict = s7_conflict,
};
