/*
 * cmd_verify.c - plcguard verify and plcguard diff.
 *
 * Order of checks (signify's lesson: trust before content):
 *   1. find the baselines in the store that name this project (the store
 *      index says which entries those are; agent/storeidx.h), and check each
 *      one's signature, chain, usage, validity at signing time, revocation;
 *      an entry that fails is reported and never used.  Entries of other
 *      projects are not read; entries that cannot be tied to any project
 *      (unreadable, manifest not JSON) are read and reported on every call;
 *   2. of the trusted ones, the newest (by its signed creation time) is the
 *      baseline;
 *   3. scan the project with the baseline's own (signed) exclusion patterns
 *      and compare component by component.
 * The same result object feeds the human output and --json, so the two
 * never disagree.
 */
#include <getopt.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "compare.h"
#include "digest.h"
#include "manifest.h"
#include "pki.h"
#include "scan.h"
#include "store.h"
#include "util.h"

struct vopts {
	const char *trust, *crl, *store, *baseline;
	int ocsp, json, all, rev_warn, jobs, diff;
	struct pki_trust *t;
	char *store_dir;
};

static const char *exit_verdict(int rc)
{
	switch (rc) {
	case PG_EXIT_OK: return "verified";
	case PG_EXIT_DIFFERS: return "differs";
	case PG_EXIT_TRUST: return "trust-failure";
	case PG_EXIT_UNSIGNED: return "unsigned";
	default: return "error";
	}
}

static int severity(int rc)
{
	switch (rc) {
	case PG_EXIT_OK: return 0;
	case PG_EXIT_DIFFERS: return 1;
	case PG_EXIT_UNSIGNED: return 2;
	case PG_EXIT_TRUST: return 3;
	default: return 4;
	}
}

static json_t *jtime(time_t t)
{
	char b[32];
	return json_string(pg_fmt_time(t, b, sizeof b));
}

static json_t *signature_json(const struct pg_baseline *b)
{
	if (!b->checked)
		return json_pack("{s:s}", "verdict", "not-checked");
	const struct pki_result *r = &b->pki;
	json_t *o = json_pack("{s:s,s:s,s:s}", "verdict", pki_verdict_name(r->verdict),
			      "detail", r->detail, "revocation", r->revocation);
	if (r->signer.subject[0])
		json_object_set_new(o, "signer", json_pack("{s:s,s:s,s:s,s:s,s:o}",
			"subject", r->signer.subject, "issuer", r->signer.issuer,
			"serial", r->signer.serial, "cert_sha256", r->signer.cert_sha256,
			"not_after", jtime(r->signer.not_after)));
	if (r->signing_time)
		json_object_set_new(o, "signing_time", jtime(r->signing_time));
	if (r->expired_since)
		json_object_set_new(o, "expired_since_signing", json_true());
	return o;
}

static json_t *baseline_json(const struct pg_baseline *b)
{
	json_t *o = json_pack("{s:s}", "id", b->id);
	if (!b->parsed)
		return o;
	const struct pg_manifest *m = &b->m;
	json_object_set_new(o, "created", jtime(m->created));
	json_object_set_new(o, "format", json_string(m->format));
	json_object_set_new(o, "ticket", m->ticket ? json_string(m->ticket) : json_null());
	json_object_set_new(o, "window", m->has_window ?
			    json_pack("{s:o,s:o}", "from", jtime(m->win_from), "to", jtime(m->win_to)) :
			    json_null());
	json_t *tg = json_array();
	for (size_t i = 0; i < m->n_targets; i++) {
		char *s = pg_target_str(&m->targets[i]);
		json_array_append_new(tg, json_string(s));
		free(s);
	}
	json_object_set_new(o, "targets", tg);
	if (m->note)
		json_object_set_new(o, "note", json_string(m->note));
	return o;
}

static void add_problem(json_t *res, const char *key, const char *text)
{
	json_t *a = json_object_get(res, key);
	if (!a) {
		a = json_array();
		json_object_set_new(res, key, a);
	}
	json_array_append_new(a, json_string(text));
}

static const char *baseline_failure(const struct pg_baseline *b, char *buf, size_t n)
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

/* Compare the project at path with the trusted baseline b. */
static json_t *check_content(const char *path, struct pg_baseline *b,
			     const struct vopts *o, int *rc)
{
	json_t *res = json_pack("{s:s}", "path", path);
	json_object_set_new(res, "baseline", baseline_json(b));
	json_object_set_new(res, "signature", signature_json(b));
	if (b->checked && b->pki.verdict == PKI_REVOCATION_UNKNOWN)
		add_problem(res, "warnings", "revocation status unknown: allowed by --revocation warn");
	if (b->checked && b->pki.expired_since)
		add_problem(res, "warnings", "signer certificate has expired since signing (it was valid at signing time)");
	if (!b->checked)
		add_problem(res, "warnings", "signature NOT checked (no --trust given)");
	struct pg_scan_opts so = { o->jobs, (const char *const *)b->m.excludes,
				   b->m.n_excludes, !o->json && pg_isatty_stderr() };
	struct pg_scan s;
	if (pg_scan_path(path, &so, &s) != 0) {
		add_problem(res, "errors", s.n_msgs ? s.msgs[0].text : "cannot scan");
		pg_scan_free(&s);
		*rc = PG_EXIT_IO;
		return res;
	}
	for (size_t i = 0; i < s.n_msgs; i++)
		add_problem(res, s.msgs[i].io ? "errors" : "problems", s.msgs[i].text);
	struct pg_changes ch;
	pg_compare(&b->m.comps, &s.comps, &ch);
	json_t *arr = json_array();
	for (size_t i = 0; i < ch.n; i++) {
		const struct pg_change *c = &ch.v[i];
		const struct pg_component *x = c->cur ? c->cur : c->base;
		json_t *e = json_pack("{s:s,s:s,s:s,s:s}", "change", c->what, "name", x->name,
				      "kind", x->kind, "detail", c->detail);
		json_object_set_new(e, "logic", c->logic < 0 ? json_null() : json_boolean(c->logic));
		char hex[PG_SHA256_HEX];
		if (c->base && c->base->has_sha)
			json_object_set_new(e, "baseline_sha256", json_string(pg_hex(c->base->sha256, 32, hex)));
		if (c->cur && c->cur->has_sha)
			json_object_set_new(e, "current_sha256", json_string(pg_hex(c->cur->sha256, 32, hex)));
		json_array_append_new(arr, e);
	}
	json_object_set_new(res, "components", json_pack("{s:I,s:I,s:I,s:I,s:I,s:I}",
		"baseline", (json_int_t)b->m.comps.n, "current", (json_int_t)s.comps.n,
		"matching", (json_int_t)ch.n_same, "changed", (json_int_t)ch.n_changed,
		"added", (json_int_t)ch.n_added, "removed", (json_int_t)ch.n_removed));
	json_object_set_new(res, "changes", arr);
	*rc = s.n_io_errors ? PG_EXIT_IO : ch.n ? PG_EXIT_DIFFERS : PG_EXIT_OK;
	pg_changes_free(&ch);
	pg_scan_free(&s);
	return res;
}

static void print_human(json_t *r, const struct vopts *o)
{
	const char *v = json_string_value(json_object_get(r, "verdict"));
	const char *path = json_string_value(json_object_get(r, "path"));
	static const struct { const char *v, *label; } L[] = {
		{ "verified", "VERIFIED" }, { "differs", "DIFFERS" },
		{ "trust-failure", "UNTRUSTED" }, { "unsigned", "UNSIGNED" }, { "error", "ERROR" },
	};
	const char *label = "ERROR";
	for (size_t i = 0; i < sizeof L / sizeof L[0]; i++)
		if (strcmp(L[i].v, v) == 0)
			label = L[i].label;
	if (o->diff && strcmp(v, "verified") == 0)
		label = "UNCHANGED";
	printf("%-10s %s\n", label, path);
	json_t *b = json_object_get(r, "baseline");
	json_t *sg = json_object_get(r, "signature");
	if (b) {
		printf("  baseline  %s", json_string_value(json_object_get(b, "id")));
		if (json_object_get(b, "created"))
			printf(" (created %s)", json_string_value(json_object_get(b, "created")));
		printf("\n");
	}
	if (sg) {
		const char *sv = json_string_value(json_object_get(sg, "verdict"));
		json_t *signer = json_object_get(sg, "signer");
		if (signer)
			printf("  signer    %s (serial %s)\n",
			       json_string_value(json_object_get(signer, "subject")),
			       json_string_value(json_object_get(signer, "serial")));
		if (strcmp(sv, "ok") == 0)
			printf("  signature ok, signed %s, revocation checked by %s\n",
			       json_string_value(json_object_get(sg, "signing_time")),
			       json_string_value(json_object_get(sg, "revocation")));
		else if (strcmp(sv, "not-checked") != 0)
			printf("  signature %s: %s\n", sv, json_string_value(json_object_get(sg, "detail")));
	}
	if (b && json_object_get(b, "ticket") && !json_is_null(json_object_get(b, "ticket")))
		printf("  ticket    %s\n", json_string_value(json_object_get(b, "ticket")));
	json_t *w = b ? json_object_get(b, "window") : NULL;
	if (w && !json_is_null(w))
		printf("  window    %s/%s\n", json_string_value(json_object_get(w, "from")),
		       json_string_value(json_object_get(w, "to")));
	json_t *tg = b ? json_object_get(b, "targets") : NULL;
	for (size_t i = 0; tg && i < json_array_size(tg); i++)
		printf("  target    %s\n", json_string_value(json_array_get(tg, i)));
	json_t *cs = json_object_get(r, "components");
	if (cs)
		printf("  content   %lld of %lld components match; %lld changed, %lld added, %lld removed\n",
		       (long long)json_integer_value(json_object_get(cs, "matching")),
		       (long long)json_integer_value(json_object_get(cs, "baseline")),
		       (long long)json_integer_value(json_object_get(cs, "changed")),
		       (long long)json_integer_value(json_object_get(cs, "added")),
		       (long long)json_integer_value(json_object_get(cs, "removed")));
	json_t *ch = json_object_get(r, "changes");
	size_t limit = o->diff ? (size_t)-1 : 50;
	for (size_t i = 0; ch && i < json_array_size(ch) && i < limit; i++) {
		json_t *c = json_array_get(ch, i);
		printf("  %-8s  %s\n", json_string_value(json_object_get(c, "change")),
		       json_string_value(json_object_get(c, "detail")));
	}
	if (ch && json_array_size(ch) > limit)
		printf("  ... and %zu more (plcguard diff lists them all)\n", json_array_size(ch) - limit);
	const char *keys[] = { "errors", "problems", "warnings" };
	const char *tags[] = { "error", "problem", "warning" };
	for (int k = 0; k < 3; k++) {
		json_t *a = json_object_get(r, keys[k]);
		for (size_t i = 0; a && i < json_array_size(a); i++)
			printf("  %-8s  %s\n", tags[k], json_string_value(json_array_get(a, i)));
	}
}

static void emit(json_t *r, int rc, const struct vopts *o)
{
	json_object_set_new(r, "verdict", json_string(exit_verdict(rc)));
	json_object_set_new(r, "exit", json_integer(rc));
	if (o->json) {
		char *s = json_dumps(r, JSON_COMPACT | JSON_PRESERVE_ORDER);
		puts(s);
		free(s);
	} else {
		print_human(r, o);
	}
	fflush(stdout);
}

static int newer(const struct pg_baseline *a, const struct pg_baseline *b)
{
	if (a->m.created != b->m.created)
		return a->m.created > b->m.created;
	return strcmp(a->id, b->id) > 0;
}

/* Verify one project path against the store (or an explicit --baseline). */
static int verify_path(const char *path, struct pg_baseline **all, size_t n_all,
		       const struct vopts *o)
{
	int rc;
	char *real = realpath(path, NULL);
	if (!real) {
		json_t *r = json_pack("{s:s}", "path", path);
		char buf[600];
		snprintf(buf, sizeof buf, "%s: cannot resolve path", path);
		add_problem(r, "errors", buf);
		emit(r, PG_EXIT_IO, o);
		json_decref(r);
		return PG_EXIT_IO;
	}
	char *key = pg_name_escape(real, strlen(real));
	struct pg_baseline *best = NULL, *bad = NULL;
	for (size_t i = 0; i < n_all; i++) {
		struct pg_baseline *b = all[i];
		if (!o->baseline && (!b->parsed || strcmp(b->m.project_path, key) != 0))
			continue;
		if (b->trusted || (!o->t && b->parsed)) {
			if (!best || newer(b, best))
				best = b;
		} else if (!bad) {
			bad = b;
		}
	}
	json_t *r;
	if (best) {
		r = check_content(real, best, o, &rc);
		if (bad) {
			char buf[1200];
			add_problem(r, "warnings", baseline_failure(bad, buf, sizeof buf));
		}
	} else if (bad) {
		r = json_pack("{s:s}", "path", real);
		json_object_set_new(r, "baseline", baseline_json(bad));
		json_object_set_new(r, "signature", signature_json(bad));
		char buf[1200];
		add_problem(r, "errors", baseline_failure(bad, buf, sizeof buf));
		rc = PG_EXIT_TRUST;
	} else {
		r = json_pack("{s:s}", "path", real);
		add_problem(r, "errors", "no baseline registered for this project in the store");
		rc = PG_EXIT_UNSIGNED;
	}
	emit(r, rc, o);
	json_decref(r);
	free(key);
	free(real);
	return rc;
}

static void help(FILE *f, int diff)
{
	if (diff)
		fputs("usage: plcguard diff [--trust DIR [--crl DIR] [--ocsp]] [--store DIR]\n"
		      "         [--baseline ID|DIR] [--json] [--jobs N] PATH\n\n"
		      "List every component that changed against the newest signed baseline of PATH:\n"
		      "\"POU PumpControl changed\", \"OB1 logic changed (code)\", \"OB1 changed: timestamps\n"
		      "only\", added and removed files.  Without --trust the baseline's signature is not\n"
		      "checked (said in the output).  Exit: 0 unchanged, 1 changes, 2 trust failure,\n"
		      "3 no baseline, 64 usage, 74 I/O.\n", f);
	else
		fputs("usage: plcguard verify --trust DIR [--crl DIR] [--ocsp] [--revocation fail|warn]\n"
		      "         [--store DIR] [--baseline ID|DIR] [--json] [--jobs N] (PATH | --all)\n\n"
		      "Prove that a project on disk is exactly what an engineer signed: the baseline's\n"
		      "CMS signature, its chain to an anchor in --trust, the code-signing usage, the\n"
		      "signer's validity at signing time and revocation (CRLs in --crl; with --ocsp the\n"
		      "responder named in each certificate), then every component: none changed,\n"
		      "missing or added.\n\n"
		      "  --trust DIR          trust anchors (PEM/DER certificates)\n"
		      "  --crl DIR            CRLs (PEM/DER)\n"
		      "  --ocsp               also ask each certificate's OCSP responder\n"
		      "  --revocation POLICY  when no CRL or OCSP answer covers a CA: fail (default)\n"
		      "                       or warn\n"
		      "  --store DIR          baseline store (see plcguard register --help)\n"
		      "  --baseline ID|DIR    use this baseline instead of the newest for PATH\n"
		      "  --all                verify every project that has a baseline in the store\n"
		      "  --json               one JSON object per project (JSON lines)\n"
		      "  --jobs N             hashing threads\n\n"
		      "Exit: 0 verified, 1 content differs, 2 signature or trust failure (bad,\n"
		      "untrusted, expired or not yet valid at signing time, no code-signing usage,\n"
		      "revoked, revocation unknown), 3 no baseline (unsigned), 64 usage, 74 I/O.\n"
		      "With --all, the most severe of all projects.\n", f);
}

static int run(int argc, char **argv, int diff)
{
	static const struct option opts[] = {
		{ "trust", required_argument, 0, 't' },
		{ "crl", required_argument, 0, 'c' },
		{ "ocsp", no_argument, 0, 'O' },
		{ "revocation", required_argument, 0, 'r' },
		{ "store", required_argument, 0, 's' },
		{ "baseline", required_argument, 0, 'b' },
		{ "all", no_argument, 0, 'a' },
		{ "json", no_argument, 0, 'J' },
		{ "jobs", required_argument, 0, 'j' },
		{ "help", no_argument, 0, 'h' },
		{ 0, 0, 0, 0 },
	};
	struct vopts o;
	memset(&o, 0, sizeof o);
	o.diff = diff;
	o.jobs = pg_default_jobs();
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 't': o.trust = optarg; break;
		case 'c': o.crl = optarg; break;
		case 'O': o.ocsp = 1; break;
		case 's': o.store = optarg; break;
		case 'b': o.baseline = optarg; break;
		case 'a': o.all = 1; break;
		case 'J': o.json = 1; break;
		case 'r':
			if (strcmp(optarg, "warn") == 0)
				o.rev_warn = 1;
			else if (strcmp(optarg, "fail") != 0) {
				fprintf(stderr, "plcguard: --revocation takes fail or warn\n");
				return PG_EXIT_USAGE;
			}
			break;
		case 'j':
			o.jobs = atoi(optarg);
			if (o.jobs < 1 || o.jobs > 64) {
				fprintf(stderr, "plcguard: --jobs must be 1..64\n");
				return PG_EXIT_USAGE;
			}
			break;
		case 'h': help(stdout, diff); return 0;
		default: help(stderr, diff); return PG_EXIT_USAGE;
		}
	}
	const char *cmd = diff ? "diff" : "verify";
	int npaths = argc - optind;
	if ((o.all && npaths) || (!o.all && npaths != 1) || (diff && o.all)) {
		fprintf(stderr, "plcguard %s: give exactly one PATH%s\n", cmd, diff ? "" : " or --all");
		help(stderr, diff);
		return PG_EXIT_USAGE;
	}
	if (!diff && !o.trust) {
		fprintf(stderr, "plcguard verify: --trust DIR is required (the plant's trust anchors)\n");
		return PG_EXIT_USAGE;
	}
	if ((o.crl || o.ocsp) && !o.trust) {
		fprintf(stderr, "plcguard %s: --crl and --ocsp need --trust\n", cmd);
		return PG_EXIT_USAGE;
	}
	char err[1024];
	if (o.trust) {
		o.t = pki_trust_load(o.trust, o.crl, o.ocsp, err, sizeof err);
		if (!o.t) {
			fprintf(stderr, "plcguard %s: %s\n", cmd, err);
			return PG_EXIT_IO;
		}
	}
	o.store_dir = o.store ? xstrdup(o.store) : pg_store_default();
	struct pg_baseline one, **all = NULL;
	struct pg_store st;
	int have_store = 0;
	size_t n_all = 0;
	int rc = PG_EXIT_OK;
	memset(&one, 0, sizeof one);
	if (o.baseline) {
		char *dir = strchr(o.baseline, '/') ? xstrdup(o.baseline)
						    : xasprintf("%s/%s", o.store_dir, o.baseline);
		const char *slash = strrchr(dir, '/');
		pg_baseline_load(dir, slash ? slash + 1 : dir, &one);
		free(dir);
		pg_baseline_check(&one, o.t, o.rev_warn);
		all = xcalloc(1, sizeof *all);
		all[0] = &one;
		n_all = 1;
	} else {
		if (pg_store_open(&st, o.store_dir, o.t, o.rev_warn, 1, err, sizeof err) != 0) {
			fprintf(stderr, "plcguard %s: %s\n", cmd, err);
			rc = PG_EXIT_IO;
			goto out;
		}
		have_store = 1;
		if (st.ix.notice[0])
			fprintf(stderr, "plcguard %s: notice: %s\n", cmd, st.ix.notice);
		/* The entries this call needs, in store order: for --all every one;
		 * for one PATH those whose manifest names its project path (by the
		 * index), those whose folder is named after its project (a usable
		 * baseline always is, so the index cannot hide one), and those that
		 * name no project at all (reported below). */
		char *key = NULL, *prefix = NULL;
		size_t plen = 0;
		if (!o.all) {
			char *real = realpath(argv[optind], NULL);
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
		all = xcalloc(st.ix.n ? st.ix.n : 1, sizeof *all);
		for (size_t i = 0; i < st.ix.n; i++) {
			const struct pg_idx_entry *e = &st.ix.v[i];
			if (o.all || !e->ok || (key && strcmp(e->project_path, key) == 0) ||
			    (prefix && strncmp(e->id, prefix, plen) == 0))
				all[n_all++] = pg_store_get(&st, i);
		}
		free(key);
		free(prefix);
	}
	/* Entries that cannot be tied to any project are still reported: a
	 * manifest edited into unreadable JSON must not just disappear. */
	for (size_t i = 0; i < n_all; i++) {
		struct pg_baseline *b = all[i];
		if (!b->parsed || b->load_err[0]) {
			char buf[1200];
			fprintf(stderr, "plcguard %s: warning: %s\n", cmd, baseline_failure(b, buf, sizeof buf));
			if (o.all)
				rc = PG_EXIT_TRUST;
		}
	}
	if (!o.all) {
		int r = verify_path(argv[optind], all, n_all, &o);
		if (severity(r) > severity(rc))
			rc = r;
	} else {
		/* Newest trusted baseline per project path; untrusted ones are
		 * reported on their own. */
		size_t projects = 0;
		for (size_t i = 0; i < n_all; i++) {
			struct pg_baseline *b = all[i];
			if (!b->parsed)
				continue;
			int seen = 0;
			for (size_t k = 0; k < i; k++)
				if (all[k]->parsed && strcmp(all[k]->m.project_path, b->m.project_path) == 0)
					seen = 1;
			if (seen)
				continue;
			projects++;
			int r = verify_path(b->m.project_path, all, n_all, &o);
			if (severity(r) > severity(rc))
				rc = r;
		}
		if (!projects && !o.json)
			printf("no baselines in %s\n", o.store_dir);
	}
out:
	free(all);
	pg_baseline_free(&one);
	if (have_store)
		pg_store_close(&st);
	pki_trust_free(o.t);
	free(o.store_dir);
	return rc;
}

int cmd_verify(int argc, char **argv)
{
	return run(argc, argv, 0);
}

int cmd_diff(int argc, char **argv)
{
	return run(argc, argv, 1);
}
