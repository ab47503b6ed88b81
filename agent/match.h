/*
 * match.h - judging what crossed the wire against the signed baselines.
 *
 * Built from baselines whose signatures have already been verified (the
 * caller passes only trusted ones).  For each transferred object the
 * collector reports, the matcher says:
 *   S7 block      MATCHES  same bytes (or same bytes but the checksum), or
 *                          same logic with only timestamps / header
 *                          attributes different ("match": "logic");
 *                 DIFFERS  a baseline holds this block id with other logic;
 *                 UNKNOWN  no baseline holds this block id.
 *   UMAS image    MATCHES  a registered application image has this SHA-256;
 *                 DIFFERS  the destination PLC is a target of a baseline that
 *                          registers an application image, but not this one;
 *                 UNKNOWN  otherwise.
 *   file record   MATCHES  some registered component has this SHA-256, else
 *                 UNKNOWN.
 * and adds which baseline and component, whether the destination PLC is among
 * that baseline's targets, and its change ticket and window (for the
 * correlator), as event fields.
 *
 * Built either from baselines already checked, or from an opened store
 * (agent/store.h), whose entries are then checked lazily: only those that can
 * match a transfer, the first time one does, once per run.  The verdicts are
 * the same either way (agent/match.c says why).
 */
#ifndef PG_MATCH_H
#define PG_MATCH_H

#include "event.h"
#include "store.h"

struct pg_matcher;

/* b[0..n): only the trusted ones are indexed (b[i].trusted). */
struct pg_matcher *pg_matcher_new(struct pg_baseline *b, size_t n);

/* Called once for each store entry found unusable when it was checked on
 * first use (entry index i of the store, its baseline with the reason). */
typedef void (*pg_match_bad_fn)(void *arg, size_t i, const struct pg_baseline *b);

/* The entries of an opened store (which must outlive the matcher): their
 * hints now, each one checked (pg_store_get) when a transfer first needs
 * it.  on_bad may be NULL. */
struct pg_matcher *pg_matcher_new_store(struct pg_store *s, pg_match_bad_fn on_bad, void *arg);
void pg_matcher_free(struct pg_matcher *m);
/* Trusted baselines known so far (checked and trusted; with a store, those
 * the transfers seen needed, or all of them once all were checked). */
size_t pg_matcher_baselines(const struct pg_matcher *m);

/* Judge ev (a transfer event with no verdict yet): sets verdict,
 * severity, text suffix and fields.  Events that are not transfers, or that
 * already carry a verdict (incomplete, invalid), are left alone.  m may be
 * NULL (no baselines). */
void pg_match_event(struct pg_matcher *m, struct pg_event *ev);

/* Is this a transfer event that carries logic (has a payload)? */
int pg_event_is_transfer(const struct pg_event *ev);
/* Were bytes of it sent twice with different content (TCP overlap conflict)? */
int pg_event_overlap_conflict(const struct pg_event *ev);

/* The judging stage, as a bus subscriber (rules/bus.h); arg points to the
 * struct pg_matcher * to use (read at each event, may be NULL: no
 * baselines).  A transfer gets its verdict (pg_match_event), then the
 * policy that nothing unclean reads as clean: an overlap conflict makes it
 * an alert, a transfer that is incomplete or invalid at least a warning. */
void pg_judge_event(void *arg, struct pg_event *ev);

#endif
