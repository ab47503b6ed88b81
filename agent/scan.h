/*
 * scan.h - turn a project on disk (a file, a folder, an archive) into the
 * sorted list of components that a baseline records and verify compares.
 *
 * A component has a unique name that says where it lives:
 *   "System/PEData.plf"                      a file in a project folder
 *   "proj.zap16!System/PEData.plf"           an entry of a ZIP archive
 *   "plc.xml#pou/PumpControl"                a POU inside PLCopen XML
 *   "blocks/OB1.mc7#s7/OB1"                  the S7 block held in a file
 *   "S7 Program(1)/OB1"                      a block of a STEP 7 V5 project's
 *                                            S7 program (agent/step7.c)
 * Files are read through the open descriptor, compared by fstat before and
 * after (a file that changes while it is hashed is an error, not a hash), and
 * recognised by content, never by name.  Parsing happens in parsers/.
 */
#ifndef PG_SCAN_H
#define PG_SCAN_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

struct pg_component {
	char *name;          /* unique key, see above */
	const char *kind;    /* static: "file", "link", "special", "zip-entry", "pou",
			      * "datatype", "configuration", "resource", "task", "s7-block" */
	uint64_t size;       /* bytes (files, entries, blocks); 0 for items */
	int has_sha;
	uint8_t sha256[32];  /* SHA-256 of the bytes */
	int has_fp;
	uint8_t fp[32];      /* logic fingerprint */
	const char *fp_alg;  /* static: "plcguard-plcopen-v1", "plcguard-mc7-logic-v1" */
	json_t *ann;         /* further annotations (object, owned; may be NULL) */
};

struct pg_complist {
	struct pg_component *v;
	size_t n, cap;
};

struct pg_component *pg_complist_add(struct pg_complist *l, const char *name,
				     const char *kind);
void pg_complist_sort(struct pg_complist *l);
/* Binary search in a sorted list; NULL when absent. */
const struct pg_component *pg_complist_find(const struct pg_complist *l,
					    const char *name);
void pg_complist_free(struct pg_complist *l);
/* Which kind strings are valid (for manifests read back). */
const char *pg_kind_intern(const char *s);

/* Default exclusion patterns for lock files (see docs/MANIFEST.md). */
extern const char *const pg_default_excludes[];

/*
 * What one scan of a project learnt of each regular file: its identity and
 * times (device, inode, size, mtime, ctime) and the components read from it.
 * A long-running caller (plcguard watch) keeps one per project, so that the
 * next scan opens and hashes only the files whose identity or times moved and
 * takes the others' components from here.  ctime cannot be set from user
 * space, so content written by any process moves it; a caller that also
 * guards against a clock set back by root hashes everything now and then
 * (pg_scan_cache_clear).  Files that gave a message are never kept.
 */
struct pg_scan_cache;
struct pg_scan_cache *pg_scan_cache_new(void);   /* NULL: out of memory */
void pg_scan_cache_clear(struct pg_scan_cache *c);
void pg_scan_cache_free(struct pg_scan_cache *c);
size_t pg_scan_cache_files(const struct pg_scan_cache *c);

struct pg_scan_opts {
	int jobs;                  /* worker threads, >= 1 */
	const char *const *excludes; /* glob patterns, "GLOB" or "GLOB:empty" */
	size_t n_excludes;
	int progress;              /* show progress on a terminal */
	struct pg_scan_cache *cache; /* NULL, or read and then replaced by this
				      * scan's files (see above) */
};

struct pg_scan_msg {
	char *text;                /* "path: what is wrong" */
	int io;                    /* 1: could not read (I/O); 0: could not parse */
};

struct pg_scan {
	char *root;                /* realpath of the project */
	char *project_name;        /* basename of root */
	int is_dir;
	char *format;              /* "beremiz", "tia-portal", "plcopen-xml", "s7-block", ... */
	struct pg_complist comps;  /* sorted by name */
	size_t n_files;
	size_t n_hashed;           /* files opened and hashed (n_files - n_hashed
				    * came from the cache) */
	uint64_t bytes;
	struct pg_scan_msg *msgs;  /* problems, in component order */
	size_t n_msgs;
	size_t n_io_errors, n_parse_errors;
};

/* 0 when the walk completed (problems are in msgs); -1 if PATH is unusable
 * (message in msgs[0]). */
int pg_scan_path(const char *path, const struct pg_scan_opts *opts,
		 struct pg_scan *out);
void pg_scan_free(struct pg_scan *s);

/* Inspect one in-memory blob (used by scan and by tests/fuzz): appends the
 * components found inside data (archive entries, POUs, blocks) to out, and
 * returns the detected format name. */
const char *pg_scan_blob(const char *prefix, const uint8_t *data, size_t len,
			 int depth, struct pg_complist *out,
			 struct pg_scan_msg **msgs, size_t *n_msgs, json_t *file_ann);

/* Internal to agent/: one S7 block component "<prefix>#s7/<id>" with its
 * annotations (scan.c), and the blocks of a STEP 7 V5 project folder rebuilt
 * from its offline tables (step7.c), added to a finished folder scan. */
struct mc7_block;
void pg_scan_add_mc7(const char *prefix, const struct mc7_block *b,
		     struct pg_complist *out);
/* The same under a full component name (STEP 7: "S7 Program(1)/OB1"). */
struct pg_component *pg_scan_add_mc7_as(const char *name, const struct mc7_block *b,
					struct pg_complist *out);
void pg_scan_step7(struct pg_scan *s);
/* inspect --extract: every rebuilt block of a STEP 7 scan written as
 * DIR/<program>/<block>.mc7 (the bytes the sniffer would see).
 * 0 ok, -1 when something could not be written (said on stderr). */
int pg_step7_extract(struct pg_scan *s, const char *dir, unsigned *written);

#endif
