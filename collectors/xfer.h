/*
 * xfer.h - one transfer transaction for every kind of program transfer the
 * collector assembles: S7 block downloads and uploads (s7sess.c), UMAS
 * application downloads and read-backs, and Modbus file-record writes
 * (mbsess.c).  The sessions keep protocol state only (framing, pairing of
 * requests and replies, names); what a transfer holds and what it is worth
 * is decided here, by one rule for all of them:
 *
 *   start -> slices (put, with accounting) -> end -> verdict
 *
 *  - A slice is one unit of transferred bytes at an index: S7 slices by
 *    arrival order, UMAS blocks by block number - 1, file records by record
 *    number (sparse: holes are allowed, later writes replace earlier ones).
 *  - Accounting: the session says how many slices the peer asked for
 *    (requested), how many replies paired with such a request (answered) or
 *    had none (unpaired), whether the last-data-unit flag came, the declared
 *    count and byte length, and every capture gap while the transfer was
 *    open.  A transfer is complete when every slice was received whole and
 *    the lengths agree; a gap that lies between PDUs changes nothing but the
 *    `gaps` count.  A missing slice, or lengths that do not add up after a gap
 *    (or when the capture began inside the transfer), is INCOMPLETE without a
 *    hash: never a wrong hash.  Lengths that disagree with every byte seen
 *    are INVALID, hashed for forensics.
 *  - The image is kept contiguous as slices arrive in order and streamed
 *    into SHA-256; out-of-order slices wait beside it.  Per-transfer byte cap
 *    and the flow's memory budget bound it.
 *  - What reached the PLC: the session records the PLC's answer to the end
 *    (accepted, or refused with an error code); a refused transfer is still
 *    judged on its content but never counted as logic the PLC took.
 *
 * Severity: complete transfers are notice, incomplete and invalid ones
 * warning, in every protocol; `reason` is one of the tokens below.
 */
#ifndef PG_XFER_H
#define PG_XFER_H

#include <stddef.h>
#include <stdint.h>

#include "sniff.h"

/* ---- a flow's memory budget ---- */

/* Bytes one flow holds, charged both to the flow (cap) and to the global
 * budget of the context.  A refusal by either counts st.memcap_hits. */
struct pg_budget {
	struct pg_sniff *s;
	size_t used, cap;
};

void pg_budget_init(struct pg_budget *b, struct pg_sniff *s, size_t cap);
int pg_budget_charge(struct pg_budget *b, size_t n);    /* 0 ok, -1 refused */
void pg_budget_release(struct pg_budget *b, size_t n);

/* Report-once limits: true the first time `bit` is set in *bits. */
static inline int pg_once(unsigned *bits, unsigned bit)
{
	if (*bits & bit)
		return 0;
	*bits |= bit;
	return 1;
}

/* ---- the transaction ---- */

/* Reasons (the event's `reason` field), shared by all protocols. */
#define PG_XR_MISSING     "missing_slices"    /* a requested or numbered slice not seen */
#define PG_XR_LAST        "last_not_seen"     /* no slice carried the last-data flag */
#define PG_XR_END         "end_not_seen"      /* the end that declares the count not seen */
#define PG_XR_COUNT       "count_mismatch"    /* declared slice count != slices */
#define PG_XR_NODATA      "no_data"
#define PG_XR_GAP         "gap_crossed"       /* lengths do not add up after a gap */
#define PG_XR_MIDSTREAM   "midstream"         /* ... when the capture began inside it */
#define PG_XR_MEMCAP      "memory_cap"
#define PG_XR_SIZECAP     "size_cap"
#define PG_XR_CONFLICT    "duplicate_conflict"  /* a slice twice with other bytes */
#define PG_XR_INDEX       "slice_number"      /* a slice number out of range */
#define PG_XR_SLICE_ERR   "slice_error"       /* a data reply carried an error */
#define PG_XR_SIZE        "size_mismatch"     /* bytes != announced length */
#define PG_XR_CLOSED      "closed"            /* the session ended it (caller's why) */

enum pg_xput {
	PG_XPUT_OK = 0,
	PG_XPUT_DUP,        /* the same bytes again (counted) */
	PG_XPUT_CONFLICT,   /* other bytes at a taken index: first copy kept */
	PG_XPUT_REPLACED,   /* (replace mode) a later write replaced it */
	PG_XPUT_CAP,        /* over the byte cap or the slice limit: stopped */
	PG_XPUT_MEM,        /* the memory budget refused: stopped */
	PG_XPUT_INDEX,      /* index out of range */
};

struct pg_xslice {
	uint8_t *data;      /* held outside the image (out of order), or NULL */
	size_t off;         /* offset in the image when in it */
	uint32_t len;
	uint8_t present, acked, in_img;
	uint16_t tag;       /* the session's request id that carried it */
};

struct pg_xfer {
	struct pg_budget *bud;
	int sparse;                  /* holes allowed, later puts replace (file records) */
	size_t max_bytes, max_slices;
	struct pg_xslice *sl;
	size_t cap, n;               /* slots allocated; highest index + 1 */
	size_t bytes;                /* bytes of present slices */
	size_t nheld;                /* present slices waiting outside the image */
	/* accounting (filled by the session) */
	unsigned requested, answered, unpaired;
	unsigned dups, refused_slices;
	uint64_t gaps;
	int last_seen, expect_last;  /* expect_last: the protocol flags the last slice */
	int need_end, end_seen;      /* need_end: the end declares the count */
	int has_count;
	size_t count;
	int has_announced;
	uint64_t announced;
	int midstream;
	/* trouble */
	int capped, memfail, conflict, bad_index, slice_err, tcp_conflict;
	/* what the PLC said to the end */
	int end_answered, refused;
	uint16_t err;
	/* the image and its streaming hash */
	uint8_t *img;
	size_t img_len, img_cap, img_slices;
	struct pg_sha256_ctx *h;
	int h_dirty;
};

/* The verdict of a transfer. */
struct pg_xfer_out {
	enum pg_verdict verdict;     /* NONE = complete, PG_VERDICT_INCOMPLETE, PG_VERDICT_INVALID */
	const char *reason;          /* PG_XR_* or the session's, NULL when complete */
	char why[320];               /* the reason in words */
	unsigned missing;            /* slices known missing */
	unsigned unacked;            /* slices the PLC's answer to was not seen */
	const uint8_t *image;        /* the whole image (complete or invalid) */
	size_t len;
	int has_sha;
	uint8_t sha256[32];
};

void pg_xfer_init(struct pg_xfer *x, struct pg_budget *bud, size_t max_bytes,
		  size_t max_slices, int sparse);
/* Slice `index` (0-based).  acked: the peer already confirmed it (or no
 * confirmation exists); tag: the session's id for a later pg_xfer_answer. */
enum pg_xput pg_xfer_put(struct pg_xfer *x, size_t index, const uint8_t *p, size_t n,
			 int acked, uint16_t tag);
/* Append at the next index (S7: slices have no number). */
enum pg_xput pg_xfer_append(struct pg_xfer *x, const uint8_t *p, size_t n);
/* The peer answered the slice at index that request `tag` carried: ok
 * confirms it, otherwise a still unconfirmed copy is removed (a resent copy
 * may take its place) and counted as refused. */
void pg_xfer_answer(struct pg_xfer *x, size_t index, uint16_t tag, int ok);
/* Judge it (the transfer stays valid until pg_xfer_free).  `closing` is the
 * session's reason when it ends the transfer before its own end; used only
 * when the accounting finds it incomplete. */
void pg_xfer_judge(struct pg_xfer *x, const char *closing, struct pg_xfer_out *o);
/* Content checks of the session failed (e.g. not an MC7 block): INVALID, or
 * INCOMPLETE when bytes may have been lost (gaps, midstream). */
void pg_xfer_content_fail(const struct pg_xfer *x, struct pg_xfer_out *o,
			  const char *reason, const char *why);
/* The common event fields: verdict, severity, reason, size, hash, payload,
 * slices / slices_requested / slices_missing / gaps / duplicates / unacked,
 * accepted / refused / error_code / error_name (err_name may be NULL),
 * overlap_conflict; and the context's complete/incomplete counters. */
void pg_xfer_event(const struct pg_xfer *x, const struct pg_xfer_out *o,
		   int download, const char *err_name, struct pg_event *ev);
void pg_xfer_free(struct pg_xfer *x);

#endif
