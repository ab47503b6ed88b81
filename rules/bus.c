/*
 * bus.c - numbering and fan-out of events (rules/bus.h).
 */
#include "bus.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

void pg_bus_init(struct pg_bus *b)
{
	memset(b, 0, sizeof *b);
	b->next_seq = 1;
	b->max_held = PG_BUS_MAX_HELD;
	uint8_t r[16];
	size_t got = 0;
	while (got < sizeof r) {
		ssize_t n = getrandom(r + got, sizeof r - got, 0);
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	if (got < sizeof r) {
		/* no entropy source: still distinct per start (time and pid) */
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		uint64_t a = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
		uint64_t p = (uint64_t)getpid();
		memcpy(r, &a, 8);
		memcpy(r + 8, &p, 8);
	}
	for (size_t i = 0; i < sizeof r; i++)
		snprintf(b->obs.run + 2 * i, 3, "%02x", r[i]);
	if (gethostname(b->obs.host, sizeof b->obs.host - 1) != 0)
		snprintf(b->obs.host, sizeof b->obs.host, "unknown");
	b->obs.host[sizeof b->obs.host - 1] = '\0';
}

void pg_bus_free(struct pg_bus *b)
{
	for (size_t i = 0; i < b->nheld; i++)
		pg_event_clear(&b->held[i]);
	free(b->held);
	b->held = NULL;
	b->nheld = b->capheld = 0;
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
	ev->obs = &b->obs;
	for (size_t i = 0; i < b->nsub; i++)
		b->sub[i].fn(b->sub[i].arg, ev);
	pg_event_clear(ev);
}

void pg_bus_publish(struct pg_bus *b, struct pg_event *ev)
{
	if (b->publishing) {
		if (b->nheld >= b->max_held) {
			b->refused++;
			pg_event_clear(ev);
			return;
		}
		if (b->nheld == b->capheld) {
			size_t cap = b->capheld ? b->capheld * 2 : 16;
			struct pg_event *h = realloc(b->held, cap * sizeof *h);
			if (!h) {
				b->refused++;
				pg_event_clear(ev);
				return;
			}
			b->held = h;
			b->capheld = cap;
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
