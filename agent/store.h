/*
 * store.h - the baseline store: a directory of signed baselines, one folder
 * each, holding manifest.json and manifest.p7s.  Nothing in the store is
 * trusted: every entry is re-verified against the trust anchors whenever it is
 * used, and an entry whose signature fails is reported, never used.
 *
 *   STORE/<project>-<created>-<8 hex of the manifest hash>/manifest.json
 *                                                         /manifest.p7s
 * Writes are atomic: the entry is built in a hidden temporary folder (each
 * file fsync'd), then renamed into place and the store folder fsync'd.
 */
#ifndef PG_STORE_H
#define PG_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "manifest.h"
#include "pki.h"

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
};

/* Read one baseline folder (manifest.json + manifest.p7s).  Never fails hard:
 * problems are recorded in load_err / parse_err. */
void pg_baseline_load(const char *dir, const char *id, struct pg_baseline *b);

/* Check the signature and parse; sets checked/trusted.  With t == NULL the
 * signature is not checked (diff and inspect without --trust). */
void pg_baseline_check(struct pg_baseline *b, struct pki_trust *t,
		       int revocation_unknown_ok);

/* All entries of the store (unsorted); *n may be 0.  -1 if the store itself
 * cannot be read. */
int pg_store_list(const char *store, struct pg_baseline **out, size_t *n,
		  char *err, size_t errlen);
void pg_baseline_free(struct pg_baseline *b);
void pg_baselines_free(struct pg_baseline *v, size_t n);

#endif
