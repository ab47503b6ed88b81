/*
 * mkstore.c (pg-mkstore) - fill a baseline store with many signed baselines,
 * fast, for bench/store_bench.sh.  BENCH AND TEST USE ONLY.
 *
 *   pg-mkstore --key K --cert C [--chain CH] --from ENTRY --store DIR
 *              [--count N] [--versions V] [--history H]
 *
 * ENTRY is a real store entry (made by plcguard register).  Its manifest is
 * the template of N more baselines, each re-serialised and signed in-process
 * (pki_sign, the same code as register) and written without fsync:
 *   - H older versions of the template's own project (same components, older
 *     creation times): the history `verify` of that project has to look at;
 *   - the rest spread over projects "benchNNNNN" (V versions each) whose
 *     components keep their names and block ids but not their hashes: every
 *     S7 block of the template is, in every one of them, a block that
 *     DIFFERS, so the sniffer has thousands of candidates per block id.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "digest.h"
#include "manifest.h"
#include "pg_limits.h"
#include "pki.h"
#include "sign.h"
#include "util.h"

static int write_file(const char *dir, const char *name, const void *p, size_t n)
{
	char *path = xasprintf("%s/%s", dir, name);
	FILE *f = fopen(path, "wb");
	int ok = f && fwrite(p, 1, n, f) == n;
	if (f && fclose(f) != 0)
		ok = 0;
	if (!ok)
		fprintf(stderr, "pg-mkstore: %s: %s\n", path, strerror(errno));
	free(path);
	return ok ? 0 : -1;
}

static void usage(void)
{
	fputs("usage: pg-mkstore --key K --cert C [--chain CH] --from ENTRY --store DIR\n"
	      "                  [--count N] [--versions V] [--history H]\n", stderr);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "key", required_argument, 0, 'k' }, { "cert", required_argument, 0, 'c' },
		{ "chain", required_argument, 0, 'C' }, { "from", required_argument, 0, 'f' },
		{ "store", required_argument, 0, 's' }, { "count", required_argument, 0, 'n' },
		{ "versions", required_argument, 0, 'v' }, { "history", required_argument, 0, 'H' },
		{ 0, 0, 0, 0 },
	};
	const char *key = NULL, *cert = NULL, *chain = NULL, *from = NULL, *store = NULL;
	long count = 9999, versions = 10, history = 9;
	int ch;
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case 'k': key = optarg; break;
		case 'c': cert = optarg; break;
		case 'C': chain = optarg; break;
		case 'f': from = optarg; break;
		case 's': store = optarg; break;
		case 'n': count = atol(optarg); break;
		case 'v': versions = atol(optarg); break;
		case 'H': history = atol(optarg); break;
		default: usage(); return 64;
		}
	}
	if (!key || !cert || !from || !store || count < 0 || versions < 1 || history < 0) {
		usage();
		return 64;
	}
	char err[1024];
	uint8_t *buf;
	size_t len;
	char *mp = xasprintf("%s/manifest.json", from);
	if (pg_read_file(mp, PG_MAX_MANIFEST_BYTES, &buf, &len, err, sizeof err) != 0) {
		fprintf(stderr, "pg-mkstore: %s\n", err);
		return 74;
	}
	free(mp);
	struct pg_manifest m;
	if (pg_manifest_parse(buf, len, &m, err, sizeof err) != 0) {
		fprintf(stderr, "pg-mkstore: %s: %s\n", from, err);
		return 74;
	}
	free(buf);
	char *tname = m.project_name, *tpath = m.project_path, *tnote = m.note;
	time_t tcreated = m.created;
	struct pg_component *orig = xcalloc(m.comps.n ? m.comps.n : 1, sizeof *orig);
	memcpy(orig, m.comps.v, m.comps.n * sizeof *orig);

	for (long g = 0; g < count; g++) {
		char name[64], path[96], note[64];
		if (g < history) {
			m.project_name = tname;
			m.project_path = tpath;
			m.created = tcreated - 60 * (g + 1);
			snprintf(note, sizeof note, "bench history %ld", g);
			for (size_t i = 0; i < m.comps.n; i++)
				m.comps.v[i] = orig[i];
		} else {
			long k = g - history, p = k / versions, v = k % versions;
			snprintf(name, sizeof name, "bench%05ld", p);
			snprintf(path, sizeof path, "/srv/plcguard-bench/p%05ld", p);
			m.project_name = name;
			m.project_path = path;
			m.created = tcreated - 86400 - 7 * k;
			snprintf(note, sizeof note, "bench project %ld version %ld", p, v);
			for (size_t i = 0; i < m.comps.n; i++) {
				struct pg_component *c = &m.comps.v[i];
				*c = orig[i];
				/* other bytes, other logic: same names and block ids */
				c->sha256[0] ^= (uint8_t)(p + 1);
				c->sha256[1] ^= (uint8_t)((p >> 8) + 1);
				c->sha256[2] ^= (uint8_t)(v + 1);
				c->fp[0] ^= (uint8_t)(p + 1);
				c->fp[1] ^= (uint8_t)((p >> 8) + 1);
				c->fp[2] ^= (uint8_t)(v + 1);
				c->ann = NULL; /* no strict hash: never a checksum match */
				if (orig[i].ann) {
					c->ann = json_deep_copy(orig[i].ann);
					json_object_del(c->ann, "strict_sha256");
				}
			}
		}
		m.note = note;
		size_t mlen;
		char *mbytes = pg_manifest_serialize(&m, &mlen);
		if (g >= history)
			for (size_t i = 0; i < m.comps.n; i++)
				json_decref(m.comps.v[i].ann);
		if (!mbytes) {
			fprintf(stderr, "pg-mkstore: cannot serialise\n");
			return 70;
		}
		uint8_t *sig;
		size_t slen;
		if (pki_sign(key, cert, chain, (const uint8_t *)mbytes, mlen, &sig, &slen, NULL,
			     err, sizeof err) != 0) {
			fprintf(stderr, "pg-mkstore: %s\n", err);
			return 2;
		}
		uint8_t h[32];
		char hex[PG_SHA256_HEX], ts[32];
		pg_sha256((const uint8_t *)mbytes, mlen, h);
		pg_hex(h, 32, hex);
		struct tm tm;
		gmtime_r(&m.created, &tm);
		strftime(ts, sizeof ts, "%Y%m%dT%H%M%SZ", &tm);
		char *dir = xasprintf("%s/%s-%s-%.8s", store, m.project_name, ts, hex);
		if (mkdir(dir, 0755) != 0 ||
		    write_file(dir, "manifest.json", mbytes, mlen) != 0 ||
		    write_file(dir, "manifest.p7s", sig, slen) != 0) {
			fprintf(stderr, "pg-mkstore: %s: %s\n", dir, strerror(errno));
			return 74;
		}
		free(dir);
		free(mbytes);
		free(sig);
	}
	for (size_t i = 0; i < m.comps.n; i++)
		m.comps.v[i] = orig[i];
	free(orig);
	m.project_name = tname;
	m.project_path = tpath;
	m.note = tnote;
	pg_manifest_free(&m);
	return 0;
}
