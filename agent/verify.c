/*
 * verify.c - baseline verification as a library call (verify.h).
 * Allocation failures never exit: they end as PG_VS_IO with a message (or,
 * when even the message cannot be allocated, a static one).
 */
#include "verify.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

const char *pg_vstatus_name(enum pg_vstatus s)
{
	switch (s) {
	case PG_VS_VERIFIED: return "verified";
	case PG_VS_DIFFERS: return "differs";
	case PG_VS_TRUST: return "trust-failure";
	case PG_VS_UNSIGNED: return "unsigned";
	case PG_VS_IO: return "error";
	}
	return "error";
}

int pg_vstatus_severity(enum pg_vstatus s)
{
	switch (s) {
	case PG_VS_VERIFIED: return 0;
	case PG_VS_DIFFERS: return 1;
	case PG_VS_UNSIGNED: return 2;
	case PG_VS_TRUST: return 3;
	case PG_VS_IO: return 4;
	}
	return 4;
}

const char *pg_baseline_failure(const struct pg_baseline *b, char *buf, size_t n)
{
	if (b->load_err[0])
		snprintf(buf, n, "baseline %s: unreadable: %s", b->id, b->load_err);
	else if (b->name_err[0])
		snprintf(buf, n, "baseline %s: %s", b->id, b->name_err);
	else if (b->checked && b->pki.verdict != PKI_OK)
		snprintf(buf, n, "baseline %s: signature %s: %s", b->id,
			 pki_verdict_name(b->pki.verdict), b->pki.detail);
	else if (!b->parsed)
		snprintf(buf, n, "baseline %s: manifest invalid: %s", b->id, b->parse_err);
	else
		snprintf(buf, n, "baseline %s: signature %s: %s", b->id,
			 pki_verdict_name(b->pki.verdict), b->pki.detail);
	return buf;
}

static void add_msg(struct pg_verify_result *r, enum pg_vmsg_class cls, int late,
		    const char *text)
{
	struct pg_vmsg *v = realloc(r->msgs, (r->n_msgs + 1) * sizeof *v);
	char *t = strdup(text);
	if (!v || !t) {
		free(t);
		if (v)
			r->msgs = v;
		r->status = PG_VS_IO;
		return;
	}
	r->msgs = v;
	v[r->n_msgs].cls = cls;
	v[r->n_msgs].late = late;
	v[r->n_msgs].text = t;
	r->n_msgs++;
}

void pg_verify_candidates(struct pg_store *st, const char *path,
			  struct pg_baseline ***out, size_t *n)
{
	char *key = NULL, *prefix = NULL;
	size_t plen = 0;
	*n = 0;
	*out = calloc(st->ix.n ? st->ix.n : 1, sizeof **out);
	if (!*out)
		return;
	if (path) {
		char *real = realpath(path, NULL);
		if (real) {
			const char *slash = strrchr(real, '/');
			const char *base = slash && slash[1] ? slash + 1 : real;
			char *name = pg_name_escape(base, strlen(base));
			key = pg_name_escape(real, strlen(real));
			prefix = pg_store_name_prefix(name);
			plen = strlen(prefix);
			free(name);
		}
		free(real);
	}
	for (size_t i = 0; i < st->ix.n; i++) {
		const struct pg_idx_entry *e = &st->ix.v[i];
		if (!path || !e->ok || (key && strcmp(e->project_path, key) == 0) ||
		    (prefix && strncmp(e->id, prefix, plen) == 0))
			(*out)[(*n)++] = pg_store_get(st, i);
	}
	free(key);
	free(prefix);
}

static int newer(const struct pg_baseline *a, const struct pg_baseline *b)
{
	if (a->m.created != b->m.created)
		return a->m.created > b->m.created;
	return strcmp(a->id, b->id) > 0;
}

/* Compare the project at path with the trusted baseline b. */
static void check_content(const char *path, const struct pg_baseline *b,
			  const struct pg_verify_opts *o, struct pg_verify_result *r)
{
	if (b->checked && b->pki.verdict == PKI_REVOCATION_UNKNOWN)
		add_msg(r, PG_VM_WARNING, 0, "revocation status unknown: allowed by --revocation warn");
	if (b->checked && b->pki.expired_since)
		add_msg(r, PG_VM_WARNING, 0, "signer certificate has expired since signing (it was valid at signing time)");
	if (!b->checked)
		add_msg(r, PG_VM_WARNING, 0, "signature NOT checked (no --trust given)");
	struct pg_scan_opts so = { o->jobs, (const char *const *)b->m.excludes,
				   b->m.n_excludes, o->progress, o->cache };
	if (pg_scan_path(path, &so, &r->scan) != 0) {
		add_msg(r, PG_VM_ERROR, 0, r->scan.n_msgs ? r->scan.msgs[0].text : "cannot scan");
		pg_scan_free(&r->scan);
		r->status = PG_VS_IO;
		return;
	}
	for (size_t i = 0; i < r->scan.n_msgs; i++)
		add_msg(r, r->scan.msgs[i].io ? PG_VM_ERROR : PG_VM_PROBLEM, 0, r->scan.msgs[i].text);
	pg_compare(&b->m.comps, &r->scan.comps, &r->changes);
	r->compared = 1;
	if (r->status != PG_VS_IO)
		r->status = r->scan.n_io_errors ? PG_VS_IO : r->changes.n ? PG_VS_DIFFERS
									    : PG_VS_VERIFIED;
}

enum pg_vstatus pg_verify_project(const char *path, struct pg_baseline **cands,
				  size_t n, const struct pg_verify_opts *o,
				  struct pg_verify_result *r)
{
	memset(r, 0, sizeof *r);
	char *real = realpath(path, NULL);
	if (!real) {
		r->path = strdup(path);
		char buf[600];
		snprintf(buf, sizeof buf, "%s: cannot resolve path", path);
		add_msg(r, PG_VM_ERROR, 0, buf);
		r->status = PG_VS_IO;
		return r->status;
	}
	r->path = real;
	char *key = pg_name_escape(real, strlen(real));
	struct pg_baseline *best = NULL, *bad = NULL;
	for (size_t i = 0; i < n; i++) {
		struct pg_baseline *b = cands[i];
		if (!o->explicit_baseline && (!b->parsed || strcmp(b->m.project_path, key) != 0))
			continue;
		if (b->trusted || (!o->trust_checked && b->parsed)) {
			if (!best || newer(b, best))
				best = b;
		} else if (!bad) {
			bad = b;
		}
	}
	free(key);
	char buf[1200];
	if (best) {
		r->baseline = best;
		check_content(real, best, o, r);
		if (bad)
			add_msg(r, PG_VM_WARNING, 1, pg_baseline_failure(bad, buf, sizeof buf));
	} else if (bad) {
		r->baseline = bad;
		add_msg(r, PG_VM_ERROR, 0, pg_baseline_failure(bad, buf, sizeof buf));
		r->status = PG_VS_TRUST;
	} else {
		add_msg(r, PG_VM_ERROR, 0, "no baseline registered for this project in the store");
		r->status = PG_VS_UNSIGNED;
	}
	return r->status;
}

void pg_verify_result_free(struct pg_verify_result *r)
{
	if (r->compared) {
		pg_changes_free(&r->changes);
		pg_scan_free(&r->scan);
	}
	for (size_t i = 0; i < r->n_msgs; i++)
		free(r->msgs[i].text);
	free(r->msgs);
	free(r->path);
	memset(r, 0, sizeof *r);
}
