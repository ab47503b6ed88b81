/*
 * sniff.c - the collector's shared context: defaults, event numbering, and the
 * global memory budget (collectors/sniff.h).
 */
#include "sniff.h"

#include <string.h>

void pg_sniff_init(struct pg_sniff *s)
{
	memset(s, 0, sizeof *s);
	s->cfg.s7_port = 102;
	s->cfg.modbus_port = 502;
	s->cfg.flow_mem_max = 8u << 20;
	s->cfg.total_mem_max = 256u << 20;
	s->cfg.max_flows = 65536;
	s->cfg.idle_timeout_s = 600;
}

void pg_sniff_emit(struct pg_sniff *s, struct pg_event *ev)
{
	s->st.events++;
	if (s->bus)
		pg_bus_publish(s->bus, ev);
	else
		pg_event_clear(ev);
}

void pg_event_wire(struct pg_event *ev, const struct pg_flowinfo *fi,
		   const struct pg_pktinfo *pi, const char *proto,
		   enum pg_kind kind, enum pg_sev sev)
{
	pg_event_init(ev);
	ev->source = PG_SRC_WIRE;
	ev->sev = sev;
	ev->kind = kind;
	ev->proto = proto;
	if (pi) {
		ev->ts = pi->ts;
		ev->frame = pi->frame;
	}
	if (fi) {
		ev->flow_id = fi->id;
		ev->src = fi->cli;
		ev->dst = fi->srv;
	}
}

void pg_event_self(struct pg_event *ev, const struct pg_pktinfo *pi,
		   enum pg_kind kind, enum pg_sev sev)
{
	pg_event_init(ev);
	ev->source = PG_SRC_SELF;
	ev->sev = sev;
	ev->kind = kind;
	if (pi) {
		ev->ts = pi->ts;
		ev->frame = pi->frame;
	}
	/* Before the first packet there is no packet time: the collector's own
	 * events (a capture that cannot be opened, a failed live setup) then
	 * carry the wall-clock time rather than 1970. */
	if (ev->ts.tv_sec == 0 && ev->ts.tv_nsec == 0)
		clock_gettime(CLOCK_REALTIME, &ev->ts);
}

int pg_mem_charge(struct pg_sniff *s, size_t n)
{
	if (n > s->cfg.total_mem_max || s->mem_used > s->cfg.total_mem_max - n) {
		uint64_t h = ++s->st.memcap_hits;
		if ((h & (h - 1)) == 0) {
			struct pg_event ev;
			pg_event_self(&ev, &s->cur, PG_K_SNIFF_MEMCAP, PG_SEV_WARNING);
			pg_event_set_int(&ev, "memcap", (long long)s->cfg.total_mem_max);
			pg_event_set_int(&ev, "in_use", (long long)s->mem_used);
			pg_event_set_int(&ev, "refused", (long long)n);
			pg_event_set_int(&ev, "hits", (long long)h);
			pg_event_text(&ev, "memory cap of %zu bytes reached (%llu refusals so far): "
				      "the buffers or transfers that needed it are dropped and reported "
				      "incomplete", s->cfg.total_mem_max, (unsigned long long)h);
			pg_sniff_emit(s, &ev);
		}
		return -1;
	}
	s->mem_used += n;
	return 0;
}

void pg_mem_release(struct pg_sniff *s, size_t n)
{
	s->mem_used = n > s->mem_used ? 0 : s->mem_used - n;
}
