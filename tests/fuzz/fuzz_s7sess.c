/*
 * fuzz_s7sess.c - libFuzzer target for the S7 session (collectors/s7sess.c):
 * drives pg_s7_app with the input cut into chunks for both directions, plus
 * gaps, then closes the flow.  Every chunk is an exact-size heap copy.
 *
 *   byte 0      flags: bit 0 pdu_trace, bit 1 flow picked up mid-stream,
 *               bit 2 tiny memory budget (exercise the memcap paths)
 *   then records:
 *     ctl       bit 0 direction, bit 1 gap
 *     gap:      the gap is (ctl >> 2) + 1 bytes
 *     data:     2-byte big-endian length, then that many bytes (cut short
 *               at the end of the input)
 *
 * After close() the flow must have returned every byte it charged.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sniff.h"
#include "cursor.h"

/* the event bus the code under test publishes on (rules/bus.h) */
static struct pg_bus test_bus;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void sink(void *arg, struct pg_event *ev)
{
	(void)arg;
	/* The payload is borrowed: touch it so ASan checks it is alive. */
	volatile uint8_t x = 0;
	for (size_t i = 0; i < ev->payload_len; i += 64)
		x ^= ev->payload[i];
	(void)x;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cur c = cur_init(data, size);
	uint8_t flags = cur_u8(&c);
	struct pg_sniff s;
	pg_sniff_init(&s);
	pg_bus_init(&test_bus);
	pg_bus_subscribe(&test_bus, sink, NULL);
	s.bus = &test_bus;
	s.cfg.pdu_trace = flags & 1;
	if (flags & 4) {
		s.cfg.total_mem_max = 6000;
		s.cfg.flow_mem_max = 5000;
	}
	struct pg_flowinfo fi;
	memset(&fi, 0, sizeof fi);
	fi.id = 1;
	fi.af = 4;
	fi.midstream = (flags & 2) != 0;
	void *app = pg_s7_app.open(&s, &fi);
	if (!app)
		return 0;
	uint64_t frame = 0;
	while (cur_left(&c) > 0) {
		uint8_t ctl = cur_u8(&c);
		int dir = ctl & 1;
		struct pg_pktinfo pi = { { 0, 0 }, ++frame };
		if (ctl & 2) {
			pg_s7_app.gap(app, dir, (uint64_t)(ctl >> 2) + 1, &pi);
			continue;
		}
		size_t n = cur_u16be(&c);
		if (n > cur_left(&c))
			n = cur_left(&c);
		const uint8_t *p = cur_bytes(&c, n);
		uint8_t *b = malloc(n ? n : 1);
		if (!b)
			break;
		if (n)
			memcpy(b, p, n);
		pg_s7_app.data(app, dir, b, n, &pi);
		free(b);
	}
	struct pg_pktinfo end = { { 0, 0 }, ++frame };
	pg_s7_app.close(app, &end);
	if (s.mem_used != 0)
		abort();
	return 0;
}
