/*
 * s7life.h - S7 blocks followed from download to activation or deletion,
 * per connection (used by s7sess.c).
 *
 * A download is not yet running logic: STEP 7 writes a block to the passive
 * file system, and only the PI service _INSE (answered OK by the PLC) makes
 * it active; _DELE removes one; the PLC may refuse a block at the end of its
 * download or before it.  The table records, per block, the last thing seen,
 * so that the correlator and the reports can tell downloaded, activated,
 * refused and never-activated blocks apart ("s7.session.blocks" at close).
 */
#ifndef PG_S7LIFE_H
#define PG_S7LIFE_H

#include <stddef.h>
#include <stdint.h>

#include "xfer.h"
#include "pg_limits.h"

enum s7_fate { FATE_NONE = 0, FATE_DOWNLOADED, FATE_INCOMPLETE, FATE_REFUSED,
	       FATE_ACTIVATED, FATE_DELETED };

struct s7_life_ent {
	uint8_t type;
	uint16_t number;
	uint8_t fate;                    /* enum s7_fate */
	uint8_t downloaded;              /* a download was seen this session */
	uint8_t has_sha;
	uint8_t sha256[32];
	uint16_t err;                    /* refusal error code */
	uint8_t pi_pending;              /* _INSE/_DELE asked, answer not yet seen */
	uint8_t pi_kind;                 /* FATE_ACTIVATED or FATE_DELETED */
	uint8_t pi_confirmed;            /* the PLC answered the PI service OK */
	uint16_t pi_ref;                 /* its PDU reference */
	uint16_t pi_err;                 /* the PI service's error, if refused */
	uint64_t frame;                  /* frame of the last change */
};

struct s7_life {
	struct s7_life_ent *v;
	size_t n, cap;
};

/* The entry of a block, made on first sight.  NULL when PG_S7_MAX_FATES
 * blocks are followed already (*full = 1) or the budget refuses (*full = 0). */
struct s7_life_ent *s7_life_get(struct s7_life *l, struct pg_budget *b, uint8_t type,
				uint16_t number, int *full);
/* The PLC answered the PI service with PDU reference ref: err 0 = done. */
void s7_life_pi_answer(struct s7_life *l, uint16_t ref, uint16_t err, uint64_t frame);
/* Connection over: a PI service asked but never answered counts as asked. */
void s7_life_close(struct s7_life *l);
/* Fill ev (made by the caller as "s7.session.blocks") with every block's
 * state and the counts; returns 0 when no block was seen (emit nothing). */
int s7_life_event(const struct s7_life *l, struct pg_event *ev);
void s7_life_free(struct s7_life *l, struct pg_budget *b);

#endif
