#include "compare.h"

#include <stdlib.h>
#include <string.h>

#include "util.h"

static const char *item_of(const struct pg_component *c)
{
	const char *it = json_string_value(json_object_get(c->ann, "item"));
	if (it)
		return it;
	it = json_string_value(json_object_get(c->ann, "block"));
	if (it)
		return it;
	return c->name;
}

char *pg_component_label(const struct pg_component *c)
{
	const char *k = c->kind;
	if (strcmp(k, "pou") == 0)
		return xasprintf("POU %s", item_of(c));
	if (strcmp(k, "datatype") == 0)
		return xasprintf("data type %s", item_of(c));
	if (strcmp(k, "configuration") == 0 || strcmp(k, "resource") == 0 ||
	    strcmp(k, "task") == 0)
		return xasprintf("%s %s", k, item_of(c));
	if (strcmp(k, "s7-block") == 0) {
		/* a STEP 7 project's block is named by its program: "S7 Program(1)/OB1" */
		const char *src = json_string_value(json_object_get(c->ann, "source"));
		return xstrdup(src && strcmp(src, "step7-offline") == 0 ? c->name : item_of(c));
	}
	if (strcmp(k, "zip-entry") == 0)
		return xasprintf("archive entry %s", c->name);
	if (strcmp(k, "link") == 0)
		return xasprintf("link %s", c->name);
	return xstrdup(c->name);
}

static int same(const struct pg_component *a, const struct pg_component *b)
{
	if (strcmp(a->kind, b->kind) != 0 || a->has_sha != b->has_sha || a->has_fp != b->has_fp)
		return 0;
	if (a->has_sha && memcmp(a->sha256, b->sha256, 32) != 0)
		return 0;
	if (a->has_fp && memcmp(a->fp, b->fp, 32) != 0)
		return 0;
	if (!a->has_sha && !a->has_fp) /* encrypted entries: sizes are all we have */
		return a->size == b->size &&
		       json_equal(json_object_get(a->ann, "compressed_size"),
				  json_object_get(b->ann, "compressed_size"));
	return 1;
}

static int ann_differs(const struct pg_component *a, const struct pg_component *b,
		       const char *key)
{
	json_t *x = json_object_get(a->ann, key), *y = json_object_get(b->ann, key);
	return !(x && y && json_equal(x, y));
}

static char *describe_block(const struct pg_component *a, const struct pg_component *b,
			    int *logic)
{
	char *id = pg_component_label(b), *out;
	if (a->has_fp && b->has_fp && memcmp(a->fp, b->fp, 32) == 0) {
		*logic = 0;
		if (!ann_differs(a, b, "strict_sha256"))
			out = xasprintf("%s changed: checksum only (logic unchanged)", id);
		else
			out = xasprintf("%s changed: timestamps or header attributes only (logic unchanged)", id);
		free(id);
		return out;
	}
	*logic = 1;
	char parts[128] = "";
	const char *keys[] = { "code_sha256", "interface_sha256", "segment_table_sha256" };
	const char *names[] = { "code", "interface", "segment table" };
	for (int i = 0; i < 3; i++) {
		if (ann_differs(a, b, keys[i])) {
			size_t l = strlen(parts);
			snprintf(parts + l, sizeof parts - l, "%s%s", l ? ", " : "", names[i]);
		}
	}
	if (!parts[0])
		snprintf(parts, sizeof parts, "block header: type, language, lengths or protection");
	out = xasprintf("%s logic changed (%s)", id, parts);
	free(id);
	return out;
}

static char *describe(const struct pg_component *a, const struct pg_component *b,
		      int *logic)
{
	*logic = -1;
	char *la = pg_component_label(b);
	char *out;
	if (strcmp(a->kind, b->kind) != 0) {
		out = xasprintf("%s changed from %s to %s", b->name, a->kind, b->kind);
	} else if (strcmp(b->kind, "s7-block") == 0) {
		out = describe_block(a, b, logic);
	} else if (strcmp(b->kind, "link") == 0) {
		const char *ta = json_string_value(json_object_get(a->ann, "target"));
		const char *tb = json_string_value(json_object_get(b->ann, "target"));
		out = xasprintf("%s now points to %s (was %s)", la, tb ? tb : "?", ta ? ta : "?");
	} else if (!b->has_sha && b->has_fp) {
		*logic = 1;
		out = xasprintf("%s changed", la);
	} else if (a->has_fp && b->has_fp && memcmp(a->fp, b->fp, 32) == 0) {
		*logic = 0;
		out = xasprintf("%s changed: formatting only (logic fingerprint unchanged)", la);
	} else if (a->size != b->size) {
		out = xasprintf("%s changed (%llu -> %llu bytes)", la,
				(unsigned long long)a->size, (unsigned long long)b->size);
	} else {
		out = xasprintf("%s changed (same size, different content)", la);
	}
	free(la);
	return out;
}

static void push(struct pg_changes *o, const char *what, const struct pg_component *a,
		 const struct pg_component *b)
{
	o->v = xrealloc(o->v, (o->n + 1) * sizeof *o->v);
	struct pg_change *c = &o->v[o->n++];
	c->what = what;
	c->base = a;
	c->cur = b;
	c->logic = -1;
	if (a && b) {
		c->detail = describe(a, b, &c->logic);
		o->n_changed++;
	} else {
		char *l = pg_component_label(a ? a : b);
		c->detail = xasprintf("%s %s", l, a ? "removed" : "added");
		free(l);
		c->logic = 1;
		if (a)
			o->n_removed++;
		else
			o->n_added++;
	}
}

void pg_compare(const struct pg_complist *base, const struct pg_complist *cur,
		struct pg_changes *out)
{
	memset(out, 0, sizeof *out);
	size_t i = 0, j = 0;
	while (i < base->n || j < cur->n) {
		int c = i >= base->n ? 1 : j >= cur->n ? -1 :
			strcmp(base->v[i].name, cur->v[j].name);
		if (c < 0) {
			push(out, "removed", &base->v[i++], NULL);
		} else if (c > 0) {
			push(out, "added", NULL, &cur->v[j++]);
		} else {
			if (same(&base->v[i], &cur->v[j]))
				out->n_same++;
			else
				push(out, "changed", &base->v[i], &cur->v[j]);
			i++;
			j++;
		}
	}
}

void pg_changes_free(struct pg_changes *c)
{
	for (size_t i = 0; i < c->n; i++)
		free(c->v[i].detail);
	free(c->v);
	memset(c, 0, sizeof *c);
}
