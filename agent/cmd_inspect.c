/*
 * cmd_inspect.c - plcguard inspect: what plcguard sees in a file, folder or
 * archive (format, components, hashes, fingerprints), without any baseline.
 */
#include <getopt.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "digest.h"
#include "manifest.h"
#include "scan.h"
#include "util.h"

static void help(FILE *f)
{
	fputs("usage: plcguard inspect [--json] [--extract DIR] [--exclude GLOB]... [--jobs N] PATH\n\n"
	      "Show what plcguard sees in PATH: the detected format, every component\n"
	      "(files, archive entries, PLCopen POUs/types/configurations/resources/tasks,\n"
	      "S7 blocks) with size, SHA-256 and logic fingerprint, and any file that could\n"
	      "not be parsed.  --json prints the components in the manifest's subject layout.\n"
	      "--extract DIR writes every S7 block rebuilt from a STEP 7 V5 project's offline\n"
	      "tables as DIR/<program>/<block>.mc7, to compare with `sniff --extract`.\n"
	      "Exit: 0 inspected, 1 some content could not be parsed, 64 usage, 74 I/O.\n", f);
}

static const char *astr(const struct pg_component *x, const char *k)
{
	const char *v = json_string_value(json_object_get(x->ann, k));
	return v && *v ? v : "-";
}

static long long anum(const struct pg_component *x, const char *k)
{
	return (long long)json_integer_value(json_object_get(x->ann, k));
}

/* An S7 block's header and footer, under its component line. */
static void block_details(const struct pg_component *x)
{
	printf("      %s %lld, %s%s; author %s, family %s, name %s, version %s\n",
	       astr(x, "block_type"), anum(x, "block_number"), astr(x, "language"),
	       json_is_true(json_object_get(x->ann, "know_how_protected"))
		       ? ", know-how protected" : "",
	       astr(x, "author"), astr(x, "family"), astr(x, "block_name"), astr(x, "version"));
	printf("      code %s, interface %s\n", astr(x, "code_timestamp"),
	       astr(x, "interface_timestamp"));
	printf("      lengths: load %llu, MC7 code %lld, interface %lld, segment table %lld, "
	       "local data %lld\n", (unsigned long long)x->size, anum(x, "mc7_code_length"),
	       anum(x, "interface_length"), anum(x, "segment_table_length"),
	       anum(x, "local_data_length"));
	printf("      sha256 code %.16s, interface %.16s; checksum 0x%04llX\n",
	       astr(x, "code_sha256"), astr(x, "interface_sha256"), anum(x, "checksum"));
	const char *t = json_string_value(json_object_get(x->ann, "table"));
	if (t)
		printf("      from %s row %lld\n", t, anum(x, "row"));
}

int cmd_inspect(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, 0, 'J' },
		{ "exclude", required_argument, 0, 'x' },
		{ "jobs", required_argument, 0, 'j' },
		{ "extract", required_argument, 0, 'X' },
		{ "help", no_argument, 0, 'h' },
		{ 0, 0, 0, 0 },
	};
	int json_out = 0, jobs = pg_default_jobs(), c;
	const char *extract = NULL;
	const char **excl = xcalloc((size_t)argc + 8, sizeof *excl);
	size_t n_excl = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'J': json_out = 1; break;
		case 'X': extract = optarg; break;
		case 'x': excl[n_excl++] = optarg; break;
		case 'j':
			jobs = atoi(optarg);
			if (jobs < 1 || jobs > 64) {
				fprintf(stderr, "plcguard inspect: --jobs must be 1..64\n");
				free(excl);
				return PG_EXIT_USAGE;
			}
			break;
		case 'h': help(stdout); free(excl); return 0;
		default: help(stderr); free(excl); return PG_EXIT_USAGE;
		}
	}
	if (optind != argc - 1) {
		help(stderr);
		free(excl);
		return PG_EXIT_USAGE;
	}
	for (int i = 0; pg_default_excludes[i]; i++)
		excl[n_excl++] = pg_default_excludes[i];
	struct pg_scan_opts so = { jobs, excl, n_excl, !json_out && pg_isatty_stderr(), NULL };
	struct pg_scan s;
	int rc;
	if (pg_scan_path(argv[optind], &so, &s) != 0) {
		fprintf(stderr, "plcguard inspect: %s\n", s.n_msgs ? s.msgs[0].text : argv[optind]);
		pg_scan_free(&s);
		free(excl);
		return PG_EXIT_IO;
	}
	rc = s.n_io_errors ? PG_EXIT_IO : s.n_parse_errors ? 1 : 0;
	if (extract) {
		unsigned nw = 0;
		if (pg_step7_extract(&s, extract, &nw) != 0)
			rc = PG_EXIT_IO;
		fprintf(stderr, "plcguard inspect: %u block(s) written to %s\n", nw, extract);
	}
	if (json_out) {
		/* Reuse the manifest serialiser for the component layout. */
		struct pg_manifest m;
		memset(&m, 0, sizeof m);
		m.project_name = s.project_name;
		m.project_path = pg_name_escape(s.root, strlen(s.root));
		m.format = s.format;
		m.is_dir = s.is_dir;
		m.comps = s.comps;
		m.created = time(NULL);
		size_t len;
		char *txt = pg_manifest_serialize(&m, &len);
		json_t *doc = txt ? json_loadb(txt, len, 0, NULL) : NULL;
		free(txt);
		free(m.project_path);
		json_t *pred = json_object_get(doc, "predicate");
		json_t *o = json_pack("{s:s,s:s,s:s,s:I,s:I}", "path", s.root, "format", s.format,
				      "type", s.is_dir ? "folder" : "file",
				      "files", (json_int_t)s.n_files, "bytes", (json_int_t)s.bytes);
		json_object_set(o, "components", json_object_get(doc, "subject"));
		json_t *probs = json_array();
		for (size_t i = 0; i < s.n_msgs; i++)
			json_array_append_new(probs, json_pack("{s:s,s:s}", "type",
				s.msgs[i].io ? "io" : "parse", "message", s.msgs[i].text));
		json_object_set_new(o, "problems", probs);
		(void)pred;
		char *out = json_dumps(o, JSON_INDENT(1) | JSON_PRESERVE_ORDER);
		puts(out ? out : "{}");
		free(out);
		json_decref(o);
		json_decref(doc);
	} else {
		printf("%s\n  format  %s (%s)\n  content %zu components in %zu files, %.1f MB\n",
		       s.root, s.format, s.is_dir ? "folder" : "file", s.comps.n, s.n_files,
		       (double)s.bytes / 1e6);
		for (size_t i = 0; i < s.comps.n; i++) {
			const struct pg_component *x = &s.comps.v[i];
			char h[PG_SHA256_HEX], f[PG_SHA256_HEX];
			printf("  %-13s %-64s", x->kind, x->name);
			if (x->has_sha)
				printf(" %10llu sha256:%.16s", (unsigned long long)x->size, pg_hex(x->sha256, 32, h));
			if (x->has_fp)
				printf(" logic:%.16s", pg_hex(x->fp, 32, f));
			const char *fmt = json_string_value(json_object_get(x->ann, "format"));
			const char *lang = json_string_value(json_object_get(x->ann, "language"));
			const char *pt = json_string_value(json_object_get(x->ann, "pou_type"));
			if (fmt)
				printf(" [%s]", fmt);
			if (pt)
				printf(" [%s]", pt);
			if (lang)
				printf(" [%s]", lang);
			if (json_is_true(json_object_get(x->ann, "know_how_protected")))
				printf(" [know-how protected]");
			printf("\n");
			if (strcmp(x->kind, "s7-block") == 0)
				block_details(x);
		}
		for (size_t i = 0; i < s.n_msgs; i++)
			printf("  %-8s %s\n", s.msgs[i].io ? "error" : "problem", s.msgs[i].text);
	}
	pg_scan_free(&s);
	free(excl);
	return rc;
}
