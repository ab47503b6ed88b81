/*
 * flow.h - TCP flow table and per-direction stream reassembly.
 *
 * Flows are keyed on the 5-tuple (both orientations map to one flow).  Only
 * flows with an endpoint on a configured port (cfg.s7_port, cfg.modbus_port)
 * are tracked; the application is chosen by that port.  Each direction
 * delivers bytes in sequence order to the application exactly once:
 *  - out-of-order segments are buffered (bounded) until the hole fills;
 *  - retransmissions of delivered bytes are dropped (counted);
 *  - an overlap whose bytes differ from what was already delivered or buffered
 *    is an evasion signal: event "tcp.overlap_conflict" (first copy wins, as
 *    most PLC stacks do; the event says so);
 *  - a hole that cannot fill (buffer cap, idle, FIN, or ACKed data never
 *    seen) is delivered as gap(): event "tcp.gap" with the byte count;
 *  - flows picked up without a handshake start at the first segment seen.
 * Memory per flow and in total is bounded; eviction and idle timeout close the
 * flow (app close() reports its unfinished transfers) with an event.
 */
#ifndef PG_FLOW_H
#define PG_FLOW_H

#include "sniff.h"
#include "netdecode.h"
#include "pg_limits.h"

struct flowtab;

/* Named maxima of the flow table: PG_FLOW_* in pg_limits.h. */

/* Counters that have no slot in struct pg_sniff_stats. */
struct flowtab_counts {
	uint64_t closed_fin;      /* FIN seen both ways */
	uint64_t closed_rst;      /* accepted RST */
	uint64_t rst_ignored;     /* RST outside the window */
	uint64_t out_of_window;   /* segments too far ahead, dropped */
	uint64_t after_close;     /* segments on a closed flow's tuple, dropped */
	uint64_t new_on_tuple;    /* a SYN replaced an existing flow */
	uint64_t parked;          /* data segments that waited for the bytes they ACK */
	uint64_t ack_released;    /* holes declared lost because the other direction's
				     data acknowledged the missing bytes */
};

/* s7 / modbus: the applications for flows on cfg.s7_port / cfg.modbus_port
 * (either may be NULL: such flows are then counted as other_ports). */
struct flowtab *flowtab_new(struct pg_sniff *s, const struct pg_app_ops *s7,
			    const struct pg_app_ops *modbus);
/* One decoded TCP segment.  Also runs idle expiry by packet time. */
void flowtab_packet(struct flowtab *ft, const struct nd_tcp *t,
		    const struct pg_pktinfo *pi);
/* End of input: flush buffered data (holes become gaps) and close all flows. */
void flowtab_close_all(struct flowtab *ft, const struct pg_pktinfo *pi);
void flowtab_free(struct flowtab *ft);
/* Flows being tracked (open; closed tuples kept briefly are not counted). */
size_t flowtab_count(const struct flowtab *ft);
void flowtab_get_counts(const struct flowtab *ft, struct flowtab_counts *out);

#endif
