/* fuzz_wstate.c - the watcher's state file (agent/watch/wstate.c) is read
 * back at start from a folder an attacker may write: its parser must refuse
 * anything malformed without reading outside the buffer, and what it accepts
 * must serialise back to bytes it accepts again, to the same projects. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wstate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pg_wstate s, t;
	char err[512];
	if (pg_wstate_parse(data, size, &s, err, sizeof err) != 0) {
		if (!err[0])
			abort();       /* a refusal always says why */
		pg_wstate_free(&s);
		return 0;
	}
	size_t len;
	char *txt = pg_wstate_serialize(&s, &len);
	if (!txt)
		abort();
	if (pg_wstate_parse((const uint8_t *)txt, len, &t, err, sizeof err) != 0 || t.n != s.n ||
	    t.saved != s.saved || t.last_seq != s.last_seq || strcmp(t.run, s.run) != 0)
		abort();
	for (size_t i = 0; i < s.n; i++) {
		const struct pg_wstate_proj *a = &s.v[i], *b = &t.v[i];
		if (strcmp(a->path, b->path) != 0 || a->status != b->status ||
		    a->has_digest != b->has_digest || memcmp(a->digest, b->digest, 32) != 0 ||
		    a->flags != b->flags || (!a->baseline) != (!b->baseline) ||
		    (a->baseline && strcmp(a->baseline, b->baseline) != 0))
			abort();
	}
	free(txt);
	pg_wstate_free(&s);
	pg_wstate_free(&t);
	return 0;
}
