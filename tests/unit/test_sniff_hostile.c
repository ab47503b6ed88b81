/*
 * test_hostile.c - regressions for what fuzzing and hand-made hostile
 * captures found in the `plcguard sniff` path (flow table, S7 and Modbus
 * sessions, capture reading).  Each test names the capture shape that showed
 * the bug and asserts the bound that now holds:
 *
 *  - many idle flows fill the global memory budget: new connections must
 *    still be followed (the least recently used flows are evicted), and the
 *    evictions must not become one warning each;
 *  - an idle S7 flow holds no framing or PDU buffer, an idle Modbus flow no
 *    8 KiB transaction table (so that the flow table, not the budget, is what
 *    limits the number of flows);
 *  - the Modbus transaction table still stops at its maximum and the oldest
 *    request is forgotten, not the newest;
 *  - a stream of one-byte segments, each after a one-byte hole, does not
 *    become one "tcp.gap" warning per packet;
 *  - a record whose timestamp fraction is out of range (0xffffffff, 2e9)
 *    still gives every event a valid time.
 *
 * Segments are handed to the flow table as decoded TCP (struct nd_tcp), the
 * sessions through their pg_app_ops, with a recording sink.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "capture.h"
#include "flow.h"
#include "sniff.h"

/* the event bus the code under test publishes on (rules/bus.h) */
static struct pg_bus test_bus;

/* ---- recording sink: counts by kind, remembers flows of s7.pdu events ---- */

#define KINDS_MAX 64
static struct {
	const char *kind[KINDS_MAX];
	size_t n[KINDS_MAX];
	size_t nkinds, total;
	uint64_t last_seq;
	uint64_t last_pdu_flow;
	char last_text[512];
} R;

static void rec_emit(void *arg, struct pg_event *ev)
{
	(void)arg;
	assert_int_equal(ev->seq, R.last_seq + 1);
	R.last_seq = ev->seq;
	R.total++;
	size_t i;
	for (i = 0; i < R.nkinds; i++)
		if (strcmp(R.kind[i], pg_kind_name(ev->kind)) == 0)
			break;
	if (i == R.nkinds) {
		assert_true(R.nkinds < KINDS_MAX);
		R.kind[R.nkinds++] = pg_kind_name(ev->kind);
	}
	R.n[i]++;
	if (ev->kind == PG_K_S7_PDU)
		R.last_pdu_flow = ev->flow_id;
	/* every event time is a valid timespec and prints as RFC 3339 */
	assert_true(ev->ts.tv_nsec >= 0 && ev->ts.tv_nsec < 1000000000L);
	char tb[64];
	pg_ts_str(&ev->ts, tb, sizeof tb);
	assert_null(strstr(tb, ".-"));
	assert_int_equal(strlen(tb), 27);
	if (ev->kind == PG_K_FLOW_EVICTED ||
	    ev->kind == PG_K_TCP_GAP)
		snprintf(R.last_text, sizeof R.last_text, "%s", ev->text);
	char *j = pg_event_json(ev);
	assert_non_null(j);
	free(j);
}

static size_t rec_count(const char *kind)
{
	for (size_t i = 0; i < R.nkinds; i++)
		if (strcmp(R.kind[i], kind) == 0)
			return R.n[i];
	return 0;
}

/* Events expected for n occurrences: 64 one by one, then each power of two. */
static size_t limited(uint64_t n)
{
	size_t want = n < 64 ? (size_t)n : 64;
	for (uint64_t p = 128; p <= n; p *= 2)
		want++;
	return want;
}

static void ctx_init(struct pg_sniff *s)
{
	memset(&R, 0, sizeof R);
	pg_sniff_init(s);
	pg_bus_init(&test_bus);
	pg_bus_subscribe(&test_bus, rec_emit, NULL);
	s->bus = &test_bus;
}

/* ---- wire bytes ---- */

/* TPKT + COTP DT (EOT) + S7 Job "read var" (10-byte header, 14-byte param). */
static const uint8_t readvar_tpkt[] = {
	0x03, 0x00, 0x00, 0x1f, 0x02, 0xf0, 0x80,
	0x32, 0x01, 0x00, 0x00, 0x00, 0x02, 0x00, 0x0e, 0x00, 0x00,
	0x04, 0x01, 0x12, 0x0a, 0x10, 0x02, 0x00, 0x01, 0x00, 0x01, 0x84,
	0x00, 0x00, 0x00,
};

/* TPKT + COTP DT (EOT) + S7 Ack_Data with no job to answer (an orphan). */
static const uint8_t orphan_ack_tpkt[] = {
	0x03, 0x00, 0x00, 0x15, 0x02, 0xf0, 0x80,
	0x32, 0x03, 0x00, 0x00, 0x77, 0x77, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00,
	0x04, 0x00,
};

static void segment(struct flowtab *ft, uint32_t ip, uint16_t sport,
		    uint16_t dport, uint32_t seq, const uint8_t *p, size_t n,
		    uint64_t frame)
{
	struct nd_tcp t;
	memset(&t, 0, sizeof t);
	t.af = 4;
	t.src[0] = 10;
	t.src[1] = (uint8_t)(ip >> 16);
	t.src[2] = (uint8_t)(ip >> 8);
	t.src[3] = (uint8_t)ip;
	t.dst[0] = 10;
	t.dst[3] = 2;
	t.sport = sport;
	t.dport = dport;
	t.seq = seq;
	t.ack = 1;
	t.flags = ND_ACK | ND_PSH;
	t.win = 65535;
	t.payload = p;
	t.len = n;
	struct pg_pktinfo pi = { .ts = { .tv_sec = 1700000000, .tv_nsec = 0 },
				 .frame = frame };
	flowtab_packet(ft, &t, &pi);
}

/*
 * flows200k.pcap: 200,000 connections to port 102, one read-var PDU each,
 * against a budget that holds far fewer flows than max_flows.  Before the
 * fix, flow creation was refused once the budget was full: 162,301 of the
 * 200,000 connections were never seen (a download on any of them would have
 * been invisible) and no flow was evicted.
 */
static void test_memcap_evicts_lru_flows(void **state)
{
	(void)state;
	struct pg_sniff s;
	ctx_init(&s);
	s.cfg.total_mem_max = 1u << 20;
	s.cfg.max_flows = 65536;
	s.cfg.pdu_trace = 1;
	struct flowtab *ft = flowtab_new(&s, &pg_s7_app, &pg_modbus_app);
	assert_non_null(ft);
	const uint32_t N = 20000;
	size_t peak = 0;
	for (uint32_t i = 0; i < N; i++) {
		segment(ft, i, (uint16_t)(1024 + i % 60000), 102, 1000,
			readvar_tpkt, sizeof readvar_tpkt, i + 1);
		if (s.mem_used > peak)
			peak = s.mem_used;
		/* the newest connection is always followed */
		assert_int_equal(R.last_pdu_flow, i + 1);
	}
	assert_int_equal(s.st.flows, N);
	assert_int_equal(rec_count("s7.pdu"), N);
	assert_true(s.st.flows_evicted > 0);
	assert_true(peak <= s.cfg.total_mem_max);
	assert_true(flowtab_count(ft) < N);
	/* evictions: the first 64 one by one, then at each power of two */
	assert_int_equal(rec_count("flow.evicted"), limited(s.st.flows_evicted));
	assert_non_null(strstr(R.last_text, "memory cap"));
	flowtab_close_all(ft, NULL);
	flowtab_free(ft);
	assert_int_equal(s.mem_used, 0);
}

/* The table limit still applies and its evictions are rate-limited too. */
static void test_max_flows_evictions_bounded(void **state)
{
	(void)state;
	struct pg_sniff s;
	ctx_init(&s);
	s.cfg.max_flows = 16;
	struct flowtab *ft = flowtab_new(&s, &pg_s7_app, &pg_modbus_app);
	assert_non_null(ft);
	for (uint32_t i = 0; i < 5000; i++)
		segment(ft, i, 2000, 102, 1, readvar_tpkt, sizeof readvar_tpkt, i + 1);
	assert_int_equal(s.st.flows, 5000);
	assert_int_equal(s.st.flows_evicted, 5000 - 16);
	assert_int_equal(flowtab_count(ft), 16);
	/* 64 + 128, 256, 512, 1024, 2048, 4096 */
	assert_int_equal(rec_count("flow.evicted"), 64 + 6);
	assert_non_null(strstr(R.last_text, "flow table is full"));
	flowtab_free(ft);
	assert_int_equal(s.mem_used, 0);
}

/*
 * An S7 flow between PDUs holds no stream or PDU buffer: the memory charged
 * after a whole TPKT is what it was before it (an orphan Ack_Data creates no
 * session state).  A TPKT cut in two holds a buffer only while it is
 * incomplete.
 */
static void test_s7_idle_flow_holds_no_buffers(void **state)
{
	(void)state;
	struct pg_sniff s;
	ctx_init(&s);
	struct pg_flowinfo fi;
	memset(&fi, 0, sizeof fi);
	fi.id = 1;
	fi.af = 4;
	void *a = pg_s7_app.open(&s, &fi);
	assert_non_null(a);
	size_t base = s.mem_used;
	struct pg_pktinfo pi = { .frame = 1 };
	for (int k = 0; k < 3; k++) {
		pg_s7_app.data(a, PG_DIR_S2C, orphan_ack_tpkt, sizeof orphan_ack_tpkt, &pi);
		assert_int_equal(s.mem_used, base);
	}
	for (size_t cut = 1; cut < sizeof orphan_ack_tpkt; cut++) {
		pg_s7_app.data(a, PG_DIR_S2C, orphan_ack_tpkt, cut, &pi);
		assert_true(s.mem_used > base);       /* the unfinished TPKT */
		pg_s7_app.data(a, PG_DIR_S2C, orphan_ack_tpkt + cut,
			       sizeof orphan_ack_tpkt - cut, &pi);
		assert_int_equal(s.mem_used, base);
	}
	assert_int_equal(s.st.s7_pdus, 3 + sizeof orphan_ack_tpkt - 1);
	pg_s7_app.close(a, &pi);
	assert_int_equal(s.mem_used, 0);
}

/*
 * holes1.pcap: 100,000 one-byte segments, each one byte after the previous
 * one's end, so none ever fills.  Once the per-direction segment cap is full,
 * each packet gives up the oldest hole: before the fix, one "tcp.gap" event
 * per packet.  Every gap is still counted and still reaches the application.
 */
static void test_gap_events_bounded(void **state)
{
	(void)state;
	struct pg_sniff s;
	ctx_init(&s);
	struct flowtab *ft = flowtab_new(&s, &pg_s7_app, &pg_modbus_app);
	assert_non_null(ft);
	const uint8_t b = 0x03;
	const uint32_t N = 20000;
	for (uint32_t i = 0; i < N; i++)
		segment(ft, 7, 40000, 102, 5000 + 2 * i, &b, 1, i + 1);
	uint64_t live = s.st.gaps;
	assert_int_equal(live, N - 1 - PG_FLOW_MAX_SEGS);
	assert_int_equal(rec_count("tcp.gap"), limited(live));
	assert_non_null(strstr(R.last_text, "power of two"));
	flowtab_close_all(ft, NULL);
	/* the buffered segments' holes became gaps at close, counted */
	assert_int_equal(s.st.gaps, N - 1);
	assert_int_equal(s.st.gap_bytes, N - 1);
	assert_int_equal(rec_count("tcp.gap"), limited(N - 1));
	flowtab_free(ft);
	assert_int_equal(s.mem_used, 0);
}

static size_t mbap_req(uint8_t *b, uint16_t tid)
{
	/* read holding registers 0..1 of unit 1 */
	const uint8_t adu[] = { 0, 0, 0, 0, 0, 6, 1, 3, 0, 0, 0, 2 };
	memcpy(b, adu, sizeof adu);
	b[0] = (uint8_t)(tid >> 8);
	b[1] = (uint8_t)tid;
	return sizeof adu;
}

/*
 * A Modbus flow opens small (before: 10,680 bytes each, 8 KiB of it an empty
 * transaction table, so 65,536 Modbus flows needed 700 MB against a 256 MiB
 * budget); the table grows with outstanding requests and stops at 256: the
 * 257th request replaces the oldest, with one "modbus.limit" event.
 */
static void test_modbus_txn_table_grows_and_stops(void **state)
{
	(void)state;
	struct pg_sniff s;
	ctx_init(&s);
	struct pg_flowinfo fi;
	memset(&fi, 0, sizeof fi);
	fi.id = 1;
	fi.af = 4;
	fi.srv.port = 502;
	void *m = pg_modbus_app.open(&s, &fi);
	assert_non_null(m);
	size_t base = s.mem_used;
	assert_true(base < 4096);
	struct pg_pktinfo pi = { .frame = 1 };
	uint8_t b[16];
	for (uint16_t tid = 1; tid <= 300; tid++) {
		size_t n = mbap_req(b, tid);
		pg_modbus_app.data(m, PG_DIR_C2S, b, n, &pi);
	}
	assert_int_equal(s.st.modbus_adus, 300);
	assert_true(s.mem_used > base);
	assert_true(s.mem_used - base <= 256 * 64);
	assert_int_equal(rec_count("modbus.limit"), 1);
	/* answers are framed and release their slot; nothing grows */
	size_t used = s.mem_used;
	uint8_t rsp[] = { 0x01, 0x2c, 0, 0, 0, 7, 1, 3, 4, 0, 1, 0, 2 };  /* tid 300 */
	pg_modbus_app.data(m, PG_DIR_S2C, rsp, sizeof rsp, &pi);
	assert_int_equal(s.st.modbus_adus, 301);
	assert_int_equal(s.mem_used, used);
	pg_modbus_app.close(m, &pi);
	assert_int_equal(s.mem_used, 0);
}

static void put_le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/*
 * badfrac.pcap: microsecond records whose fraction field is 0xffffffff (-1 as
 * libpcap reads it) or 2,000,000,000.  Before the fix the first event's time
 * printed as "2023-11-14T22:13:20.-00001Z" and packet times carried
 * nanoseconds outside [0, 1e9).  Now the fraction carries into the seconds.
 */
static void test_capture_fraction_out_of_range(void **state)
{
	(void)state;
	/* Ethernet + IPv4 + TCP (ACK|PSH) to port 102 + the read-var TPKT */
	uint8_t fr[14 + 20 + 20 + sizeof readvar_tpkt];
	memset(fr, 0, sizeof fr);
	fr[12] = 0x08;
	uint8_t *ip = fr + 14, *tcp = ip + 20;
	ip[0] = 0x45;
	ip[2] = 0;
	ip[3] = (uint8_t)(sizeof fr - 14);
	ip[8] = 64;
	ip[9] = 6;
	ip[12] = 10; ip[15] = 1;
	ip[16] = 10; ip[19] = 2;
	tcp[0] = 0x9c; tcp[1] = 0x40;          /* 40000 */
	tcp[3] = 102;
	tcp[7] = 1;                            /* seq 1 */
	tcp[11] = 1;                           /* ack 1 */
	tcp[12] = 5 << 4;
	tcp[13] = 0x18;
	tcp[14] = 0xff; tcp[15] = 0xff;
	memcpy(tcp + 20, readvar_tpkt, sizeof readvar_tpkt);

	static const uint32_t fracs[] = { 0xffffffffu, 2000000000u, 999999u, 0x80000000u };
	uint8_t file[24 + 4 * (16 + sizeof fr)];
	uint8_t *w = file;
	put_le32(w, 0xa1b2c3d4);
	w[4] = 2; w[5] = 0; w[6] = 4; w[7] = 0;
	memset(w + 8, 0, 8);
	put_le32(w + 16, 65535);
	put_le32(w + 20, 1);
	w += 24;
	for (size_t i = 0; i < 4; i++) {
		put_le32(w, 1700000000u);
		put_le32(w + 4, fracs[i]);
		put_le32(w + 8, sizeof fr);
		put_le32(w + 12, sizeof fr);
		memcpy(w + 16, fr, sizeof fr);
		/* the same flow: advance the TCP sequence number */
		w[16 + 14 + 20 + 7] = (uint8_t)(1 + i * sizeof readvar_tpkt);
		w += 16 + sizeof fr;
	}
	FILE *fp = fmemopen(file, sizeof file, "rb");
	assert_non_null(fp);
	struct pg_sniff s;
	ctx_init(&s);
	s.cfg.pdu_trace = 1;
	struct flowtab *ft = flowtab_new(&s, &pg_s7_app, &pg_modbus_app);
	struct pg_capture cap;
	pg_capture_init(&cap, &s, ft);
	/* the stream is libpcap's now: pcap_close() closes it */
	assert_int_equal(pg_capture_stream(&cap, fp, "badfrac.pcap"), 0);
	/* frame 1: 1700000000 s - 1 us; frame 2: + 2000 s; frame 4: - 2147 s */
	assert_int_equal(s.st.packets, 4);
	assert_int_equal(rec_count("s7.pdu"), 4);
	assert_int_equal(rec_count("capture.file"), 1);
	flowtab_close_all(ft, &cap.last);
	flowtab_free(ft);
	assert_int_equal(s.mem_used, 0);
}

/* ---- pcapng at the limits ---- */

/* A pcapng block: type, length, body (a multiple of 4), length. */
static uint8_t *ng_block(uint8_t *w, uint32_t type, const uint8_t *body, uint32_t n)
{
	put_le32(w, type);
	put_le32(w + 4, 12 + n);
	if (n)
		memcpy(w + 8, body, n);
	put_le32(w + 8 + n, 12 + n);
	return w + 12 + n;
}

/*
 * Timestamp resolutions at their extremes (2^-63 and 10^-19) with the
 * largest timestamp field and a negative if_tsoffset: no overflow, valid
 * times; then a section with more interfaces than we keep (4096): a clean
 * capture.error, no unbounded table.
 */
static void test_pcapng_extremes(void **state)
{
	(void)state;
	uint8_t *file = calloc(1, 200 + 4200 * 20), *w = file;
	assert_non_null(file);
	uint8_t b[64];
	memset(b, 0, sizeof b);
	put_le32(b, 0x1a2b3c4d);
	b[4] = 1;                                   /* version 1.0 */
	memset(b + 8, 0xff, 8);                     /* section length unknown */
	w = ng_block(w, 0x0a0d0d0a, b, 16);
	/* interface 0: Ethernet, 2^-63 s, offset -1000000 s */
	memset(b, 0, sizeof b);
	b[0] = 1;
	put_le32(b + 4, 0);
	b[8] = 9; b[10] = 1; b[12] = 0x80 | 63;
	b[16] = 14; b[18] = 8;
	int64_t off = -1000000;
	for (int i = 0; i < 8; i++)
		b[20 + i] = (uint8_t)((uint64_t)off >> (8 * i));
	w = ng_block(w, 1, b, 28);
	/* interface 1: raw IP, 10^-19 s */
	memset(b, 0, sizeof b);
	b[0] = 101;
	b[8] = 9; b[10] = 1; b[12] = 19;
	w = ng_block(w, 1, b, 16);
	/* one empty packet on each, timestamp field all ones */
	for (uint32_t ifid = 0; ifid < 2; ifid++) {
		memset(b, 0, sizeof b);
		put_le32(b, ifid);
		memset(b + 4, 0xff, 8);
		w = ng_block(w, 6, b, 20);
	}
	/* 4200 interfaces in one section */
	memset(b, 0, sizeof b);
	b[0] = 1;
	for (int i = 0; i < 4200; i++)
		w = ng_block(w, 1, b, 8);
	FILE *fp = fmemopen(file, (size_t)(w - file), "rb");
	assert_non_null(fp);
	struct pg_sniff s;
	ctx_init(&s);
	struct flowtab *ft = flowtab_new(&s, &pg_s7_app, &pg_modbus_app);
	struct pg_capture cap;
	pg_capture_init(&cap, &s, ft);
	assert_int_equal(pg_capture_stream(&cap, fp, "extremes.pcapng"), -1);
	assert_int_equal(s.st.packets, 2);
	assert_int_equal(rec_count("capture.file"), 1);
	assert_int_equal(rec_count("capture.interface"), 1);   /* RAW */
	assert_int_equal(rec_count("capture.error"), 1);
	/* interface 1: 2^64-1 units of 10^-19 s is 1.8446744073709551615 s */
	assert_int_equal(cap.last.ts.tv_sec, 1);
	assert_int_equal(cap.last.ts.tv_nsec, 844674407);
	flowtab_close_all(ft, &cap.last);
	flowtab_free(ft);
	assert_int_equal(s.mem_used, 0);
	free(file);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_memcap_evicts_lru_flows),
		cmocka_unit_test(test_max_flows_evictions_bounded),
		cmocka_unit_test(test_s7_idle_flow_holds_no_buffers),
		cmocka_unit_test(test_modbus_txn_table_grows_and_stops),
		cmocka_unit_test(test_gap_events_bounded),
		cmocka_unit_test(test_capture_fraction_out_of_range),
		cmocka_unit_test(test_pcapng_extremes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
