/*
 * fuzz_mc7.c - libFuzzer target for parsers/mc7.c.
 *
 * The input is copied into an exact-size heap buffer (so ASan flags a read
 * one byte past the end) and given to mc7_parse() and mc7_sniff().  The first
 * bytes are also tried as a wire file name and as a block id string, which
 * are untrusted too.  A successful parse must agree with mc7_sniff().
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mc7.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *buf = calloc(1, size ? size : 1);
	if (!buf)
		return 0;
	if (size)
		memcpy(buf, data, size);

	struct mc7_block m;
	struct pg_err e;
	int rc = mc7_parse(buf, size, &m, &e);
	int sniff = mc7_sniff(buf, size);
	if (rc == 0) {
		char id[32];
		if (!sniff || m.load_len != size || !mc7_type_name(m.type))
			abort();   /* parse and sniff disagree */
		mc7_block_id(m.type, m.number, id, sizeof id);
		(void)mc7_lang_name(m.lang);
	}

	if (size >= 9) {
		uint8_t t;
		uint16_t n;
		char fs;
		(void)mc7_parse_filename((const char *)buf, 9, &t, &n, &fs);
	}
	free(buf);

	size_t k = size < 16 ? size : 16;
	char *s = malloc(k + 1);
	if (!s)
		return 0;
	if (k)
		memcpy(s, data, k);
	s[k] = '\0';
	uint8_t t2;
	uint16_t n2;
	(void)mc7_parse_block_id(s, &t2, &n2);
	free(s);
	return 0;
}
