/* fuzz_storeindex.c - the store index (STORE/.index) is a cache anyone who
 * can write the store (or a damaged disk) may have changed: its parser must
 * refuse anything malformed without reading outside the buffer, and what it
 * accepts must serialise back to a file it accepts again, unchanged. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "storeidx.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pg_idx_entry *v, *w;
	size_t n, m, len;
	char err[512];
	if (pg_storeidx_parse(data, size, &v, &n, err, sizeof err) != 0)
		return 0;
	char *txt = pg_storeidx_serialize(v, n, &len);
	if (pg_storeidx_parse((const uint8_t *)txt, len, &w, &m, err, sizeof err) != 0 || m != n)
		abort();
	for (size_t i = 0; i < n; i++) {
		if (strcmp(v[i].id, w[i].id) != 0 || !pg_idx_entry_same_hints(&v[i], &w[i]) ||
		    v[i].mj.ok != w[i].mj.ok || v[i].mj.size != w[i].mj.size ||
		    v[i].sg.ino != w[i].sg.ino)
			abort();
		pg_idx_entry_free(&w[i]);
	}
	free(w);
	for (size_t i = 0; i < n; i++)
		pg_idx_entry_free(&v[i]);
	free(v);
	free(txt);
	return 0;
}
