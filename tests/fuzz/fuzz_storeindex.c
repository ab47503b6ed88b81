/* fuzz_storeindex.c - the store index (STORE/.index) is a cache anyone who
 * can write the store (or a damaged disk) may have changed: its parser must
 * refuse anything malformed without reading outside the buffer, accept the
 * same files whether it keeps every record or only what verify needs
 * (PG_IDX_LIGHT), and what it accepts must serialise back to a file it
 * accepts again, unchanged. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "digest.h"
#include "storeidx.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void one(const uint8_t *data, size_t size)
{
	struct pg_idx_entry *v, *w;
	size_t n, m, len;
	char err[512];
	int light = pg_storeidx_parse(data, size, PG_IDX_LIGHT, &v, &n, err, sizeof err);
	if (light == 0) {
		for (size_t i = 0; i < n; i++)
			pg_idx_entry_free(&v[i]);
		free(v);
	}
	if (pg_storeidx_parse(data, size, 0, &v, &n, err, sizeof err) != 0) {
		if (light == 0)
			abort(); /* the light parse accepts what the full one refuses */
		return;
	}
	if (light != 0)
		abort();
	char *txt = pg_storeidx_serialize(v, n, &len);
	if (pg_storeidx_parse((const uint8_t *)txt, len, 0, &w, &m, err, sizeof err) != 0 || m != n)
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
}

#define MAGIC "plcguard-store-index\t1\tplcguard " PG_VERSION "\n"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	one(data, size);
	/* The same records under this version's header line and with a right
	 * end line (entry count and checksum), so that the fuzzer gets past
	 * both to every record parser, whatever version wrote the seeds. */
	static const char kind[] = "plcguard-store-index\t";
	size_t skip = 0;
	if (size >= sizeof kind - 1 && memcmp(data, kind, sizeof kind - 1) == 0) {
		while (skip < size && data[skip] != '\n')
			skip++;
		if (skip < size)
			skip++;
	}
	size_t body = strlen(MAGIC) + size - skip;
	uint8_t *b = malloc(body + 128);
	if (!b)
		return 0;
	memcpy(b, MAGIC, strlen(MAGIC));
	if (size > skip)
		memcpy(b + strlen(MAGIC), data + skip, size - skip);
	size_t entries = 0;
	for (size_t i = 0; i + 2 < body; i++)
		if ((i == 0 || b[i - 1] == '\n') && b[i] == 'e' && b[i + 1] == '\t')
			entries++;
	uint8_t h[32];
	char hex[PG_SHA256_HEX];
	pg_sha256(b, body, h);
	int k = snprintf((char *)b + body, 128, "end\t%zu\t%s\n", entries, pg_hex(h, 32, hex));
	one(b, body + (size_t)k);
	free(b);
	return 0;
}
