/*
 * fuzz_plcopen.c - libFuzzer target for parsers/plcopen.c.
 *
 * The input is copied into an exact-size heap buffer (so ASan sees a read one
 * byte past the end), sniffed, parsed and freed.  A successful parse must
 * give items with names; a failed one must leave a message.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "plcopen.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *buf = malloc(size ? size : 1);
	if (!buf)
		return 0;
	if (size)
		memcpy(buf, data, size);
	(void)plcopen_sniff(buf, size);
	struct plc_doc doc;
	struct pg_err err;
	if (plcopen_parse(buf, size, &doc, &err) == 0) {
		for (size_t i = 0; i < doc.n_items; i++)
			if (!doc.items[i].name || !plcopen_kind_name(doc.items[i].kind))
				abort();
		plcopen_free(&doc);
	} else if (err.msg[0] == '\0') {
		abort();
	}
	free(buf);
	return 0;
}
