/*
 * test_plcopen.c - PLCopen XML parser and canonical fingerprints
 * (parsers/plcopen.c, docs/FORMATS.md "PLCopen XML").
 *
 * A small project is embedded below (written for this test); the real CODESYS
 * export and the Beremiz projects are read from $PG_CORPUS/projects/plcopen and
 * those tests are skipped when the corpus is absent.  Formatting changes are
 * made in memory by a small XML-aware rewriter (xf_*), never by editing files.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <time.h>
#include <unistd.h>
#include <dirent.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "digest.h"
#include "pg_limits.h"
#include "plcopen.h"

/* ------------------------------------------------------------------ */
/* the embedded project                                                 */

static const char SMALL[] =
	"<?xml version=\"1.0\" encoding=\"utf-8\"?>\n"
	"<project xmlns=\"http://www.plcopen.org/xml/tc6_0201\" xmlns:xhtml=\"http://www.w3.org/1999/xhtml\">\n"
	"  <fileHeader companyName=\"ACME\" productName=\"TestTool\" productVersion=\"1.0\" creationDateTime=\"2024-01-02T03:04:05\"/>\n"
	"  <contentHeader name=\"Small\" modificationDateTime=\"2024-01-02T03:04:06\">\n"
	"    <coordinateInfo><fbd><scaling x=\"1\" y=\"1\"/></fbd></coordinateInfo>\n"
	"  </contentHeader>\n"
	"  <types>\n"
	"    <dataTypes>\n"
	"      <dataType name=\"T_Mode\">\n"
	"        <baseType><enum><values><value name=\"Off\"/><value name=\"On\"/></values></enum></baseType>\n"
	"        <documentation><xhtml:p>Operating mode</xhtml:p></documentation>\n"
	"      </dataType>\n"
	"    </dataTypes>\n"
	"    <pous>\n"
	"      <pou name=\"Main\" pouType=\"program\">\n"
	"        <interface>\n"
	"          <localVars>\n"
	"            <variable name=\"counter\"><type><INT/></type>\n"
	"              <initialValue><simpleValue value=\"0\"/></initialValue>\n"
	"              <documentation><xhtml:p>Counts cycles</xhtml:p></documentation>\n"
	"            </variable>\n"
	"          </localVars>\n"
	"        </interface>\n"
	"        <body>\n"
	"          <ST>\n"
	"            <xhtml:p>IF counter &lt; 100 THEN\n"
	"    counter := counter + 1;\n"
	"END_IF;</xhtml:p>\n"
	"          </ST>\n"
	"        </body>\n"
	"        <addData>\n"
	"          <data name=\"http://www.3s-software.com/plcopenxml/method\" handleUnknown=\"implementation\">\n"
	"            <Method name=\"Reset\" ObjectId=\"11111111-2222-3333-4444-555555555555\">\n"
	"              <body><ST><xhtml:p>counter := 0;</xhtml:p></ST></body>\n"
	"            </Method>\n"
	"          </data>\n"
	"          <data name=\"http://www.3s-software.com/plcopenxml/objectid\" handleUnknown=\"discard\">\n"
	"            <ObjectId>aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee</ObjectId>\n"
	"          </data>\n"
	"        </addData>\n"
	"      </pou>\n"
	"      <pou name=\"Blink\" pouType=\"functionBlock\">\n"
	"        <interface><outputVars><variable name=\"q\"><type><BOOL/></type></variable></outputVars></interface>\n"
	"        <body>\n"
	"          <FBD>\n"
	"            <comment localId=\"9\" height=\"40\" width=\"200\"><position x=\"5\" y=\"5\"/>"
	"<content><xhtml:p>Toggles q</xhtml:p></content></comment>\n"
	"            <inVariable localId=\"1\" height=\"30\" width=\"60\">\n"
	"              <position x=\"100\" y=\"200\"/>\n"
	"              <connectionPointOut><relPosition x=\"60\" y=\"15\"/></connectionPointOut>\n"
	"              <expression>q</expression>\n"
	"            </inVariable>\n"
	"            <block localId=\"2\" typeName=\"NOT\" height=\"40\" width=\"50\">\n"
	"              <position x=\"200\" y=\"200\"/>\n"
	"              <inputVariables><variable formalParameter=\"IN\">\n"
	"                <connectionPointIn><relPosition x=\"0\" y=\"20\"/>\n"
	"                  <connection refLocalId=\"1\"><position x=\"200\" y=\"220\"/><position x=\"160\" y=\"215\"/></connection>\n"
	"                </connectionPointIn></variable></inputVariables>\n"
	"              <inOutVariables/>\n"
	"              <outputVariables><variable formalParameter=\"OUT\"><connectionPointOut><relPosition x=\"50\" y=\"20\"/></connectionPointOut></variable></outputVariables>\n"
	"            </block>\n"
	"            <outVariable localId=\"3\" height=\"30\" width=\"60\">\n"
	"              <position x=\"300\" y=\"200\"/>\n"
	"              <connectionPointIn><relPosition x=\"0\" y=\"15\"/><connection refLocalId=\"2\" formalParameter=\"OUT\"/></connectionPointIn>\n"
	"              <expression>q</expression>\n"
	"            </outVariable>\n"
	"          </FBD>\n"
	"        </body>\n"
	"      </pou>\n"
	"    </pous>\n"
	"  </types>\n"
	"  <instances>\n"
	"    <configurations>\n"
	"      <configuration name=\"Config0\">\n"
	"        <resource name=\"Res0\">\n"
	"          <task name=\"task0\" interval=\"T#20ms\" priority=\"1\">\n"
	"            <pouInstance name=\"inst0\" typeName=\"Main\"/>\n"
	"          </task>\n"
	"          <globalVars><variable name=\"gLimit\"><type><INT/></type>"
	"<initialValue><simpleValue value=\"100\"/></initialValue></variable></globalVars>\n"
	"          <addData>\n"
	"            <data name=\"http://www.3s-software.com/plcopenxml/pou\" handleUnknown=\"implementation\">\n"
	"              <pou name=\"AppPrg\" pouType=\"program\">\n"
	"                <interface/>\n"
	"                <body><ST><xhtml:p>gLimit := gLimit;</xhtml:p></ST></body>\n"
	"              </pou>\n"
	"            </data>\n"
	"          </addData>\n"
	"        </resource>\n"
	"      </configuration>\n"
	"    </configurations>\n"
	"  </instances>\n"
	"</project>\n";

#define SMALL_LEN (sizeof SMALL - 1)

/* ------------------------------------------------------------------ */
/* helpers                                                              */

struct buf {
	char *p;
	size_t n, cap;
};

static void b_put(struct buf *b, const char *s, size_t n)
{
	if (b->n + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 1024;
		while (cap < b->n + n + 1)
			cap *= 2;
		b->p = realloc(b->p, cap);
		assert_non_null(b->p);
		b->cap = cap;
	}
	memcpy(b->p + b->n, s, n);
	b->n += n;
	b->p[b->n] = '\0';
}

static void b_puts(struct buf *b, const char *s)
{
	b_put(b, s, strlen(s));
}

static struct buf b_from(const char *s, size_t n)
{
	struct buf b = { 0 };
	b_put(&b, s, n);
	return b;
}

static int parse(const char *s, size_t n, struct plc_doc *d, struct pg_err *e)
{
	return plcopen_parse((const uint8_t *)s, n, d, e);
}

static void parse_ok(const char *s, size_t n, struct plc_doc *d)
{
	struct pg_err e;
	char eb[400];
	int rc = parse(s, n, d, &e);
	if (rc != 0)
		fail_msg("parse failed: %s", pg_err_str(&e, eb, sizeof eb));
}

static const struct plc_item *find_item(const struct plc_doc *d, const char *name)
{
	for (size_t i = 0; i < d->n_items; i++)
		if (strcmp(d->items[i].name, name) == 0)
			return &d->items[i];
	return NULL;
}

/* Same items (names, kinds, order), same fingerprints, same doc_fp. */
static void assert_same(const struct plc_doc *a, const struct plc_doc *b)
{
	assert_int_equal(a->n_items, b->n_items);
	for (size_t i = 0; i < a->n_items; i++) {
		assert_string_equal(a->items[i].name, b->items[i].name);
		assert_int_equal(a->items[i].kind, b->items[i].kind);
		if (memcmp(a->items[i].fp, b->items[i].fp, 32) != 0)
			fail_msg("fingerprint of %s changed", a->items[i].name);
	}
	assert_memory_equal(a->doc_fp, b->doc_fp, 32);
}

/* doc_fp and exactly the named items differ (NULL-terminated list). */
static void assert_changed_only(const struct plc_doc *a, const struct plc_doc *b,
				const char *const *names)
{
	assert_int_equal(a->n_items, b->n_items);
	assert_memory_not_equal(a->doc_fp, b->doc_fp, 32);
	for (size_t i = 0; i < a->n_items; i++) {
		assert_string_equal(a->items[i].name, b->items[i].name);
		int expect = 0;
		for (const char *const *n = names; *n; n++)
			if (strcmp(*n, a->items[i].name) == 0)
				expect = 1;
		int diff = memcmp(a->items[i].fp, b->items[i].fp, 32) != 0;
		if (diff != expect)
			fail_msg("item %s: fingerprint %s but should %s", a->items[i].name,
				 diff ? "changed" : "stayed", expect ? "change" : "stay");
	}
}

/* Replace the only occurrence of from by to (the test fails if not exactly one). */
static struct buf replace1(const char *s, size_t n, const char *from, const char *to)
{
	const char *p = strstr(s, from);
	if (!p)
		fail_msg("'%s' not found", from);
	if (strstr(p + 1, from))
		fail_msg("'%s' found more than once", from);
	struct buf b = { 0 };
	b_put(&b, s, (size_t)(p - s));
	b_puts(&b, to);
	size_t fl = strlen(from);
	b_put(&b, p + fl, n - (size_t)(p - s) - fl);
	return b;
}

/* Replace every occurrence (at least one). */
static struct buf replace_all(const char *s, size_t n, const char *from, const char *to)
{
	struct buf b = { 0 };
	size_t fl = strlen(from), hits = 0;
	const char *p = s, *end = s + n;
	for (;;) {
		const char *q = strstr(p, from);
		if (!q || q >= end)
			break;
		b_put(&b, p, (size_t)(q - p));
		b_puts(&b, to);
		p = q + fl;
		hits++;
	}
	b_put(&b, p, (size_t)(end - p));
	if (!hits)
		fail_msg("'%s' not found", from);
	return b;
}

/* Parse SMALL with one substitution; compare with the original. */
static void small_variant(const char *from, const char *to, const char *const *changed)
{
	struct plc_doc a, b;
	parse_ok(SMALL, SMALL_LEN, &a);
	struct buf v = replace1(SMALL, SMALL_LEN, from, to);
	parse_ok(v.p, v.n, &b);
	if (changed && changed[0])
		assert_changed_only(&a, &b, changed);
	else
		assert_same(&a, &b);
	plcopen_free(&a);
	plcopen_free(&b);
	free(v.p);
}

/* ------------------------------------------------------------------ */
/* formatting rewriters: all produce the same XML infoset modulo what    */
/* the canonical form ignores                                           */

enum {
	XF_REINDENT = 1,     /* whitespace-only text between tags -> other whitespace */
	XF_REVERSE = 2,      /* attributes of every start tag in reverse order */
	XF_COMMENTS = 4,     /* a comment and a PI after selected start tags */
	XF_SQUOTE = 8,       /* attribute values in single quotes where possible */
};

static int is_sp(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static const char *copy_through(struct buf *o, const char *p, const char *end,
				const char *term)
{
	size_t tl = strlen(term);
	const char *q = p;
	while (q + tl <= end && memcmp(q, term, tl) != 0)
		q++;
	q = q + tl <= end ? q + tl : end;
	b_put(o, p, (size_t)(q - p));
	return q;
}

static int comment_after(const char *name, size_t n)
{
	static const char *const names[] = { "project", "types", "pou", "interface",
					     "body", "ST", "xhtml:p", "FBD",
					     "resource", "addData", "configuration" };
	for (size_t i = 0; i < sizeof names / sizeof *names; i++)
		if (strlen(names[i]) == n && memcmp(names[i], name, n) == 0)
			return 1;
	return 0;
}

static struct buf xf(const char *s, size_t n, int flags)
{
	struct buf o = { 0 };
	const char *p = s, *end = s + n;
	unsigned ws_variant = 0;
	while (p < end) {
		if (*p != '<') {
			const char *q = p;
			while (q < end && *q != '<')
				q++;
			int blank = 1;
			for (const char *r = p; r < q; r++)
				if (!is_sp(*r))
					blank = 0;
			/* the BOM is not whitespace: keep text as it is then */
			if (blank && (flags & XF_REINDENT) && q > p) {
				static const char *const ws[] = { "\n\t", " ", "\n    \n", "\r\n  " };
				b_puts(&o, ws[ws_variant++ % 4]);
			} else {
				b_put(&o, p, (size_t)(q - p));
			}
			p = q;
			continue;
		}
		if (end - p >= 4 && memcmp(p, "<!--", 4) == 0) {
			p = copy_through(&o, p, end, "-->");
		} else if (end - p >= 9 && memcmp(p, "<![CDATA[", 9) == 0) {
			p = copy_through(&o, p, end, "]]>");
		} else if (end - p >= 2 && memcmp(p, "<?", 2) == 0) {
			p = copy_through(&o, p, end, "?>");
		} else if (end - p >= 2 && (p[1] == '!' || p[1] == '/')) {
			p = copy_through(&o, p, end, ">");
		} else {
			/* start tag */
			const char *q = p + 1;
			while (q < end && !is_sp(*q) && *q != '>' && *q != '/')
				q++;
			const char *name = p + 1;
			size_t name_len = (size_t)(q - name);
			struct { const char *n; size_t nl; const char *v; size_t vl; char qc; } at[64];
			size_t na = 0;
			for (;;) {
				while (q < end && is_sp(*q))
					q++;
				if (q >= end || *q == '>' || *q == '/')
					break;
				const char *an = q;
				while (q < end && *q != '=' && !is_sp(*q))
					q++;
				size_t anl = (size_t)(q - an);
				while (q < end && (is_sp(*q) || *q == '='))
					q++;
				char qc = q < end ? *q : '"';
				q++;
				const char *av = q;
				while (q < end && *q != qc)
					q++;
				assert_true(na < 64);
				at[na].n = an;
				at[na].nl = anl;
				at[na].v = av;
				at[na].vl = (size_t)(q - av);
				at[na].qc = qc;
				na++;
				q++;
			}
			int selfclose = q < end && *q == '/';
			b_puts(&o, "<");
			b_put(&o, name, name_len);
			for (size_t k = 0; k < na; k++) {
				size_t i = (flags & XF_REVERSE) ? na - 1 - k : k;
				b_puts(&o, (flags & XF_REINDENT) && k % 2 ? "\n   " : " ");
				b_put(&o, at[i].n, at[i].nl);
				char qc = at[i].qc;
				if ((flags & XF_SQUOTE) && !memchr(at[i].v, '\'', at[i].vl))
					qc = '\'';
				b_put(&o, "=", 1);
				b_put(&o, &qc, 1);
				b_put(&o, at[i].v, at[i].vl);
				b_put(&o, &qc, 1);
			}
			if (selfclose) {
				b_puts(&o, (flags & XF_REINDENT) ? " />" : "/>");
				q += 2;
			} else {
				b_puts(&o, ">");
				q += 1;
				if ((flags & XF_COMMENTS) && comment_after(name, name_len))
					b_puts(&o, "<!-- added by the test --><?plcguard-test note?>");
			}
			p = q;
		}
	}
	return o;
}

static struct buf to_lf(const char *s, size_t n)
{
	struct buf o = { 0 };
	for (size_t i = 0; i < n; i++)
		if (!(s[i] == '\r' && i + 1 < n && s[i + 1] == '\n'))
			b_put(&o, s + i, 1);
	return o;
}

static struct buf to_crlf(const char *s, size_t n)
{
	struct buf lf = to_lf(s, n), o = { 0 };
	for (size_t i = 0; i < lf.n; i++) {
		if (lf.p[i] == '\n')
			b_put(&o, "\r", 1);
		b_put(&o, lf.p + i, 1);
	}
	free(lf.p);
	return o;
}

static struct buf toggle_bom(const char *s, size_t n)
{
	if (n >= 3 && memcmp(s, "\xEF\xBB\xBF", 3) == 0)
		return b_from(s + 3, n - 3);
	struct buf o = { 0 };
	b_put(&o, "\xEF\xBB\xBF", 3);
	b_put(&o, s, n);
	return o;
}

/* Every rewrite of (s, n) parses to the same items and fingerprints. */
static void check_reformat_invariance(const char *s, size_t n)
{
	struct plc_doc ref;
	parse_ok(s, n, &ref);
	for (int v = 0; v < 9; v++) {
		struct buf b;
		switch (v) {
		case 0: b = to_lf(s, n); break;
		case 1: b = to_crlf(s, n); break;
		case 2: b = toggle_bom(s, n); break;
		case 3: b = xf(s, n, XF_REINDENT); break;
		case 4: b = xf(s, n, XF_REVERSE); break;
		case 5: b = xf(s, n, XF_COMMENTS); break;
		case 6: b = xf(s, n, XF_SQUOTE); break;
		case 7: b = xf(s, n, 0); break;
		default: {
			struct buf t = xf(s, n, XF_REINDENT | XF_REVERSE | XF_COMMENTS | XF_SQUOTE);
			struct buf u = to_crlf(t.p, t.n);
			b = toggle_bom(u.p, u.n);
			free(t.p);
			free(u.p);
		}
		}
		if (v == 2 || v == 8)
			assert_true(b.n != n || memcmp(b.p, s, n) != 0); /* really changed */
		struct plc_doc d;
		parse_ok(b.p, b.n, &d);
		assert_same(&ref, &d);
		plcopen_free(&d);
		free(b.p);
	}
	plcopen_free(&ref);
}

/* ------------------------------------------------------------------ */
/* corpus                                                               */

static char *corpus_path(const char *rel)
{
	const char *c = getenv("PG_CORPUS");
	if (!c || !*c)
		return NULL;
	size_t n = strlen(c) + strlen(rel) + 2;
	char *p = malloc(n);
	assert_non_null(p);
	snprintf(p, n, "%s/%s", c, rel);
	struct stat st;
	if (stat(p, &st) != 0) {
		free(p);
		return NULL;
	}
	return p;
}

static int read_file(const char *path, struct buf *out)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return -1;
	struct buf b = { 0 };
	char tmp[65536];
	size_t k;
	while ((k = fread(tmp, 1, sizeof tmp, f)) > 0)
		b_put(&b, tmp, k);
	fclose(f);
	*out = b;
	return 0;
}

#define CODESYS_REL "projects/plcopen/codesys_example_project.xml"
#define BEREMIZ_REL "projects/plcopen/beremiz"

static int load_codesys(struct buf *b)
{
	char *p = corpus_path(CODESYS_REL);
	if (!p)
		return -1;
	int rc = read_file(p, b);
	free(p);
	return rc;
}

#define NEED_CODESYS(b)                                                          \
	do {                                                                     \
		if (load_codesys(&(b)) != 0) {                                   \
			print_message("corpus absent ($PG_CORPUS/" CODESYS_REL "): skipped\n"); \
			skip();                                                  \
		}                                                                \
	} while (0)

/* ------------------------------------------------------------------ */
/* tests: embedded project                                              */

static void test_kind_names(void **state)
{
	(void)state;
	assert_string_equal(plcopen_kind_name(PLC_POU), "pou");
	assert_string_equal(plcopen_kind_name(PLC_DATATYPE), "datatype");
	assert_string_equal(plcopen_kind_name(PLC_CONFIGURATION), "configuration");
	assert_string_equal(plcopen_kind_name(PLC_RESOURCE), "resource");
	assert_string_equal(plcopen_kind_name(PLC_TASK), "task");
}

static void test_sniff(void **state)
{
	(void)state;
	const uint8_t *s = (const uint8_t *)SMALL;
	assert_true(plcopen_sniff(s, SMALL_LEN));
	struct buf b = toggle_bom(SMALL, SMALL_LEN);
	assert_true(plcopen_sniff((const uint8_t *)b.p, b.n));
	free(b.p);
	static const char *const yes[] = {
		"  \r\n<project xmlns=\"http://www.plcopen.org/xml/tc6_0200\"/>",
		"<plc:project xmlns:plc='http://www.plcopen.org/xml/tc6_0201'>",
		("<?xml version=\"1.0\"?><!-- c --><?pi x?><!DOCTYPE project [<!ELEMENT project ANY>]>"
		 "<project a=\"x>y\" xmlns=\"http://www.plcopen.org/xml/tc6_0100\">"),
	};
	static const char *const no[] = {
		"", "   ", "x<project xmlns=\"http://www.plcopen.org/xml/tc6_0200\"/>",
		"<project/>", "<project xmlns=\"urn:other\"/>",
		"<projects xmlns=\"http://www.plcopen.org/xml/tc6_0200\"/>",
		"<root><project xmlns=\"http://www.plcopen.org/xml/tc6_0200\"/></root>",
		"<project", "<!-- unterminated", "\xEF\xBB\xBF",
		"<project><x a=\"http://www.plcopen.org/xml/tc6_0200\"/></project>",
	};
	for (size_t i = 0; i < sizeof yes / sizeof *yes; i++)
		assert_true(plcopen_sniff((const uint8_t *)yes[i], strlen(yes[i])));
	for (size_t i = 0; i < sizeof no / sizeof *no; i++)
		assert_false(plcopen_sniff((const uint8_t *)no[i], strlen(no[i])));
	assert_false(plcopen_sniff(NULL, 0));
	/* by content, not by length: the sniff window is bounded */
	struct buf big = { 0 };
	b_puts(&big, "<!--");
	for (int i = 0; i < 10000; i++)
		b_puts(&big, "x");
	b_puts(&big, "--><project xmlns=\"http://www.plcopen.org/xml/tc6_0200\"/>");
	assert_false(plcopen_sniff((const uint8_t *)big.p, big.n));
	free(big.p);
}

static void test_small_items(void **state)
{
	(void)state;
	struct plc_doc d;
	parse_ok(SMALL, SMALL_LEN, &d);
	static const struct { enum plc_kind k; const char *name, *type, *lang; } want[] = {
		{ PLC_DATATYPE, "T_Mode", NULL, NULL },
		{ PLC_POU, "Main", "program", "ST" },
		{ PLC_POU, "Blink", "functionBlock", "FBD" },
		{ PLC_CONFIGURATION, "Config0", NULL, NULL },
		{ PLC_RESOURCE, "Config0/Res0", NULL, NULL },
		{ PLC_TASK, "Config0/Res0/task0", NULL, NULL },
		{ PLC_POU, "Config0/Res0/AppPrg", "program", "ST" },
	};
	assert_int_equal(d.n_items, sizeof want / sizeof *want);
	for (size_t i = 0; i < d.n_items; i++) {
		assert_int_equal(d.items[i].kind, want[i].k);
		assert_string_equal(d.items[i].name, want[i].name);
		if (want[i].type)
			assert_string_equal(d.items[i].pou_type, want[i].type);
		else
			assert_null(d.items[i].pou_type);
		if (want[i].lang)
			assert_string_equal(d.items[i].language, want[i].lang);
		else
			assert_null(d.items[i].language);
		assert_true(d.items[i].line > 0);
	}
	assert_int_equal(find_item(&d, "Main")->line, 15);
	assert_string_equal(d.product, "TestTool");
	assert_string_equal(d.product_version, "1.0");
	assert_string_equal(d.project_name, "Small");
	/* fingerprints are pairwise different and not zero */
	static const uint8_t zero[32];
	for (size_t i = 0; i < d.n_items; i++) {
		assert_memory_not_equal(d.items[i].fp, zero, 32);
		for (size_t j = i + 1; j < d.n_items; j++)
			assert_memory_not_equal(d.items[i].fp, d.items[j].fp, 32);
	}
	/* deterministic */
	struct plc_doc e;
	parse_ok(SMALL, SMALL_LEN, &e);
	assert_same(&d, &e);
	plcopen_free(&d);
	plcopen_free(&e);
	plcopen_free(&d); /* freeing twice is harmless: the doc was zeroed */
}

static void test_small_reformat(void **state)
{
	(void)state;
	/* the rewriters really rewrite */
	static const int flags[] = { XF_REINDENT, XF_REVERSE, XF_COMMENTS, XF_SQUOTE };
	for (size_t i = 0; i < 4; i++) {
		struct buf b = xf(SMALL, SMALL_LEN, flags[i]);
		assert_true(b.n != SMALL_LEN || memcmp(b.p, SMALL, SMALL_LEN) != 0);
		free(b.p);
	}
	struct buf same = xf(SMALL, SMALL_LEN, 0);
	assert_int_equal(same.n, SMALL_LEN);
	assert_memory_equal(same.p, SMALL, SMALL_LEN);
	free(same.p);
	check_reformat_invariance(SMALL, SMALL_LEN);
}

static void test_small_text_normalisation(void **state)
{
	(void)state;
	static const char *const none[] = { NULL };
	/* whitespace runs inside ST text collapse; leading/trailing is trimmed */
	small_variant("    counter := counter + 1;\n", "\tcounter   :=\r\n counter + 1;   \n", none);
	/* a comment or PI inside the text does not split it */
	small_variant("counter := counter + 1;", "counter := <!-- x -->counter<?pi y?> + 1;", none);
	/* CDATA and escaped text are the same text */
	small_variant("IF counter &lt; 100 THEN", "<![CDATA[IF counter < 100 THEN]]>", none);
	small_variant("IF counter &lt; 100 THEN", "IF counter &#60; 100 &#x54;HEN", none);
	/* namespace prefixes are ignored, the namespace is not */
	small_variant("<xhtml:p>counter := 0;</xhtml:p>",
		      "<h:p xmlns:h=\"http://www.w3.org/1999/xhtml\">counter := 0;</h:p>", none);
	static const char *const main_only[] = { "Main", NULL };
	small_variant("<xhtml:p>counter := 0;</xhtml:p>", "<p>counter := 0;</p>", main_only);
	/* but whitespace between two words is not nothing */
	small_variant("counter + 1;", "counter +1;", main_only);
}

static void test_small_logic_change(void **state)
{
	(void)state;
	static const char *const main_only[] = { "Main", NULL };
	static const char *const blink[] = { "Blink", NULL };
	static const char *const app[] = { "Config0/Res0/AppPrg", NULL };
	/* one character of the ST body */
	small_variant("counter + 1;", "counter + 2;", main_only);
	/* a renamed variable */
	small_variant("<variable name=\"counter\">", "<variable name=\"counter2\">", main_only);
	/* an initial value */
	small_variant("<simpleValue value=\"0\"/>", "<simpleValue value=\"1\"/>", main_only);
	/* logic inside CODESYS addData (a method) counts */
	small_variant("counter := 0;", "counter := 5;", main_only);
	/* FBD: a different connection, a different block type, execution data */
	small_variant("connection refLocalId=\"1\"", "connection refLocalId=\"3\"", blink);
	small_variant("typeName=\"NOT\"", "typeName=\"AND\"", blink);
	small_variant("formalParameter=\"IN\"", "formalParameter=\"IN1\"", blink);
	/* a resource-level (CODESYS application) POU: only itself, not the resource */
	small_variant("gLimit := gLimit;", "gLimit := 0;", app);
}

static void test_small_config_changes(void **state)
{
	(void)state;
	static const char *const task[] = { "Config0/Res0/task0", NULL };
	static const char *const res[] = { "Config0/Res0", NULL };
	static const char *const pou_type[] = { "Main", NULL };
	small_variant("interval=\"T#20ms\"", "interval=\"T#10ms\"", task);
	small_variant("priority=\"1\"", "priority=\"2\"", task);
	/* pouInstance belongs to its task */
	small_variant("typeName=\"Main\"", "typeName=\"Blink\"", task);
	/* resource globalVars belong to the resource */
	small_variant("<simpleValue value=\"100\"/>", "<simpleValue value=\"101\"/>", res);
	small_variant("pouType=\"program\">\n        <interface>",
		      "pouType=\"functionBlock\">\n        <interface>", pou_type);
}

static void test_small_excluded(void **state)
{
	(void)state;
	static const char *const none[] = { NULL };
	static const char *const dt[] = { "T_Mode", NULL };
	/* (a) documentation and graphical comments are for people */
	small_variant("Counts cycles", "Counts cycles since start", none);
	small_variant("<documentation><xhtml:p>Operating mode</xhtml:p></documentation>", "", none);
	small_variant("Toggles q", "Inverts q", none);
	/* (b) geometry: positions, sizes, wire routing points */
	small_variant("<position x=\"100\" y=\"200\"/>", "<position x=\"140\" y=\"260\"/>", none);
	small_variant("<inVariable localId=\"1\" height=\"30\" width=\"60\">",
		      "<inVariable localId=\"1\" height=\"35\" width=\"80\">", none);
	small_variant("<relPosition x=\"60\" y=\"15\"/>", "<relPosition x=\"80\" y=\"15\"/>", none);
	small_variant("<position x=\"160\" y=\"215\"/>", "", none);
	small_variant("<fbd><scaling x=\"1\" y=\"1\"/></fbd>", "<fbd><scaling x=\"2\" y=\"2\"/></fbd>", none);
	/* (c) timestamps and the exporting tool */
	small_variant("creationDateTime=\"2024-01-02T03:04:05\"", "creationDateTime=\"2025-06-07T08:09:10\"", none);
	small_variant("modificationDateTime=\"2024-01-02T03:04:06\"", "modificationDateTime=\"2025-01-01T00:00:00\"", none);
	small_variant("productVersion=\"1.0\"", "productVersion=\"2.0\"", none);
	/* (d) CODESYS object GUIDs in addData */
	small_variant("aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee", "ffffffff-bbbb-cccc-dddd-eeeeeeeeeeee", none);
	small_variant("ObjectId=\"11111111-2222-3333-4444-555555555555\"",
		      "ObjectId=\"99999999-2222-3333-4444-555555555555\"", none);
	/* ... but the rest of addData and other attributes are logic */
	small_variant("<value name=\"On\"/>", "<value name=\"Auto\"/>", dt);
	static const char *const main_only[] = { "Main", NULL };
	small_variant("<Method name=\"Reset\"", "<Method name=\"Clear\"", main_only);
	/* project-level content outside items: only doc_fp */
	struct plc_doc a, b;
	parse_ok(SMALL, SMALL_LEN, &a);
	struct buf v = replace1(SMALL, SMALL_LEN, "<contentHeader name=\"Small\"", "<contentHeader name=\"Big\"");
	parse_ok(v.p, v.n, &b);
	for (size_t i = 0; i < a.n_items; i++)
		assert_memory_equal(a.items[i].fp, b.items[i].fp, 32);
	assert_memory_not_equal(a.doc_fp, b.doc_fp, 32);
	plcopen_free(&a);
	plcopen_free(&b);
	free(v.p);
}

static const char DUPS[] =
	"<project xmlns=\"http://www.plcopen.org/xml/tc6_0200\"><types><dataTypes/><pous>"
	"<pou name=\"Dup\" pouType=\"program\"><body><ST><p>a</p></ST></body></pou>"
	"<pou name=\"Dup\" pouType=\"program\"><body><ST><p>b</p></ST></body></pou>"
	"<pou name=\"Dup\" pouType=\"function\"><body><IL><p>c</p></IL></body></pou>"
	"<pou name=\"Dup#2\" pouType=\"program\"><body><LD/></body></pou>"
	"<pou name=\"Other\" pouType=\"program\"><body><SFC/></body></pou>"
	"<pou name=\"NoBody\" pouType=\"functionBlock\"/>"
	"</pous></types></project>";

static void test_duplicates(void **state)
{
	(void)state;
	struct plc_doc d;
	parse_ok(DUPS, sizeof DUPS - 1, &d);
	static const char *const names[] = { "Dup", "Dup#2", "Dup#3", "Dup#2#2", "Other", "NoBody" };
	static const char *const langs[] = { "ST", "ST", "IL", "LD", "SFC", NULL };
	assert_int_equal(d.n_items, 6);
	for (size_t i = 0; i < 6; i++) {
		assert_string_equal(d.items[i].name, names[i]);
		if (langs[i])
			assert_string_equal(d.items[i].language, langs[i]);
		else
			assert_null(d.items[i].language);
	}
	assert_memory_not_equal(d.items[0].fp, d.items[1].fp, 32);
	assert_null(d.product);
	assert_null(d.project_name);
	plcopen_free(&d);
}

static double now_s(void);
static void expect_error(const char *s, size_t n, const char *want1, const char *want2);

static struct buf many_pous(size_t n)
{
	struct buf b = { 0 };
	b_puts(&b, "<project xmlns=\"http://www.plcopen.org/xml/tc6_0201\"><types><pous>");
	for (size_t i = 0; i < n; i++)
		b_puts(&b, "<pou name=\"X\"/>");
	b_puts(&b, "</pous></types></project>");
	return b;
}

/* ------------------------------------------------------------------ */
/* tests: hostile and broken input                                      */

static void test_many_items(void **state)
{
	(void)state;
	/* many equal names: renaming stays linear */
	struct buf b = many_pous(20000);
	double t0 = now_s();
	struct plc_doc d;
	parse_ok(b.p, b.n, &d);
	assert_true(now_s() - t0 < 20.0);
	assert_int_equal(d.n_items, 20000);
	assert_string_equal(d.items[0].name, "X");
	assert_string_equal(d.items[1].name, "X#2");
	assert_string_equal(d.items[19999].name, "X#20000");
	plcopen_free(&d);
	free(b.p);
	/* one item over the limit */
	b = many_pous((size_t)PG_XML_MAX_ITEMS + 1);
	expect_error(b.p, b.n, "PG_XML_MAX_ITEMS", "line 1");
	free(b.p);
}

static void expect_error(const char *s, size_t n, const char *want1, const char *want2)
{
	struct plc_doc d;
	struct pg_err e;
	memset(&d, 0x55, sizeof d);
	assert_int_equal(plcopen_parse((const uint8_t *)s, n, &d, &e), -1);
	assert_null(d.items);
	assert_int_equal(d.n_items, 0);
	assert_true(e.msg[0] != '\0');
	if (want1 && !strstr(e.msg, want1))
		fail_msg("error '%s' lacks '%s'", e.msg, want1);
	if (want2 && !strstr(e.msg, want2))
		fail_msg("error '%s' lacks '%s'", e.msg, want2);
	plcopen_free(&d);
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void test_billion_laughs(void **state)
{
	(void)state;
	struct buf b = { 0 };
	b_puts(&b, "<?xml version=\"1.0\"?>\n<!DOCTYPE project [\n <!ENTITY lol \"lol\">\n");
	for (int i = 1; i <= 9; i++) {
		char line[256];
		snprintf(line, sizeof line, " <!ENTITY lol%d \"", i);
		b_puts(&b, line);
		for (int k = 0; k < 10; k++) {
			if (i == 1)
				snprintf(line, sizeof line, "&lol;");
			else
				snprintf(line, sizeof line, "&lol%d;", i - 1);
			b_puts(&b, line);
		}
		b_puts(&b, "\">\n");
	}
	b_puts(&b, "]>\n<project xmlns=\"http://www.plcopen.org/xml/tc6_0201\">"
		   "<contentHeader name=\"&lol9;\"/><types>&lol9;</types></project>\n");
	double t0 = now_s();
	expect_error(b.p, b.n, "entity", "line 3");
	assert_true(now_s() - t0 < 1.0);
	struct pg_err e;
	struct plc_doc d;
	assert_int_equal(parse(b.p, b.n, &d, &e), -1);
	assert_string_equal(e.field, "doctype");
	assert_true(e.offset != PG_NO_OFFSET && e.offset < b.n);
	free(b.p);

	/* the same with parameter entities */
	static const char pe[] =
		"<!DOCTYPE project [<!ENTITY % a \"xxxxxxxxxx\"><!ENTITY % b \"%a;%a;%a;%a;%a;\">%b;]>"
		"<project xmlns=\"http://www.plcopen.org/xml/tc6_0201\"/>";
	expect_error(pe, sizeof pe - 1, "entity", "line 1");
	/* attribute defaults from a DTD would change the document */
	static const char al[] =
		"<!DOCTYPE project [<!ATTLIST pou pouType CDATA \"program\">]>"
		"<project xmlns=\"http://www.plcopen.org/xml/tc6_0201\"/>";
	expect_error(al, sizeof al - 1, "attribute", NULL);
}

static void test_xxe(void **state)
{
	(void)state;
	static const char xxe[] =
		"<?xml version=\"1.0\"?>\n"
		"<!DOCTYPE project [ <!ENTITY xxe SYSTEM \"file:///etc/passwd\"> ]>\n"
		"<project xmlns=\"http://www.plcopen.org/xml/tc6_0201\">\n"
		"<contentHeader name=\"&xxe;\"/><types>&xxe;</types></project>\n";
	double t0 = now_s();
	expect_error(xxe, sizeof xxe - 1, "entity", "line 2");
	assert_true(now_s() - t0 < 1.0);
	/* external DTD: never loaded, and its entities stay undefined */
	static const char ext[] =
		"<?xml version=\"1.0\"?>\n"
		"<!DOCTYPE project SYSTEM \"file:///etc/passwd\">\n"
		"<project xmlns=\"http://www.plcopen.org/xml/tc6_0201\"><types>&xxe;</types></project>\n";
	expect_error(ext, sizeof ext - 1, "line 3", NULL);
	static const char netdtd[] =
		"<!DOCTYPE project PUBLIC \"-//x//y\" \"http://127.0.0.1:9/x.dtd\">\n"
		"<project xmlns=\"http://www.plcopen.org/xml/tc6_0201\"><types>&x;</types></project>\n";
	expect_error(netdtd, sizeof netdtd - 1, "line 2", NULL);
	/* a DOCTYPE without declarations is harmless and ignored */
	static const char plain[] =
		"<!DOCTYPE project>\n<project xmlns=\"http://www.plcopen.org/xml/tc6_0201\"><types/></project>\n";
	struct plc_doc d;
	parse_ok(plain, sizeof plain - 1, &d);
	assert_int_equal(d.n_items, 0);
	plcopen_free(&d);
}

static void test_not_plcopen(void **state)
{
	(void)state;
	static const char *const docs[] = {
		"<root/>",
		"<project/>",
		"<project xmlns=\"urn:other\"><types/></project>",
		"<html xmlns=\"http://www.w3.org/1999/xhtml\"><body/></html>",
		"<projects xmlns=\"http://www.plcopen.org/xml/tc6_0201\"/>",
	};
	for (size_t i = 0; i < sizeof docs / sizeof *docs; i++)
		expect_error(docs[i], strlen(docs[i]), "PLCopen", "line 1");
	expect_error("", 0, "empty", NULL);
	/* the size limit is checked before the buffer is read */
	expect_error(SMALL, (size_t)PG_XML_MAX_BYTES + 1, "PG_XML_MAX_BYTES", NULL);
	static const char junk[] = "\x00\x01\x02\xff\xfe garbage <<<>>>";
	expect_error(junk, sizeof junk - 1, "line", NULL);
	expect_error("{\"json\": true}", 14, "line 1", NULL);
	/* malformed: mismatched tag, named by its line */
	static const char bad[] =
		"<project xmlns=\"http://www.plcopen.org/xml/tc6_0201\">\n<types>\n<pous>\n</types>\n</project>";
	expect_error(bad, sizeof bad - 1, "line 4", NULL);
	struct pg_err e;
	struct plc_doc d;
	assert_int_equal(parse(bad, sizeof bad - 1, &d, &e), -1);
	assert_string_equal(e.field, "xml");
	/* the offset names the start of line 4 (plus the column) */
	assert_true(e.offset >= 69 && e.offset < sizeof bad);
	/* a POU without a name */
	static const char noname[] =
		"<project xmlns=\"http://www.plcopen.org/xml/tc6_0201\">\n<types><pous>\n"
		"<pou pouType=\"program\"/>\n</pous></types></project>";
	assert_int_equal(parse(noname, sizeof noname - 1, &d, &e), -1);
	assert_string_equal(e.field, "pou/@name");
	assert_non_null(strstr(e.msg, "line 3"));
	/* NULL output or error */
	assert_int_equal(plcopen_parse((const uint8_t *)SMALL, SMALL_LEN, NULL, &e), -1);
	assert_int_equal(plcopen_parse((const uint8_t *)"<x", 2, &d, NULL), -1);
}

static void test_deep_nesting(void **state)
{
	(void)state;
	for (int depth = PG_XML_MAX_DEPTH - 10; depth <= PG_XML_MAX_DEPTH + 50; depth += 30) {
		struct buf b = { 0 };
		b_puts(&b, "<project xmlns=\"http://www.plcopen.org/xml/tc6_0201\"><types>\n<pous>"
			   "<pou name=\"P\" pouType=\"program\"><body><ST>");
		for (int i = 0; i < depth; i++)
			b_puts(&b, "<a>");
		for (int i = 0; i < depth; i++)
			b_puts(&b, "</a>");
		b_puts(&b, "</ST></body></pou></pous></types></project>");
		struct plc_doc d;
		struct pg_err e;
		int rc = parse(b.p, b.n, &d, &e);
		if (depth + 6 <= PG_XML_MAX_DEPTH) {
			assert_int_equal(rc, 0);
			plcopen_free(&d);
		} else {
			assert_int_equal(rc, -1);
			assert_non_null(strstr(e.msg, "depth"));
			assert_non_null(strstr(e.msg, "line 2"));
		}
		free(b.p);
	}
	/* far deeper than any limit: still an error, quickly, no stack trouble */
	struct buf b = { 0 };
	b_puts(&b, "<project xmlns=\"http://www.plcopen.org/xml/tc6_0201\">");
	for (int i = 0; i < 100000; i++)
		b_puts(&b, "<a>");
	expect_error(b.p, b.n, "depth", NULL);
	free(b.p);
}

static void test_truncated_small(void **state)
{
	(void)state;
	const char *close = strstr(SMALL, "</project>");
	size_t complete = (size_t)(close - SMALL) + strlen("</project>");
	for (size_t n = 0; n < SMALL_LEN; n++) {
		char *p = malloc(n ? n : 1);
		memcpy(p, SMALL, n);
		struct plc_doc d;
		struct pg_err e;
		int rc = plcopen_parse((const uint8_t *)p, n, &d, &e);
		if (n < complete) {
			if (rc == 0)
				fail_msg("truncated at %zu parsed", n);
			assert_true(e.msg[0] != '\0');
		} else {
			assert_int_equal(rc, 0);
			plcopen_free(&d);
		}
		free(p);
	}
}

static void test_quiet_stderr(void **state)
{
	(void)state;
	fflush(stderr);
	int saved = dup(2);
	FILE *tmp = tmpfile();
	assert_non_null(tmp);
	dup2(fileno(tmp), 2);
	static const char *const bad[] = {
		"<project xmlns=\"http://www.plcopen.org/xml/tc6_0201\"><a></b></project>",
		"<!DOCTYPE p [<!ENTITY x \"y\">]><p>&x;</p>",
		"<?xml version=\"1.0\" encoding=\"no-such-encoding\"?><p/>",
		"<p xmlns:a=\"x\" a:b=\"1\" a:b=\"2\"/>",
		"<p>&undefined;</p>",
		"\xEF\xBB\xBF<p>\xff\xfe</p>",
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		struct plc_doc d;
		struct pg_err e;
		assert_int_equal(parse(bad[i], strlen(bad[i]), &d, &e), -1);
	}
	fflush(stderr);
	long size = lseek(2, 0, SEEK_END);
	dup2(saved, 2);
	close(saved);
	fclose(tmp);
	assert_int_equal(size, 0);
}

/* ------------------------------------------------------------------ */
/* tests: threads                                                        */

struct thr {
	const char *s;
	size_t n;
	uint8_t want[32];
	int bad;
};

static void *thr_main(void *arg)
{
	struct thr *t = arg;
	for (int i = 0; i < 25; i++) {
		struct plc_doc d;
		struct pg_err e;
		if (plcopen_parse((const uint8_t *)t->s, t->n, &d, &e) != 0 ||
		    memcmp(d.doc_fp, t->want, 32) != 0)
			t->bad++;
		plcopen_free(&d);
		/* interleave failures too */
		if (plcopen_parse((const uint8_t *)"<a><b></a>", 10, &d, &e) != -1 ||
		    !strstr(e.msg, "line 1"))
			t->bad++;
	}
	return NULL;
}

static void test_threads(void **state)
{
	(void)state;
	plcopen_global_init();
	struct buf cs = { 0 };
	int have = load_codesys(&cs) == 0;
	struct plc_doc ref;
	parse_ok(SMALL, SMALL_LEN, &ref);
	struct plc_doc ref2 = { 0 };
	if (have)
		parse_ok(cs.p, cs.n, &ref2);
	enum { N = 6 };
	pthread_t th[N];
	struct thr t[N];
	for (int i = 0; i < N; i++) {
		int big = have && i % 2;
		t[i].s = big ? cs.p : SMALL;
		t[i].n = big ? cs.n : SMALL_LEN;
		memcpy(t[i].want, big ? ref2.doc_fp : ref.doc_fp, 32);
		t[i].bad = 0;
		assert_int_equal(pthread_create(&th[i], NULL, thr_main, &t[i]), 0);
	}
	for (int i = 0; i < N; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(t[i].bad, 0);
	}
	plcopen_free(&ref);
	plcopen_free(&ref2);
	free(cs.p);
}

/* ------------------------------------------------------------------ */
/* tests: the real CODESYS export                                       */

static const char *const CODESYS_POUS[30] = {
	"F_getCommaDelimitedName", "FB_logAdd", "FB_abstractEndMachineState",
	"FB_disabledAxesState", "FB_enabledAxesState", "FB_haltedState",
	"FB_movedToPositionState", "FB_poweredOffState", "FB_poweredOnState",
	"FB_abstractMachineState", "FB_machine", "FB_abstractInterimMachineState",
	"FB_disablingAxesState", "FB_enablingAxesState", "FB_haltingState",
	"FB_movingToPositionState", "FB_poweringOffState", "FB_poweringOnState",
	"F_lrealToLintBits", "FB_mcMoveElement", "testCFC", "testFBD", "testLD",
	"testSFC", "POU_DIAG", "Test_ECDiag",
	/* application POUs, in the resource's addData */
	"Device/Application/PLC_PRG", "Device/Application/POU_Depictor",
	"Device/Application/POU_BasicMotion", "Device/Application/POU_BoxProperties",
};

static void test_codesys_items(void **state)
{
	(void)state;
	struct buf b;
	NEED_CODESYS(b);
	assert_true(plcopen_sniff((const uint8_t *)b.p, b.n));
	struct plc_doc d;
	parse_ok(b.p, b.n, &d);
	size_t count[6] = { 0 };
	size_t pou = 0;
	for (size_t i = 0; i < d.n_items; i++) {
		count[d.items[i].kind]++;
		if (d.items[i].kind == PLC_POU) {
			assert_true(pou < 30);
			assert_string_equal(d.items[i].name, CODESYS_POUS[pou]);
			assert_non_null(d.items[i].pou_type);
			assert_non_null(d.items[i].language);
			pou++;
		}
	}
	assert_int_equal(count[PLC_POU], 30);
	assert_int_equal(count[PLC_DATATYPE], 8);
	assert_int_equal(count[PLC_CONFIGURATION], 1);
	assert_int_equal(count[PLC_RESOURCE], 1);
	assert_int_equal(count[PLC_TASK], 2);
	assert_int_equal(d.n_items, 42);
	assert_non_null(find_item(&d, "E_mcMotionFbType"));
	assert_non_null(find_item(&d, "T_MaxString"));
	assert_int_equal(find_item(&d, "Device")->kind, PLC_CONFIGURATION);
	assert_int_equal(find_item(&d, "Device/Application")->kind, PLC_RESOURCE);
	assert_int_equal(find_item(&d, "Device/Application/MainTask")->kind, PLC_TASK);
	assert_int_equal(find_item(&d, "Device/Application/SoftMotion_PlanningTask")->kind, PLC_TASK);
	assert_string_equal(find_item(&d, "testFBD")->language, "FBD");
	assert_string_equal(find_item(&d, "testLD")->language, "LD");
	assert_string_equal(find_item(&d, "testSFC")->language, "SFC");
	assert_string_equal(find_item(&d, "F_lrealToLintBits")->language, "ST");
	assert_string_equal(find_item(&d, "F_lrealToLintBits")->pou_type, "function");
	assert_string_equal(find_item(&d, "FB_machine")->pou_type, "functionBlock");
	assert_string_equal(find_item(&d, "Device/Application/PLC_PRG")->pou_type, "program");
	assert_int_equal(find_item(&d, "F_getCommaDelimitedName")->line, 639);
	assert_int_equal(find_item(&d, "Device/Application/PLC_PRG")->line, 9849);
	assert_string_equal(d.product, "CODESYS");
	assert_string_equal(d.project_name, "SixAxisBoxPicker_Task.project");
	plcopen_free(&d);
	free(b.p);
}

static void test_codesys_reformat(void **state)
{
	(void)state;
	struct buf b;
	NEED_CODESYS(b);
	check_reformat_invariance(b.p, b.n);
	free(b.p);
}

/* Change one character of the first ST body after a start tag. */
static struct buf st_char_change(const struct buf *b, const char *pou_tag)
{
	const char *p = strstr(b->p, pou_tag);
	assert_non_null(p);
	const char *st = strstr(p, "<ST>");
	assert_non_null(st);
	const char *st_end = strstr(st, "</ST>");
	const char *x = strstr(st, ":=");
	assert_non_null(x);
	assert_true(x < st_end);
	while (!((*x >= 'a' && *x <= 'z') || (*x >= '0' && *x <= '9')))
		x++;
	assert_true(x < st_end);
	struct buf o = b_from(b->p, b->n);
	o.p[x - b->p] = *x == 'q' ? 'r' : 'q';
	return o;
}

static void test_codesys_one_char(void **state)
{
	(void)state;
	struct buf b;
	NEED_CODESYS(b);
	struct plc_doc a;
	parse_ok(b.p, b.n, &a);
	static const struct { const char *tag, *item; } cases[] = {
		{ "<pou name=\"POU_BasicMotion\"", "Device/Application/POU_BasicMotion" },
		/* FB_machine's own body is empty: its logic is in methods (addData) */
		{ "<Method name=\"METH_setState\" ObjectId=\"0f8fd884", "FB_machine" },
		{ "<pou name=\"F_lrealToLintBits\"", "F_lrealToLintBits" },
		{ "<pou name=\"PLC_PRG\"", "Device/Application/PLC_PRG" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		struct buf v = st_char_change(&b, cases[i].tag);
		struct plc_doc c;
		parse_ok(v.p, v.n, &c);
		const char *only[] = { cases[i].item, NULL };
		assert_changed_only(&a, &c, only);
		plcopen_free(&c);
		free(v.p);
	}
	/* a CODESYS object id: volatile, ignored */
	{
		struct buf v = replace_all(b.p, b.n, "3170a540-6516-4e31-ab60-9f333675b64c",
					"00000000-6516-4e31-ab60-9f333675b64c");
		struct plc_doc c;
		parse_ok(v.p, v.n, &c);
		assert_same(&a, &c);
		plcopen_free(&c);
		free(v.p);
	}
	/* device parameters (handleUnknown="discard" but real settings) count */
	{
		const char *only[] = { "Device", NULL };
		struct buf v = replace_all(b.p, b.n, "desc=\"Maximum jerk magnitude (software limit)\">10000<",
					"desc=\"Maximum jerk magnitude (software limit)\">10001<");
		struct plc_doc c;
		parse_ok(v.p, v.n, &c);
		assert_changed_only(&a, &c, only);
		plcopen_free(&c);
		free(v.p);
	}
	plcopen_free(&a);
	free(b.p);
}

static void test_codesys_truncated(void **state)
{
	(void)state;
	struct buf b;
	NEED_CODESYS(b);
	const char *close = strstr(b.p, "</project>");
	assert_non_null(close);
	size_t complete = (size_t)(close - b.p) + strlen("</project>");
	size_t tried = 0;
	for (size_t n = 0; n < b.n; n += 1 + n / 50 + (n % 7) * 13) {
		char *p = malloc(n ? n : 1);
		memcpy(p, b.p, n);
		struct plc_doc d;
		struct pg_err e;
		int rc = plcopen_parse((const uint8_t *)p, n, &d, &e);
		if (n < complete) {
			if (rc == 0)
				fail_msg("truncated at %zu parsed", n);
			if (n > 3 && !strstr(e.msg, "line "))
				fail_msg("truncated at %zu: '%s' names no line", n, e.msg);
		} else if (rc == 0) {
			plcopen_free(&d);
		}
		free(p);
		tried++;
	}
	assert_true(tried > 200);
	free(b.p);
}

/* ------------------------------------------------------------------ */
/* tests: Beremiz projects                                              */

struct found {
	char **paths;
	size_t n;
};

static void walk(const char *dir, struct found *f)
{
	DIR *d = opendir(dir);
	if (!d)
		return;
	struct dirent *de;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		size_t n = strlen(dir) + strlen(de->d_name) + 2;
		char *p = malloc(n);
		snprintf(p, n, "%s/%s", dir, de->d_name);
		struct stat st;
		if (stat(p, &st) == 0 && S_ISDIR(st.st_mode)) {
			walk(p, f);
			free(p);
		} else if (strlen(de->d_name) > 4 &&
			   strcmp(de->d_name + strlen(de->d_name) - 4, ".xml") == 0) {
			f->paths = realloc(f->paths, (f->n + 1) * sizeof *f->paths);
			f->paths[f->n++] = p;
		} else {
			free(p);
		}
	}
	closedir(d);
}

static void test_beremiz(void **state)
{
	(void)state;
	char *root = corpus_path(BEREMIZ_REL);
	if (!root) {
		print_message("corpus absent ($PG_CORPUS/" BEREMIZ_REL "): skipped\n");
		skip();
	}
	struct found f = { 0 };
	walk(root, &f);
	size_t plc = 0, other = 0, items = 0;
	for (size_t i = 0; i < f.n; i++) {
		struct buf b;
		assert_int_equal(read_file(f.paths[i], &b), 0);
		const char *base = strrchr(f.paths[i], '/') + 1;
		int is_plc = strcmp(base, "plc.xml") == 0;
		/* recognition by content: exactly the plc.xml files are PLCopen */
		assert_int_equal(plcopen_sniff((const uint8_t *)b.p, b.n), is_plc);
		struct plc_doc d;
		struct pg_err e;
		char eb[400];
		int rc = parse(b.p, b.n, &d, &e);
		if (is_plc) {
			if (rc != 0)
				fail_msg("%s: %s", f.paths[i], pg_err_str(&e, eb, sizeof eb));
			assert_true(d.n_items >= 4); /* a POU, configuration, resource, task */
			items += d.n_items;
			plc++;
			plcopen_free(&d);
			check_reformat_invariance(b.p, b.n);
		} else {
			assert_int_equal(rc, -1);
			other++;
		}
		free(b.p);
		free(f.paths[i]);
	}
	free(f.paths);
	print_message("beremiz: %zu plc.xml (%zu items), %zu other XML files\n", plc, items, other);
	assert_int_equal(plc, 35);
	assert_true(other > 0);

	/* two real files that differ only in contentHeader/@modificationDateTime */
	const char *pairs[][2] = {
		{ "tests/projects/opcua_client/plc.xml", "tests/projects/opcua_client_encrypted/plc.xml" },
		{ "tests/projects/svghmi_pathslider/plc.xml", "tests/projects/svghmi_scrollbar/plc.xml" },
	};
	for (size_t i = 0; i < 2; i++) {
		struct buf x, y;
		char px[4096], py[4096];
		snprintf(px, sizeof px, "%s/%s", root, pairs[i][0]);
		snprintf(py, sizeof py, "%s/%s", root, pairs[i][1]);
		assert_int_equal(read_file(px, &x), 0);
		assert_int_equal(read_file(py, &y), 0);
		assert_true(x.n != y.n || memcmp(x.p, y.p, x.n) != 0);
		struct plc_doc dx, dy;
		parse_ok(x.p, x.n, &dx);
		parse_ok(y.p, y.n, &dy);
		assert_same(&dx, &dy);
		plcopen_free(&dx);
		plcopen_free(&dy);
		free(x.p);
		free(y.p);
	}
	/* counts of one known project */
	{
		char p[4096];
		struct buf x;
		snprintf(p, sizeof p, "%s/exemples/first_steps/plc.xml", root);
		assert_int_equal(read_file(p, &x), 0);
		struct plc_doc d;
		parse_ok(x.p, x.n, &d);
		size_t c[6] = { 0 };
		for (size_t i = 0; i < d.n_items; i++)
			c[d.items[i].kind]++;
		assert_int_equal(c[PLC_POU], 7);
		assert_int_equal(c[PLC_CONFIGURATION], 1);
		assert_int_equal(c[PLC_RESOURCE], 1);
		assert_int_equal(c[PLC_TASK], 1);
		assert_string_equal(d.project_name, "First Steps");
		plcopen_free(&d);
		free(x.p);
	}
	free(root);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kind_names),
		cmocka_unit_test(test_sniff),
		cmocka_unit_test(test_small_items),
		cmocka_unit_test(test_small_reformat),
		cmocka_unit_test(test_small_text_normalisation),
		cmocka_unit_test(test_small_logic_change),
		cmocka_unit_test(test_small_config_changes),
		cmocka_unit_test(test_small_excluded),
		cmocka_unit_test(test_duplicates),
		cmocka_unit_test(test_many_items),
		cmocka_unit_test(test_billion_laughs),
		cmocka_unit_test(test_xxe),
		cmocka_unit_test(test_not_plcopen),
		cmocka_unit_test(test_deep_nesting),
		cmocka_unit_test(test_truncated_small),
		cmocka_unit_test(test_quiet_stderr),
		cmocka_unit_test(test_threads),
		cmocka_unit_test(test_codesys_items),
		cmocka_unit_test(test_codesys_reformat),
		cmocka_unit_test(test_codesys_one_char),
		cmocka_unit_test(test_codesys_truncated),
		cmocka_unit_test(test_beremiz),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
