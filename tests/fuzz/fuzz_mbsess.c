/*
 * fuzz_mbsess.c - libFuzzer target for the Modbus session application
 * (collectors/mbsess.c, pg_modbus_app).
 *
 * Input: a configuration byte, then records
 *   [op][len][len bytes]   op & 3: 0 data c2s, 1 data s2c, 2 gap c2s, 3 gap s2c
 * so that one input drives both directions in arbitrary chunks with gaps.
 * Configuration bits: 0 pdu_trace, 1-3 a small per-flow memory cap (to reach
 * the cap paths).  Each chunk is copied into an exact-size heap buffer.  After
 * close() all memory charged must have been given back.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cursor.h"
#include "sniff.h"

/* the event bus the code under test publishes on (rules/bus.h) */
static struct pg_bus test_bus;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void sink(void *arg, struct pg_event *ev)
{
	(void)arg;
	if (!ev->kind || (ev->payload_len && !ev->payload))
		abort();
	if (ev->has_sha256 && (!ev->payload || (int64_t)ev->payload_len != ev->size))
		abort();  /* a hash without the bytes it claims */
	json_t *r = ev->fields ? json_object_get(ev->fields, "reason") : NULL;
	if (ev->has_sha256 && json_is_string(r) &&
	    !strcmp(json_string_value(r), "gap_crossed"))
		abort();  /* never a hash across a gap */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pg_sniff s;
	struct pg_flowinfo fi;
	struct pg_pktinfo pi;
	struct cur c = cur_init(data, size);

	pg_sniff_init(&s);
	pg_bus_init(&test_bus);
	pg_bus_subscribe(&test_bus, sink, NULL);
	s.bus = &test_bus;
	memset(&fi, 0, sizeof fi);
	memset(&pi, 0, sizeof pi);
	fi.id = 1;
	uint8_t cfg = cur_u8(&c);
	s.cfg.pdu_trace = cfg & 1;
	if (cfg & 0x0E)
		s.cfg.flow_mem_max = (size_t)((cfg >> 1) & 7) * 4096;
	void *app = pg_modbus_app.open(&s, &fi);
	if (!app)
		return 0;
	while (cur_left(&c) >= 2) {
		uint8_t op = cur_u8(&c);
		size_t len = cur_u8(&c);
		if (len > cur_left(&c))
			len = cur_left(&c);
		pi.frame++;
		if (op & 2) {
			pg_modbus_app.gap(app, op & 1, len, &pi);
			continue;
		}
		uint8_t *buf = malloc(len ? len : 1);
		if (!buf)
			break;
		cur_copy(&c, buf, len);
		pg_modbus_app.data(app, op & 1, buf, len, &pi);
		free(buf);
	}
	pi.frame++;
	pg_modbus_app.close(app, &pi);
	if (s.mem_used != 0)
		abort();
	return 0;
}
