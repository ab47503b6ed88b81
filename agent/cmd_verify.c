/*
 * cmd_verify.c - plcguard verify and plcguard diff.
 *
 * getopt -> the verification library (agent/verify.h: which store entries a
 * project needs, their signatures, the newest trusted one, the scan and the
 * comparison) -> the result as one JSON object -> exit code.
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
#include "verify.h"

struct vopts {
	const char *trust, *crl, *store, *baseline;
	int ocsp, json, all, rev_warn, jobs, diff;
	struct pki_trust *t;
	char *store_dir;
};

static int exit_code(enum pg_vstatus v)
{
	switch (v) {
	case PG_VS_VERIFIED: return PG_EXIT_OK;
	case PG_VS_DIFFERS: return PG_EXIT_DIFFERS;
	case PG_VS_TRUST: return PG_EXIT_TRUST;
	case PG_VS_UNSIGNED: return PG_EXIT_UNSIGNED;
	case PG_VS_IO: return PG_EXIT_IO;
	}
	return PG_EXIT_IO;
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

static void add_msgs(json_t *res, const struct pg_verify_result *r, int late)
{
	static const char *const key[] = { "errors", "problems", "warnings" };
	for (size_t i = 0; i < r->n_msgs; i++)
		if (r->msgs[i].late == late)
			add_problem(res, key[r->msgs[i].cls], r->msgs[i].text);
}

/* The result as JSON: the one object both --json and the human lines come
 * from, so that the two never disagree. */
static json_t *result_json(const struct pg_verify_result *r)
{
	json_t *res = json_pack("{s:s}", "path", r->path ? r->path : "");
	if (r->baseline) {
		json_object_set_new(res, "baseline", baseline_json(r->baseline));
		json_object_set_new(res, "signature", signature_json(r->baseline));
	}
	add_msgs(res, r, 0);
	if (r->compared) {
		const struct pg_changes *ch = &r->changes;
		json_t *arr = json_array();
		for (size_t i = 0; i < ch->n; i++) {
			const struct pg_change *c = &ch->v[i];
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
			"baseline", (json_int_t)r->baseline->m.comps.n, "current", (json_int_t)r->scan.comps.n,
			"matching", (json_int_t)ch->n_same, "changed", (json_int_t)ch->n_changed,
			"added", (json_int_t)ch->n_added, "removed", (json_int_t)ch->n_removed));
		json_object_set_new(res, "changes", arr);
	}
	add_msgs(res, r, 1);
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

static void emit(json_t *r, enum pg_vstatus v, const struct vopts *o)
{
	json_object_set_new(r, "verdict", json_string(pg_vstatus_name(v)));
	json_object_set_new(r, "exit", json_integer(exit_code(v)));
	if (o->json) {
		char *s = json_dumps(r, JSON_COMPACT | JSON_PRESERVE_ORDER);
		puts(s);
		free(s);
	} else {
		print_human(r, o);
	}
	fflush(stdout);
}

/* Verify one project path against the candidates (or an explicit
 * --baseline), print the result; returns its status. */
static enum pg_vstatus verify_path(const char *path, struct pg_baseline **all, size_t n_all,
				   const struct vopts *o)
{
	struct pg_verify_opts vo = { o->jobs, !o->json && pg_isatty_stderr(),
				     o->baseline != NULL, o->t != NULL, NULL };
	struct pg_verify_result r;
	pg_verify_project(path, all, n_all, &vo, &r);
	json_t *j = result_json(&r);
	emit(j, r.status, o);
	json_decref(j);
	enum pg_vstatus v = r.status;
	pg_verify_result_free(&r);
	return v;
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
	enum pg_vstatus worst = PG_VS_VERIFIED;
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
		pg_verify_candidates(&st, o.all ? NULL : argv[optind], &all, &n_all);
		if (!all) {
			fprintf(stderr, "plcguard %s: out of memory\n", cmd);
			rc = PG_EXIT_IO;
			goto out;
		}
	}
	/* Entries that cannot be tied to any project are still reported: a
	 * manifest edited into unreadable JSON must not just disappear. */
	for (size_t i = 0; i < n_all; i++) {
		struct pg_baseline *b = all[i];
		if (!b->parsed || b->load_err[0]) {
			char buf[1200];
			fprintf(stderr, "plcguard %s: warning: %s\n", cmd, pg_baseline_failure(b, buf, sizeof buf));
			if (o.all)
				worst = PG_VS_TRUST;
		}
	}
	if (!o.all) {
		enum pg_vstatus r = verify_path(argv[optind], all, n_all, &o);
		if (pg_vstatus_severity(r) > pg_vstatus_severity(worst))
			worst = r;
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
			enum pg_vstatus r = verify_path(b->m.project_path, all, n_all, &o);
			if (pg_vstatus_severity(r) > pg_vstatus_severity(worst))
				worst = r;
		}
		if (!projects && !o.json)
			printf("no baselines in %s\n", o.store_dir);
	}
	rc = exit_code(worst);
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
