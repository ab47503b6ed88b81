/*
 * plcopen.c - PLCopen XML (TC6) projects: items and canonical fingerprints.
 *
 * Parsing: libxml2 from memory, network off (XML_PARSE_NONET), no entity
 * substitution (no XML_PARSE_NOENT), no DTD loading, defaulting or validation.
 * SAX hooks on our own parser context reject any entity or attribute-list
 * declaration the moment it is read (billion laughs, XXE), count elements
 * (PG_XML_MAX_NODES) and bound nesting (PG_XML_MAX_DEPTH) while the tree is
 * built.  libxml2's messages go to a structured handler on that context and
 * the first error (line, column, text) lands in the caller's pg_err; nothing
 * is printed.
 *
 * Canonical form and what is fingerprinted: docs/FORMATS.md, "PLCopen XML".
 *
 * Threads: this file keeps no mutable state of its own except a pthread_once
 * guard around xmlInitParser().  libxml2 (2.9, built with thread support as on
 * Debian) is safe for concurrent parses on separate parser contexts and
 * documents once xmlInitParser() has run; its error-handler "globals" are
 * per-thread.  We set the calling thread's generic and structured handlers for
 * the duration of one parse and restore them before returning.  Programs that
 * also use libxml2 elsewhere should call plcopen_global_init() from main()
 * before starting threads, and must not call xmlCleanupParser() while any
 * thread may still parse.
 */
#include "plcopen.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/SAX2.h>
#include <libxml/globals.h>
#include <libxml/hash.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlerror.h>

#include "cursor.h"
#include "digest.h"
#include "pg_limits.h"

#define TC6_NS_PREFIX "http://www.plcopen.org/xml/tc6"
#define PLC_DOMAIN_DOC "plcguard-plcopen-v1/doc"
#define PLC_DOMAIN_ITEM "plcguard-plcopen-v1/item"
#define CODESYS_DATA "http://www.3s-software.com/plcopenxml/"
#define SNIFF_WINDOW 8192

#if LIBXML_VERSION >= 21200
typedef const xmlError *pg_xml_error_ptr;
#else
typedef xmlErrorPtr pg_xml_error_ptr;
#endif

/* Marker stored in xmlNode._private of elements that are items. */
static char item_marker;

/* ------------------------------------------------------------------ */
/* global init                                                          */

static pthread_once_t init_once = PTHREAD_ONCE_INIT;

static void do_init(void)
{
	xmlInitParser();
}

void plcopen_global_init(void)
{
	pthread_once(&init_once, do_init);
}

const char *plcopen_kind_name(enum plc_kind k)
{
	switch (k) {
	case PLC_POU:
		return "pou";
	case PLC_DATATYPE:
		return "datatype";
	case PLC_CONFIGURATION:
		return "configuration";
	case PLC_RESOURCE:
		return "resource";
	case PLC_TASK:
		return "task";
	}
	return "unknown";
}

/* ------------------------------------------------------------------ */
/* sniff                                                                */

static int is_ws(int c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Skip past the first occurrence of lit; 0 if it is not in the window. */
static int skip_past(struct cur *c, const char *lit)
{
	size_t n = strlen(lit);
	while (cur_left(c) >= n) {
		if (cur_peek_eq(c, lit, n)) {
			cur_skip(c, n);
			return 1;
		}
		cur_skip(c, 1);
	}
	return 0;
}

int plcopen_sniff(const uint8_t *buf, size_t len)
{
	struct cur c = cur_init(buf, len < SNIFF_WINDOW ? len : SNIFF_WINDOW);
	if (cur_peek_eq(&c, "\xEF\xBB\xBF", 3))
		cur_skip(&c, 3);
	while (is_ws(cur_peek(&c, 0)))
		cur_skip(&c, 1);
	if (cur_peek(&c, 0) != '<')
		return 0;
	/* Prolog: XML declaration, comments, PIs, a DOCTYPE, whitespace. */
	for (;;) {
		while (is_ws(cur_peek(&c, 0)))
			cur_skip(&c, 1);
		if (cur_peek(&c, 0) != '<')
			return 0;
		if (cur_peek_eq(&c, "<?", 2)) {
			if (!skip_past(&c, "?>"))
				return 0;
		} else if (cur_peek_eq(&c, "<!--", 4)) {
			if (!skip_past(&c, "-->"))
				return 0;
		} else if (cur_peek_eq(&c, "<!DOCTYPE", 9)) {
			/* internal subset ends with "]>", else the first '>' */
			int depth = 0;
			cur_skip(&c, 9);
			for (;;) {
				int ch = cur_peek(&c, 0);
				if (ch < 0)
					return 0;
				cur_skip(&c, 1);
				if (ch == '[')
					depth++;
				else if (ch == ']' && depth > 0)
					depth--;
				else if (ch == '>' && depth == 0)
					break;
			}
		} else {
			break;
		}
	}
	/* Root start tag: "<project" or "<prefix:project". */
	cur_skip(&c, 1);
	size_t n = 0;
	for (;;) {
		int ch = cur_peek(&c, n);
		if (ch < 0)
			return 0;
		if (is_ws(ch) || ch == '>' || ch == '/')
			break;
		n++;
	}
	const uint8_t *name = cur_bytes(&c, n);
	if (!name)
		return 0;
	struct cur nm = cur_init(name, n);
	size_t colon = n;
	for (size_t i = 0; i < n; i++)
		if (cur_peek(&nm, i) == ':')
			colon = i;
	if (colon < n)
		cur_skip(&nm, colon + 1);
	if (cur_left(&nm) != 7 || !cur_peek_eq(&nm, "project", 7))
		return 0;
	/* The TC6 namespace must be declared on the root start tag. */
	size_t nslen = strlen(TC6_NS_PREFIX);
	int quote = 0;
	for (;;) {
		int ch = cur_peek(&c, 0);
		if (ch < 0)
			return 0;
		if (quote) {
			if (ch == quote)
				quote = 0;
			else if (cur_peek_eq(&c, TC6_NS_PREFIX, nslen))
				return 1;
		} else if (ch == '"' || ch == '\'') {
			quote = ch;
		} else if (ch == '>') {
			return 0;
		}
		cur_skip(&c, 1);
	}
}

/* ------------------------------------------------------------------ */
/* parse state and libxml2 hooks                                        */

struct pstate {
	struct pg_err *err;
	const uint8_t *buf;
	size_t len;
	int failed;          /* err holds the first problem */
	size_t nodes;
	size_t depth;
};

/* Byte offset of (line, column), both 1-based, by the XML end-of-line rules. */
static size_t line_offset(const uint8_t *buf, size_t len, long line, long col)
{
	struct cur c = cur_init(buf, len);
	long l = 1;
	while (l < line && cur_left(&c) > 0) {
		int ch = cur_u8(&c);
		if (ch == '\n') {
			l++;
		} else if (ch == '\r') {
			if (cur_peek(&c, 0) == '\n')
				cur_skip(&c, 1);
			l++;
		}
	}
	if (l < line)
		return PG_NO_OFFSET;
	size_t off = cur_off(&c);
	if (col > 1) {
		size_t add = (size_t)(col - 1);
		off = add < cur_left(&c) ? off + add : len;
	}
	return off;
}

static void st_fail(struct pstate *st, long line, long col, const char *field,
		    const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static void st_fail(struct pstate *st, long line, long col, const char *field,
		    const char *fmt, ...)
{
	if (st->failed)
		return;
	st->failed = 1;
	char text[200];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(text, sizeof text, fmt, ap);
	va_end(ap);
	size_t off = line > 0 ? line_offset(st->buf, st->len, line, col) : PG_NO_OFFSET;
	if (line > 0 && col > 0)
		pg_err_set(st->err, off, field, "line %ld, column %ld: %s", line, col, text);
	else if (line > 0)
		pg_err_set(st->err, off, field, "line %ld: %s", line, text);
	else
		pg_err_set(st->err, PG_NO_OFFSET, field, "%s", text);
}

static void on_xml_error(void *user, pg_xml_error_ptr e)
{
	xmlParserCtxtPtr ctxt = user;
	if (!ctxt || !e || e->level < XML_ERR_ERROR)
		return; /* warnings are not failures */
	struct pstate *st = ctxt->_private;
	if (!st)
		return;
	char text[200];
	snprintf(text, sizeof text, "%s", e->message ? e->message : "XML error");
	size_t n = strlen(text);
	while (n > 0 && (text[n - 1] == '\n' || text[n - 1] == '\r' || text[n - 1] == ' '))
		text[--n] = '\0';
	st_fail(st, e->line, e->int2, "xml", "%s", text);
}

static void on_silent(void *ctx, const char *msg, ...)
{
	(void)ctx;
	(void)msg;
}

static long ctxt_line(xmlParserCtxtPtr ctxt)
{
	return ctxt->input ? (long)ctxt->input->line : 0;
}

static long ctxt_col(xmlParserCtxtPtr ctxt)
{
	return ctxt->input ? (long)ctxt->input->col : 0;
}

static void reject_decl(void *user, const char *what, const xmlChar *name)
{
	xmlParserCtxtPtr ctxt = user;
	struct pstate *st = ctxt->_private;
	st_fail(st, ctxt_line(ctxt), ctxt_col(ctxt), "doctype",
		"DOCTYPE declares %s '%.40s': entity and attribute-list declarations "
		"are refused (entity expansion / external entities)",
		what, name ? (const char *)name : "");
	xmlStopParser(ctxt);
}

static void on_entity_decl(void *user, const xmlChar *name, int type,
			   const xmlChar *publicId, const xmlChar *systemId,
			   xmlChar *content)
{
	(void)type;
	(void)publicId;
	(void)systemId;
	(void)content;
	reject_decl(user, "an entity", name);
}

static void on_unparsed_entity_decl(void *user, const xmlChar *name,
				    const xmlChar *publicId,
				    const xmlChar *systemId,
				    const xmlChar *notationName)
{
	(void)publicId;
	(void)systemId;
	(void)notationName;
	reject_decl(user, "an unparsed entity", name);
}

static void on_attribute_decl(void *user, const xmlChar *elem,
			      const xmlChar *fullname, int type, int def,
			      const xmlChar *defaultValue, xmlEnumerationPtr tree)
{
	(void)elem;
	(void)type;
	(void)def;
	(void)defaultValue;
	if (tree)
		xmlFreeEnumeration(tree); /* the callback owns it */
	reject_decl(user, "an attribute list for", fullname);
}

static void on_start(void *user, const xmlChar *localname,
		     const xmlChar *prefix, const xmlChar *URI, int nb_namespaces,
		     const xmlChar **namespaces, int nb_attributes,
		     int nb_defaulted, const xmlChar **attributes)
{
	xmlParserCtxtPtr ctxt = user;
	struct pstate *st = ctxt->_private;
	if (++st->nodes > PG_XML_MAX_NODES) {
		st_fail(st, ctxt_line(ctxt), ctxt_col(ctxt), "xml",
			"more than %u elements (PG_XML_MAX_NODES)",
			(unsigned)PG_XML_MAX_NODES);
		xmlStopParser(ctxt);
		return;
	}
	if (++st->depth > PG_XML_MAX_DEPTH) {
		st_fail(st, ctxt_line(ctxt), ctxt_col(ctxt), "xml",
			"element nesting depth over %d (PG_XML_MAX_DEPTH)",
			PG_XML_MAX_DEPTH);
		xmlStopParser(ctxt);
		return;
	}
	xmlSAX2StartElementNs(user, localname, prefix, URI, nb_namespaces,
			      namespaces, nb_attributes, nb_defaulted, attributes);
}

static void on_end(void *user, const xmlChar *localname, const xmlChar *prefix,
		   const xmlChar *URI)
{
	xmlParserCtxtPtr ctxt = user;
	struct pstate *st = ctxt->_private;
	if (st->depth > 0)
		st->depth--;
	xmlSAX2EndElementNs(user, localname, prefix, URI);
}

/* ------------------------------------------------------------------ */
/* tree helpers                                                         */

static int is_tc6_ns(const xmlChar *href)
{
	return href && strncmp((const char *)href, TC6_NS_PREFIX,
			       strlen(TC6_NS_PREFIX)) == 0;
}

/* Element in the document's PLCopen namespace with this local name. */
static int is_el(const xmlNode *n, const xmlChar *tc6, const char *local)
{
	return n && n->type == XML_ELEMENT_NODE && n->ns && tc6 &&
	       xmlStrEqual(n->ns->href, tc6) &&
	       strcmp((const char *)n->name, local) == 0;
}

static const xmlNode *first_el(const xmlNode *parent, const xmlChar *tc6,
			       const char *local)
{
	for (const xmlNode *c = parent ? parent->children : NULL; c; c = c->next)
		if (is_el(c, tc6, local))
			return c;
	return NULL;
}

static long node_line(const xmlNode *n)
{
	long l = xmlGetLineNo(n);
	return l > 0 ? l : 0;
}

/* ------------------------------------------------------------------ */
/* canonical serialisation                                              */

struct canon {
	struct pg_sha256_ctx *h;
	const xmlChar *tc6;
	const xmlNode *item;   /* item mode: the item element; NULL for the document */
	struct pstate *st;
	char *tbuf;            /* text-run buffer */
	size_t tcap;
};

static void put_lp(struct canon *c, uint8_t tag, const void *s, size_t n)
{
	uint8_t hdr[9];
	hdr[0] = tag;
	uint64_t v = n;
	for (int i = 0; i < 8; i++)
		hdr[1 + i] = (uint8_t)(v >> (56 - 8 * i));
	pg_sha256_update(c->h, hdr, sizeof hdr);
	if (n)
		pg_sha256_update(c->h, s, n);
}

static void put_str(struct canon *c, uint8_t tag, const xmlChar *s)
{
	put_lp(c, tag, s ? (const char *)s : "", s ? strlen((const char *)s) : 0);
}

static const char *const graphic_elements[] = {
	"block", "inVariable", "outVariable", "inOutVariable", "label", "jump",
	"return", "comment", "error", "connector", "continuation", "actionBlock",
	"vendorElement", "leftPowerRail", "rightPowerRail", "coil", "contact",
	"step", "macroStep", "jumpStep", "transition", "selectionDivergence",
	"selectionConvergence", "simultaneousDivergence",
	"simultaneousConvergence",
};

static int is_graphic(const xmlNode *n, const xmlChar *tc6)
{
	if (!n->ns || !xmlStrEqual(n->ns->href, tc6))
		return 0;
	for (size_t i = 0; i < sizeof graphic_elements / sizeof *graphic_elements; i++)
		if (strcmp((const char *)n->name, graphic_elements[i]) == 0)
			return 1;
	return 0;
}

/* Volatile or non-logic vendor data blocks (addData/data/@name). */
static int is_dropped_data(const xmlNode *n, const xmlChar *tc6)
{
	if (!is_el(n, tc6, "data") || !is_el(n->parent, tc6, "addData"))
		return 0;
	xmlChar *name = xmlGetNoNsProp(n, (const xmlChar *)"name");
	int drop = 0;
	if (name) {
		const char *s = (const char *)name;
		drop = strcmp(s, CODESYS_DATA "objectid") == 0 ||
		       strcmp(s, CODESYS_DATA "projectstructure") == 0 ||
		       strcmp(s, CODESYS_DATA "enumvaluedocumentation") == 0;
		xmlFree(name);
	}
	return drop;
}

static int is_dropped_element(const xmlNode *n, const xmlChar *tc6)
{
	if (!n->ns || !xmlStrEqual(n->ns->href, tc6))
		return 0;
	const char *nm = (const char *)n->name;
	if (strcmp(nm, "documentation") == 0 || strcmp(nm, "position") == 0 ||
	    strcmp(nm, "relPosition") == 0 || strcmp(nm, "coordinateInfo") == 0)
		return 1;
	/* the graphical comment box of FBD/LD/SFC: text for people */
	if (strcmp(nm, "comment") == 0)
		return 1;
	if (strcmp(nm, "fileHeader") == 0 && n->parent &&
	    n->parent->type == XML_ELEMENT_NODE && is_el(n->parent, tc6, "project"))
		return 1;
	return is_dropped_data(n, tc6);
}

static int is_dropped_attr(const xmlNode *el, const xmlAttr *a, const xmlChar *tc6)
{
	if (a->ns)
		return 0;
	const char *an = (const char *)a->name;
	if (strcmp(an, "ObjectId") == 0)
		return 1; /* CODESYS object GUIDs */
	if ((strcmp(an, "width") == 0 || strcmp(an, "height") == 0) &&
	    is_graphic(el, tc6))
		return 1;
	if (strcmp(an, "modificationDateTime") == 0 && is_el(el, tc6, "contentHeader"))
		return 1;
	return 0;
}

struct attr_ent {
	const xmlChar *ns;
	const xmlChar *name;
	xmlChar *value;
};

static int attr_cmp(const void *pa, const void *pb)
{
	const struct attr_ent *a = pa, *b = pb;
	int r = strcmp(a->ns ? (const char *)a->ns : "", b->ns ? (const char *)b->ns : "");
	if (r)
		return r;
	return strcmp((const char *)a->name, (const char *)b->name);
}

static int text_append(struct canon *c, size_t *used, const xmlChar *s)
{
	size_t n = s ? strlen((const char *)s) : 0;
	if (*used + n + 1 > c->tcap) {
		size_t cap = c->tcap ? c->tcap : 256;
		while (cap < *used + n + 1)
			cap *= 2;
		char *p = realloc(c->tbuf, cap);
		if (!p)
			return -1;
		c->tbuf = p;
		c->tcap = cap;
	}
	if (n)
		memcpy(c->tbuf + *used, s, n);
	*used += n;
	c->tbuf[*used] = '\0';
	return 0;
}

/* Collapse XML whitespace runs to one space, trim, emit unless empty. */
static void text_flush(struct canon *c, size_t *used)
{
	if (*used == 0)
		return;
	size_t o = 0;
	int pend = 0;
	for (size_t i = 0; i < *used; i++) {
		char ch = c->tbuf[i];
		if (is_ws((unsigned char)ch)) {
			pend = 1;
			continue;
		}
		if (pend && o > 0)
			c->tbuf[o++] = ' ';
		pend = 0;
		c->tbuf[o++] = ch;
	}
	if (o > 0)
		put_lp(c, 'T', c->tbuf, o);
	*used = 0;
}

static int canon_element(struct canon *c, const xmlNode *n, size_t depth);

static int canon_children(struct canon *c, const xmlNode *n, size_t depth)
{
	size_t used = 0;
	for (const xmlNode *k = n->children; k; k = k->next) {
		switch (k->type) {
		case XML_TEXT_NODE:
		case XML_CDATA_SECTION_NODE:
			if (text_append(c, &used, k->content) != 0) {
				st_fail(c->st, 0, 0, "xml", "out of memory");
				return -1;
			}
			break;
		case XML_COMMENT_NODE:
		case XML_PI_NODE:
			break; /* transparent: text around them stays one run */
		case XML_ELEMENT_NODE:
			text_flush(c, &used);
			if (canon_element(c, k, depth + 1) != 0)
				return -1;
			break;
		case XML_ENTITY_REF_NODE:
			st_fail(c->st, node_line(k), 0, "xml",
				"unexpanded entity reference '&%.40s;'",
				(const char *)k->name);
			return -1;
		default:
			break;
		}
	}
	text_flush(c, &used);
	return 0;
}

static int canon_element(struct canon *c, const xmlNode *n, size_t depth)
{
	if (depth > PG_XML_MAX_DEPTH) {
		st_fail(c->st, node_line(n), 0, "xml",
			"element nesting depth over %d (PG_XML_MAX_DEPTH)", PG_XML_MAX_DEPTH);
		return -1;
	}
	if (is_dropped_element(n, c->tc6))
		return 0;
	const xmlChar *ns = n->ns ? n->ns->href : NULL;
	if (c->item && n != c->item && n->_private == &item_marker) {
		/* nested item: fingerprinted on its own; here only a reference */
		xmlChar *name = xmlGetNoNsProp(n, (const xmlChar *)"name");
		put_str(c, 'R', ns);
		put_str(c, 'r', n->name);
		put_str(c, 'n', name);
		xmlFree(name);
		return 0;
	}
	put_str(c, 'E', ns);
	put_str(c, 'e', n->name);

	size_t na = 0;
	for (const xmlAttr *a = n->properties; a; a = a->next)
		na++;
	struct attr_ent *av = NULL;
	size_t kept = 0;
	int rc = 0;
	if (na) {
		av = calloc(na, sizeof *av);
		if (!av) {
			st_fail(c->st, 0, 0, "xml", "out of memory");
			return -1;
		}
		for (const xmlAttr *a = n->properties; a; a = a->next) {
			for (const xmlNode *v = a->children; v; v = v->next) {
				if (v->type != XML_TEXT_NODE) {
					st_fail(c->st, node_line(n), 0, "xml",
						"attribute '%.40s' holds an entity reference",
						(const char *)a->name);
					rc = -1;
				}
			}
			if (rc || is_dropped_attr(n, a, c->tc6))
				continue;
			av[kept].ns = a->ns ? a->ns->href : NULL;
			av[kept].name = a->name;
			av[kept].value = xmlNodeListGetString(n->doc, a->children, 1);
			kept++;
		}
	}
	if (rc == 0) {
		if (kept > 1)
			qsort(av, kept, sizeof *av, attr_cmp);
		uint8_t cnt[4] = { (uint8_t)(kept >> 24), (uint8_t)(kept >> 16),
				   (uint8_t)(kept >> 8), (uint8_t)kept };
		put_lp(c, 'N', cnt, sizeof cnt);
		for (size_t i = 0; i < kept; i++) {
			put_str(c, 'A', av[i].ns);
			put_str(c, 'a', av[i].name);
			put_str(c, 'v', av[i].value);
		}
	}
	for (size_t i = 0; i < kept; i++)
		xmlFree(av[i].value);
	free(av);
	if (rc)
		return -1;
	if (canon_children(c, n, depth) != 0)
		return -1;
	put_lp(c, 'Z', NULL, 0);
	return 0;
}

static int fingerprint(struct pstate *st, const xmlChar *tc6, const xmlNode *el,
		       const xmlNode *item, uint8_t out[32])
{
	struct canon c = { 0 };
	c.h = pg_sha256_new();
	if (!c.h) {
		st_fail(st, 0, 0, "xml", "out of memory");
		return -1;
	}
	c.tc6 = tc6;
	c.item = item;
	c.st = st;
	const char *dom = item ? PLC_DOMAIN_ITEM : PLC_DOMAIN_DOC;
	put_lp(&c, 'D', dom, strlen(dom));
	int rc = canon_element(&c, el, 1);
	pg_sha256_final(c.h, out);
	pg_sha256_free(c.h);
	free(c.tbuf);
	return rc;
}

/* ------------------------------------------------------------------ */
/* items                                                                */

struct coll {
	struct pstate *st;
	const xmlChar *tc6;
	struct plc_item *items;
	const xmlNode **nodes;
	size_t n, cap;
};

static char *dupstr(const char *s)
{
	if (!s)
		return NULL;
	size_t n = strlen(s) + 1;
	char *p = malloc(n);
	if (p)
		memcpy(p, s, n);
	return p;
}

static xmlChar *need_name(struct coll *co, const xmlNode *n, const char *what)
{
	xmlChar *name = xmlGetNoNsProp(n, (const xmlChar *)"name");
	if (!name || !name[0]) {
		xmlFree(name);
		char field[48];
		snprintf(field, sizeof field, "%s/@name", what);
		st_fail(co->st, node_line(n), 0, field, "<%s> without a name attribute", what);
		return NULL;
	}
	if (strlen((const char *)name) > PG_MAX_NAME_BYTES) {
		xmlFree(name);
		char field[48];
		snprintf(field, sizeof field, "%s/@name", what);
		st_fail(co->st, node_line(n), 0, field, "<%s> name longer than %d bytes",
			what, PG_MAX_NAME_BYTES);
		return NULL;
	}
	return name;
}

static int add_item(struct coll *co, const xmlNode *n, enum plc_kind kind,
		    const char *prefix)
{
	const char *what = kind == PLC_DATATYPE ? "dataType" : (const char *)n->name;
	xmlChar *name = need_name(co, n, what);
	if (!name)
		return -1;
	if (co->n >= PG_XML_MAX_ITEMS) {
		xmlFree(name);
		st_fail(co->st, node_line(n), 0, "items", "more than %d items (PG_XML_MAX_ITEMS)",
			PG_XML_MAX_ITEMS);
		return -1;
	}
	if (co->n == co->cap) {
		size_t cap = co->cap ? co->cap * 2 : 32;
		struct plc_item *it = realloc(co->items, cap * sizeof *it);
		if (!it)
			goto oom;
		co->items = it;
		const xmlNode **nd = realloc(co->nodes, cap * sizeof *nd);
		if (!nd)
			goto oom;
		co->nodes = nd;
		co->cap = cap;
	}
	struct plc_item *it = &co->items[co->n];
	memset(it, 0, sizeof *it);
	it->kind = kind;
	it->line = (size_t)node_line(n);
	size_t pl = prefix ? strlen(prefix) : 0;
	size_t nl = strlen((const char *)name);
	it->name = malloc(pl + (pl ? 1 : 0) + nl + 1);
	if (!it->name)
		goto oom;
	if (pl) {
		memcpy(it->name, prefix, pl);
		it->name[pl] = '/';
		memcpy(it->name + pl + 1, name, nl + 1);
	} else {
		memcpy(it->name, name, nl + 1);
	}
	xmlFree(name);
	name = NULL;
	if (kind == PLC_POU) {
		xmlChar *pt = xmlGetNoNsProp(n, (const xmlChar *)"pouType");
		it->pou_type = dupstr((const char *)pt);
		int bad = pt && !it->pou_type;
		xmlFree(pt);
		if (bad)
			goto oom_item;
		const xmlNode *body = first_el(n, co->tc6, "body");
		const xmlNode *lang = NULL;
		for (const xmlNode *k = body ? body->children : NULL; k; k = k->next)
			if (k->type == XML_ELEMENT_NODE) {
				lang = k;
				break;
			}
		static const char *const langs[] = { "ST", "IL", "LD", "FBD", "SFC" };
		for (size_t i = 0; lang && i < 5; i++)
			if (is_el(lang, co->tc6, langs[i]))
				it->language = dupstr(langs[i]);
	}
	((xmlNode *)n)->_private = &item_marker;
	co->nodes[co->n] = n;
	co->n++;
	return 0;
oom_item:
	free(it->name);
	goto oom;
oom:
	xmlFree(name);
	st_fail(co->st, 0, 0, "items", "out of memory");
	return -1;
}

/* CODESYS: POUs of an application live in <addData><data><pou>. */
static int collect_addata_pous(struct coll *co, const xmlNode *owner, const char *prefix)
{
	for (const xmlNode *ad = owner->children; ad; ad = ad->next) {
		if (!is_el(ad, co->tc6, "addData"))
			continue;
		for (const xmlNode *d = ad->children; d; d = d->next) {
			if (!is_el(d, co->tc6, "data"))
				continue;
			for (const xmlNode *p = d->children; p; p = p->next)
				if (is_el(p, co->tc6, "pou") &&
				    add_item(co, p, PLC_POU, prefix) != 0)
					return -1;
		}
	}
	return 0;
}

static int collect(struct coll *co, const xmlNode *root)
{
	const xmlChar *tc6 = co->tc6;
	const xmlNode *types = first_el(root, tc6, "types");
	for (const xmlNode *g = types ? types->children : NULL; g; g = g->next) {
		if (is_el(g, tc6, "dataTypes")) {
			for (const xmlNode *d = g->children; d; d = d->next)
				if (is_el(d, tc6, "dataType") &&
				    add_item(co, d, PLC_DATATYPE, NULL) != 0)
					return -1;
		} else if (is_el(g, tc6, "pous")) {
			for (const xmlNode *p = g->children; p; p = p->next)
				if (is_el(p, tc6, "pou") && add_item(co, p, PLC_POU, NULL) != 0)
					return -1;
		}
	}
	if (collect_addata_pous(co, root, NULL) != 0)
		return -1;
	const xmlNode *inst = first_el(root, tc6, "instances");
	const xmlNode *confs = first_el(inst, tc6, "configurations");
	for (const xmlNode *cf = confs ? confs->children : NULL; cf; cf = cf->next) {
		if (!is_el(cf, tc6, "configuration"))
			continue;
		size_t ci = co->n;
		if (add_item(co, cf, PLC_CONFIGURATION, NULL) != 0)
			return -1;
		/* copy: the items array may move */
		char *cname = dupstr(co->items[ci].name);
		if (!cname) {
			st_fail(co->st, 0, 0, "items", "out of memory");
			return -1;
		}
		int rc = 0;
		for (const xmlNode *r = cf->children; r && rc == 0; r = r->next) {
			if (!is_el(r, tc6, "resource"))
				continue;
			size_t ri = co->n;
			if ((rc = add_item(co, r, PLC_RESOURCE, cname)) != 0)
				break;
			char *rname = dupstr(co->items[ri].name);
			if (!rname) {
				st_fail(co->st, 0, 0, "items", "out of memory");
				rc = -1;
				break;
			}
			for (const xmlNode *t = r->children; t && rc == 0; t = t->next)
				if (is_el(t, tc6, "task"))
					rc = add_item(co, t, PLC_TASK, rname);
			if (rc == 0)
				rc = collect_addata_pous(co, r, rname);
			free(rname);
		}
		if (rc == 0)
			rc = collect_addata_pous(co, cf, cname);
		free(cname);
		if (rc)
			return -1;
	}
	return 0;
}

/* Second and later items with a name already taken become "name#2", ... */
static int dedupe(struct coll *co)
{
	int size = co->n ? (int)(co->n < 4096 ? co->n : 4096) : 16;
	xmlHashTablePtr seen = xmlHashCreate(size);  /* final names */
	xmlHashTablePtr next = xmlHashCreate(size);  /* base name -> next suffix to try */
	if (!seen || !next)
		goto oom;
	for (size_t i = 0; i < co->n; i++) {
		struct plc_item *it = &co->items[i];
		if (xmlHashLookup(seen, (const xmlChar *)it->name)) {
			size_t base = strlen(it->name);
			char *nn = malloc(base + 24);
			if (!nn)
				goto oom;
			/* resume where the last duplicate of this name stopped: linear */
			uintptr_t k = (uintptr_t)xmlHashLookup(next, (const xmlChar *)it->name);
			if (k < 2)
				k = 2;
			for (;; k++) {
				snprintf(nn, base + 24, "%s#%lu", it->name, (unsigned long)k);
				if (!xmlHashLookup(seen, (const xmlChar *)nn))
					break;
			}
			if (xmlHashUpdateEntry(next, (const xmlChar *)it->name,
					       (void *)(k + 1), NULL) != 0) {
				free(nn);
				goto oom;
			}
			free(it->name);
			it->name = nn;
		}
		if (xmlHashAddEntry(seen, (const xmlChar *)it->name, it) != 0)
			goto oom;
	}
	xmlHashFree(seen, NULL);
	xmlHashFree(next, NULL);
	return 0;
oom:
	if (seen)
		xmlHashFree(seen, NULL);
	if (next)
		xmlHashFree(next, NULL);
	st_fail(co->st, 0, 0, "items", "out of memory");
	return -1;
}

/* ------------------------------------------------------------------ */
/* parse                                                                */

void plcopen_free(struct plc_doc *doc)
{
	if (!doc)
		return;
	for (size_t i = 0; i < doc->n_items; i++) {
		free(doc->items[i].name);
		free(doc->items[i].pou_type);
		free(doc->items[i].language);
	}
	free(doc->items);
	free(doc->product);
	free(doc->product_version);
	free(doc->project_name);
	memset(doc, 0, sizeof *doc);
}

static char *prop_dup(const xmlNode *n, const char *attr)
{
	if (!n)
		return NULL;
	xmlChar *v = xmlGetNoNsProp(n, (const xmlChar *)attr);
	char *s = dupstr((const char *)v);
	xmlFree(v);
	return s;
}

static int build(struct pstate *st, xmlDocPtr doc, struct plc_doc *out)
{
	const xmlNode *root = xmlDocGetRootElement(doc);
	if (!root) {
		st_fail(st, 0, 0, "project", "document has no root element");
		return -1;
	}
	if (!root->ns || !is_tc6_ns(root->ns->href) ||
	    strcmp((const char *)root->name, "project") != 0) {
		st_fail(st, node_line(root), 0, "project",
			"root element <%.40s> in namespace '%.80s' is not a PLCopen TC6 <project>",
			(const char *)root->name,
			root->ns ? (const char *)root->ns->href : "");
		return -1;
	}
	const xmlChar *tc6 = root->ns->href;
	const xmlNode *fh = first_el(root, tc6, "fileHeader");
	const xmlNode *ch = first_el(root, tc6, "contentHeader");
	out->product = prop_dup(fh, "productName");
	out->product_version = prop_dup(fh, "productVersion");
	out->project_name = prop_dup(ch, "name");

	struct coll co = { .st = st, .tc6 = tc6 };
	int rc = collect(&co, root);
	if (rc == 0)
		rc = dedupe(&co);
	if (rc == 0)
		rc = fingerprint(st, tc6, root, NULL, out->doc_fp);
	for (size_t i = 0; rc == 0 && i < co.n; i++)
		rc = fingerprint(st, tc6, co.nodes[i], co.nodes[i], co.items[i].fp);
	free(co.nodes);
	out->items = co.items;
	out->n_items = co.n;
	return rc;
}

int plcopen_parse(const uint8_t *buf, size_t len, struct plc_doc *out,
		  struct pg_err *err)
{
	struct pg_err dummy;
	if (!err)
		err = &dummy;
	pg_err_clear(err);
	if (!out)
		return pg_err_set(err, PG_NO_OFFSET, "", "no output");
	memset(out, 0, sizeof *out);
	if (!buf || len == 0)
		return pg_err_set(err, 0, "xml", "empty input");
	if (len > PG_XML_MAX_BYTES)
		return pg_err_set(err, 0, "xml", "document of %zu bytes is over %u (PG_XML_MAX_BYTES)",
				  len, (unsigned)PG_XML_MAX_BYTES);

	plcopen_global_init();
	struct pstate st = { .err = err, .buf = buf, .len = len };

	/* This thread's libxml2 handlers: silenced for this call, then restored. */
	xmlGenericErrorFunc old_generic = xmlGenericError;
	void *old_generic_ctx = xmlGenericErrorContext;
	xmlStructuredErrorFunc old_structured = xmlStructuredError;
	void *old_structured_ctx = xmlStructuredErrorContext;

	xmlParserCtxtPtr ctxt = xmlNewParserCtxt();
	if (!ctxt)
		return pg_err_set(err, PG_NO_OFFSET, "xml", "out of memory");
	ctxt->_private = &st;
	xmlSetGenericErrorFunc(NULL, on_silent);
	xmlSetStructuredErrorFunc(ctxt, on_xml_error);
	ctxt->sax->serror = on_xml_error;
	ctxt->sax->warning = NULL;
	ctxt->sax->error = NULL;
	ctxt->sax->fatalError = NULL;
	ctxt->sax->entityDecl = on_entity_decl;
	ctxt->sax->unparsedEntityDecl = on_unparsed_entity_decl;
	ctxt->sax->attributeDecl = on_attribute_decl;
	ctxt->sax->startElementNs = on_start;
	ctxt->sax->endElementNs = on_end;
	ctxt->vctxt.error = NULL;
	ctxt->vctxt.warning = NULL;

	int opts = XML_PARSE_NONET | XML_PARSE_NOCDATA | XML_PARSE_BIG_LINES;
	xmlDocPtr doc = xmlCtxtReadMemory(ctxt, (const char *)buf, (int)len, NULL, NULL, opts);
	int rc = -1;
	if (!st.failed && !doc)
		st_fail(&st, ctxt_line(ctxt), 0, "xml", "document is not well-formed XML");
	if (!st.failed && doc)
		rc = build(&st, doc, out);
	if (doc)
		xmlFreeDoc(doc);
	ctxt->_private = NULL;
	xmlFreeParserCtxt(ctxt);

	xmlSetGenericErrorFunc(old_generic_ctx, old_generic);
	xmlSetStructuredErrorFunc(old_structured_ctx, old_structured);

	if (st.failed || rc != 0) {
		plcopen_free(out);
		if (!st.failed)
			pg_err_set(err, PG_NO_OFFSET, "xml", "internal error");
		return -1;
	}
	return 0;
}
