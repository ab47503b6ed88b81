/*
 * netdecode.h - link layer, IPv4/IPv6 and TCP headers of one captured frame.
 * Pure function over the frame bytes (through the cursor), no state.
 *
 * Link types (DLT values as libpcap reports them):
 *   1 EN10MB (Ethernet II, 802.1Q and QinQ tags 0x8100/0x88a8/0x9100, any depth <= 4)
 *   113 LINUX_SLL, 276 LINUX_SLL2, 12/14/101 RAW (IPv4 or IPv6 by version nibble),
 *   228 IPV4, 229 IPV6, 0 NULL/BSD loopback (host-order AF).
 */
#ifndef PG_NETDECODE_H
#define PG_NETDECODE_H

#include <stddef.h>
#include <stdint.h>
#include "pgerr.h"
#include "pg_limits.h"

/* Named maxima of the decoder: PG_ND_* in pg_limits.h. */

enum nd_result {
	ND_TCP = 0,       /* out is filled */
	ND_NOT_IP,        /* ARP, LLDP, other ethertypes: not an error */
	ND_NOT_TCP,       /* UDP, ICMP ... */
	ND_FRAGMENT,      /* IPv4/IPv6 fragment: not reassembled (counted) */
	ND_BAD,           /* malformed: err says where */
	ND_LINKTYPE,      /* unsupported link type */
};

#define ND_FIN 0x01
#define ND_SYN 0x02
#define ND_RST 0x04
#define ND_PSH 0x08
#define ND_ACK 0x10

struct nd_tcp {
	int af;                   /* 4 or 6 */
	uint8_t src[16], dst[16]; /* IPv4 in the first 4 bytes, rest zero */
	uint16_t sport, dport;
	uint32_t seq, ack;
	uint8_t flags;
	uint16_t win;
	const uint8_t *payload;   /* points into the frame */
	size_t len;               /* payload bytes present in the capture */
	size_t missing;           /* payload bytes the IP header announces but the
				     capture does not hold (snaplen): a gap */
};

/* caplen = bytes captured, wirelen = original frame length. */
enum nd_result nd_decode(int linktype, const uint8_t *frame, size_t caplen,
			 size_t wirelen, struct nd_tcp *out, struct pg_err *err);

/* "10.0.0.5" / "fd00::5" into buf (>= 48 bytes). */
char *nd_addr_str(int af, const uint8_t *a, char *buf, size_t n);

#endif
