/*
 * fuzz_ziparch.c - libFuzzer entry for parsers/ziparch.c.
 *
 * The input is copied into an exact-size heap buffer (so ASan sees a read one
 * byte past the end), sniffed, and walked under small limits with a callback
 * that hashes every entry and reads its name strings.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "digest.h"
#include "ziparch.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct fuzz_ctx {
	struct pg_sha256_ctx *sha;
	size_t entries;
};

static int hash_entry(void *ctx, const struct zip_entry_info *info, const uint8_t *data,
		      size_t len)
{
	struct fuzz_ctx *f = ctx;
	/* touch every byte we were handed */
	pg_sha256_update(f->sha, info->name, strlen(info->name));
	pg_sha256_update(f->sha, info->raw_name, strlen(info->raw_name));
	pg_sha256_update(f->sha, &info->flags, sizeof info->flags);
	if (data)
		pg_sha256_update(f->sha, data, len);
	if ((data == NULL) != (len == 0) || info->size != len)
		abort();
	if ((info->flags & (ZIPE_ENCRYPTED | ZIPE_UNSUPPORTED)) && data)
		abort();
	f->entries++;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *copy = malloc(size ? size : 1);
	if (!copy)
		return 0;
	if (size)
		memcpy(copy, data, size);

	(void)ziparch_sniff(copy, size);

	struct zip_limits lim;
	ziparch_default_limits(&lim);
	lim.max_entries = 4096;
	lim.max_entry = 4u << 20;
	lim.max_total = 16u << 20;

	struct fuzz_ctx f = { pg_sha256_new(), 0 };
	if (f.sha) {
		struct pg_err err;
		int rc = ziparch_walk(copy, size, &lim, hash_entry, &f, &err);
		if (rc != 0 && rc != -1)
			abort();
		if (rc == -1 && err.msg[0] == '\0')
			abort();
		uint8_t md[32];
		pg_sha256_final(f.sha, md);
		pg_sha256_free(f.sha);
	}
	free(copy);
	return 0;
}
