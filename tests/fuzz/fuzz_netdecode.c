/*
 * fuzz_netdecode.c - libFuzzer target for parsers/netdecode.c.
 *
 * Input: [0] link type index into lt[], [1] extra wire bytes beyond the
 * capture (snaplen simulation), then the frame.  The frame is copied into an
 * exact-size heap buffer so ASan flags any read past the capture.  A TCP
 * result must describe bytes inside the frame, and its payload is read whole.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "netdecode.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const int lt[] = { 1, 113, 276, 101, 228, 229, 0, 108, 12, 14, 147 };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2)
		return 0;
	int linktype = lt[data[0] % (sizeof lt / sizeof lt[0])];
	size_t extra = (size_t)data[1] * 16;
	size_t n = size - 2;
	uint8_t *buf = malloc(n ? n : 1);
	if (!buf)
		return 0;
	if (n)
		memcpy(buf, data + 2, n);

	struct nd_tcp t;
	struct pg_err e;
	pg_err_clear(&e);
	enum nd_result r = nd_decode(linktype, buf, n, n + extra, &t, &e);
	switch (r) {
	case ND_TCP: {
		if (t.af != 4 && t.af != 6)
			abort();
		if (t.len > n || t.missing > extra)
			abort();
		if (t.len && (t.payload < buf || t.payload + t.len > buf + n))
			abort();
		unsigned sum = 0;
		for (size_t i = 0; i < t.len; i++)
			sum += t.payload[i];
		if (sum > 255u * t.len)    /* reads every byte for ASan */
			abort();
		char a[48];
		nd_addr_str(t.af, t.src, a, sizeof a);
		nd_addr_str(t.af, t.dst, a, sizeof a);
		break;
	}
	case ND_BAD:
		if (!e.field[0] || e.offset == PG_NO_OFFSET || e.offset > n)
			abort();
		break;
	case ND_NOT_IP:
	case ND_NOT_TCP:
	case ND_FRAGMENT:
	case ND_LINKTYPE:
		break;
	default:
		abort();
	}
	free(buf);
	return 0;
}
