/*
 * capture.c - capture files and live interfaces into the flow table
 * (collectors/capture.h).
 *
 * libpcap reads both pcap (classic, micro- and nanosecond, either byte order)
 * and pcapng, choosing by the magic number it reads; we look at the magic
 * ourselves first only to give a precise message for a file that is neither.
 * A damaged record stops that file with an event naming the byte offset and
 * the frame; everything before it has been processed, and the next file is
 * still read.
 *
 * Classic pcap files (version 2.4, a link type we decode) are opened and
 * validated by libpcap but their records are then read here, 1 MiB per
 * fread(), through the cursor (rawpcap_next): libpcap reads every record with
 * two small freads into a 2 KiB buffer, and that plus an ftell() per record
 * (for the damage offset) was a third of `plcguard sniff` on a 100 MB capture
 * (bench/sniff_bench.sh).  rawpcap_next follows libpcap 1.10's
 * sf-pcap.c:pcap_next_packet() exactly: the same checks in the same order,
 * the same error texts, timestamps as signed 32-bit fields scaled to
 * nanoseconds, a record longer than the file's snapshot length cut to it.
 * Older pcap versions, the modified (Kuznetzov) format and link types
 * libpcap post-processes (USB, NFLOG) stay with libpcap.
 *
 *   file:   [24-byte header][16-byte record header][caplen bytes][16]...
 *   record: ts_sec u32 | ts_frac u32 (us or ns) | caplen u32 | len u32
 *           in the byte order of the magic (d4 c3 b2 a1 = little endian)
 *
 * pcapng files are opened and validated by libpcap too (up to the first
 * interface), then read here from the start, block by block (ng_next), with
 * the same 1 MiB reads: libpcap gives up at the first interface whose link
 * type differs from the first one's ("an interface has a type ..."), which is
 * what Wireshark writes when it captures on several interfaces.  Each packet
 * is decoded with its own interface's link type; an interface with a link
 * type other than the file's first is announced (capture.interface).  Error
 * texts are libpcap 1.10's where it has one.
 *
 *   block: type u32 | total length u32 | body | total length u32 (again)
 *          in the section's byte order (its SHB's byte-order magic)
 *   SHB 0x0a0d0d0a: 1a2b3c4d | major u16 | minor u16 | section length u64 |
 *          options; starts a section: interface numbers start again at 0
 *   IDB 1: link type u16 | reserved u16 | snaplen u32 | options
 *          (9 if_tsresol: 10^-n, or 2^-n with the top bit; 14 if_tsoffset:
 *          seconds added to every timestamp)
 *   EPB 6: interface u32 | ts high u32 | ts low u32 | caplen u32 | len u32 |
 *          data, padded to 4 | options
 *   SPB 3: len u32 | data (interface 0, no timestamp, caplen = min(len, snaplen))
 *   PB  2: interface u16 | drops u16 | ts high | ts low | caplen | len | data
 *   anything else (NRB, ISB, DSB, custom...) is skipped by its length;
 *   custom blocks (0xbad, 0x40000bad) and systemd journal exports (9) still
 *   take a frame number, as Wireshark shows them as records.
 */
#define _GNU_SOURCE 1   /* setresuid, setresgid */
#include "capture.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pcap/pcap.h>
#include <poll.h>
#include <stdarg.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include "cursor.h"
#include "netdecode.h"
#include "pg_limits.h"

void pg_capture_init(struct pg_capture *c, struct pg_sniff *s, struct flowtab *ft)
{
	memset(c, 0, sizeof *c);
	c->s = s;
	c->ft = ft;
}

/* "FILE: WHY" as a self event naming the file. */
static void cap_event(struct pg_capture *c, enum pg_kind kind, enum pg_sev sev,
		      const char *file, const char *why)
{
	struct pg_event ev;
	pg_event_self(&ev, &c->last, kind, sev);
	ev.frame = 0;
	ev.proto = "capture";
	if (file)
		pg_event_set_str(&ev, "file", file);
	pg_event_text(&ev, "%s: %s", file ? file : "", why ? why : "");
	pg_sniff_emit(c->s, &ev);
}

/*
 * Packet time of a record.  The fraction is whatever the file holds (libpcap
 * passes any 32-bit value through; the classic reader below reads it as
 * signed, as libpcap does): it is carried into the seconds so that every
 * timestamp is a valid timespec.  A fraction of 0xffffffff was printed as
 * "2023-11-14T22:13:20.-00001Z", which no RFC 3339 reader accepts.
 */
static struct timespec cap_ts(const struct pcap_pkthdr *h, int nano)
{
	long long ns = (long long)h->ts.tv_usec * (nano ? 1 : 1000);
	long long carry = ns / 1000000000LL;
	ns %= 1000000000LL;
	if (ns < 0) {
		ns += 1000000000LL;
		carry--;
	}
	struct timespec ts;
	if (__builtin_add_overflow(h->ts.tv_sec, (time_t)carry, &ts.tv_sec))
		ts.tv_sec = h->ts.tv_sec;   /* absurd seconds: keep them */
	ts.tv_nsec = (long)ns;
	return ts;
}

/* One frame: decode, count, hand TCP to the flow table. */
static void cap_frame(struct pg_capture *c, int dlt, const struct pcap_pkthdr *h,
		      const uint8_t *data, int nano)
{
	struct pg_sniff *s = c->s;
	struct pg_pktinfo pi;
	pi.ts = cap_ts(h, nano);
	pi.frame = ++c->frame;
	c->last = pi;
	s->cur = pi;
	s->st.packets++;
	s->st.bytes += h->caplen;
	if (h->caplen < h->len)
		s->st.truncated++;

	struct nd_tcp t;
	struct pg_err e;
	switch (nd_decode(dlt, data, h->caplen, h->len, &t, &e)) {
	case ND_TCP:
		flowtab_packet(c->ft, &t, &pi);
		break;
	case ND_NOT_IP:
		s->st.not_ip++;
		break;
	case ND_NOT_TCP:
		s->st.not_tcp++;
		break;
	case ND_FRAGMENT:
		s->st.ip_fragments++;
		break;
	case ND_BAD:
	case ND_LINKTYPE:
	default:
		s->st.decode_errors++;
		break;
	}
}

static const char *magic_name(const uint8_t m[4])
{
	static const struct { uint8_t b[4]; const char *name; } tab[] = {
		{ { 0xd4, 0xc3, 0xb2, 0xa1 }, "pcap" },
		{ { 0xa1, 0xb2, 0xc3, 0xd4 }, "pcap" },
		{ { 0x4d, 0x3c, 0xb2, 0xa1 }, "pcap-ns" },
		{ { 0xa1, 0xb2, 0x3c, 0x4d }, "pcap-ns" },
		{ { 0x0a, 0x0d, 0x0d, 0x0a }, "pcapng" },
	};
	for (size_t i = 0; i < sizeof tab / sizeof tab[0]; i++)
		if (memcmp(m, tab[i].b, 4) == 0)
			return tab[i].name;
	return NULL;
}

/* ---------------------------------------------- classic pcap records -- */

/* Buffer and record maxima: PG_CAP_*, PG_NG_* in pg_limits.h. */

/* One pcapng interface (IDB). */
struct ngif {
	int dlt;               /* what netdecode is given */
	uint32_t snap;         /* snapshot length, adjusted as libpcap does */
	int bin;               /* the resolution is 2^-shift, else 10^-n */
	unsigned shift;
	uint64_t res;          /* timestamp units per second */
	int64_t tsoff;         /* if_tsoffset: seconds */
};

/* An interface whose link type is not the file's first one's. */
struct ngnote {
	uint32_t ifid, section;
	int dlt;
};

struct rawpcap {
	FILE *fp;
	int be;                /* the file (pcapng: the section) is big endian */
	int nsec;              /* its timestamps are nanoseconds */
	uint32_t snapshot;     /* pcap_snapshot(): the file's, as libpcap adjusted it */
	uint8_t *buf;
	size_t bufsize;        /* PG_CAP_READBUF, or less for a small file */
	size_t pos, have;      /* unread bytes: buf[pos, have) */
	int eof, ioerr;
	long off;              /* file offset of buf[pos] */
	long err_off;          /* offset of the record or block that failed */
	struct pcap_pkthdr hdr;
	char err[PCAP_ERRBUF_SIZE];
	/* pcapng */
	int ng;
	int dlt;               /* link type of the packet just returned */
	struct ngif *ifs;
	uint32_t nif, ifcap;   /* interfaces of the current section */
	uint32_t section;      /* sections seen (1 = the first) */
	int dlt0, have_dlt0;   /* the first interface's link type */
	int noted[PG_NG_NOTES];
	int nnoted;            /* distinct other link types seen */
	struct ngnote note[PG_NG_NOTES];
	int nnote;             /* not announced yet */
	uint64_t records;      /* non-packet records tshark numbers as frames */
};

/* Link types whose records libpcap hands over unchanged (no pseudo-header
 * swapping or fix-up, the default maximum snapshot): the ones netdecode
 * reads.  Everything else keeps libpcap's reader. */
static int rawpcap_dlt_ok(int dlt)
{
	switch (dlt) {
	case 0: case 1: case 12: case 14: case 101: case 108:
	case 113: case 228: case 229: case 276:
		return 1;
	}
	return 0;
}

/* The read buffer: 1 MiB, or the rest of the stream when that is known and
 * smaller (a 1 MiB allocation per small file was most of the time of the
 * fuzz target, and of many small files); rawpcap_fill grows it on demand. */
static int rawpcap_alloc(struct rawpcap *r, FILE *fp)
{
	size_t n = PG_CAP_READBUF;
	long here = ftell(fp);
	if (here >= 0 && fseek(fp, 0, SEEK_END) == 0) {
		long end = ftell(fp);
		if (fseek(fp, here, SEEK_SET) != 0)
			return -1;   /* cannot happen: here came from ftell */
		if (end >= here && (unsigned long)(end - here) < n)
			n = (size_t)(end - here) < PG_CAP_MINBUF ? PG_CAP_MINBUF : (size_t)(end - here);
	}
	r->buf = malloc(n);
	r->bufsize = r->buf ? n : 0;
	return r->buf ? 0 : -1;
}

/* Make at least `need` unread bytes contiguous at buf + pos; 0 at EOF first. */
static int rawpcap_fill(struct rawpcap *r, size_t need)
{
	if (r->have - r->pos >= need)
		return 1;
	if (r->pos) {   /* a record straddles the block end: once per MiB */
		memmove(r->buf, r->buf + r->pos, r->have - r->pos);
		r->have -= r->pos;
		r->pos = 0;
	}
	if (need > r->bufsize) {   /* a small file that grew, or lied */
		size_t n = r->bufsize * 2 < need ? need : r->bufsize * 2;
		if (n > PG_CAP_READBUF)
			n = PG_CAP_READBUF;
		uint8_t *b = n >= need ? realloc(r->buf, n) : NULL;
		if (!b) {
			r->eof = 1;
			r->ioerr = ENOMEM;
			return 0;
		}
		r->buf = b;
		r->bufsize = n;
	}
	while (r->have < need && !r->eof) {
		size_t got = fread(r->buf + r->have, 1, r->bufsize - r->have, r->fp);
		r->have += got;
		if (got == 0) {
			r->eof = 1;
			r->ioerr = ferror(r->fp) ? (errno ? errno : EIO) : 0;
		}
	}
	return r->have - r->pos >= need;
}

static void rawpcap_short(struct rawpcap *r, const char *what, unsigned long want,
			  size_t got)
{
	if (r->ioerr)
		snprintf(r->err, sizeof r->err, "error reading dump file: %s",
			 strerror(r->ioerr));
	else
		snprintf(r->err, sizeof r->err,
			 "truncated dump file; tried to read %lu %s bytes, only got %zu",
			 want, what, got);
}

/* 1 a record (hdr, *data), 0 end of file, -1 damaged (err).  As libpcap's
 * pcap_next_packet() with nanosecond precision requested. */
static int rawpcap_next(struct rawpcap *r, const uint8_t **data)
{
	r->err_off = r->off;
	if (!rawpcap_fill(r, 16)) {
		size_t got = r->have - r->pos;
		if (!got && !r->ioerr)
			return 0;
		rawpcap_short(r, "header", 16, got);
		return -1;
	}
	struct cur c = cur_init_at(r->buf + r->pos, 16, (size_t)r->off);
	uint32_t sec = r->be ? cur_u32be(&c) : cur_u32le(&c);
	uint32_t frac = r->be ? cur_u32be(&c) : cur_u32le(&c);
	uint32_t caplen = r->be ? cur_u32be(&c) : cur_u32le(&c);
	uint32_t len = r->be ? cur_u32be(&c) : cur_u32le(&c);
	if (c.err) {         /* cannot happen: 16 bytes are there */
		snprintf(r->err, sizeof r->err, "record header unreadable");
		return -1;
	}
	/* The file's fields are signed 32-bit (struct pcap_timeval). */
	r->hdr.ts.tv_sec = (time_t)(int32_t)sec;
	r->hdr.ts.tv_usec = (suseconds_t)(int32_t)frac;
	if (!r->nsec)
		r->hdr.ts.tv_usec *= 1000;
	r->hdr.caplen = caplen;
	r->hdr.len = len;
	if (caplen > PG_CAP_MAXSNAP) {
		if (caplen > r->snapshot)
			snprintf(r->err, sizeof r->err,
				 "invalid packet capture length %u, bigger than snaplen of %u",
				 caplen, r->snapshot);
		else
			snprintf(r->err, sizeof r->err,
				 "invalid packet capture length %u, bigger than maximum of %u",
				 caplen, PG_CAP_MAXSNAP);
		return -1;
	}
	/* Whole record in the buffer (16 + caplen <= 16 + 256 KiB < 1 MiB). */
	if (!rawpcap_fill(r, 16 + (size_t)caplen)) {
		size_t got = r->have - r->pos - 16;
		if (caplen > r->snapshot && got < r->snapshot)
			rawpcap_short(r, "captured", r->snapshot, got);
		else
			rawpcap_short(r, "captured", caplen, got);
		return -1;
	}
	c = cur_init_at(r->buf + r->pos + 16, caplen, (size_t)r->off + 16);
	/* A record longer than the snapshot length is cut to it, the rest
	 * skipped, as libpcap does. */
	uint32_t keep = caplen > r->snapshot ? r->snapshot : caplen;
	*data = cur_bytes(&c, keep);
	r->hdr.caplen = keep;
	r->pos += 16 + (size_t)caplen;
	r->off += 16 + (long)caplen;
	return 1;
}

/* ----------------------------------------------------- pcapng blocks -- */

#define NG_SHB  0x0a0d0d0au
#define NG_IDB  1u
#define NG_PB   2u
#define NG_SPB  3u
#define NG_EPB  6u
#define NG_JOURNAL    9u            /* systemd journal export */
#define NG_CUSTOM     0x00000badu   /* custom block, may be copied */
#define NG_CUSTOM_NC  0x40000badu   /* custom block, not to be copied */

static uint16_t ng16(const struct rawpcap *r, struct cur *c)
{
	return r->be ? cur_u16be(c) : cur_u16le(c);
}

static uint32_t ng32(const struct rawpcap *r, struct cur *c)
{
	return r->be ? cur_u32be(c) : cur_u32le(c);
}

static int ng_fail(struct rawpcap *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int ng_fail(struct rawpcap *r, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(r->err, sizeof r->err, fmt, ap);
	va_end(ap);
	return -1;
}

static int ng_short(struct rawpcap *r, unsigned long want, size_t got)
{
	if (r->ioerr)
		return ng_fail(r, "error reading dump file: %s", strerror(r->ioerr));
	return ng_fail(r, "truncated pcapng dump file; tried to read %lu bytes, only got %zu",
		       want, got);
}

static int ng_too_short(struct rawpcap *r, uint32_t type)
{
	return ng_fail(r, "block of type %u in pcapng dump file is too short", type);
}

/* The link type of an IDB as libpcap's DLT_ value (LINKTYPE_RAW is DLT_RAW;
 * the others netdecode reads have the same number in both). */
static int ng_dlt(uint16_t lt)
{
	return lt == 101 ? DLT_RAW : (int)lt;
}

/* Remember an interface whose link type the file announcement did not name. */
static void ng_note(struct rawpcap *r, uint32_t ifid, int dlt)
{
	if (!r->have_dlt0) {
		r->dlt0 = dlt;
		r->have_dlt0 = 1;
		return;
	}
	if (dlt == r->dlt0)
		return;
	for (int i = 0; i < r->nnoted; i++)
		if (r->noted[i] == dlt)
			return;
	if (r->nnoted >= PG_NG_NOTES)
		return;   /* a file with that many link types: enough said */
	r->noted[r->nnoted++] = dlt;
	r->note[r->nnote++] = (struct ngnote){ ifid, r->section, dlt };
}

static int ng_idb(struct rawpcap *r, struct cur *b)
{
	uint16_t lt = ng16(r, b);
	(void)ng16(r, b);   /* reserved */
	uint32_t snaplen = ng32(r, b);
	if (b->err)
		return ng_too_short(r, NG_IDB);
	if (r->nif >= PG_NG_MAXIF)
		return ng_fail(r, "more than %u interfaces in one section", PG_NG_MAXIF);
	struct ngif f = { .dlt = ng_dlt(lt), .res = 1000000 };
	/* libpcap's snapshot adjustment; no limit for link types we do not
	 * decode (their maximum differs, and we only count their packets). */
	if (rawpcap_dlt_ok(f.dlt))
		f.snap = snaplen == 0 || snaplen > PG_CAP_MAXSNAP ? PG_CAP_MAXSNAP : snaplen;
	else
		f.snap = UINT32_MAX;
	int saw_res = 0, saw_off = 0;
	while (cur_left(b)) {
		uint16_t code = ng16(r, b), olen = ng16(r, b);
		struct cur v = cur_sub(b, olen);
		cur_skip(b, (size_t)(-(unsigned)olen & 3u));
		if (b->err)
			return ng_too_short(r, NG_IDB);
		if (code == 0) {
			if (olen != 0)
				return ng_fail(r, "Interface Description Block has opt_endofopt option with length %u != 0", olen);
			break;
		}
		if (code == 9) {
			if (olen != 1)
				return ng_fail(r, "Interface Description Block has if_tsresol option with length %u != 1", olen);
			if (saw_res++)
				return ng_fail(r, "Interface Description Block has more than one if_tsresol option");
			uint8_t t = cur_u8(&v);
			if (t & 0x80) {
				f.shift = t & 0x7fu;
				if (f.shift > 63)
					return ng_fail(r, "Interface Description Block if_tsresol option resolution 2^-%u is too high", f.shift);
				f.bin = 1;
				f.res = (uint64_t)1 << f.shift;
			} else {
				if (t > 19)
					return ng_fail(r, "Interface Description Block if_tsresol option resolution 10^-%u is too high", t);
				f.res = 1;
				for (unsigned i = 0; i < t; i++)
					f.res *= 10;
			}
		} else if (code == 14) {
			if (olen != 8)
				return ng_fail(r, "Interface Description Block has if_tsoffset option with length %u != 8", olen);
			if (saw_off++)
				return ng_fail(r, "Interface Description Block has more than one if_tsoffset option");
			f.tsoff = (int64_t)(r->be ? cur_u64be(&v) : cur_u64le(&v));
		}
	}
	if (r->nif == r->ifcap) {
		uint32_t n = r->ifcap ? r->ifcap * 2 : 4;
		struct ngif *g = realloc(r->ifs, n * sizeof *g);
		if (!g)
			return ng_fail(r, "out of memory for %u interfaces", n);
		r->ifs = g;
		r->ifcap = n;
	}
	r->ifs[r->nif] = f;
	ng_note(r, r->nif, f.dlt);
	r->nif++;
	return 0;
}

/* Timestamp t (units of the interface's resolution since its offset) as
 * seconds and nanoseconds, as libpcap gives them with nanosecond precision
 * requested (the seconds wrap as its unsigned sum does). */
static void ng_ts(const struct ngif *f, uint64_t t, struct pcap_pkthdr *h)
{
	uint64_t sec = t / f->res + (uint64_t)f->tsoff;
	uint64_t frac = t % f->res, ns;
	if (f->bin)
		ns = (uint64_t)(((unsigned __int128)frac * 1000000000u) >> f->shift);
	else if (f->res <= 1000000000u)
		ns = frac * (1000000000u / f->res);
	else
		ns = frac / (f->res / 1000000000u);
	h->ts.tv_sec = (time_t)sec;
	h->ts.tv_usec = (suseconds_t)ns;
}

/* A packet of interface ifid: checks as libpcap's, then its data from b. */
static int ng_packet(struct rawpcap *r, uint32_t type, uint32_t ifid, uint64_t t,
		     uint32_t caplen, uint32_t len, struct cur *b, const uint8_t **data)
{
	if (ifid >= r->nif)
		return ng_fail(r, "a packet arrived on interface %u, but there's no Interface Description Block for that interface", ifid);
	const struct ngif *f = &r->ifs[ifid];
	if (type == NG_SPB && caplen > f->snap)
		caplen = f->snap;
	if (caplen > f->snap)
		return ng_fail(r, "invalid packet capture length %u, bigger than snaplen of %u",
			       caplen, f->snap);
	*data = cur_bytes(b, caplen);
	if (!*data)
		return ng_too_short(r, type);
	r->hdr.caplen = caplen;
	r->hdr.len = len;
	ng_ts(f, t, &r->hdr);
	r->dlt = f->dlt;
	return 1;
}

/* Step over the rest of a block larger than the buffer (its 8-byte header
 * is consumed) without holding it: its body, then its trailing length. */
static int ng_skip(struct rawpcap *r, uint32_t len)
{
	size_t n = (size_t)len - 12, done = 0;
	while (done < n) {
		if (r->pos == r->have && !rawpcap_fill(r, 1))
			return ng_short(r, (unsigned long)len - 8, done);
		size_t k = r->have - r->pos;
		if (k > n - done)
			k = n - done;
		r->pos += k;
		r->off += (long)k;
		done += k;
	}
	if (!rawpcap_fill(r, 4))
		return ng_short(r, (unsigned long)len - 8, done + (r->have - r->pos));
	struct cur c = cur_init_at(r->buf + r->pos, 4, (size_t)r->off);
	uint32_t trail = ng32(r, &c);
	r->pos += 4;
	r->off += 4;
	if (trail != len)
		return ng_fail(r, "block total length in header %u and trailer %u don't match",
			       len, trail);
	return 0;
}

/* 1 a packet (hdr, *data, dlt), 0 end of file, -1 damaged (err, err_off). */
static int ng_next(struct rawpcap *r, const uint8_t **data)
{
	static const uint8_t shb[4] = { 0x0a, 0x0d, 0x0d, 0x0a };
	for (;;) {
		r->err_off = r->off;
		if (!rawpcap_fill(r, 8)) {
			size_t got = r->have - r->pos;
			if (!got && !r->ioerr)
				return 0;
			return ng_short(r, 8, got);
		}
		struct cur h = cur_init_at(r->buf + r->pos, r->have - r->pos, (size_t)r->off);
		if (cur_peek_eq(&h, shb, 4)) {
			/* The section's byte order is that of its magic. */
			if (!rawpcap_fill(r, 12))
				return ng_short(r, 12, r->have - r->pos);
			h = cur_init_at(r->buf + r->pos, r->have - r->pos, (size_t)r->off);
			cur_skip(&h, 8);
			uint32_t bom = cur_u32le(&h);
			if (bom == 0x1a2b3c4du)
				r->be = 0;
			else if (bom == 0x4d3c2b1au)
				r->be = 1;
			else
				return ng_fail(r, "the file has a section with a bad byte order magic field");
			h = cur_init_at(r->buf + r->pos, r->have - r->pos, (size_t)r->off);
		}
		uint32_t type = ng32(r, &h), len = ng32(r, &h);
		if (len < 12)
			return ng_fail(r, "block in pcapng dump file has a length of %u < 12", len);
		if (len % 4)
			return ng_fail(r, "block in pcapng dump file has a length of %u that is not a multiple of 4", len);
		if (len > PG_NG_MAXBLOCK)
			return ng_fail(r, "pcapng block size %u > maximum %u", len, PG_NG_MAXBLOCK);
		int parsed = type == NG_SHB || type == NG_IDB || type == NG_EPB ||
			     type == NG_SPB || type == NG_PB;
		if (len > PG_CAP_READBUF) {
			if (parsed)
				return ng_fail(r, "block of type %u in pcapng dump file has a length of %u, more than the %u read at once",
					       type, len, PG_CAP_READBUF);
			r->pos += 8;
			r->off += 8;
			if (ng_skip(r, len) < 0)
				return -1;
			continue;
		}
		if (!rawpcap_fill(r, len)) {
			size_t got = r->have - r->pos;
			return ng_short(r, (unsigned long)len - 8, got - 8);
		}
		struct cur blk = cur_init_at(r->buf + r->pos, len, (size_t)r->off);
		cur_skip(&blk, 8);
		struct cur b = cur_sub(&blk, len - 12);
		uint32_t trail = ng32(r, &blk);
		if (trail != len)
			return ng_fail(r, "block total length in header %u and trailer %u don't match",
				       len, trail);
		/* Consumed now; b and the packet stay valid until the next fill. */
		r->pos += len;
		r->off += (long)len;
		switch (type) {
		case NG_SHB: {
			(void)ng32(r, &b);   /* byte-order magic, read above */
			uint16_t major = ng16(r, &b);
			(void)ng16(r, &b);   /* minor */
			(void)ng32(r, &b);   /* section length (u64) */
			(void)ng32(r, &b);
			if (b.err)
				return ng_too_short(r, type);
			if (major != 1)
				return ng_fail(r, "unknown pcapng savefile major version number %u", major);
			r->nif = 0;
			r->section++;
			break;
		}
		case NG_IDB:
			if (ng_idb(r, &b) < 0)
				return -1;
			break;
		case NG_EPB: {
			uint32_t ifid = ng32(r, &b);
			uint64_t hi = ng32(r, &b), lo = ng32(r, &b);
			uint32_t caplen = ng32(r, &b), plen = ng32(r, &b);
			if (b.err)
				return ng_too_short(r, type);
			return ng_packet(r, type, ifid, hi << 32 | lo, caplen, plen, &b, data);
		}
		case NG_PB: {
			uint32_t ifid = ng16(r, &b);
			(void)ng16(r, &b);   /* drops */
			uint64_t hi = ng32(r, &b), lo = ng32(r, &b);
			uint32_t caplen = ng32(r, &b), plen = ng32(r, &b);
			if (b.err)
				return ng_too_short(r, type);
			return ng_packet(r, type, ifid, hi << 32 | lo, caplen, plen, &b, data);
		}
		case NG_SPB: {
			uint32_t plen = ng32(r, &b);
			if (b.err)
				return ng_too_short(r, type);
			return ng_packet(r, type, 0, 0, plen, plen, &b, data);
		}
		case NG_JOURNAL:
		case NG_CUSTOM:
		case NG_CUSTOM_NC:
			/* Wireshark shows these as records with a frame number
			 * of their own: count them, so that our frame numbers
			 * stay tshark's. */
			r->records++;
			break;
		default:
			break;   /* NRB, ISB, DSB, unknown: not ours */
		}
	}
}

/* Records come from libpcap (raw == NULL), rawpcap_next or ng_next. */
static int cap_next(pcap_t *p, struct rawpcap *raw, struct pcap_pkthdr **h,
		    const u_char **data)
{
	if (!raw)
		return pcap_next_ex(p, h, data);
	int rc = raw->ng ? ng_next(raw, data) : rawpcap_next(raw, data);
	*h = &raw->hdr;
	return rc == 0 ? PCAP_ERROR_BREAK : rc;
}

/* Announce the interfaces ng_next found with a link type other than the
 * file's first (after capture.file, in file order). */
static void ng_announce(struct pg_capture *c, struct rawpcap *raw, const char *name)
{
	for (int i = 0; i < raw->nnote; i++) {
		const struct ngnote *n = &raw->note[i];
		int ok = rawpcap_dlt_ok(n->dlt);
		const char *dn = pcap_datalink_val_to_name(n->dlt);
		struct pg_event ev;
		pg_event_self(&ev, &c->last, PG_K_CAPTURE_INTERFACE, ok ? PG_SEV_INFO : PG_SEV_WARNING);
		ev.frame = 0;
		ev.proto = "capture";
		pg_event_set_str(&ev, "file", name);
		pg_event_set_int(&ev, "interface", n->ifid);
		pg_event_set_int(&ev, "section", n->section);
		pg_event_set_str(&ev, "linktype", dn ? dn : "unknown");
		pg_event_set_int(&ev, "dlt", n->dlt);
		pg_event_text(&ev, "%s: interface %u of section %u has link type %s (%d)%s", name,
			      n->ifid, n->section, dn ? dn : "unknown", n->dlt,
			      ok ? ": its packets are decoded with it"
				 : ", which is not decoded: its packets are counted as decode errors");
		pg_sniff_emit(c->s, &ev);
	}
	raw->nnote = 0;
}

static int cap_run(struct pg_capture *c, pcap_t *p, struct rawpcap *raw,
		   const char *name, const char *format)
{
	int dlt = pcap_datalink(p);
	int nano = raw || pcap_get_tstamp_precision(p) == PCAP_TSTAMP_PRECISION_NANO;
	struct pcap_pkthdr *h;
	const u_char *data;
	FILE *fp = raw ? NULL : pcap_file(p);
	long off = fp ? ftell(fp) : -1;
	/* Read the first record before announcing the file, so that the
	 * announcement carries packet time (the first packet's), not "now". */
	int rc = cap_next(p, raw, &h, &data);
	if (rc == 1)
		c->last.ts = cap_ts(h, nano);
	{
		struct pg_event ev;
		pg_event_self(&ev, &c->last, PG_K_CAPTURE_FILE, PG_SEV_INFO);
		ev.frame = 0;
		ev.proto = "capture";
		pg_event_set_str(&ev, "file", name);
		pg_event_set_str(&ev, "format", format);
		const char *dn = pcap_datalink_val_to_name(dlt);
		pg_event_set_str(&ev, "linktype", dn ? dn : "unknown");
		pg_event_set_int(&ev, "dlt", dlt);
		pg_event_text(&ev, "%s: %s, link type %s", name, format, dn ? dn : "unknown");
		pg_sniff_emit(c->s, &ev);
	}
	while (!c->stop && rc == 1) {
		if (raw && raw->nnote)
			ng_announce(c, raw, name);
		if (raw && raw->records) {
			c->frame += raw->records;
			raw->records = 0;
		}
		cap_frame(c, raw && raw->ng ? raw->dlt : dlt, h, data, nano);
		if (fp)
			off = ftell(fp);
		rc = cap_next(p, raw, &h, &data);
	}
	if (raw && raw->nnote)
		ng_announce(c, raw, name);
	if (c->stop || rc == PCAP_ERROR_BREAK)
		return 0;
	char why[PCAP_ERRBUF_SIZE + 128];
	snprintf(why, sizeof why, "damaged at byte offset %ld, after frame %llu: %s",
		 raw ? raw->err_off : off, (unsigned long long)c->frame,
		 raw ? raw->err : pcap_geterr(p));
	cap_event(c, PG_K_CAPTURE_ERROR, PG_SEV_WARNING, name, why);
	return -1;
}

int pg_capture_stream(struct pg_capture *c, void *fpv, const char *name)
{
	FILE *fp = fpv;
	char errbuf[PCAP_ERRBUF_SIZE] = "";
	uint8_t m[4];
	const char *format = NULL;
	/* Peek at the magic; a seekable stream is rewound, stdin is left to
	 * libpcap (which reports an unknown format itself). */
	long start = ftell(fp);
	if (start >= 0) {
		size_t got = fread(m, 1, 4, fp);
		if (got < 4) {
			c->files_bad++;
			cap_event(c, PG_K_CAPTURE_ERROR, PG_SEV_WARNING, name,
				  got ? "not a capture file: shorter than a magic number (4 bytes)"
						: "empty file");
			return -1;
		}
		format = magic_name(m);
		if (!format) {
			char why[128];
			snprintf(why, sizeof why,
				 "not a pcap or pcapng file (magic %02x %02x %02x %02x at offset 0)",
				 m[0], m[1], m[2], m[3]);
			c->files_bad++;
			cap_event(c, PG_K_CAPTURE_ERROR, PG_SEV_WARNING, name, why);
			return -1;
		}
		if (fseek(fp, start, SEEK_SET) != 0) {
			c->files_bad++;
			cap_event(c, PG_K_CAPTURE_ERROR, PG_SEV_WARNING, name,
				  "cannot rewind after reading the magic number");
			return -1;
		}
	}
	pcap_t *p = pcap_fopen_offline_with_tstamp_precision(fp, PCAP_TSTAMP_PRECISION_NANO, errbuf);
	if (!p) {
		fclose(fp);
		c->files_bad++;
		cap_event(c, PG_K_CAPTURE_ERROR, PG_SEV_WARNING, name, errbuf);
		return -1;
	}
	if (!format)
		format = pcap_major_version(p) > 2 ? "pcapng" : "pcap";
	/* Our own record reader when we know the magic (a seekable stream)
	 * and libpcap would hand the records over unchanged. */
	struct rawpcap raw, *rp = NULL;
	memset(&raw, 0, sizeof raw);
	if (start >= 0 && (strcmp(format, "pcap") == 0 || strcmp(format, "pcap-ns") == 0) &&
	    pcap_major_version(p) == 2 && pcap_minor_version(p) == 4 &&
	    rawpcap_dlt_ok(pcap_datalink(p)) && pcap_snapshot(p) > 0 &&
	    rawpcap_alloc(&raw, fp) == 0) {
		rp = &raw;   /* else (no buffer) libpcap reads */
		raw.fp = fp;
		raw.be = m[0] == 0xa1;
		raw.nsec = strcmp(format, "pcap-ns") == 0;
		raw.snapshot = (uint32_t)pcap_snapshot(p);
		raw.off = start + 24;   /* libpcap has read the file header */
	} else if (start >= 0 && strcmp(format, "pcapng") == 0 &&
		   rawpcap_alloc(&raw, fp) == 0) {
		/* libpcap has read up to the first interface; we read the
		 * blocks again from the section header on.  (A failed seek
		 * has not moved the stream: then libpcap reads on.) */
		if (fseek(fp, start, SEEK_SET) != 0) {
			free(raw.buf);
			raw.buf = NULL;
		} else {
			rp = &raw;
		}
		raw.fp = fp;
		raw.ng = 1;
		raw.off = start;
	}
	int rc = cap_run(c, p, rp, name, format);
	if (rp) {
		free(rp->buf);
		free(rp->ifs);
	}
	pcap_close(p);   /* closes fp */
	if (rc == 0)
		c->files_ok++;
	else
		c->files_bad++;
	return rc;
}

int pg_capture_file(struct pg_capture *c, const char *path)
{
	FILE *fp;
	if (strcmp(path, "-") == 0) {
		fp = fdopen(dup(0), "rb");
	} else {
		int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
		fp = fd < 0 ? NULL : fdopen(fd, "rb");
		if (!fp && fd >= 0)
			close(fd);
	}
	if (!fp) {
		c->files_bad++;
		cap_event(c, PG_K_CAPTURE_ERROR, PG_SEV_WARNING, path, strerror(errno));
		return -1;
	}
	return pg_capture_stream(c, fp, strcmp(path, "-") == 0 ? "(stdin)" : path);
}

/* ------------------------------------------------------------ live -- */

int pg_drop_privileges(const char *user, char *msg, size_t msglen)
{
	if (geteuid() != 0 && getuid() != 0)
		return 0;   /* not privileged: nothing to drop */
	struct passwd *pw = getpwnam(user);
	if (!pw) {
		snprintf(msg, msglen, "cannot drop privileges: no user \"%s\"", user);
		return -1;
	}
	if (pw->pw_uid == 0) {
		snprintf(msg, msglen, "refusing to run as \"%s\": it is uid 0", user);
		return -1;
	}
	gid_t g = pw->pw_gid;
	if (setgroups(1, &g) < 0 || setresgid(g, g, g) < 0 ||
	    setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) < 0) {
		snprintf(msg, msglen, "cannot drop privileges to %s: %s", user, strerror(errno));
		return -1;
	}
	if (setuid(0) == 0 || seteuid(0) == 0) {
		snprintf(msg, msglen, "privileges could be regained after dropping to %s", user);
		return -1;
	}
	(void)prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
	return 0;
}

struct live_ctx {
	struct pg_capture *c;
	int dlt;
	int nano;
	uint64_t n;
};

static void live_cb(u_char *u, const struct pcap_pkthdr *h, const u_char *data)
{
	struct live_ctx *l = (struct live_ctx *)u;
	cap_frame(l->c, l->dlt, h, data, l->nano);
	l->n++;
}

static double mono_now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + t.tv_nsec / 1e9;
}

/* Longest single wait for packets: the bound on how late a stop request
 * (SIGINT/SIGTERM set c->stop) is noticed on an idle link. */
#define PG_LIVE_POLL_MS 200

/* Milliseconds from now until `until` (monotonic seconds), within
 * [0, cap]; rounded up so that the deadline has passed when we wake. */
/* "sensor.heartbeat": the sensor is running, with what it has seen, so that
 * a consumer can tell a quiet network from a sensor that is not running. */
static void heartbeat(struct pg_capture *c, const struct pg_live_opts *o,
		      const struct live_ctx *l, double uptime)
{
	const struct pg_sniff_stats *st = &c->s->st;
	struct pg_event ev;
	pg_event_self(&ev, NULL, PG_K_SENSOR_HEARTBEAT, PG_SEV_INFO);
	clock_gettime(CLOCK_REALTIME, &ev.ts);
	ev.proto = "capture";
	pg_event_set_str(&ev, "interface", o->iface);
	pg_event_set_int(&ev, "interval_s", (long long)o->heartbeat_s);
	pg_event_set_int(&ev, "uptime_s", (long long)uptime);
	pg_event_set_int(&ev, "packets", (long long)l->n);
	pg_event_set_int(&ev, "flows", (long long)st->flows);
	pg_event_set_int(&ev, "transfers", (long long)st->transfers_complete);
	pg_event_set_int(&ev, "events", (long long)st->events);
	pg_event_set_int(&ev, "kernel_drops", (long long)st->kernel_drops);
	pg_event_text(&ev, "sensor on %s running for %.0f s: %llu packets, %llu flows, %llu "
		      "transfers, %llu events so far", o->iface, uptime,
		      (unsigned long long)l->n, (unsigned long long)st->flows,
		      (unsigned long long)st->transfers_complete,
		      (unsigned long long)st->events);
	pg_sniff_emit(c->s, &ev);
}

static int live_ms_until(double now, double until, int cap)
{
	double ms = (until - now) * 1000.0 + 1.0;
	if (ms <= 0.0)
		return 0;
	return ms < (double)cap ? (int)ms : cap;
}

/* Wait until the capture fd is readable or ms have passed.  A signal
 * (EINTR) is a normal early return: the caller looks at c->stop. */
static int live_wait(pcap_t *p, int fd, int ms)
{
	const struct timeval *req = pcap_get_required_select_timeout(p);
	if (req) {
		long rq = (long)req->tv_sec * 1000 + req->tv_usec / 1000;
		if (rq < 1)
			rq = 1;
		if (rq < ms)
			ms = (int)rq;
	}
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	if (poll(&pfd, 1, ms) < 0 && errno != EINTR)
		return -1;
	return 0;
}

static void live_stats(struct pg_capture *c, pcap_t *p, const char *iface, int final)
{
	struct pcap_stat ps;
	if (pcap_stats(p, &ps) != 0)
		return;
	struct pg_sniff *s = c->s;
	uint64_t drop = ps.ps_drop, ifdrop = ps.ps_ifdrop;
	if (drop > s->st.kernel_drops || ifdrop > s->st.if_drops || final) {
		int grew = drop > s->st.kernel_drops || ifdrop > s->st.if_drops;
		struct pg_event ev;
		pg_event_self(&ev, &c->last, PG_K_CAPTURE_DROPS,
			      grew ? PG_SEV_WARNING : PG_SEV_INFO);
		ev.frame = 0;
		ev.proto = "capture";
		pg_event_set_str(&ev, "interface", iface);
		pg_event_set_int(&ev, "received", ps.ps_recv);
		pg_event_set_int(&ev, "kernel_drops", (long long)drop);
		pg_event_set_int(&ev, "interface_drops", (long long)ifdrop);
		pg_event_set_int(&ev, "new_drops", (long long)(drop - (drop > s->st.kernel_drops ? s->st.kernel_drops : drop)
							+ ifdrop - (ifdrop > s->st.if_drops ? s->st.if_drops : ifdrop)));
		pg_event_text(&ev, "%s: %u packets received, %llu dropped by the kernel, %llu by the interface%s",
			      iface, ps.ps_recv, (unsigned long long)drop, (unsigned long long)ifdrop,
			      grew ? ": transfers in that time may be incomplete" : "");
		if (grew || final)
			pg_sniff_emit(s, &ev);
		else
			pg_event_clear(&ev);
		s->st.kernel_drops = drop;
		s->st.if_drops = ifdrop;
	}
}

int pg_capture_live(struct pg_capture *c, const struct pg_live_opts *o,
		    char *msg, size_t msglen)
{
	char errbuf[PCAP_ERRBUF_SIZE] = "";
	pcap_t *p = pcap_create(o->iface, errbuf);
	if (!p) {
		snprintf(msg, msglen, "%s: %s", o->iface, errbuf);
		return -1;
	}
	pcap_set_snaplen(p, o->snaplen ? o->snaplen : 262144);
	pcap_set_promisc(p, 1);
	pcap_set_timeout(p, 200);
	pcap_set_buffer_size(p, (o->buffer_mb ? o->buffer_mb : 64) << 20);
	(void)pcap_set_tstamp_precision(p, PCAP_TSTAMP_PRECISION_NANO);
	int rc = pcap_activate(p);
	if (rc < 0) {
		/* Some failures leave pcap_geterr() empty: then say the status. */
		const char *why = pcap_geterr(p);
		snprintf(msg, msglen, "%s: %s", o->iface,
			 why && why[0] ? why : pcap_statustostr(rc));
		pcap_close(p);
		return -1;
	}
	/* We wait for packets ourselves (poll on the selectable fd, then a
	 * nonblocking pcap_dispatch), never inside libpcap.  On Linux with
	 * TPACKET_V3, libpcap 1.10 polls with no timeout of its own (the
	 * kernel's block timer only runs once a packet has arrived) and
	 * polls again after EINTR unless pcap_breakloop() was called: an idle
	 * link held --duration, the drop statistics and SIGTERM (which only
	 * sets c->stop) forever. */
	int fd = -1;
	if (pcap_setnonblock(p, 1, errbuf) < 0 || (fd = pcap_get_selectable_fd(p)) < 0) {
		snprintf(msg, msglen, "%s: cannot wait for packets without blocking: %s",
			 o->iface, errbuf[0] ? errbuf : "no selectable descriptor");
		pcap_close(p);
		return -1;
	}
	char filter[256];
	if (o->filter) {
		snprintf(filter, sizeof filter, "%s", o->filter);
	} else {
		unsigned a = c->s->cfg.s7_port, b = c->s->cfg.modbus_port;
		snprintf(filter, sizeof filter,
			 "(tcp port %u or tcp port %u) or (vlan and (tcp port %u or tcp port %u))",
			 a, b, a, b);
	}
	struct bpf_program prog;
	if (pcap_compile(p, &prog, filter, 1, PCAP_NETMASK_UNKNOWN) < 0 ||
	    pcap_setfilter(p, &prog) < 0) {
		snprintf(msg, msglen, "%s: filter \"%s\": %s", o->iface, filter, pcap_geterr(p));
		pcap_close(p);
		return -1;
	}
	pcap_freecode(&prog);
	/* From here on no privilege is needed: drop it before the first
	 * packet is parsed (OpenBSD daemons' privilege separation). */
	if (pg_drop_privileges(o->user ? o->user : "nobody", msg, msglen) < 0) {
		pcap_close(p);
		return -1;
	}
	if (o->ready)
		o->ready(o->ready_arg);
	struct live_ctx l = { c, pcap_datalink(p),
			      pcap_get_tstamp_precision(p) == PCAP_TSTAMP_PRECISION_NANO, 0 };
	{
		struct pg_event ev;
		pg_event_self(&ev, NULL, PG_K_CAPTURE_LIVE, PG_SEV_INFO);
		clock_gettime(CLOCK_REALTIME, &ev.ts);
		ev.proto = "capture";
		pg_event_set_str(&ev, "interface", o->iface);
		pg_event_set_str(&ev, "filter", filter);
		const char *dn = pcap_datalink_val_to_name(l.dlt);
		pg_event_set_str(&ev, "linktype", dn ? dn : "unknown");
		pg_event_set_int(&ev, "uid", (long long)getuid());
		pg_event_text(&ev, "capturing on %s (%s), filter \"%s\", running as uid %u",
			      o->iface, dn ? dn : "unknown", filter, (unsigned)getuid());
		pg_sniff_emit(c->s, &ev);
	}
	unsigned every = o->stats_interval_s ? o->stats_interval_s : 10;
	double t0 = mono_now(), next = t0 + every;
	double next_hb = o->heartbeat_s ? t0 + o->heartbeat_s : 0;
	double end = t0 + (double)o->duration_s;
	while (!c->stop) {
		/* --count N means N: never let one dispatch run past it. */
		int want = -1;
		if (o->max_packets) {
			uint64_t left = o->max_packets - l.n;
			want = left > INT_MAX ? INT_MAX : (int)left;
		}
		int n = pcap_dispatch(p, want, live_cb, (u_char *)&l);
		if (n < 0 && n != PCAP_ERROR_BREAK) {
			snprintf(msg, msglen, "%s: %s", o->iface, pcap_geterr(p));
			live_stats(c, p, o->iface, 1);
			pcap_close(p);
			return -1;
		}
		double now = mono_now();
		if (now >= next) {
			live_stats(c, p, o->iface, 0);
			next = now + every;
		}
		if (next_hb && now >= next_hb) {
			heartbeat(c, o, &l, now - t0);
			next_hb = now + o->heartbeat_s;
		}
		if (o->max_packets && l.n >= o->max_packets)
			break;
		if (o->duration_s && now >= end)
			break;
		if (n > 0 || c->stop)
			continue;   /* more may be queued already */
		int ms = live_ms_until(now, next, PG_LIVE_POLL_MS);
		if (next_hb)
			ms = live_ms_until(now, next_hb, ms);
		if (o->duration_s)
			ms = live_ms_until(now, end, ms);
		if (live_wait(p, fd, ms) < 0) {
			snprintf(msg, msglen, "%s: waiting for packets: %s", o->iface, strerror(errno));
			live_stats(c, p, o->iface, 1);
			pcap_close(p);
			return -1;
		}
	}
	live_stats(c, p, o->iface, 1);
	pcap_close(p);
	return 0;
}
