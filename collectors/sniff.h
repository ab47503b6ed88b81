/*
 * sniff.h - the wire collector's shared context and the interfaces between
 * its layers:
 *
 *   capture.c (libpcap) -> parsers/netdecode.c (link, IP, TCP)
 *     -> flow.c (flow table, per-direction TCP reassembly)
 *       -> an application (struct pg_app_ops): s7sess.c on the S7 port,
 *          mbsess.c on the Modbus port
 *         -> pg_sniff_emit() -> the sink (agent/cmd_sniff.c: match, print)
 *
 * No layer keeps a pointer to another layer's buffers after a call returns.
 * Memory that untrusted traffic can make us hold (reassembly buffers, PDU
 * buffers, transfers in progress) is charged to the context with
 * pg_mem_charge(); when the global cap is hit the charge fails and the caller
 * drops what it was building and emits an event saying so.
 */
#ifndef PG_SNIFF_H
#define PG_SNIFF_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include "event.h"
#include "bus.h"

/* Per packet: when, and which frame (1-based across all input files). */
struct pg_pktinfo {
	struct timespec ts;
	uint64_t frame;
};

/* Per flow, fixed at flow creation.  cli = the side that opened the
 * connection (SYN), or, for a flow picked up mid-way, the side that is not on
 * the configured server port.  Direction 0 = cli -> srv, 1 = srv -> cli. */
struct pg_flowinfo {
	uint64_t id;                 /* 1, 2, 3 ... in order of creation */
	int af;                      /* 4 or 6 */
	uint8_t cli_ip[16], srv_ip[16];
	struct pg_endpoint cli, srv; /* printable */
	int midstream;               /* no handshake seen */
};

#define PG_DIR_C2S 0
#define PG_DIR_S2C 1

struct pg_sniff_cfg {
	uint16_t s7_port;            /* 102 */
	uint16_t modbus_port;        /* 502 */
	size_t flow_mem_max;         /* reassembly + app bytes one flow may hold */
	size_t total_mem_max;        /* all flows together */
	size_t max_flows;            /* flow table size */
	unsigned idle_timeout_s;     /* packet-time idle limit */
	int pdu_trace;               /* emit one event per PDU ("s7.pdu", "modbus.pdu") */
};

/* Counters for the closing summary.  Producers increment what they see. */
struct pg_sniff_stats {
	uint64_t packets, bytes;
	uint64_t not_ip, not_tcp, ip_fragments, decode_errors, truncated;
	uint64_t other_ports;
	uint64_t flows, flows_midstream, flows_timed_out, flows_evicted;
	uint64_t retransmits, out_of_order, overlaps, overlap_conflicts;
	uint64_t gaps, gap_bytes;
	uint64_t memcap_hits;
	uint64_t tpkt, cotp_dt, s7_pdus, s7plus_pdus, s7_bad;
	uint64_t modbus_adus, modbus_bad, umas_pdus, not_modbus_flows;
	uint64_t resyncs;
	uint64_t transfers_complete, transfers_incomplete;
	uint64_t kernel_drops, if_drops;
	uint64_t events;
};

struct pg_sniff {
	struct pg_sniff_cfg cfg;
	struct pg_sniff_stats st;
	struct pg_bus *bus;          /* where events go (rules/bus.h): set by the owner */
	size_t mem_used;
	struct pg_pktinfo cur;       /* the packet being processed (set by capture.c) */
};

/* Defaults: ports 102/502, 8 MiB per flow, 256 MiB total, 65536 flows, 600 s. */
void pg_sniff_init(struct pg_sniff *s);

/* Publish the event on s->bus (numbered there, handed to its subscribers,
 * then cleared); without a bus it is only counted and cleared. */
void pg_sniff_emit(struct pg_sniff *s, struct pg_event *ev);

/* pg_event_init() plus the common wire fields from the flow and the packet. */
void pg_event_wire(struct pg_event *ev, const struct pg_flowinfo *fi,
		   const struct pg_pktinfo *pi, const char *proto,
		   enum pg_kind kind, enum pg_sev sev);

/* Health/self event (capture errors, drops, memcap): source self. */
void pg_event_self(struct pg_event *ev, const struct pg_pktinfo *pi,
		   enum pg_kind kind, enum pg_sev sev);

/* Rate limit for repeated events: true for the 1st..64th occurrence and then
 * for each power of two (128, 256, ...).  n counts from 1. */
static inline int pg_rate_ok(uint64_t n)
{
	return n <= 64 || (n & (n - 1)) == 0;
}

/* Charge n bytes to the global budget: 0 ok, -1 over total_mem_max
 * (nothing charged; st.memcap_hits incremented, and a "sniff.memcap" event
 * at the 1st, 2nd, 4th, 8th ... refusal so that it is seen but cannot flood). */
int pg_mem_charge(struct pg_sniff *s, size_t n);
void pg_mem_release(struct pg_sniff *s, size_t n);

/*
 * An application protocol on a TCP flow.  flow.c calls open() when the flow
 * is created, then data() with in-order bytes per direction, gap() when bytes
 * are known missing (capture loss, evicted out-of-order data, snaplen cut),
 * and close() exactly once (FIN/RST seen both ways, idle timeout, eviction,
 * end of input).  close() must report transfers still in progress as
 * incomplete and free everything.
 */
struct pg_app_ops {
	const char *name;
	void *(*open)(struct pg_sniff *s, const struct pg_flowinfo *fi);
	void (*data)(void *app, int dir, const uint8_t *p, size_t n,
		     const struct pg_pktinfo *pi);
	void (*gap)(void *app, int dir, uint64_t n, const struct pg_pktinfo *pi);
	void (*close)(void *app, const struct pg_pktinfo *pi);
	/* Optional: a segment in direction dir overlapped bytes already seen
	 * with different content (the first copy was kept).  Transfers in
	 * progress must say so: the PLC may have taken the other copy. */
	void (*conflict)(void *app, int dir, const struct pg_pktinfo *pi);
};

extern const struct pg_app_ops pg_s7_app;      /* collectors/s7sess.c */
extern const struct pg_app_ops pg_modbus_app;  /* collectors/mbsess.c */

#endif
