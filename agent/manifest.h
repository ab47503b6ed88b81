/*
 * manifest.h - the baseline manifest: an in-toto Statement v1 whose subjects
 * are the project's components and whose predicate says what was approved,
 * for which PLCs, under which ticket and change window.  Schema:
 * docs/MANIFEST.md.  The signature (agent/pki.h) covers the exact bytes.
 */
#ifndef PG_MANIFEST_H
#define PG_MANIFEST_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "pki.h"
#include "scan.h"

#define PG_STATEMENT_TYPE "https://in-toto.io/Statement/v1"
#define PG_PREDICATE_TYPE "urn:plcguard:baseline:v1"

struct pg_target {
	char *address;   /* IPv4 or IPv6 literal, normalised */
	int rack, slot;  /* -1 when not given */
	int unit;        /* Modbus unit id, -1 when not given */
};

struct pg_manifest {
	char *project_name;
	char *project_path;      /* realpath at registration */
	char *format;
	int is_dir;
	char **excludes;
	size_t n_excludes;
	struct pg_target *targets;
	size_t n_targets;
	char *ticket;            /* may be NULL */
	char *note;              /* may be NULL */
	int has_window;
	time_t win_from, win_to;
	time_t created;
	int has_signer;
	struct pki_signer signer; /* as declared in the manifest */
	char *tool;               /* "plcguard 0.1.0" */
	struct pg_complist comps; /* sorted by name */
};

/* Serialise to JSON (UTF-8, newline-terminated). *len gets the size. */
char *pg_manifest_serialize(const struct pg_manifest *m, size_t *len);

/*
 * Parse and validate manifest bytes (untrusted: call only on bytes whose
 * signature was checked, or to report on a bad store entry).  Errors name the
 * JSON field: "subject[3].digest.sha256: not 64 hex digits".
 */
int pg_manifest_parse(const uint8_t *buf, size_t len, struct pg_manifest *m,
		      char *err, size_t errlen);
void pg_manifest_free(struct pg_manifest *m);

/* "10.0.0.5", "10.0.0.5,rack=0,slot=2", "fd00::5,unit=1".  0 on success. */
int pg_target_parse(const char *s, struct pg_target *t, char *err, size_t errlen);
/* Same text back, e.g. "10.0.0.5 rack 0 slot 2". */
char *pg_target_str(const struct pg_target *t);

#endif
