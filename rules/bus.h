/*
 * bus.h - the one event bus.  Every source (the wire collector, the file
 * watcher, the process itself) publishes its events here; the bus numbers
 * them (seq 1, 2, 3 ... for the whole run, whichever source), hands each to
 * its subscribers in the order they subscribed, then clears it.  A stage
 * that judges events (agent/match.h: pg_judge_event) subscribes before the
 * sinks that write them, so a sink sees the verdict.  Serialisation lives
 * with the sinks, never in the event or the bus.
 *
 * Single-threaded: publish from the thread that owns the bus.
 */
#ifndef PG_BUS_H
#define PG_BUS_H

#include <stddef.h>
#include <stdint.h>

#include "event.h"
#include "pg_limits.h"


typedef void (*pg_bus_fn)(void *arg, struct pg_event *ev);

struct pg_bus {
	uint64_t next_seq;         /* the seq the next event gets; starts at 1 */
	struct pg_observer obs;    /* run id and host, stamped on every event */
	struct {
		pg_bus_fn fn;
		void *arg;
	} sub[PG_BUS_MAX_SUBS];
	size_t nsub;
	int publishing;            /* inside a publish */
	struct pg_event *held;     /* published from inside a subscriber */
	size_t nheld, capheld;
	size_t max_held;           /* PG_BUS_MAX_HELD */
	uint64_t refused;          /* nested events beyond max_held (or memory) */
};

/* A new run: seq from 1, a fresh random run id, this host's name. */
void pg_bus_init(struct pg_bus *b);
/* Free what the bus holds (nothing is held between publishes). */
void pg_bus_free(struct pg_bus *b);
/* Add a subscriber: 0, or -1 when PG_BUS_MAX_SUBS are already there. */
int pg_bus_subscribe(struct pg_bus *b, pg_bus_fn fn, void *arg);
/* Number ev, hand it to every subscriber in order, then pg_event_clear() it.
 * An event published from inside a subscriber's call is held and delivered,
 * numbered, after the current one has reached every subscriber (so each
 * subscriber sees events in seq order); its borrowed payload is dropped.
 * More than max_held such events at once (a runaway loop) are counted in
 * `refused`, as is one that finds no memory. */
void pg_bus_publish(struct pg_bus *b, struct pg_event *ev);

#endif
