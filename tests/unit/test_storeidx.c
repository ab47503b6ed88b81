/*
 * test_storeidx.c - the store index (agent/storeidx.c) and the lazily
 * checked store (agent/store.c, agent/match.c) on real signed store entries:
 * the file format and its refusals, building the index and checking it
 * against the folder (new, gone, changed entries), a damaged or lying index,
 * an entry changed after indexing, a folder named after another project, and
 * the lazy matcher giving the verdicts of the eager one while checking only
 * the entries it needs.
 *
 * Needs PG_SRC (set by ctest) and the openssl CLI for tests/pki/mkpki.sh;
 * exits 77 (skip) otherwise.
 */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "digest.h"
#include "manifest.h"
#include "match.h"
#include "pki.h"
#include "sign.h"
#include "store.h"
#include "storeidx.h"
#include "util.h"

#define MAGIC "plcguard-store-index\t1\tplcguard " PG_VERSION "\n"

static char g_dir[256];
static char g_src[1024];
static struct pki_trust *g_trust;
static int g_store_no;

__attribute__((format(printf, 1, 2)))
static int sh(const char *fmt, ...)
{
	char cmd[4096];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cmd, sizeof cmd, fmt, ap);
	va_end(ap);
	return system(cmd);
}

static char *pki(const char *rel)
{
	static char buf[8][1024];
	static int i;
	char *b = buf[i++ % 8];
	snprintf(b, 1024, "%s/pki/%s", g_dir, rel);
	return b;
}

/* A fresh, empty store folder. */
static char *new_store(void)
{
	char *s = xasprintf("%s/store%d", g_dir, ++g_store_no);
	assert_int_equal(mkdir(s, 0755), 0);
	return s;
}

struct blk {
	const char *id;
	int sha, strict, fp;   /* fill bytes of the hashes (0: no strict hash) */
};

/* A signed baseline in the store, as register makes it; returns its id. */
static char *add_entry(const char *store, const char *name, const char *path, time_t created,
		       const char *target, const struct blk *b, size_t nb)
{
	struct pg_manifest m;
	char err[1024];
	memset(&m, 0, sizeof m);
	m.project_name = xstrdup(name);
	m.project_path = xstrdup(path);
	m.format = xstrdup("folder");
	m.is_dir = 1;
	m.created = created;
	m.tool = xstrdup("plcguard test");
	if (target) {
		m.targets = xcalloc(1, sizeof *m.targets);
		assert_int_equal(pg_target_parse(target, &m.targets[0], err, sizeof err), 0);
		m.n_targets = 1;
	}
	assert_int_equal(pki_cert_info(pki("certs/engineer.pem"), &m.signer, err, sizeof err), 0);
	m.has_signer = 1;
	for (size_t i = 0; i < nb; i++) {
		char cname[64], hex[PG_SHA256_HEX];
		uint8_t st[32];
		snprintf(cname, sizeof cname, "%s.mc7#s7/%s", b[i].id, b[i].id);
		struct pg_component *c = pg_complist_add(&m.comps, cname, "s7-block");
		c->has_sha = c->has_fp = 1;
		memset(c->sha256, b[i].sha, 32);
		memset(c->fp, b[i].fp, 32);
		c->fp_alg = "plcguard-mc7-logic-v1";
		c->size = 100;
		c->ann = json_pack("{s:s}", "block", b[i].id);
		if (b[i].strict) {
			memset(st, b[i].strict, 32);
			json_object_set_new(c->ann, "strict_sha256", json_string(pg_hex(st, 32, hex)));
		}
	}
	pg_complist_sort(&m.comps);
	size_t mlen, slen;
	char *mb = pg_manifest_serialize(&m, &mlen);
	assert_non_null(mb);
	uint8_t *sig;
	assert_int_equal(pki_sign(pki("keys/engineer.key"), pki("certs/engineer.pem"), pki("chain.pem"),
				  (const uint8_t *)mb, mlen, &sig, &slen, NULL, err, sizeof err), 0);
	char *id = NULL;
	assert_int_equal(pg_store_save(store, name, created, (const uint8_t *)mb, mlen, sig, slen,
				       &id, err, sizeof err), 0);
	free(mb);
	free(sig);
	pg_manifest_free(&m);
	return id;
}

static const struct pg_idx_entry *find(const struct pg_storeidx *ix, const char *id)
{
	for (size_t i = 0; i < ix->n; i++)
		if (strcmp(ix->v[i].id, id) == 0)
			return &ix->v[i];
	return NULL;
}

__attribute__((noinline))
static uint8_t *slurp(const char *p, size_t *n)
{
	uint8_t *b = NULL;
	char err[256];
	int r = pg_read_file(p, 1u << 30, &b, n, err, sizeof err);
	assert_int_equal(r, 0);
	return b;
}

static void spit(const char *p, const void *b, size_t n)
{
	FILE *f = fopen(p, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(b, 1, n, f), n);
	assert_int_equal(fclose(f), 0);
}

/* ------------------------------------------------------------ format -- */

static void test_format_roundtrip(void **state)
{
	(void)state;
	char *s = new_store();
	static const struct blk b[] = { { "OB1", 1, 2, 3 }, { "DB10", 4, 0, 5 } };
	char *id1 = add_entry(s, "pump", "/srv/pump", 1000, "10.0.0.5,rack=0,slot=2", b, 2);
	char *id2 = add_entry(s, "we\tird%name", "/srv/we\tird\n%path", 2000, NULL, b, 1);
	struct pg_storeidx ix;
	char err[512];
	assert_int_equal(pg_storeidx_load(s, &ix, 0, err, sizeof err), 0);
	assert_int_equal(ix.n, 2);
	assert_int_equal(ix.added, 2);
	size_t len;
	char *txt = pg_storeidx_serialize(ix.v, ix.n, &len);
	assert_non_null(strstr(txt, "we%09ird%25name"));
	assert_null(strstr(txt, "\n%path"));
	struct pg_idx_entry *v;
	size_t n;
	assert_int_equal(pg_storeidx_parse((const uint8_t *)txt, len, 0, &v, &n, err, sizeof err), 0);
	assert_int_equal(n, 2);
	for (size_t i = 0; i < n; i++) {
		const struct pg_idx_entry *o = find(&ix, v[i].id);
		assert_non_null(o);
		assert_true(pg_idx_entry_same_hints(o, &v[i]));
		assert_int_equal(v[i].mj.size, o->mj.size);
		assert_int_equal(v[i].sg.ino, o->sg.ino);
		assert_int_equal(v[i].mj.mtime_ns, o->mj.mtime_ns);
	}
	const struct pg_idx_entry *e = find(&ix, id1);
	assert_int_equal(e->n_targets, 1);
	assert_int_equal(e->targets[0].family, 4);
	assert_int_equal(e->n_comps, 2);
	e = find(&ix, id2);
	assert_string_equal(e->project_path, "/srv/we\tird\n%path");
	for (size_t i = 0; i < n; i++)
		pg_idx_entry_free(&v[i]);
	free(v);
	free(txt);
	pg_storeidx_free(&ix);
	free(id1);
	free(id2);
	free(s);
}

/* Every way a file can be wrong is refused as a whole, never crashes. */
static void test_format_rejects(void **state)
{
	(void)state;
	char *s = new_store();
	static const struct blk b[] = { { "OB1", 1, 2, 3 } };
	free(add_entry(s, "pump", "/srv/pump", 1000, "10.0.0.5", b, 1));
	struct pg_storeidx ix;
	char err[512];
	assert_int_equal(pg_storeidx_load(s, &ix, 0, err, sizeof err), 0);
	size_t len;
	char *good = pg_storeidx_serialize(ix.v, ix.n, &len);
	pg_storeidx_free(&ix);
	struct pg_idx_entry *v;
	size_t n;

	/* a valid file with its body replaced: the checksum is recomputed so
	 * that the named record, not the checksum, is what is refused */
	const char *bodies[] = {
		"x\tjunk\n",                                      /* unknown record */
		"p\t1\tpump\t/srv\n",                              /* record outside an entry */
		"e\t../x\t1\t-\t-\n",                              /* id with a slash */
		"e\t.hidden\t0\t-\t-\n",                           /* hidden id */
		"e\tx\t2\t-\t-\n",                                 /* bad state */
		"e\tx\t1\t-\t-\n",                                 /* readable, no project line */
		"e\tx\t0\t1.2.3\t-\n",                             /* short file key */
		"e\tx\t0\t1.2.3000000000.4.5.6\t-\n",              /* nanoseconds out of range */
		"e\tx\t0\t99999999999999999999.2.3.4.5.6\t-\n",    /* 20 digits */
		"e\tx\t1\t-\t-\np\tabc\tn\tp\n",                   /* bad time */
		"e\tx\t1\t-\t-\np\t1\tn%0\tp\n",                   /* cut escape */
		"e\tx\t1\t-\t-\np\t1\tn%00\tp\n",                  /* NUL escape */
		"e\tx\t1\t-\t-\np\t1\tn%zz\tp\n",                  /* bad escape */
		"e\tx\t1\t-\t-\np\t1\tn\r\tp\n",                   /* raw control byte */
		"e\tx\t1\t-\t-\np\t1\tn\n",                        /* missing field */
		"e\tx\t1\t-\t-\np\t1\tn\tp\tq\n",                  /* extra field */
		"e\tx\t1\t-\t-\np\t1\tn\tp\np\t1\tn\tp\n",         /* two project lines */
		"e\tx\t1\t-\t-\np\t1\tn\tp\nb\t8\t70000\t-\t-\t-\n", /* block number */
		"e\tx\t1\t-\t-\np\t1\tn\tp\nb\t256\t1\t-\t-\t-\n", /* block type */
		"e\tx\t1\t-\t-\np\t1\tn\tp\nb\t8\t1\t0011\t-\t-\n",/* short hash */
		"e\tx\t1\t-\t-\np\t1\tn\tp\nu\t00112233445566zz\n",/* bad hex */
		"e\tx\t1\t-\t-\np\t1\tn\tp\nt\t10.0.0.1\t0\t-2\t-1\n", /* slot */
		"e\tx\t1\t-\t-\np\t1\tn\tp\nt\t10.0.0.1\t0\n",     /* target fields */
		"e\tx\t0\t-\t-\ne\tx\t0\t-\t-\n",                  /* an id twice (load refuses) */
	};
	for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
		char *txt = xasprintf("%s%s", MAGIC, bodies[i]);
		uint8_t h[32];
		char hex[PG_SHA256_HEX];
		pg_sha256(txt, strlen(txt), h);
		size_t cnt = 0;
		for (const char *p = txt; (p = strstr(p, "\ne\t")); p++)
			cnt++;
		char *full = xasprintf("%send\t%zu\t%s\n", txt, cnt, pg_hex(h, 32, hex));
		int r = pg_storeidx_parse((const uint8_t *)full, strlen(full), 0, &v, &n, err, sizeof err);
		if (i + 1 == sizeof bodies / sizeof bodies[0]) {
			/* parses; the load refuses it (see test_corrupt_index) */
			assert_int_equal(r, 0);
			for (size_t k = 0; k < n; k++)
				pg_idx_entry_free(&v[k]);
			free(v);
		} else {
			if (r != -1)
				fail_msg("body %zu was accepted: %s", i, bodies[i]);
			assert_null(v);
		}
		free(txt);
		free(full);
	}

	/* damage to a good file */
	uint8_t *bad = xcalloc(len + 17, 1); /* NUL-terminated for strstr */
	memcpy(bad, good, len);
	assert_int_equal(pg_storeidx_parse(bad, len, 0, &v, &n, err, sizeof err), 0);
	for (size_t k = 0; k < n; k++)
		pg_idx_entry_free(&v[k]);
	free(v);
	assert_int_equal(pg_storeidx_parse(bad, len - 1, 0, &v, &n, err, sizeof err), -1);   /* cut */
	assert_non_null(strstr(err, "newline"));
	char *end = strstr((char *)bad, "end\t");
	assert_int_equal(pg_storeidx_parse(bad, (size_t)(end - (char *)bad), 0, &v, &n, err, sizeof err), -1);
	assert_non_null(strstr(err, "no end line"));
	bad[30] ^= 1;                                                                      /* flipped */
	assert_int_equal(pg_storeidx_parse(bad, len, 0, &v, &n, err, sizeof err), -1);
	bad[30] ^= 1;
	memcpy(bad + len, "e\tx\t0\t-\t-\n", 10);                                         /* trailing */
	assert_int_equal(pg_storeidx_parse(bad, len + 10, 0, &v, &n, err, sizeof err), -1);
	assert_int_equal(pg_storeidx_parse(bad, 5, 0, &v, &n, err, sizeof err), -1);        /* magic */
	assert_int_equal(pg_storeidx_parse(NULL, 0, 0, &v, &n, err, sizeof err), -1);
	free(bad);
	free(good);
	free(s);
}

/* ------------------------------------------------- against the store -- */

static void test_validate_against_store(void **state)
{
	(void)state;
	char *s = new_store();
	static const struct blk b[] = { { "OB1", 1, 2, 3 } };
	char *a = add_entry(s, "a", "/srv/a", 1000, NULL, b, 1);
	char *bb = add_entry(s, "b", "/srv/b", 1000, NULL, b, 1);
	char *c = add_entry(s, "c", "/srv/c", 1000, NULL, b, 1);
	struct pg_storeidx ix;
	char err[512];
	assert_int_equal(pg_storeidx_load(s, &ix, PG_IDX_SAVE, err, sizeof err), 0);
	assert_int_equal(ix.added, 3);
	assert_int_equal(ix.dirty, 0);          /* written */
	char *file = xasprintf("%s/.index", s);
	struct stat st;
	assert_int_equal(stat(file, &st), 0);
	pg_storeidx_free(&ix);

	/* unchanged: everything from the index, nothing written */
	assert_int_equal(pg_storeidx_load(s, &ix, PG_IDX_SAVE, err, sizeof err), 0);
	assert_int_equal(ix.reused, 3);
	assert_int_equal(ix.added + ix.reread + ix.dropped, 0);
	assert_string_equal(ix.notice, "");
	pg_storeidx_free(&ix);

	/* a new entry, one gone, one changed (another project, other size) */
	char *d = add_entry(s, "d", "/srv/d", 1000, NULL, b, 1);
	assert_int_equal(sh("rm -rf '%s/%s'", s, bb), 0);
	char *mp = xasprintf("%s/%s/manifest.json", s, c);
	size_t n;
	uint8_t *m = slurp(mp, &n);
	char *txt = xasprintf("%.*s", (int)n, (char *)m);
	char *at = strstr(txt, "/srv/c");
	assert_non_null(at);
	char *edited = xasprintf("%.*s/srv/elsewhere%s", (int)(at - txt), txt, at + 6);
	spit(mp, edited, strlen(edited));
	assert_int_equal(pg_storeidx_load(s, &ix, PG_IDX_SAVE, err, sizeof err), 0);
	assert_int_equal(ix.n, 3);
	assert_int_equal(ix.reused, 1);
	assert_int_equal(ix.added, 1);
	assert_int_equal(ix.dropped, 1);
	assert_int_equal(ix.reread, 1);
	assert_string_equal(find(&ix, c)->project_path, "/srv/elsewhere");
	assert_null(find(&ix, bb));
	assert_non_null(find(&ix, d));
	pg_storeidx_free(&ix);

	/* an entry whose manifest is not JSON, one without its signature */
	spit(mp, "garbage", 7);
	char *sp = xasprintf("%s/%s/manifest.p7s", s, a);
	assert_int_equal(unlink(sp), 0);
	assert_int_equal(pg_storeidx_load(s, &ix, PG_IDX_SAVE, err, sizeof err), 0);
	assert_int_equal(find(&ix, c)->ok, 0);
	assert_int_equal(find(&ix, a)->ok, 0);
	assert_int_equal(find(&ix, d)->ok, 1);
	pg_storeidx_free(&ix);
	assert_int_equal(pg_storeidx_load(s, &ix, PG_IDX_SAVE, err, sizeof err), 0);
	assert_int_equal(ix.reused, 3);         /* a bad entry is remembered as bad */
	pg_storeidx_free(&ix);

	/* a store that does not exist is empty, and is not created */
	char *none = xasprintf("%s/none", g_dir);
	assert_int_equal(pg_storeidx_load(none, &ix, PG_IDX_SAVE, err, sizeof err), 0);
	assert_int_equal(ix.n, 0);
	assert_int_not_equal(stat(none, &st), 0);
	pg_storeidx_free(&ix);

	free(none);
	free(sp);
	free(m);
	free(txt);
	free(edited);
	free(mp);
	free(file);
	free(a);
	free(bb);
	free(c);
	free(d);
	free(s);
}

/* A damaged index is ignored with a notice and rebuilt; one that lists an
 * entry twice, or is not a file, too. */
static void test_corrupt_index(void **state)
{
	(void)state;
	char *s = new_store();
	static const struct blk b[] = { { "OB1", 1, 2, 3 } };
	char *a = add_entry(s, "a", "/srv/a", 1000, NULL, b, 1);
	char *file = xasprintf("%s/.index", s);
	struct pg_storeidx ix;
	char err[512];
	const char *junk[] = {
		"garbage",
		"plcguard-store-index\t1\tplcguard 0.0.1\nend\t0\t0000000000000000000000000000000000000000000000000000000000000000\n",
		MAGIC "e\tx\t0\t-\t-\nend\t1\t0000000000000000000000000000000000000000000000000000000000000000\n",
		"",
	};
	for (size_t i = 0; i < sizeof junk / sizeof junk[0]; i++) {
		spit(file, junk[i], strlen(junk[i]));
		assert_int_equal(pg_storeidx_load(s, &ix, PG_IDX_SAVE, err, sizeof err), 0);
		assert_non_null(strstr(ix.notice, "ignored"));
		if (i == 1)
			assert_non_null(strstr(ix.notice, "another version"));
		assert_int_equal(ix.n, 1);
		assert_int_equal(ix.added, 1);
		assert_int_equal(find(&ix, a)->ok, 1);
		pg_storeidx_free(&ix);
		assert_int_equal(pg_storeidx_load(s, &ix, PG_IDX_SAVE, err, sizeof err), 0);
		assert_string_equal(ix.notice, "");   /* rebuilt and written */
		assert_int_equal(ix.reused, 1);
		pg_storeidx_free(&ix);
	}
	/* the same entry twice (with a correct checksum) */
	assert_int_equal(pg_storeidx_load(s, &ix, 0, err, sizeof err), 0);
	struct pg_idx_entry two[2] = { ix.v[0], ix.v[0] };
	size_t len;
	char *txt = pg_storeidx_serialize(two, 2, &len);
	pg_storeidx_free(&ix);
	spit(file, txt, len);
	free(txt);
	assert_int_equal(pg_storeidx_load(s, &ix, PG_IDX_SAVE, err, sizeof err), 0);
	assert_non_null(strstr(ix.notice, "listed twice"));
	assert_int_equal(ix.n, 1);
	pg_storeidx_free(&ix);
	/* a folder where the file should be: ignored, and left alone */
	assert_int_equal(unlink(file), 0);
	assert_int_equal(mkdir(file, 0755), 0);
	assert_int_equal(pg_storeidx_load(s, &ix, PG_IDX_SAVE, err, sizeof err), 0);
	assert_non_null(strstr(ix.notice, "ignored"));
	assert_int_equal(ix.n, 1);
	pg_storeidx_free(&ix);
	assert_int_equal(rmdir(file), 0);
	free(file);
	free(a);
	free(s);
}

/* verify reads the index light (no components, targets or names kept); one
 * that has to be written back is read whole first, so that nothing is lost. */
static void test_light(void **state)
{
	(void)state;
	char *s = new_store();
	static const struct blk b[] = { { "OB1", 1, 2, 3 }, { "FC1", 4, 5, 6 } };
	char *a = add_entry(s, "a", "/srv/a", 1000, "10.0.0.5", b, 2);
	struct pg_storeidx ix;
	char err[512];
	assert_int_equal(pg_storeidx_load(s, &ix, PG_IDX_SAVE, err, sizeof err), 0);
	pg_storeidx_free(&ix);
	assert_int_equal(pg_storeidx_load(s, &ix, PG_IDX_SAVE | PG_IDX_LIGHT, err, sizeof err), 0);
	assert_int_equal(ix.reused, 1);
	assert_int_equal(ix.v[0].light, 1);
	assert_string_equal(ix.v[0].project_path, "/srv/a");
	assert_null(ix.v[0].project_name);
	assert_int_equal(ix.v[0].n_comps + ix.v[0].n_targets, 0);
	ix.dirty = 1;
	assert_int_equal(pg_storeidx_save(&ix), -1);     /* never written light */
	pg_storeidx_free(&ix);
	/* a new entry: read light, changed, so read whole and written */
	char *c = add_entry(s, "c", "/srv/c", 1000, NULL, b, 1);
	assert_int_equal(pg_storeidx_load(s, &ix, PG_IDX_SAVE | PG_IDX_LIGHT, err, sizeof err), 0);
	for (size_t i = 0; i < ix.n; i++)
		assert_int_equal(ix.v[i].light, 0);
	pg_storeidx_free(&ix);
	assert_int_equal(pg_storeidx_load(s, &ix, 0, err, sizeof err), 0);
	assert_int_equal(ix.reused, 2);
	assert_int_equal(find(&ix, a)->n_comps, 2);      /* nothing lost */
	assert_int_equal(find(&ix, a)->n_targets, 1);
	assert_string_equal(find(&ix, a)->project_name, "a");
	pg_storeidx_free(&ix);
	/* a light store: an entry used gets its manifest's exact hints */
	struct pg_store st;
	assert_int_equal(pg_store_open(&st, s, g_trust, 0, 1, err, sizeof err), 0);
	for (size_t i = 0; i < st.ix.n; i++) {
		assert_true(pg_store_get(&st, i)->trusted);
		assert_int_equal(st.ix.v[i].light, 0);
		assert_int_equal(st.ix.v[i].exact, 1);
	}
	pg_store_close(&st);
	free(a);
	free(c);
	free(s);
}

/* An index larger than the reader's piece (lines across the boundaries),
 * and one with a line longer than a piece. */
static void test_large_index(void **state)
{
	(void)state;
	char *s = new_store();
	char *file = xasprintf("%s/.index", s);
	enum { N = 5000 };
	struct pg_idx_entry *v = xcalloc(N, sizeof *v);
	for (size_t i = 0; i < N; i++) {
		v[i].id = xasprintf("p%zu-19700101T000000Z-%08zx", i, i);
		v[i].ok = 1;
		v[i].project_name = xasprintf("p%zu", i);
		v[i].project_path = xasprintf("/srv/projects/with/a/longer/path/p%zu", i);
		v[i].n_comps = 3;
		v[i].comps = xcalloc(3, sizeof *v[i].comps);
		for (int k = 0; k < 3; k++) {
			v[i].comps[k].cls = PG_IDX_BLOCK;
			v[i].comps[k].block_type = 8;
			v[i].comps[k].block_num = (uint16_t)k;
			v[i].comps[k].has_sha = 1;
			memset(v[i].comps[k].sha, (int)i, PG_IDX_HASH);
		}
	}
	size_t len;
	char *txt = pg_storeidx_serialize(v, N, &len);
	assert_true(len > (600u << 10));
	spit(file, txt, len);
	struct pg_storeidx ix;
	char err[512];
	assert_int_equal(pg_storeidx_load(s, &ix, 0, err, sizeof err), 0);
	assert_string_equal(ix.notice, "");              /* read whole, accepted */
	assert_int_equal(ix.dropped, N);                 /* none is in the store */
	pg_storeidx_free(&ix);
	/* one line of 300 KiB */
	char *huge = xmalloc(300u << 10);
	memset(huge, 'x', 300u << 10);
	FILE *f = fopen(file, "wb");
	assert_non_null(f);
	fputs(MAGIC "e\t", f);
	fwrite(huge, 1, 300u << 10, f);
	fputs("\t0\t-\t-\n", f);
	fclose(f);
	assert_int_equal(pg_storeidx_load(s, &ix, 0, err, sizeof err), 0);
	assert_non_null(strstr(ix.notice, "longer than"));
	pg_storeidx_free(&ix);
	free(huge);
	for (size_t i = 0; i < N; i++)
		pg_idx_entry_free(&v[i]);
	free(v);
	free(txt);
	free(file);
	free(s);
}

/* ---------------------------------------------------- lazy checks -- */

/* An entry changed in place after it was indexed (same size, mtime put
 * back) is read again (its ctime moved), and its signature fails. */
static void test_tampered_after_indexing(void **state)
{
	(void)state;
	char *s = new_store();
	static const struct blk b[] = { { "OB1", 1, 2, 3 } };
	char *a = add_entry(s, "a", "/srv/a", 1000, NULL, b, 1);
	struct pg_store st;
	char err[512];
	assert_int_equal(pg_store_open(&st, s, g_trust, 0, 0, err, sizeof err), 0);
	assert_true(pg_store_get(&st, 0)->trusted);
	pg_store_close(&st);

	char *mp = xasprintf("%s/%s/manifest.json", s, a);
	struct stat before;
	assert_int_equal(stat(mp, &before), 0);
	size_t n;
	uint8_t *m = slurp(mp, &n);
	char *at = strstr((char *)m, "/srv/a");
	at[5] = 'b';                             /* /srv/b, same size */
	sleep(1);                                /* a ctime that differs */
	FILE *f = fopen(mp, "r+b");
	assert_non_null(f);
	assert_int_equal(fwrite(m, 1, n, f), n);
	assert_int_equal(fclose(f), 0);
	struct timespec ts[2] = { before.st_atim, before.st_mtim };
	assert_int_equal(utimensat(AT_FDCWD, mp, ts, 0), 0);

	assert_int_equal(pg_store_open(&st, s, g_trust, 0, 0, err, sizeof err), 0);
	assert_int_equal(st.ix.reread, 1);
	assert_string_equal(st.ix.v[0].project_path, "/srv/b");
	struct pg_baseline *bl = pg_store_get(&st, 0);
	assert_false(bl->trusted);
	assert_int_equal(bl->pki.verdict, PKI_BAD_SIGNATURE);
	pg_store_close(&st);
	free(m);
	free(mp);
	free(a);
	free(s);
}

/* An index whose checksum is right but whose hints lie (as one written by
 * someone else could): the entry's own files decide; the hints are put
 * right and written back. */
static void test_lying_index(void **state)
{
	(void)state;
	char *s = new_store();
	static const struct blk b[] = { { "OB1", 1, 2, 3 } };
	free(add_entry(s, "a", "/srv/a", 1000, NULL, b, 1));
	struct pg_storeidx ix;
	char err[512];
	assert_int_equal(pg_storeidx_load(s, &ix, PG_IDX_SAVE, err, sizeof err), 0);
	free(ix.v[0].project_path);
	ix.v[0].project_path = xstrdup("/srv/somewhere-else");
	ix.v[0].created = 5;
	ix.v[0].comps[0].sha[0] ^= 0xff;
	ix.dirty = 1;
	assert_int_equal(pg_storeidx_save(&ix), 0);
	pg_storeidx_free(&ix);

	struct pg_store st;
	assert_int_equal(pg_store_open(&st, s, g_trust, 0, 0, err, sizeof err), 0);
	assert_int_equal(st.ix.reused, 1);   /* the stat keys agree: hints taken */
	assert_string_equal(st.ix.v[0].project_path, "/srv/somewhere-else");
	struct pg_baseline *bl = pg_store_get(&st, 0);
	assert_true(bl->trusted);
	assert_string_equal(bl->m.project_path, "/srv/a");
	assert_string_equal(st.ix.v[0].project_path, "/srv/a");   /* put right */
	assert_int_equal(st.ix.v[0].created, 1000);
	assert_int_equal(st.ix.dirty, 1);
	pg_store_close(&st);
	assert_int_equal(pg_storeidx_load(s, &ix, 0, err, sizeof err), 0);
	assert_string_equal(ix.v[0].project_path, "/srv/a");   /* written back */
	assert_int_equal(ix.v[0].comps[0].sha[0], 1);
	pg_storeidx_free(&ix);
	free(s);
}

/* A valid entry in a folder named after another project is a problem. */
static void test_folder_name(void **state)
{
	(void)state;
	char *s = new_store();
	static const struct blk b[] = { { "OB1", 1, 2, 3 } };
	char *a = add_entry(s, "pump", "/srv/pump", 1000, NULL, b, 1);
	char *from = xasprintf("%s/%s", s, a);
	char *to = xasprintf("%s/pumpx-%s", s, a + 5);
	assert_int_equal(rename(from, to), 0);
	char *c = add_entry(s, "pump", "/srv/pump", 2000, NULL, b, 1);
	struct pg_store st;
	char err[512];
	assert_int_equal(pg_store_open(&st, s, g_trust, 0, 0, err, sizeof err), 0);
	assert_int_equal(st.ix.n, 2);
	for (size_t i = 0; i < st.ix.n; i++) {
		struct pg_baseline *bl = pg_store_get(&st, i);
		if (strcmp(bl->id, c) == 0) {
			assert_true(bl->trusted);
			assert_string_equal(bl->name_err, "");
		} else {
			assert_false(bl->trusted);
			assert_int_equal(bl->pki.verdict, PKI_OK);
			assert_non_null(strstr(bl->name_err, "does not match the signed project name 'pump'"));
		}
	}
	pg_store_close(&st);
	/* --baseline names a folder explicitly: no such rule */
	struct pg_baseline one;
	pg_baseline_load(to, "pumpx", &one);
	pg_baseline_check(&one, g_trust, 0);
	assert_true(one.trusted);
	pg_baseline_free(&one);
	free(from);
	free(to);
	free(a);
	free(c);
	free(s);
}

static void block_event(struct pg_event *ev, const char *id, uint8_t shab, uint8_t strictb,
			uint8_t fpb, const char *dst)
{
	pg_event_init(ev);
	ev->kind = PG_K_S7_BLOCK_DOWNLOAD;
	snprintf(ev->dst.addr, sizeof ev->dst.addr, "%s", dst);
	ev->ts.tv_sec = 1500;
	snprintf(ev->object, sizeof ev->object, "%s", id);
	ev->has_sha256 = 1;
	memset(ev->sha256, shab, 32);
	ev->has_fp = 1;
	memset(ev->strict, strictb, 32);
	memset(ev->logic_fp, fpb, 32);
	pg_event_set_int(ev, "rack", 0);
	pg_event_set_int(ev, "slot", 2);
}

static void file_event(struct pg_event *ev, uint8_t shab)
{
	pg_event_init(ev);
	ev->kind = PG_K_MODBUS_FILE_WRITE;
	snprintf(ev->dst.addr, sizeof ev->dst.addr, "10.0.0.5");
	snprintf(ev->object, sizeof ev->object, "file 4");
	ev->has_sha256 = 1;
	memset(ev->sha256, shab, 32);
}

/* What a judged event says, for comparing two matchers. */
static char *verdict_of(struct pg_event *ev)
{
	json_t *b = ev->fields ? json_object_get(ev->fields, "baseline") : NULL;
	json_t *mt = ev->fields ? json_object_get(ev->fields, "match") : NULL;
	char *j = b ? json_dumps(b, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	char *r = xasprintf("%s|%s|%d|%s|%s", pg_verdict_name(ev->verdict) ? pg_verdict_name(ev->verdict) : "-",
			    mt ? json_string_value(mt) : "-", (int)ev->sev, ev->text, j ? j : "-");
	free(j);
	return r;
}

/* The lazy matcher over a store says exactly what the eager one over every
 * checked baseline says, checking few entries. */
static void test_lazy_equals_eager(void **state)
{
	(void)state;
	char *s = new_store();
	/* OB1 in many versions; ties in creation time; some list the PLC */
	static const struct blk v1[] = { { "OB1", 0x11, 0x12, 0x13 }, { "DB1", 0x21, 0x22, 0x23 } };
	static const struct blk v2[] = { { "OB1", 0x31, 0x32, 0x33 } };
	static const struct blk v3[] = { { "OB1", 0x41, 0, 0x13 }, { "FC5", 0x51, 0x52, 0x53 } };
	static const struct blk v4[] = { { "OB1", 0x11, 0x12, 0x13 } };
	free(add_entry(s, "p1", "/srv/p1", 100, "10.0.0.5,rack=0,slot=2", v1, 2));
	free(add_entry(s, "p1", "/srv/p1", 200, "10.0.0.5,rack=0,slot=2", v2, 1));
	free(add_entry(s, "p2", "/srv/p2", 300, "10.0.0.9", v3, 2));
	free(add_entry(s, "p3", "/srv/p3", 300, NULL, v4, 1));
	free(add_entry(s, "p4", "/srv/p4", 250, "10.0.0.5", v4, 1));
	for (int i = 0; i < 40; i++) {
		static const struct blk other[] = { { "FB9", 0x61, 0x62, 0x63 } };
		char name[32], path[32];
		snprintf(name, sizeof name, "q%02d", i);
		snprintf(path, sizeof path, "/srv/q%02d", i);
		free(add_entry(s, name, path, 50 + i, NULL, other, 1));
	}
	/* one entry whose signature is broken: never used, reported once */
	static const struct blk v5[] = { { "OB1", 0x77, 0x77, 0x77 } };
	char *bad = add_entry(s, "p5", "/srv/p5", 900, "10.0.0.5", v5, 1);
	char *sp = xasprintf("%s/%s/manifest.p7s", s, bad);
	size_t n;
	uint8_t *sig = slurp(sp, &n);
	sig[n - 10] ^= 1;
	spit(sp, sig, n);

	struct { const char *id; int sha, strict, fp; const char *dst; } ev_blk[] = {
		{ "OB1", 0x11, 0, 0, "10.0.0.5" },       /* exact in three; listed ones first */
		{ "OB1", 0x11, 0, 0, "10.0.0.6" },       /* exact, nobody lists it: newest */
		{ "OB1", 0x99, 0x32, 0, "10.0.0.5" },    /* checksum only */
		{ "OB1", 0x99, 0x98, 0x13, "10.0.0.9" }, /* logic only, in two */
		{ "OB1", 0x99, 0x98, 0x97, "10.0.0.5" }, /* differs: newest listing the PLC */
		{ "OB1", 0x99, 0x98, 0x97, "10.0.0.7" }, /* differs: newest */
		{ "OB1", 0x77, 0x77, 0x77, "10.0.0.5" }, /* only in the broken one */
		{ "DB1", 0x21, 0x22, 0x23, "10.0.0.5" },
		{ "FC5", 0x00, 0x00, 0x00, "10.0.0.5" },
		{ "FB9", 0x61, 0x62, 0x63, "10.0.0.5" },
		{ "SFB4", 0x11, 0, 0, "10.0.0.5" },      /* in no baseline */
	};
	const size_t nev = sizeof ev_blk / sizeof ev_blk[0];
	char *want[16], *got[16];

	/* eager: every entry checked, as sniff did before */
	struct pg_baseline *all;
	size_t nall;
	char err[512];
	assert_int_equal(pg_store_list(s, &all, &nall, err, sizeof err), 0);
	for (size_t i = 0; i < nall; i++)
		pg_store_check_entry(&all[i], g_trust, 0);
	struct pg_matcher *m = pg_matcher_new(all, nall);
	assert_int_equal(pg_matcher_baselines(m), 45);
	for (size_t i = 0; i <= nev; i++) {
		struct pg_event ev;
		if (i < nev)
			block_event(&ev, ev_blk[i].id, ev_blk[i].sha, ev_blk[i].strict, ev_blk[i].fp, ev_blk[i].dst);
		else
			file_event(&ev, 0x51);
		pg_match_event(m, &ev);
		want[i] = verdict_of(&ev);
		pg_event_clear(&ev);
	}
	pg_matcher_free(m);
	pg_baselines_free(all, nall);

	/* lazy: the store index, entries checked on first use */
	struct pg_store st;
	assert_int_equal(pg_store_open(&st, s, g_trust, 0, 0, err, sizeof err), 0);
	size_t bad_seen = 0;
	m = pg_matcher_new_store(&st, NULL, NULL);
	assert_int_equal(pg_matcher_baselines(m), 0);
	assert_int_equal(st.n_checked, 0);
	for (size_t i = 0; i <= nev; i++) {
		struct pg_event ev;
		if (i < nev)
			block_event(&ev, ev_blk[i].id, ev_blk[i].sha, ev_blk[i].strict, ev_blk[i].fp, ev_blk[i].dst);
		else
			file_event(&ev, 0x51);
		pg_match_event(m, &ev);
		got[i] = verdict_of(&ev);
		if (getenv("PG_VERBOSE"))
			print_message("event %zu: %s\n", i, got[i]);
		if (strcmp(want[i], got[i]) != 0)
			fail_msg("event %zu:\n  eager %s\n  lazy  %s", i, want[i], got[i]);
		pg_event_clear(&ev);
		if (i == 0)
			assert_true(st.n_checked <= 3); /* not the 46 of the store */
	}
	for (size_t i = 0; i < st.ix.n; i++)
		if (st.checked[i] && !st.b[i]->trusted)
			bad_seen++;
	assert_int_equal(bad_seen, 1);
	assert_true(st.n_checked < 20);          /* the q* entries were never needed */
	pg_matcher_free(m);
	pg_store_close(&st);
	for (size_t i = 0; i <= nev; i++) {
		free(want[i]);
		free(got[i]);
	}
	free(sig);
	free(sp);
	free(bad);
	free(s);
}

/* No trusted baseline at all: "(no baselines loaded)", as before. */
static void test_lazy_no_trusted(void **state)
{
	(void)state;
	char *s = new_store();
	static const struct blk b[] = { { "OB1", 1, 2, 3 } };
	char *a = add_entry(s, "a", "/srv/a", 1000, NULL, b, 1);
	char *sp = xasprintf("%s/%s/manifest.p7s", s, a);
	spit(sp, "junk", 4);
	struct pg_store st;
	char err[512];
	assert_int_equal(pg_store_open(&st, s, g_trust, 0, 0, err, sizeof err), 0);
	struct pg_matcher *m = pg_matcher_new_store(&st, NULL, NULL);
	struct pg_event ev;
	block_event(&ev, "FC1", 1, 2, 3, "10.0.0.5");
	pg_match_event(m, &ev);
	assert_int_equal(ev.verdict, PG_VERDICT_UNKNOWN);
	assert_non_null(strstr(ev.text, "(no baselines loaded)"));
	pg_event_clear(&ev);
	pg_matcher_free(m);
	pg_store_close(&st);
	free(sp);
	free(a);
	free(s);
}

static int group_setup(void **state)
{
	(void)state;
	char err[1024];
	snprintf(g_dir, sizeof g_dir, "/tmp/pg-storeidx-XXXXXX");
	if (!mkdtemp(g_dir))
		return -1;
	if (sh("bash %s/tests/pki/mkpki.sh %s/pki >%s/mkpki.log 2>&1", g_src, g_dir, g_dir) != 0) {
		print_message("mkpki.sh failed, see %s/mkpki.log\n", g_dir);
		return -1;
	}
	g_trust = pki_trust_load(pki("trust"), pki("crl"), 0, err, sizeof err);
	if (!g_trust) {
		print_message("%s\n", err);
		return -1;
	}
	/* the index of a store this user cannot write goes to the cache */
	setenv("XDG_CACHE_HOME", g_dir, 1);
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	pki_trust_free(g_trust);
	if (g_dir[0] && !getenv("PG_KEEP_PKI"))
		sh("rm -rf '%s'", g_dir);
	return 0;
}

int main(void)
{
	const char *src = getenv("PG_SRC");
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_format_roundtrip),
		cmocka_unit_test(test_format_rejects),
		cmocka_unit_test(test_validate_against_store),
		cmocka_unit_test(test_corrupt_index),
		cmocka_unit_test(test_light),
		cmocka_unit_test(test_large_index),
		cmocka_unit_test(test_tampered_after_indexing),
		cmocka_unit_test(test_lying_index),
		cmocka_unit_test(test_folder_name),
		cmocka_unit_test(test_lazy_equals_eager),
		cmocka_unit_test(test_lazy_no_trusted),
	};
	if (!src || sh("openssl version >/dev/null 2>&1") != 0) {
		fprintf(stderr, "test_storeidx: needs PG_SRC and the openssl CLI; skipped\n");
		return 77;
	}
	snprintf(g_src, sizeof g_src, "%s", src);
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
