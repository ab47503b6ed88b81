/*
 * compare.h - what changed between a baseline's components and the project
 * as it is now, said the way an engineer would say it: "POU PumpControl
 * changed", "OB1 logic changed (code)", "OB1 changed: timestamps only".
 */
#ifndef PG_COMPARE_H
#define PG_COMPARE_H

#include <stddef.h>

#include "scan.h"

struct pg_change {
	const char *what;                /* "changed", "added", "removed" */
	const struct pg_component *base; /* NULL when added */
	const struct pg_component *cur;  /* NULL when removed */
	char *detail;                    /* sentence for people */
	int logic;                       /* 1 when logic changed, 0 when only
					  * timestamps/formatting, -1 unknown */
};

struct pg_changes {
	struct pg_change *v;
	size_t n;
	size_t n_same, n_changed, n_added, n_removed;
};

/* Both lists must be sorted by name (pg_complist_sort). */
void pg_compare(const struct pg_complist *base, const struct pg_complist *cur,
		struct pg_changes *out);
void pg_changes_free(struct pg_changes *c);

/* "POU PumpControl", "S7 block OB1", "file System/PEData.plf", ... */
char *pg_component_label(const struct pg_component *c);

#endif
