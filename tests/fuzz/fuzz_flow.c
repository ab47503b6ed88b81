/*
 * fuzz_flow.c - libFuzzer target for collectors/flow.c: drives the flow
 * table with a sequence of small TCP segment descriptors and a fake
 * application that checks the reassembly invariants.
 *
 * Input:
 *   [0] config: bits 0-2 flow_mem_max = 64 << n, bits 3-4 max_flows = 1 + n,
 *       bit 5 idle timeout 5 s (else 600 s), bit 6 ISNs near 2^32 (wrap),
 *       bit 7 "corrupt" mode (some payload bytes lie)
 *   then records of 6 bytes + payload:
 *   [0] bit 0 from server, bits 1-4 SYN/FIN/RST/ACK, bits 5-6 tuple (client
 *       port 40000 + n; tuple 3 talks to port 502, others to 102),
 *       bit 7 time advances (by 1 s, or 7 s every 4th advance)
 *   [1-2] seq offset from the direction's base (int16, big-endian)
 *   [3]   payload length (bits 0-6), bit 7: a snaplen cut of len/2 bytes
 *   [4-5] ack offset from the peer's base (int16)
 *
 * Payload bytes are the low byte of their own sequence number, so the app can
 * check continuity without knowing where the stream started: after a byte b,
 * the next delivered byte is b + 1 + (bytes gapped in between).  In corrupt
 * mode some bytes are flipped; then only the counting invariants hold:
 *   - data delivered per direction never exceeds the payload offered;
 *   - no callback after close(); close() exactly once per open();
 *   - the memory budget is back to 0 after flowtab_free().
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "flow.h"

/* the event bus the code under test publishes on (rules/bus.h) */
static struct pg_bus test_bus;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NTUPLE 4
#define MAXAPP 512

struct fapp {
	int used, closed, tuple;
	uint64_t data[2];
	int have_prev[2];
	uint8_t prev[2];
	uint64_t pending_gap[2];
};

static struct {
	struct fapp app[MAXAPP];
	int napp;
	int corrupt;
	uint64_t offered[NTUPLE][2];   /* by tuple and direction */
} F;

static struct fapp dummy;          /* when the pool is exhausted */

static void *fz_open(struct pg_sniff *s, const struct pg_flowinfo *fi)
{
	(void)s;
	if (F.napp >= MAXAPP)
		return &dummy;
	struct fapp *a = &F.app[F.napp++];
	memset(a, 0, sizeof *a);
	a->used = 1;
	/* tuple from the client port (orientation can be either way) */
	uint16_t cp = fi->cli.port >= 40000 ? fi->cli.port : fi->srv.port;
	a->tuple = (cp - 40000) % NTUPLE;
	if (fi->id == 0)
		abort();
	return a;
}

static void fz_data(void *p, int dir, const uint8_t *d, size_t n,
		    const struct pg_pktinfo *pi)
{
	(void)pi;
	struct fapp *a = p;
	if (a == &dummy)
		return;
	if (a->closed || n == 0 || (dir != 0 && dir != 1))
		abort();
	a->data[dir] += n;
	/* the same tuple may have been replaced, so compare with what the
	 * tuple was offered in either orientation */
	if (a->data[dir] > F.offered[a->tuple][0] + F.offered[a->tuple][1])
		abort();
	if (!F.corrupt) {
		for (size_t i = 0; i < n; i++) {
			if (a->have_prev[dir]) {
				uint8_t want = (uint8_t)(a->prev[dir] + 1 +
							 a->pending_gap[dir]);
				if (d[i] != want)
					abort();
			}
			a->prev[dir] = d[i];
			a->have_prev[dir] = 1;
			a->pending_gap[dir] = 0;
		}
	}
}

static void fz_gap(void *p, int dir, uint64_t n, const struct pg_pktinfo *pi)
{
	(void)pi;
	struct fapp *a = p;
	if (a == &dummy)
		return;
	if (a->closed || n == 0 || n > 0xFFFFFFFFu)
		abort();
	a->pending_gap[dir] += n;
}

static void fz_close(void *p, const struct pg_pktinfo *pi)
{
	(void)pi;
	struct fapp *a = p;
	if (a == &dummy)
		return;
	if (a->closed)
		abort();
	a->closed = 1;
}

static const struct pg_app_ops fz_ops = {
	"fuzz", fz_open, fz_data, fz_gap, fz_close, NULL,
};

static void fz_emit(void *arg, struct pg_event *ev)
{
	(void)arg;
	if (!ev->kind)
		abort();
}

static uint16_t be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	memset(&F, 0, sizeof F);
	struct pg_sniff s;
	pg_sniff_init(&s);
	pg_bus_init(&test_bus);
	pg_bus_subscribe(&test_bus, fz_emit, NULL);
	s.bus = &test_bus;
	uint8_t cfg = data[0];
	s.cfg.flow_mem_max = (size_t)64 << (cfg & 7);
	s.cfg.max_flows = 1 + ((cfg >> 3) & 3);
	s.cfg.idle_timeout_s = (cfg & 0x20) ? 5 : 600;
	F.corrupt = !!(cfg & 0x80);
	uint32_t base[NTUPLE][2];
	for (int i = 0; i < NTUPLE; i++) {
		base[i][0] = (cfg & 0x40) ? 0xFFFFFF00u + (uint32_t)i * 16 : 1000u * (i + 1);
		base[i][1] = (cfg & 0x40) ? 0xFFFFFFC0u : 500000u * (i + 1);
	}

	struct flowtab *ft = flowtab_new(&s, &fz_ops, &fz_ops);
	if (!ft)
		return 0;
	struct pg_pktinfo pi = { { 1000, 0 }, 0 };
	uint8_t pay[128];
	unsigned advances = 0;
	size_t off = 1;
	while (size - off >= 6) {
		const uint8_t *r = data + off;
		off += 6;
		int from_srv = r[0] & 1;
		uint8_t flags = 0;
		if (r[0] & 0x02) flags |= ND_SYN;
		if (r[0] & 0x04) flags |= ND_FIN;
		if (r[0] & 0x08) flags |= ND_RST;
		if (r[0] & 0x10) flags |= ND_ACK;
		int tu = (r[0] >> 5) & 3;
		if (r[0] & 0x80)
			pi.ts.tv_sec += (++advances % 4 == 0) ? 7 : 1;
		uint32_t seq = base[tu][from_srv] + (uint32_t)(int32_t)(int16_t)be16(r + 1);
		size_t len = r[3] & 0x7F;
		size_t cut = (r[3] & 0x80) ? len / 2 : 0;
		uint32_t ack = base[tu][!from_srv] + (uint32_t)(int32_t)(int16_t)be16(r + 4);
		size_t present = len - cut;
		if (present > size - off)
			present = size - off;
		for (size_t i = 0; i < present; i++) {
			pay[i] = (uint8_t)(seq + (flags & ND_SYN ? 1 : 0) + i);
			/* corrupt mode: input bytes decide which bytes lie */
			if (F.corrupt && (data[off + i] & 0x0F) == 0)
				pay[i] ^= 0x5A;
		}
		off += present;

		struct nd_tcp t;
		memset(&t, 0, sizeof t);
		t.af = 4;
		uint8_t c[4] = { 10, 0, 0, 1 }, v[4] = { 10, 0, 0, 2 };
		memcpy(t.src, from_srv ? v : c, 4);
		memcpy(t.dst, from_srv ? c : v, 4);
		uint16_t cport = (uint16_t)(40000 + tu);
		uint16_t sport = tu == 3 ? 502 : 102;
		t.sport = from_srv ? sport : cport;
		t.dport = from_srv ? cport : sport;
		t.seq = seq;
		t.ack = ack;
		t.flags = flags;
		/* an exact-size heap copy so ASan sees over-reads */
		uint8_t *p = present ? malloc(present) : NULL;
		if (present && !p)
			break;
		if (present)
			memcpy(p, pay, present);
		t.payload = p;
		t.len = present;
		t.missing = cut;
		F.offered[tu][0] += present;  /* either orientation */
		pi.frame++;
		flowtab_packet(ft, &t, &pi);
		free(p);
		if (flowtab_count(ft) > s.cfg.max_flows)
			abort();
	}
	flowtab_close_all(ft, &pi);
	if (flowtab_count(ft) != 0)
		abort();
	flowtab_free(ft);
	if (s.mem_used != 0)
		abort();
	for (int i = 0; i < F.napp; i++)
		if (!F.app[i].closed)
			abort();
	return 0;
}
