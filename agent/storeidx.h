/*
 * storeidx.h - the store index: what each entry of the baseline store says
 * (project, creation time, targets, and which blocks, images and hashes its
 * components hold), so that `verify PATH` reads and checks only the entries
 * of one project and `sniff` only the entries that can match a transfer.
 *
 * The index is a cache and is never trusted:
 *   - it is checked against the store on every load: readdir lists the
 *     entries, and an entry whose manifest.json or manifest.p7s has another
 *     size, mtime, ctime or inode than recorded (or that the index does not
 *     know) is read again; entries gone from the store are dropped;
 *   - it only says which entries to look at: every entry used is loaded from
 *     its own files and its signature checked before any of its content is
 *     used (agent/store.c);
 *   - a damaged or hostile index file (bad header, checksum, field, limit)
 *     is ignored with a notice and rebuilt from the store.
 * A lying index can at worst hide entries, which whoever can write the store
 * could do by deleting them.
 *
 * File: STORE/.index, written atomically (pg_write_atomic); if the store is
 * not writable, $XDG_CACHE_HOME/plcguard/store-<hash of the store path>.index
 * (~/.cache/...).  Format (UTF-8 text, one record per line, fields separated
 * by one TAB; in text fields the bytes 00-1F, 7F and '%' are written %XX):
 *
 *   plcguard-store-index<TAB>1<TAB>plcguard VERSION   (another version's
 *                                 index is rebuilt: the hints are what this
 *                                 version's manifest parser says)
 *   e  ID  OK  MSTAT  SSTAT       an entry (OK: 1 readable and its manifest
 *                                 parses, 0 not: no hints follow); xSTAT is
 *                                 size.mtime_s.mtime_ns.ctime_s.ctime_ns.inode
 *                                 of manifest.json / manifest.p7s, or "-"
 *   p  CREATED  NAME  PATH        project (CREATED in seconds since 1970)
 *   t  ADDRESS  RACK  SLOT  UNIT  a target (-1: not given)
 *   b  TYPE  NUMBER  SHA  STRICT  FP   an S7 block component
 *   u  SHA                        a UMAS application image component
 *   c  SHA                        any other component with a SHA-256
 *   end  ENTRIES  SHA256          SHA-256 (hex) of every byte before this line
 * SHA, STRICT and FP are the first 8 bytes (16 hex digits) of the hash, or
 * "-": they only choose which entries to load, never decide a verdict.
 */
#ifndef PG_STOREIDX_H
#define PG_STOREIDX_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "manifest.h"
#include "pg_limits.h"

#define PG_IDX_HASH 8                 /* bytes of a hash kept as a hint */

struct pg_fkey {                      /* what says a file is unchanged */
	int ok;                       /* 0: could not be stat'ed / not a file */
	uint64_t size, ino;
	int64_t mtime_s, mtime_ns, ctime_s, ctime_ns;
};

enum pg_idx_class { PG_IDX_BLOCK = 'b', PG_IDX_UMAS = 'u', PG_IDX_OTHER = 'c' };

struct pg_idx_comp {
	uint32_t src;                 /* index in the manifest's component list
				       * (only when made from a manifest) */
	uint8_t cls;                  /* enum pg_idx_class */
	uint8_t block_type;           /* PG_IDX_BLOCK */
	uint16_t block_num;
	uint8_t has_sha, has_strict, has_fp;
	uint8_t sha[PG_IDX_HASH], strict[PG_IDX_HASH], fp[PG_IDX_HASH];
};

struct pg_idx_target {
	char *address;
	int rack, slot, unit;
	int family;                   /* 4, 6, or 0 when not an IP literal */
	uint8_t bin[16];
};

struct pg_idx_entry {
	char *id;                     /* folder name in the store */
	int light;                    /* read with PG_IDX_LIGHT: only the id, the
				       * file keys, ok, created and the project
				       * path; never written back */
	struct pg_fkey mj, sg;        /* manifest.json, manifest.p7s */
	int ok;                       /* readable and parsed: the hints below hold */
	int exact;                    /* hints made from the entry's own manifest
				       * now (src valid), not read from the file */
	time_t created;
	char *project_name, *project_path;
	struct pg_idx_target *targets;
	size_t n_targets;
	struct pg_idx_comp *comps;
	size_t n_comps;
};

struct pg_storeidx {
	char *store;
	struct pg_idx_entry *v;       /* in readdir order of the store */
	size_t n;
	int dirty;                    /* differs from the index file */
	char *file;                   /* the index file read / to write */
	int store_writable;
	char notice[600];             /* set when the index file was ignored */
	size_t reused, reread, added, dropped;
};

/* Hints of one entry from its (parsed, not necessarily verified) manifest. */
void pg_idx_entry_hints(struct pg_idx_entry *e, const struct pg_manifest *m);
/* Same hints (project, created, targets, components)?  1 when equal. */
int pg_idx_entry_same_hints(const struct pg_idx_entry *a, const struct pg_idx_entry *b);
void pg_idx_entry_free(struct pg_idx_entry *e);

#define PG_IDX_SAVE  1u   /* write the index back when it changed */
#define PG_IDX_LIGHT 2u   /* keep only what selecting by project needs (verify):
			   * the records are still all checked, not kept */

/* The file format.  parse: 0, or -1 with err (the whole file is refused);
 * never reads outside buf.  flags: PG_IDX_LIGHT or 0. */
int pg_storeidx_parse(const uint8_t *buf, size_t len, unsigned flags,
		      struct pg_idx_entry **v, size_t *n, char *err, size_t errlen);
char *pg_storeidx_serialize(const struct pg_idx_entry *v, size_t n, size_t *len); /* NULL: no memory */

/*
 * Load the index of store, check it against the store and bring it up to
 * date (see above); with PG_IDX_SAVE write it back when it changed (read
 * whole first if it was read light).  An index file that is ignored leaves a
 * message in ix->notice.  -1 (err) only when the store exists but cannot be
 * listed; a missing store is empty.  The file is read in pieces.
 */
int pg_storeidx_load(const char *store, struct pg_storeidx *ix, unsigned flags,
		     char *err, size_t errlen);
/* Write the index if dirty (quietly does nothing when it cannot, or when
 * entries were read light). 0 when written or nothing to write. */
int pg_storeidx_save(struct pg_storeidx *ix);
void pg_storeidx_free(struct pg_storeidx *ix);

/* The stat key of dirfd/path (not following a symbolic link). */
void pg_fkey_stat(int dirfd, const char *path, struct pg_fkey *k);

#endif
