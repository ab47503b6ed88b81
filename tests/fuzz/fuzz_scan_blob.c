/* fuzz_scan_blob.c - the whole recognise-and-parse path that register and
 * verify run on every file: ZIP (with nested archives), MC7, PLCopen XML. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "plcopen.h"
#include "scan.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	plcopen_global_init();
	uint8_t *copy = malloc(size ? size : 1);
	if (!copy)
		return 0;
	memcpy(copy, data, size);
	struct pg_complist out = { 0 };
	struct pg_scan_msg *msgs = NULL;
	size_t n_msgs = 0;
	json_t *ann = json_object();
	pg_scan_blob("fuzz", copy, size, 0, &out, &msgs, &n_msgs, ann);
	json_decref(ann);
	for (size_t i = 0; i < n_msgs; i++)
		free(msgs[i].text);
	free(msgs);
	pg_complist_free(&out);
	free(copy);
	return 0;
}
