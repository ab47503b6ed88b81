/*
 * verify.h - baseline verification as a library call: is the project at a
 * path exactly what an engineer signed?  Used by `plcguard verify`/`diff`
 * (which serialise the result) and by `plcguard watch` (which turns it into
 * events).  Never prints, never exits.
 *
 * Order of checks (signify's lesson: trust before content):
 *   1. of the store entries that name this project (pg_verify_candidates),
 *      each one's signature, chain, usage, validity at signing time and
 *      revocation is checked (agent/store.h); an entry that fails is
 *      reported and never used;
 *   2. of the trusted ones, the newest (by its signed creation time) is the
 *      baseline;
 *   3. the project is scanned with the baseline's own (signed) exclusion
 *      patterns and compared component by component.
 */
#ifndef PG_VERIFY_H
#define PG_VERIFY_H

#include <stddef.h>

#include "compare.h"
#include "scan.h"
#include "store.h"

/* The outcome, most severe last but one (see pg_vstatus_severity). */
enum pg_vstatus {
	PG_VS_VERIFIED = 0,   /* every component as signed */
	PG_VS_DIFFERS,        /* content differs from the signed baseline */
	PG_VS_TRUST,          /* the only baselines there are fail their checks */
	PG_VS_UNSIGNED,       /* no baseline names this project */
	PG_VS_IO,             /* the project (or part of it) could not be read */
};

enum pg_vmsg_class { PG_VM_ERROR, PG_VM_PROBLEM, PG_VM_WARNING };

struct pg_vmsg {
	enum pg_vmsg_class cls;
	int late;             /* found after the comparison (said after it) */
	char *text;
};

struct pg_verify_opts {
	int jobs;             /* hashing threads, >= 1 */
	int progress;         /* progress on a terminal */
	int explicit_baseline;/* candidates were named by the user: use them
			       * whatever project they name */
	int trust_checked;    /* signatures were checked (a trust store given) */
	struct pg_scan_cache *cache; /* NULL, or the project's files as last
				      * scanned (scan.h): only what moved is hashed */
};

struct pg_verify_result {
	char *path;                      /* realpath, or the path as given */
	enum pg_vstatus status;
	const struct pg_baseline *baseline; /* the one judged against, or the
					  * failing one (borrowed); NULL */
	int compared;                    /* scan + changes below are valid */
	struct pg_scan scan;
	struct pg_changes changes;
	struct pg_vmsg *msgs;
	size_t n_msgs;
};

/* "verified", "differs", "trust-failure", "unsigned", "error". */
const char *pg_vstatus_name(enum pg_vstatus s);
/* Order for "the most severe of several": verified < differs < unsigned <
 * trust < io. */
int pg_vstatus_severity(enum pg_vstatus s);

/* Why an entry is unusable, in one sentence naming it. */
const char *pg_baseline_failure(const struct pg_baseline *b, char *buf, size_t n);

/* The entries of an open store that a verification of PATH needs, in store
 * order: those whose manifest names its project path (by the index), those
 * whose folder is named after its project (a usable baseline always is, so a
 * damaged index cannot hide one) and those that name no project at all.
 * With path == NULL, every entry.  *out is malloc'd (caller frees); entries
 * are read and checked here (pg_store_get). */
void pg_verify_candidates(struct pg_store *st, const char *path,
			  struct pg_baseline ***out, size_t *n);

/* Verify the project at path against the candidates (which the caller has
 * checked).  Fills r; free with pg_verify_result_free.  Returns r->status. */
enum pg_vstatus pg_verify_project(const char *path, struct pg_baseline **cands,
				  size_t n, const struct pg_verify_opts *o,
				  struct pg_verify_result *r);
void pg_verify_result_free(struct pg_verify_result *r);

#endif
