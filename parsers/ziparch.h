/*
 * ziparch.h - ZIP-based project archives (TIA Portal .zapNN and .zalNN, any ZIP),
 * read from memory with libzip under hard limits against decompression bombs.
 *
 * ziparch_walk() calls back once per entry, in central-directory order, with
 * the entry's normalised name and its whole decompressed content; the caller
 * hashes and recognises nested formats.  Sizes announced by the archive are
 * never trusted: the bytes actually inflated are counted against the limits.
 */
#ifndef PG_ZIPARCH_H
#define PG_ZIPARCH_H

#include <stddef.h>
#include <stdint.h>

#include "pgerr.h"

/* A zero field means "use the default" (there is no "unlimited"). */
struct zip_limits {
	uint64_t max_entries;   /* default PG_ZIP_MAX_ENTRIES */
	uint64_t max_total;     /* default PG_ZIP_MAX_TOTAL */
	uint64_t max_entry;     /* default PG_ZIP_MAX_ENTRY */
	uint64_t max_ratio;     /* default PG_ZIP_MAX_RATIO */
};

void ziparch_default_limits(struct zip_limits *lim);

/* Flags describing an entry. */
#define ZIPE_DIR         0x01  /* name ends in '/': a directory entry */
#define ZIPE_ENCRYPTED   0x02  /* encrypted: content not available */
#define ZIPE_UNSAFE_NAME 0x04  /* absolute path, drive letter, or a ".." element */
#define ZIPE_DUPLICATE   0x08  /* same normalised name as an earlier entry */
#define ZIPE_BAD_NAME    0x10  /* empty, NUL, or not valid UTF-8 / CP437 */
#define ZIPE_UNSUPPORTED 0x20  /* compression method libzip cannot read */
#define ZIPE_SYMLINK     0x40  /* unix mode says symlink: content is the target */
#define ZIPE_DIR_DATA    0x80  /* directory entry that nevertheless holds bytes:
				  the content is delivered like a file's */

struct zip_entry_info {
	uint64_t index;
	const char *name;       /* normalised: '\\' -> '/', no leading "./" */
	const char *raw_name;   /* as stored */
	uint64_t size;          /* bytes actually inflated (== len) */
	uint64_t csize;         /* compressed size from the central directory */
	uint16_t method;        /* ZIP compression method */
	uint64_t offset;        /* byte offset of its local header in the archive */
	unsigned flags;         /* ZIPE_* */
};

/*
 * Return 0 to continue, non-zero to stop the walk (that value is returned).
 * data/len is NULL/0 for directories, encrypted and unsupported entries
 * (a directory entry that holds bytes anyway gets them, flagged ZIPE_DIR_DATA).
 */
typedef int (*zip_entry_cb)(void *ctx, const struct zip_entry_info *info,
			    const uint8_t *data, size_t len);

/* Cheap content test: local file header or empty-archive signature. */
int ziparch_sniff(const uint8_t *buf, size_t len);

/*
 * 0 when every entry was visited; -1 with err for an archive that cannot be
 * read or that breaks a limit (the error names the entry and the limit);
 * or the callback's non-zero value.
 */
int ziparch_walk(const uint8_t *buf, size_t len, const struct zip_limits *lim,
		 zip_entry_cb cb, void *ctx, struct pg_err *err);

#endif
