/* cli.c - the subcommand table, top-level help and version. */
#include "cli.h"

#include <stdio.h>
#include <string.h>

struct verb {
	const char *name;
	int (*fn)(int, char **);
	const char *summary;
};

static const struct verb verbs[] = {
	{ "register", cmd_register, "sign an approved project into a baseline" },
	{ "verify", cmd_verify, "prove a project on disk is exactly what was signed" },
	{ "diff", cmd_diff, "show what changed against the signed baseline" },
	{ "sniff", cmd_sniff, "watch S7comm and Modbus/UMAS traffic for program transfers" },
	{ "watch", cmd_watch, "re-verify registered projects on disk the moment they change" },
	{ "inspect", cmd_inspect, "show what plcguard sees in a file, folder or archive" },
	{ "rules", cmd_rules, "check Sigma rules and test them on a JSON-lines events file" },
	{ NULL, NULL, NULL },
};

static void usage(FILE *f)
{
	fprintf(f, "usage: plcguard COMMAND [OPTIONS] ...\n\n"
		   "PLC logic integrity guard: signed baselines of PLC projects.\n\n"
		   "Commands:\n");
	for (const struct verb *v = verbs; v->name; v++)
		fprintf(f, "  %-10s %s\n", v->name, v->summary);
	fprintf(f, "\n'plcguard COMMAND --help' describes each command.\n"
		   "Exit codes: 0 ok, 1 content differs, 2 signature or trust failure,\n"
		   "3 no baseline (unsigned), 64 usage error, 74 I/O or input error.\n");
}

int pg_cli_main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return PG_EXIT_USAGE;
	}
	const char *cmd = argv[1];
	if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
		usage(stdout);
		return PG_EXIT_OK;
	}
	if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "version") == 0) {
		printf("plcguard %s\n", PG_VERSION);
		return PG_EXIT_OK;
	}
	for (const struct verb *v = verbs; v->name; v++)
		if (strcmp(cmd, v->name) == 0)
			return v->fn(argc - 1, argv + 1);
	fprintf(stderr, "plcguard: unknown command '%s'\n", cmd);
	usage(stderr);
	return PG_EXIT_USAGE;
}
