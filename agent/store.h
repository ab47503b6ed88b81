/*
 * store.h - the baseline store: a directory of signed baselines, one folder
 * each, holding manifest.json and manifest.p7s.  Nothing in the store is
 * trusted: every entry is re-verified against the trust anchors whenever it is
 * used, and an entry whose signature fails is reported, never used.
 *
 *   STORE/<project>-<created>-<8 hex of the manifest hash>/manifest.json
 *                                                         /manifest.p7s
 *   STORE/.index      the store index (agent/storeidx.h): a cache of what
 *                     each entry says, so that a call reads and checks only
 *                     the entries it needs; never trusted, rebuilt when
 *                     damaged
 * Writes are atomic: the entry is built in a hidden temporary folder (each
 * file fsync'd), then renamed into place and the store folder fsync'd.
 *
 * A store entry is named after the project its signed manifest names: an
 * entry whose folder name does not begin with that name (as register writes
 * it) followed by '-' is a reported problem and is never used.
 */
#ifndef PG_STORE_H
#define PG_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "manifest.h"
#include "pki.h"
#include "storeidx.h"

/* $PLCGUARD_STORE, else /var/lib/plcguard/baselines for root, else
 * $XDG_DATA_HOME/plcguard/baselines (~/.local/share/...).  Caller frees. */
char *pg_store_default(void);

int pg_store_save(const char *store, const char *project_name, time_t created,
		  const uint8_t *manifest, size_t mlen, const uint8_t *sig,
		  size_t slen, char **id_out, char *err, size_t errlen);

struct pg_baseline {
	char *id;                 /* folder name in the store */
	char *dir;
	uint8_t *manifest;
	size_t manifest_len;
	uint8_t *sig;
	size_t sig_len;
	char load_err[512];       /* could not read the files */
	int parsed;               /* manifest parsed (trusted only if verified) */
	char parse_err[512];
	struct pg_manifest m;
	int checked;              /* signature checked */
	struct pki_result pki;
	int trusted;              /* signature OK (or allowed warning) and the
				   * manifest's declared signer is the CMS signer */
	char name_err[600];       /* trusted but the folder is named after
				   * another project: not used */
};

/* Read one baseline folder (manifest.json + manifest.p7s).  Never fails hard:
 * problems are recorded in load_err / parse_err. */
void pg_baseline_load(const char *dir, const char *id, struct pg_baseline *b);

/* Check the signature and parse; sets checked/trusted.  With t == NULL the
 * signature is not checked (diff and inspect without --trust). */
void pg_baseline_check(struct pg_baseline *b, struct pki_trust *t,
		       int revocation_unknown_ok);

/* "<project>-": how every store entry of a project (by its name) begins. */
char *pg_store_name_prefix(const char *project_name);

/* pg_baseline_check for an entry found in the store (not one named with
 * --baseline): also requires the folder name to begin with the signed
 * project's name (as pg_store_save names it) and '-'; otherwise name_err is
 * set and the entry is not trusted. */
void pg_store_check_entry(struct pg_baseline *b, struct pki_trust *t,
			  int revocation_unknown_ok);

/* All entries of the store (unsorted); *n may be 0.  -1 if the store itself
 * cannot be read. */
int pg_store_list(const char *store, struct pg_baseline **out, size_t *n,
		  char *err, size_t errlen);
void pg_baseline_free(struct pg_baseline *b);
void pg_baselines_free(struct pg_baseline *v, size_t n);

/*
 * An opened store: its index (checked against the store when opened, and
 * written back when it changed), and each entry loaded from its own files
 * and checked (pg_store_check_entry) the first time it is asked for, then
 * remembered for the life of the object: one check per entry and run.
 * Entries are in the store's readdir order; ix.v[i] holds the hints that say
 * which entries a caller needs.
 */
struct pg_store {
	struct pg_storeidx ix;
	struct pg_baseline **b;   /* per entry: NULL until read */
	unsigned char *checked;   /* per entry */
	struct pki_trust *t;      /* NULL: signatures not checked (diff) */
	int rev_warn;
	size_t n_checked, n_trusted;
};

/* 0, or -1 (err) when the store exists but cannot be listed.  ix.notice says
 * when an index file was ignored.  light: the caller selects entries by
 * project path or folder name only (PG_IDX_LIGHT). */
int pg_store_open(struct pg_store *s, const char *dir, struct pki_trust *t,
		  int revocation_unknown_ok, int light, char *err, size_t errlen);
/* Entry i, read and checked on first use; never NULL. */
struct pg_baseline *pg_store_get(struct pg_store *s, size_t i);
/* Read the files of every entry now (checked later, on first use): for a
 * process about to lose the right to read the store. */
void pg_store_preload(struct pg_store *s);
/* Writes the index back if what the checked entries said corrected it. */
void pg_store_close(struct pg_store *s);

#endif
