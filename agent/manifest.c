/*
 * manifest.c - the baseline manifest in JSON (jansson).
 *
 * Layout (docs/MANIFEST.md has the full schema):
 *   { "_type": "https://in-toto.io/Statement/v1",
 *     "subject": [ { "name": "plc.xml#pou/Main",
 *                    "digest": { "plcguard-plcopen-v1": "..." },
 *                    "annotations": { "kind": "pou", ... } }, ... ],
 *     "predicateType": "urn:plcguard:baseline:v1",
 *     "predicate": { "project": {...}, "targets": [...], "ticket": ...,
 *                    "window": {...}, "signer": {...}, "created": ..., ... } }
 *
 * Parsing is strict: unknown kinds, malformed digests, duplicate or unsorted
 * names, and out-of-range sizes are errors naming the field.  Rejected
 * alternatives: a home-made line format (no standard tooling can read it) and
 * in-toto's DSSE envelope (the issue asks for detached CMS, which plant PKIs and
 * `openssl cms` already handle).
 */
#include "manifest.h"

#include <arpa/inet.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "digest.h"
#include "pg_limits.h"
#include "util.h"

static json_t *hexstr(const uint8_t d[32])
{
	char h[PG_SHA256_HEX];
	return json_string(pg_hex(d, 32, h));
}

static json_t *timestr(time_t t)
{
	char b[32];
	return json_string(pg_fmt_time(t, b, sizeof b));
}

static json_t *str_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

char *pg_target_str(const struct pg_target *t)
{
	char extra[64] = "";
	size_t o = 0;
	if (t->rack >= 0)
		o += (size_t)snprintf(extra + o, sizeof extra - o, " rack %d", t->rack);
	if (t->slot >= 0 && o < sizeof extra)
		o += (size_t)snprintf(extra + o, sizeof extra - o, " slot %d", t->slot);
	if (t->unit >= 0 && o < sizeof extra)
		snprintf(extra + o, sizeof extra - o, " unit %d", t->unit);
	return xasprintf("%s%s", t->address, extra);
}

char *pg_manifest_serialize(const struct pg_manifest *m, size_t *len)
{
	json_t *subj = json_array();
	for (size_t i = 0; i < m->comps.n; i++) {
		const struct pg_component *c = &m->comps.v[i];
		json_t *dig = json_object();
		if (c->has_sha)
			json_object_set_new(dig, "sha256", hexstr(c->sha256));
		if (c->has_fp)
			json_object_set_new(dig, c->fp_alg, hexstr(c->fp));
		json_t *ann = json_object();
		json_object_set_new(ann, "kind", json_string(c->kind));
		if (c->has_sha)
			json_object_set_new(ann, "size", json_integer((json_int_t)c->size));
		if (c->ann)
			json_object_update_missing(ann, c->ann);
		json_array_append_new(subj, json_pack("{s:s,s:o,s:o}", "name", c->name,
						      "digest", dig, "annotations", ann));
	}
	json_t *targets = json_array();
	for (size_t i = 0; i < m->n_targets; i++) {
		const struct pg_target *t = &m->targets[i];
		json_t *o = json_pack("{s:s}", "address", t->address);
		if (t->rack >= 0)
			json_object_set_new(o, "rack", json_integer(t->rack));
		if (t->slot >= 0)
			json_object_set_new(o, "slot", json_integer(t->slot));
		if (t->unit >= 0)
			json_object_set_new(o, "unit", json_integer(t->unit));
		json_array_append_new(targets, o);
	}
	json_t *ex = json_array();
	for (size_t i = 0; i < m->n_excludes; i++)
		json_array_append_new(ex, json_string(m->excludes[i]));
	json_t *window = json_null();
	if (m->has_window)
		window = json_pack("{s:o,s:o}", "from", timestr(m->win_from), "to", timestr(m->win_to));
	json_t *signer = json_null();
	if (m->has_signer)
		signer = json_pack("{s:s,s:s,s:s,s:s,s:o,s:o}",
				   "subject", m->signer.subject, "issuer", m->signer.issuer,
				   "serial", m->signer.serial, "cert_sha256", m->signer.cert_sha256,
				   "not_before", timestr(m->signer.not_before),
				   "not_after", timestr(m->signer.not_after));
	json_t *project = json_pack("{s:s,s:s,s:s,s:s,s:o}",
				    "name", m->project_name, "path", m->project_path,
				    "format", m->format, "type", m->is_dir ? "folder" : "file",
				    "excludes", ex);
	json_t *pred = json_pack("{s:i,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:s,s:i}",
				 "schema", 1, "project", project, "targets", targets,
				 "ticket", str_or_null(m->ticket), "window", window,
				 "note", str_or_null(m->note), "signer", signer,
				 "created", timestr(m->created),
				 "tool", m->tool ? m->tool : "plcguard",
				 "components", (int)m->comps.n);
	json_t *root = json_pack("{s:s,s:o,s:s,s:o}", "_type", PG_STATEMENT_TYPE,
				 "subject", subj, "predicateType", PG_PREDICATE_TYPE,
				 "predicate", pred);
	if (!root) {
		*len = 0;
		return NULL; /* a string that is not UTF-8 got through: a bug */
	}
	char *s = json_dumps(root, JSON_INDENT(1) | JSON_PRESERVE_ORDER);
	json_decref(root);
	if (!s)
		return NULL;
	size_t n = strlen(s);
	char *out = xmalloc(n + 2);
	memcpy(out, s, n);
	out[n] = '\n';
	out[n + 1] = 0;
	free(s);
	*len = n + 1;
	return out;
}

/* ------------------------------------------------------------- parsing -- */

#define FAIL(...) do { snprintf(err, errlen, __VA_ARGS__); goto fail; } while (0)

static const char *get_str(json_t *o, const char *k, int required, const char *where,
			   char *err, size_t errlen, int *bad)
{
	json_t *v = json_object_get(o, k);
	if (!v || json_is_null(v)) {
		if (required) {
			snprintf(err, errlen, "%s.%s: missing", where, k);
			*bad = 1;
		}
		return NULL;
	}
	if (!json_is_string(v) || json_string_length(v) > PG_MAX_NAME_BYTES ||
	    strlen(json_string_value(v)) != json_string_length(v)) {
		snprintf(err, errlen, "%s.%s: not a string (or too long, or holds NUL)", where, k);
		*bad = 1;
		return NULL;
	}
	return json_string_value(v);
}

static int get_time(json_t *o, const char *k, time_t *t, const char *where,
		    char *err, size_t errlen)
{
	json_t *v = json_object_get(o, k);
	if (!json_is_string(v) || pg_parse_time(json_string_value(v), t)) {
		snprintf(err, errlen, "%s.%s: not an ISO 8601 UTC time", where, k);
		return -1;
	}
	return 0;
}

static int hexfield(json_t *o, const char *k, uint8_t out[32])
{
	json_t *v = json_object_get(o, k);
	return json_is_string(v) ? pg_unhex(json_string_value(v), out, 32) : -1;
}

int pg_manifest_parse(const uint8_t *buf, size_t len, struct pg_manifest *m,
		      char *err, size_t errlen)
{
	memset(m, 0, sizeof *m);
	json_error_t je;
	json_t *root = NULL;
	int bad = 0;
	char where[64];
	if (len > PG_MAX_MANIFEST_BYTES)
		FAIL("manifest of %zu bytes exceeds the limit of %u", len, PG_MAX_MANIFEST_BYTES);
	root = json_loadb((const char *)buf, len, JSON_REJECT_DUPLICATES, &je);
	if (!root)
		FAIL("line %d column %d (byte %d): %s", je.line, je.column, je.position, je.text);
	if (!json_is_object(root))
		FAIL("top level: not a JSON object");
	const char *t = get_str(root, "_type", 1, "", err, errlen, &bad);
	if (bad)
		goto fail;
	if (strcmp(t, PG_STATEMENT_TYPE) != 0)
		FAIL("_type: '%s' is not %s", t, PG_STATEMENT_TYPE);
	t = get_str(root, "predicateType", 1, "", err, errlen, &bad);
	if (bad)
		goto fail;
	if (strcmp(t, PG_PREDICATE_TYPE) != 0)
		FAIL("predicateType: '%s' is not %s", t, PG_PREDICATE_TYPE);
	json_t *pred = json_object_get(root, "predicate");
	if (!json_is_object(pred))
		FAIL("predicate: missing or not an object");
	json_t *schema = json_object_get(pred, "schema");
	if (!json_is_integer(schema) || json_integer_value(schema) != 1)
		FAIL("predicate.schema: unsupported (this plcguard reads schema 1)");

	json_t *proj = json_object_get(pred, "project");
	if (!json_is_object(proj))
		FAIL("predicate.project: missing or not an object");
	const char *pn = get_str(proj, "name", 1, "predicate.project", err, errlen, &bad);
	const char *pp = bad ? NULL : get_str(proj, "path", 1, "predicate.project", err, errlen, &bad);
	const char *pf = bad ? NULL : get_str(proj, "format", 1, "predicate.project", err, errlen, &bad);
	const char *pt = bad ? NULL : get_str(proj, "type", 1, "predicate.project", err, errlen, &bad);
	if (bad)
		goto fail;
	if (strcmp(pt, "folder") != 0 && strcmp(pt, "file") != 0)
		FAIL("predicate.project.type: '%s' is neither folder nor file", pt);
	m->project_name = xstrdup(pn);
	m->project_path = xstrdup(pp);
	m->format = xstrdup(pf);
	m->is_dir = strcmp(pt, "folder") == 0;
	json_t *ex = json_object_get(proj, "excludes");
	if (!json_is_array(ex) || json_array_size(ex) > 1000)
		FAIL("predicate.project.excludes: missing or not an array (at most 1000)");
	m->excludes = xcalloc(json_array_size(ex) + 1, sizeof *m->excludes);
	for (size_t i = 0; i < json_array_size(ex); i++) {
		json_t *v = json_array_get(ex, i);
		if (!json_is_string(v) || json_string_length(v) >= PG_MAX_NAME_BYTES ||
		    strlen(json_string_value(v)) != json_string_length(v))
			FAIL("predicate.project.excludes[%zu]: not a pattern string", i);
		m->excludes[m->n_excludes++] = xstrdup(json_string_value(v));
	}

	json_t *tg = json_object_get(pred, "targets");
	if (!json_is_array(tg) || json_array_size(tg) > PG_MAX_TARGETS)
		FAIL("predicate.targets: missing or not an array (at most %d)", PG_MAX_TARGETS);
	m->targets = xcalloc(json_array_size(tg) + 1, sizeof *m->targets);
	for (size_t i = 0; i < json_array_size(tg); i++) {
		json_t *o = json_array_get(tg, i);
		snprintf(where, sizeof where, "predicate.targets[%zu]", i);
		if (!json_is_object(o))
			FAIL("%s: not an object", where);
		const char *a = get_str(o, "address", 1, where, err, errlen, &bad);
		if (bad)
			goto fail;
		struct pg_target *x = &m->targets[m->n_targets];
		char e2[128];
		if (pg_target_parse(a, x, e2, sizeof e2))
			FAIL("%s.address: %s", where, e2);
		m->n_targets++;
		const char *keys[] = { "rack", "slot", "unit" };
		int *dst[] = { &x->rack, &x->slot, &x->unit };
		int maxv[] = { 7, 31, 255 };
		for (int k = 0; k < 3; k++) {
			json_t *v = json_object_get(o, keys[k]);
			if (!v)
				continue;
			if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > maxv[k])
				FAIL("%s.%s: not an integer 0..%d", where, keys[k], maxv[k]);
			*dst[k] = (int)json_integer_value(v);
		}
	}
	const char *tk = get_str(pred, "ticket", 0, "predicate", err, errlen, &bad);
	const char *nt = bad ? NULL : get_str(pred, "note", 0, "predicate", err, errlen, &bad);
	const char *tool = bad ? NULL : get_str(pred, "tool", 0, "predicate", err, errlen, &bad);
	if (bad)
		goto fail;
	m->ticket = tk ? xstrdup(tk) : NULL;
	m->note = nt ? xstrdup(nt) : NULL;
	m->tool = tool ? xstrdup(tool) : NULL;
	json_t *w = json_object_get(pred, "window");
	if (w && !json_is_null(w)) {
		if (!json_is_object(w) || get_time(w, "from", &m->win_from, "predicate.window", err, errlen) ||
		    get_time(w, "to", &m->win_to, "predicate.window", err, errlen))
			goto fail;
		if (m->win_to <= m->win_from)
			FAIL("predicate.window: ends before it starts");
		m->has_window = 1;
	}
	if (get_time(pred, "created", &m->created, "predicate", err, errlen))
		goto fail;
	json_t *sg = json_object_get(pred, "signer");
	if (sg && !json_is_null(sg)) {
		if (!json_is_object(sg))
			FAIL("predicate.signer: not an object");
		const char *f[4] = { "subject", "issuer", "serial", "cert_sha256" };
		char *d[4] = { m->signer.subject, m->signer.issuer, m->signer.serial, m->signer.cert_sha256 };
		size_t dl[4] = { sizeof m->signer.subject, sizeof m->signer.issuer,
				 sizeof m->signer.serial, sizeof m->signer.cert_sha256 };
		for (int k = 0; k < 4; k++) {
			const char *v = get_str(sg, f[k], 1, "predicate.signer", err, errlen, &bad);
			if (bad)
				goto fail;
			snprintf(d[k], dl[k], "%s", v);
		}
		if (get_time(sg, "not_before", &m->signer.not_before, "predicate.signer", err, errlen) ||
		    get_time(sg, "not_after", &m->signer.not_after, "predicate.signer", err, errlen))
			goto fail;
		m->has_signer = 1;
	}

	json_t *subj = json_object_get(root, "subject");
	if (!json_is_array(subj) || json_array_size(subj) > PG_MAX_COMPONENTS)
		FAIL("subject: missing or not an array (at most %d)", PG_MAX_COMPONENTS);
	json_t *declared = json_object_get(pred, "components");
	if (!json_is_integer(declared) || (size_t)json_integer_value(declared) != json_array_size(subj))
		FAIL("predicate.components: does not equal the number of subjects (%zu)", json_array_size(subj));
	for (size_t i = 0; i < json_array_size(subj); i++) {
		json_t *s = json_array_get(subj, i);
		snprintf(where, sizeof where, "subject[%zu]", i);
		if (!json_is_object(s))
			FAIL("%s: not an object", where);
		const char *name = get_str(s, "name", 1, where, err, errlen, &bad);
		if (bad)
			goto fail;
		json_t *ann = json_object_get(s, "annotations");
		json_t *dig = json_object_get(s, "digest");
		if (!json_is_object(ann) || !json_is_object(dig))
			FAIL("%s: digest or annotations missing", where);
		const char *kind = pg_kind_intern(json_string_value(json_object_get(ann, "kind")));
		if (!kind)
			FAIL("%s.annotations.kind: missing or unknown", where);
		if (m->comps.n && strcmp(m->comps.v[m->comps.n - 1].name, name) >= 0)
			FAIL("%s.name: '%s' is duplicated or out of order", where, name);
		struct pg_component *c = pg_complist_add(&m->comps, name, kind);
		const char *k;
		json_t *v;
		json_object_foreach(dig, k, v) {
			if (strcmp(k, "sha256") == 0) {
				if (hexfield(dig, k, c->sha256))
					FAIL("%s.digest.sha256: not 64 hex digits", where);
				c->has_sha = 1;
			} else if (strcmp(k, "plcguard-plcopen-v1") == 0 ||
				   strcmp(k, "plcguard-mc7-logic-v1") == 0) {
				if (hexfield(dig, k, c->fp))
					FAIL("%s.digest.%s: not 64 hex digits", where, k);
				c->has_fp = 1;
				c->fp_alg = k[9] == 'p' ? "plcguard-plcopen-v1" : "plcguard-mc7-logic-v1";
			} else {
				FAIL("%s.digest: unknown algorithm '%.40s'", where, k);
			}
		}
		if (!c->has_sha && !c->has_fp && !json_is_true(json_object_get(ann, "encrypted")) &&
		    !json_is_true(json_object_get(ann, "unsupported_method")))
			FAIL("%s.digest: empty", where);
		json_t *sz = json_object_get(ann, "size");
		if (sz) {
			if (!json_is_integer(sz) || json_integer_value(sz) < 0)
				FAIL("%s.annotations.size: not a non-negative integer", where);
			c->size = (uint64_t)json_integer_value(sz);
		}
		c->ann = json_deep_copy(ann);
		json_object_del(c->ann, "kind");
		json_object_del(c->ann, "size");
	}
	json_decref(root);
	return 0;
fail:
	json_decref(root);
	pg_manifest_free(m);
	return -1;
}

void pg_manifest_free(struct pg_manifest *m)
{
	free(m->project_name);
	free(m->project_path);
	free(m->format);
	for (size_t i = 0; i < m->n_excludes; i++)
		free(m->excludes[i]);
	free(m->excludes);
	for (size_t i = 0; i < m->n_targets; i++)
		free(m->targets[i].address);
	free(m->targets);
	free(m->ticket);
	free(m->note);
	free(m->tool);
	pg_complist_free(&m->comps);
	memset(m, 0, sizeof *m);
}

int pg_target_parse(const char *s, struct pg_target *t, char *err, size_t errlen)
{
	memset(t, 0, sizeof *t);
	t->rack = t->slot = t->unit = -1;
	char *copy = xstrdup(s), *save = NULL;
	char *addr = strtok_r(copy, ",", &save);
	int rc = -1;
	if (!addr) {
		snprintf(err, errlen, "empty target");
		goto out;
	}
	/* [v6]-style brackets are accepted and dropped. */
	size_t al = strlen(addr);
	if (addr[0] == '[' && al > 2 && addr[al - 1] == ']') {
		addr[al - 1] = 0;
		addr++;
	}
	unsigned char bin[16];
	char norm[INET6_ADDRSTRLEN];
	if (inet_pton(AF_INET, addr, bin) == 1) {
		inet_ntop(AF_INET, bin, norm, sizeof norm);
	} else if (inet_pton(AF_INET6, addr, bin) == 1) {
		inet_ntop(AF_INET6, bin, norm, sizeof norm);
	} else {
		snprintf(err, errlen, "'%.64s' is not an IPv4 or IPv6 address", addr);
		goto out;
	}
	char *kv;
	while ((kv = strtok_r(NULL, ",", &save))) {
		char *eq = strchr(kv, '=');
		char *end;
		long v = eq ? strtol(eq + 1, &end, 10) : -1;
		if (!eq || end == eq + 1 || *end) {
			snprintf(err, errlen, "'%.64s': expected rack=N, slot=N or unit=N", kv);
			goto out;
		}
		*eq = 0;
		if (strcmp(kv, "rack") == 0 && v >= 0 && v <= 7)
			t->rack = (int)v;
		else if (strcmp(kv, "slot") == 0 && v >= 0 && v <= 31)
			t->slot = (int)v;
		else if (strcmp(kv, "unit") == 0 && v >= 0 && v <= 255)
			t->unit = (int)v;
		else {
			snprintf(err, errlen, "'%s=%ld': unknown key or out of range (rack 0-7, slot 0-31, unit 0-255)", kv, v);
			goto out;
		}
	}
	t->address = xstrdup(norm);
	rc = 0;
out:
	free(copy);
	return rc;
}
