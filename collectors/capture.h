/*
 * capture.h - packet sources for the wire collector: capture files (pcap and
 * pcapng, told apart by their magic bytes, never by name; "-" is stdin) and
 * live interfaces (libpcap, BPF filter on the configured ports, privileges
 * dropped after the device is open and before the first packet is parsed).
 *
 * Each frame goes through parsers/netdecode.c (with its own interface's link
 * type: a pcapng file may have interfaces of several) and into the flow
 * table.  Frame numbers count from 1 across all files of one run, the way
 * tshark counts within one file (pcapng custom blocks included).  Problems are events (source "self"): a file that is not
 * a capture, a truncated record (with its byte offset), kernel drop counters.
 */
#ifndef PG_CAPTURE_H
#define PG_CAPTURE_H

#include <stdint.h>
#include "flow.h"

struct pg_capture {
	struct pg_sniff *s;
	struct flowtab *ft;
	uint64_t frame;              /* last frame number handed out */
	struct pg_pktinfo last;      /* time of the last packet (for close events) */
	volatile int stop;           /* set from a signal handler */
	uint64_t files_ok, files_bad;
};

void pg_capture_init(struct pg_capture *c, struct pg_sniff *s, struct flowtab *ft);

/* Read one capture file ("-" = stdin) to its end.  0 when it was read to the
 * end, -1 when it could not be opened or is damaged (an event says where;
 * packets before the damage have been processed). */
int pg_capture_file(struct pg_capture *c, const char *path);

/* Same, from an open FILE* (fuzzing, tests); name is used in messages. */
int pg_capture_stream(struct pg_capture *c, void *fp, const char *name);

struct pg_live_opts {
	const char *iface;
	const char *user;            /* drop to this user when started as root */
	const char *filter;          /* NULL: built from the configured ports */
	int snaplen;                 /* 0: 262144 */
	int buffer_mb;               /* 0: 64 */
	unsigned stats_interval_s;   /* 0: 10 */
	unsigned heartbeat_s;        /* "sensor.heartbeat" every so many seconds; 0: none */
	uint64_t max_packets;        /* 0: unlimited (tests) */
	unsigned duration_s;         /* 0: until a signal */
	/* Called once the device is open and privileges are dropped, before
	 * capture.live and the first packet (NULL: nothing): start-up work
	 * that must not run as root.  Not called when setup fails. */
	void (*ready)(void *arg);
	void *ready_arg;
};

/* Open the device, set the filter, drop privileges, call o->ready, then
 * capture until stop is set, max_packets or duration is reached.  -1 with
 * msg on setup failure. */
int pg_capture_live(struct pg_capture *c, const struct pg_live_opts *o,
		    char *msg, size_t msglen);

/* Drop root privileges to user (setgroups, setgid, setuid, and check they
 * cannot be regained).  0 ok (or not root: nothing to drop), -1 with msg. */
int pg_drop_privileges(const char *user, char *msg, size_t msglen);

#endif
