/*
 * sigma.c - single-event Sigma rules: YAML loading with libyaml (document
 * API, every node's line kept for errors), compilation of the detection
 * (wildcard patterns, PCRE2, CIDR ranges, numbers) and of the condition
 * (recursive descent to a small tree), and matching over the JSON form of an
 * event.  The subset and its semantics: docs/RULES.md.
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "sigma.h"

#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <pcre2.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

#include "pg_limits.h"

/* ---- compiled form ---- */

enum vkind { V_STR, V_NUM, V_BOOL, V_NULL };

/* pattern tokens: >= 0 a byte, T_STAR any run, T_ONE one (UTF-8) character */
#define T_STAR (-1)
#define T_ONE (-2)

struct sval {
	enum vkind kind;
	char *text;          /* the value as written (strings unescaped for display) */
	size_t tlen;
	double num;
	int b;
	int *pat;            /* wildcard pattern (string matching) */
	size_t npat;
	pcre2_code *re;
	int fam, bits;       /* cidr */
	unsigned char net[16];
};

enum { M_CONTAINS = 1, M_STARTS = 2, M_ENDS = 4, M_ALL = 8, M_RE = 16, M_CIDR = 32,
       M_EXISTS = 64, M_CASED = 128, M_NEQ = 256, M_LT = 512, M_LTE = 1024, M_GT = 2048,
       M_GTE = 4096, M_RE_I = 8192, M_RE_M = 16384, M_RE_S = 32768 };
#define M_CMP (M_LT | M_LTE | M_GT | M_GTE)

struct fcond {
	char **path;         /* dotted parts; NULL: keyword search over every string */
	size_t npath;
	char *field;         /* as written, without modifiers */
	unsigned mods;
	int exists;          /* |exists: true/false */
	struct sval *v;
	size_t nv;
};

struct group {           /* AND of conditions */
	struct fcond *c;
	size_t n;
};

struct search {          /* OR of groups */
	char *name;
	struct group *g;
	size_t n;
};

enum nkind { N_OR, N_AND, N_NOT, N_REF, N_TRUE, N_FALSE };
struct cnode {
	enum nkind k;
	size_t ref;
	struct cnode **kids;
	size_t nk;
};

struct pg_sigma_rule {
	char *file, *title, *id, *level, *service;
	struct search *s;
	size_t ns;
	struct cnode *cond;
};

struct pg_sigma_set {
	struct pg_sigma_rule **r;
	size_t n, cap;
};

/* ---- errors ---- */

struct ctx {
	const char *file;
	yaml_document_t *doc;
	char *err;
	size_t errsz, errlen;
	int nerr;
	int oom;
	int visits;
	/* the place of the current failure (one per document) */
	int failed;
};

static void errf(struct ctx *c, const yaml_node_t *n, const char *field, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void errf(struct ctx *c, const yaml_node_t *n, const char *field, const char *fmt, ...)
{
	c->failed = 1;
	if (c->nerr++ >= PG_SIGMA_MAX_ERRORS)
		return;
	if (!c->err || c->errsz == 0 || c->errlen + 1 >= c->errsz)
		return;
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	int w;
	if (field && *field)
		w = snprintf(c->err + c->errlen, c->errsz - c->errlen, "%s:%lu: %s: %s\n", c->file,
			     n ? (unsigned long)n->start_mark.line + 1 : 1ul, field, msg);
	else
		w = snprintf(c->err + c->errlen, c->errsz - c->errlen, "%s:%lu: %s\n", c->file,
			     n ? (unsigned long)n->start_mark.line + 1 : 1ul, msg);
	if (w > 0)
		c->errlen += (size_t)w < c->errsz - c->errlen ? (size_t)w : c->errsz - c->errlen - 1;
}

static void oom(struct ctx *c, const yaml_node_t *n)
{
	c->oom = 1;
	errf(c, n, NULL, "out of memory");
}

/* ---- small helpers ---- */

static char *dupn(const char *s, size_t n)
{
	char *d = malloc(n + 1);
	if (d) {
		memcpy(d, s, n);
		d[n] = 0;
	}
	return d;
}

static const char *sc(const yaml_node_t *n)
{
	return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

static int is_plain(const yaml_node_t *n)
{
	return n->type == YAML_SCALAR_NODE && n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
}

static int plain_null(const yaml_node_t *n)
{
	const char *s = sc(n);
	return is_plain(n) && (!*s || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") ||
			       !strcmp(s, "NULL"));
}

static int plain_bool(const yaml_node_t *n, int *b)
{
	const char *s = sc(n);
	if (!is_plain(n))
		return 0;
	if (!strcmp(s, "true") || !strcmp(s, "True") || !strcmp(s, "TRUE"))
		return *b = 1, 1;
	if (!strcmp(s, "false") || !strcmp(s, "False") || !strcmp(s, "FALSE"))
		return *b = 0, 1;
	return 0;
}

static int plain_num(const yaml_node_t *n, double *d)
{
	const char *s = sc(n);
	if (!is_plain(n) || !*s || n->data.scalar.length > 64)
		return 0;
	char *end;
	errno = 0;
	if ((s[0] == '0' && (s[1] == 'x' || s[1] == 'o')) && s[2]) {
		unsigned long long v = strtoull(s + 2, &end, s[1] == 'x' ? 16 : 8);
		if (*end || errno)
			return 0;
		*d = (double)v;
		return 1;
	}
	const char *p = s + (*s == '-' || *s == '+');
	if (!(*p >= '0' && *p <= '9') && !(*p == '.' && p[1] >= '0' && p[1] <= '9'))
		return 0;
	double v = strtod(s, &end);
	if (*end || errno || !isfinite(v))
		return 0;
	*d = v;
	return 1;
}

static yaml_node_t *node(struct ctx *c, int idx)
{
	return yaml_document_get_node(c->doc, idx);
}

/* a mapping's value for KEY, or NULL */
static yaml_node_t *mget(struct ctx *c, yaml_node_t *m, const char *key, yaml_node_t **keynode)
{
	if (!m || m->type != YAML_MAPPING_NODE)
		return NULL;
	for (yaml_node_pair_t *p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top; p++) {
		yaml_node_t *k = node(c, p->key);
		const char *ks = sc(k);
		if (ks && !strcmp(ks, key)) {
			if (keynode)
				*keynode = k;
			return node(c, p->value);
		}
	}
	return NULL;
}

static size_t nitems(const yaml_node_t *n)
{
	if (n->type == YAML_MAPPING_NODE)
		return (size_t)(n->data.mapping.pairs.top - n->data.mapping.pairs.start);
	if (n->type == YAML_SEQUENCE_NODE)
		return (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
	return 0;
}

/* Bound depth, visits (aliases make a tree of a graph) and sizes before anything else. */
static int check_bounds(struct ctx *c, yaml_node_t *n, int depth)
{
	if (!n)
		return 0;
	if (depth > PG_SIGMA_MAX_DEPTH) {
		errf(c, n, NULL, "nesting deeper than %d levels", PG_SIGMA_MAX_DEPTH);
		return -1;
	}
	if (++c->visits > PG_SIGMA_MAX_NODES) {
		errf(c, n, NULL, "more than %d YAML nodes (aliases included)", PG_SIGMA_MAX_NODES);
		return -1;
	}
	if (n->type == YAML_SCALAR_NODE) {
		if (n->data.scalar.length > PG_SIGMA_MAX_STR) {
			errf(c, n, NULL, "value longer than %d bytes", PG_SIGMA_MAX_STR);
			return -1;
		}
		if (strlen(sc(n)) != n->data.scalar.length) {
			errf(c, n, NULL, "value contains a NUL character");
			return -1;
		}
		return 0;
	}
	if (nitems(n) > PG_SIGMA_MAX_ITEMS) {
		errf(c, n, NULL, "more than %d items", PG_SIGMA_MAX_ITEMS);
		return -1;
	}
	if (n->type == YAML_SEQUENCE_NODE) {
		for (yaml_node_item_t *i = n->data.sequence.items.start; i < n->data.sequence.items.top; i++)
			if (check_bounds(c, node(c, *i), depth + 1))
				return -1;
	} else if (n->type == YAML_MAPPING_NODE) {
		for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
			if (check_bounds(c, node(c, p->key), depth + 1) ||
			    check_bounds(c, node(c, p->value), depth + 1))
				return -1;
			/* YAML forbids duplicate keys; libyaml does not check them */
			const char *k = sc(node(c, p->key));
			for (yaml_node_pair_t *q = n->data.mapping.pairs.start; k && q < p; q++) {
				const char *o = sc(node(c, q->key));
				if (o && !strcmp(o, k)) {
					errf(c, node(c, p->key), NULL, "duplicate key '%.64s'", k);
					return -1;
				}
			}
		}
	}
	return 0;
}

/* ---- freeing ---- */

static void sval_free(struct sval *v)
{
	free(v->text);
	free(v->pat);
	if (v->re)
		pcre2_code_free(v->re);
}

static void cnode_free(struct cnode *n)
{
	if (!n)
		return;
	for (size_t i = 0; i < n->nk; i++)
		cnode_free(n->kids[i]);
	free(n->kids);
	free(n);
}

static void rule_free(struct pg_sigma_rule *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->ns; i++) {
		struct search *s = &r->s[i];
		for (size_t g = 0; g < s->n; g++) {
			for (size_t k = 0; k < s->g[g].n; k++) {
				struct fcond *f = &s->g[g].c[k];
				for (size_t p = 0; p < f->npath; p++)
					free(f->path[p]);
				free(f->path);
				free(f->field);
				for (size_t v = 0; v < f->nv; v++)
					sval_free(&f->v[v]);
				free(f->v);
			}
			free(s->g[g].c);
		}
		free(s->g);
		free(s->name);
	}
	free(r->s);
	cnode_free(r->cond);
	free(r->file);
	free(r->title);
	free(r->id);
	free(r->level);
	free(r->service);
	free(r);
}

struct pg_sigma_set *pg_sigma_set_new(void)
{
	return calloc(1, sizeof(struct pg_sigma_set));
}

void pg_sigma_set_free(struct pg_sigma_set *set)
{
	if (!set)
		return;
	for (size_t i = 0; i < set->n; i++)
		rule_free(set->r[i]);
	free(set->r);
	free(set);
}

size_t pg_sigma_count(const struct pg_sigma_set *set) { return set ? set->n : 0; }
const struct pg_sigma_rule *pg_sigma_get(const struct pg_sigma_set *set, size_t i)
{
	return set && i < set->n ? set->r[i] : NULL;
}
const char *pg_sigma_rule_id(const struct pg_sigma_rule *r) { return r->id ? r->id : ""; }
const char *pg_sigma_rule_title(const struct pg_sigma_rule *r) { return r->title; }
const char *pg_sigma_rule_level(const struct pg_sigma_rule *r) { return r->level ? r->level : ""; }
const char *pg_sigma_rule_service(const struct pg_sigma_rule *r) { return r->service; }
const char *pg_sigma_rule_file(const struct pg_sigma_rule *r) { return r->file; }

/* ---- values ---- */

/* Sigma escapes: \* \? \\ are the literal characters; another \ is itself. */
static int compile_pattern(struct sval *v, const char *s, size_t len, unsigned mods)
{
	size_t cap = len + 2;
	int *p = malloc(cap * sizeof *p);
	if (!p)
		return -1;
	size_t n = 0;
	if (mods & (M_CONTAINS | M_ENDS))
		p[n++] = T_STAR;
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)s[i];
		if (ch == '\\' && i + 1 < len && (s[i + 1] == '*' || s[i + 1] == '?' || s[i + 1] == '\\')) {
			p[n++] = (unsigned char)s[++i];
		} else if (ch == '*') {
			if (!n || p[n - 1] != T_STAR)
				p[n++] = T_STAR;
		} else if (ch == '?') {
			p[n++] = T_ONE;
		} else {
			p[n++] = ch;
		}
	}
	if ((mods & (M_CONTAINS | M_STARTS)) && (!n || p[n - 1] != T_STAR))
		p[n++] = T_STAR;
	v->pat = p;
	v->npat = n;
	return 0;
}

static size_t utf8_len(const unsigned char *s, size_t left)
{
	size_t l = s[0] < 0x80 ? 1 : (s[0] & 0xE0) == 0xC0 ? 2 : (s[0] & 0xF0) == 0xE0 ? 3
		 : (s[0] & 0xF8) == 0xF0 ? 4 : 1;
	return l <= left ? l : 1;
}

static int fold(int c, int cased)
{
	return !cased && c >= 'A' && c <= 'Z' ? c + 32 : c;
}

/* Wildcard match, linear backtracking to the last star. */
static int pat_match(const int *p, size_t np, const char *str, size_t len, int cased)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t pi = 0, si = 0, star_p = (size_t)-1, star_s = 0;
	while (si < len) {
		if (pi < np && p[pi] == T_STAR) {
			star_p = pi++;
			star_s = si;
		} else if (pi < np && p[pi] == T_ONE) {
			pi++;
			si += utf8_len(s + si, len - si);
		} else if (pi < np && fold(p[pi], cased) == fold(s[si], cased)) {
			pi++;
			si++;
		} else if (star_p != (size_t)-1) {
			pi = star_p + 1;
			si = star_s += utf8_len(s + star_s, len - star_s);
		} else {
			return 0;
		}
	}
	while (pi < np && p[pi] == T_STAR)
		pi++;
	return pi == np;
}

static int parse_cidr(struct sval *v, const char *s)
{
	char buf[64];
	const char *slash = strchr(s, '/');
	size_t al = slash ? (size_t)(slash - s) : strlen(s);
	if (al == 0 || al >= sizeof buf)
		return -1;
	memcpy(buf, s, al);
	buf[al] = 0;
	if (inet_pton(AF_INET, buf, v->net) == 1)
		v->fam = 4, v->bits = 32;
	else if (inet_pton(AF_INET6, buf, v->net) == 1)
		v->fam = 6, v->bits = 128;
	else
		return -1;
	if (slash) {
		char *end;
		errno = 0;
		long b = strtol(slash + 1, &end, 10);
		if (!slash[1] || *end || errno || b < 0 || b > v->bits)
			return -1;
		v->bits = (int)b;
	}
	return 0;
}

static int cidr_match(const struct sval *v, const char *s, size_t len)
{
	char buf[64];
	unsigned char a[16];
	if (len == 0 || len >= sizeof buf)
		return 0;
	memcpy(buf, s, len);
	buf[len] = 0;
	if (inet_pton(v->fam == 4 ? AF_INET : AF_INET6, buf, a) != 1)
		return 0;
	int full = v->bits / 8, rest = v->bits % 8;
	if (memcmp(a, v->net, (size_t)full) != 0)
		return 0;
	if (rest) {
		unsigned char m = (unsigned char)(0xFF << (8 - rest));
		if ((a[full] & m) != (v->net[full] & m))
			return 0;
	}
	return 1;
}

static const struct { const char *name; unsigned bit; } modtab[] = {
	{ "contains", M_CONTAINS }, { "startswith", M_STARTS }, { "endswith", M_ENDS },
	{ "all", M_ALL }, { "re", M_RE }, { "cidr", M_CIDR }, { "exists", M_EXISTS },
	{ "cased", M_CASED }, { "neq", M_NEQ }, { "lt", M_LT }, { "lte", M_LTE }, { "gt", M_GT },
	{ "gte", M_GTE }, { "i", M_RE_I }, { "m", M_RE_M }, { "s", M_RE_S },
};

static const char *const known_unsupported[] = {
	"base64", "base64offset", "utf16le", "utf16be", "utf16", "wide", "windash", "expand",
	"fieldref", "minute", "hour", "day", "week", "month", "year", NULL,
};

/* Compile one value of condition F; N is its YAML node. */
static int compile_value(struct ctx *c, struct fcond *f, struct sval *v, yaml_node_t *n,
			 const char *where)
{
	memset(v, 0, sizeof *v);
	if (n->type != YAML_SCALAR_NODE) {
		errf(c, n, where, "a value must be a string, number, boolean or null, not a %s",
		     n->type == YAML_MAPPING_NODE ? "map" : "list");
		return -1;
	}
	const char *s = sc(n);
	size_t len = n->data.scalar.length;
	v->text = dupn(s, len);
	if (!v->text)
		return oom(c, n), -1;
	v->tlen = len;
	int b;
	if (plain_null(n))
		v->kind = V_NULL;
	else if (plain_bool(n, &b))
		v->kind = V_BOOL, v->b = b;
	else if (plain_num(n, &v->num))
		v->kind = V_NUM;
	else
		v->kind = V_STR;

	unsigned m = f->mods;
	if (m & M_EXISTS) {
		if (v->kind != V_BOOL) {
			errf(c, n, where, "modifier 'exists' needs true or false");
			return -1;
		}
		f->exists = v->b;
		return 0;
	}
	if (m & M_CMP) {
		if (v->kind != V_NUM) {
			errf(c, n, where, "modifiers lt/lte/gt/gte need a number, not '%s'", s);
			return -1;
		}
		return 0;
	}
	if (v->kind == V_NULL && (m & ~(M_NEQ | M_CASED))) {
		errf(c, n, where, "null cannot take modifiers");
		return -1;
	}
	if (m & M_RE) {
		int code;
		PCRE2_SIZE off;
		uint32_t opt = 0;
		if (m & M_RE_I) opt |= PCRE2_CASELESS;
		if (m & M_RE_M) opt |= PCRE2_MULTILINE;
		if (m & M_RE_S) opt |= PCRE2_DOTALL;
		v->re = pcre2_compile((PCRE2_SPTR)s, len, opt, &code, &off, NULL);
		if (!v->re) {
			PCRE2_UCHAR msg[256];
			pcre2_get_error_message(code, msg, sizeof msg);
			errf(c, n, where, "modifier 're': bad regular expression at offset %lu: %s",
			     (unsigned long)off, (const char *)msg);
			return -1;
		}
		return 0;
	}
	if (m & M_CIDR) {
		if (parse_cidr(v, s) != 0) {
			errf(c, n, where, "modifier 'cidr': '%s' is not an IPv4 or IPv6 network", s);
			return -1;
		}
		return 0;
	}
	if (v->kind == V_STR || (m & (M_CONTAINS | M_STARTS | M_ENDS)))
		if (compile_pattern(v, s, len, m) != 0)
			return oom(c, n), -1;
	if (v->kind != V_STR && (m & (M_CONTAINS | M_STARTS | M_ENDS)))
		v->kind = V_STR;       /* `f|contains: 12` searches the text "12" */
	return 0;
}

/* KEY: `field|mod|mod` (or `|mod` for a keyword search), VAL its value(s). */
static int compile_field(struct ctx *c, struct fcond *f, yaml_node_t *key, yaml_node_t *val,
			 const char *sname)
{
	memset(f, 0, sizeof *f);
	const char *k = sc(key);
	if (!k) {
		errf(c, key, sname, "a field name must be a string");
		return -1;
	}
	char where[512];
	snprintf(where, sizeof where, "detection.%.200s%s%.200s", sname, *k ? "." : "", k);
	const char *bar = strchr(k, '|');
	size_t fl = bar ? (size_t)(bar - k) : strlen(k);
	f->field = dupn(k, fl);
	if (!f->field)
		return oom(c, key), -1;
	if (fl) {
		size_t parts = 1;
		for (size_t i = 0; i < fl; i++)
			parts += k[i] == '.';
		if (parts > PG_SIGMA_MAX_FIELD_PARTS) {
			errf(c, key, where, "more than %d dotted parts in a field name",
			     PG_SIGMA_MAX_FIELD_PARTS);
			return -1;
		}
		f->path = calloc(parts, sizeof *f->path);
		if (!f->path)
			return oom(c, key), -1;
		const char *p = k;
		for (size_t i = 0; i < parts; i++) {
			const char *dot = memchr(p, '.', (size_t)(k + fl - p));
			size_t l = dot ? (size_t)(dot - p) : (size_t)(k + fl - p);
			if (l == 0) {
				errf(c, key, where, "empty part in the field name '%.*s'", (int)fl, k);
				return -1;
			}
			f->path[f->npath] = dupn(p, l);
			if (!f->path[f->npath])
				return oom(c, key), -1;
			f->npath++;
			p += l + 1;
		}
	}
	int nmods = 0;
	while (bar) {
		const char *m = bar + 1;
		bar = strchr(m, '|');
		size_t ml = bar ? (size_t)(bar - m) : strlen(m);
		if (++nmods > PG_SIGMA_MAX_FIELD_PARTS) {
			errf(c, key, where, "too many modifiers");
			return -1;
		}
		unsigned bit = 0;
		for (size_t i = 0; i < sizeof modtab / sizeof modtab[0]; i++)
			if (strlen(modtab[i].name) == ml && !memcmp(modtab[i].name, m, ml))
				bit = modtab[i].bit;
		if ((bit & (M_RE_I | M_RE_M | M_RE_S)) && !(f->mods & M_RE)) {
			errf(c, key, where, "modifier '%.*s' is only allowed after 're'", (int)ml, m);
			return -1;
		}
		if (!bit) {
			int known = 0;
			for (int i = 0; known_unsupported[i]; i++)
				if (strlen(known_unsupported[i]) == ml && !memcmp(known_unsupported[i], m, ml))
					known = 1;
			if (known)
				errf(c, key, where, "modifier '%.*s' is not supported by plcguard",
				     (int)(ml > 64 ? 64 : ml), m);
			else
				errf(c, key, where, "unknown modifier '%.*s'", (int)(ml > 64 ? 64 : ml), m);
			return -1;
		}
		if (f->mods & bit) {
			errf(c, key, where, "modifier '%.*s' given twice", (int)ml, m);
			return -1;
		}
		f->mods |= bit;
	}
	unsigned md = f->mods;
	int nstr = !!(md & M_CONTAINS) + !!(md & M_STARTS) + !!(md & M_ENDS);
	int ncmp = !!(md & M_LT) + !!(md & M_LTE) + !!(md & M_GT) + !!(md & M_GTE);
	if (nstr > 1 || ncmp > 1 || ((md & M_RE) && (nstr || (md & M_CIDR))) ||
	    ((md & M_CIDR) && nstr) || (ncmp && (md & (M_RE | M_CIDR) || nstr)) ||
	    ((md & M_EXISTS) && (md & ~M_EXISTS))) {
		errf(c, key, where, "this combination of modifiers is not supported");
		return -1;
	}
	if (!fl && (md & ~(M_ALL | M_CONTAINS | M_STARTS | M_ENDS | M_CASED | M_RE | M_RE_I |
			   M_RE_M | M_RE_S))) {
		errf(c, key, where, "a keyword search (no field name) takes only string modifiers");
		return -1;
	}
	if (val->type == YAML_SEQUENCE_NODE) {
		size_t n = nitems(val);
		if (n == 0) {
			errf(c, val, where, "empty list of values");
			return -1;
		}
		if ((md & M_EXISTS) && n != 1) {
			errf(c, val, where, "modifier 'exists' takes one value");
			return -1;
		}
		f->v = calloc(n, sizeof *f->v);
		if (!f->v)
			return oom(c, val), -1;
		for (yaml_node_item_t *i = val->data.sequence.items.start; i < val->data.sequence.items.top; i++) {
			yaml_node_t *vn = node(c, *i);
			if (compile_value(c, f, &f->v[f->nv++], vn, where))
				return -1;
			if (f->v[f->nv - 1].kind == V_NULL && n > 1) {
				errf(c, vn, where, "null cannot be part of a list of values (use its own selection)");
				return -1;
			}
		}
	} else {
		if (md & M_ALL) {
			errf(c, val, where, "modifier 'all' needs a list of values");
			return -1;
		}
		f->v = calloc(1, sizeof *f->v);
		if (!f->v)
			return oom(c, val), -1;
		f->nv = 1;
		if (compile_value(c, f, f->v, val, where))
			return -1;
	}
	return 0;
}

static int compile_map(struct ctx *c, struct group *g, yaml_node_t *m, const char *sname)
{
	size_t n = nitems(m);
	if (n == 0) {
		errf(c, m, sname, "empty map");
		return -1;
	}
	g->c = calloc(n, sizeof *g->c);
	if (!g->c)
		return oom(c, m), -1;
	for (yaml_node_pair_t *p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top; p++)
		if (compile_field(c, &g->c[g->n++], node(c, p->key), node(c, p->value), sname))
			return -1;
	return 0;
}

static int compile_search(struct ctx *c, struct search *s, yaml_node_t *key, yaml_node_t *v)
{
	char where[300];
	snprintf(where, sizeof where, "detection.%.200s", s->name);
	if (v->type == YAML_MAPPING_NODE) {
		s->g = calloc(1, sizeof *s->g);
		if (!s->g)
			return oom(c, v), -1;
		s->n = 1;
		return compile_map(c, s->g, v, s->name);
	}
	if (v->type != YAML_SEQUENCE_NODE || nitems(v) == 0) {
		errf(c, v, where, "a search identifier must be a map, a list of maps or a list of keywords");
		return -1;
	}
	size_t n = nitems(v);
	int maps = node(c, *v->data.sequence.items.start)->type == YAML_MAPPING_NODE;
	if (!maps) {
		/* a list of keywords: one condition without a field, values OR-ed */
		s->g = calloc(1, sizeof *s->g);
		if (!s->g || !(s->g->c = calloc(1, sizeof *s->g->c)))
			return oom(c, v), -1;
		s->n = 1;
		s->g->n = 1;
		yaml_node_t kn = *key;
		kn.data.scalar.value = (yaml_char_t *)"";
		kn.data.scalar.length = 0;
		for (yaml_node_item_t *i = v->data.sequence.items.start; i < v->data.sequence.items.top; i++)
			if (node(c, *i)->type != YAML_SCALAR_NODE) {
				errf(c, node(c, *i), where, "a list mixes keywords and maps");
				return -1;
			}
		return compile_field(c, s->g->c, &kn, v, s->name);
	}
	s->g = calloc(n, sizeof *s->g);
	if (!s->g)
		return oom(c, v), -1;
	for (yaml_node_item_t *i = v->data.sequence.items.start; i < v->data.sequence.items.top; i++) {
		yaml_node_t *m = node(c, *i);
		if (m->type != YAML_MAPPING_NODE) {
			errf(c, m, where, "a list mixes maps and keywords");
			return -1;
		}
		if (compile_map(c, &s->g[s->n++], m, s->name))
			return -1;
	}
	return 0;
}

/* ---- the condition ---- */

enum tok { TK_END, TK_ID, TK_LP, TK_RP, TK_AND, TK_OR, TK_NOT, TK_ONE, TK_ALL, TK_OF, TK_THEM, TK_BAD };

struct cparse {
	struct ctx *c;
	yaml_node_t *n;
	struct pg_sigma_rule *r;
	const char *s;
	size_t pos, tpos, tlen;
	enum tok t;
	int depth;
};

static void cnext(struct cparse *p)
{
	const char *s = p->s;
	while (s[p->pos] == ' ' || s[p->pos] == '\t' || s[p->pos] == '\n' || s[p->pos] == '\r')
		p->pos++;
	p->tpos = p->pos;
	char ch = s[p->pos];
	if (!ch) {
		p->t = TK_END;
		p->tlen = 0;
		return;
	}
	if (ch == '(' || ch == ')') {
		p->t = ch == '(' ? TK_LP : TK_RP;
		p->tlen = 1;
		p->pos++;
		return;
	}
	size_t e = p->pos;
	while (s[e] && (s[e] == '_' || s[e] == '*' || s[e] == '-' || s[e] == '.' ||
			(s[e] >= 'a' && s[e] <= 'z') || (s[e] >= 'A' && s[e] <= 'Z') ||
			(s[e] >= '0' && s[e] <= '9')))
		e++;
	if (e == p->pos) {
		p->t = TK_BAD;
		p->tlen = 1;
		return;
	}
	p->tlen = e - p->pos;
	p->pos = e;
	const char *w = s + p->tpos;
#define KW(str, tk) if (p->tlen == strlen(str) && !strncmp(w, str, p->tlen)) { p->t = tk; return; }
	KW("and", TK_AND) KW("or", TK_OR) KW("not", TK_NOT) KW("1", TK_ONE) KW("all", TK_ALL)
	KW("of", TK_OF) KW("them", TK_THEM)
#undef KW
	p->t = TK_ID;
}

static void cerr(struct cparse *p, const char *what)
{
	if (p->t == TK_END)
		errf(p->c, p->n, "detection.condition", "column %lu: %s at the end of the condition",
		     (unsigned long)p->tpos + 1, what);
	else
		errf(p->c, p->n, "detection.condition", "column %lu: %s at '%.*s'",
		     (unsigned long)p->tpos + 1, what, (int)(p->tlen > 64 ? 64 : p->tlen), p->s + p->tpos);
}

static struct cnode *mk(struct cparse *p, enum nkind k)
{
	struct cnode *n = calloc(1, sizeof *n);
	if (!n)
		oom(p->c, p->n);
	else
		n->k = k;
	return n;
}

static int add_kid(struct cparse *p, struct cnode *n, struct cnode *kid)
{
	struct cnode **k = realloc(n->kids, (n->nk + 1) * sizeof *k);
	if (!k) {
		cnode_free(kid);
		oom(p->c, p->n);
		return -1;
	}
	n->kids = k;
	n->kids[n->nk++] = kid;
	return 0;
}

static int glob_name(const char *pat, size_t pl, const char *name)
{
	int *tp = malloc((pl + 1) * sizeof *tp);
	if (!tp)
		return 0;
	size_t n = 0;
	for (size_t i = 0; i < pl; i++)
		tp[n++] = pat[i] == '*' ? T_STAR : (unsigned char)pat[i];
	int r = pat_match(tp, n, name, strlen(name), 1);
	free(tp);
	return r;
}

static struct cnode *c_or(struct cparse *p);

static struct cnode *c_primary(struct cparse *p)
{
	if (p->t == TK_LP) {
		if (++p->depth > PG_SIGMA_MAX_COND_DEPTH) {
			cerr(p, "parentheses nested too deep");
			return NULL;
		}
		cnext(p);
		struct cnode *e = c_or(p);
		if (!e)
			return NULL;
		if (p->t != TK_RP) {
			cerr(p, "')' expected");
			cnode_free(e);
			return NULL;
		}
		p->depth--;
		cnext(p);
		return e;
	}
	if (p->t == TK_ONE || p->t == TK_ALL) {
		int all = p->t == TK_ALL;
		cnext(p);
		if (p->t != TK_OF) {
			cerr(p, "'of' expected");
			return NULL;
		}
		cnext(p);
		if (p->t != TK_THEM && p->t != TK_ID) {
			cerr(p, "a search identifier pattern or 'them' expected");
			return NULL;
		}
		struct cnode *n = mk(p, all ? N_AND : N_OR);
		if (!n)
			return NULL;
		for (size_t i = 0; i < p->r->ns; i++) {
			const char *nm = p->r->s[i].name;
			int hit = p->t == TK_THEM ? nm[0] != '_' : glob_name(p->s + p->tpos, p->tlen, nm);
			if (hit) {
				struct cnode *ref = mk(p, N_REF);
				if (!ref || add_kid(p, n, ref)) {
					cnode_free(n);
					return NULL;
				}
				ref->ref = i;
			}
		}
		if (!n->nk) {
			cerr(p, "no search identifier matches");
			cnode_free(n);
			return NULL;
		}
		cnext(p);
		return n;
	}
	if (p->t == TK_ID) {
		if (memchr(p->s + p->tpos, '*', p->tlen)) {
			cerr(p, "a wildcard is only allowed after '1 of' or 'all of'");
			return NULL;
		}
		for (size_t i = 0; i < p->r->ns; i++) {
			const char *nm = p->r->s[i].name;
			if (strlen(nm) == p->tlen && !strncmp(nm, p->s + p->tpos, p->tlen)) {
				struct cnode *ref = mk(p, N_REF);
				if (ref)
					ref->ref = i;
				cnext(p);
				return ref;
			}
		}
		cerr(p, "unknown search identifier");
		return NULL;
	}
	cerr(p, p->t == TK_BAD ? "unexpected character" : "a search identifier, '(', 'not', '1 of' or 'all of' expected");
	return NULL;
}

static struct cnode *c_not(struct cparse *p)
{
	if (p->t == TK_NOT) {
		if (++p->depth > PG_SIGMA_MAX_COND_DEPTH) {
			cerr(p, "'not' nested too deep");
			return NULL;
		}
		cnext(p);
		struct cnode *k = c_not(p);
		p->depth--;
		if (!k)
			return NULL;
		struct cnode *n = mk(p, N_NOT);
		if (!n || add_kid(p, n, k)) {
			if (!n)
				cnode_free(k);
			cnode_free(n);
			return NULL;
		}
		return n;
	}
	return c_primary(p);
}

static struct cnode *c_bin(struct cparse *p, enum tok op, enum nkind k,
			   struct cnode *(*sub)(struct cparse *))
{
	struct cnode *l = sub(p);
	if (!l || p->t != op)
		return l;
	struct cnode *n = mk(p, k);
	if (!n || add_kid(p, n, l)) {
		if (!n)
			cnode_free(l);
		cnode_free(n);
		return NULL;
	}
	while (p->t == op) {
		cnext(p);
		struct cnode *r = sub(p);
		if (!r || add_kid(p, n, r)) {
			cnode_free(n);
			return NULL;
		}
	}
	return n;
}

static struct cnode *c_and(struct cparse *p) { return c_bin(p, TK_AND, N_AND, c_not); }
static struct cnode *c_or(struct cparse *p) { return c_bin(p, TK_OR, N_OR, c_and); }

static struct cnode *compile_cond1(struct ctx *c, struct pg_sigma_rule *r, yaml_node_t *n)
{
	const char *s = sc(n);
	if (!s || !*s) {
		errf(c, n, "detection.condition", "must be a non-empty string");
		return NULL;
	}
	struct cparse p = { c, n, r, s, 0, 0, 0, TK_END, 0 };
	cnext(&p);
	struct cnode *e = c_or(&p);
	if (e && p.t != TK_END) {
		cerr(&p, "'and', 'or' or the end expected");
		cnode_free(e);
		return NULL;
	}
	return e;
}

/* ---- a rule document ---- */

static int is_uuid(const char *s)
{
	static const int dash[] = { 8, 13, 18, 23 };
	if (strlen(s) != 36)
		return 0;
	for (int i = 0; i < 36; i++) {
		int d = i == dash[0] || i == dash[1] || i == dash[2] || i == dash[3];
		if (d ? s[i] != '-' : !((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f') ||
					  (s[i] >= 'A' && s[i] <= 'F')))
			return 0;
	}
	return 1;
}

static int is_tag(const char *s)
{
	const char *dot = strchr(s, '.');
	if (!dot || dot == s || !dot[1])
		return 0;
	for (const char *p = s; *p; p++) {
		int ok = (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_' || *p == '-' ||
			 (*p == '.' && p > dot - 1);
		if (!ok)
			return 0;
	}
	return 1;
}

static int is_date(const char *s)
{
	int y, m, d;
	char extra;
	return strlen(s) == 10 && s[4] == '-' && s[7] == '-' &&
	       sscanf(s, "%4d-%2d-%2d%c", &y, &m, &d, &extra) == 3 && m >= 1 && m <= 12 && d >= 1 && d <= 31;
}

static int one_of(const char *s, const char *const *list)
{
	for (; *list; list++)
		if (!strcmp(s, *list))
			return 1;
	return 0;
}

/* A string-valued top-level member: NULL if absent; error if not a string. */
static int get_str(struct ctx *c, yaml_node_t *root, const char *key, const char **out,
		   yaml_node_t **where)
{
	yaml_node_t *k = NULL, *v = mget(c, root, key, &k);
	*out = NULL;
	if (where)
		*where = v;
	if (!v)
		return 0;
	if (v->type != YAML_SCALAR_NODE || plain_null(v)) {
		errf(c, v, key, "must be a string");
		return -1;
	}
	*out = sc(v);
	return 0;
}

static struct pg_sigma_rule *compile_rule(struct ctx *c, yaml_node_t *root)
{
	if (!root || root->type != YAML_MAPPING_NODE) {
		errf(c, root, NULL, "a rule must be a YAML map");
		return NULL;
	}
	yaml_node_t *k = NULL, *v;
	if ((v = mget(c, root, "action", &k))) {
		errf(c, k, "action", "rule collections ('action: %s') are not supported; write each rule "
		     "as a complete document", sc(v) ? sc(v) : "?");
		return NULL;
	}
	if ((v = mget(c, root, "correlation", &k))) {
		errf(c, k, "correlation", "correlation rules are not yet supported");
		return NULL;
	}
	if ((v = mget(c, root, "filter", &k))) {
		errf(c, k, "filter", "Sigma filters are not supported");
		return NULL;
	}
	struct pg_sigma_rule *r = calloc(1, sizeof *r);
	if (!r)
		return oom(c, root), NULL;
	const char *s;
	yaml_node_t *n;
	static const char *const levels[] = { "informational", "low", "medium", "high", "critical", NULL };
	static const char *const statuses[] = { "stable", "test", "experimental", "deprecated", "unsupported", NULL };
	static const char *const services[] = { "wire", "file", "health", NULL };

	if (get_str(c, root, "title", &s, &n))
		goto fail;
	if (!s || !*s) {
		errf(c, root, "title", "missing (a rule needs a title)");
		goto fail;
	}
	if (strlen(s) > 256) {
		errf(c, n, "title", "longer than 256 characters");
		goto fail;
	}
	if (!(r->title = strdup(s)))
		goto nomem;
	if (get_str(c, root, "id", &s, &n))
		goto fail;
	if (s && !is_uuid(s)) {
		errf(c, n, "id", "'%.64s' is not a UUID", s);
		goto fail;
	}
	if (s && !(r->id = strdup(s)))
		goto nomem;
	if (get_str(c, root, "level", &s, &n))
		goto fail;
	if (s && !one_of(s, levels)) {
		errf(c, n, "level", "'%.64s' is not one of informational, low, medium, high, critical", s);
		goto fail;
	}
	if (s && !(r->level = strdup(s)))
		goto nomem;
	if (get_str(c, root, "status", &s, &n))
		goto fail;
	if (s && !one_of(s, statuses)) {
		errf(c, n, "status", "'%.64s' is not one of stable, test, experimental, deprecated, unsupported", s);
		goto fail;
	}
	if (get_str(c, root, "date", &s, &n) || (s && !is_date(s) && (errf(c, n, "date", "'%.64s' is not YYYY-MM-DD", s), 1)))
		goto fail;
	if (get_str(c, root, "modified", &s, &n) || (s && !is_date(s) && (errf(c, n, "modified", "'%.64s' is not YYYY-MM-DD", s), 1)))
		goto fail;
	if (get_str(c, root, "description", &s, &n) || get_str(c, root, "author", &s, &n) ||
	    get_str(c, root, "name", &s, &n) || get_str(c, root, "license", &s, &n))
		goto fail;
	if ((v = mget(c, root, "tags", NULL))) {
		if (v->type != YAML_SEQUENCE_NODE) {
			errf(c, v, "tags", "must be a list");
			goto fail;
		}
		for (yaml_node_item_t *i = v->data.sequence.items.start; i < v->data.sequence.items.top; i++) {
			yaml_node_t *t = node(c, *i);
			if (!sc(t) || !is_tag(sc(t))) {
				errf(c, t, "tags", "'%.64s' is not a tag (namespace.name, lower case)",
				     sc(t) ? sc(t) : "(not a string)");
				goto fail;
			}
		}
	}
	static const char *const lists[] = { "references", "falsepositives", "fields", NULL };
	for (int i = 0; lists[i]; i++)
		if ((v = mget(c, root, lists[i], NULL)) && v->type != YAML_SEQUENCE_NODE) {
			errf(c, v, lists[i], "must be a list");
			goto fail;
		}

	yaml_node_t *ls = mget(c, root, "logsource", &k);
	if (!ls) {
		errf(c, root, "logsource", "missing (a rule needs product: plcguard and a service)");
		goto fail;
	}
	if (ls->type != YAML_MAPPING_NODE) {
		errf(c, ls, "logsource", "must be a map");
		goto fail;
	}
	if (get_str(c, ls, "product", &s, &n))
		goto fail;
	if (!s || strcmp(s, "plcguard")) {
		errf(c, n ? n : ls, "logsource.product", "'%.64s' is not a product of plcguard (product: plcguard)",
		     s ? s : "(missing)");
		goto fail;
	}
	if (get_str(c, ls, "service", &s, &n))
		goto fail;
	if (!s || !one_of(s, services)) {
		errf(c, n ? n : ls, "logsource.service", "'%.64s' is not a plcguard service (wire, file, health)",
		     s ? s : "(missing)");
		goto fail;
	}
	if (!(r->service = strdup(s)))
		goto nomem;
	if ((n = mget(c, ls, "category", NULL))) {
		errf(c, n, "logsource.category", "not used by plcguard (use service: wire, file or health)");
		goto fail;
	}

	yaml_node_t *det = mget(c, root, "detection", &k);
	if (!det) {
		errf(c, root, "detection", "missing");
		goto fail;
	}
	if (det->type != YAML_MAPPING_NODE) {
		errf(c, det, "detection", "must be a map");
		goto fail;
	}
	yaml_node_t *cond = NULL, *ck = NULL;
	r->s = calloc(nitems(det) ? nitems(det) : 1, sizeof *r->s);
	if (!r->s)
		goto nomem;
	for (yaml_node_pair_t *p = det->data.mapping.pairs.start; p < det->data.mapping.pairs.top; p++) {
		yaml_node_t *kn = node(c, p->key), *vn = node(c, p->value);
		const char *name = sc(kn);
		if (!name) {
			errf(c, kn, "detection", "a search identifier must be a string");
			goto fail;
		}
		if (!strcmp(name, "condition")) {
			cond = vn;
			ck = kn;
			continue;
		}
		if (!strcmp(name, "timeframe")) {
			errf(c, kn, "detection.timeframe", "not supported (correlation rules are not yet supported)");
			goto fail;
		}
		for (const char *q = name; *q; q++)
			if (!(*q == '_' || *q == '-' || *q == '.' || (*q >= 'a' && *q <= 'z') ||
			      (*q >= 'A' && *q <= 'Z') || (*q >= '0' && *q <= '9'))) {
				errf(c, kn, "detection", "'%.64s' is not a valid search identifier", name);
				goto fail;
			}
		if (!*name || !strcmp(name, "and") || !strcmp(name, "or") || !strcmp(name, "not") ||
		    !strcmp(name, "of") || !strcmp(name, "them") || !strcmp(name, "all") || !strcmp(name, "1")) {
			errf(c, kn, "detection", "'%s' cannot be a search identifier", name);
			goto fail;
		}
		struct search *se = &r->s[r->ns++];
		if (!(se->name = strdup(name)))
			goto nomem;
		if (compile_search(c, se, kn, vn))
			goto fail;
	}
	if (!cond) {
		errf(c, det, "detection.condition", "missing");
		goto fail;
	}
	if (r->ns == 0) {
		errf(c, det, "detection", "no search identifier");
		goto fail;
	}
	(void)ck;
	if (cond->type == YAML_SEQUENCE_NODE) {
		if (nitems(cond) == 0) {
			errf(c, cond, "detection.condition", "empty list");
			goto fail;
		}
		struct cparse dummy = { c, cond, r, "", 0, 0, 0, TK_END, 0 };
		r->cond = mk(&dummy, N_OR);
		if (!r->cond)
			goto nomem;
		for (yaml_node_item_t *i = cond->data.sequence.items.start; i < cond->data.sequence.items.top; i++) {
			struct cnode *e = compile_cond1(c, r, node(c, *i));
			if (!e || add_kid(&dummy, r->cond, e))
				goto fail;
		}
	} else if (!(r->cond = compile_cond1(c, r, cond))) {
		goto fail;
	}
	if (!(r->file = strdup(c->file)))
		goto nomem;
	return r;
nomem:
	oom(c, root);
fail:
	rule_free(r);
	return NULL;
}

static int set_add(struct pg_sigma_set *set, struct pg_sigma_rule *r)
{
	if (set->n == set->cap) {
		size_t cap = set->cap ? set->cap * 2 : 16;
		struct pg_sigma_rule **v = realloc(set->r, cap * sizeof *v);
		if (!v)
			return -1;
		set->r = v;
		set->cap = cap;
	}
	set->r[set->n++] = r;
	return 0;
}

int pg_sigma_load_buf(struct pg_sigma_set *set, const char *name, const char *buf, size_t len,
		      char *err, size_t errsz)
{
	struct ctx c;
	memset(&c, 0, sizeof c);
	c.file = name;
	c.err = err;
	c.errsz = errsz;
	if (err && errsz)
		err[0] = 0;
	if (len > PG_SIGMA_MAX_FILE_BYTES) {
		errf(&c, NULL, NULL, "file larger than %u bytes", PG_SIGMA_MAX_FILE_BYTES);
		return c.nerr;
	}
	if (memchr(buf, 0, len)) {
		errf(&c, NULL, NULL, "file contains a NUL byte (not YAML text)");
		return c.nerr;
	}
	yaml_parser_t ps;
	if (!yaml_parser_initialize(&ps)) {
		errf(&c, NULL, NULL, "out of memory");
		return -1;
	}
	yaml_parser_set_input_string(&ps, (const unsigned char *)buf, len);
	int ndocs = 0, nrules = 0;
	for (;;) {
		yaml_document_t doc;
		if (!yaml_parser_load(&ps, &doc)) {
			yaml_node_t fake;
			memset(&fake, 0, sizeof fake);
			fake.start_mark = ps.problem_mark;
			errf(&c, &fake, NULL, "YAML: %s%s%s", ps.problem ? ps.problem : "syntax error",
			     ps.context ? " " : "", ps.context ? ps.context : "");
			break;
		}
		yaml_node_t *root = yaml_document_get_root_node(&doc);
		if (!root) {
			yaml_document_delete(&doc);
			break;
		}
		if (++ndocs > PG_SIGMA_MAX_DOCS) {
			errf(&c, root, NULL, "more than %d documents in one file", PG_SIGMA_MAX_DOCS);
			yaml_document_delete(&doc);
			break;
		}
		c.doc = &doc;
		c.visits = 0;
		c.failed = 0;
		if (check_bounds(&c, root, 0) == 0) {
			struct pg_sigma_rule *r = compile_rule(&c, root);
			if (r) {
				if (set->n >= PG_SIGMA_MAX_RULES) {
					errf(&c, root, NULL, "more than %d rules", PG_SIGMA_MAX_RULES);
					rule_free(r);
				} else if (set_add(set, r)) {
					rule_free(r);
					oom(&c, root);
				} else {
					nrules++;
				}
			}
		}
		yaml_document_delete(&doc);
		if (c.oom)
			break;
	}
	yaml_parser_delete(&ps);
	if (!c.nerr && nrules == 0)
		errf(&c, NULL, NULL, "no rule in the file");
	return c.oom ? -1 : c.nerr;
}

int pg_sigma_load_file(struct pg_sigma_set *set, const char *path, char *err, size_t errsz)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		snprintf(err, errsz, "%s: %s\n", path, strerror(errno));
		return 1;
	}
	char *buf = malloc(PG_SIGMA_MAX_FILE_BYTES + 1);
	if (!buf) {
		fclose(f);
		snprintf(err, errsz, "%s: out of memory\n", path);
		return -1;
	}
	size_t n = fread(buf, 1, PG_SIGMA_MAX_FILE_BYTES + 1, f);
	int bad = ferror(f);
	fclose(f);
	if (bad) {
		free(buf);
		snprintf(err, errsz, "%s: read error\n", path);
		return 1;
	}
	int rc = pg_sigma_load_buf(set, path, buf, n, err, errsz);
	free(buf);
	return rc;
}

/* ---- matching ---- */

const char *pg_sigma_event_service(const json_t *ev)
{
	const char *s = json_string_value(json_object_get(ev, "source"));
	if (!s)
		return NULL;
	if (!strcmp(s, "wire"))
		return "wire";
	if (!strcmp(s, "file"))
		return "file";
	if (!strcmp(s, "self"))
		return "health";
	return NULL;
}

/* The text of a scalar JSON value for string matching; 0 if it has none. */
static int jtext(const json_t *j, char *buf, size_t bsz, const char **s, size_t *len)
{
	if (json_is_string(j)) {
		*s = json_string_value(j);
		*len = json_string_length(j);
		return 1;
	}
	if (json_is_integer(j))
		snprintf(buf, bsz, "%lld", (long long)json_integer_value(j));
	else if (json_is_real(j))
		snprintf(buf, bsz, "%.17g", json_real_value(j));
	else if (json_is_boolean(j))
		snprintf(buf, bsz, "%s", json_is_true(j) ? "true" : "false");
	else
		return 0;
	*s = buf;
	*len = strlen(buf);
	return 1;
}

/* One value against one scalar JSON value (not an array). */
static int match_one(const struct fcond *f, const struct sval *v, const json_t *j)
{
	unsigned m = f->mods;
	int cased = !!(m & M_CASED);
	char buf[64];
	const char *s;
	size_t len;
	if (m & M_CMP) {
		if (!json_is_number(j))
			return 0;
		double x = json_number_value(j);
		return (m & M_LT) ? x < v->num : (m & M_LTE) ? x <= v->num : (m & M_GT) ? x > v->num : x >= v->num;
	}
	if (v->kind == V_NULL)
		return json_is_null(j);
	if (m & M_RE) {
		if (!jtext(j, buf, sizeof buf, &s, &len))
			return 0;
		pcre2_match_data *md = pcre2_match_data_create(1, NULL);
		pcre2_match_context *mc = pcre2_match_context_create(NULL);
		int rc = -1;
		if (md && mc) {
			pcre2_set_match_limit(mc, PG_SIGMA_RE_MATCH_LIMIT);
			pcre2_set_depth_limit(mc, PG_SIGMA_RE_DEPTH_LIMIT);
			rc = pcre2_match(v->re, (PCRE2_SPTR)s, len, 0, 0, md, mc);
		}
		pcre2_match_data_free(md);
		pcre2_match_context_free(mc);
		return rc >= 0;
	}
	if (m & M_CIDR)
		return json_is_string(j) && cidr_match(v, json_string_value(j), json_string_length(j));
	if (v->kind == V_BOOL)
		return json_is_boolean(j) ? json_is_true(j) == v->b
		       : json_is_string(j) && !strcasecmp(json_string_value(j), v->b ? "true" : "false");
	if (v->kind == V_NUM && json_is_number(j))
		return json_number_value(j) == v->num;
	if (v->kind == V_NUM) {
		/* a number in the rule against a string in the event: as written */
		return json_is_string(j) && json_string_length(j) == v->tlen &&
		       (cased ? !strcmp(json_string_value(j), v->text)
			      : !strcasecmp(json_string_value(j), v->text));
	}
	if (!jtext(j, buf, sizeof buf, &s, &len))
		return 0;
	return pat_match(v->pat, v->npat, s, len, cased);
}

/* A value against a JSON member: an array matches when one of its elements does. */
static int match_val(const struct fcond *f, const struct sval *v, const json_t *j)
{
	if (json_is_array(j)) {
		size_t i;
		json_t *e;
		json_array_foreach(j, i, e)
			if (!json_is_array(e) && !json_is_object(e) && match_one(f, v, e))
				return 1;
		return 0;
	}
	if (json_is_object(j))
		return 0;
	return match_one(f, v, j);
}

static int match_vals(const struct fcond *f, const json_t *j)
{
	int all = !!(f->mods & M_ALL);
	int any = 0;
	for (size_t i = 0; i < f->nv; i++) {
		int r = match_val(f, &f->v[i], j);
		if (all && !r)
			return 0;
		any |= r;
	}
	return all ? 1 : any;
}

static int keyword_walk(const struct fcond *f, const json_t *j, int depth)
{
	if (depth > PG_SIGMA_MAX_EVENT_DEPTH)
		return 0;
	if (json_is_object(j)) {
		const char *k;
		json_t *v;
		json_object_foreach((json_t *)j, k, v)
			if (keyword_walk(f, v, depth + 1))
				return 1;
		return 0;
	}
	if (json_is_array(j)) {
		size_t i;
		json_t *v;
		json_array_foreach(j, i, v)
			if (keyword_walk(f, v, depth + 1))
				return 1;
		return 0;
	}
	return json_is_string(j) && match_vals(f, j);
}

static int keyword_match(const struct fcond *f, const json_t *ev)
{
	if (!(f->mods & M_ALL))
		return keyword_walk(f, ev, 0);
	/* |all: every keyword somewhere in the event */
	struct fcond one = *f;
	one.mods &= ~(unsigned)M_ALL;
	one.nv = 1;
	for (size_t i = 0; i < f->nv; i++) {
		one.v = &f->v[i];
		if (!keyword_walk(&one, ev, 0))
			return 0;
	}
	return 1;
}

static const json_t *lookup(const struct fcond *f, const json_t *ev)
{
	/* a member whose own name has dots wins over the nested path */
	const json_t *j = json_object_get(ev, f->field);
	if (j || f->npath == 1)
		return j;
	j = ev;
	for (size_t i = 0; i < f->npath && j; i++)
		j = json_object_get(j, f->path[i]);
	return j;
}

static int match_cond(const struct fcond *f, const json_t *ev)
{
	if (!f->npath)
		return keyword_match(f, ev);
	const json_t *j = lookup(f, ev);
	if (f->mods & M_EXISTS)
		return (j != NULL) == f->exists;
	if (f->nv == 1 && f->v[0].kind == V_NULL && !(f->mods & M_NEQ))
		return !j || json_is_null(j);
	if (!j)
		return 0;
	if (f->mods & M_NEQ)
		return f->nv == 1 && f->v[0].kind == V_NULL ? !json_is_null(j) : !match_vals(f, j);
	return match_vals(f, j);
}

static int match_search(const struct search *s, const json_t *ev)
{
	for (size_t g = 0; g < s->n; g++) {
		size_t k;
		for (k = 0; k < s->g[g].n; k++)
			if (!match_cond(&s->g[g].c[k], ev))
				break;
		if (k == s->g[g].n)
			return 1;
	}
	return 0;
}

static int eval(const struct pg_sigma_rule *r, const struct cnode *n, const json_t *ev)
{
	switch (n->k) {
	case N_REF: return match_search(&r->s[n->ref], ev);
	case N_NOT: return !eval(r, n->kids[0], ev);
	case N_AND:
		for (size_t i = 0; i < n->nk; i++)
			if (!eval(r, n->kids[i], ev))
				return 0;
		return 1;
	case N_OR:
		for (size_t i = 0; i < n->nk; i++)
			if (eval(r, n->kids[i], ev))
				return 1;
		return 0;
	case N_TRUE: return 1;
	case N_FALSE: return 0;
	}
	return 0;
}

int pg_sigma_match(const struct pg_sigma_rule *r, const json_t *event)
{
	if (!r || !json_is_object(event))
		return 0;
	const char *svc = pg_sigma_event_service(event);
	if (!svc || strcmp(svc, r->service))
		return 0;
	return eval(r, r->cond, event);
}
