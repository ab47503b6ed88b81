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
 */
#ifndef PG_MATCH_H
#define PG_MATCH_H

#include "../rules/event.h"
#include "store.h"

struct pg_matcher;

/* b[0..n): only the trusted ones are indexed (b[i].trusted). */
struct pg_matcher *pg_matcher_new(struct pg_baseline *b, size_t n);
void pg_matcher_free(struct pg_matcher *m);
size_t pg_matcher_baselines(const struct pg_matcher *m);

/* Judge ev (a transfer event with its verdict still NULL): sets verdict,
 * severity, text suffix and fields.  Events that are not transfers, or that
 * already carry a verdict (incomplete, invalid), are left alone. */
void pg_match_event(const struct pg_matcher *m, struct pg_event *ev);

/* Is this a transfer event that carries logic (has a payload)? */
int pg_event_is_transfer(const struct pg_event *ev);

#endif
