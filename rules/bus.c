/*
 * bus.c - numbering and fan-out of events (rules/bus.h).
 */
#include "bus.h"

#include <string.h>

void pg_bus_init(struct pg_bus *b)
{
	memset(b, 0, sizeof *b);
	b->next_seq = 1;
}

int pg_bus_subscribe(struct pg_bus *b, pg_bus_fn fn, void *arg)
{
	if (!fn || b->nsub >= PG_BUS_MAX_SUBS)
		return -1;
	b->sub[b->nsub].fn = fn;
	b->sub[b->nsub].arg = arg;
	b->nsub++;
	return 0;
}

static void deliver(struct pg_bus *b, struct pg_event *ev)
{
	ev->seq = b->next_seq++;
	for (size_t i = 0; i < b->nsub; i++)
		b->sub[i].fn(b->sub[i].arg, ev);
	pg_event_clear(ev);
}

void pg_bus_publish(struct pg_bus *b, struct pg_event *ev)
{
	if (b->publishing) {
		if (b->nheld >= PG_BUS_MAX_HELD) {
			b->refused++;
			pg_event_clear(ev);
			return;
		}
		b->held[b->nheld] = *ev;          /* takes the owned fields */
		b->held[b->nheld].payload = NULL; /* borrowed: gone after the call */
		b->held[b->nheld].payload_len = 0;
		b->nheld++;
		pg_event_init(ev);
		return;
	}
	b->publishing = 1;
	deliver(b, ev);
	for (size_t i = 0; i < b->nheld; i++)   /* nheld may grow meanwhile */
		deliver(b, &b->held[i]);
	b->nheld = 0;
	b->publishing = 0;
}
