/*
 * step7_corpus.h - for the unit tests that read the real SIMATIC Manager
 * projects of ../shared/corpus/projects/step7 in place: every offline block
 * table (ombstx/offline/<folder>/SUBBLK.DBF with its SUBBLK.DBT) of every
 * project, loaded and handed to a callback.  The test is skipped, with a
 * message, when the corpus is absent.  Include after <cmocka.h>.
 */
#ifndef PG_TEST_STEP7_CORPUS_H
#define PG_TEST_STEP7_CORPUS_H

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>

struct s7c_table {
	const char *project, *folder;   /* names, for messages */
	const char *path;               /* of the .DBF */
	uint8_t *tb, *mb;               /* the .DBF and .DBT bytes */
	size_t tn, mn;
};

static uint8_t *s7c_slurp(const char *path, size_t *n)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	long sz = ftell(f);
	fseek(f, 0, SEEK_SET);
	uint8_t *b = malloc(sz > 0 ? (size_t)sz : 1);
	*n = b ? fread(b, 1, (size_t)(sz > 0 ? sz : 0), f) : 0;
	fclose(f);
	return b;
}

/* fn for every table pair; returns how many projects had at least one. */
static unsigned s7c_each(void (*fn)(const struct s7c_table *t, void *ctx), void *ctx)
{
	const char *corpus = getenv("PG_CORPUS");
	char top[4096];
	snprintf(top, sizeof top, "%s/projects/step7", corpus ? corpus : "/nonexistent");
	DIR *td = opendir(top);
	if (!td) {
		printf("SKIP: %s not found (shared corpus absent)\n", top);
		skip();
	}
	unsigned projects = 0;
	struct dirent *pe;
	while ((pe = readdir(td))) {
		if (pe->d_name[0] == '.')
			continue;
		char dir[4400];
		snprintf(dir, sizeof dir, "%s/%s/ombstx/offline", top, pe->d_name);
		DIR *dd = opendir(dir);
		if (!dd)
			continue;
		unsigned tables = 0;
		struct dirent *fe;
		while ((fe = readdir(dd))) {
			if (fe->d_name[0] == '.')
				continue;
			char pt[4700], pm[4700];
			snprintf(pt, sizeof pt, "%s/%s/SUBBLK.DBF", dir, fe->d_name);
			snprintf(pm, sizeof pm, "%s/%s/SUBBLK.DBT", dir, fe->d_name);
			struct s7c_table t = { pe->d_name, fe->d_name, pt, NULL, NULL, 0, 0 };
			t.tb = s7c_slurp(pt, &t.tn);
			t.mb = s7c_slurp(pm, &t.mn);
			if (t.tb && t.mb) {
				fn(&t, ctx);
				tables++;
			}
			free(t.tb);
			free(t.mb);
		}
		closedir(dd);
		projects += tables > 0;
	}
	closedir(td);
	return projects;
}

#endif
