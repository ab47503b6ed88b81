#include "store.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "digest.h"
#include "pg_limits.h"
#include "util.h"

char *pg_store_default(void)
{
	const char *e = getenv("PLCGUARD_STORE");
	if (e && *e)
		return xstrdup(e);
	if (geteuid() == 0)
		return xstrdup("/var/lib/plcguard/baselines");
	const char *x = getenv("XDG_DATA_HOME");
	if (x && *x)
		return xasprintf("%s/plcguard/baselines", x);
	const char *h = getenv("HOME");
	return xasprintf("%s/.local/share/plcguard/baselines", h && *h ? h : ".");
}

/* Folder-name-safe copy of a project name. */
static char *safe_name(const char *s)
{
	char *o = xmalloc(strlen(s) + 1);
	size_t n = 0;
	for (; *s && n < 48; s++) {
		char c = *s;
		o[n++] = ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			  (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.') ? c : '_';
	}
	if (!n || o[0] == '.')
		o[0] = '_', n = n ? n : 1;
	o[n] = 0;
	return o;
}

int pg_store_save(const char *store, const char *project_name, time_t created,
		  const uint8_t *manifest, size_t mlen, const uint8_t *sig,
		  size_t slen, char **id_out, char *err, size_t errlen)
{
	if (pg_mkdirs(store, 0755) != 0) {
		snprintf(err, errlen, "%s: cannot create store: %s", store, strerror(errno));
		return -1;
	}
	uint8_t h[32];
	char hex[PG_SHA256_HEX], ts[32];
	pg_sha256(manifest, mlen, h);
	pg_hex(h, 32, hex);
	struct tm tm;
	gmtime_r(&created, &tm);
	strftime(ts, sizeof ts, "%Y%m%dT%H%M%SZ", &tm);
	char *name = safe_name(project_name);
	char *id = xasprintf("%s-%s-%.8s", name, ts, hex);
	free(name);
	char *tmp = xasprintf("%s/.tmp-%s-%ld", store, id, (long)getpid());
	char *final = xasprintf("%s/%s", store, id);
	int rc = -1;
	if (mkdir(tmp, 0755) != 0) {
		snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
		goto out;
	}
	if (pg_write_atomic(tmp, "manifest.json", manifest, mlen, err, errlen) ||
	    pg_write_atomic(tmp, "manifest.p7s", sig, slen, err, errlen))
		goto cleanup;
	pg_fsync_dir(tmp);
	if (rename(tmp, final) != 0) {
		snprintf(err, errlen, "%s: %s", final,
			 errno == EEXIST || errno == ENOTEMPTY ? "a baseline with this id already exists" : strerror(errno));
		goto cleanup;
	}
	pg_fsync_dir(store);
	*id_out = id;
	id = NULL;
	rc = 0;
	goto out;
cleanup: {
		char *a = xasprintf("%s/manifest.json", tmp), *b = xasprintf("%s/manifest.p7s", tmp);
		unlink(a);
		unlink(b);
		rmdir(tmp);
		free(a);
		free(b);
	}
out:
	free(id);
	free(tmp);
	free(final);
	return rc;
}

void pg_baseline_load(const char *dir, const char *id, struct pg_baseline *b)
{
	memset(b, 0, sizeof *b);
	b->dir = xstrdup(dir);
	b->id = xstrdup(id);
	char *mp = xasprintf("%s/manifest.json", dir), *sp = xasprintf("%s/manifest.p7s", dir);
	if (pg_read_file(mp, PG_MAX_MANIFEST_BYTES, &b->manifest, &b->manifest_len,
			 b->load_err, sizeof b->load_err) == 0)
		pg_read_file(sp, PG_MAX_SIGNATURE_BYTES, &b->sig, &b->sig_len,
			     b->load_err, sizeof b->load_err);
	free(mp);
	free(sp);
}

void pg_baseline_check(struct pg_baseline *b, struct pki_trust *t,
		       int revocation_unknown_ok)
{
	if (b->load_err[0] || !b->manifest || !b->sig)
		return;
	if (t) {
		b->checked = 1;
		if (pki_verify(t, b->sig, b->sig_len, b->manifest, b->manifest_len, &b->pki) != 0 &&
		    b->pki.verdict == PKI_OK)
			b->pki.verdict = PKI_ERROR;
	}
	b->parsed = pg_manifest_parse(b->manifest, b->manifest_len, &b->m,
				      b->parse_err, sizeof b->parse_err) == 0;
	if (!t || !b->parsed)
		return;
	int sig_ok = b->pki.verdict == PKI_OK ||
		     (revocation_unknown_ok && b->pki.verdict == PKI_REVOCATION_UNKNOWN);
	/* The manifest says who signed it; the CMS says who did.  They must
	 * agree, or a valid signature of one engineer is being passed off as
	 * another's manifest. */
	if (sig_ok && b->m.has_signer &&
	    strcmp(b->m.signer.cert_sha256, b->pki.signer.cert_sha256) != 0) {
		b->pki.verdict = PKI_BAD_SIGNATURE;
		snprintf(b->pki.detail, sizeof b->pki.detail,
			 "manifest names signer certificate %.16s... but the signature was made by %.16s...",
			 b->m.signer.cert_sha256, b->pki.signer.cert_sha256);
		sig_ok = 0;
	}
	b->trusted = sig_ok;
}

char *pg_store_name_prefix(const char *project_name)
{
	char *n = safe_name(project_name ? project_name : "");
	char *p = xasprintf("%s-", n);
	free(n);
	return p;
}

void pg_store_check_entry(struct pg_baseline *b, struct pki_trust *t,
			  int revocation_unknown_ok)
{
	pg_baseline_check(b, t, revocation_unknown_ok);
	if (!t || !b->trusted || !b->parsed)
		return;
	/* The folder says which project the entry is for (the index and people
	 * go by it); the signed manifest says which it is.  They must agree. */
	char *want = pg_store_name_prefix(b->m.project_name);
	if (strncmp(b->id, want, strlen(want)) != 0) {
		b->trusted = 0;
		snprintf(b->name_err, sizeof b->name_err,
			 "folder name does not match the signed project name '%s' "
			 "(a store entry is named %s<created>-<hash>)",
			 b->m.project_name ? b->m.project_name : "", want);
	}
	free(want);
}

int pg_store_list(const char *store, struct pg_baseline **out, size_t *n,
		  char *err, size_t errlen)
{
	*out = NULL;
	*n = 0;
	DIR *d = opendir(store);
	if (!d) {
		if (errno == ENOENT)
			return 0; /* an empty store */
		snprintf(err, errlen, "%s: %s", store, strerror(errno));
		return -1;
	}
	struct dirent *de;
	size_t cap = 0;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue; /* ".", "..", and unfinished ".tmp-" entries */
		char *p = xasprintf("%s/%s", store, de->d_name);
		struct stat st;
		if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode)) {
			if (*n == cap) {
				cap = cap ? cap * 2 : 16;
				*out = xrealloc(*out, cap * sizeof **out);
			}
			pg_baseline_load(p, de->d_name, &(*out)[(*n)++]);
		}
		free(p);
	}
	closedir(d);
	return 0;
}

void pg_baseline_free(struct pg_baseline *b)
{
	free(b->id);
	free(b->dir);
	free(b->manifest);
	free(b->sig);
	if (b->parsed)
		pg_manifest_free(&b->m);
	memset(b, 0, sizeof *b);
}

void pg_baselines_free(struct pg_baseline *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		pg_baseline_free(&v[i]);
	free(v);
}

/* ------------------------------------------------------ opened store -- */

int pg_store_open(struct pg_store *s, const char *dir, struct pki_trust *t,
		  int revocation_unknown_ok, int light, char *err, size_t errlen)
{
	memset(s, 0, sizeof *s);
	s->t = t;
	s->rev_warn = revocation_unknown_ok;
	if (pg_storeidx_load(dir, &s->ix, PG_IDX_SAVE | (light ? PG_IDX_LIGHT : 0), err, errlen) != 0) {
		pg_storeidx_free(&s->ix);
		return -1;
	}
	s->b = xcalloc(s->ix.n ? s->ix.n : 1, sizeof *s->b);
	s->checked = xcalloc(s->ix.n ? s->ix.n : 1, 1);
	return 0;
}

static struct pg_baseline *read_entry(struct pg_store *s, size_t i)
{
	if (!s->b[i]) {
		char *dir = xasprintf("%s/%s", s->ix.store, s->ix.v[i].id);
		s->b[i] = xcalloc(1, sizeof *s->b[i]);
		pg_baseline_load(dir, s->ix.v[i].id, s->b[i]);
		free(dir);
	}
	return s->b[i];
}

void pg_store_preload(struct pg_store *s)
{
	for (size_t i = 0; i < s->ix.n; i++)
		read_entry(s, i);
}

struct pg_baseline *pg_store_get(struct pg_store *s, size_t i)
{
	struct pg_baseline *b = read_entry(s, i);
	if (s->checked[i])
		return b;
	s->checked[i] = 1;
	pg_store_check_entry(b, s->t, s->rev_warn);
	s->n_checked++;
	if (b->trusted && b->parsed)
		s->n_trusted++;
	/* What the entry's own files say now corrects the index (which is only
	 * a hint, and may be stale within the stat keys' resolution, or lie). */
	struct pg_idx_entry *e = &s->ix.v[i], h;
	memset(&h, 0, sizeof h);
	if (b->parsed)
		pg_idx_entry_hints(&h, &b->m);
	if (!pg_idx_entry_same_hints(e, &h))
		s->ix.dirty = 1;
	/* From now on the entry's hints are its checked manifest's (exact, and
	 * tied to its component list). */
	h.id = e->id;
	h.mj = e->mj;
	h.sg = e->sg;
	e->id = NULL;
	pg_idx_entry_free(e);
	*e = h;
	return b;
}

void pg_store_close(struct pg_store *s)
{
	if (s->ix.dirty)
		pg_storeidx_save(&s->ix);
	for (size_t i = 0; i < s->ix.n; i++)
		if (s->b && s->b[i]) {
			pg_baseline_free(s->b[i]);
			free(s->b[i]);
		}
	free(s->b);
	free(s->checked);
	pg_storeidx_free(&s->ix);
	memset(s, 0, sizeof *s);
}
