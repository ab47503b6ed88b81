/*
 * lines.h - the line sink: one event per line, JSON (docs/EVENTS.md) or a
 * human line, to a stream.  Subscribed to the event bus (rules/bus.h) by
 * `sniff` and `watch`; later sinks (CEF, syslog, the event store) sit beside
 * it in agent/sinks/.
 */
#ifndef PG_SINK_LINES_H
#define PG_SINK_LINES_H

#include <stdint.h>
#include <stdio.h>

#include "event.h"

struct pg_lines_sink {
	FILE *out;
	int json;                  /* JSON lines, else human lines */
	int flush_each;            /* a live source: every event flushed */
	int write_error;           /* a write failed (the run should end 74) */
	uint64_t written;
};

/* Write one event (a bus subscriber: arg is the struct pg_lines_sink). */
void pg_lines_write(void *arg, struct pg_event *ev);

#endif
