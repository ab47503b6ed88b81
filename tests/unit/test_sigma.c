/*
 * test_sigma.c - single-event Sigma rules (rules/sigma.c): every modifier,
 * wildcards and escapes, case rules, the condition grammar with its
 * precedence and `1 of` / `all of`, numbers, booleans, null, nested fields,
 * the service mapping, and refusals that name the line and the feature.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sigma.h"

#define HEAD "title: t\nlogsource:\n  product: plcguard\n  service: wire\ndetection:\n"

static char errbuf[8192];

/* Compile HEAD + DET (a detection body) and match it against EVENT (JSON;
 * "source": "wire" is added when it has none). */
static int mt(const char *det, const char *event)
{
	char y[4096];
	snprintf(y, sizeof y, HEAD "%s", det);
	struct pg_sigma_set *set = pg_sigma_set_new();
	assert_non_null(set);
	int n = pg_sigma_load_buf(set, "t.yml", y, strlen(y), errbuf, sizeof errbuf);
	if (n != 0)
		fprintf(stderr, "unexpected errors:\n%s--\n%s\n", errbuf, y);
	assert_int_equal(n, 0);
	assert_int_equal(pg_sigma_count(set), 1);
	json_error_t je;
	json_t *ev = json_loads(event, 0, &je);
	assert_non_null(ev);
	if (!json_object_get(ev, "source"))
		json_object_set_new(ev, "source", json_string("wire"));
	int r = pg_sigma_match(pg_sigma_get(set, 0), ev);
	json_decref(ev);
	pg_sigma_set_free(set);
	return r;
}

/* YAML must be refused with an error that contains every string given. */
static void refuse(const char *yaml, const char *a, const char *b)
{
	struct pg_sigma_set *set = pg_sigma_set_new();
	int n = pg_sigma_load_buf(set, "r.yml", yaml, strlen(yaml), errbuf, sizeof errbuf);
	if (n <= 0 || !strstr(errbuf, a) || (b && !strstr(errbuf, b)))
		fprintf(stderr, "want '%s' and '%s' in:\n%s--\n%s\n", a, b ? b : "", errbuf, yaml);
	assert_true(n > 0);
	assert_non_null(strstr(errbuf, a));
	if (b)
		assert_non_null(strstr(errbuf, b));
	pg_sigma_set_free(set);
}

static void test_plain_and_case(void **st)
{
	(void)st;
	const char *d = "  sel:\n    kind: s7.plc.stop\n  condition: sel\n";
	assert_true(mt(d, "{\"kind\":\"s7.plc.stop\"}"));
	assert_true(mt(d, "{\"kind\":\"S7.PLC.Stop\"}"));     /* case-insensitive */
	assert_false(mt(d, "{\"kind\":\"s7.plc.stopped\"}"));  /* whole value */
	assert_false(mt(d, "{\"other\":\"s7.plc.stop\"}"));
	const char *c = "  sel:\n    kind|cased: s7.PLC.stop\n  condition: sel\n";
	assert_true(mt(c, "{\"kind\":\"s7.PLC.stop\"}"));
	assert_false(mt(c, "{\"kind\":\"s7.plc.stop\"}"));
	/* list = OR, map = AND */
	const char *l = "  sel:\n    kind:\n      - a\n      - b\n    verdict: differs\n  condition: sel\n";
	assert_true(mt(l, "{\"kind\":\"b\",\"verdict\":\"differs\"}"));
	assert_false(mt(l, "{\"kind\":\"b\",\"verdict\":\"matches\"}"));
	assert_false(mt(l, "{\"kind\":\"c\",\"verdict\":\"differs\"}"));
	/* list of maps = OR of ANDs */
	const char *lm = "  sel:\n    - kind: a\n      x: 1\n    - kind: b\n  condition: sel\n";
	assert_true(mt(lm, "{\"kind\":\"a\",\"x\":1}"));
	assert_false(mt(lm, "{\"kind\":\"a\",\"x\":2}"));
	assert_true(mt(lm, "{\"kind\":\"b\"}"));
}

static void test_wildcards_escapes(void **st)
{
	(void)st;
	const char *d = "  sel:\n    object: 'DB?*'\n  condition: sel\n";
	assert_true(mt(d, "{\"object\":\"DB1\"}"));
	assert_true(mt(d, "{\"object\":\"db100\"}"));
	assert_false(mt(d, "{\"object\":\"DB\"}"));           /* ? is one mandatory character */
	assert_false(mt(d, "{\"object\":\"OB1\"}"));
	assert_true(mt("  sel:\n    object: 'a?c'\n  condition: sel\n", "{\"object\":\"a\xc3\xa9" "c\"}"));
	/* \* is a literal star */
	const char *e = "  sel:\n    object: 'a\\*b'\n  condition: sel\n";
	assert_true(mt(e, "{\"object\":\"a*b\"}"));
	assert_false(mt(e, "{\"object\":\"axxb\"}"));
	/* \? is a literal question mark */
	assert_true(mt("  sel:\n    object: 'a\\?'\n  condition: sel\n", "{\"object\":\"a?\"}"));
	assert_false(mt("  sel:\n    object: 'a\\?'\n  condition: sel\n", "{\"object\":\"ab\"}"));
	/* \\* is a backslash and then a wildcard */
	const char *b = "  sel:\n    path: 'C:\\\\*'\n  condition: sel\n";
	assert_true(mt(b, "{\"path\":\"C:\\\\x\\\\y\"}"));
	assert_false(mt(b, "{\"path\":\"C:x\"}"));
	/* a plain backslash not before a wildcard is itself */
	assert_true(mt("  sel:\n    path: 'C:\\dir'\n  condition: sel\n", "{\"path\":\"C:\\\\dir\"}"));
	/* \\\* is a backslash and a literal star */
	const char *t = "  sel:\n    path: 'a\\\\\\*'\n  condition: sel\n";
	assert_true(mt(t, "{\"path\":\"a\\\\*\"}"));
	assert_false(mt(t, "{\"path\":\"a\\\\xyz\"}"));
	/* a star-only value matches any present value */
	assert_true(mt("  sel:\n    kind: '*'\n  condition: sel\n", "{\"kind\":\"\"}"));
	assert_false(mt("  sel:\n    kind: '*'\n  condition: sel\n", "{}"));
}

static void test_string_modifiers(void **st)
{
	(void)st;
	const char *c = "  sel:\n    text|contains: Download\n  condition: sel\n";
	assert_true(mt(c, "{\"text\":\"a block DOWNLOAD ended\"}"));
	assert_false(mt(c, "{\"text\":\"upload\"}"));
	const char *s = "  sel:\n    kind|startswith: s7.\n  condition: sel\n";
	assert_true(mt(s, "{\"kind\":\"s7.plc.stop\"}"));
	assert_false(mt(s, "{\"kind\":\"umas.plc.stop\"}"));
	const char *e = "  sel:\n    kind|endswith: .stop\n  condition: sel\n";
	assert_true(mt(e, "{\"kind\":\"umas.plc.stop\"}"));
	assert_false(mt(e, "{\"kind\":\"umas.plc.start\"}"));
	/* contains keeps ? and * as wildcards inside */
	assert_true(mt("  sel:\n    text|contains: 'b?d'\n  condition: sel\n", "{\"text\":\"xxbadxx\"}"));
	/* all: every value */
	const char *a = "  sel:\n    text|contains|all:\n      - alpha\n      - beta\n  condition: sel\n";
	assert_true(mt(a, "{\"text\":\"beta then alpha\"}"));
	assert_false(mt(a, "{\"text\":\"alpha only\"}"));
	/* contains|cased */
	const char *cc = "  sel:\n    text|contains|cased: DB\n  condition: sel\n";
	assert_true(mt(cc, "{\"text\":\"to DB1\"}"));
	assert_false(mt(cc, "{\"text\":\"to db1\"}"));
	/* arrays: one element is enough */
	const char *ar = "  sel:\n    blocks: OB1\n  condition: sel\n";
	assert_true(mt(ar, "{\"blocks\":[\"DB1\",\"OB1\"]}"));
	assert_false(mt(ar, "{\"blocks\":[\"DB1\"]}"));
	/* keywords: any string anywhere in the event */
	const char *kw = "  keywords:\n    - '*evil*'\n  condition: keywords\n";
	assert_true(mt(kw, "{\"a\":{\"b\":[\"an EVIL one\"]}}"));
	assert_false(mt(kw, "{\"a\":\"good\"}"));
}

static void test_re(void **st)
{
	(void)st;
	const char *r = "  sel:\n    object|re: '^(DB|OB)[0-9]+$'\n  condition: sel\n";
	assert_true(mt(r, "{\"object\":\"OB35\"}"));
	assert_false(mt(r, "{\"object\":\"ob35\"}"));          /* re is case-sensitive */
	assert_false(mt(r, "{\"object\":\"FC1\"}"));
	assert_true(mt("  sel:\n    object|re|i: '^ob[0-9]+$'\n  condition: sel\n", "{\"object\":\"OB1\"}"));
	assert_true(mt("  sel:\n    text|re|s: 'a.b'\n  condition: sel\n", "{\"text\":\"a\\nb\"}"));
	assert_false(mt("  sel:\n    text|re: 'a.b'\n  condition: sel\n", "{\"text\":\"a\\nb\"}"));
	assert_true(mt("  sel:\n    text|re|m: '^b$'\n  condition: sel\n", "{\"text\":\"a\\nb\"}"));
	/* numbers are matched by their text */
	assert_true(mt("  sel:\n    size|re: '^1[0-9]{3}$'\n  condition: sel\n", "{\"size\":1234}"));
	/* catastrophic backtracking stops at the match limit (no match, no hang) */
	assert_false(mt("  sel:\n    text|re: '^(a+)+$'\n  condition: sel\n",
			"{\"text\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab\"}"));
}

static void test_cidr(void **st)
{
	(void)st;
	const char *c = "  sel:\n    src.ip|cidr:\n      - 10.0.0.0/8\n      - 'fd00::/8'\n  condition: sel\n";
	assert_true(mt(c, "{\"src\":{\"ip\":\"10.1.2.3\"}}"));
	assert_false(mt(c, "{\"src\":{\"ip\":\"11.1.2.3\"}}"));
	assert_true(mt(c, "{\"src\":{\"ip\":\"fd12::5\"}}"));
	assert_false(mt(c, "{\"src\":{\"ip\":\"fe80::1\"}}"));
	assert_false(mt(c, "{\"src\":{\"ip\":\"not an ip\"}}"));
	const char *o = "  sel:\n    dst.ip|cidr: 192.168.1.128/25\n  condition: sel\n";
	assert_true(mt(o, "{\"dst\":{\"ip\":\"192.168.1.200\"}}"));
	assert_false(mt(o, "{\"dst\":{\"ip\":\"192.168.1.100\"}}"));
	assert_true(mt("  sel:\n    dst.ip|cidr: 192.168.1.7\n  condition: sel\n", "{\"dst\":{\"ip\":\"192.168.1.7\"}}"));
}

static void test_exists_null_neq(void **st)
{
	(void)st;
	const char *e = "  sel:\n    sha256|exists: true\n  condition: sel\n";
	assert_true(mt(e, "{\"sha256\":\"ab\"}"));
	assert_true(mt(e, "{\"sha256\":null}"));
	assert_false(mt(e, "{}"));
	assert_true(mt("  sel:\n    sha256|exists: false\n  condition: sel\n", "{}"));
	assert_false(mt("  sel:\n    baseline.ticket|exists: false\n  condition: sel\n",
			"{\"baseline\":{\"ticket\":\"CHG-1\"}}"));
	const char *n = "  sel:\n    ticket: null\n  condition: sel\n";
	assert_true(mt(n, "{}"));
	assert_true(mt(n, "{\"ticket\":null}"));
	assert_false(mt(n, "{\"ticket\":\"\"}"));
	const char *em = "  sel:\n    ticket: ''\n  condition: sel\n";
	assert_true(mt(em, "{\"ticket\":\"\"}"));
	assert_false(mt(em, "{}"));
	const char *q = "  sel:\n    verdict|neq:\n      - matches\n      - incomplete\n  condition: sel\n";
	assert_true(mt(q, "{\"verdict\":\"differs\"}"));
	assert_false(mt(q, "{\"verdict\":\"Matches\"}"));
	assert_false(mt(q, "{\"verdict\":\"incomplete\"}"));
	assert_false(mt(q, "{}"));                              /* neq needs the field */
	assert_true(mt("  sel:\n    size|neq: 5\n  condition: sel\n", "{\"size\":6}"));
	assert_false(mt("  sel:\n    size|neq: 5\n  condition: sel\n", "{\"size\":5}"));
}

static void test_numbers_bools(void **st)
{
	(void)st;
	const char *d = "  sel:\n    size: 1024\n  condition: sel\n";
	assert_true(mt(d, "{\"size\":1024}"));
	assert_true(mt(d, "{\"size\":1024.0}"));
	assert_true(mt(d, "{\"size\":\"1024\"}"));
	assert_false(mt(d, "{\"size\":1025}"));
	assert_true(mt("  sel:\n    func: 0x29\n  condition: sel\n", "{\"func\":41}"));
	assert_true(mt("  sel:\n    size|gt: 100\n  condition: sel\n", "{\"size\":101}"));
	assert_false(mt("  sel:\n    size|gt: 100\n  condition: sel\n", "{\"size\":100}"));
	assert_true(mt("  sel:\n    size|gte: 100\n  condition: sel\n", "{\"size\":100}"));
	assert_true(mt("  sel:\n    size|lt: 1.5\n  condition: sel\n", "{\"size\":1}"));
	assert_false(mt("  sel:\n    size|lt: 1.5\n  condition: sel\n", "{\"size\":2}"));
	assert_true(mt("  sel:\n    size|lte: -1\n  condition: sel\n", "{\"size\":-1}"));
	assert_false(mt("  sel:\n    size|lte: -1\n  condition: sel\n", "{\"size\":\"-2\"}")); /* strings are not numbers */
	const char *b = "  sel:\n    know_how: true\n  condition: sel\n";
	assert_true(mt(b, "{\"know_how\":true}"));
	assert_false(mt(b, "{\"know_how\":false}"));
	assert_false(mt(b, "{\"know_how\":1}"));
	/* a quoted number is a string */
	assert_false(mt("  sel:\n    size: '1024'\n  condition: sel\n", "{\"size\":\"01024\"}"));
	assert_true(mt("  sel:\n    size: '10*'\n  condition: sel\n", "{\"size\":1024}"));
}

static void test_nested_fields(void **st)
{
	(void)st;
	const char *d = "  sel:\n    baseline.ticket|startswith: CHG-\n    components.changed|gt: 0\n  condition: sel\n";
	assert_true(mt(d, "{\"baseline\":{\"ticket\":\"CHG-12\"},\"components\":{\"changed\":3}}"));
	assert_false(mt(d, "{\"baseline\":{\"ticket\":\"CHG-12\"},\"components\":{\"changed\":0}}"));
	assert_false(mt(d, "{\"baseline\":\"CHG-12\",\"components\":{\"changed\":3}}"));
	/* a member whose name has a dot is found as it is */
	assert_true(mt("  sel:\n    a.b: x\n  condition: sel\n", "{\"a.b\":\"x\"}"));
	assert_true(mt("  sel:\n    a.b.c: 1\n  condition: sel\n", "{\"a\":{\"b\":{\"c\":1}}}"));
}

#define SELS "  sel1:\n    a: 1\n  sel2:\n    b: 1\n  filter:\n    c: 1\n  _aux:\n    d: 1\n"

static void test_condition(void **st)
{
	(void)st;
	/* precedence: not > and > or */
	const char *p = SELS "  condition: sel1 or sel2 and not filter\n";
	assert_true(mt(p, "{\"a\":1,\"c\":1}"));        /* sel1 or (sel2 and not filter) */
	assert_false(mt(p, "{\"b\":1,\"c\":1}"));
	assert_true(mt(p, "{\"b\":1}"));
	const char *q = SELS "  condition: (sel1 or sel2) and not filter\n";
	assert_false(mt(q, "{\"a\":1,\"c\":1}"));
	assert_true(mt(q, "{\"a\":1}"));
	const char *nn = SELS "  condition: not not sel1\n";
	assert_true(mt(nn, "{\"a\":1}"));
	/* 1 of / all of with wildcards */
	const char *o = SELS "  condition: 1 of sel* and not 1 of filt*\n";
	assert_true(mt(o, "{\"b\":1}"));
	assert_false(mt(o, "{\"b\":1,\"c\":1}"));
	assert_false(mt(o, "{\"d\":1}"));
	const char *al = SELS "  condition: all of sel*\n";
	assert_true(mt(al, "{\"a\":1,\"b\":1}"));
	assert_false(mt(al, "{\"a\":1}"));
	/* them: every identifier not starting with _ */
	const char *t1 = SELS "  condition: 1 of them\n";
	assert_true(mt(t1, "{\"c\":1}"));
	assert_false(mt(t1, "{\"d\":1}"));
	const char *ta = SELS "  condition: all of them\n";
	assert_true(mt(ta, "{\"a\":1,\"b\":1,\"c\":1}"));
	assert_false(mt(ta, "{\"a\":1,\"b\":1,\"d\":1}"));
	/* not binds tighter than "x of", and "x of" than and/or */
	const char *no = SELS "  condition: not 1 of sel* or filter\n";
	assert_true(mt(no, "{\"d\":1}"));
	assert_false(mt(no, "{\"a\":1}"));
	assert_true(mt(no, "{\"a\":1,\"c\":1}"));
	/* a pattern in the middle */
	assert_true(mt(SELS "  condition: all of s*1 and _aux\n", "{\"a\":1,\"d\":1}"));
	/* a list of conditions is OR-ed */
	const char *l = SELS "  condition:\n    - sel1 and sel2\n    - filter\n";
	assert_true(mt(l, "{\"c\":1}"));
	assert_true(mt(l, "{\"a\":1,\"b\":1}"));
	assert_false(mt(l, "{\"a\":1}"));
	/* deep parentheses */
	assert_true(mt(SELS "  condition: ((((sel1))) and ((not (filter))))\n", "{\"a\":1}"));
}

static void test_service(void **st)
{
	(void)st;
	const char *y = "title: t\nlogsource:\n  product: plcguard\n  service: health\n"
			"detection:\n  sel:\n    kind: capture.drops\n  condition: sel\n";
	struct pg_sigma_set *set = pg_sigma_set_new();
	assert_int_equal(pg_sigma_load_buf(set, "h.yml", y, strlen(y), errbuf, sizeof errbuf), 0);
	json_t *self = json_pack("{s:s,s:s}", "source", "self", "kind", "capture.drops");
	json_t *wire = json_pack("{s:s,s:s}", "source", "wire", "kind", "capture.drops");
	json_t *none = json_pack("{s:s}", "kind", "capture.drops");
	assert_string_equal(pg_sigma_event_service(self), "health");
	assert_string_equal(pg_sigma_event_service(wire), "wire");
	assert_null(pg_sigma_event_service(none));
	assert_true(pg_sigma_match(pg_sigma_get(set, 0), self));
	assert_false(pg_sigma_match(pg_sigma_get(set, 0), wire));
	assert_false(pg_sigma_match(pg_sigma_get(set, 0), none));
	assert_string_equal(pg_sigma_rule_service(pg_sigma_get(set, 0)), "health");
	json_decref(self);
	json_decref(wire);
	json_decref(none);
	pg_sigma_set_free(set);
}

static void test_multi_document(void **st)
{
	(void)st;
	const char *y = HEAD "  sel:\n    a: 1\n  condition: sel\nid: 929a690e-bef0-4204-a928-ef5e620d6fcc\n"
			"level: high\nstatus: test\ntags:\n  - attack.t0843\n---\n"
			"title: second\nlogsource:\n  product: plcguard\n  service: file\n"
			"detection:\n  sel:\n    a: 2\n  condition: sel\n";
	struct pg_sigma_set *set = pg_sigma_set_new();
	assert_int_equal(pg_sigma_load_buf(set, "m.yml", y, strlen(y), errbuf, sizeof errbuf), 0);
	assert_int_equal(pg_sigma_count(set), 2);
	assert_string_equal(pg_sigma_rule_id(pg_sigma_get(set, 0)), "929a690e-bef0-4204-a928-ef5e620d6fcc");
	assert_string_equal(pg_sigma_rule_level(pg_sigma_get(set, 0)), "high");
	assert_string_equal(pg_sigma_rule_title(pg_sigma_get(set, 1)), "second");
	assert_string_equal(pg_sigma_rule_id(pg_sigma_get(set, 1)), "");
	pg_sigma_set_free(set);
	/* a bad document does not hide the good ones, and is counted */
	const char *z = HEAD "  sel:\n    a: 1\n  condition: sel\n---\ntitle: bad\n";
	set = pg_sigma_set_new();
	assert_int_equal(pg_sigma_load_buf(set, "z.yml", z, strlen(z), errbuf, sizeof errbuf), 1);
	assert_int_equal(pg_sigma_count(set), 1);
	assert_non_null(strstr(errbuf, "z.yml:10: logsource: missing"));
	pg_sigma_set_free(set);
}

static void test_refusals(void **st)
{
	(void)st;
	/* 1 unknown modifier, with file, line and name */
	refuse(HEAD "  sel:\n    a|foo: 1\n  condition: sel\n", "r.yml:7: detection.sel.a|foo", "unknown modifier 'foo'");
	/* 2-5 known but unsupported modifiers */
	refuse(HEAD "  sel:\n    a: 1\n    b|base64: x\n  condition: sel\n", "r.yml:8:", "'base64' is not supported");
	refuse(HEAD "  sel:\n    a|windash: x\n  condition: sel\n", "r.yml:7:", "'windash'");
	refuse(HEAD "  sel:\n    a|expand: '%x%'\n  condition: sel\n", "r.yml:7:", "'expand'");
	refuse(HEAD "  sel:\n    a|fieldref: b\n  condition: sel\n", "r.yml:7:", "'fieldref'");
	/* 6 action: global */
	refuse("action: global\ntitle: t\n", "r.yml:1: action", "not supported");
	/* 7 correlation rules */
	refuse("title: c\nname: c\ncorrelation:\n  type: event_count\n", "r.yml:3: correlation", "not yet supported");
	/* 8 logsource product */
	refuse("title: t\nlogsource:\n  product: windows\n  service: wire\ndetection:\n  s:\n    a: 1\n  condition: s\n",
	       "r.yml:3: logsource.product", "'windows'");
	/* 9 logsource service */
	refuse("title: t\nlogsource:\n  product: plcguard\n  service: sysmon\n", "r.yml:4: logsource.service", "'sysmon'");
	/* 10 level */
	refuse(HEAD "  s:\n    a: 1\n  condition: s\nlevel: severe\n", "r.yml:9: level", "'severe'");
	/* 11 id not a UUID */
	refuse("title: t\nid: 1234\n", "r.yml:2: id", "not a UUID");
	/* 12 status */
	refuse(HEAD "  s:\n    a: 1\n  condition: s\nstatus: beta\n", "r.yml:9: status", "'beta'");
	/* 13 condition: unknown identifier, with its column */
	refuse(HEAD "  sel:\n    a: 1\n  condition: sel and nope\n", "r.yml:8: detection.condition", "column 9: unknown search identifier at 'nope'");
	/* 14 condition: unbalanced parenthesis */
	refuse(HEAD "  sel:\n    a: 1\n  condition: (sel or sel\n", "r.yml:8:", "')' expected at the end");
	/* 15 condition: "1 of" with no match */
	refuse(HEAD "  sel:\n    a: 1\n  condition: 1 of x*\n", "r.yml:8:", "column 6: no search identifier matches");
	/* 16 condition: missing operator */
	refuse(HEAD "  sel:\n    a: 1\n  condition: sel sel\n", "r.yml:8:", "column 5:");
	/* 17 missing condition */
	refuse(HEAD "  sel:\n    a: 1\n", "r.yml:6: detection.condition", "missing");
	/* 18 bad regular expression */
	refuse(HEAD "  sel:\n    a|re: '(unclosed'\n  condition: sel\n", "r.yml:7:", "modifier 're'");
	/* 19 bad CIDR */
	refuse(HEAD "  sel:\n    a|cidr: 10.0.0.0/33\n  condition: sel\n", "r.yml:7:", "modifier 'cidr'");
	/* 20 gt on a string */
	refuse(HEAD "  sel:\n    a|gt: big\n  condition: sel\n", "r.yml:7:", "lt/lte/gt/gte need a number");
	/* 21 null in a list */
	refuse(HEAD "  sel:\n    a:\n      - x\n      - null\n  condition: sel\n", "r.yml:9:", "null cannot be part of a list");
	/* 22 tags */
	refuse(HEAD "  s:\n    a: 1\n  condition: s\ntags:\n  - Attack T0843\n", "r.yml:10: tags", "not a tag");
	/* 23 timeframe belongs to correlations */
	refuse(HEAD "  s:\n    a: 1\n  timeframe: 5m\n  condition: s\n", "r.yml:8: detection.timeframe", "correlation");
	/* 24 YAML syntax error */
	refuse(HEAD "  s: [a\n", "r.yml:", "YAML");
	/* 25 depth */
	refuse(HEAD "  s:\n    a: [[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]\n  condition: s\n", "r.yml:7:", "nesting deeper");
	/* 26 all with one value */
	refuse(HEAD "  sel:\n    a|all: x\n  condition: sel\n", "r.yml:7:", "'all' needs a list");
	/* 27 title missing */
	refuse("logsource:\n  product: plcguard\n  service: wire\n", "r.yml:1: title", "missing");
	/* 28 sub-modifier without re */
	refuse(HEAD "  sel:\n    a|i: x\n  condition: sel\n", "r.yml:7:", "only allowed after 're'");
	/* 29 exists with a string */
	refuse(HEAD "  sel:\n    a|exists: yes\n  condition: sel\n", "r.yml:7:", "'exists' needs true or false");
	/* 30 an empty file */
	refuse("", "r.yml:1:", "no rule");
	/* 31 a duplicate key */
	refuse(HEAD "  sel:\n    a: 1\n  sel:\n    b: 1\n  condition: sel\n", "r.yml:8:", "duplicate key 'sel'");
	/* 32 a file too large */
	size_t big = (1u << 20) + 1;
	char *b = malloc(big + 1);
	assert_non_null(b);
	memset(b, '#', big);
	b[big] = 0;
	refuse(b, "r.yml:1:", "file larger than");
	free(b);
}

static void test_alias_bomb(void **st)
{
	(void)st;
	char y[4096];
	snprintf(y, sizeof y, "%s",
		 "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
		 "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
		 "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
		 "d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
		 "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\n"
		 "f: [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\n");
	refuse(y, "r.yml:", "YAML nodes");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain_and_case),
		cmocka_unit_test(test_wildcards_escapes),
		cmocka_unit_test(test_string_modifiers),
		cmocka_unit_test(test_re),
		cmocka_unit_test(test_cidr),
		cmocka_unit_test(test_exists_null_neq),
		cmocka_unit_test(test_numbers_bools),
		cmocka_unit_test(test_nested_fields),
		cmocka_unit_test(test_condition),
		cmocka_unit_test(test_service),
		cmocka_unit_test(test_multi_document),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_alias_bomb),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
