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
 * pcapng, older pcap versions, the modified (Kuznetzov) format and link types
 * libpcap post-processes (USB, NFLOG) stay with libpcap.
 *
 *   file:   [24-byte header][16-byte record header][caplen bytes][16]...
 *   record: ts_sec u32 | ts_frac u32 (us or ns) | caplen u32 | len u32
 *           in the byte order of the magic (d4 c3 b2 a1 = little endian)
 */
#define _GNU_SOURCE 1   /* setresuid, setresgid */
#include "capture.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pcap/pcap.h>
#include <poll.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include "../parsers/cursor.h"
#include "../parsers/netdecode.h"

void pg_capture_init(struct pg_capture *c, struct pg_sniff *s, struct flowtab *ft)
{
	memset(c, 0, sizeof *c);
	c->s = s;
	c->ft = ft;
}

/* "FILE: WHY" as a self event naming the file. */
static void cap_event(struct pg_capture *c, const char *kind, enum pg_sev sev,
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

#define PG_CAP_READBUF  (1u << 20)  /* bytes per fread(); > the largest record */
#define PG_CAP_MAXSNAP  262144u     /* libpcap's MAXIMUM_SNAPLEN */

struct rawpcap {
	FILE *fp;
	int be;                /* the file is big endian */
	int nsec;              /* its timestamps are nanoseconds */
	uint32_t snapshot;     /* pcap_snapshot(): the file's, as libpcap adjusted it */
	uint8_t *buf;
	size_t pos, have;      /* unread bytes: buf[pos, have) */
	int eof, ioerr;
	long off;              /* file offset of buf[pos] */
	struct pcap_pkthdr hdr;
	char err[PCAP_ERRBUF_SIZE];
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
	while (r->have < need && !r->eof) {
		size_t got = fread(r->buf + r->have, 1, PG_CAP_READBUF - r->have, r->fp);
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

/* Records come from libpcap (raw == NULL) or from rawpcap_next. */
static int cap_next(pcap_t *p, struct rawpcap *raw, struct pcap_pkthdr **h,
		    const u_char **data)
{
	if (!raw)
		return pcap_next_ex(p, h, data);
	int rc = rawpcap_next(raw, data);
	*h = &raw->hdr;
	return rc == 0 ? PCAP_ERROR_BREAK : rc;
}

static int cap_run(struct pg_capture *c, pcap_t *p, struct rawpcap *raw,
		   const char *name, const char *format)
{
	int dlt = pcap_datalink(p);
	int nano = raw || pcap_get_tstamp_precision(p) == PCAP_TSTAMP_PRECISION_NANO;
	struct pcap_pkthdr *h;
	const u_char *data;
	FILE *fp = raw ? NULL : pcap_file(p);
	long off = raw ? raw->off : fp ? ftell(fp) : -1;
	/* Read the first record before announcing the file, so that the
	 * announcement carries packet time (the first packet's), not "now". */
	int rc = cap_next(p, raw, &h, &data);
	if (rc == 1)
		c->last.ts = cap_ts(h, nano);
	{
		struct pg_event ev;
		pg_event_self(&ev, &c->last, "capture.file", PG_SEV_INFO);
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
		cap_frame(c, dlt, h, data, nano);
		if (raw)
			off = raw->off;
		else if (fp)
			off = ftell(fp);
		rc = cap_next(p, raw, &h, &data);
	}
	if (c->stop || rc == PCAP_ERROR_BREAK)
		return 0;
	char why[PCAP_ERRBUF_SIZE + 128];
	snprintf(why, sizeof why, "damaged at byte offset %ld, after frame %llu: %s",
		 off, (unsigned long long)c->frame, raw ? raw->err : pcap_geterr(p));
	cap_event(c, "capture.error", PG_SEV_WARNING, name, why);
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
			cap_event(c, "capture.error", PG_SEV_WARNING, name,
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
			cap_event(c, "capture.error", PG_SEV_WARNING, name, why);
			return -1;
		}
		if (fseek(fp, start, SEEK_SET) != 0) {
			c->files_bad++;
			cap_event(c, "capture.error", PG_SEV_WARNING, name,
				  "cannot rewind after reading the magic number");
			return -1;
		}
	}
	pcap_t *p = pcap_fopen_offline_with_tstamp_precision(fp, PCAP_TSTAMP_PRECISION_NANO, errbuf);
	if (!p) {
		fclose(fp);
		c->files_bad++;
		cap_event(c, "capture.error", PG_SEV_WARNING, name, errbuf);
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
	    (raw.buf = malloc(PG_CAP_READBUF)) != NULL) {
		rp = &raw;   /* else (no buffer) libpcap reads */
		raw.fp = fp;
		raw.be = m[0] == 0xa1;
		raw.nsec = strcmp(format, "pcap-ns") == 0;
		raw.snapshot = (uint32_t)pcap_snapshot(p);
		raw.off = start + 24;   /* libpcap has read the file header */
	}
	int rc = cap_run(c, p, rp, name, format);
	if (rp)
		free(rp->buf);
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
		cap_event(c, "capture.error", PG_SEV_WARNING, path, strerror(errno));
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
		pg_event_self(&ev, &c->last, "capture.drops",
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
	struct live_ctx l = { c, pcap_datalink(p),
			      pcap_get_tstamp_precision(p) == PCAP_TSTAMP_PRECISION_NANO, 0 };
	{
		struct pg_event ev;
		pg_event_self(&ev, NULL, "capture.live", PG_SEV_INFO);
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
		if (o->max_packets && l.n >= o->max_packets)
			break;
		if (o->duration_s && now >= end)
			break;
		if (n > 0 || c->stop)
			continue;   /* more may be queued already */
		int ms = live_ms_until(now, next, PG_LIVE_POLL_MS);
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
