/*
 * cmd_rules.c - plcguard rules check / rules test: validate Sigma rule files
 * (rules/sigma.h) and run them over a JSON-lines events file.
 */
#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "pg_limits.h"
#include "sigma.h"

static void help(FILE *f)
{
	fputs("usage: plcguard rules check RULES...\n"
	      "       plcguard rules test RULES... (--events FILE | -- FILE)\n\n"
	      "RULES are Sigma rule files (.yml, .yaml; several YAML documents each) or\n"
	      "folders, whose *.yml and *.yaml files are read in name order.  The subset of\n"
	      "Sigma that plcguard runs is in docs/RULES.md.\n\n"
	      "check  validates every rule; errors go to stderr as FILE:LINE: field: message,\n"
	      "       and a last line `N rule(s) valid in M file(s)` to stdout.\n"
	      "test   runs the rules over a JSON-lines events file (docs/EVENTS.md; FILE - is\n"
	      "       standard input) and prints one line per (event, matching rule), in\n"
	      "       event order then rule order, tab-separated:\n"
	      "         SEQ<TAB>KIND<TAB>RULE-ID<TAB>LEVEL<TAB>TITLE\n"
	      "       (`-` for a missing seq, rule id or level).  Lines that are not JSON\n"
	      "       objects are reported on stderr (LINE: not a JSON object) and skipped; a\n"
	      "       summary `N event(s), M match(es)` goes to stderr.\n"
	      "Exit: 0 ok (test: whether or not anything matched), 1 a rule file is invalid,\n"
	      "64 usage, 74 I/O (an events file that cannot be read).\n", f);
}

static int has_yaml_ext(const char *n)
{
	size_t l = strlen(n);
	return (l > 4 && !strcmp(n + l - 4, ".yml")) || (l > 5 && !strcmp(n + l - 5, ".yaml"));
}

/* Load one file; print its errors. Returns the number of errors. */
static int load_one(struct pg_sigma_set *set, const char *path, char *err, size_t errsz)
{
	int n = pg_sigma_load_file(set, path, err, errsz);
	if (n)
		fputs(err, stderr);
	return n ? (n < 0 ? 1 : n) : 0;
}

static int load_all(struct pg_sigma_set *set, int argc, char **argv, int *nfiles)
{
	size_t errsz = 16384;
	char *err = malloc(errsz);
	int nerr = 0;
	if (!err) {
		fprintf(stderr, "plcguard rules: out of memory\n");
		return 1;
	}
	for (int i = 0; i < argc; i++) {
		struct stat st;
		if (stat(argv[i], &st) != 0) {
			fprintf(stderr, "%s: %s\n", argv[i], strerror(errno));
			nerr++;
			continue;
		}
		if (!S_ISDIR(st.st_mode)) {
			nerr += load_one(set, argv[i], err, errsz);
			(*nfiles)++;
			continue;
		}
		struct dirent **ents;
		int n = scandir(argv[i], &ents, NULL, alphasort);
		if (n < 0) {
			fprintf(stderr, "%s: %s\n", argv[i], strerror(errno));
			nerr++;
			continue;
		}
		for (int k = 0; k < n; k++) {
			if (ents[k]->d_name[0] != '.' && has_yaml_ext(ents[k]->d_name)) {
				size_t l = strlen(argv[i]) + strlen(ents[k]->d_name) + 2;
				char *p = malloc(l);
				if (p) {
					snprintf(p, l, "%s/%s", argv[i], ents[k]->d_name);
					nerr += load_one(set, p, err, errsz);
					(*nfiles)++;
					free(p);
				} else {
					nerr++;
				}
			}
			free(ents[k]);
		}
		free(ents);
	}
	free(err);
	return nerr;
}

static int rules_check(int argc, char **argv)
{
	if (argc < 1) {
		help(stderr);
		return PG_EXIT_USAGE;
	}
	struct pg_sigma_set *set = pg_sigma_set_new();
	if (!set)
		return PG_EXIT_IO;
	int nfiles = 0;
	int nerr = load_all(set, argc, argv, &nfiles);
	printf("%zu rule(s) valid in %d file(s)%s\n", pg_sigma_count(set), nfiles,
	       nerr ? ", with errors" : "");
	pg_sigma_set_free(set);
	return nerr ? 1 : 0;
}

static int rules_test(int argc, char **argv)
{
	const char *events = NULL;
	int nrules = 0;
	char **rules = calloc((size_t)argc + 1, sizeof *rules);
	if (!rules)
		return PG_EXIT_IO;
	for (int i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--events") && i + 1 < argc && !events) {
			events = argv[++i];
		} else if (!strncmp(argv[i], "--events=", 9) && !events) {
			events = argv[i] + 9;
		} else if (!strcmp(argv[i], "--") && i + 2 == argc && !events) {
			events = argv[++i];
		} else if (argv[i][0] == '-' && argv[i][1]) {
			free(rules);
			help(stderr);
			return PG_EXIT_USAGE;
		} else {
			rules[nrules++] = argv[i];
		}
	}
	if (!events || !nrules) {
		free(rules);
		help(stderr);
		return PG_EXIT_USAGE;
	}
	struct pg_sigma_set *set = pg_sigma_set_new();
	int nfiles = 0;
	if (!set || load_all(set, nrules, rules, &nfiles)) {
		pg_sigma_set_free(set);
		free(rules);
		return 1;
	}
	free(rules);
	FILE *f = strcmp(events, "-") ? fopen(events, "r") : stdin;
	if (!f) {
		fprintf(stderr, "%s: %s\n", events, strerror(errno));
		pg_sigma_set_free(set);
		return PG_EXIT_IO;
	}
	char *line = NULL;
	size_t cap = 0, lineno = 0, nev = 0, nmatch = 0;
	ssize_t len;
	int rc = 0;
	while ((len = getline(&line, &cap, f)) >= 0) {
		lineno++;
		if ((size_t)len > PG_SIGMA_MAX_EVENT_LINE) {
			fprintf(stderr, "%s:%zu: line longer than %u bytes, skipped\n", events, lineno,
				PG_SIGMA_MAX_EVENT_LINE);
			continue;
		}
		size_t k = 0;
		while (k < (size_t)len && (line[k] == ' ' || line[k] == '\t' || line[k] == '\n' || line[k] == '\r'))
			k++;
		if (k == (size_t)len)
			continue;
		json_t *ev = json_loadb(line, (size_t)len, JSON_DISABLE_EOF_CHECK, NULL);
		if (!json_is_object(ev)) {
			fprintf(stderr, "%s:%zu: not a JSON object, skipped\n", events, lineno);
			json_decref(ev);
			continue;
		}
		nev++;
		const char *kind = json_string_value(json_object_get(ev, "kind"));
		json_t *seq = json_object_get(ev, "seq");
		for (size_t i = 0; i < pg_sigma_count(set); i++) {
			const struct pg_sigma_rule *r = pg_sigma_get(set, i);
			if (!pg_sigma_match(r, ev))
				continue;
			nmatch++;
			if (json_is_integer(seq))
				printf("%lld", (long long)json_integer_value(seq));
			else
				printf("-");
			const char *id = pg_sigma_rule_id(r), *lv = pg_sigma_rule_level(r);
			printf("\t%s\t%s\t%s\t%s\n", kind ? kind : "-", *id ? id : "-", *lv ? lv : "-",
			       pg_sigma_rule_title(r));
		}
		json_decref(ev);
	}
	if (ferror(f)) {
		fprintf(stderr, "%s: read error\n", events);
		rc = PG_EXIT_IO;
	}
	free(line);
	if (f != stdin)
		fclose(f);
	fprintf(stderr, "%zu event(s), %zu match(es)\n", nev, nmatch);
	pg_sigma_set_free(set);
	return rc;
}

int cmd_rules(int argc, char **argv)
{
	if (argc < 2) {
		help(stderr);
		return PG_EXIT_USAGE;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		help(stdout);
		return PG_EXIT_OK;
	}
	for (int i = 2; i < argc; i++)
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			help(stdout);
			return PG_EXIT_OK;
		}
	if (!strcmp(argv[1], "check"))
		return rules_check(argc - 2, argv + 2);
	if (!strcmp(argv[1], "test"))
		return rules_test(argc - 2, argv + 2);
	fprintf(stderr, "plcguard rules: unknown subcommand '%s'\n", argv[1]);
	help(stderr);
	return PG_EXIT_USAGE;
}
