/*
 * mkcaps.c - the capture generator of plcguard's own samples (samples/captures).
 *
 * A standalone C11 program (no project libraries, its own SHA-256) that writes
 * synthetic but protocol-faithful engineering sessions as pcap/pcapng files,
 * deterministic byte for byte: fixed clock (2026-03-02T09:00:00Z), fixed ISNs,
 * MACs, addresses and ports, so `plcguard sniff` tests and the demo can name
 * exact frames, sizes and hashes.  What each capture holds and the results a
 * collector must reach are in samples/captures/README.md; the frame-by-frame
 * listing it writes next to the captures (FRAMES.txt) is the ground truth.
 *
 * usage: pg-mkcaps --blocks DIR --out DIR --apx FILE [--filtered]
 *        pg-mkcaps --session OUT.pcap [--alter BLOCK] [--filtered] FILE.mc7...
 *          (one download session of the given blocks: see session_main)
 *   DIR/{OB1,FC10,FB20,DB1}.mc7 come from pg-mksamples; FILE (the synthetic
 *   UMAS application image, "APX...") is written by this program and then
 *   transferred in the UMAS captures.  The blocks of the sample STEP 7
 *   project (samples/projects/mixer_step7) are built here from the same
 *   description the samples generator writes the project's tables from
 *   (samples/gen/step7gen.h), for s7_step7_download.pcap.
 *   --filtered writes the same sessions as an analyst's display-filtered
 *   export (`tshark -Y 's7comm || mbtcp' -w`) keeps them: every segment is
 *   still generated (sequence and acknowledgement numbers run on, the peer
 *   ACKs what it received) but those that carry no S7comm or Modbus PDU are
 *   not written: the handshake and FIN, bare ACKs, the COTP CR/CC, and the
 *   empty COTP DT that STEP 7 and TIA send alone before every PDU.  These
 *   captures are made at test time (tests/e2e/t_filtered.sh), not committed.
 *
 * Follows ../shared/docs/PROTOCOLS.md (TPKT/COTP/S7comm download and upload
 * sequences, S7comm-plus framing, Modbus/TCP, UMAS 0x10/0x30-0x35/0x38/0x40/
 * 0x41, FC 0x15), with parameter layouts checked against tshark's dissection
 * of real sessions.  No byte of any third-party capture is copied: all
 * payloads are built here from the sample blocks and a seeded PRNG.
 *
 * Layers, bottom up (each frame is built whole, then the link header added):
 *
 *   link   Ethernet | 802.1Q | QinQ (88a8+8100) | SLL (113) | SLL2 (276) | raw IP (101)
 *   ip     IPv4 (header checksum) | IPv6
 *   tcp    handshake, data segments with correct seq/ack and checksum, FIN;
 *          misbehaviour on request: drop, retransmit, overlap conflict, swap
 *   app    TPKT/COTP/S7comm, S7comm-plus, Modbus/TCP + UMAS
 *
 * Frames are collected per capture with their timestamps and a note, stably
 * sorted by time (so two sessions can interleave, as in mixed.pcapng) and
 * written at the end.  Out-of-order segments are produced by emitting them in
 * that order, not by timestamps, so the sort never "repairs" them.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "step7gen.h"

/* ------------------------------------------------------------------ buffers */

struct buf {
	uint8_t *p;
	size_t n, cap;
};

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("pg-mkcaps: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(2);
}

static void b_put(struct buf *b, const void *d, size_t n)
{
	if (n == 0)
		return;
	if (b->n + n > b->cap) {
		size_t nc = (b->n + n) * 2 + 64;
		uint8_t *np = realloc(b->p, nc);
		if (!np)
			die("out of memory");
		b->p = np;
		b->cap = nc;
	}
	memcpy(b->p + b->n, d, n);
	b->n += n;
}

static void b_u8(struct buf *b, unsigned v) { uint8_t x = (uint8_t)v; b_put(b, &x, 1); }
static void b_u16be(struct buf *b, unsigned v) { b_u8(b, v >> 8); b_u8(b, v); }
static void b_u32be(struct buf *b, uint32_t v) { b_u16be(b, v >> 16); b_u16be(b, v & 0xffff); }
static void b_u16le(struct buf *b, unsigned v) { b_u8(b, v); b_u8(b, v >> 8); }
static void b_u32le(struct buf *b, uint32_t v) { b_u16le(b, v & 0xffff); b_u16le(b, v >> 16); }
static void b_str(struct buf *b, const char *s) { b_put(b, s, strlen(s)); }
static void b_free(struct buf *b) { free(b->p); memset(b, 0, sizeof *b); }

static void b_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void b_printf(struct buf *b, const char *fmt, ...)
{
	char tmp[1024];
	va_list ap;
	va_start(ap, fmt);
	int k = vsnprintf(tmp, sizeof tmp, fmt, ap);
	va_end(ap);
	if (k < 0)
		die("vsnprintf");
	b_put(b, tmp, (size_t)k < sizeof tmp ? (size_t)k : sizeof tmp - 1);
}

static uint16_t rd16be(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static uint32_t rd32be(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Deterministic PRNG (xorshift32): the only source of "random" payload bytes. */
static uint32_t prng_next(uint32_t *s)
{
	uint32_t x = *s;
	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	*s = x;
	return x;
}

/* ------------------------------------------------------------------ SHA-256 */
/* FIPS 180-4, written for this program so the generator needs no library. */

struct sha256 {
	uint32_t h[8];
	uint64_t len;
	uint8_t blk[64];
	size_t used;
};

static const uint32_t sha_k[64] = {
	0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
	0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
	0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
	0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
	0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
	0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
	0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
	0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

static uint32_t ror32(uint32_t x, unsigned n) { return x >> n | x << (32 - n); }

static void sha_block(struct sha256 *s, const uint8_t *p)
{
	uint32_t w[64], v[8];
	for (int i = 0; i < 16; i++)
		w[i] = rd32be(p + 4 * i);
	for (int i = 16; i < 64; i++) {
		uint32_t s0 = ror32(w[i - 15], 7) ^ ror32(w[i - 15], 18) ^ (w[i - 15] >> 3);
		uint32_t s1 = ror32(w[i - 2], 17) ^ ror32(w[i - 2], 19) ^ (w[i - 2] >> 10);
		w[i] = w[i - 16] + s0 + w[i - 7] + s1;
	}
	memcpy(v, s->h, sizeof v);
	for (int i = 0; i < 64; i++) {
		uint32_t S1 = ror32(v[4], 6) ^ ror32(v[4], 11) ^ ror32(v[4], 25);
		uint32_t ch = (v[4] & v[5]) ^ (~v[4] & v[6]);
		uint32_t t1 = v[7] + S1 + ch + sha_k[i] + w[i];
		uint32_t S0 = ror32(v[0], 2) ^ ror32(v[0], 13) ^ ror32(v[0], 22);
		uint32_t mj = (v[0] & v[1]) ^ (v[0] & v[2]) ^ (v[1] & v[2]);
		uint32_t t2 = S0 + mj;
		memmove(v + 1, v, 7 * sizeof v[0]);
		v[4] += t1;
		v[0] = t1 + t2;
	}
	for (int i = 0; i < 8; i++)
		s->h[i] += v[i];
}

static void sha256_hex(const uint8_t *d, size_t n, char out[65])
{
	static const uint32_t iv[8] = { 0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
					0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19 };
	struct sha256 s;
	memcpy(s.h, iv, sizeof iv);
	s.len = (uint64_t)n * 8;
	size_t i = 0;
	for (; i + 64 <= n; i += 64)
		sha_block(&s, d + i);
	uint8_t tail[128] = { 0 };
	size_t r = n - i;
	memcpy(tail, d + i, r);
	tail[r] = 0x80;
	size_t tl = r + 9 <= 64 ? 64 : 128;
	for (int k = 0; k < 8; k++)
		tail[tl - 1 - k] = (uint8_t)(s.len >> (8 * k));
	sha_block(&s, tail);
	if (tl == 128)
		sha_block(&s, tail + 64);
	for (int k = 0; k < 8; k++)
		snprintf(out + 8 * k, 9, "%08x", s.h[k]);
}

static void sha256_raw(const uint8_t *d, size_t n, uint8_t out[32])
{
	char hex[65];
	sha256_hex(d, n, hex);
	for (int i = 0; i < 32; i++) {
		unsigned v;
		sscanf(hex + 2 * i, "%2x", &v);
		out[i] = (uint8_t)v;
	}
}

/* ------------------------------------------------------------------ captures */

#define EPOCH_START 1772442000ull /* 2026-03-02T09:00:00Z */
#define US 1000000ull

enum link { L_ETH, L_VLAN, L_QINQ, L_SLL, L_SLL2, L_RAW };

struct frame {
	uint64_t ts;        /* microseconds since 1970 */
	uint32_t order;     /* insertion order: ties keep it (stable sort) */
	uint8_t *data;
	size_t len;
	char note[320];
};

struct cap {
	const char *name;
	int pcapng;
	enum link link;
	struct frame *f;
	size_t n, cap;
	int mute;           /* frames made while set are not captured (gaps, midstream) */
	struct buf summary; /* objects and expectations, printed before the frame list */
};

static struct buf listing; /* FRAMES.txt */
static int g_filtered;     /* --filtered: see the header comment */

static uint32_t link_type(enum link l)
{
	switch (l) {
	case L_SLL: return 113;
	case L_SLL2: return 276;
	case L_RAW: return 101;
	default: return 1;
	}
}

static const char *link_name(enum link l)
{
	switch (l) {
	case L_ETH: return "Ethernet (DLT 1)";
	case L_VLAN: return "Ethernet + 802.1Q VLAN 100 (DLT 1)";
	case L_QINQ: return "Ethernet + 802.1ad S-VLAN 200 (0x88a8) + 802.1Q C-VLAN 100 (DLT 1)";
	case L_SLL: return "Linux cooked SLL (DLT 113)";
	case L_SLL2: return "Linux cooked SLL2 (DLT 276)";
	case L_RAW: return "raw IPv4 (DLT 101)";
	}
	return "?";
}

/*
 * Wrap an IP packet in the capture's link layer and store it.  `outgoing`
 * tells the cooked headers whether the capturing host (the engineering
 * station) sent the packet.
 */
static void cap_add(struct cap *c, uint64_t ts, const uint8_t *smac, const uint8_t *dmac,
		    int v6, const uint8_t *ip, size_t iplen, int outgoing, const char *note)
{
	if (c->mute)
		return;
	unsigned et = v6 ? 0x86dd : 0x0800;
	struct buf b = { 0 };
	switch (c->link) {
	case L_ETH:
	case L_VLAN:
	case L_QINQ:
		b_put(&b, dmac, 6);
		b_put(&b, smac, 6);
		if (c->link == L_QINQ) {
			b_u16be(&b, 0x88a8);
			b_u16be(&b, 200);
		}
		if (c->link != L_ETH) {
			b_u16be(&b, 0x8100);
			b_u16be(&b, 100);
		}
		b_u16be(&b, et);
		break;
	case L_SLL:
		b_u16be(&b, outgoing ? 4 : 0);  /* packet type: 4 sent by us, 0 to us */
		b_u16be(&b, 1);                 /* ARPHRD_ETHER */
		b_u16be(&b, 6);
		b_put(&b, smac, 6);
		b_u16be(&b, 0);                 /* address padded to 8 */
		b_u16be(&b, et);
		break;
	case L_SLL2:
		b_u16be(&b, et);
		b_u16be(&b, 0);                 /* reserved */
		b_u32be(&b, 3);                 /* interface index */
		b_u16be(&b, 1);                 /* ARPHRD_ETHER */
		b_u8(&b, outgoing ? 4 : 0);
		b_u8(&b, 6);
		b_put(&b, smac, 6);
		b_u16be(&b, 0);
		break;
	case L_RAW:
		break;
	}
	b_put(&b, ip, iplen);
	if (c->n == c->cap) {
		c->cap = c->cap ? c->cap * 2 : 256;
		c->f = realloc(c->f, c->cap * sizeof *c->f);
		if (!c->f)
			die("out of memory");
	}
	struct frame *f = &c->f[c->n];
	f->ts = ts;
	f->order = (uint32_t)c->n;
	f->data = b.p;
	f->len = b.n;
	snprintf(f->note, sizeof f->note, "%s", note);
	c->n++;
}

static int frame_cmp(const void *a, const void *b)
{
	const struct frame *x = a, *y = b;
	if (x->ts != y->ts)
		return x->ts < y->ts ? -1 : 1;
	return x->order < y->order ? -1 : x->order > y->order;
}

static void f_le16(FILE *f, unsigned v) { fputc(v & 0xff, f); fputc((v >> 8) & 0xff, f); }
static void f_le32(FILE *f, uint32_t v) { f_le16(f, v & 0xffff); f_le16(f, v >> 16); }

static void cap_write(struct cap *c, const char *dir)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/%s", dir, c->name);
	FILE *f = fopen(path, "wb");
	if (!f)
		die("%s: %s", path, strerror(errno));
	qsort(c->f, c->n, sizeof *c->f, frame_cmp);
	uint32_t lt = link_type(c->link);
	if (!c->pcapng) {
		/* classic pcap, little endian, microsecond resolution */
		f_le32(f, 0xa1b2c3d4);
		f_le16(f, 2);
		f_le16(f, 4);
		f_le32(f, 0);
		f_le32(f, 0);
		f_le32(f, 65535);
		f_le32(f, lt);
		for (size_t i = 0; i < c->n; i++) {
			f_le32(f, (uint32_t)(c->f[i].ts / US));
			f_le32(f, (uint32_t)(c->f[i].ts % US));
			f_le32(f, (uint32_t)c->f[i].len);
			f_le32(f, (uint32_t)c->f[i].len);
			fwrite(c->f[i].data, 1, c->f[i].len, f);
		}
	} else {
		/* pcapng: SHB (with shb_userappl), one IDB (default 10^-6 ts), EPBs */
		static const char app[] = "plcguard pg-mkcaps";  /* 18 bytes -> padded 20 */
		f_le32(f, 0x0a0d0d0a);
		f_le32(f, 28 + 4 + 20 + 4);
		f_le32(f, 0x1a2b3c4d);
		f_le16(f, 1);
		f_le16(f, 0);
		f_le32(f, 0xffffffff);
		f_le32(f, 0xffffffff);          /* section length unknown (-1) */
		f_le16(f, 4);
		f_le16(f, (unsigned)strlen(app));
		fwrite(app, 1, strlen(app), f);
		f_le16(f, 0);                   /* pad to 20 */
		f_le32(f, 0);                   /* opt_endofopt */
		f_le32(f, 28 + 4 + 20 + 4);
		f_le32(f, 1);
		f_le32(f, 20);
		f_le16(f, lt);
		f_le16(f, 0);
		f_le32(f, 65535);
		f_le32(f, 20);
		for (size_t i = 0; i < c->n; i++) {
			size_t pad = (4 - c->f[i].len % 4) % 4;
			uint32_t tot = (uint32_t)(32 + c->f[i].len + pad);
			f_le32(f, 6);
			f_le32(f, tot);
			f_le32(f, 0);
			f_le32(f, (uint32_t)(c->f[i].ts >> 32));
			f_le32(f, (uint32_t)c->f[i].ts);
			f_le32(f, (uint32_t)c->f[i].len);
			f_le32(f, (uint32_t)c->f[i].len);
			fwrite(c->f[i].data, 1, c->f[i].len, f);
			for (size_t k = 0; k < pad; k++)
				fputc(0, f);
			f_le32(f, tot);
		}
	}
	if (fclose(f) != 0)
		die("%s: %s", path, strerror(errno));

	b_printf(&listing, "==== %s  (%s, %s, %zu frames)\n", c->name,
		 c->pcapng ? "pcapng" : "pcap", link_name(c->link), c->n);
	b_put(&listing, c->summary.p, c->summary.n);
	for (size_t i = 0; i < c->n; i++) {
		uint64_t rel = c->f[i].ts - EPOCH_START * US;
		b_printf(&listing, "%5zu  09:%02u:%02u.%06u  %s\n", i + 1,
			 (unsigned)(rel / US / 60), (unsigned)(rel / US % 60),
			 (unsigned)(rel % US), c->f[i].note);
		free(c->f[i].data);
	}
	b_u8(&listing, '\n');
	free(c->f);
	b_free(&c->summary);
	memset(c, 0, sizeof *c);
}

static void cap_say(struct cap *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void cap_say(struct cap *c, const char *fmt, ...)
{
	char tmp[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(tmp, sizeof tmp, fmt, ap);
	va_end(ap);
	b_printf(&c->summary, "  %s\n", tmp);
}

/* One expected object: name, size and SHA-256 of the bytes that went over. */
static void cap_object(struct cap *c, const char *what, const uint8_t *d, size_t n,
		       const char *expect)
{
	char hex[65];
	sha256_hex(d, n, hex);
	cap_say(c, "object %-26s %5zu bytes  sha256 %s  %s", what, n, hex, expect);
}

/* ------------------------------------------------------------------ TCP/IP */

static const uint8_t empty_dt[7] = { 0x03, 0x00, 0x00, 0x07, 0x02, 0xf0, 0x00 };

enum { ES = 0, PLC = 1 };

struct ep {
	const char *name;     /* in the frame listing */
	uint8_t mac[6];
	uint8_t ip4[4];
	uint8_t ip6[16];
	uint16_t port;
	uint8_t ttl;
	uint16_t win;
};

static const struct ep EP_ES = { "ES",
	{ 0x02, 0x00, 0x0a, 0x0a, 0x01, 0x32 }, { 10, 10, 1, 50 },
	{ 0xfd, 0x00, 0x00, 0x10, [15] = 0x50 }, 0, 128, 64240 };
static const struct ep EP_S7 = { "PLC",
	{ 0x00, 0x1b, 0x1b, 0x0a, 0x01, 0x0a }, { 10, 10, 1, 10 },
	{ 0xfd, 0x00, 0x00, 0x10, [15] = 0x10 }, 102, 30, 8192 };
static const struct ep EP_MODICON = { "MODICON",
	{ 0x00, 0x80, 0xf4, 0x0a, 0x02, 0x14 }, { 10, 10, 2, 20 },
	{ 0xfd, 0x00, 0x00, 0x10, [15] = 0x20 }, 502, 64, 4096 };

struct conn {
	struct cap *cap;
	int v6;
	struct ep ep[2];
	uint32_t nxt[2];      /* next sequence number each side sends */
	uint16_t ipid[2];
	uint64_t t;           /* this session's clock, microseconds since 1970 */
};

#define TCP_FIN 0x01
#define TCP_SYN 0x02
#define TCP_PSH 0x08
#define TCP_ACK 0x10

static uint16_t csum_fold(uint32_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

static uint32_t csum_add(uint32_t s, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i + 1 < n; i += 2)
		s += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (n & 1)
		s += (uint32_t)p[n - 1] << 8;
	return s;
}

static void conn_init(struct conn *c, struct cap *cap, const struct ep *cli, uint16_t cport,
		      const struct ep *srv, int v6, uint32_t isn_cli, uint32_t isn_srv,
		      uint64_t start_us)
{
	memset(c, 0, sizeof *c);
	c->cap = cap;
	c->v6 = v6;
	c->ep[ES] = *cli;
	c->ep[ES].port = cport;
	c->ep[PLC] = *srv;
	c->nxt[ES] = isn_cli;
	c->nxt[PLC] = isn_srv;
	c->ipid[ES] = (uint16_t)(0x2d00 + (cport & 0xff));
	c->ipid[PLC] = 0x00c0;
	c->t = EPOCH_START * US + start_us;
}

/* The engineering station answers fast; the PLC takes a few milliseconds. */
static void conn_tick(struct conn *c, int d)
{
	c->t += d == ES ? 230 : 3100;
}

/*
 * One TCP segment from side d with an explicit sequence number.  The ACK
 * field is everything the peer has sent so far: the receiver really got the
 * bytes even when the capture misses them (a gap is a capture loss).
 */
static void conn_seg_at(struct conn *c, int d, unsigned flags, uint32_t seq,
			const uint8_t *data, size_t len, const char *note)
{
	const struct ep *s = &c->ep[d], *r = &c->ep[!d];
	struct buf tcp = { 0 };
	int syn = flags & TCP_SYN;
	b_u16be(&tcp, s->port);
	b_u16be(&tcp, r->port);
	b_u32be(&tcp, seq);
	b_u32be(&tcp, flags & TCP_ACK ? c->nxt[!d] : 0);
	b_u8(&tcp, (syn ? 6 : 5) << 4);
	b_u8(&tcp, flags);
	b_u16be(&tcp, s->win);
	b_u16be(&tcp, 0);               /* checksum, below */
	b_u16be(&tcp, 0);
	if (syn) {
		b_u8(&tcp, 2);          /* MSS 1460 */
		b_u8(&tcp, 4);
		b_u16be(&tcp, 1460);
	}
	b_put(&tcp, data, len);

	uint32_t sum = 0;
	struct buf ip = { 0 };
	if (c->v6) {
		sum = csum_add(sum, s->ip6, 16);
		sum = csum_add(sum, r->ip6, 16);
		sum += (uint32_t)tcp.n + 6;
	} else {
		sum = csum_add(sum, s->ip4, 4);
		sum = csum_add(sum, r->ip4, 4);
		sum += 6 + (uint32_t)tcp.n;
	}
	uint16_t ck = csum_fold(csum_add(sum, tcp.p, tcp.n));
	tcp.p[16] = (uint8_t)(ck >> 8);
	tcp.p[17] = (uint8_t)ck;

	if (c->v6) {
		b_u32be(&ip, 0x60000000);
		b_u16be(&ip, (unsigned)tcp.n);
		b_u8(&ip, 6);
		b_u8(&ip, s->ttl);
		b_put(&ip, s->ip6, 16);
		b_put(&ip, r->ip6, 16);
	} else {
		b_u8(&ip, 0x45);
		b_u8(&ip, 0);
		b_u16be(&ip, (unsigned)(20 + tcp.n));
		b_u16be(&ip, c->ipid[d]++);
		b_u16be(&ip, 0x4000);   /* DF */
		b_u8(&ip, s->ttl);
		b_u8(&ip, 6);
		b_u16be(&ip, 0);
		b_put(&ip, s->ip4, 4);
		b_put(&ip, r->ip4, 4);
		uint16_t ick = csum_fold(csum_add(0, ip.p, 20));
		ip.p[10] = (uint8_t)(ick >> 8);
		ip.p[11] = (uint8_t)ick;
	}
	b_put(&ip, tcp.p, tcp.n);

	char full[288];
	snprintf(full, sizeof full, "%s->%s %s", s->name, r->name, note);
	conn_tick(c, d);
	/* A display-filtered export keeps only frames with an application PDU:
	 * no bare segment, no empty DT alone, no COTP CR/CC (TPKT + LI + type). */
	int keep = !g_filtered ||
		   (len > 0 && !(len == sizeof empty_dt && !memcmp(data, empty_dt, len)) &&
		    !(len >= 6 && data[0] == 0x03 && (data[5] == 0xe0 || data[5] == 0xd0)));
	if (keep)
		cap_add(c->cap, c->t, s->mac, r->mac, c->v6, ip.p, ip.n, d == ES, full);
	b_free(&tcp);
	b_free(&ip);
}

static void conn_send(struct conn *c, int d, const uint8_t *p, size_t n, const char *note)
{
	conn_seg_at(c, d, TCP_PSH | TCP_ACK, c->nxt[d], p, n, note);
	c->nxt[d] += (uint32_t)n;
}

static void conn_ack(struct conn *c, int d)
{
	conn_seg_at(c, d, TCP_ACK, c->nxt[d], NULL, 0, "TCP ACK");
}

static void conn_open(struct conn *c)
{
	conn_seg_at(c, ES, TCP_SYN, c->nxt[ES], NULL, 0, "TCP SYN");
	c->nxt[ES]++;
	/* the SYN-ACK acknowledges the SYN: its ACK field is nxt[ES] */
	conn_seg_at(c, PLC, TCP_SYN | TCP_ACK, c->nxt[PLC], NULL, 0, "TCP SYN-ACK");
	c->nxt[PLC]++;
	conn_seg_at(c, ES, TCP_ACK, c->nxt[ES], NULL, 0, "TCP ACK (handshake)");
}

static void conn_close(struct conn *c)
{
	conn_seg_at(c, ES, TCP_FIN | TCP_ACK, c->nxt[ES], NULL, 0, "TCP FIN");
	c->nxt[ES]++;
	conn_seg_at(c, PLC, TCP_FIN | TCP_ACK, c->nxt[PLC], NULL, 0, "TCP FIN");
	c->nxt[PLC]++;
	conn_seg_at(c, ES, TCP_ACK, c->nxt[ES], NULL, 0, "TCP ACK (close)");
}

/* ------------------------------------------------------------------ S7comm */

/* How one PDU travels (tx modes); the evasive captures choose per message. */
enum tx {
	TX_PLAIN,      /* empty DT segment (ES side), then one TPKT in one segment */
	TX_COALESCE,   /* empty DT + TPKT in the same segment */
	TX_FRAG3,      /* the PDU in three COTP DT TPDUs (EOT on the last), one segment each */
	TX_SPLIT,      /* the TPKT split over two segments (after 20 bytes) */
	TX_SWAP,       /* split over two segments, the second sent first */
	TX_RETX,       /* the segment sent twice, same bytes (a retransmission) */
	TX_CONFLICT,   /* split in three; the middle segment sent again with other bytes */
	TX_DROP,       /* the segment is lost to the capture (the PLC got it) */
};
#define TX_NODT 0x100  /* no empty DT in front (flag) */

struct s7 {
	struct conn *c;
	uint16_t ref[2];      /* next PDU reference per side (independent counters) */
	int dt;               /* send the empty DT before ES PDUs (after setup) */
};

static void tpkt_dt(struct buf *o, const uint8_t *p, size_t n, int eot)
{
	b_u8(o, 0x03);
	b_u8(o, 0x00);
	b_u16be(o, (unsigned)(7 + n));
	b_u8(o, 0x02);
	b_u8(o, 0xf0);
	b_u8(o, eot ? 0x80 : 0x00);
	b_put(o, p, n);
}

static void s7_pdu(struct buf *o, unsigned rosctr, uint16_t ref, const struct buf *par,
		   const struct buf *dat, unsigned err)
{
	b_u8(o, 0x32);
	b_u8(o, rosctr);
	b_u16be(o, 0);
	b_u16be(o, ref);
	b_u16be(o, (unsigned)par->n);
	b_u16be(o, (unsigned)dat->n);
	if (rosctr == 2 || rosctr == 3)
		b_u16be(o, err);
	b_put(o, par->p, par->n);
	b_put(o, dat->p, dat->n);
}

/* Send a finished S7 PDU from side d in the given tx mode. */
static void s7_send(struct s7 *s, int d, const struct buf *pdu, int txm, const char *note)
{
	struct conn *c = s->c;
	int tx = txm & 0xff;
	int dt = d == ES && s->dt && !(txm & TX_NODT);
	struct buf t = { 0 };
	char nb[256];

	if (dt && tx != TX_COALESCE)
		conn_send(c, d, empty_dt, sizeof empty_dt, "COTP DT empty (EOT=0)");
	if (tx == TX_FRAG3) {
		size_t a = pdu->n / 3, b = 2 * pdu->n / 3;
		struct buf f1 = { 0 }, f2 = { 0 }, f3 = { 0 };
		tpkt_dt(&f1, pdu->p, a, 0);
		tpkt_dt(&f2, pdu->p + a, b - a, 0);
		tpkt_dt(&f3, pdu->p + b, pdu->n - b, 1);
		snprintf(nb, sizeof nb, "COTP DT fragment 1/3 (EOT=0, %zu bytes) of: %s", a, note);
		conn_send(c, d, f1.p, f1.n, nb);
		snprintf(nb, sizeof nb, "COTP DT fragment 2/3 (EOT=0, %zu bytes) of: %s", b - a, note);
		conn_send(c, d, f2.p, f2.n, nb);
		snprintf(nb, sizeof nb, "COTP DT fragment 3/3 (EOT=1, %zu bytes): %s", pdu->n - b, note);
		conn_send(c, d, f3.p, f3.n, nb);
		b_free(&f1);
		b_free(&f2);
		b_free(&f3);
		return;
	}
	if (tx == TX_COALESCE && dt)
		b_put(&t, empty_dt, sizeof empty_dt);
	size_t lead = t.n;
	tpkt_dt(&t, pdu->p, pdu->n, 1);

	switch (tx) {
	case TX_PLAIN:
		conn_send(c, d, t.p, t.n, note);
		break;
	case TX_COALESCE:
		snprintf(nb, sizeof nb, "%s%s", lead ? "COTP DT empty + " : "", note);
		conn_send(c, d, t.p, t.n, nb);
		break;
	case TX_SPLIT:
		snprintf(nb, sizeof nb, "TPKT part 1/2 (bytes 0-19 of %zu): %s", t.n, note);
		conn_send(c, d, t.p, 20, nb);
		snprintf(nb, sizeof nb, "TPKT part 2/2 (bytes 20-%zu): %s", t.n - 1, note);
		conn_send(c, d, t.p + 20, t.n - 20, nb);
		break;
	case TX_SWAP: {
		size_t k = t.n / 2;
		uint32_t seq = c->nxt[d];
		snprintf(nb, sizeof nb, "OUT OF ORDER: TPKT bytes %zu-%zu (sent first): %s", k, t.n - 1, note);
		conn_seg_at(c, d, TCP_PSH | TCP_ACK, seq + (uint32_t)k, t.p + k, t.n - k, nb);
		snprintf(nb, sizeof nb, "OUT OF ORDER: TPKT bytes 0-%zu (sent second): %s", k - 1, note);
		conn_seg_at(c, d, TCP_ACK, seq, t.p, k, nb);
		c->nxt[d] += (uint32_t)t.n;
		break;
	}
	case TX_RETX: {
		uint32_t seq = c->nxt[d];
		conn_send(c, d, t.p, t.n, note);
		c->t += 200000;  /* no ACK came: retransmission timeout */
		snprintf(nb, sizeof nb, "RETRANSMISSION (same seq, same bytes): %s", note);
		conn_seg_at(c, d, TCP_PSH | TCP_ACK, seq, t.p, t.n, nb);
		conn_ack(c, !d);
		break;
	}
	case TX_CONFLICT: {
		/* [0,40) [40,80) [80,n): the middle one twice, the second copy altered */
		uint32_t seq = c->nxt[d];
		struct buf alt = { 0 };
		b_put(&alt, t.p + 40, 40);
		for (size_t i = 0; i < alt.n; i += 4)
			alt.p[i] ^= 0xff;
		snprintf(nb, sizeof nb, "TPKT bytes 0-39 of %zu: %s", t.n, note);
		conn_send(c, d, t.p, 40, nb);
		snprintf(nb, sizeof nb, "TPKT bytes 40-79 (first copy, original): %s", note);
		conn_send(c, d, t.p + 40, 40, nb);
		c->t += 200000;
		snprintf(nb, sizeof nb, "OVERLAP CONFLICT: TPKT bytes 40-79 again, 10 bytes differ: %s", note);
		conn_seg_at(c, d, TCP_PSH | TCP_ACK, seq + 40, alt.p, alt.n, nb);
		snprintf(nb, sizeof nb, "TPKT bytes 80-%zu: %s", t.n - 1, note);
		conn_send(c, d, t.p + 80, t.n - 80, nb);
		b_free(&alt);
		break;
	}
	case TX_DROP:
		c->cap->mute++;
		conn_send(c, d, t.p, t.n, note);
		c->cap->mute--;
		break;
	default:
		die("internal: tx mode %d", tx);
	}
	b_free(&t);
}

/* Build and send: rosctr, PDU reference, parameter, data, error. */
static void s7_msg(struct s7 *s, int d, unsigned rosctr, uint16_t ref, const struct buf *par,
		   const struct buf *dat, unsigned err, int tx, const char *note)
{
	struct buf pdu = { 0 };
	static const struct buf none;
	s7_pdu(&pdu, rosctr, ref, par, dat ? dat : &none, err);
	s7_send(s, d, &pdu, tx, note);
	b_free(&pdu);
}

static void s7_connect(struct s7 *s, struct conn *c, int handshake)
{
	memset(s, 0, sizeof *s);
	s->c = c;
	s->ref[ES] = 1;
	s->ref[PLC] = 1;   /* both sides count from 1: pair by (direction, ref) */
	if (handshake)
		conn_open(c);
	/* CR: LI 17, dst-ref 0, src-ref 0x0001, class 0, TPDU size 1024,
	 * calling TSAP 0x0100, called TSAP 0x0102 (PG, rack 0 slot 2) */
	static const uint8_t crb[] = { 0x03, 0x00, 0x00, 0x16, 0x11, 0xe0, 0x00, 0x00, 0x00, 0x01,
				       0x00, 0xc0, 0x01, 0x0a, 0xc1, 0x02, 0x01, 0x00, 0xc2, 0x02,
				       0x01, 0x02 };
	static const uint8_t ccb[] = { 0x03, 0x00, 0x00, 0x16, 0x11, 0xd0, 0x00, 0x01, 0x00, 0x44,
				       0x00, 0xc0, 0x01, 0x0a, 0xc1, 0x02, 0x01, 0x00, 0xc2, 0x02,
				       0x01, 0x02 };
	conn_send(c, ES, crb, sizeof crb, "COTP CR (called TSAP 0x0102: rack 0 slot 2)");
	conn_send(c, PLC, ccb, sizeof ccb, "COTP CC");

	struct buf p = { 0 };
	b_put(&p, (const uint8_t[]){ 0xf0, 0x00, 0x00, 0x01, 0x00, 0x01, 0x01, 0xe0 }, 8);
	uint16_t r = s->ref[ES]++;
	s7_msg(s, ES, 1, r, &p, NULL, 0, TX_PLAIN, "S7 Job F0 Setup communication (PDU 480)");
	p.n = 0;
	b_put(&p, (const uint8_t[]){ 0xf0, 0x00, 0x00, 0x01, 0x00, 0x01, 0x00, 0xf0 }, 8);
	s7_msg(s, PLC, 3, r, &p, NULL, 0, TX_PLAIN, "S7 Ack_Data F0 Setup communication (PDU 240)");
	b_free(&p);
	s->dt = 1;
}

struct blk {
	const char *id;      /* "OB1" */
	uint8_t *p;
	size_t n;
	uint8_t type;
	uint16_t number;
	uint16_t code_len;
};

static void blk_fill(struct blk *b, const char *id)
{
	if (b->n < 72 || b->p[0] != 'p' || b->p[1] != 'p' || rd32be(b->p + 8) != b->n)
		die("%s: not an MC7 block (magic or load length)", id);
	b->id = id;
	b->type = b->p[5];
	b->number = rd16be(b->p + 6);
	b->code_len = rd16be(b->p + 34);
}

/* "_0A00001P" (fs = 'P') */
static void blk_filename(const struct blk *b, char fs, char out[10])
{
	snprintf(out, 10, "_%02X%05u%c", b->type, (unsigned)b->number, fs);
}

static void par_fname(struct buf *p, const char fn[10])
{
	b_u8(p, 9);
	b_put(p, fn, 9);
}

#define SLICE 100   /* block bytes per Download Block reply (PDU 240 allows 222) */

struct dlopt {
	int slice_tx[8];      /* tx mode of each Ack_Data 1B (0 = plain) */
	int job_tx;           /* tx of ES jobs (1A, Ack 1C+_INSE) */
	int tail_coalesce;    /* Ack_Data 1C and _INSE job in one segment */
	int unmute_slice;     /* midstream: capture starts at the PLC's 1B job for this slice (1-based) */
	unsigned end_err;     /* error code in the PLC's Job 1C: the PLC refuses the block */
	int no_inse;          /* the ES does not activate the block (no _INSE) */
};

static size_t nslices(size_t n) { return (n + SLICE - 1) / SLICE; }

/*
 * One block download (PROTOCOLS.md section 2, directions as STEP 7 does):
 * ES Job 1A; PLC Ack_Data 1A; per slice PLC Job 1B, ES Ack_Data 1B carrying
 * the bytes; PLC Job 1C; ES Ack_Data 1C; ES Job 28 _INSE; PLC Ack_Data 28.
 */
static void s7_download(struct s7 *s, const struct blk *b, const struct dlopt *o)
{
	static const struct dlopt plain;
	char fn[10], note[160], digits[16];
	struct buf p = { 0 }, d = { 0 };
	if (!o)
		o = &plain;
	blk_filename(b, 'P', fn);

	b_put(&p, (const uint8_t[]){ 0x1a, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00 }, 8);
	par_fname(&p, fn);
	b_u8(&p, 13);
	b_u8(&p, '1');
	snprintf(digits, sizeof digits, "%06zu%06u", b->n, (unsigned)b->code_len);
	b_put(&p, digits, 12);
	uint16_t r = s->ref[ES]++;
	snprintf(note, sizeof note, "S7 Job 1A Request download %s (%s) load %zu MC7 %u", fn, b->id,
		 b->n, (unsigned)b->code_len);
	s7_msg(s, ES, 1, r, &p, NULL, 0, o->job_tx, note);
	p.n = 0;
	b_u8(&p, 0x1a);
	s7_msg(s, PLC, 3, r, &p, NULL, 0, TX_PLAIN, "S7 Ack_Data 1A Request download");

	size_t k = nslices(b->n);
	for (size_t i = 0; i < k; i++) {
		size_t off = i * SLICE, len = b->n - off < SLICE ? b->n - off : SLICE;
		int more = i + 1 < k;
		if (o->unmute_slice && (int)i + 1 == o->unmute_slice)
			s->c->cap->mute = 0;
		p.n = 0;
		b_put(&p, (const uint8_t[]){ 0x1b, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00 }, 8);
		par_fname(&p, fn);
		r = s->ref[PLC]++;
		snprintf(note, sizeof note, "S7 Job 1B Download block %s (%s) asks for slice %zu/%zu",
			 fn, b->id, i + 1, k);
		s7_msg(s, PLC, 1, r, &p, NULL, 0, TX_PLAIN, note);
		p.n = 0;
		b_u8(&p, 0x1b);
		b_u8(&p, more ? 0x01 : 0x00);
		d.n = 0;
		b_u16be(&d, (unsigned)len);
		b_u16be(&d, 0x00fb);
		b_put(&d, b->p + off, len);
		snprintf(note, sizeof note,
			 "S7 Ack_Data 1B %s slice %zu/%zu: block bytes %zu-%zu (%zu)%s", b->id, i + 1,
			 k, off, off + len - 1, len, more ? " more" : " last");
		s7_msg(s, ES, 3, r, &p, &d, 0, i < 8 ? o->slice_tx[i] : 0, note);
	}
	p.n = 0;
	b_put(&p, (const uint8_t[]){ 0x1c, 0x00, (uint8_t)(o->end_err >> 8),
				     (uint8_t)o->end_err, 0x00, 0x00, 0x00, 0x00 }, 8);
	par_fname(&p, fn);
	r = s->ref[PLC]++;
	if (o->end_err)
		snprintf(note, sizeof note, "S7 Job 1C Download ended %s (%s) ERROR 0x%04X: "
			 "the PLC refuses the block", fn, b->id, o->end_err);
	else
		snprintf(note, sizeof note, "S7 Job 1C Download ended %s (%s)", fn, b->id);
	s7_msg(s, PLC, 1, r, &p, NULL, 0, TX_PLAIN, note);

	/* Ack_Data 1C */
	struct buf a = { 0 }, q = { 0 }, ins = { 0 };
	p.n = 0;
	b_u8(&p, 0x1c);
	s7_pdu(&a, 3, r, &p, &(struct buf){ 0 }, 0);
	/* _INSE: [0]28 [1-6]0 [7]FD [8-9] param block length, count 1, 0, 8 ASCII */
	p.n = 0;
	b_put(&p, (const uint8_t[]){ 0x28, 0, 0, 0, 0, 0, 0, 0xfd }, 8);
	b_u16be(&p, 10);
	b_u8(&p, 1);
	b_u8(&p, 0);
	b_put(&p, fn + 1, 8);
	b_u8(&p, 5);
	b_str(&p, "_INSE");
	uint16_t ri = s->ref[ES]++;
	s7_pdu(&q, 1, ri, &p, &(struct buf){ 0 }, 0);
	snprintf(note, sizeof note, "S7 Job 28 PI _INSE %s (%s)", fn + 1, b->id);
	if (o->end_err || o->no_inse) {
		s7_send(s, ES, &a, o->job_tx, "S7 Ack_Data 1C Download ended");
		s->ref[ES]--;   /* no _INSE follows: its reference is not used */
		b_free(&a);
		b_free(&q);
		b_free(&ins);
		b_free(&p);
		b_free(&d);
		return;
	}
	if (o->tail_coalesce) {
		/* two TPKTs (Ack_Data 1C, then the _INSE job) in one segment */
		tpkt_dt(&ins, a.p, a.n, 1);
		tpkt_dt(&ins, q.p, q.n, 1);
		char nb[256];
		snprintf(nb, sizeof nb, "2 TPKTs in one segment: S7 Ack_Data 1C + %s", note);
		conn_send(s->c, ES, ins.p, ins.n, nb);
	} else {
		s7_send(s, ES, &a, o->job_tx, "S7 Ack_Data 1C Download ended");
		s7_send(s, ES, &q, TX_PLAIN | TX_NODT, note);
	}
	p.n = 0;
	b_u8(&p, 0x28);
	s7_msg(s, PLC, 3, ri, &p, NULL, 0, TX_PLAIN, "S7 Ack_Data 28 PI service");
	b_free(&a);
	b_free(&q);
	b_free(&ins);
	b_free(&p);
	b_free(&d);
}

/* ES Job 1A answered with an error (e.g. 0xD237: a block with that timestamp exists). */
static void s7_download_refused(struct s7 *s, const struct blk *b, unsigned err)
{
	char fn[10], note[160], digits[16];
	struct buf p = { 0 };
	blk_filename(b, 'P', fn);
	b_put(&p, (const uint8_t[]){ 0x1a, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00 }, 8);
	par_fname(&p, fn);
	b_u8(&p, 13);
	b_u8(&p, '1');
	snprintf(digits, sizeof digits, "%06zu%06u", b->n, (unsigned)b->code_len);
	b_put(&p, digits, 12);
	uint16_t r = s->ref[ES]++;
	snprintf(note, sizeof note, "S7 Job 1A Request download %s (%s)", fn, b->id);
	s7_msg(s, ES, 1, r, &p, NULL, 0, TX_PLAIN, note);
	p.n = 0;
	b_u8(&p, 0x1a);
	snprintf(note, sizeof note, "S7 Ack_Data 1A ERROR class 0x%02X code 0x%02X (0x%04X): refused",
		 err >> 8, err & 0xff, err);
	s7_msg(s, PLC, 3, r, &p, NULL, err, TX_PLAIN, note);
	b_free(&p);
}

/* Upload (ES reads a block out of the PLC): 1D start, 1E per slice, 1F end. */
static void s7_upload(struct s7 *s, const struct blk *b, uint32_t upload_id)
{
	char fn[10], note[160], lenstr[16];
	struct buf p = { 0 }, d = { 0 };
	blk_filename(b, 'A', fn);
	b_put(&p, (const uint8_t[]){ 0x1d, 0x00, 0x00, 0x00, 0, 0, 0, 0 }, 8);
	par_fname(&p, fn);
	uint16_t r = s->ref[ES]++;
	snprintf(note, sizeof note, "S7 Job 1D Start upload %s (%s)", fn, b->id);
	s7_msg(s, ES, 1, r, &p, NULL, 0, TX_PLAIN, note);
	p.n = 0;
	b_put(&p, (const uint8_t[]){ 0x1d, 0x00, 0x01, 0x00 }, 4);
	b_u32be(&p, upload_id);
	snprintf(lenstr, sizeof lenstr, "%07zu", b->n);
	b_u8(&p, 7);
	b_put(&p, lenstr, 7);
	snprintf(note, sizeof note, "S7 Ack_Data 1D Start upload id 0x%08X length \"%s\"", upload_id,
		 lenstr);
	s7_msg(s, PLC, 3, r, &p, NULL, 0, TX_PLAIN, note);

	size_t k = nslices(b->n);
	for (size_t i = 0; i < k; i++) {
		size_t off = i * SLICE, len = b->n - off < SLICE ? b->n - off : SLICE;
		p.n = 0;
		b_put(&p, (const uint8_t[]){ 0x1e, 0x00, 0x00, 0x00 }, 4);
		b_u32be(&p, upload_id);
		r = s->ref[ES]++;
		snprintf(note, sizeof note, "S7 Job 1E Upload id 0x%08X (%s) slice %zu/%zu", upload_id,
			 b->id, i + 1, k);
		s7_msg(s, ES, 1, r, &p, NULL, 0, TX_PLAIN, note);
		p.n = 0;
		b_u8(&p, 0x1e);
		b_u8(&p, i + 1 < k ? 0x01 : 0x00);
		d.n = 0;
		b_u16be(&d, (unsigned)len);
		b_u16be(&d, 0x00fb);
		b_put(&d, b->p + off, len);
		snprintf(note, sizeof note, "S7 Ack_Data 1E %s slice %zu/%zu: block bytes %zu-%zu (%zu)%s",
			 b->id, i + 1, k, off, off + len - 1, len, i + 1 < k ? " more" : " last");
		s7_msg(s, PLC, 3, r, &p, &d, 0, TX_PLAIN, note);
	}
	p.n = 0;
	b_put(&p, (const uint8_t[]){ 0x1f, 0x00, 0x00, 0x00 }, 4);
	b_u32be(&p, upload_id);
	r = s->ref[ES]++;
	s7_msg(s, ES, 1, r, &p, NULL, 0, TX_PLAIN, "S7 Job 1F End upload");
	p.n = 0;
	b_u8(&p, 0x1f);
	s7_msg(s, PLC, 3, r, &p, NULL, 0, TX_PLAIN, "S7 Ack_Data 1F End upload");
	b_free(&p);
	b_free(&d);
}

/* PI service with an optional single-block parameter (fn8 = "0E00099B" or NULL). */
static void s7_pi(struct s7 *s, const char *service, const char *fn8, const char *note)
{
	struct buf p = { 0 };
	b_put(&p, (const uint8_t[]){ 0x28, 0, 0, 0, 0, 0, 0, 0xfd }, 8);
	if (fn8) {
		b_u16be(&p, 10);
		b_u8(&p, 1);
		b_u8(&p, 0);
		b_put(&p, fn8, 8);
	} else {
		b_u16be(&p, 0);
	}
	b_u8(&p, (unsigned)strlen(service));
	b_str(&p, service);
	uint16_t r = s->ref[ES]++;
	s7_msg(s, ES, 1, r, &p, NULL, 0, TX_PLAIN, note);
	p.n = 0;
	b_u8(&p, 0x28);
	s7_msg(s, PLC, 3, r, &p, NULL, 0, TX_PLAIN, "S7 Ack_Data 28 PI service");
	b_free(&p);
}

static void s7_stop(struct s7 *s)
{
	struct buf p = { 0 };
	b_put(&p, (const uint8_t[]){ 0x29, 0, 0, 0, 0, 0, 9 }, 7);
	b_str(&p, "P_PROGRAM");
	uint16_t r = s->ref[ES]++;
	s7_msg(s, ES, 1, r, &p, NULL, 0, TX_PLAIN, "S7 Job 29 PLC stop (P_PROGRAM)");
	p.n = 0;
	b_u8(&p, 0x29);
	s7_msg(s, PLC, 3, r, &p, NULL, 0, TX_PLAIN, "S7 Ack_Data 29 PLC stop");
	b_free(&p);
}

/* ------------------------------------------------------------------ Modbus / UMAS */

struct mb {
	struct conn *c;
	uint16_t tid;
	uint8_t unit;
	uint8_t key;          /* UMAS reservation key (0 before 0x10 is granted) */
	int envelope;         /* wrap every UMAS request in a 0x38 envelope */
};

static void mb_adu(struct buf *o, uint16_t tid, uint8_t unit, const struct buf *pdu)
{
	b_u16be(o, tid);
	b_u16be(o, 0);
	b_u16be(o, (unsigned)(pdu->n + 1));
	b_u8(o, unit);
	b_put(o, pdu->p, pdu->n);
}

static void mb_exchange(struct mb *m, const struct buf *req, const struct buf *rsp,
			const char *qnote, const char *rnote)
{
	struct buf a = { 0 };
	uint16_t t = m->tid++;
	char nb[256];
	mb_adu(&a, t, m->unit, req);
	snprintf(nb, sizeof nb, "Modbus tid %u: %s", t, qnote);
	conn_send(m->c, ES, a.p, a.n, nb);
	a.n = 0;
	mb_adu(&a, t, m->unit, rsp);
	snprintf(nb, sizeof nb, "Modbus tid %u: %s", t, rnote);
	conn_send(m->c, PLC, a.p, a.n, nb);
	b_free(&a);
}

#define UMAS_ENV_MAGIC 0x02

/*
 * One UMAS request (5A key code data) and its OK reply (5A key FE rdata).
 * In envelope mode the request becomes 5A key 38 [magic] [32-byte signature]
 * followed by the inner 5A key code data from PDU offset 36 (ADU offset 43).
 * The signature is SHA-256 over a fixed label and the inner request: the
 * generator has no key, it only needs 32 deterministic bytes.
 */
static void umas(struct mb *m, unsigned code, const struct buf *data, const struct buf *rdata,
		 const char *note)
{
	struct buf inner = { 0 }, req = { 0 }, rsp = { 0 };
	char qn[160], rn[160];
	b_u8(&inner, 0x5a);
	b_u8(&inner, m->key);
	b_u8(&inner, code);
	if (data)
		b_put(&inner, data->p, data->n);
	if (m->envelope) {
		uint8_t sig[32];
		struct buf sb = { 0 };
		b_str(&sb, "pg-mkcaps umas 0x38 signature");
		b_put(&sb, inner.p, inner.n);
		sha256_raw(sb.p, sb.n, sig);
		b_free(&sb);
		b_u8(&req, 0x5a);
		b_u8(&req, m->key);
		b_u8(&req, 0x38);
		b_u8(&req, UMAS_ENV_MAGIC);
		b_put(&req, sig, 32);
		b_put(&req, inner.p, inner.n);
		snprintf(qn, sizeof qn, "UMAS 0x38 envelope{ 0x%02X %s }", code, note);
	} else {
		b_put(&req, inner.p, inner.n);
		snprintf(qn, sizeof qn, "UMAS 0x%02X %s", code, note);
	}
	b_u8(&rsp, 0x5a);
	b_u8(&rsp, m->key);
	b_u8(&rsp, 0xfe);
	if (rdata)
		b_put(&rsp, rdata->p, rdata->n);
	snprintf(rn, sizeof rn, "UMAS 0xFE OK (reply to 0x%02X)", code);
	mb_exchange(m, &req, &rsp, qn, rn);
	b_free(&inner);
	b_free(&req);
	b_free(&rsp);
}

#define UMAS_KEY 0x3b
#define UMAS_BLOCK 200     /* 0x31 data bytes per block (fits a 0x38 envelope in 253) */
#define UMAS_READ_BLOCK 240

static void umas_reserve(struct mb *m, const char *station)
{
	struct buf d = { 0 }, r = { 0 };
	unsigned sum = 0;
	for (const char *p = station; *p; p++)
		sum += (uint8_t)*p;
	/* 4 bytes (here: LE sum of the name, 0), name length, name */
	b_u16le(&d, sum & 0xffff);
	b_u16le(&d, 0);
	b_u8(&d, (unsigned)strlen(station));
	b_str(&d, station);
	b_u8(&r, UMAS_KEY);
	char note[96];
	snprintf(note, sizeof note, "take reservation, station \"%s\" (key 0x%02X granted)", station,
		 UMAS_KEY);
	m->key = 0;
	umas(m, 0x10, &d, &r, note);
	m->key = UMAS_KEY;
	b_free(&d);
	b_free(&r);
}

static void umas_simple(struct mb *m, unsigned code, const uint8_t *d, size_t n, const char *note)
{
	struct buf b = { 0 };
	b_put(&b, d, n);
	umas(m, code, &b, NULL, note);
	b_free(&b);
}

/* PC -> PLC application transfer: 0x30, 0x31 per block (one re-sent), 0x32. */
static void umas_download(struct mb *m, const uint8_t *app, size_t n, unsigned resend_block)
{
	struct buf d = { 0 };
	char note[128];
	umas_simple(m, 0x30, (const uint8_t[]){ 0x00, 0x01 }, 2, "begin download, file type 01 (.apx)");
	unsigned k = (unsigned)((n + UMAS_BLOCK - 1) / UMAS_BLOCK);
	for (unsigned i = 1; i <= k; i++) {
		size_t off = (size_t)(i - 1) * UMAS_BLOCK;
		size_t len = n - off < UMAS_BLOCK ? n - off : UMAS_BLOCK;
		for (int rep = 0; rep < (i == resend_block ? 2 : 1); rep++) {
			d.n = 0;
			b_u8(&d, 0x00);
			b_u8(&d, 0x01);
			b_u16le(&d, i);
			b_u16le(&d, (unsigned)len);
			b_put(&d, app + off, len);
			snprintf(note, sizeof note, "download block %u/%u: image bytes %zu-%zu (%zu)%s", i,
				 k, off, off + len - 1, len, rep ? " RE-SENT, same bytes" : "");
			umas(m, 0x31, &d, NULL, note);
		}
	}
	d.n = 0;
	b_u8(&d, 0x00);
	b_u8(&d, 0x01);
	b_u16le(&d, k);
	snprintf(note, sizeof note, "end download, block count %u", k);
	umas(m, 0x32, &d, NULL, note);
	b_free(&d);
}

/* PLC -> PC read-back, laid out like a real Modicon session: 0x33, 0x34 x N, 0x35. */
static void umas_readback(struct mb *m, const uint8_t *app, size_t n)
{
	struct buf d = { 0 }, r = { 0 };
	char note[128];
	b_put(&d, (const uint8_t[]){ 0x00, 0x01 }, 2);
	b_u16le(&d, 0x00fb);
	b_put(&r, (const uint8_t[]){ 0x00, 0x01 }, 2);
	b_u32le(&r, (uint32_t)n);
	snprintf(note, sizeof note, "begin read-back (reply: total length %zu, LE)", n);
	umas(m, 0x33, &d, &r, note);
	unsigned k = (unsigned)((n + UMAS_READ_BLOCK - 1) / UMAS_READ_BLOCK);
	for (unsigned i = 1; i <= k; i++) {
		size_t off = (size_t)(i - 1) * UMAS_READ_BLOCK;
		size_t len = n - off < UMAS_READ_BLOCK ? n - off : UMAS_READ_BLOCK;
		d.n = 0;
		r.n = 0;
		b_put(&d, (const uint8_t[]){ 0x00, 0x01 }, 2);
		b_u16le(&d, i);
		b_u8(&r, i == k ? 0x01 : 0x00);   /* last-block flag */
		b_u8(&r, 0x00);
		b_u16le(&r, (unsigned)len);
		b_put(&r, app + off, len);
		snprintf(note, sizeof note, "read block %u/%u (reply: image bytes %zu-%zu, %zu)%s", i, k,
			 off, off + len - 1, len, i == k ? " last" : "");
		umas(m, 0x34, &d, &r, note);
	}
	d.n = 0;
	b_put(&d, (const uint8_t[]){ 0x00, 0x01 }, 2);
	b_u16le(&d, k);
	snprintf(note, sizeof note, "end read-back, block count %u", k);
	umas(m, 0x35, &d, NULL, note);
	b_free(&d);
	b_free(&r);
}

/* ------------------------------------------------------------------ the samples */

/*
 * The synthetic Unity-style application image: "APX" magic, a section table
 * and five sections of deterministic content.  Layout (little endian):
 *   0  "APX\0"   4  u16 version 0x0102   6  u32 total length   10 u16 sections
 *   12 char[16] project name   28 section table: per section char[8] name,
 *   u32 offset, u32 length   ... sections ...   last 4 bytes: u32 sum of all
 *   preceding bytes.
 */
static struct buf make_apx(void)
{
	static const char *names[5] = { "HEADER", "CODE", "DATA", "SYMBOLS", "CONFIG" };
	static const size_t sizes[5] = { 240, 3968, 1152, 0, 1024 };
	struct buf b = { 0 }, sec[5] = { { 0 } };
	uint32_t seed = 0x4c494e34; /* "LIN4" */

	b_str(&sec[0], "plcguard sample application LINE4; Unity-style image written by "
		       "pg-mkcaps; 3 conveyors, 2 pumps, 1 palletiser. Not a real Unity Pro "
		       "project: a deterministic stand-in for the UMAS transfer tests. ");
	while (sec[0].n < sizes[0])
		b_u8(&sec[0], '.');
	for (size_t i = 0; i < sizes[1]; i++)
		b_u8(&sec[1], prng_next(&seed) >> 24);
	for (size_t i = 0; i < sizes[2] / 4; i++) {
		b_u16le(&sec[2], (unsigned)(i * 7));
		b_u16le(&sec[2], prng_next(&seed) & 0x0fff);
	}
	static const char *syms[] = { "Conveyor_1", "Conveyor_2", "Conveyor_3", "Pump_A", "Pump_B",
				      "Palletiser", "E_Stop", "Line4_Run", "Line4_Fault", "Speed_SP",
				      "Level_PV", "Level_SP", "Alarm_Word", "Recipe_No", "Batch_Count" };
	for (int round = 0; round < 4; round++)
		for (size_t i = 0; i < sizeof syms / sizeof syms[0]; i++) {
			b_printf(&sec[3], "%s_%d", syms[i], round);
			b_u8(&sec[3], 0);
			b_u16le(&sec[3], (unsigned)(round * 100 + i));
		}
	for (size_t i = 0; i < sizes[4]; i++)
		b_u8(&sec[4], (prng_next(&seed) >> 24) & 0x3f);

	size_t hdr = 28 + 5 * 16;
	size_t total = hdr + 4;
	for (int i = 0; i < 5; i++)
		total += sec[i].n;
	b_put(&b, "APX", 4);
	b_u16le(&b, 0x0102);
	b_u32le(&b, (uint32_t)total);
	b_u16le(&b, 5);
	char pname[16] = "LINE4";
	b_put(&b, pname, 16);
	size_t off = hdr;
	for (int i = 0; i < 5; i++) {
		char nm[8] = { 0 };
		memcpy(nm, names[i], strlen(names[i]));
		b_put(&b, nm, 8);
		b_u32le(&b, (uint32_t)off);
		b_u32le(&b, (uint32_t)sec[i].n);
		off += sec[i].n;
	}
	for (int i = 0; i < 5; i++) {
		b_put(&b, sec[i].p, sec[i].n);
		b_free(&sec[i]);
	}
	uint32_t sum = 0;
	for (size_t i = 0; i < b.n; i++)
		sum += b.p[i];
	b_u32le(&b, sum);
	if (b.n != total)
		die("internal: apx size %zu != %zu", b.n, total);
	return b;
}

static struct buf read_file(const char *dir, const char *name)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	FILE *f = fopen(path, "rb");
	if (!f)
		die("%s: %s", path, strerror(errno));
	struct buf b = { 0 };
	uint8_t tmp[4096];
	size_t k;
	while ((k = fread(tmp, 1, sizeof tmp, f)) > 0) {
		b_put(&b, tmp, k);
		if (b.n > (1u << 20))
			die("%s: larger than 1 MiB, not a sample block", path);
	}
	fclose(f);
	return b;
}

static void write_file(const char *path, const uint8_t *d, size_t n)
{
	FILE *f = fopen(path, "wb");
	if (!f || fwrite(d, 1, n, f) != n || fclose(f) != 0)
		die("%s: %s", path, strerror(errno));
}

/* The sample blocks and the variants the tampered capture carries. */
static struct blk B_OB1, B_FC10, B_FB20, B_DB1, B_OB1X, B_FC10T, B_FB99;
static struct buf APX;

static void blk_copy(struct blk *dst, const struct blk *src, const char *id)
{
	*dst = *src;
	dst->p = malloc(src->n);
	if (!dst->p)
		die("out of memory");
	memcpy(dst->p, src->p, src->n);
	dst->id = id;
}

#define OB1X_OFF 40   /* OB1 code byte 4 (block offset 40) is changed */

static void make_variants(void)
{
	/* OB1 with one MC7 code byte changed; the footer checksum left stale */
	blk_copy(&B_OB1X, &B_OB1, "OB1");
	B_OB1X.p[OB1X_OFF] ^= 0x01;
	/* FC10 with only its code timestamp (bytes 16-19, ms since midnight) changed */
	blk_copy(&B_FC10T, &B_FC10, "FC10");
	uint32_t ms = rd32be(B_FC10T.p + 16) + 3600000u;
	B_FC10T.p[16] = (uint8_t)(ms >> 24);
	B_FC10T.p[17] = (uint8_t)(ms >> 16);
	B_FC10T.p[18] = (uint8_t)(ms >> 8);
	B_FC10T.p[19] = (uint8_t)ms;
	/* FB99: FB20 renumbered, every 8th code byte inverted, checksum recomputed */
	blk_copy(&B_FB99, &B_FB20, "FB99");
	B_FB99.p[6] = 0;
	B_FB99.p[7] = 99;
	B_FB99.number = 99;
	for (size_t i = 36; i < 36u + B_FB99.code_len; i += 8)
		B_FB99.p[i] ^= 0xff;
	unsigned sum = 0;
	for (size_t i = 0; i < B_FB99.n - 10; i++)
		sum = (sum + B_FB99.p[i]) & 0xffff;
	B_FB99.p[B_FB99.n - 10] = (uint8_t)(sum >> 8);
	B_FB99.p[B_FB99.n - 9] = (uint8_t)sum;
}

/* The STEP 7 sample project's blocks (step7gen.h), in its order, and FC1
 * with one MC7 code byte patched after the project was signed: the header
 * (lengths, timestamps) and the footer checksum are left as they were, as
 * malware patching the code on its way to the PLC would leave them. */
static struct blk B_S7G[S7G_NBLOCKS], B_FC1X;

#define FC1X_OFF 56   /* FC1 code byte 20 (block offset 56) is changed */
#define FC1X_XOR 0x10

static const struct blk *s7g_blk(const char *id)
{
	for (size_t i = 0; i < S7G_NBLOCKS; i++)
		if (strcmp(B_S7G[i].id, id) == 0)
			return &B_S7G[i];
	die("internal: no STEP 7 sample block %s", id);
}

static void make_step7(void)
{
	for (size_t i = 0; i < S7G_NBLOCKS; i++) {
		B_S7G[i].p = s7g_image(&s7g_blocks[i], &B_S7G[i].n);
		blk_fill(&B_S7G[i], s7g_blocks[i].id);
		if (B_S7G[i].n > 8 * SLICE)
			die("%s: %zu bytes, more than this generator's 8 slices", B_S7G[i].id,
			    B_S7G[i].n);
	}
	const struct blk *fc1 = s7g_blk("FC1");
	if (FC1X_OFF >= 36u + fc1->code_len)
		die("internal: FC1 patch offset outside its code");
	blk_copy(&B_FC1X, fc1, "FC1");
	B_FC1X.p[FC1X_OFF] ^= FC1X_XOR;
}

static void say_block(struct cap *c, const struct blk *b, const char *how, const char *expect)
{
	char what[64];
	snprintf(what, sizeof what, "%s %s", b->id, how);
	cap_object(c, what, b->p, b->n, expect);
}

static void conn_s7(struct conn *c, struct cap *cap, uint16_t port, int v6, uint64_t start)
{
	conn_init(c, cap, &EP_ES, port, &EP_S7, v6, 0x1a2b0000u + port, 0x00c00000u + port, start);
}

/* 1. plain download of all four blocks, then a warm start */
static void cap_download(const char *out)
{
	struct cap c = { .name = "s7_download.pcap" };
	struct conn k;
	struct s7 s;
	conn_s7(&k, &c, 49201, 0, 0);
	s7_connect(&s, &k, 1);
	const struct blk *all[4] = { &B_OB1, &B_FC10, &B_FB20, &B_DB1 };
	for (int i = 0; i < 4; i++) {
		s7_download(&s, all[i], NULL);
		say_block(&c, all[i], "download", "matches");
	}
	s7_pi(&s, "P_PROGRAM", NULL, "S7 Job 28 PI P_PROGRAM (warm start)");
	conn_close(&k);
	cap_write(&c, out);
}

/* 2. the same download, transported as awkwardly as TCP and COTP allow */
static void cap_evasive(const char *out)
{
	struct cap c = { .name = "s7_download_evasive.pcap" };
	struct conn k;
	struct s7 s;
	conn_s7(&k, &c, 49202, 0, 0);
	s7_connect(&s, &k, 1);
	struct dlopt ob1 = { .slice_tx = { TX_FRAG3 } };
	struct dlopt fc10 = { .slice_tx = { TX_SPLIT } };
	struct dlopt fb20 = { .slice_tx = { TX_COALESCE, TX_SWAP, TX_COALESCE },
			      .job_tx = TX_COALESCE, .tail_coalesce = 1 };
	struct dlopt db1 = { .slice_tx = { TX_RETX } };
	s7_download(&s, &B_OB1, &ob1);
	say_block(&c, &B_OB1, "download", "matches (slice 1 in 3 COTP DT fragments)");
	s7_download(&s, &B_FC10, &fc10);
	say_block(&c, &B_FC10, "download", "matches (slice 1 TPKT split over 2 segments)");
	s7_download(&s, &B_FB20, &fb20);
	say_block(&c, &B_FB20, "download",
		  "matches (empty DT+PDU coalesced; slice 2 out of order; Ack 1C+_INSE in one segment)");
	s7_download(&s, &B_DB1, &db1);
	say_block(&c, &B_DB1, "download", "matches (slice 1 retransmitted, same bytes)");
	s7_pi(&s, "P_PROGRAM", NULL, "S7 Job 28 PI P_PROGRAM (warm start)");
	conn_close(&k);
	cap_write(&c, out);
}

/* 3. overlapping retransmission with different bytes inside OB1's slice 1 */
static void cap_overlap(const char *out)
{
	struct cap c = { .name = "s7_overlap_conflict.pcap" };
	struct conn k;
	struct s7 s;
	conn_s7(&k, &c, 49203, 0, 0);
	s7_connect(&s, &k, 1);
	struct dlopt ob1 = { .slice_tx = { TX_CONFLICT } };
	s7_download(&s, &B_OB1, &ob1);
	say_block(&c, &B_OB1, "download (first copies)", "matches if the first copy is kept");
	/* the block as a "last copy wins" reassembler would see it: TPKT bytes
	 * 40-79 of slice 1 = block bytes 15-54 (TPKT 7 + S7 header 12 + param 2
	 * + data header 4 = 25 bytes before the slice), every 4th one inverted */
	struct blk alt;
	blk_copy(&alt, &B_OB1, "OB1");
	for (size_t i = 40; i < 80; i += 4)
		alt.p[i - 25] ^= 0xff;
	say_block(&c, &alt, "download (second copies)", "differs (if the second copy were kept)");
	free(alt.p);
	cap_say(&c, "expect: a TCP overlap conflict (ES->PLC, seq offset of TPKT byte 40, 40 bytes)");
	s7_download(&s, &B_DB1, NULL);
	say_block(&c, &B_DB1, "download", "matches");
	conn_close(&k);
	cap_write(&c, out);
}

/* 4. DB1's first slice lost to the capture */
static void cap_gap(const char *out)
{
	struct cap c = { .name = "s7_gap.pcap" };
	struct conn k;
	struct s7 s;
	conn_s7(&k, &c, 49204, 0, 0);
	s7_connect(&s, &k, 1);
	struct dlopt db1 = { .slice_tx = { TX_DROP } };
	s7_download(&s, &B_OB1, NULL);
	say_block(&c, &B_OB1, "download", "matches");
	s7_download(&s, &B_DB1, &db1);
	cap_say(&c, "object DB1 download: INCOMPLETE: slice 1 (block bytes 0-%d, TPKT of %d bytes)"
		    " is not in the capture; only slice 2 (bytes %d-%zu, %zu bytes) is seen;"
		    " 1A announced load length %zu", SLICE - 1, SLICE + 25, SLICE, B_DB1.n - 1,
		B_DB1.n - SLICE, B_DB1.n);
	s7_download(&s, &B_FC10, NULL);
	say_block(&c, &B_FC10, "download", "matches");
	s7_download(&s, &B_FB20, NULL);
	say_block(&c, &B_FB20, "download", "matches");
	conn_close(&k);
	cap_write(&c, out);
}

/* 5. tampered blocks, a refused download, an upload, a delete and a stop */
static void cap_tampered(const char *out)
{
	struct cap c = { .name = "s7_tampered.pcap" };
	struct conn k;
	struct s7 s;
	conn_s7(&k, &c, 49205, 0, 0);
	s7_connect(&s, &k, 1);
	s7_download(&s, &B_OB1X, NULL);
	say_block(&c, &B_OB1X, "download", "differs: code byte at block offset 40 (code offset 4) "
					   "XOR 0x01; footer checksum stale");
	s7_download(&s, &B_FC10T, NULL);
	say_block(&c, &B_FC10T, "download", "matches by logic fingerprint, sha256 differs: code "
					    "timestamp (bytes 16-19) +3,600,000 ms");
	s7_download(&s, &B_FB99, NULL);
	say_block(&c, &B_FB99, "download", "unknown: FB99 is in no baseline");
	s7_download_refused(&s, &B_DB1, 0xd237);
	cap_say(&c, "refused: Request download of DB1 answered Ack_Data error 0xD237; no transfer");
	s7_upload(&s, &B_DB1, 7);
	say_block(&c, &B_DB1, "upload (PLC->ES)", "matches");
	s7_pi(&s, "_DELE", "0E00099B", "S7 Job 28 PI _DELE 0E00099B (FB99)");
	s7_stop(&s);
	conn_close(&k);
	cap_write(&c, out);
}

/* 6. OB1 over other link and IP layers */
/* 5b. what reached the PLC: activated, downloaded but never activated, and a
 * block the PLC refuses at the end of its download (0xD280) */
static void cap_refused(const char *out)
{
	struct cap c = { .name = "s7_refused.pcap" };
	struct conn k;
	struct s7 s;
	conn_s7(&k, &c, 49214, 0, 0);
	s7_connect(&s, &k, 1);
	s7_download(&s, &B_OB1, NULL);
	say_block(&c, &B_OB1, "download", "matches; accepted (Job 1C error 0) and activated (_INSE)");
	struct dlopt noins = { .no_inse = 1 };
	s7_download(&s, &B_FC10, &noins);
	say_block(&c, &B_FC10, "download", "matches; accepted but never activated (no _INSE)");
	struct dlopt refuse = { .end_err = 0xd280 };
	s7_download(&s, &B_FB20, &refuse);
	say_block(&c, &B_FB20, "download", "matches by content; REFUSED: Job 1C carries error "
					   "0xD280, so accepted=false and it never ran");
	cap_say(&c, "s7.session.blocks at the end: OB1 activated, FC10 downloaded_not_activated, "
		    "FB20 refused");
	conn_close(&k);
	cap_write(&c, out);
}

static void cap_variant(const char *out, const char *name, enum link l, int pcapng, int v6,
			uint16_t port)
{
	struct cap c = { .name = name, .link = l, .pcapng = pcapng };
	struct conn k;
	struct s7 s;
	conn_s7(&k, &c, port, v6, 0);
	s7_connect(&s, &k, 1);
	s7_download(&s, &B_OB1, NULL);
	say_block(&c, &B_OB1, "download", "matches");
	conn_close(&k);
	cap_write(&c, out);
}

/* 7. the capture starts inside FC10's transfer (no handshake, no 1A) */
static void cap_midstream(const char *out)
{
	struct cap c = { .name = "s7_midstream.pcap" };
	struct conn k;
	struct s7 s;
	conn_s7(&k, &c, 49207, 0, 0);
	c.mute = 1;   /* s7_download unmutes at FC10's slice 2 */
	s7_connect(&s, &k, 1);
	struct dlopt fc10 = { .unmute_slice = 2 };
	s7_download(&s, &B_FC10, &fc10);
	cap_say(&c, "object FC10 download: INCOMPLETE: the capture starts at the PLC's Job 1B for"
		    " slice 2; only block bytes %d-%zu (%zu) are seen; no 1A", SLICE,
		B_FC10.n - 1, B_FC10.n - SLICE);
	s7_download(&s, &B_DB1, NULL);
	say_block(&c, &B_DB1, "download", "matches");
	conn_close(&k);
	cap_write(&c, out);
}

/* S7comm-plus: 72 VV LL LL, body, 72 VV 00 00 (LL = body length). */
static void s7p_pdu(struct buf *o, unsigned ver, const struct buf *body)
{
	b_u8(o, 0x72);
	b_u8(o, ver);
	b_u16be(o, (unsigned)body->n);
	b_put(o, body->p, body->n);
	b_u8(o, 0x72);
	b_u8(o, ver);
	b_u16be(o, 0);
}

static void s7p_body(struct buf *o, unsigned ver, unsigned opcode, unsigned func, unsigned seq,
		     uint32_t session, uint32_t *seed, size_t extra)
{
	if (ver == 3) {
		/* V3: a 32-byte integrity digest (after a length byte) precedes the data */
		b_u8(o, 0x20);
		for (int i = 0; i < 8; i++)
			b_u32be(o, prng_next(seed));
	}
	b_u8(o, opcode);
	b_u16be(o, 0);
	b_u16be(o, func);
	b_u16be(o, 0);
	b_u16be(o, seq);
	b_u32be(o, session);
	b_u8(o, 0x36);       /* transport flags */
	for (size_t i = 0; i < extra; i++)
		b_u8(o, prng_next(seed) >> 24);
	b_u32be(o, 0);       /* end of object list */
}

/* 8. S7comm-plus session that switches to TLS after InitSSL */
static void cap_s7plus(const char *out)
{
	struct cap c = { .name = "s7plus_tls.pcap" };
	struct conn k;
	struct s7 s = { 0 };
	uint32_t seed = 0x53375054;
	conn_s7(&k, &c, 49208, 0, 0);
	conn_open(&k);
	struct buf cr = { 0 }, body = { 0 }, pdu = { 0 };
	static const char tsap[] = "SIMATIC-ROOT-ES";
	for (int pass = 0; pass < 2; pass++) {
		cr.n = 0;
		b_u8(&cr, 0x03);
		b_u8(&cr, 0x00);
		b_u16be(&cr, (unsigned)(4 + 1 + 6 + 3 + 4 + 2 + strlen(tsap)));
		b_u8(&cr, (unsigned)(6 + 3 + 4 + 2 + strlen(tsap)));
		b_u8(&cr, pass ? 0xd0 : 0xe0);
		b_u16be(&cr, pass ? 0x0001 : 0x0000);
		b_u16be(&cr, pass ? 0x0044 : 0x0001);
		b_u8(&cr, 0x00);
		b_put(&cr, (const uint8_t[]){ 0xc0, 0x01, 0x0a, 0xc1, 0x02, 0x06, 0x00 }, 7);
		b_u8(&cr, 0xc2);
		b_u8(&cr, (unsigned)strlen(tsap));
		b_str(&cr, tsap);
		conn_send(&k, pass ? PLC : ES, cr.p, cr.n,
			  pass ? "COTP CC" : "COTP CR (called TSAP \"SIMATIC-ROOT-ES\")");
	}
	s.c = &k;
	s.dt = 1;
	static const struct {
		int d;
		unsigned ver, op, func;
		size_t extra;
		const char *note;
	} seq[] = {
		{ ES, 1, 0x31, 0x04ca, 60, "S7comm-plus V1 Request CreateObject (0x04CA)" },
		{ PLC, 1, 0x32, 0x04ca, 90, "S7comm-plus V1 Response CreateObject (0x04CA)" },
		{ ES, 3, 0x31, 0x0542, 24, "S7comm-plus V3 Request SetMultiVariables (0x0542), digest" },
		{ PLC, 3, 0x32, 0x0542, 8, "S7comm-plus V3 Response SetMultiVariables (0x0542), digest" },
		{ ES, 3, 0x31, 0x05b3, 4, "S7comm-plus V3 Request InitSSL (0x05B3), digest" },
		{ PLC, 3, 0x32, 0x05b3, 4, "S7comm-plus V3 Response InitSSL (0x05B3), digest" },
	};
	for (size_t i = 0; i < sizeof seq / sizeof seq[0]; i++) {
		body.n = 0;
		pdu.n = 0;
		s7p_body(&body, seq[i].ver, seq[i].op, seq[i].func, (unsigned)(i / 2 + 1),
			 i < 2 ? 0x00000120 : 0x00000380, &seed, seq[i].extra);
		s7p_pdu(&pdu, seq[i].ver, &body);
		s7_send(&s, seq[i].d, &pdu, TX_PLAIN, seq[i].note);
	}
	/* TLS 1.2/1.3-style records inside COTP DT: handshake, then application data */
	static const struct {
		int d;
		unsigned type;
		size_t len;
		const char *note;
	} tls[] = {
		{ ES, 0x16, 180, "TLS record 16 03 03 (handshake: ClientHello-like) in COTP DT" },
		{ PLC, 0x16, 150, "TLS record 16 03 03 (handshake: ServerHello-like) in COTP DT" },
		{ ES, 0x14, 1, "TLS record 14 03 03 (change cipher spec) in COTP DT" },
		{ ES, 0x17, 120, "TLS record 17 03 03 (application data) in COTP DT" },
		{ PLC, 0x17, 96, "TLS record 17 03 03 (application data) in COTP DT" },
		{ ES, 0x17, 200, "TLS record 17 03 03 (application data) in COTP DT" },
		{ PLC, 0x17, 64, "TLS record 17 03 03 (application data) in COTP DT" },
	};
	for (size_t i = 0; i < sizeof tls / sizeof tls[0]; i++) {
		pdu.n = 0;
		b_u8(&pdu, tls[i].type);
		b_u8(&pdu, 0x03);
		b_u8(&pdu, 0x03);
		b_u16be(&pdu, (unsigned)tls[i].len);
		if (tls[i].type == 0x16)
			b_u8(&pdu, tls[i].d == ES ? 0x01 : 0x02);
		while (pdu.n < 5 + tls[i].len)
			b_u8(&pdu, tls[i].type == 0x14 ? 0x01 : prng_next(&seed) >> 24);
		s7_send(&s, tls[i].d, &pdu, TX_PLAIN, tls[i].note);
	}
	cap_say(&c, "expect: S7comm-plus session (ASCII TSAP), V1 and V3 PDUs, InitSSL, then TLS:"
		    " content not verifiable (verdict unverifiable / \"observed, not verifiable\")");
	conn_close(&k);
	b_free(&cr);
	b_free(&body);
	b_free(&pdu);
	cap_write(&c, out);
}

static void conn_modicon(struct conn *c, struct cap *cap, uint16_t port, uint64_t start)
{
	conn_init(c, cap, &EP_ES, port, &EP_MODICON, 0, 0x5a000000u + port, 0x0b000000u + port,
		  start);
}

static void umas_session(struct conn *k, int envelope, int stop)
{
	struct mb m = { .c = k, .tid = 1, .unit = 0, .envelope = envelope };
	conn_open(k);
	umas_reserve(&m, "EWS-LINE4");
	umas_download(&m, APX.p, APX.n, 7);
	if (stop)
		umas_simple(&m, 0x41, (const uint8_t[]){ 0xff, 0x00 }, 2, "stop PLC");
	else
		umas_simple(&m, 0x40, (const uint8_t[]){ 0xff, 0x00 }, 2, "start PLC");
	umas(&m, 0x11, NULL, NULL, "release reservation");
	conn_close(k);
}

/* 9. / 10. UMAS application download, plain and in 0x38 envelopes */
static void cap_umas(const char *out, int envelope)
{
	struct cap c = { .name = envelope ? "umas_envelope.pcap" : "umas_download.pcap" };
	struct conn k;
	conn_modicon(&k, &c, envelope ? 49302 : 49301, 0);
	umas_session(&k, envelope, envelope);
	cap_object(&c, "application (0x31 blocks)", APX.p, APX.n,
		   "matches (= samples/projects/umas_app/line4.apx); block 7 sent twice");
	cap_write(&c, out);
}

/* 11. UMAS read-back PLC -> PC */
static void cap_readback(const char *out)
{
	struct cap c = { .name = "umas_readback.pcap" };
	struct conn k;
	struct mb m = { .c = &k, .tid = 1, .unit = 0 };
	conn_modicon(&k, &c, 49303, 0);
	conn_open(&k);
	umas_reserve(&m, "EWS-LINE4");
	umas_readback(&m, APX.p, APX.n);
	umas(&m, 0x11, NULL, NULL, "release reservation");
	conn_close(&k);
	cap_object(&c, "application (0x34 replies)", APX.p, APX.n, "matches (upload PLC->PC)");
	cap_write(&c, out);
}

/* 12. Modbus FC 0x15 write file record, an exception, ordinary reads */
static void cap_filerecord(const char *out)
{
	struct cap c = { .name = "modbus_filerecord.pcap" };
	struct conn k;
	struct mb m = { .c = &k, .tid = 0x0100, .unit = 1 };
	struct buf f4 = { 0 }, f7 = { 0 }, q = { 0 }, r = { 0 };
	uint32_t seed = 0x46494c45;
	for (int i = 0; i < 360; i++)
		b_u8(&f4, prng_next(&seed) >> 24);
	for (int i = 0; i < 160; i++)
		b_u8(&f7, prng_next(&seed) >> 24);
	conn_modicon(&k, &c, 49304, 0);
	conn_open(&k);

	for (int i = 0; i < 2; i++) {
		q.n = r.n = 0;
		b_u8(&q, 0x03);
		b_u16be(&q, 0);
		b_u16be(&q, 10);
		b_u8(&r, 0x03);
		b_u8(&r, 20);
		for (int w = 0; w < 10; w++)
			b_u16be(&r, (unsigned)(1000 + 10 * i + w));
		mb_exchange(&m, &q, &r, "FC 03 read holding registers 0-9", "FC 03 reply, 20 bytes");
	}
	/* file 4: three sub-requests (records 0, 60, 120; 60 words each), one per request */
	for (int i = 0; i < 3; i++) {
		q.n = 0;
		b_u8(&q, 0x15);
		b_u8(&q, 7 + 120);
		b_u8(&q, 6);
		b_u16be(&q, 4);
		b_u16be(&q, (unsigned)(60 * i));
		b_u16be(&q, 60);
		b_put(&q, f4.p + 120 * i, 120);
		char note[96];
		snprintf(note, sizeof note, "FC 15 write file record: file 4 record %d, 60 words "
					    "(file bytes %d-%d)", 60 * i, 120 * i, 120 * i + 119);
		mb_exchange(&m, &q, &q, note, "FC 15 reply (echo)");
	}
	/* file 7: two sub-requests in one request (records 0 and 40, 40 words each) */
	q.n = 0;
	b_u8(&q, 0x15);
	b_u8(&q, 2 * (7 + 80));
	for (int i = 0; i < 2; i++) {
		b_u8(&q, 6);
		b_u16be(&q, 7);
		b_u16be(&q, (unsigned)(40 * i));
		b_u16be(&q, 40);
		b_put(&q, f7.p + 80 * i, 80);
	}
	mb_exchange(&m, &q, &q, "FC 15 write file record: file 7 records 0 and 40, 40 words each "
				"(file bytes 0-79, 80-159)", "FC 15 reply (echo)");
	q.n = r.n = 0;
	b_put(&q, (const uint8_t[]){ 0x2b, 0x0e, 0x01, 0x00 }, 4);
	b_put(&r, (const uint8_t[]){ 0xab, 0x01 }, 2);
	mb_exchange(&m, &q, &r, "FC 2B/0E read device identification",
		    "exception 0xAB code 01 (illegal function)");
	q.n = r.n = 0;
	b_u8(&q, 0x03);
	b_u16be(&q, 100);
	b_u16be(&q, 4);
	b_u8(&r, 0x03);
	b_u8(&r, 8);
	for (int w = 0; w < 4; w++)
		b_u16be(&r, (unsigned)(0x4c00 + w));
	mb_exchange(&m, &q, &r, "FC 03 read holding registers 100-103", "FC 03 reply, 8 bytes");
	conn_close(&k);
	cap_object(&c, "file 4 (records 0-179)", f4.p, f4.n, "3 sub-requests, 120 bytes each");
	cap_object(&c, "file 7 (records 0-79)", f7.p, f7.n, "2 sub-requests in one request");
	cap_write(&c, out);
	b_free(&f4);
	b_free(&f7);
	b_free(&q);
	b_free(&r);
}

/* 13. an S7 download of DB1 and the UMAS download, interleaved in time */
static void cap_mixed(const char *out)
{
	struct cap c = { .name = "mixed.pcapng", .pcapng = 1 };
	struct conn ks, ku;
	struct s7 s;
	conn_s7(&ks, &c, 49213, 0, 0);
	conn_modicon(&ku, &c, 49313, 1700);
	s7_connect(&s, &ks, 1);
	s7_download(&s, &B_DB1, NULL);
	conn_close(&ks);
	say_block(&c, &B_DB1, "download (S7, 10.10.1.10)", "matches");
	umas_session(&ku, 0, 0);
	cap_object(&c, "application (UMAS, 10.10.2.20)", APX.p, APX.n, "matches");
	cap_write(&c, out);
}

/* 14. SIMATIC Manager downloads the sample STEP 7 project's blocks; FC1 was
 * patched after the project was signed */
static void cap_step7(const char *out)
{
	struct cap c = { .name = "s7_step7_download.pcap" };
	struct conn k;
	struct s7 s;
	conn_s7(&k, &c, 49215, 0, 0);
	s7_connect(&s, &k, 1);
	static const char *const order[] = { "OB35", "FC1", "FB1", "DB1", "DB2", "FC2", "OB1" };
	char expect[200];
	for (size_t i = 0; i < sizeof order / sizeof order[0]; i++) {
		const struct blk *b = s7g_blk(order[i]);
		if (strcmp(order[i], "FC1") == 0) {
			b = &B_FC1X;
			snprintf(expect, sizeof expect, "differs: code byte at block offset %d (code "
				 "offset %d) XOR 0x%02X after signing; header and footer checksum "
				 "unchanged", FC1X_OFF, FC1X_OFF - 36, FC1X_XOR);
		} else if (strcmp(order[i], "FC2") == 0) {
			snprintf(expect, sizeof expect, "matches (mixer_step7; know-how protected)");
		} else {
			snprintf(expect, sizeof expect, "matches (mixer_step7)");
		}
		s7_download(&s, b, NULL);
		say_block(&c, b, "download", expect);
	}
	conn_close(&k);
	cap_write(&c, out);
}

static void usage(void)
{
	fprintf(stderr, "usage: pg-mkcaps --blocks DIR --out DIR --apx FILE [--filtered]\n"
			"       pg-mkcaps --session OUT.pcap [--alter BLOCK] [--filtered] FILE.mc7...\n");
	exit(2);
}

/*
 * --session: one SIMATIC Manager session downloading the given blocks, in
 * the order given, each activated by _INSE (tests build it at test time from
 * blocks rebuilt out of a STEP 7 project).  --alter BLOCK (e.g. "FC1") flips
 * one bit of that block's first MC7 code byte, header and checksum left as
 * they were: code patched after signing.
 */
static int session_main(int argc, char **argv)
{
	const char *out = NULL, *alter = NULL;
	int first = 0, altered = 0;
	for (int i = 1; i < argc && !first; i++) {
		if (i + 1 < argc && strcmp(argv[i], "--session") == 0)
			out = argv[++i];
		else if (i + 1 < argc && strcmp(argv[i], "--alter") == 0)
			alter = argv[++i];
		else if (strcmp(argv[i], "--filtered") == 0)
			g_filtered = 1;
		else if (argv[i][0] == '-')
			usage();
		else
			first = i;
	}
	if (!out || !first)
		usage();
	const char *slash = strrchr(out, '/');
	char dir[4096];
	snprintf(dir, sizeof dir, "%.*s", slash ? (int)(slash - out) : 1, slash ? out : ".");
	struct cap c = { .name = slash ? slash + 1 : out };
	struct conn k;
	struct s7 s;
	conn_s7(&k, &c, 49290, 0, 0);
	s7_connect(&s, &k, 1);
	for (int i = first; i < argc; i++) {
		const char *fs = strrchr(argv[i], '/');
		char bdir[4096];
		snprintf(bdir, sizeof bdir, "%.*s", fs ? (int)(fs - argv[i]) : 1, fs ? argv[i] : ".");
		struct buf f = read_file(bdir, fs ? fs + 1 : argv[i]);
		struct blk b = { .p = f.p, .n = f.n };
		blk_fill(&b, argv[i]);
		static const char *const tn[16] = { [0x08] = "OB", [0x0A] = "DB", [0x0C] = "FC",
						    [0x0D] = "SFC", [0x0E] = "FB", [0x0F] = "SFB" };
		char id[16];
		snprintf(id, sizeof id, "%s%u", b.type < 16 && tn[b.type] ? tn[b.type] : "?",
			 (unsigned)b.number);
		b.id = id;
		if (alter && strcmp(alter, id) == 0) {
			if (!b.code_len)
				die("%s: no MC7 code to alter", argv[i]);
			b.p[36] ^= 0x01;
			altered = 1;
		}
		s7_download(&s, &b, NULL);
		say_block(&c, &b, "download", altered && strcmp(alter, id) == 0 ? "differs" : "matches");
		free(f.p);
	}
	if (alter && !altered)
		die("--alter %s: no such block among the files", alter);
	conn_close(&k);
	cap_write(&c, dir);
	b_free(&listing);
	return 0;
}

int main(int argc, char **argv)
{
	const char *blocks = NULL, *out = NULL, *apx = NULL;
	if (argc > 1 && strcmp(argv[1], "--session") == 0)
		return session_main(argc, argv);
	for (int i = 1; i < argc; i++) {
		if (i + 1 < argc && strcmp(argv[i], "--blocks") == 0)
			blocks = argv[++i];
		else if (i + 1 < argc && strcmp(argv[i], "--out") == 0)
			out = argv[++i];
		else if (i + 1 < argc && strcmp(argv[i], "--apx") == 0)
			apx = argv[++i];
		else if (strcmp(argv[i], "--filtered") == 0)
			g_filtered = 1;
		else
			usage();
	}
	if (!blocks || !out || !apx)
		usage();
	if (mkdir(out, 0755) != 0 && errno != EEXIST)
		die("%s: %s", out, strerror(errno));

	struct { struct blk *b; const char *file, *id; } in[] = {
		{ &B_OB1, "OB1.mc7", "OB1" }, { &B_FC10, "FC10.mc7", "FC10" },
		{ &B_FB20, "FB20.mc7", "FB20" }, { &B_DB1, "DB1.mc7", "DB1" },
	};
	for (size_t i = 0; i < sizeof in / sizeof in[0]; i++) {
		struct buf f = read_file(blocks, in[i].file);
		in[i].b->p = f.p;
		in[i].b->n = f.n;
		blk_fill(in[i].b, in[i].id);
		if (in[i].b->n > 8 * SLICE)
			die("%s: %zu bytes, more than this generator's 8 slices", in[i].file, f.n);
	}
	make_variants();
	make_step7();
	APX = make_apx();
	write_file(apx, APX.p, APX.n);

	b_printf(&listing, "# Frame-by-frame listing of the captures written by pg-mkcaps\n"
			   "# (samples/gen/mkcaps.c).  Frame numbers are 1-based as in tshark.\n"
			   "# ES = engineering station 10.10.1.50 / fd00:10::50; S7 PLC 10.10.1.10 /"
			   " fd00:10::10 port 102;\n# Modicon 10.10.2.20 port 502.\n\n");
	cap_download(out);
	cap_evasive(out);
	cap_overlap(out);
	cap_gap(out);
	cap_tampered(out);
	cap_refused(out);
	cap_variant(out, "s7_vlan.pcap", L_VLAN, 0, 0, 49261);
	cap_variant(out, "s7_qinq.pcap", L_QINQ, 0, 0, 49262);
	cap_variant(out, "s7_sll.pcap", L_SLL, 0, 0, 49263);
	cap_variant(out, "s7_sll2.pcap", L_SLL2, 0, 0, 49264);
	cap_variant(out, "s7_ipv6.pcapng", L_ETH, 1, 1, 49265);
	cap_variant(out, "s7_rawip.pcap", L_RAW, 0, 0, 49266);
	cap_midstream(out);
	cap_s7plus(out);
	cap_umas(out, 0);
	cap_umas(out, 1);
	cap_readback(out);
	cap_filerecord(out);
	cap_mixed(out);
	cap_step7(out);

	char path[4096];
	snprintf(path, sizeof path, "%s/FRAMES.txt", out);
	write_file(path, listing.p, listing.n);
	b_free(&listing);
	b_free(&APX);
	struct blk *all[] = { &B_OB1, &B_FC10, &B_FB20, &B_DB1, &B_OB1X, &B_FC10T, &B_FB99 };
	for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
		free(all[i]->p);
	for (size_t i = 0; i < S7G_NBLOCKS; i++)
		free(B_S7G[i].p);
	free(B_FC1X.p);
	return 0;
}
