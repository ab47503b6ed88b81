/*
 * storeidx.c - the store index (agent/storeidx.h): a cache of what each
 * store entry says, checked against the store on every load and never
 * trusted.  The file is read through the bounds-checked cursor
 * (parsers/cursor.h); anything out of place refuses the whole file, which is
 * then rebuilt from the store.
 */
#include "storeidx.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cursor.h"
#include "digest.h"
#include "mc7.h"
#include "pg_limits.h"
#include "store.h"
#include "textrec.h"
#include "util.h"

/* The hints are what this version's manifest parser makes of each entry: an
 * index written by another version is rebuilt. */
#define IDX_MAGIC "plcguard-store-index\t1\tplcguard " PG_VERSION "\n"
#define IDX_KIND "plcguard-store-index\t"
#define IDX_NAME ".index"

/* ------------------------------------------------------------ hints -- */

static void target_bin(struct pg_idx_target *t)
{
	memset(t->bin, 0, sizeof t->bin);
	t->family = 0;
	if (inet_pton(AF_INET, t->address, t->bin) == 1)
		t->family = 4;
	else if (inet_pton(AF_INET6, t->address, t->bin) == 1)
		t->family = 6;
}

void pg_idx_entry_hints(struct pg_idx_entry *e, const struct pg_manifest *m)
{
	e->ok = 1;
	e->exact = 1;
	e->created = m->created;
	e->project_name = xstrdup(m->project_name ? m->project_name : "");
	e->project_path = xstrdup(m->project_path ? m->project_path : "");
	e->n_targets = m->n_targets;
	e->targets = xcalloc(m->n_targets ? m->n_targets : 1, sizeof *e->targets);
	for (size_t i = 0; i < m->n_targets; i++) {
		struct pg_idx_target *t = &e->targets[i];
		t->address = xstrdup(m->targets[i].address);
		t->rack = m->targets[i].rack;
		t->slot = m->targets[i].slot;
		t->unit = m->targets[i].unit;
		target_bin(t);
	}
	e->comps = xcalloc(m->comps.n ? m->comps.n : 1, sizeof *e->comps);
	e->n_comps = 0;
	for (size_t i = 0; i < m->comps.n; i++) {
		const struct pg_component *c = &m->comps.v[i];
		struct pg_idx_comp x;
		memset(&x, 0, sizeof x);
		x.src = (uint32_t)i;
		if (c->has_sha) {
			x.has_sha = 1;
			memcpy(x.sha, c->sha256, PG_IDX_HASH);
		}
		if (strcmp(c->kind, "s7-block") == 0) {
			/* as agent/match.c reads it: the "block" annotation */
			const char *id = c->ann ? json_string_value(json_object_get(c->ann, "block")) : NULL;
			const char *st = c->ann ? json_string_value(json_object_get(c->ann, "strict_sha256")) : NULL;
			uint8_t t, full[32];
			uint16_t num;
			if (id && mc7_parse_block_id(id, &t, &num) == 0) {
				x.cls = PG_IDX_BLOCK;
				x.block_type = t;
				x.block_num = num;
				if (st && strlen(st) == 64 && pg_unhex(st, full, 32) == 0) {
					x.has_strict = 1;
					memcpy(x.strict, full, PG_IDX_HASH);
				}
				if (c->has_fp) {
					x.has_fp = 1;
					memcpy(x.fp, c->fp, PG_IDX_HASH);
				}
			}
		} else if (strcmp(c->kind, "umas-app") == 0) {
			x.cls = PG_IDX_UMAS;
		}
		if (!x.cls && x.has_sha)
			x.cls = PG_IDX_OTHER;
		if (x.cls)
			e->comps[e->n_comps++] = x;
	}
}

static int same_str(const char *a, const char *b)
{
	return strcmp(a ? a : "", b ? b : "") == 0;
}

int pg_idx_entry_same_hints(const struct pg_idx_entry *a, const struct pg_idx_entry *b)
{
	if (a->ok != b->ok)
		return 0;
	if (!a->ok)
		return 1;
	if (a->created != b->created || !same_str(a->project_name, b->project_name) ||
	    !same_str(a->project_path, b->project_path) || a->n_targets != b->n_targets ||
	    a->n_comps != b->n_comps)
		return 0;
	for (size_t i = 0; i < a->n_targets; i++) {
		const struct pg_idx_target *x = &a->targets[i], *y = &b->targets[i];
		if (!same_str(x->address, y->address) || x->rack != y->rack ||
		    x->slot != y->slot || x->unit != y->unit)
			return 0;
	}
	for (size_t i = 0; i < a->n_comps; i++) {
		const struct pg_idx_comp *x = &a->comps[i], *y = &b->comps[i];
		if (x->cls != y->cls || x->block_type != y->block_type ||
		    x->block_num != y->block_num || x->has_sha != y->has_sha ||
		    x->has_strict != y->has_strict || x->has_fp != y->has_fp ||
		    memcmp(x->sha, y->sha, PG_IDX_HASH) || memcmp(x->strict, y->strict, PG_IDX_HASH) ||
		    memcmp(x->fp, y->fp, PG_IDX_HASH))
			return 0;
	}
	return 1;
}

static void clear_hints(struct pg_idx_entry *e)
{
	free(e->project_name);
	free(e->project_path);
	for (size_t i = 0; i < e->n_targets; i++)
		free(e->targets[i].address);
	free(e->targets);
	free(e->comps);
	e->project_name = e->project_path = NULL;
	e->targets = NULL;
	e->comps = NULL;
	e->n_targets = e->n_comps = 0;
	e->ok = 0;
	e->exact = 0;
	e->created = 0;
}

void pg_idx_entry_free(struct pg_idx_entry *e)
{
	clear_hints(e);
	free(e->id);
	memset(e, 0, sizeof *e);
}

/* ------------------------------------------------------- writing -- */

static void sb_hash(struct pg_sbuf *b, int has, const uint8_t *h)
{
	char hex[2 * PG_IDX_HASH + 1];
	pg_sb_str(b, "\t");
	pg_sb_str(b, has ? pg_hex(h, PG_IDX_HASH, hex) : "-");
}

static void sb_fkey(struct pg_sbuf *b, const struct pg_fkey *k)
{
	if (!k->ok) {
		pg_sb_str(b, "\t-");
		return;
	}
	pg_sb_fmt(b, "\t%llu.%lld.%lld.%lld.%lld.%llu", (unsigned long long)k->size,
	       (long long)k->mtime_s, (long long)k->mtime_ns, (long long)k->ctime_s,
	       (long long)k->ctime_ns, (unsigned long long)k->ino);
}

char *pg_storeidx_serialize(const struct pg_idx_entry *v, size_t n, size_t *len)
{
	struct pg_sbuf b = { 0 };
	pg_sb_str(&b, IDX_MAGIC);
	for (size_t i = 0; i < n; i++) {
		const struct pg_idx_entry *e = &v[i];
		pg_sb_str(&b, "e\t");
		pg_sb_text(&b, e->id);
		pg_sb_str(&b, e->ok ? "\t1" : "\t0");
		sb_fkey(&b, &e->mj);
		sb_fkey(&b, &e->sg);
		pg_sb_str(&b, "\n");
		if (!e->ok)
			continue;
		pg_sb_fmt(&b, "p\t%lld\t", (long long)e->created);
		pg_sb_text(&b, e->project_name);
		pg_sb_str(&b, "\t");
		pg_sb_text(&b, e->project_path);
		pg_sb_str(&b, "\n");
		for (size_t k = 0; k < e->n_targets; k++) {
			const struct pg_idx_target *t = &e->targets[k];
			pg_sb_str(&b, "t\t");
			pg_sb_text(&b, t->address);
			pg_sb_fmt(&b, "\t%d\t%d\t%d\n", t->rack, t->slot, t->unit);
		}
		for (size_t k = 0; k < e->n_comps; k++) {
			const struct pg_idx_comp *c = &e->comps[k];
			if (c->cls == PG_IDX_BLOCK) {
				pg_sb_fmt(&b, "b\t%u\t%u", c->block_type, c->block_num);
				sb_hash(&b, c->has_sha, c->sha);
				sb_hash(&b, c->has_strict, c->strict);
				sb_hash(&b, c->has_fp, c->fp);
			} else {
				pg_sb_str(&b, c->cls == PG_IDX_UMAS ? "u" : "c");
				sb_hash(&b, c->has_sha, c->sha);
			}
			pg_sb_str(&b, "\n");
		}
	}
	uint8_t h[32];
	char hex[PG_SHA256_HEX];
	pg_sha256(b.p, b.n, h);
	pg_sb_fmt(&b, "end\t%zu\t%s\n", n, pg_hex(h, 32, hex));
	if (b.oom) {               /* never a partial index */
		pg_sb_free(&b);
		*len = 0;
		return NULL;
	}
	*len = b.n;
	return b.p;
}

/* ------------------------------------------------------- reading -- */

/* The next line (without its '\n'); 0 at the end, -1 if the last line has
 * no newline. */
/* An unsigned decimal that ends at a '.' or at the end of the field. */
static int dotted_u64(struct cur *f, uint64_t *out)
{
	int digits = 0, ch;
	uint64_t v = 0;
	while ((ch = cur_peek(f, 0)) >= '0' && ch <= '9') {
		if (++digits > 19)
			return -1;
		v = v * 10 + (unsigned)(ch - '0');
		cur_skip(f, 1);
	}
	if (!digits)
		return -1;
	if (ch == '.')
		cur_skip(f, 1);
	*out = v;
	return 0;
}

static int field_fkey(struct cur f, struct pg_fkey *k)
{
	memset(k, 0, sizeof *k);
	if (pg_tr_is(&f, "-"))
		return 0;
	uint64_t a[6];
	for (int i = 0; i < 6; i++)
		if (dotted_u64(&f, &a[i]) < 0)
			return -1;
	if (cur_left(&f) || a[0] > (uint64_t)INT64_MAX || a[1] > (uint64_t)INT64_MAX ||
	    a[2] > 999999999u || a[3] > (uint64_t)INT64_MAX || a[4] > 999999999u)
		return -1;
	k->ok = 1;
	k->size = a[0];
	k->mtime_s = (int64_t)a[1];
	k->mtime_ns = (int64_t)a[2];
	k->ctime_s = (int64_t)a[3];
	k->ctime_ns = (int64_t)a[4];
	k->ino = a[5];
	return 0;
}

static int field_hash(struct cur f, uint8_t *has, uint8_t *h)
{
	int r = pg_tr_hex(f, h, PG_IDX_HASH);
	*has = r == 1;
	return r < 0 ? -1 : 0;
}

static int valid_id(const char *id)
{
	size_t n = strlen(id);
	return n > 0 && n <= IDX_MAX_ID && id[0] != '.' && !strchr(id, '/');
}

/* The parser's state: one line at a time, from a buffer or a file read in
 * pieces.  The checksum covers every byte before the end line. */
struct pstate {
	unsigned flags;
	struct pg_idx_entry *v, *e;
	size_t n, cap, lineno, tcap, ccap, ntargets, ncomps;
	int have_p, ended;
	struct pg_sha256_ctx *sha;
	char *err;
	size_t errlen;
};

#define BAD(...) do { snprintf(ps->err, ps->errlen, __VA_ARGS__); return -1; } while (0)

static int ps_line(struct pstate *ps, struct cur line)
{
	struct cur f, raw = line;
	int more = 1;
	size_t lineno = ++ps->lineno;
	if (lineno == 1) {
		if (!(cur_left(&line) == strlen(IDX_MAGIC) - 1 &&
		      cur_peek_eq(&line, IDX_MAGIC, strlen(IDX_MAGIC) - 1))) {
			if (cur_peek_eq(&line, IDX_KIND, strlen(IDX_KIND)))
				BAD("written by another version of plcguard");
			BAD("not a plcguard store index (version 1)");
		}
		pg_sha256_update(ps->sha, IDX_MAGIC, strlen(IDX_MAGIC));
		return 0;
	}
	if (ps->ended)
		BAD("line %zu: data after the end line", lineno);
	pg_tr_field(&line, &f, &more);
	if (!pg_tr_is(&f, "end")) {
		size_t n = cur_left(&raw);
		const uint8_t *p = cur_bytes(&raw, n);
		if (n)
			pg_sha256_update(ps->sha, p, n);
		pg_sha256_update(ps->sha, "\n", 1);
	}
	struct pg_idx_entry *e = ps->e;
	if (pg_tr_is(&f, "e")) {
		struct cur fid, fok, fm, fs;
		if (!pg_tr_field(&line, &fid, &more) || !pg_tr_field(&line, &fok, &more) ||
		    !pg_tr_field(&line, &fm, &more) || !pg_tr_field(&line, &fs, &more) || more)
			BAD("line %zu: an entry has five fields", lineno);
		if (e && e->ok && !ps->have_p)
			BAD("line %zu: entry %s has no project line", lineno, e->id);
		if (ps->n >= PG_MAX_INDEX_ENTRIES)
			BAD("line %zu: more than %u entries", lineno, PG_MAX_INDEX_ENTRIES);
		if (ps->n == ps->cap) {
			ps->cap = ps->cap ? ps->cap * 2 : 256;
			ps->v = xrealloc(ps->v, ps->cap * sizeof *ps->v);
		}
		e = ps->e = &ps->v[ps->n++];
		memset(e, 0, sizeof *e);
		e->light = (ps->flags & PG_IDX_LIGHT) != 0;
		ps->tcap = ps->ccap = ps->ntargets = ps->ncomps = 0;
		ps->have_p = 0;
		e->id = pg_tr_text(fid, IDX_MAX_ID);
		if (!e->id || !valid_id(e->id))
			BAD("line %zu: bad entry id", lineno);
		if (pg_tr_is(&fok, "1"))
			e->ok = 1;
		else if (!pg_tr_is(&fok, "0"))
			BAD("line %zu: entry state is not 0 or 1", lineno);
		if (field_fkey(fm, &e->mj) < 0 || field_fkey(fs, &e->sg) < 0)
			BAD("line %zu: bad file key", lineno);
		return 0;
	}
	if (pg_tr_is(&f, "end")) {
		struct cur fn, fh;
		long long cnt;
		uint8_t h[32], want[32];
		if (!pg_tr_field(&line, &fn, &more) || !pg_tr_field(&line, &fh, &more) || more ||
		    pg_tr_int(fn, 0, PG_MAX_INDEX_ENTRIES, &cnt) < 0 || (size_t)cnt != ps->n)
			BAD("line %zu: bad end line (entry count)", lineno);
		if (e && e->ok && !ps->have_p)
			BAD("line %zu: entry %s has no project line", lineno, e->id);
		const uint8_t *hx = cur_bytes(&fh, 64);
		char hs[65];
		if (!hx || cur_left(&fh))
			BAD("line %zu: bad checksum field", lineno);
		memcpy(hs, hx, 64);
		hs[64] = 0;
		if (pg_unhex(hs, want, 32) != 0)
			BAD("line %zu: bad checksum field", lineno);
		pg_sha256_final(ps->sha, h);
		if (memcmp(h, want, 32) != 0)
			BAD("checksum mismatch (the file was changed or damaged)");
		ps->ended = 1;
		return 0;
	}
	if (!e || !e->ok)
		BAD("line %zu: a record outside a readable entry", lineno);
	if (pg_tr_is(&f, "p")) {
		struct cur fc, fname, fpath;
		long long created;
		if (ps->have_p || !pg_tr_field(&line, &fc, &more) || !pg_tr_field(&line, &fname, &more) ||
		    !pg_tr_field(&line, &fpath, &more) || more)
			BAD("line %zu: bad project line", lineno);
		if (pg_tr_int(fc, -(1LL << 40), 1LL << 40, &created) < 0)
			BAD("line %zu: bad creation time", lineno);
		e->created = (time_t)created;
		char *name = pg_tr_text(fname, PG_MAX_NAME_BYTES);
		e->project_path = pg_tr_text(fpath, PG_MAX_NAME_BYTES);
		if (!name || !e->project_path) {
			free(name);
			BAD("line %zu: bad project name or path", lineno);
		}
		if (e->light)
			free(name);
		else
			e->project_name = name;
		ps->have_p = 1;
		return 0;
	}
	if (!ps->have_p)
		BAD("line %zu: a record before the project line", lineno);
	if (pg_tr_is(&f, "t")) {
		struct cur fa, fr, fsl, fu;
		long long rack, slot, unit;
		if (!pg_tr_field(&line, &fa, &more) || !pg_tr_field(&line, &fr, &more) ||
		    !pg_tr_field(&line, &fsl, &more) || !pg_tr_field(&line, &fu, &more) || more ||
		    pg_tr_int(fr, -1, 1 << 20, &rack) < 0 || pg_tr_int(fsl, -1, 1 << 20, &slot) < 0 ||
		    pg_tr_int(fu, -1, 1 << 20, &unit) < 0)
			BAD("line %zu: bad target", lineno);
		if (ps->ntargets >= PG_MAX_TARGETS)
			BAD("line %zu: more than %d targets", lineno, PG_MAX_TARGETS);
		char *addr = pg_tr_text(fa, 256);
		if (!addr)
			BAD("line %zu: bad target address", lineno);
		ps->ntargets++;
		if (e->light) {
			free(addr);
			return 0;
		}
		if (e->n_targets == ps->tcap) {
			ps->tcap = ps->tcap ? ps->tcap * 2 : 1;
			e->targets = xrealloc(e->targets, ps->tcap * sizeof *e->targets);
		}
		struct pg_idx_target *t = &e->targets[e->n_targets++];
		memset(t, 0, sizeof *t);
		t->address = addr;
		t->rack = (int)rack;
		t->slot = (int)slot;
		t->unit = (int)unit;
		target_bin(t);
		return 0;
	}
	if (pg_tr_is(&f, "b") || pg_tr_is(&f, "u") || pg_tr_is(&f, "c")) {
		struct pg_idx_comp x;
		struct cur fh;
		memset(&x, 0, sizeof x);
		x.cls = (uint8_t)cur_peek(&f, 0);
		if (x.cls == PG_IDX_BLOCK) {
			struct cur ft, fnum, fst, ffp;
			long long ty, num;
			if (!pg_tr_field(&line, &ft, &more) || !pg_tr_field(&line, &fnum, &more) ||
			    !pg_tr_field(&line, &fh, &more) || !pg_tr_field(&line, &fst, &more) ||
			    !pg_tr_field(&line, &ffp, &more) || more ||
			    pg_tr_int(ft, 0, 255, &ty) < 0 || pg_tr_int(fnum, 0, 65535, &num) < 0 ||
			    field_hash(fh, &x.has_sha, x.sha) < 0 ||
			    field_hash(fst, &x.has_strict, x.strict) < 0 ||
			    field_hash(ffp, &x.has_fp, x.fp) < 0)
				BAD("line %zu: bad block record", lineno);
			x.block_type = (uint8_t)ty;
			x.block_num = (uint16_t)num;
		} else if (!pg_tr_field(&line, &fh, &more) || more ||
			   field_hash(fh, &x.has_sha, x.sha) < 0) {
			BAD("line %zu: bad component record", lineno);
		}
		if (ps->ncomps >= PG_MAX_COMPONENTS)
			BAD("line %zu: more than %d components", lineno, PG_MAX_COMPONENTS);
		ps->ncomps++;
		if (e->light)
			return 0;
		if (e->n_comps == ps->ccap) {
			ps->ccap = ps->ccap ? ps->ccap * 2 : 8;
			e->comps = xrealloc(e->comps, ps->ccap * sizeof *e->comps);
		}
		e->comps[e->n_comps++] = x;
		return 0;
	}
	BAD("line %zu: unknown record", lineno);
}

#undef BAD

static void ps_init(struct pstate *ps, unsigned flags, char *err, size_t errlen)
{
	memset(ps, 0, sizeof *ps);
	ps->flags = flags;
	ps->err = err;
	ps->errlen = errlen;
	ps->sha = pg_sha256_new();
}

static int ps_finish(struct pstate *ps, int rc, struct pg_idx_entry **out, size_t *nout)
{
	if (rc == 0 && !ps->sha) {
		snprintf(ps->err, ps->errlen, "out of memory");
		rc = -1;
	}
	if (rc == 0 && !ps->ended) {
		snprintf(ps->err, ps->errlen, "no end line (cut short?)");
		rc = -1;
	}
	pg_sha256_free(ps->sha);
	if (rc != 0) {
		for (size_t i = 0; i < ps->n; i++)
			pg_idx_entry_free(&ps->v[i]);
		free(ps->v);
		*out = NULL;
		*nout = 0;
		return -1;
	}
	*out = ps->v;
	*nout = ps->n;
	return 0;
}

int pg_storeidx_parse(const uint8_t *buf, size_t len, unsigned flags,
		      struct pg_idx_entry **out, size_t *nout, char *err, size_t errlen)
{
	struct pstate ps;
	struct cur c = cur_init(buf, len), line;
	int r, rc = 0;
	ps_init(&ps, flags, err, errlen);
	if (!ps.sha)
		return ps_finish(&ps, 0, out, nout);
	if (len > PG_MAX_INDEX_BYTES) {
		snprintf(err, errlen, "larger than %u bytes", PG_MAX_INDEX_BYTES);
		rc = -1;
	}
	while (rc == 0 && (r = pg_tr_line(&c, &line)) != 0) {
		if (r < 0) {
			snprintf(err, errlen, "line %zu: no newline at the end (cut short?)", ps.lineno + 1);
			rc = -1;
		} else {
			rc = ps_line(&ps, line);
		}
	}
	if (rc == 0 && ps.lineno == 0) {
		snprintf(err, errlen, "not a plcguard store index (version 1)");
		rc = -1;
	}
	return ps_finish(&ps, rc, out, nout);
}

/* The same, reading the file in pieces (a large index is never held whole). */
static int parse_file(int fd, unsigned flags, struct pg_idx_entry **out, size_t *nout,
		      char *err, size_t errlen)
{
	enum { PIECE = 256 << 10 };
	struct pstate ps;
	uint8_t *buf = xmalloc(PIECE);
	size_t have = 0, total = 0;
	int rc = 0;
	ps_init(&ps, flags, err, errlen);
	if (!ps.sha) {
		free(buf);
		return ps_finish(&ps, 0, out, nout);
	}
	for (;;) {
		ssize_t r = read(fd, buf + have, PIECE - have);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			snprintf(err, errlen, "read: %s", strerror(errno));
			rc = -1;
			break;
		}
		total += (size_t)r;
		if (total > PG_MAX_INDEX_BYTES) {
			snprintf(err, errlen, "larger than %u bytes", PG_MAX_INDEX_BYTES);
			rc = -1;
			break;
		}
		have += (size_t)r;
		struct cur c = cur_init(buf, have), line;
		size_t used = 0;
		while (rc == 0 && pg_tr_line(&c, &line) > 0) {
			rc = ps_line(&ps, line);
			used = have - cur_left(&c);
		}
		if (rc)
			break;
		memmove(buf, buf + used, have - used);
		have -= used;
		if (r == 0) {
			if (have) {
				snprintf(err, errlen, "line %zu: no newline at the end (cut short?)", ps.lineno + 1);
				rc = -1;
			} else if (ps.lineno == 0) {
				snprintf(err, errlen, "not a plcguard store index (version 1)");
				rc = -1;
			}
			break;
		}
		if (have == PIECE) {
			snprintf(err, errlen, "line %zu: longer than %d bytes", ps.lineno + 1, PIECE);
			rc = -1;
			break;
		}
	}
	free(buf);
	return ps_finish(&ps, rc, out, nout);
}

/* ---------------------------------------------------- the store -- */

void pg_fkey_stat(int dirfd, const char *path, struct pg_fkey *k)
{
	struct stat st;
	memset(k, 0, sizeof *k);
	if (fstatat(dirfd, path, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode))
		return;
	k->ok = 1;
	k->size = (uint64_t)st.st_size;
	k->ino = (uint64_t)st.st_ino;
	k->mtime_s = (int64_t)st.st_mtim.tv_sec;
	k->mtime_ns = (int64_t)st.st_mtim.tv_nsec;
	k->ctime_s = (int64_t)st.st_ctim.tv_sec;
	k->ctime_ns = (int64_t)st.st_ctim.tv_nsec;
}

static int fkey_eq(const struct pg_fkey *a, const struct pg_fkey *b)
{
	if (!a->ok || !b->ok)
		return a->ok == b->ok;
	return a->size == b->size && a->ino == b->ino && a->mtime_s == b->mtime_s &&
	       a->mtime_ns == b->mtime_ns && a->ctime_s == b->ctime_s && a->ctime_ns == b->ctime_ns;
}

/* Where the index of a store that this user cannot write is kept. */
static char *cache_file(const char *store)
{
	char *real = realpath(store, NULL);
	const char *p = real ? real : store;
	uint8_t h[32];
	char hex[PG_SHA256_HEX];
	pg_sha256(p, strlen(p), h);
	pg_hex(h, 8, hex);
	free(real);
	const char *x = getenv("XDG_CACHE_HOME");
	if (x && *x == '/')
		return xasprintf("%s/plcguard/store-%s.index", x, hex);
	const char *home = getenv("HOME");
	if (!home || *home != '/')
		return NULL;
	return xasprintf("%s/.cache/plcguard/store-%s.index", home, hex);
}

static void read_entry(const char *store, struct pg_idx_entry *e)
{
	char *dir = xasprintf("%s/%s", store, e->id);
	struct pg_baseline b;
	pg_baseline_load(dir, e->id, &b);
	free(dir);
	if (!b.load_err[0]) {
		struct pg_manifest m;
		char perr[512];
		if (pg_manifest_parse(b.manifest, b.manifest_len, &m, perr, sizeof perr) == 0) {
			pg_idx_entry_hints(e, &m);
			pg_manifest_free(&m);
		}
	}
	pg_baseline_free(&b);
}

static int cmp_entry_id(const void *a, const void *b)
{
	return strcmp((*(struct pg_idx_entry *const *)a)->id, (*(struct pg_idx_entry *const *)b)->id);
}

static struct pg_idx_entry **sort_ids(struct pg_idx_entry *old, size_t n)
{
	struct pg_idx_entry **byid = xcalloc(n ? n : 1, sizeof *byid);
	for (size_t i = 0; i < n; i++)
		byid[i] = &old[i];
	qsort(byid, n, sizeof *byid, cmp_entry_id);
	return byid;
}

/* Does an id occur twice?  (A file plcguard did not write.)  Hash set. */
static const char *dup_id(const struct pg_idx_entry *v, size_t n)
{
	size_t cap = 16;
	while (cap < 2 * n)
		cap *= 2;
	size_t *slot = xcalloc(cap, sizeof *slot); /* index + 1; 0 empty */
	const char *dup = NULL;
	for (size_t i = 0; i < n && !dup; i++) {
		uint64_t h = 1469598103934665603ull;
		for (const unsigned char *p = (const unsigned char *)v[i].id; *p; p++)
			h = (h ^ *p) * 1099511628211ull;
		for (size_t k = (size_t)h & (cap - 1);; k = (k + 1) & (cap - 1)) {
			if (!slot[k]) {
				slot[k] = i + 1;
				break;
			}
			if (strcmp(v[slot[k] - 1].id, v[i].id) == 0) {
				dup = v[i].id;
				break;
			}
		}
	}
	free(slot);
	return dup;
}

static int read_index_file(struct pg_storeidx *ix, const char *path, unsigned flags,
			   struct pg_idx_entry **old, size_t *n_old)
{
	char err[512];
	struct stat st;
	*old = NULL;
	*n_old = 0;
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT)
		return -1; /* no index yet: nothing to say */
	int r = -1;
	if (fd < 0)
		snprintf(err, sizeof err, "%s", errno == ELOOP ? "a symbolic link" : strerror(errno));
	else if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
		snprintf(err, sizeof err, "not a regular file");
	else
		r = parse_file(fd, flags, old, n_old, err, sizeof err);
	if (fd >= 0)
		close(fd);
	const char *dup = r == 0 ? dup_id(*old, *n_old) : NULL;
	if (dup) {
		snprintf(err, sizeof err, "entry %.200s is listed twice", dup);
		for (size_t i = 0; i < *n_old; i++)
			pg_idx_entry_free(&(*old)[i]);
		free(*old);
		*old = NULL;
		*n_old = 0;
		r = -1;
	}
	if (r != 0) {
		snprintf(ix->notice, sizeof ix->notice, "store index %s ignored (%s); rebuilt from the store",
			 path, err);
		return -1;
	}
	return 0;
}

/* The store's entries (folders, not hidden) and the stat keys of their two
 * files: run on a thread of its own while the index file is read, since on
 * a large store both take a while (one is system calls, the other parsing). */
struct lister {
	int dfd;
	char **names;
	struct pg_fkey *keys;     /* two per name */
	size_t n;
	int err;                  /* errno when the folder could not be read */
};

struct stat_part {
	struct lister *l;
	size_t from, to;
};

static void *stat_part(void *arg)
{
	struct stat_part *p = arg;
	char path[PATH_MAX];
	for (size_t i = p->from; i < p->to; i++) {
		if ((size_t)snprintf(path, sizeof path, "%s/manifest.json", p->l->names[i]) < sizeof path)
			pg_fkey_stat(p->l->dfd, path, &p->l->keys[2 * i]);
		if ((size_t)snprintf(path, sizeof path, "%s/manifest.p7s", p->l->names[i]) < sizeof path)
			pg_fkey_stat(p->l->dfd, path, &p->l->keys[2 * i + 1]);
	}
	return NULL;
}

static void *list_store(void *arg)
{
	struct lister *l = arg;
	int dfd2 = dup(l->dfd);
	DIR *d = dfd2 >= 0 ? fdopendir(dfd2) : NULL;
	if (!d) {
		l->err = errno ? errno : EIO;
		if (dfd2 >= 0)
			close(dfd2);
		return NULL;
	}
	size_t cap = 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue; /* ".", "..", unfinished ".tmp-" entries, the index */
		if (de->d_type != DT_DIR) {
			struct stat st;
			if (de->d_type != DT_UNKNOWN ||
			    fstatat(l->dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISDIR(st.st_mode))
				continue;
		}
		if (l->n == cap) {
			cap = cap ? cap * 2 : 256;
			l->names = xrealloc(l->names, cap * sizeof *l->names);
		}
		l->names[l->n++] = xstrdup(de->d_name);
	}
	closedir(d);
	l->keys = xcalloc(2 * l->n + 1, sizeof *l->keys);
	/* a large store: the second half on another thread */
	struct stat_part half = { l, l->n / 2, l->n };
	pthread_t th;
	int two = l->n >= 2048 && pthread_create(&th, NULL, stat_part, &half) == 0;
	struct stat_part first = { l, 0, two ? l->n / 2 : l->n };
	stat_part(&first);
	if (two)
		pthread_join(th, NULL);
	return NULL;
}

static int has_light(const struct pg_storeidx *ix)
{
	for (size_t i = 0; i < ix->n; i++)
		if (ix->v[i].light)
			return 1;
	return 0;
}

int pg_storeidx_load(const char *store, struct pg_storeidx *ix, unsigned flags,
		     char *err, size_t errlen)
{
	memset(ix, 0, sizeof *ix);
	ix->store = xstrdup(store);
	int dfd = open(store, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0) {
		if (errno == ENOENT)
			return 0; /* an empty store */
		snprintf(err, errlen, "%s: %s", store, strerror(errno));
		return -1;
	}
	struct lister l = { .dfd = dfd };
	pthread_t th;
	int threaded = pthread_create(&th, NULL, list_store, &l) == 0;
	if (!threaded)
		list_store(&l);

	ix->store_writable = access(store, W_OK) == 0;
	char *own = xasprintf("%s/%s", store, IDX_NAME);
	ix->file = ix->store_writable ? own : cache_file(store);
	struct pg_idx_entry *old = NULL;
	size_t n_old = 0;
	int have = ix->file ? read_index_file(ix, ix->file, flags, &old, &n_old) : -1;
	if (have != 0 && !ix->store_writable && !ix->notice[0])
		read_index_file(ix, own, flags, &old, &n_old); /* the store's own, read-only */
	if (own != ix->file)
		free(own);
	if (ix->notice[0])
		ix->dirty = 1;
	if (threaded)
		pthread_join(th, NULL);
	close(dfd);

	int rc = 0;
	if (l.err) {
		snprintf(err, errlen, "%s: %s", store, strerror(l.err));
		rc = -1;
		l.n = 0;
	}
	/* Looked up by id: in order first (the index is written in readdir
	 * order, which an unchanged folder keeps), by bisection otherwise. */
	struct pg_idx_entry **byid = NULL;
	unsigned char *taken = xcalloc(n_old ? n_old : 1, 1);
	size_t next = 0;
	ix->v = xcalloc(l.n ? l.n : 1, sizeof *ix->v);
	for (size_t i = 0; i < l.n; i++) {
		const char *name = l.names[i];
		const struct pg_fkey *mj = &l.keys[2 * i], *sg = &l.keys[2 * i + 1];
		struct pg_idx_entry *e = &ix->v[ix->n++], *hit = NULL;
		if (next < n_old && strcmp(old[next].id, name) == 0) {
			hit = &old[next++];
		} else if (n_old) {
			if (!byid)
				byid = sort_ids(old, n_old);
			struct pg_idx_entry key = { .id = (char *)name }, *kp = &key, **h;
			h = bsearch(&kp, byid, n_old, sizeof *byid, cmp_entry_id);
			hit = h ? *h : NULL;
			if (hit)
				next = (size_t)(hit - old) + 1; /* in order again from here */
		}
		if (hit && taken[hit - old])
			hit = NULL;
		if (hit && fkey_eq(&hit->mj, mj) && fkey_eq(&hit->sg, sg)) {
			/* move the record; the old one keeps its id for the search */
			*e = *hit;
			char *id = hit->id;
			memset(hit, 0, sizeof *hit);
			hit->id = id;
			taken[hit - old] = 1;
			ix->reused++;
			continue;
		}
		if (hit) {
			taken[hit - old] = 2;
			ix->reread++;
		} else {
			ix->added++;
		}
		e->id = xstrdup(name);
		e->mj = *mj;
		e->sg = *sg;
		read_entry(store, e);
		ix->dirty = 1;
	}
	for (size_t i = 0; i < n_old; i++) {
		if (!taken[i]) {
			ix->dropped++;
			ix->dirty = 1;
		}
		if (taken[i] == 1)
			old[i].id = NULL; /* moved */
		pg_idx_entry_free(&old[i]);
	}
	free(old);
	free(byid);
	free(taken);
	for (size_t i = 0; i < l.n; i++)
		free(l.names[i]);
	free(l.names);
	free(l.keys);
	if (rc == 0 && (flags & PG_IDX_SAVE) && ix->dirty) {
		if (has_light(ix)) {
			/* Something changed and the index is to be written, which
			 * takes every entry's full hints: read it once more, whole. */
			pg_storeidx_free(ix);
			return pg_storeidx_load(store, ix, flags & ~PG_IDX_LIGHT, err, errlen);
		}
		pg_storeidx_save(ix);
	}
	return rc;
}

int pg_storeidx_save(struct pg_storeidx *ix)
{
	if (!ix->dirty || !ix->file)
		return 0;
	if (has_light(ix))
		return -1; /* read without the hints a file needs */
	size_t len;
	char *txt = pg_storeidx_serialize(ix->v, ix->n, &len);
	if (!txt)
		return -1;
	char err[600];
	char *dir = xstrdup(ix->file);
	char *slash = strrchr(dir, '/');
	int rc = -1;
	if (slash) {
		*slash = 0;
		if (ix->store_writable || pg_mkdirs(dir, 0700) == 0)
			rc = pg_write_atomic(dir, slash + 1, txt, len, err, sizeof err);
	}
	if (rc == 0)
		ix->dirty = 0;
	free(dir);
	free(txt);
	return rc;
}

void pg_storeidx_free(struct pg_storeidx *ix)
{
	for (size_t i = 0; i < ix->n; i++)
		pg_idx_entry_free(&ix->v[i]);
	free(ix->v);
	free(ix->store);
	free(ix->file);
	memset(ix, 0, sizeof *ix);
}
