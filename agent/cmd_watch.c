/*
 * cmd_watch.c - `plcguard watch`: getopt -> the watcher (agent/watch/watch.h)
 * publishing on the event bus -> the line sink (agent/sinks/lines.h) ->
 * exit code.
 *
 * Exit: 0 stopped cleanly (SIGTERM/SIGINT); with --once 0 when every
 * registered project verified and nothing unsigned was seen, 1 otherwise;
 * 64 usage; 74 no trust anchors, store or inotify, or the output failed.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bus.h"
#include "cli.h"
#include "lines.h"
#include "watch.h"

static void usage(FILE *f)
{
	fputs("usage: plcguard watch --trust DIR [--crl DIR] [--ocsp] [--revocation fail|warn]\n"
	      "         [--store DIR] [--json] [--out FILE] [--state FILE] [--rescan S]\n"
	      "         [--deep-rescan S] [--unwatched-rescan S] [--heartbeat S]\n"
	      "         [--debounce MS] [--once]\n"
	      "         [--no-fanotify] [--jobs N] [ROOT...]\n\n"
	      "Re-verify registered projects the moment they change on disk, and say so in\n"
	      "events (the same schema and numbering as sniff; docs/EVENTS.md): file.verified,\n"
	      "file.tampered (which components, what kind of change, and where fanotify is\n"
	      "allowed, which process wrote), file.missing, file.unreadable, file.unsigned (a\n"
	      "project-like file or folder under a ROOT that has no baseline),\n"
	      "baseline.revoked / baseline.expired / baseline.invalid.  Nothing is lost\n"
	      "silently: a kernel queue overflow (watch.overflow) or the watch limit\n"
	      "(watch.limit) lead to rescans, a full rescan runs every --rescan seconds, and\n"
	      "with --state what changed while the watcher was down is reported at start\n"
	      "(watch.catchup).  SIGTERM/SIGINT stop it cleanly (state saved); SIGHUP reloads\n"
	      "the baselines and CRLs.\n\n"
	      "  --trust DIR          trust anchors (PEM/DER certificates)\n"
	      "  --crl DIR            CRLs (PEM/DER); reload with SIGHUP after an update\n"
	      "  --ocsp               also ask each certificate's OCSP responder\n"
	      "  --revocation POLICY  fail (default) or warn when revocation is unknown\n"
	      "  --store DIR          baseline store (see plcguard register --help)\n"
	      "  --json               JSON lines (default: human lines)\n"
	      "  --out FILE           append events to FILE instead of standard output\n"
	      "  --state FILE         remember each project's state here between runs\n"
	      "  --rescan S           full rescan every S seconds (default 3600; 0 never).\n"
	      "                       A change or a rescan hashes only the files whose inode,\n"
	      "                       size, mtime or ctime moved since they were last hashed\n"
	      "  --deep-rescan S      the first rescan after S seconds hashes every file\n"
	      "                       (default 86400; 0: every rescan does)\n"
	      "  --unwatched-rescan S rescan what could not be watched (the watch limit)\n"
	      "                       every S seconds (default 60)\n"
	      "  --heartbeat S        agent.heartbeat every S seconds (default 60; 0 none)\n"
	      "  --debounce MS        quiet time before a changed project is verified\n"
	      "                       (default 300)\n"
	      "  --once               verify every project (and catch up), then stop\n"
	      "  --no-fanotify        do not try to name the writing process\n"
	      "  --jobs N             hashing threads\n"
	      "  ROOT...              folders to watch for new, unsigned projects (default:\n"
	      "                       only the registered projects are watched)\n\n"
	      "Exit: 0 stopped cleanly; with --once 0 all verified, 1 a finding; 64 usage;\n"
	      "74 no trust anchors, store or inotify, or the output failed.\n", f);
}

static int num(const char *opt, const char *s, long lo, long hi, int *out)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || *end || end == s || v < lo || v > hi) {
		fprintf(stderr, "plcguard watch: %s takes a number %ld..%ld\n", opt, lo, hi);
		return -1;
	}
	*out = (int)v;
	return 0;
}

int cmd_watch(int argc, char **argv)
{
	enum { O_TRUST = 1000, O_CRL, O_OCSP, O_REV, O_STORE, O_JSON, O_OUT, O_STATE,
	       O_RESCAN, O_URESCAN, O_DEEP, O_HB, O_DEB, O_ONCE, O_NOFAN, O_JOBS, O_HELP };
	static const struct option opts[] = {
		{ "trust", required_argument, 0, O_TRUST },
		{ "crl", required_argument, 0, O_CRL },
		{ "ocsp", no_argument, 0, O_OCSP },
		{ "revocation", required_argument, 0, O_REV },
		{ "store", required_argument, 0, O_STORE },
		{ "json", no_argument, 0, O_JSON },
		{ "out", required_argument, 0, O_OUT },
		{ "state", required_argument, 0, O_STATE },
		{ "rescan", required_argument, 0, O_RESCAN },
		{ "unwatched-rescan", required_argument, 0, O_URESCAN },
		{ "deep-rescan", required_argument, 0, O_DEEP },
		{ "heartbeat", required_argument, 0, O_HB },
		{ "debounce", required_argument, 0, O_DEB },
		{ "once", no_argument, 0, O_ONCE },
		{ "no-fanotify", no_argument, 0, O_NOFAN },
		{ "jobs", required_argument, 0, O_JOBS },
		{ "help", no_argument, 0, O_HELP },
		{ 0, 0, 0, 0 },
	};
	struct pg_watch_cfg cfg;
	pg_watch_cfg_defaults(&cfg);
	cfg.jobs = pg_default_jobs();
	const char *out = NULL;
	int json = 0, c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case O_TRUST: cfg.trust = optarg; break;
		case O_CRL: cfg.crl = optarg; break;
		case O_OCSP: cfg.ocsp = 1; break;
		case O_REV:
			if (strcmp(optarg, "warn") == 0)
				cfg.rev_warn = 1;
			else if (strcmp(optarg, "fail") != 0) {
				fprintf(stderr, "plcguard watch: --revocation takes fail or warn\n");
				return PG_EXIT_USAGE;
			}
			break;
		case O_STORE: cfg.store = optarg; break;
		case O_JSON: json = 1; break;
		case O_OUT: out = optarg; break;
		case O_STATE: cfg.state_file = optarg; break;
		case O_RESCAN:
			if (num("--rescan", optarg, 0, 86400 * 7, &cfg.rescan_s))
				return PG_EXIT_USAGE;
			break;
		case O_DEEP:
			if (num("--deep-rescan", optarg, 0, 86400 * 365, &cfg.deep_rescan_s))
				return PG_EXIT_USAGE;
			break;
		case O_URESCAN:
			if (num("--unwatched-rescan", optarg, 1, 86400, &cfg.limit_rescan_s))
				return PG_EXIT_USAGE;
			break;
		case O_HB:
			if (num("--heartbeat", optarg, 0, 86400, &cfg.heartbeat_s))
				return PG_EXIT_USAGE;
			break;
		case O_DEB:
			if (num("--debounce", optarg, 0, 60000, &cfg.debounce_ms))
				return PG_EXIT_USAGE;
			break;
		case O_ONCE: cfg.once = 1; break;
		case O_NOFAN: cfg.no_fanotify = 1; break;
		case O_JOBS:
			if (num("--jobs", optarg, 1, 64, &cfg.jobs))
				return PG_EXIT_USAGE;
			break;
		case O_HELP:
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return PG_EXIT_USAGE;
		}
	}
	if (!cfg.trust) {
		fprintf(stderr, "plcguard watch: --trust DIR is required (the plant's trust anchors)\n");
		return PG_EXIT_USAGE;
	}
	if (cfg.debounce_ms > cfg.max_delay_ms)
		cfg.max_delay_ms = cfg.debounce_ms;
	cfg.roots = (const char *const *)(argv + optind);
	cfg.n_roots = (size_t)(argc - optind);

	struct pg_lines_sink sink = { stdout, json, 1, 0, 0 };
	if (out) {
		sink.out = fopen(out, "ae");
		if (!sink.out) {
			fprintf(stderr, "plcguard watch: --out %s: %s\n", out, strerror(errno));
			return PG_EXIT_IO;
		}
	}
	struct pg_bus bus;
	pg_bus_init(&bus);
	pg_bus_subscribe(&bus, pg_lines_write, &sink);
	char err[1024];
	int rc = PG_EXIT_OK;
	struct pg_watch *w = pg_watch_open(&cfg, &bus, err, sizeof err);
	if (!w) {
		fprintf(stderr, "plcguard watch: %s\n", err);
		rc = PG_EXIT_IO;
	} else {
		if (pg_watch_run(w, err, sizeof err) != 0) {
			fprintf(stderr, "plcguard watch: %s\n", err);
			rc = PG_EXIT_IO;
		} else if (cfg.once && pg_watch_findings(w)) {
			rc = PG_EXIT_DIFFERS;
		}
		pg_watch_close(w);
	}
	if (fflush(sink.out) != 0)
		sink.write_error = 1;
	if (sink.write_error) {
		fprintf(stderr, "plcguard watch: writing the events failed\n");
		rc = PG_EXIT_IO;
	}
	if (out)
		fclose(sink.out);
	pg_bus_free(&bus);
	return rc;
}
