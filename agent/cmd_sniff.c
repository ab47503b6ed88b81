/*
 * cmd_sniff.c - `plcguard sniff`: the passive wire collector.
 *
 *   capture files / live interface -> collectors/ (flows, reassembly, S7comm,
 *   Modbus/UMAS sessions) -> events -> here: match transfers against the
 *   trusted baselines (agent/match.c), extract them, print JSON lines or
 *   human lines, count, and close with a summary.
 *
 * Order of work for a live capture (OpenBSD privilege separation): load the
 * trust anchors, CRLs and the store index, read the files of every store
 * entry, open the output and the extract folder, open the device, drop
 * privileges, make the start-up checks of store entries (below: a check may
 * ask an OCSP responder, which is never done as root), and only then parse
 * the first packet.
 *
 * Baselines are checked lazily (agent/match.c): at start-up only the store
 * index is read (and the entries that name no project at all are checked, so
 * that they are reported); an entry's signature is checked the first time a
 * transfer could match it, and a failing entry is reported then, in a
 * baseline.invalid event right after the event that needed it.
 * --check-store checks and reports every entry at start-up instead.
 *
 * Exit: 0 every transfer seen matched a trusted baseline (or none was seen),
 * 1 something on the wire was not verified clean (a transfer that differs, is
 * unknown, incomplete or invalid, or a session whose content cannot be
 * verified), 64 usage, 74 a capture could not be read, the output failed.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "capture.h"
#include "flow.h"
#include "lines.h"
#include "cli.h"
#include "match.h"
#include "pki.h"
#include "store.h"
#include "util.h"


struct sink {
	struct pg_sniff *s;
	struct pg_store *st;           /* NULL without baselines */
	const char *store_dir;
	unsigned char *reported;       /* per store entry: baseline.invalid sent */
	size_t *pending;               /* found unusable, to report */
	size_t npending, cappending;
	struct pg_lines_sink lines;    /* where the events are written */
	int extract_fd;
	const char *extract_dir;
	struct pg_matcher *m;
	const char *kinds[PG_K_COUNT];
	uint64_t kind_n[PG_K_COUNT];
	size_t nkinds;
	uint64_t v_matches, v_differs, v_unknown, v_incomplete, v_invalid, v_unverifiable;
	uint64_t extracted, extract_errors;
	int not_clean;
};

static struct pg_capture *g_cap;

static void on_signal(int sig)
{
	(void)sig;
	if (g_cap)
		g_cap->stop = 1;
}

static void count_kind(struct sink *k, const char *kind)
{
	/* Kinds are static strings: compare pointers first, and strcmp only
	 * when none matches (with --pdus this runs for every PDU). */
	for (size_t i = 0; i < k->nkinds; i++)
		if (k->kinds[i] == kind) {
			k->kind_n[i]++;
			return;
		}
	for (size_t i = 0; i < k->nkinds; i++)
		if (strcmp(k->kinds[i], kind) == 0) {
			k->kind_n[i]++;
			return;
		}
	if (k->nkinds < PG_K_COUNT) {
		k->kinds[k->nkinds] = kind;
		k->kind_n[k->nkinds++] = 1;
	}
}

/* Keep [A-Za-z0-9._-] of an attacker-influenced name. */
static void safe_name(const char *in, char *out, size_t n)
{
	size_t o = 0;
	for (size_t i = 0; in[i] && o + 1 < n; i++) {
		char ch = in[i];
		int ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
			 (ch >= '0' && ch <= '9') || ch == '.' || ch == '-' || ch == '_';
		out[o++] = ok ? ch : '_';
	}
	out[o] = 0;
	if (!o)
		snprintf(out, n, "object");
}

static void extract(struct sink *k, struct pg_event *ev)
{
	char obj[64], name[256];
	safe_name(ev->object, obj, sizeof obj);
	const char *kn = pg_kind_name(ev->kind);
	const char *ext = strncmp(kn, "s7.", 3) == 0 ? "mc7"
			: strncmp(kn, "umas.", 5) == 0 ? "apx" : "bin";
	enum pg_verdict v = ev->verdict;
	const char *state = v == PG_VERDICT_NONE || v == PG_VERDICT_MATCHES ||
			    v == PG_VERDICT_DIFFERS || v == PG_VERDICT_UNKNOWN ? "" : pg_verdict_name(v);
	snprintf(name, sizeof name, "flow%llu-%06llu-%s-%s%s%s.%s",
		 (unsigned long long)ev->flow_id, (unsigned long long)ev->seq, kn, obj,
		 state[0] ? "." : "", state, ext);
	int fd = openat(k->extract_fd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0640);
	if (fd < 0) {
		k->extract_errors++;
		pg_event_set_str(ev, "extract_error", strerror(errno));
		return;
	}
	size_t done = 0;
	while (done < ev->payload_len) {
		ssize_t w = write(fd, ev->payload + done, ev->payload_len - done);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break;
		done += (size_t)w;
	}
	if (close(fd) != 0 || done != ev->payload_len) {
		k->extract_errors++;
		pg_event_set_str(ev, "extract_error", "short write");
		return;
	}
	k->extracted++;
	char *path = xasprintf("%s/%s", k->extract_dir, name);
	pg_event_set_str(ev, "extracted", path);
	free(path);
}

/* A store entry that cannot be used, reported once. */
static void report_bad(struct sink *k, size_t i, const struct pg_baseline *b)
{
	if (k->reported[i])
		return;
	k->reported[i] = 1;
	struct pg_event ev;
	pg_event_self(&ev, NULL, PG_K_BASELINE_INVALID, PG_SEV_ALERT);
	clock_gettime(CLOCK_REALTIME, &ev.ts);
	snprintf(ev.object, sizeof ev.object, "%s", b->id);
	pg_event_set_str(&ev, "store", k->store_dir);
	pg_event_set_str(&ev, "baseline", b->id);
	if (b->load_err[0])
		pg_event_text(&ev, "baseline %s not used: unreadable: %s", b->id, b->load_err);
	else if (b->name_err[0])
		pg_event_text(&ev, "baseline %s not used: %s", b->id, b->name_err);
	else if (b->checked && b->pki.verdict != PKI_OK)
		pg_event_text(&ev, "baseline %s not used: signature %s: %s", b->id,
			      pki_verdict_name(b->pki.verdict), b->pki.detail);
	else if (!b->parsed)
		pg_event_text(&ev, "baseline %s not used: manifest invalid: %s", b->id, b->parse_err);
	else
		pg_event_text(&ev, "baseline %s not used: signer does not match the manifest", b->id);
	if (b->checked)
		pg_event_set_str(&ev, "signature", pki_verdict_name(b->pki.verdict));
	pg_sniff_emit(k->s, &ev);
}

/* The matcher found entry i unusable while judging a transfer: reported
 * after that transfer's event. */
static void on_bad(void *arg, size_t i, const struct pg_baseline *b)
{
	struct sink *k = arg;
	(void)b;
	if (k->reported[i])
		return;
	for (size_t p = 0; p < k->npending; p++)
		if (k->pending[p] == i)
			return;
	if (k->npending == k->cappending) {
		k->cappending = k->cappending ? k->cappending * 2 : 8;
		k->pending = xrealloc(k->pending, k->cappending * sizeof *k->pending);
	}
	k->pending[k->npending++] = i;
}

static void flush_bad(struct sink *k)
{
	while (k->npending) {
		size_t i = k->pending[0];
		memmove(k->pending, k->pending + 1, --k->npending * sizeof *k->pending);
		report_bad(k, i, k->st->b[i]);
	}
}

static void sink_emit(void *arg, struct pg_event *ev)
{
	struct sink *k = arg;
	if (pg_event_is_transfer(ev) && pg_event_overlap_conflict(ev))
		k->not_clean = 1;
	if (k->extract_fd >= 0 && ev->payload && ev->payload_len)
		extract(k, ev);
	count_kind(k, pg_kind_name(ev->kind));
	switch (ev->verdict) {
	case PG_VERDICT_NONE: break;
	case PG_VERDICT_MATCHES: k->v_matches++; break;
	case PG_VERDICT_DIFFERS: k->v_differs++; break;
	case PG_VERDICT_UNKNOWN: k->v_unknown++; break;
	case PG_VERDICT_INCOMPLETE: k->v_incomplete++; break;
	case PG_VERDICT_INVALID: k->v_invalid++; break;
	case PG_VERDICT_UNVERIFIABLE: k->v_unverifiable++; break;
	case PG_VERDICT_COUNT: break;
	}
	if (ev->verdict != PG_VERDICT_NONE && ev->verdict != PG_VERDICT_MATCHES)
		k->not_clean = 1;
	pg_lines_write(&k->lines, ev);
	if (k->npending)
		flush_bad(k);
}

static int parse_ports(const char *s, struct pg_sniff_cfg *cfg)
{
	char *dup = xstrdup(s), *save = NULL;
	int rc = 0;
	for (char *tok = strtok_r(dup, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(tok, '=');
		if (!eq) { rc = -1; break; }
		*eq = 0;
		char *end;
		long v = strtol(eq + 1, &end, 10);
		if (*end || v < 1 || v > 65535) { rc = -1; break; }
		if (strcasecmp(tok, "S7") == 0)
			cfg->s7_port = (uint16_t)v;
		else if (strcasecmp(tok, "MODBUS") == 0)
			cfg->modbus_port = (uint16_t)v;
		else { rc = -1; break; }
	}
	free(dup);
	if (cfg->s7_port == cfg->modbus_port)
		rc = -1;
	return rc;
}

static int parse_num(const char *s, unsigned long long max, unsigned long long *out)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || end == s || *end || v > max || s[0] == '-')
		return -1;
	*out = v;
	return 0;
}

static void usage(FILE *f)
{
	fputs("usage: plcguard sniff (-r FILE... | -i IFACE) [--store DIR --trust DIR [--crl DIR]\n"
	      "                      [--ocsp] [--revocation fail|warn]] [--json] [--out FILE]\n"
	      "                      [--extract DIR] [--ports S7=102,MODBUS=502] [--pdus] ...\n"
	      "\n"
	      "Passively follow S7comm (TPKT/COTP, TCP 102) and Modbus/TCP with Schneider UMAS\n"
	      "(TCP 502) traffic, reassemble every PLC program block and application image that\n"
	      "is downloaded or read back, and match each against the signed baselines in the\n"
	      "store: MATCHES (which baseline and component), DIFFERS (same block, other logic),\n"
	      "UNKNOWN (in no baseline), INCOMPLETE (capture loss: never a wrong hash). Also\n"
	      "reports PLC start/stop, block activation and deletion, reservations, errors,\n"
	      "capture gaps, TCP overlaps with different bytes, and S7comm-plus sessions whose\n"
	      "content cannot be verified. Event schema: docs/EVENTS.md.\n"
	      "\n"
	      "Input:\n"
	      "  -r FILE             capture file, pcap or pcapng (by content); repeatable, read\n"
	      "                      in order; '-' reads standard input\n"
	      "  -i IFACE            live capture (libpcap); needs capture privileges\n"
	      "  --user USER         after opening IFACE as root, become USER (default nobody)\n"
	      "  --filter BPF        live capture filter (default: the configured TCP ports)\n"
	      "  --count N           live: stop after N packets\n"
	      "  --duration SEC      live: stop after SEC seconds\n"
	      "  --stats-interval S  live: check kernel drop counters every S seconds (10)\n"
	      "  --heartbeat S       live: a sensor.heartbeat event every S seconds (60; 0: none)\n"
	      "  --ports LIST        S7=PORT,MODBUS=PORT (default S7=102,MODBUS=502)\n"
	      "Baselines:\n"
	      "  --store DIR         baseline store (default $PLCGUARD_STORE, ...)\n"
	      "  --trust DIR         trust anchors; a baseline's signature is verified before it\n"
	      "                      is used (when a transfer first could match it), and an\n"
	      "                      invalid or untrusted one is reported and never used\n"
	      "  --crl DIR, --ocsp, --revocation fail|warn   as for verify; live, an OCSP\n"
	      "                      responder is asked only once privileges are dropped\n"
	      "  --check-store       check every baseline in the store at start-up and report\n"
	      "                      each one that fails (slower on a large store); live, as\n"
	      "                      soon as the device is open and privileges are dropped\n"
	      "  --no-baselines      do not load baselines: every transfer is UNKNOWN\n"
	      "Output:\n"
	      "  --json              JSON lines, one event per line (default: human lines)\n"
	      "  --out FILE          append events to FILE instead of standard output\n"
	      "  --extract DIR       write every transferred block and image into DIR\n"
	      "  --pdus              also one event per S7comm PDU and Modbus ADU\n"
	      "  --no-summary        no closing summary\n"
	      "Limits:\n"
	      "  --memcap MB         all reassembly and transfer buffers together (256)\n"
	      "  --flow-memcap MB    one flow (8)\n"
	      "  --max-flows N       flow table size (65536)\n"
	      "  --idle-timeout SEC  close flows idle this long in packet time (600)\n"
	      "\n"
	      "Exit: 0 every transfer matched a trusted baseline (or there was none), 1 something\n"
	      "was not verified clean (differs, unknown, incomplete, invalid, unverifiable),\n"
	      "64 usage, 74 a capture could not be read or the output failed.\n", f);
}

/* The start-up checks of store entries: every one with --check-store, else
 * those that name no project (unreadable, not a manifest), which can never be
 * a candidate and are reported at once; then the matcher, which starts from
 * what they found.  A check may ask an OCSP responder, so a live capture
 * makes them from pg_capture_live() once privileges are dropped. */
struct startup {
	struct sink *k;
	int all;
};

static void startup_checks(void *arg)
{
	struct startup *u = arg;
	struct sink *k = u->k;
	for (size_t i = 0; i < k->st->ix.n; i++)
		if (u->all || !k->st->ix.v[i].ok) {
			struct pg_baseline *b = pg_store_get(k->st, i);
			if (!b->trusted || !b->parsed)
				report_bad(k, i, b);
		}
	k->m = pg_matcher_new_store(k->st, on_bad, k);
}

static void summary(struct sink *k, struct pg_sniff *s, struct pg_capture *cap)
{
	struct pg_event ev;
	pg_event_self(&ev, &cap->last, PG_K_SNIFF_SUMMARY, PG_SEV_INFO);
	ev.frame = 0;
	json_t *kinds = json_object();
	for (size_t i = 0; i < k->nkinds; i++)
		json_object_set_new(kinds, k->kinds[i], json_integer((json_int_t)k->kind_n[i]));
	pg_event_set_json(&ev, "events", kinds);
	pg_event_set_json(&ev, "transfers", json_pack("{s:I,s:I,s:I,s:I,s:I,s:I}",
		"matches", (json_int_t)k->v_matches, "differs", (json_int_t)k->v_differs,
		"unknown", (json_int_t)k->v_unknown, "incomplete", (json_int_t)k->v_incomplete,
		"invalid", (json_int_t)k->v_invalid, "unverifiable", (json_int_t)k->v_unverifiable));
	const struct pg_sniff_stats *t = &s->st;
	json_t *st = json_object();
#define ST(x) json_object_set_new(st, #x, json_integer((json_int_t)t->x))
	ST(packets); ST(bytes); ST(not_ip); ST(not_tcp); ST(ip_fragments); ST(decode_errors);
	ST(truncated); ST(other_ports); ST(flows); ST(flows_midstream); ST(flows_timed_out);
	ST(flows_evicted); ST(retransmits); ST(out_of_order); ST(overlaps); ST(overlap_conflicts);
	ST(gaps); ST(gap_bytes); ST(memcap_hits); ST(tpkt); ST(cotp_dt); ST(s7_pdus);
	ST(s7plus_pdus); ST(s7_bad); ST(modbus_adus); ST(modbus_bad); ST(umas_pdus); ST(not_modbus_flows); ST(resyncs);
	ST(kernel_drops); ST(if_drops);
#undef ST
	struct flowtab_counts fc;
	flowtab_get_counts(cap->ft, &fc);
	json_object_set_new(st, "flows_closed_fin", json_integer((json_int_t)fc.closed_fin));
	json_object_set_new(st, "flows_closed_rst", json_integer((json_int_t)fc.closed_rst));
	json_object_set_new(st, "rst_ignored", json_integer((json_int_t)fc.rst_ignored));
	json_object_set_new(st, "out_of_window", json_integer((json_int_t)fc.out_of_window));
	json_object_set_new(st, "after_close", json_integer((json_int_t)fc.after_close));
	/* holes declared lost because the peer's later data acknowledged them */
	json_object_set_new(st, "ack_released", json_integer((json_int_t)fc.ack_released));
	/* data segments that waited for the peer bytes they ACK (SPAN reordering) */
	json_object_set_new(st, "parked", json_integer((json_int_t)fc.parked));
	json_object_set_new(st, "files_read", json_integer((json_int_t)cap->files_ok));
	json_object_set_new(st, "files_damaged", json_integer((json_int_t)cap->files_bad));
	json_object_set_new(st, "extracted", json_integer((json_int_t)k->extracted));
	json_object_set_new(st, "baselines", json_integer((json_int_t)pg_matcher_baselines(k->m)));
	pg_event_set_json(&ev, "stats", st);
	pg_event_text(&ev, "%llu packets, %llu flows, %llu transfers: %llu matched, %llu differ, "
		      "%llu unknown, %llu incomplete, %llu invalid; %llu unverifiable sessions; "
		      "%llu gaps (%llu bytes), %llu overlap conflicts, %llu dropped by the kernel",
		      (unsigned long long)t->packets, (unsigned long long)t->flows,
		      (unsigned long long)(k->v_matches + k->v_differs + k->v_unknown +
					   k->v_incomplete + k->v_invalid),
		      (unsigned long long)k->v_matches, (unsigned long long)k->v_differs,
		      (unsigned long long)k->v_unknown, (unsigned long long)k->v_incomplete,
		      (unsigned long long)k->v_invalid, (unsigned long long)k->v_unverifiable,
		      (unsigned long long)t->gaps, (unsigned long long)t->gap_bytes,
		      (unsigned long long)t->overlap_conflicts,
		      (unsigned long long)(t->kernel_drops + t->if_drops));
	if (!k->lines.json) {
		/* Human mode: the per-kind counts as a small table after the line. */
		pg_sniff_emit(s, &ev);
		fprintf(k->lines.out, "  events by kind:\n");
		for (size_t i = 0; i < k->nkinds; i++)
			if (strcmp(k->kinds[i], "sniff.summary") != 0)
				fprintf(k->lines.out, "    %-24s %llu\n", k->kinds[i],
					(unsigned long long)k->kind_n[i]);
		return;
	}
	pg_sniff_emit(s, &ev);
}

int cmd_sniff(int argc, char **argv)
{
	enum { O_STORE = 256, O_TRUST, O_CRL, O_OCSP, O_REV, O_JSON, O_OUT, O_EXTRACT,
	       O_PORTS, O_PDUS, O_USER, O_FILTER, O_COUNT, O_DURATION, O_STATS, O_MEMCAP,
	       O_FLOWMEM, O_MAXFLOWS, O_IDLE, O_NOSUM, O_NOBASE, O_HEARTBEAT, O_CHECKSTORE };
	static const struct option opts[] = {
		{ "store", required_argument, 0, O_STORE },
		{ "trust", required_argument, 0, O_TRUST },
		{ "crl", required_argument, 0, O_CRL },
		{ "ocsp", no_argument, 0, O_OCSP },
		{ "revocation", required_argument, 0, O_REV },
		{ "json", no_argument, 0, O_JSON },
		{ "out", required_argument, 0, O_OUT },
		{ "extract", required_argument, 0, O_EXTRACT },
		{ "ports", required_argument, 0, O_PORTS },
		{ "pdus", no_argument, 0, O_PDUS },
		{ "user", required_argument, 0, O_USER },
		{ "filter", required_argument, 0, O_FILTER },
		{ "count", required_argument, 0, O_COUNT },
		{ "duration", required_argument, 0, O_DURATION },
		{ "stats-interval", required_argument, 0, O_STATS },
		{ "heartbeat", required_argument, 0, O_HEARTBEAT },
		{ "memcap", required_argument, 0, O_MEMCAP },
		{ "flow-memcap", required_argument, 0, O_FLOWMEM },
		{ "max-flows", required_argument, 0, O_MAXFLOWS },
		{ "idle-timeout", required_argument, 0, O_IDLE },
		{ "no-summary", no_argument, 0, O_NOSUM },
		{ "no-baselines", no_argument, 0, O_NOBASE },
		{ "check-store", no_argument, 0, O_CHECKSTORE },
		{ "help", no_argument, 0, 'h' },
		{ 0, 0, 0, 0 },
	};
	const char *store = NULL, *trust = NULL, *crl = NULL, *out = NULL, *xdir = NULL;
	const char *iface = NULL;
	const char **files = xcalloc((size_t)argc + 1, sizeof *files);
	size_t nfiles = 0;
	int ocsp = 0, rev_warn = 0, json = 0, nosum = 0, nobase = 0, check_store = 0;
	struct pg_live_opts lo;
	memset(&lo, 0, sizeof lo);
	lo.heartbeat_s = 60;
	struct pg_sniff s;
	struct pg_bus bus;
	pg_bus_init(&bus);
	pg_sniff_init(&s);
#ifdef __GLIBC__
	/* Flows, window rings and PDU buffers come and go by the thousand; with
	 * glibc's default 128 KiB trim threshold every free at the heap top
	 * returned pages to the kernel and the next allocation faulted them
	 * back in (a sixth of the run time on a 100 MB capture, bench/
	 * sniff_bench.sh).  Keeping up to 8 MiB of free heap costs little: what
	 * traffic can make us hold is bounded by --memcap anyway. */
	mallopt(M_TRIM_THRESHOLD, 8 << 20);
#endif
	unsigned long long v;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "r:i:h", opts, NULL)) != -1) {
		switch (c) {
		case 'r': files[nfiles++] = optarg; break;
		case 'i': iface = optarg; break;
		case O_STORE: store = optarg; break;
		case O_TRUST: trust = optarg; break;
		case O_CRL: crl = optarg; break;
		case O_OCSP: ocsp = 1; break;
		case O_REV:
			if (strcmp(optarg, "warn") == 0) rev_warn = 1;
			else if (strcmp(optarg, "fail") == 0) rev_warn = 0;
			else goto bad;
			break;
		case O_JSON: json = 1; break;
		case O_OUT: out = optarg; break;
		case O_EXTRACT: xdir = optarg; break;
		case O_PORTS:
			if (parse_ports(optarg, &s.cfg) < 0) {
				fprintf(stderr, "plcguard sniff: --ports: expected S7=PORT,MODBUS=PORT (1-65535, distinct), got '%s'\n", optarg);
				free(files);
				return PG_EXIT_USAGE;
			}
			break;
		case O_PDUS: s.cfg.pdu_trace = 1; break;
		case O_USER: lo.user = optarg; break;
		case O_FILTER: lo.filter = optarg; break;
		case O_COUNT: if (parse_num(optarg, UINT64_MAX, &v)) goto bad; lo.max_packets = v; break;
		case O_DURATION: if (parse_num(optarg, 86400u * 366, &v)) goto bad; lo.duration_s = (unsigned)v; break;
		case O_STATS: if (parse_num(optarg, 86400, &v) || !v) goto bad; lo.stats_interval_s = (unsigned)v; break;
		case O_HEARTBEAT: if (parse_num(optarg, 86400, &v)) goto bad; lo.heartbeat_s = (unsigned)v; break;
		case O_MEMCAP: if (parse_num(optarg, 1u << 20, &v) || !v) goto bad; s.cfg.total_mem_max = (size_t)v << 20; break;
		case O_FLOWMEM: if (parse_num(optarg, 1u << 16, &v) || !v) goto bad; s.cfg.flow_mem_max = (size_t)v << 20; break;
		case O_MAXFLOWS: if (parse_num(optarg, 1u << 24, &v) || !v) goto bad; s.cfg.max_flows = (size_t)v; break;
		case O_IDLE: if (parse_num(optarg, 86400u * 30, &v) || !v) goto bad; s.cfg.idle_timeout_s = (unsigned)v; break;
		case O_NOSUM: nosum = 1; break;
		case O_NOBASE: nobase = 1; break;
		case O_CHECKSTORE: check_store = 1; break;
		case 'h': usage(stdout); free(files); return PG_EXIT_OK;
		default: goto bad;
		}
	}
	for (int i = optind; i < argc; i++)
		files[nfiles++] = argv[i];
	if ((!nfiles && !iface) || (nfiles && iface)) {
		fprintf(stderr, "plcguard sniff: give capture files with -r FILE, or one interface with -i IFACE\n");
		goto bad;
	}
	if (store && !trust) {
		fprintf(stderr, "plcguard sniff: --store needs --trust DIR: baselines are used only after their signatures verify\n");
		free(files);
		return PG_EXIT_USAGE;
	}
	if ((crl || ocsp) && !trust) {
		fprintf(stderr, "plcguard sniff: --crl and --ocsp need --trust\n");
		free(files);
		return PG_EXIT_USAGE;
	}

	int rc = PG_EXIT_OK;
	struct sink k;
	memset(&k, 0, sizeof k);
	k.lines.json = json;
	k.extract_fd = -1;
	k.lines.out = stdout;
	struct pki_trust *t = NULL;
	struct pg_store st;
	struct startup su = { &k, check_store };
	int have_store = 0;
	char err[1024];
	char *store_dir = NULL;
	struct flowtab *ft = NULL;

	if (out) {
		int fd = open(out, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0640);
		k.lines.out = fd < 0 ? NULL : fdopen(fd, "a");
		if (!k.lines.out) {
			fprintf(stderr, "plcguard sniff: %s: %s\n", out, strerror(errno));
			if (fd >= 0)
				close(fd);
			rc = PG_EXIT_IO;
			goto done;
		}
	}
	k.lines.flush_each = iface != NULL;
	/* Reading files into a file or pipe: 64 KiB writes instead of stdio's
	 * 4 KiB (with --pdus, 670k events on the 100 MB bench capture made
	 * 54k write calls).  A terminal keeps its line buffering, and a live
	 * capture flushes every event anyway. */
	static char outbuf[64 << 10];
	if (!k.lines.flush_each && !isatty(fileno(k.lines.out)))
		setvbuf(k.lines.out, outbuf, _IOFBF, sizeof outbuf);
	if (xdir) {
		if (pg_mkdirs(xdir, 0750) != 0 && errno != EEXIST) {
			fprintf(stderr, "plcguard sniff: %s: %s\n", xdir, strerror(errno));
			rc = PG_EXIT_IO;
			goto done;
		}
		k.extract_fd = open(xdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (k.extract_fd < 0) {
			fprintf(stderr, "plcguard sniff: --extract %s: %s\n", xdir, strerror(errno));
			rc = PG_EXIT_IO;
			goto done;
		}
		k.extract_dir = xdir;
	}
	/* the bus: judged against the baselines first, then written */
	pg_bus_subscribe(&bus, pg_judge_event, &k.m);
	pg_bus_subscribe(&bus, sink_emit, &k);
	s.bus = &bus;

	k.s = &s;

	/* Baselines: the store index now; an entry's signature when a transfer
	 * first needs it (every one now with --check-store).  No content of an
	 * entry is used before its signature verified. */
	if (!nobase && (trust || store)) {
		t = pki_trust_load(trust, crl, ocsp, err, sizeof err);
		if (!t) {
			fprintf(stderr, "plcguard sniff: %s\n", err);
			rc = PG_EXIT_IO;
			goto done;
		}
		store_dir = store ? xstrdup(store) : pg_store_default();
		if (pg_store_open(&st, store_dir, t, rev_warn, 0, err, sizeof err) != 0) {
			fprintf(stderr, "plcguard sniff: %s\n", err);
			rc = PG_EXIT_IO;
			goto done;
		}
		have_store = 1;
		if (st.ix.notice[0])
			fprintf(stderr, "plcguard sniff: notice: %s\n", st.ix.notice);
		k.st = &st;
		k.store_dir = store_dir;
		k.reported = xcalloc(st.ix.n ? st.ix.n : 1, 1);
		/* Privileges are dropped before the first packet: read the files
		 * now; their signatures are checked after the drop. */
		if (iface && geteuid() == 0)
			pg_store_preload(&st);
		if (iface) {
			lo.ready = startup_checks;
			lo.ready_arg = &su;
		} else {
			startup_checks(&su);
		}
	} else {
		k.m = pg_matcher_new(NULL, 0);
	}

	ft = flowtab_new(&s, &pg_s7_app, &pg_modbus_app);
	struct pg_capture cap;
	pg_capture_init(&cap, &s, ft);
	g_cap = &cap;
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	if (iface) {
		lo.iface = iface;
		if (pg_capture_live(&cap, &lo, err, sizeof err) < 0) {
			fprintf(stderr, "plcguard sniff: %s\n", err);
			rc = PG_EXIT_IO;
			if (!cap.frame)
				nosum = 1;   /* nothing was captured: nothing to sum up */
		}
	} else {
		for (size_t i = 0; i < nfiles && !cap.stop; i++)
			if (pg_capture_file(&cap, files[i]) < 0) {
				fprintf(stderr, "plcguard sniff: %s: could not be read to its end (see the capture.error event)\n",
					files[i]);
				rc = PG_EXIT_IO;
			}
	}
	flowtab_close_all(ft, &cap.last);
	if (!nosum)
		summary(&k, &s, &cap);
	g_cap = NULL;
	if (rc == PG_EXIT_OK && k.not_clean)
		rc = PG_EXIT_DIFFERS;
done:
	if (k.lines.out && fflush(k.lines.out) != 0)
		k.lines.write_error = 1;
	if (k.lines.write_error) {
		fprintf(stderr, "plcguard sniff: writing events to %s failed: %s\n",
			out ? out : "standard output", strerror(errno));
		rc = PG_EXIT_IO;
	}
	if (k.lines.out && k.lines.out != stdout)
		fclose(k.lines.out);
	if (k.extract_fd >= 0)
		close(k.extract_fd);
	flowtab_free(ft);
	pg_bus_free(&bus);
	pg_matcher_free(k.m);
	if (have_store)
		pg_store_close(&st);
	free(k.reported);
	free(k.pending);
	pki_trust_free(t);
	free(store_dir);
	free(files);
	return rc;
bad:
	usage(stderr);
	free(files);
	return PG_EXIT_USAGE;
}
