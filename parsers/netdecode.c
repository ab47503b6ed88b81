/*
 * netdecode.c - link layer, IPv4/IPv6 and TCP headers of one captured frame
 * (parsers/netdecode.h).  Pure: no state, no allocation, every byte read
 * through the latching cursor (cursor.h).
 *
 * Link types (libpcap LINKTYPE_/DLT_ values):
 *   1   EN10MB     Ethernet II; 802.1Q 0x8100, 802.1ad 0x88a8 and the old
 *                  QinQ 0x9100 tags, up to PG_ND_MAX_VLAN deep; 802.3 length
 *                  frames (type < 0x0600) are LLC, not IP.
 *   113 LINUX_SLL  16-byte cooked header, protocol (ethertype) at offset 14.
 *   276 LINUX_SLL2 20-byte cooked header, protocol at offset 0.
 *   12, 14, 101    RAW: IPv4 or IPv6 by the version nibble.
 *   228 IPV4, 229 IPV6.
 *   0   NULL       4-byte address family in the *capturing* host's byte
 *                  order: we accept both orders (a real AF fits in 16 bits).
 *   108 LOOP       the same, always network byte order (OpenBSD).
 *
 *   Ethernet II:  dst(6) src(6) [tpid(2) tci(2)]*  type(2) | IP ...
 *   SLL:          pkttype(2) hatype(2) halen(2) addr(8) proto(2) | IP ...
 *   SLL2:         proto(2) rsvd(2) ifindex(4) hatype(2) pkttype(1) halen(1)
 *                 addr(8) | IP ...
 *
 * IP length rules (RFC 791 / RFC 8200), chosen to mirror what the receiving
 * stack sees rather than what the capture happens to hold:
 *  - bytes after the IP total length (Ethernet minimum-frame padding) are
 *    never payload;
 *  - bytes the IP header announces but the capture does not hold (snaplen)
 *    are reported in `missing`, so the flow layer can declare a gap instead
 *    of silently joining unrelated bytes;
 *  - a total length larger than the frame on the wire is malformed (the
 *    receiver would drop it too): ND_BAD;
 *  - a total length of 0 (IPv4) or payload length of 0 with a next header
 *    other than "none" (IPv6) is what TSO/GSO captures show: the frame length
 *    is used instead.
 * Fragments are not reassembled (ND_FRAGMENT); an IPv6 "atomic fragment"
 * (offset 0, no more fragments, RFC 6946) is not a fragment and is decoded.
 * The TCP checksum is not verified (offload makes it wrong in most captures).
 *
 * Errors name the field: "eth/type", "eth/vlan", "sll/protocol", "null/af",
 * "ipv4/version", "ipv4/ihl", "ipv4/total_length", "ipv6/payload_length",
 * "ipv6/ext", "ipv6/ext_count", "tcp/header", "tcp/data_offset",
 * "tcp/options", with the absolute frame offset where the field starts.
 */
#include "netdecode.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "cursor.h"

#define ETH_IPV4   0x0800
#define ETH_IPV6   0x86DD
#define ETH_8021Q  0x8100
#define ETH_8021AD 0x88A8
#define ETH_QINQ   0x9100
#define ETH_MINTYPE 0x0600

#define IPPROTO_TCP_ 6
#define IP6_HOPOPTS  0
#define IP6_ROUTING  43
#define IP6_FRAGMENT 44
#define IP6_AH       51
#define IP6_NONE     59
#define IP6_DSTOPTS  60
#define IP6_MOBILITY 135

#define TCP_MIN_HDR  20
#define IP4_MIN_HDR  20
#define IP6_HDR      40

/* Frame-wide facts the IP layer needs to split "present" from "missing". */
struct nd_frame {
	size_t caplen;
	size_t wirelen;   /* >= caplen */
};

static enum nd_result nd_bad(struct pg_err *err, size_t off, const char *field,
			     const char *msg)
{
	pg_err_set(err, off, field, "%s", msg);
	return ND_BAD;
}

/*
 * The IP datagram starts at c's position.  `ip_len` is the length the IP
 * header announces (0 = "use the frame").  Returns a cursor over the present
 * bytes of the datagram (never Ethernet padding) and the missing count.
 */
static int nd_ip_extent(const struct cur *c, const struct nd_frame *fr,
			size_t ip_len, size_t *present, size_t *missing)
{
	size_t start = cur_off(c);
	size_t cap = cur_left(c);
	/* Bytes of this datagram on the wire (the frame may have been longer
	 * than the capture); no trailer follows IP in the link types we take. */
	size_t wire = fr->wirelen > start ? fr->wirelen - start : 0;
	if (wire < cap)
		wire = cap;
	if (ip_len == 0)
		ip_len = wire;
	if (ip_len > wire)
		return -1;
	*present = ip_len < cap ? ip_len : cap;
	*missing = ip_len - *present;
	return 0;
}

static enum nd_result nd_tcp_hdr(struct cur *c, size_t declared,
				 struct nd_tcp *out, struct pg_err *err)
{
	size_t hoff = cur_off(c);
	if (cur_left(c) < TCP_MIN_HDR)
		return nd_bad(err, hoff, "tcp/header",
			      "TCP header shorter than 20 bytes");
	out->sport = cur_u16be(c);
	out->dport = cur_u16be(c);
	out->seq = cur_u32be(c);
	out->ack = cur_u32be(c);
	size_t doff_at = cur_off(c);
	uint8_t doff = (uint8_t)(cur_u8(c) >> 4);
	out->flags = cur_u8(c);
	out->win = cur_u16be(c);
	cur_skip(c, 4);  /* checksum, urgent pointer */
	size_t hlen = (size_t)doff * 4;
	if (doff < 5)
		return nd_bad(err, doff_at, "tcp/data_offset",
			      "TCP data offset below 5 words");
	if (hlen > declared)
		return nd_bad(err, doff_at, "tcp/data_offset",
			      "TCP data offset beyond the segment");
	if (hlen - TCP_MIN_HDR > cur_left(c))
		return nd_bad(err, cur_off(c), "tcp/options",
			      "TCP options cut short by the capture");
	cur_skip(c, hlen - TCP_MIN_HDR);  /* options: nothing we need */
	if (c->err)
		return nd_bad(err, c->err_off, "tcp/header", "TCP header cut short");
	out->len = cur_left(c);
	out->payload = out->len ? c->p : NULL;
	return ND_TCP;
}

static enum nd_result nd_ipv4(struct cur *c, const struct nd_frame *fr,
			      struct nd_tcp *out, struct pg_err *err)
{
	size_t ip_off = cur_off(c);
	struct cur h = *c;
	uint8_t vihl = cur_u8(&h);
	if (h.err)
		return nd_bad(err, ip_off, "ipv4/version", "IPv4 header missing");
	if (vihl >> 4 != 4)
		return nd_bad(err, ip_off, "ipv4/version", "IP version is not 4");
	size_t ihl = (size_t)(vihl & 0x0F) * 4;
	if (ihl < IP4_MIN_HDR)
		return nd_bad(err, ip_off, "ipv4/ihl", "IPv4 IHL below 5 words");
	cur_skip(&h, 1);                    /* DSCP/ECN */
	size_t tl_at = cur_off(&h);
	size_t total = cur_u16be(&h);
	cur_skip(&h, 2);                    /* identification */
	uint16_t frag = cur_u16be(&h);
	cur_skip(&h, 1);                    /* TTL */
	uint8_t proto = cur_u8(&h);
	cur_skip(&h, 2);                    /* header checksum */
	const uint8_t *src = cur_bytes(&h, 4);
	const uint8_t *dst = cur_bytes(&h, 4);
	if (h.err || !src || !dst)
		return nd_bad(err, h.err_off, "ipv4/header", "IPv4 header cut short");
	if (total != 0 && total < ihl)
		return nd_bad(err, tl_at, "ipv4/total_length",
			      "IPv4 total length shorter than its header");
	size_t present, missing;
	if (nd_ip_extent(c, fr, total, &present, &missing) != 0)
		return nd_bad(err, tl_at, "ipv4/total_length",
			      "IPv4 total length beyond the frame");
	if (present < ihl)
		return nd_bad(err, ip_off, "ipv4/ihl",
			      "IPv4 options cut short by the capture");
	size_t declared = (total ? total : present + missing) - ihl;
	out->af = 4;
	memcpy(out->src, src, 4);
	memcpy(out->dst, dst, 4);
	/* MF set or a non-zero offset: a fragment (DF is bit 0x4000). */
	if (frag & 0x3FFF)
		return ND_FRAGMENT;
	if (proto != IPPROTO_TCP_)
		return ND_NOT_TCP;
	struct cur ip = cur_sub(c, present);
	cur_skip(&ip, ihl);
	out->missing = missing;
	return nd_tcp_hdr(&ip, declared, out, err);
}

static enum nd_result nd_ipv6(struct cur *c, const struct nd_frame *fr,
			      struct nd_tcp *out, struct pg_err *err)
{
	size_t ip_off = cur_off(c);
	struct cur h = *c;
	uint8_t v = cur_u8(&h);
	if (h.err)
		return nd_bad(err, ip_off, "ipv6/version", "IPv6 header missing");
	if (v >> 4 != 6)
		return nd_bad(err, ip_off, "ipv6/version", "IP version is not 6");
	cur_skip(&h, 3);                    /* traffic class, flow label */
	size_t pl_at = cur_off(&h);
	size_t plen = cur_u16be(&h);
	uint8_t nh = cur_u8(&h);
	cur_skip(&h, 1);                    /* hop limit */
	const uint8_t *src = cur_bytes(&h, 16);
	const uint8_t *dst = cur_bytes(&h, 16);
	if (h.err || !src || !dst)
		return nd_bad(err, h.err_off, "ipv6/header", "IPv6 header cut short");
	size_t present, missing;
	size_t ip_len = plen ? plen + IP6_HDR : 0;
	if (plen == 0 && nh == IP6_NONE)
		ip_len = IP6_HDR;
	if (nd_ip_extent(c, fr, ip_len, &present, &missing) != 0)
		return nd_bad(err, pl_at, "ipv6/payload_length",
			      "IPv6 payload length beyond the frame");
	size_t declared = present + missing - IP6_HDR;
	out->af = 6;
	memcpy(out->src, src, 16);
	memcpy(out->dst, dst, 16);
	struct cur ip = cur_sub(c, present);
	cur_skip(&ip, IP6_HDR);

	/* Extension headers: bounded walk (RFC 8200 4.1 order not enforced). */
	for (unsigned i = 0;; i++) {
		size_t eoff = cur_off(&ip);
		size_t ext;
		switch (nh) {
		case IPPROTO_TCP_:
			out->missing = missing;
			return nd_tcp_hdr(&ip, declared, out, err);
		case IP6_HOPOPTS:
		case IP6_ROUTING:
		case IP6_DSTOPTS:
		case IP6_MOBILITY:
		case IP6_AH:
			break;
		case IP6_FRAGMENT:
			break;
		default:                     /* UDP, ICMPv6, ESP, none ... */
			return ND_NOT_TCP;
		}
		if (i >= PG_ND_MAX_EXTHDR)
			return nd_bad(err, eoff, "ipv6/ext_count",
				      "too many IPv6 extension headers");
		uint8_t next = cur_u8(&ip);
		uint8_t hlen = cur_u8(&ip);
		if (nh == IP6_FRAGMENT) {
			uint16_t offm = cur_u16be(&ip);
			cur_skip(&ip, 4);    /* identification */
			if (ip.err)
				return nd_bad(err, eoff, "ipv6/ext",
					      "IPv6 fragment header cut short");
			if (offm & 0xFFF9)   /* offset (13 bits) or M */
				return ND_FRAGMENT;
			ext = 8;
		} else if (nh == IP6_AH) {
			ext = ((size_t)hlen + 2) * 4;
		} else {
			ext = ((size_t)hlen + 1) * 8;
		}
		cur_skip(&ip, ext - (cur_off(&ip) - eoff));
		if (ip.err)
			return nd_bad(err, eoff, "ipv6/ext",
				      "IPv6 extension header cut short");
		if (ext > declared)
			return nd_bad(err, eoff, "ipv6/ext",
				      "IPv6 extension header beyond the payload");
		declared -= ext;
		nh = next;
	}
}

static enum nd_result nd_by_version(struct cur *c, const struct nd_frame *fr,
				    struct nd_tcp *out, struct pg_err *err)
{
	int b = cur_peek(c, 0);
	if (b < 0)
		return nd_bad(err, cur_off(c), "ip/version", "no IP header");
	if (b >> 4 == 4)
		return nd_ipv4(c, fr, out, err);
	if (b >> 4 == 6)
		return nd_ipv6(c, fr, out, err);
	return nd_bad(err, cur_off(c), "ip/version", "IP version is neither 4 nor 6");
}

/* Ethertype dispatch with VLAN tags (shared by Ethernet and cooked Linux). */
static enum nd_result nd_ethertype(struct cur *c, const struct nd_frame *fr,
				   size_t type_at, uint16_t type,
				   struct nd_tcp *out, struct pg_err *err)
{
	for (unsigned tags = 0;
	     type == ETH_8021Q || type == ETH_8021AD || type == ETH_QINQ;
	     tags++) {
		if (tags >= PG_ND_MAX_VLAN)
			return nd_bad(err, type_at, "eth/vlan",
				      "more than 4 VLAN tags");
		cur_skip(c, 2);              /* TCI */
		type_at = cur_off(c);
		type = cur_u16be(c);
		if (c->err)
			return nd_bad(err, c->err_off, "eth/vlan",
				      "VLAN tag cut short");
	}
	if (type == ETH_IPV4)
		return nd_ipv4(c, fr, out, err);
	if (type == ETH_IPV6)
		return nd_ipv6(c, fr, out, err);
	return ND_NOT_IP;
}

static enum nd_result nd_null(struct cur *c, const struct nd_frame *fr, int be,
			      struct nd_tcp *out, struct pg_err *err)
{
	uint32_t af = be ? cur_u32be(c) : cur_u32le(c);
	if (c->err)
		return nd_bad(err, 0, "null/af", "loopback header cut short");
	/* Written in the capturing host's order: a real AF is < 65536. */
	if (!be && af > 0xFFFF)
		af = (af >> 24) | ((af >> 8) & 0xFF00) | ((af << 8) & 0xFF0000) |
		     (af << 24);
	switch (af) {
	case 2:                              /* AF_INET everywhere */
		return nd_ipv4(c, fr, out, err);
	case 10: case 24: case 28: case 30:  /* AF_INET6: Linux, *BSD, FreeBSD, macOS */
		return nd_ipv6(c, fr, out, err);
	default:
		return ND_NOT_IP;
	}
}

enum nd_result nd_decode(int linktype, const uint8_t *frame, size_t caplen,
			 size_t wirelen, struct nd_tcp *out, struct pg_err *err)
{
	struct cur c = cur_init(frame, caplen);
	struct nd_frame fr = { caplen, wirelen > caplen ? wirelen : caplen };
	memset(out, 0, sizeof *out);
	size_t at;
	uint16_t type;

	switch (linktype) {
	case 1:                              /* EN10MB */
		cur_skip(&c, 12);
		at = cur_off(&c);
		type = cur_u16be(&c);
		if (c.err)
			return nd_bad(err, c.err_off, "eth/type",
				      "Ethernet header cut short");
		if (type < ETH_MINTYPE)      /* 802.3 length: LLC/SNAP */
			return ND_NOT_IP;
		return nd_ethertype(&c, &fr, at, type, out, err);
	case 113:                            /* LINUX_SLL */
		cur_skip(&c, 14);
		at = cur_off(&c);
		type = cur_u16be(&c);
		if (c.err)
			return nd_bad(err, c.err_off, "sll/protocol",
				      "cooked header cut short");
		return nd_ethertype(&c, &fr, at, type, out, err);
	case 276:                            /* LINUX_SLL2 */
		type = cur_u16be(&c);
		cur_skip(&c, 18);
		if (c.err)
			return nd_bad(err, c.err_off, "sll2/protocol",
				      "cooked v2 header cut short");
		return nd_ethertype(&c, &fr, 0, type, out, err);
	case 12: case 14: case 101:          /* RAW */
		return nd_by_version(&c, &fr, out, err);
	case 228:
		return nd_ipv4(&c, &fr, out, err);
	case 229:
		return nd_ipv6(&c, &fr, out, err);
	case 0:
		return nd_null(&c, &fr, 0, out, err);
	case 108:
		return nd_null(&c, &fr, 1, out, err);
	default:
		pg_err_set(err, PG_NO_OFFSET, "linktype",
			   "link type %d not supported", linktype);
		return ND_LINKTYPE;
	}
}

char *nd_addr_str(int af, const uint8_t *a, char *buf, size_t n)
{
	if (!buf || n == 0)
		return buf;
	buf[0] = '\0';
	if (!a)
		return buf;
	if (!inet_ntop(af == 6 ? AF_INET6 : AF_INET, a, buf, (socklen_t)n))
		snprintf(buf, n, "?");
	return buf;
}
