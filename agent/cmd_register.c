/*
 * cmd_register.c - plcguard register: scan a project, write its manifest,
 * sign the exact manifest bytes (detached CMS), store both atomically.
 */
#include <getopt.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "pg_limits.h"
#include "manifest.h"
#include "scan.h"
#include "sign.h"
#include "store.h"
#include "util.h"

static void help(FILE *f)
{
	fputs("usage: plcguard register --key KEY.pem --cert CERT.pem [--chain CHAIN.pem]\n"
	      "         [--ticket ID] [--window FROM/TO] [--target ADDR[,rack=R,slot=S][,unit=U]]...\n"
	      "         [--note TEXT] [--store DIR] [--exclude GLOB[:empty]]... [--no-default-excludes]\n"
	      "         [--jobs N] [--lenient] [--json] PATH\n\n"
	      "Sign an approved PLC project into a baseline.  PATH is a project file (PLCopen\n"
	      "XML, S7 block, ZIP/TIA archive), a project folder, or an archive.  The manifest\n"
	      "(in-toto Statement, docs/MANIFEST.md) lists every component with its SHA-256 and\n"
	      "logic fingerprint, the target PLCs, ticket and change window; a detached CMS\n"
	      "signature covers its exact bytes.  Both go to the store.\n\n"
	      "  --key, --cert     signer's private key and X.509 certificate (PEM); the\n"
	      "                    certificate must be valid now and allow code signing\n"
	      "  --chain FILE      intermediate CA certificates to embed (PEM)\n"
	      "  --ticket ID       change ticket, e.g. CHG-2026-0142\n"
	      "  --window FROM/TO  ISO 8601 change window, e.g. 2026-11-22T08:00Z/2026-11-22T12:00Z\n"
	      "                    or 2026-11-22T08:00Z/PT4H\n"
	      "  --target ADDR     a PLC this logic may be downloaded to (repeatable)\n"
	      "  --note TEXT       free text for auditors\n"
	      "  --store DIR       baseline store (default: $PLCGUARD_STORE, else\n"
	      "                    /var/lib/plcguard/baselines as root, else ~/.local/share/plcguard/baselines)\n"
	      "  --exclude GLOB    leave out files matching GLOB (basename, or relative path if it\n"
	      "                    has a '/'); GLOB:empty only when the file is empty.  Defaults:\n"
	      "                    *.lck:empty write.lock .~lock.*#  (patterns are signed)\n"
	      "  --jobs N          hashing threads (default: number of CPUs, at most 8)\n"
	      "  --lenient         register files that look like PLCopen/ZIP/MC7 but do not parse\n"
	      "                    as plain files instead of refusing\n"
	      "  --json            print the result as JSON\n\n"
	      "Exit: 0 registered, 64 usage, 74 unreadable input, 2 signer certificate refused.\n",
	      f);
}

int pg_default_jobs(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	return n < 1 ? 1 : n > 8 ? 8 : (int)n;
}

int cmd_register(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "key", required_argument, 0, 'k' },
		{ "cert", required_argument, 0, 'c' },
		{ "chain", required_argument, 0, 'C' },
		{ "ticket", required_argument, 0, 't' },
		{ "window", required_argument, 0, 'w' },
		{ "target", required_argument, 0, 'T' },
		{ "note", required_argument, 0, 'n' },
		{ "store", required_argument, 0, 's' },
		{ "exclude", required_argument, 0, 'x' },
		{ "no-default-excludes", no_argument, 0, 'X' },
		{ "jobs", required_argument, 0, 'j' },
		{ "lenient", no_argument, 0, 'L' },
		{ "json", no_argument, 0, 'J' },
		{ "help", no_argument, 0, 'h' },
		{ 0, 0, 0, 0 },
	};
	const char *key = NULL, *cert = NULL, *chain = NULL, *ticket = NULL,
		   *window = NULL, *note = NULL, *store_opt = NULL;
	const char **excl = xcalloc((size_t)argc + 8, sizeof *excl);
	size_t n_excl = 0;
	int no_defaults = 0, jobs = pg_default_jobs(), lenient = 0, json_out = 0;
	struct pg_manifest m;
	memset(&m, 0, sizeof m);
	m.targets = xcalloc((size_t)argc + 1, sizeof *m.targets);
	char err[1024];
	int rc = PG_EXIT_USAGE, c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'k': key = optarg; break;
		case 'c': cert = optarg; break;
		case 'C': chain = optarg; break;
		case 't': ticket = optarg; break;
		case 'w': window = optarg; break;
		case 'n': note = optarg; break;
		case 's': store_opt = optarg; break;
		case 'x': excl[n_excl++] = optarg; break;
		case 'X': no_defaults = 1; break;
		case 'L': lenient = 1; break;
		case 'J': json_out = 1; break;
		case 'j':
			jobs = atoi(optarg);
			if (jobs < 1 || jobs > 64) {
				fprintf(stderr, "plcguard register: --jobs must be 1..64\n");
				goto out;
			}
			break;
		case 'T':
			if (m.n_targets >= PG_MAX_TARGETS ||
			    pg_target_parse(optarg, &m.targets[m.n_targets], err, sizeof err)) {
				fprintf(stderr, "plcguard register: --target %s: %s\n", optarg,
					m.n_targets >= PG_MAX_TARGETS ? "too many targets" : err);
				goto out;
			}
			m.n_targets++;
			break;
		case 'h': help(stdout); rc = 0; goto out;
		default: help(stderr); goto out;
		}
	}
	if (optind != argc - 1 || !key || !cert) {
		fprintf(stderr, "plcguard register: %s\n",
			optind != argc - 1 ? "exactly one PATH is required" : "--key and --cert are required");
		help(stderr);
		goto out;
	}
	const char *path = argv[optind];
	if (window && pg_parse_window(window, &m.win_from, &m.win_to, err, sizeof err)) {
		fprintf(stderr, "plcguard register: --window: %s\n", err);
		goto out;
	}
	m.has_window = window != NULL;
	if ((ticket && strlen(ticket) > PG_MAX_TEXT_BYTES) || (note && strlen(note) > PG_MAX_TEXT_BYTES)) {
		fprintf(stderr, "plcguard register: --ticket/--note longer than %d bytes\n", PG_MAX_TEXT_BYTES);
		goto out;
	}
	for (const char *p = ticket; p && *p; p++)
		if ((unsigned char)*p < 0x20) {
			fprintf(stderr, "plcguard register: --ticket holds control characters\n");
			goto out;
		}
	if (!no_defaults)
		for (int i = 0; pg_default_excludes[i]; i++)
			excl[n_excl++] = pg_default_excludes[i];

	/* Refuse an unusable certificate before spending time on hashing. */
	if (pki_cert_info(cert, &m.signer, err, sizeof err)) {
		fprintf(stderr, "plcguard register: %s\n", err);
		rc = PG_EXIT_TRUST;
		goto out;
	}
	m.has_signer = 1;

	struct pg_scan_opts so = { jobs, excl, n_excl, !json_out && pg_isatty_stderr(), NULL };
	struct pg_scan s;
	if (pg_scan_path(path, &so, &s) != 0) {
		fprintf(stderr, "plcguard register: %s\n", s.n_msgs ? s.msgs[0].text : path);
		pg_scan_free(&s);
		rc = PG_EXIT_IO;
		goto out;
	}
	size_t fatal = s.n_io_errors + (lenient ? 0 : s.n_parse_errors);
	for (size_t i = 0; i < s.n_msgs; i++)
		fprintf(stderr, "plcguard register: %s: %s%s\n", s.root, s.msgs[i].text,
			!s.msgs[i].io && lenient ? " (--lenient: registered without it)" : "");
	if (fatal) {
		fprintf(stderr, "plcguard register: %zu problem(s) above: nothing registered%s\n", fatal,
			s.n_parse_errors && !lenient ? " (--lenient records unparseable files as plain files)" : "");
		pg_scan_free(&s);
		rc = PG_EXIT_IO;
		goto out;
	}
	if (s.comps.n == 0) {
		fprintf(stderr, "plcguard register: %s: no files to register\n", s.root);
		pg_scan_free(&s);
		rc = PG_EXIT_IO;
		goto out;
	}
	m.project_name = s.project_name;
	m.project_path = pg_name_escape(s.root, strlen(s.root));
	m.format = s.format;
	m.is_dir = s.is_dir;
	m.excludes = (char **)excl;
	m.n_excludes = n_excl;
	m.ticket = (char *)ticket;
	m.note = (char *)note;
	m.created = time(NULL);
	m.tool = xasprintf("plcguard %s", PG_VERSION);
	m.comps = s.comps;

	size_t mlen = 0, slen = 0;
	char *mbytes = pg_manifest_serialize(&m, &mlen);
	uint8_t *sig = NULL;
	char *id = NULL;
	char *store = store_opt ? xstrdup(store_opt) : pg_store_default();
	struct pki_signer signer;
	if (!mbytes) {
		fprintf(stderr, "plcguard register: internal error: manifest could not be serialised\n");
		rc = PG_EXIT_IO;
	} else if (pki_sign(key, cert, chain, (const uint8_t *)mbytes, mlen, &sig, &slen,
			    &signer, err, sizeof err)) {
		fprintf(stderr, "plcguard register: %s\n", err);
		rc = PG_EXIT_TRUST;
	} else if (pg_store_save(store, m.project_name, m.created, (const uint8_t *)mbytes,
				 mlen, sig, slen, &id, err, sizeof err)) {
		fprintf(stderr, "plcguard register: %s\n", err);
		rc = PG_EXIT_IO;
	} else {
		size_t items = 0;
		for (size_t i = 0; i < s.comps.n; i++)
			if (strcmp(s.comps.v[i].kind, "file") != 0)
				items++;
		char tf[32], tt[32];
		if (json_out) {
			json_t *o = json_pack("{s:s,s:s,s:s,s:s,s:i,s:I,s:I,s:s,s:s}",
					      "result", "registered", "baseline", id,
					      "store", store, "project", s.root,
					      "components", (int)s.comps.n, "files", (json_int_t)s.n_files,
					      "bytes", (json_int_t)s.bytes, "format", s.format,
					      "signer", signer.subject);
			char *txt = json_dumps(o, JSON_COMPACT);
			puts(txt);
			free(txt);
			json_decref(o);
		} else {
			printf("registered %s\n  project  %s (%s)\n  content  %zu components: %zu files, %zu items inside them, %.1f MB\n"
			       "  signer   %s\n",
			       id, s.root, s.format, s.comps.n, s.n_files, items, (double)s.bytes / 1e6,
			       signer.subject);
			if (ticket)
				printf("  ticket   %s\n", ticket);
			if (window)
				printf("  window   %s/%s\n", pg_fmt_time(m.win_from, tf, sizeof tf),
				       pg_fmt_time(m.win_to, tt, sizeof tt));
			for (size_t i = 0; i < m.n_targets; i++) {
				char *t = pg_target_str(&m.targets[i]);
				printf("  target   %s\n", t);
				free(t);
			}
			printf("  store    %s/%s\n", store, id);
		}
		if (m.has_window && m.win_to < m.created)
			fprintf(stderr, "plcguard register: warning: the change window ended before now\n");
		rc = PG_EXIT_OK;
	}
	free(mbytes);
	free(sig);
	free(id);
	free(store);
	free(m.project_path);
	free(m.tool);
	pg_scan_free(&s);
out:
	for (size_t i = 0; i < m.n_targets; i++)
		free(m.targets[i].address);
	free(m.targets);
	free(excl);
	return rc;
}
