/* fuzz_manifest.c - manifests from the store are untrusted until their
 * signature checks, and verify reports on bad entries by parsing them:
 * the manifest parser must survive anything. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "manifest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *copy = malloc(size ? size : 1);
	if (!copy)
		return 0;
	memcpy(copy, data, size);
	struct pg_manifest m;
	char err[512];
	if (pg_manifest_parse(copy, size, &m, err, sizeof err) == 0) {
		size_t len;
		char *txt = pg_manifest_serialize(&m, &len);
		free(txt);
		pg_manifest_free(&m);
	}
	free(copy);
	return 0;
}
