/*
 * fuzz_sniff.c - libFuzzer target for the whole bytes-to-events path of
 * `plcguard sniff`: the input is a capture file (pcap or pcapng, read through
 * libpcap from memory), then link/IP/TCP decoding, the flow table and TCP
 * reassembly, TPKT/COTP/S7comm and Modbus/UMAS sessions, transfer assembly,
 * baseline matching (with an empty matcher) and JSON serialisation of every
 * event.  Small limits make the memory caps and evictions reachable.
 * Invariants checked: event numbers are consecutive, every event serialises,
 * the memory budget returns to zero when everything is closed.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capture.h"
#include "flow.h"
#include "match.h"

/* the event bus the code under test publishes on (rules/bus.h) */
static struct pg_bus test_bus;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct fsink {
	uint64_t last_seq;
};

static void fuzz_emit(void *arg, struct pg_event *ev)
{
	struct fsink *k = arg;
	if (ev->seq != k->last_seq + 1)
		abort();        /* an event was lost or numbered twice */
	k->last_seq = ev->seq;
	pg_match_event(NULL, ev);
	char *j = pg_event_json(ev);
	if (!j)
		abort();
	free(j);
	char line[2048];
	pg_event_human(ev, line, sizeof line);
	if (ev->payload_len && !ev->payload)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	uint8_t *buf = malloc(size);
	if (!buf)
		return 0;
	memcpy(buf, data, size);
	FILE *fp = fmemopen(buf, size, "rb");
	if (!fp) {
		free(buf);
		return 0;
	}
	struct pg_sniff s;
	pg_sniff_init(&s);
	s.cfg.pdu_trace = 1;
	s.cfg.flow_mem_max = 256u << 10;
	s.cfg.total_mem_max = 1u << 20;
	s.cfg.max_flows = 8;
	s.cfg.idle_timeout_s = 30;
	struct fsink k = { 0 };
	pg_bus_init(&test_bus);
	pg_bus_subscribe(&test_bus, fuzz_emit, &k);
	s.bus = &test_bus;
	struct flowtab *ft = flowtab_new(&s, &pg_s7_app, &pg_modbus_app);
	struct pg_capture cap;
	pg_capture_init(&cap, &s, ft);
	(void)pg_capture_stream(&cap, fp, "fuzz");
	flowtab_close_all(ft, &cap.last);
	flowtab_free(ft);
	if (s.mem_used != 0)
		abort();        /* memory charged to traffic was not returned */
	free(buf);
	return 0;
}
