/*
 * scan.c - walk a project (file, folder or archive) into components.
 *
 * Folder walk: lstat every entry (fstatat from the open folder; symlinks are
 * recorded with their target and never followed), apply the exclusion patterns, collect regular files, then
 * hash and parse them with --jobs worker threads.  Each worker writes its
 * results into the slot of its file, so the output order does not depend on
 * thread timing; the list is sorted by name at the end.
 *
 * Reading a file: open with O_NOFOLLOW, fstat, read through the descriptor
 * while hashing, fstat again.  Size, inode, mtime and ctime must not move and
 * the bytes read must equal the size: otherwise the file changed while it was
 * hashed and we report that instead of a hash that describes nothing.
 * Files whose first bytes look like a ZIP, PLCopen XML or an S7 block are read
 * whole (up to PG_MAX_INSPECT_BYTES) and handed to parsers/; other files are
 * streamed through a reusable buffer, which is what keeps verify near the
 * speed of `openssl dgst`.
 */
#include "scan.h"

#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cursor.h"
#include "digest.h"
#include "pg_limits.h"
#include "mc7.h"
#include "plcopen.h"
#include "util.h"
#include "ziparch.h"

#define READ_CHUNK (1u << 20)
#define SNIFF_BYTES 4096

const char *const pg_default_excludes[] = { "*.lck:empty", "write.lock",
					    ".~lock.*#", NULL };

static const char *const kinds[] = { "file", "link", "special", "zip-entry",
				     "pou", "datatype", "configuration",
				     "resource", "task", "s7-block", "umas-app",
				     NULL };

const char *pg_kind_intern(const char *s)
{
	for (int i = 0; s && kinds[i]; i++)
		if (strcmp(s, kinds[i]) == 0)
			return kinds[i];
	return NULL;
}

/* ---------------------------------------------------------------- lists -- */

struct pg_component *pg_complist_add(struct pg_complist *l, const char *name,
				     const char *kind)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 16, bytes;
		if (size_mul(cap, sizeof *l->v, &bytes))
			return NULL;
		l->v = xrealloc(l->v, bytes);
		l->cap = cap;
	}
	struct pg_component *c = &l->v[l->n++];
	memset(c, 0, sizeof *c);
	c->name = xstrdup(name);
	c->kind = kind;
	return c;
}

static int comp_cmp(const void *a, const void *b)
{
	const struct pg_component *x = a, *y = b;
	return strcmp(x->name, y->name);
}

void pg_complist_sort(struct pg_complist *l)
{
	if (l->n > 1)
		qsort(l->v, l->n, sizeof *l->v, comp_cmp);
}

const struct pg_component *pg_complist_find(const struct pg_complist *l,
					    const char *name)
{
	size_t lo = 0, hi = l->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(name, l->v[mid].name);
		if (c == 0)
			return &l->v[mid];
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

void pg_complist_free(struct pg_complist *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->v[i].name);
		json_decref(l->v[i].ann);
	}
	free(l->v);
	memset(l, 0, sizeof *l);
}

static void add_msg(struct pg_scan_msg **msgs, size_t *n, int io, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void add_msg(struct pg_scan_msg **msgs, size_t *n, int io, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int len = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	char *t = xmalloc(len > 0 ? (size_t)len + 1 : 1);
	va_start(ap, fmt);
	vsnprintf(t, len > 0 ? (size_t)len + 1 : 1, fmt, ap);
	va_end(ap);
	*msgs = xrealloc(*msgs, (*n + 1) * sizeof **msgs);
	(*msgs)[*n].text = t;
	(*msgs)[*n].io = io;
	(*n)++;
}

static json_t *ann_of(struct pg_component *c)
{
	if (!c->ann)
		c->ann = json_object();
	return c->ann;
}

static void ann_str(struct pg_component *c, const char *k, const char *v)
{
	json_object_set_new(ann_of(c), k, json_string(v));
}

static void ann_hex(struct pg_component *c, const char *k, const uint8_t d[32])
{
	char hex[PG_SHA256_HEX];
	ann_str(c, k, pg_hex(d, 32, hex));
}

/* --------------------------------------------------------- blob parsers -- */

/* A first look, through the cursor, at whether bytes may be an MC7 block:
 * magic "pp", a block type byte in range, room for header and footer.  The
 * full checks (and their error messages) are mc7_parse's. */
static int mc7_candidate(const uint8_t *data, size_t len)
{
	struct cur c = cur_init(data, len);
	if (!cur_peek_eq(&c, "pp", 2) || len < PG_MC7_HEADER)
		return 0;
	int type = cur_peek(&c, 5);
	return type >= 0x08 && type <= 0x0F;
}

static void s7_time(const uint8_t ts[6], char *buf, size_t n)
{
	/* 4 bytes ms since midnight, 2 bytes days since 1984-01-01. */
	struct cur c = cur_init(ts, 6);
	uint32_t ms = cur_u32be(&c);
	uint16_t days = cur_u16be(&c);
	time_t t = (time_t)441763200 + (time_t)days * 86400 + ms / 1000;
	pg_fmt_time(t, buf, n);
}

void pg_scan_add_mc7(const char *prefix, const struct mc7_block *b,
		     struct pg_complist *out)
{
	char id[16];
	mc7_block_id(b->type, b->number, id, sizeof id);
	char *name = xasprintf("%s#s7/%s", prefix, id);
	pg_scan_add_mc7_as(name, b, out);
	free(name);
}

struct pg_component *pg_scan_add_mc7_as(const char *name, const struct mc7_block *b,
					struct pg_complist *out)
{
	char id[16];
	mc7_block_id(b->type, b->number, id, sizeof id);
	struct pg_component *c = pg_complist_add(out, name, "s7-block");
	c->size = b->load_len;
	c->has_sha = 1;
	memcpy(c->sha256, b->sha256, 32);
	c->has_fp = 1;
	memcpy(c->fp, b->logic_fp, 32);
	c->fp_alg = "plcguard-mc7-logic-v1";
	json_t *a = ann_of(c);
	json_object_set_new(a, "block", json_string(id));
	const char *tn = mc7_type_name(b->type);
	json_object_set_new(a, "block_type", json_string(tn ? tn : "unknown"));
	json_object_set_new(a, "block_number", json_integer(b->number));
	json_object_set_new(a, "language", json_string(mc7_lang_name(b->lang)));
	json_object_set_new(a, "know_how_protected", json_boolean(b->know_how));
	ann_hex(c, "strict_sha256", b->strict);
	ann_hex(c, "code_sha256", b->code_sha);
	ann_hex(c, "interface_sha256", b->iface_sha);
	ann_hex(c, "segment_table_sha256", b->segtab_sha);
	json_object_set_new(a, "mc7_code_length", json_integer(b->code_len));
	char t[32];
	s7_time(b->code_ts, t, sizeof t);
	json_object_set_new(a, "code_timestamp", json_string(t));
	s7_time(b->iface_ts, t, sizeof t);
	json_object_set_new(a, "interface_timestamp", json_string(t));
	json_object_set_new(a, "author", json_string(b->author));
	json_object_set_new(a, "family", json_string(b->family));
	json_object_set_new(a, "block_name", json_string(b->name));
	snprintf(t, sizeof t, "%u.%u", b->hdr_version >> 4, b->hdr_version & 15u);
	json_object_set_new(a, "version", json_string(t));
	json_object_set_new(a, "interface_length", json_integer(b->iface_len));
	json_object_set_new(a, "segment_table_length", json_integer(b->segtab_len));
	json_object_set_new(a, "local_data_length", json_integer(b->local_len));
	json_object_set_new(a, "checksum", json_integer(b->checksum));
	return c;
}

static void add_plcopen(const char *prefix, const struct plc_doc *d,
			struct pg_complist *out)
{
	for (size_t i = 0; i < d->n_items; i++) {
		const struct plc_item *it = &d->items[i];
		const char *kind = plcopen_kind_name(it->kind);
		char *name = xasprintf("%s#%s/%s", prefix, kind, it->name);
		struct pg_component *c = pg_complist_add(out, name, pg_kind_intern(kind));
		free(name);
		if (!c->kind)
			c->kind = "pou";
		c->has_fp = 1;
		memcpy(c->fp, it->fp, 32);
		c->fp_alg = "plcguard-plcopen-v1";
		ann_str(c, "item", it->name);
		if (it->pou_type)
			ann_str(c, "pou_type", it->pou_type);
		if (it->language)
			ann_str(c, "language", it->language);
		if (it->line)
			json_object_set_new(ann_of(c), "line", json_integer((json_int_t)it->line));
	}
}

struct zip_ctx {
	const char *prefix;
	int depth;
	struct pg_complist *out;
	struct pg_scan_msg **msgs;
	size_t *n_msgs;
	size_t n_entries;
};

static int zip_entry(void *vctx, const struct zip_entry_info *info,
		     const uint8_t *data, size_t len)
{
	struct zip_ctx *z = vctx;
	if (info->flags & ZIPE_DIR)
		return 0; /* directories carry no content; their files do */
	char *ename = pg_name_escape(info->name, strlen(info->name));
	char *name = xasprintf("%s!%s", z->prefix, ename);
	free(ename);
	if (info->flags & ZIPE_DUPLICATE) {
		char *dup = xasprintf("%s~%llu", name, (unsigned long long)info->index);
		free(name);
		name = dup;
	}
	struct pg_component *c = pg_complist_add(z->out, name, "zip-entry");
	z->n_entries++;
	c->size = info->size;
	json_t *a = ann_of(c);
	if (strcmp(info->name, info->raw_name) != 0)
	{
		char *raw = pg_name_escape(info->raw_name, strlen(info->raw_name));
		json_object_set_new(a, "raw_name", json_string(raw));
		free(raw);
	}
	json_object_set_new(a, "method", json_integer(info->method));
	if (info->flags & ZIPE_UNSAFE_NAME) {
		json_object_set_new(a, "unsafe_name", json_true());
		add_msg(z->msgs, z->n_msgs, 0, "%s: archive entry name escapes the archive (absolute or '..')", name);
	}
	if (info->flags & ZIPE_DUPLICATE) {
		/* Two entries, one name (after '\\' -> '/'): which one an extractor
		 * keeps depends on the tool.  Both contents are recorded, and the
		 * repeat is a problem like any other evasion. */
		json_object_set_new(a, "duplicate", json_true());
		add_msg(z->msgs, z->n_msgs, 0, "%s: archive entry %llu at offset %llu repeats an earlier entry's name "
			"(\\ and / count as one): tools may extract either content",
			name, (unsigned long long)info->index, (unsigned long long)info->offset);
	}
	if (info->flags & ZIPE_SYMLINK)
		json_object_set_new(a, "symlink", json_true());
	if (info->flags & ZIPE_ENCRYPTED) {
		/* Content cannot be seen; the compressed bytes are not available
		 * through libzip either, so the entry is recorded by name and
		 * sizes only and flagged. */
		json_object_set_new(a, "encrypted", json_true());
		json_object_set_new(a, "compressed_size", json_integer((json_int_t)info->csize));
		add_msg(z->msgs, z->n_msgs, 0, "%s: encrypted archive entry: content cannot be verified", name);
		free(name);
		return 0;
	}
	if (info->flags & ZIPE_UNSUPPORTED) {
		json_object_set_new(a, "unsupported_method", json_true());
		add_msg(z->msgs, z->n_msgs, 0, "%s: compression method %u not supported: content cannot be verified", name, info->method);
		free(name);
		return 0;
	}
	c->has_sha = 1;
	pg_sha256(data, len, c->sha256);
	json_t *inner = json_object();
	const char *fmt = pg_scan_blob(name, data, len, z->depth + 1, z->out,
				       z->msgs, z->n_msgs, inner);
	/* pg_complist_add may have moved the array: find ours again. */
	c = &z->out->v[z->out->n - 1];
	for (size_t i = z->out->n; i-- > 0;) {
		if (strcmp(z->out->v[i].name, name) == 0) {
			c = &z->out->v[i];
			break;
		}
	}
	if (strcmp(fmt, "data") != 0)
		json_object_set_new(ann_of(c), "format", json_string(fmt));
	json_object_update(ann_of(c), inner);
	json_decref(inner);
	free(name);
	return 0;
}

/* A Schneider application image (UMAS transfer format) starts "APX". */
static int apx_candidate(const uint8_t *data, size_t len)
{
	return len >= 3 && memcmp(data, "APX", 3) == 0;
}

const char *pg_scan_blob(const char *prefix, const uint8_t *data, size_t len,
			 int depth, struct pg_complist *out,
			 struct pg_scan_msg **msgs, size_t *n_msgs, json_t *file_ann)
{
	struct pg_err e;
	char eb[400];
	pg_err_clear(&e);
	if (ziparch_sniff(data, len)) {
		if (depth >= PG_MAX_NEST) {
			add_msg(msgs, n_msgs, 0, "%s: archive nested %d deep: inner content not inspected", prefix, depth);
			json_object_set_new(file_ann, "error", json_string("archive nested too deep"));
			return "zip";
		}
		struct zip_limits lim;
		ziparch_default_limits(&lim);
		struct zip_ctx z = { prefix, depth, out, msgs, n_msgs, 0 };
		if (ziparch_walk(data, len, &lim, zip_entry, &z, &e) < 0) {
			pg_err_str(&e, eb, sizeof eb);
			add_msg(msgs, n_msgs, 0, "%s: ZIP archive: %s", prefix, eb);
			json_object_set_new(file_ann, "error", json_string(eb));
		}
		json_object_set_new(file_ann, "entries", json_integer((json_int_t)z.n_entries));
		return "zip";
	}
	if (mc7_candidate(data, len)) {
		struct mc7_block b;
		if (mc7_parse(data, len, &b, &e) < 0) {
			pg_err_str(&e, eb, sizeof eb);
			add_msg(msgs, n_msgs, 0, "%s: S7 block: %s", prefix, eb);
			json_object_set_new(file_ann, "error", json_string(eb));
			return "s7-block";
		}
		pg_scan_add_mc7(prefix, &b, out);
		char id[16];
		json_object_set_new(file_ann, "block", json_string(mc7_block_id(b.type, b.number, id, sizeof id)));
		return "s7-block";
	}
	if (apx_candidate(data, len)) {
		/* A Schneider (Unity / EcoStruxure Control Expert) application
		 * image as transferred by UMAS 0x30-0x32: matched whole, by
		 * SHA-256, against images reassembled off the wire. */
		char *name = xasprintf("%s#umas/application", prefix);
		struct pg_component *c = pg_complist_add(out, name, "umas-app");
		free(name);
		c->size = len;
		c->has_sha = 1;
		pg_sha256(data, len, c->sha256);
		return "umas-app";
	}
	if (plcopen_sniff(data, len)) {
		struct plc_doc d;
		memset(&d, 0, sizeof d);
		if (plcopen_parse(data, len, &d, &e) < 0) {
			pg_err_str(&e, eb, sizeof eb);
			add_msg(msgs, n_msgs, 0, "%s: PLCopen XML: %s", prefix, eb);
			json_object_set_new(file_ann, "error", json_string(eb));
			plcopen_free(&d);
			return "plcopen-xml";
		}
		add_plcopen(prefix, &d, out);
		char hex[PG_SHA256_HEX];
		json_object_set_new(file_ann, "logic_fp", json_string(pg_hex(d.doc_fp, 32, hex)));
		json_object_set_new(file_ann, "items", json_integer((json_int_t)d.n_items));
		if (d.product)
			json_object_set_new(file_ann, "product", json_string(d.product));
		plcopen_free(&d);
		return "plcopen-xml";
	}
	return "data";
}

/* ------------------------------------------------------------ file jobs -- */

enum job_type { JOB_FILE, JOB_LINK, JOB_SPECIAL };

struct job {
	char *rel;                 /* relative name (component name) */
	char *abs;                 /* path to open */
	enum job_type type;
	uint64_t size;             /* from lstat, for progress */
	mode_t mode;
	struct stat st;            /* from lstat: the cache key */
	int keep;                  /* a file read whole: its results may be cached */
	int reused;                /* results came from the cache */
	struct stat key;           /* identity and times of what was read */
	struct pg_complist comps;  /* results */
	struct pg_scan_msg *msgs;
	size_t n_msgs;
	uint64_t bytes;
};

/* ---------------------------------------------------------- the cache -- */

/* About 300 bytes per file with one component (a hundred thousand files:
 * 30 MB), so the key is kept compact and the lists exactly sized. */
struct ckey {
	uint64_t dev, ino, size;
	int64_t mtime_s, ctime_s;
	long mtime_ns, ctime_ns;
};

struct centry {
	char *rel;
	struct ckey key;
	uint64_t bytes;
	struct pg_complist comps;
};

struct pg_scan_cache {
	struct centry *v;          /* sorted by rel */
	size_t n;
};

struct pg_scan_cache *pg_scan_cache_new(void)
{
	return calloc(1, sizeof(struct pg_scan_cache));
}

static void centries_free(struct centry *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i].rel);
		pg_complist_free(&v[i].comps);
	}
	free(v);
}

void pg_scan_cache_clear(struct pg_scan_cache *c)
{
	if (!c)
		return;
	centries_free(c->v, c->n);
	c->v = NULL;
	c->n = 0;
}

void pg_scan_cache_free(struct pg_scan_cache *c)
{
	pg_scan_cache_clear(c);
	free(c);
}

size_t pg_scan_cache_files(const struct pg_scan_cache *c)
{
	return c ? c->n : 0;
}

static int centry_cmp(const void *a, const void *b)
{
	return strcmp(((const struct centry *)a)->rel, ((const struct centry *)b)->rel);
}

static const struct centry *cache_find(const struct pg_scan_cache *c, const char *rel)
{
	if (!c || !c->n)
		return NULL;
	struct centry k = { .rel = (char *)rel };
	return bsearch(&k, c->v, c->n, sizeof *c->v, centry_cmp);
}

/* Components copied: names duplicated, annotations shared (never changed
 * once a scan has made them).  0, or -1 out of memory (dst partly filled). */
static int complist_copy(struct pg_complist *dst, const struct pg_complist *src)
{
	for (size_t i = 0; i < src->n; i++) {
		const struct pg_component *a = &src->v[i];
		struct pg_component *b = pg_complist_add(dst, a->name, a->kind);
		if (!b)
			return -1;
		char *name = b->name;
		*b = *a;
		b->name = name;
		if (b->ann)
			json_incref(b->ann);
	}
	return 0;
}

static void ckey_of(struct ckey *k, const struct stat *st)
{
	memset(k, 0, sizeof *k);
	k->dev = (uint64_t)st->st_dev;
	k->ino = (uint64_t)st->st_ino;
	k->size = (uint64_t)st->st_size;
	k->mtime_s = (int64_t)st->st_mtim.tv_sec;
	k->mtime_ns = st->st_mtim.tv_nsec;
	k->ctime_s = (int64_t)st->st_ctim.tv_sec;
	k->ctime_ns = st->st_ctim.tv_nsec;
}

/* Exactly sized copy (pg_complist_add grows by doubling). */
static int complist_copy_exact(struct pg_complist *dst, const struct pg_complist *src)
{
	memset(dst, 0, sizeof *dst);
	if (!src->n)
		return 0;
	dst->v = calloc(src->n, sizeof *dst->v);
	if (!dst->v)
		return -1;
	dst->cap = src->n;
	for (size_t i = 0; i < src->n; i++) {
		struct pg_component *b = &dst->v[i];
		*b = src->v[i];
		b->name = strdup(src->v[i].name);
		if (!b->name) {
			b->ann = NULL;
			return -1;
		}
		dst->n++;
		if (b->ann)
			json_incref(b->ann);
	}
	return 0;
}

/* The cached results of a file whose identity and times have not moved. */
static int cache_reuse(const struct pg_scan_cache *c, struct job *j)
{
	const struct centry *e = cache_find(c, j->rel);
	struct ckey k;
	ckey_of(&k, &j->st);
	if (!e || memcmp(&e->key, &k, sizeof k) != 0)
		return 0;
	if (complist_copy(&j->comps, &e->comps) != 0) {
		pg_complist_free(&j->comps);
		return 0;
	}
	j->bytes = e->bytes;
	j->key = j->st;
	j->keep = 1;
	j->reused = 1;
	return 1;
}

struct pool {
	const struct pg_scan_cache *cache;
	struct job *jobs;
	size_t n;
	atomic_size_t next;
	atomic_size_t done;
	atomic_uint_least64_t bytes;
};

static int same_file(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino &&
	       a->st_size == b->st_size &&
	       a->st_mtim.tv_sec == b->st_mtim.tv_sec &&
	       a->st_mtim.tv_nsec == b->st_mtim.tv_nsec &&
	       a->st_ctim.tv_sec == b->st_ctim.tv_sec &&
	       a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}

/*
 * Read into dst until end of file, n bytes, or at least `enough` bytes,
 * retrying interrupted reads.  The bytes read, or -1 with errno set.
 */
static ssize_t read_fill(int fd, uint8_t *dst, size_t n, size_t enough)
{
	size_t got = 0;
	while (got < n && got < enough) {
		ssize_t r = read(fd, dst + got, n - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		if (r == 0)
			break;
		got += (size_t)r;
	}
	return (ssize_t)got;
}

static void do_file(struct job *j, uint8_t *buf, struct pg_sha256_ctx *h,
		    atomic_uint_least64_t *progress)
{
	int fd = open(j->abs, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0) {
		add_msg(&j->msgs, &j->n_msgs, 1, "%s: cannot open: %s", j->rel,
			errno == ELOOP ? "replaced by a symbolic link during the scan" : strerror(errno));
		return;
	}
	struct stat st1, st2;
	if (fstat(fd, &st1) != 0 || !S_ISREG(st1.st_mode)) {
		add_msg(&j->msgs, &j->n_msgs, 1, "%s: no longer a regular file", j->rel);
		close(fd);
		return;
	}
	uint64_t size = (uint64_t)st1.st_size, got = 0;
	if (size >= READ_CHUNK) /* a system call that pays only on big files */
		posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	uint8_t *whole = NULL;
	int failed = 0;
	/* First chunk decides whether the file is parsed or only hashed.  Reads
	 * stop at the size fstat gave (no read to see end of file): a file that
	 * grows or shrinks meanwhile moves its size or times, which the second
	 * fstat below catches. */
	ssize_t r = read_fill(fd, buf, READ_CHUNK, size < SNIFF_BYTES ? (size_t)size : SNIFF_BYTES);
	if (r < 0)
		goto read_error;
	size_t first = (size_t)r;
	int inspect = size <= PG_MAX_INSPECT_BYTES &&
		      (ziparch_sniff(buf, first) || mc7_candidate(buf, first) ||
		       plcopen_sniff(buf, first) || apx_candidate(buf, first));
	if (inspect) {
		/* One spare byte: filling it means the file grew while read. */
		size_t cap = (size_t)size + 1;
		whole = xmalloc(cap);
		if (first > size) {
			failed = 1;
		} else {
			memcpy(whole, buf, first);
			r = read_fill(fd, whole + first, cap - first, (size_t)size - first);
			if (r < 0)
				goto read_error;
			got = first + (size_t)r;
			failed = got == cap;
		}
		atomic_fetch_add(progress, got);
	} else {
		pg_sha256_update(h, buf, first);
		got = first;
		while (got < size && (r = read_fill(fd, buf, READ_CHUNK, 1)) > 0) {
			pg_sha256_update(h, buf, (size_t)r);
			got += (size_t)r;
			atomic_fetch_add(progress, (uint64_t)r);
		}
		if (r < 0)
			goto read_error;
	}
	if (fstat(fd, &st2) != 0 || !same_file(&st1, &st2) || got != size || failed) {
		add_msg(&j->msgs, &j->n_msgs, 1, "%s: changed while being hashed (size or times moved): not hashed", j->rel);
		free(whole);
		uint8_t junk[32];
		pg_sha256_final(h, junk);
		close(fd);
		return;
	}
	close(fd);
	j->bytes = got;
	j->key = st1;
	j->keep = 1;
	struct pg_component c0;
	memset(&c0, 0, sizeof c0);
	if (whole)
		pg_sha256(whole, got, c0.sha256);
	else
		pg_sha256_final(h, c0.sha256);
	json_t *ann = json_object();
	const char *fmt = whole ? pg_scan_blob(j->rel, whole, got, 0, &j->comps,
					       &j->msgs, &j->n_msgs, ann)
				: "data";
	free(whole);
	struct pg_component *c = pg_complist_add(&j->comps, j->rel, "file");
	c->size = got;
	c->has_sha = 1;
	memcpy(c->sha256, c0.sha256, 32);
	if (strcmp(fmt, "data") != 0)
		json_object_set_new(ann, "format", json_string(fmt));
	const char *fp_hex = json_string_value(json_object_get(ann, "logic_fp"));
	if (fp_hex && pg_unhex(fp_hex, c->fp, 32) == 0) {
		c->has_fp = 1;
		c->fp_alg = "plcguard-plcopen-v1";
		json_object_del(ann, "logic_fp");
	}
	if (json_object_size(ann))
		c->ann = ann;
	else
		json_decref(ann);
	return;
read_error:
	add_msg(&j->msgs, &j->n_msgs, 1, "%s: read: %s", j->rel, strerror(errno));
	if (!whole) {
		uint8_t junk[32];
		pg_sha256_final(h, junk); /* leave the reused context clean */
	}
	free(whole);
	close(fd);
}

static void do_link(struct job *j)
{
	char target[PATH_MAX];
	ssize_t n = readlink(j->abs, target, sizeof target - 1);
	if (n < 0) {
		add_msg(&j->msgs, &j->n_msgs, 1, "%s: readlink: %s", j->rel, strerror(errno));
		return;
	}
	target[n] = 0;
	struct pg_component *c = pg_complist_add(&j->comps, j->rel, "link");
	c->has_sha = 1;
	pg_sha256(target, (size_t)n, c->sha256);
	c->size = (uint64_t)n;
	char *esc = pg_name_escape(target, (size_t)n);
	c->ann = json_pack("{s:s}", "target", esc);
	free(esc);
}

static void do_special(struct job *j)
{
	const char *what = S_ISFIFO(j->mode) ? "fifo" : S_ISSOCK(j->mode) ? "socket" :
			   S_ISCHR(j->mode) ? "char-device" : S_ISBLK(j->mode) ? "block-device" : "other";
	struct pg_component *c = pg_complist_add(&j->comps, j->rel, "special");
	c->has_sha = 1;
	pg_sha256(what, strlen(what), c->sha256);
	c->ann = json_pack("{s:s}", "type", what);
}

static void *worker(void *arg)
{
	struct pool *p = arg;
	uint8_t *buf = xmalloc(READ_CHUNK);
	struct pg_sha256_ctx *h = pg_sha256_new();
	for (;;) {
		size_t i = atomic_fetch_add(&p->next, 1);
		if (i >= p->n)
			break;
		struct job *j = &p->jobs[i];
		if (j->type == JOB_FILE && p->cache && cache_reuse(p->cache, j))
			atomic_fetch_add(&p->bytes, j->bytes);
		else if (j->type == JOB_FILE)
			do_file(j, buf, h, &p->bytes);
		else if (j->type == JOB_LINK)
			do_link(j);
		else
			do_special(j);
		atomic_fetch_add(&p->done, 1);
	}
	pg_sha256_free(h);
	free(buf);
	return NULL;
}

/* ------------------------------------------------------------ the walk -- */

struct walk {
	const struct pg_scan_opts *opts;
	struct job *jobs;
	size_t n, cap;
	struct pg_scan_msg *msgs;
	size_t n_msgs;
};

static int excluded(const struct pg_scan_opts *o, const char *rel,
		    const char *base, off_t size, int is_dir)
{
	for (size_t i = 0; i < o->n_excludes; i++) {
		const char *pat = o->excludes[i];
		size_t pl = strlen(pat);
		int empty_only = pl > 6 && strcmp(pat + pl - 6, ":empty") == 0;
		char p[PG_MAX_NAME_BYTES];
		snprintf(p, sizeof p, "%.*s", (int)(empty_only ? pl - 6 : pl), pat);
		if (empty_only && (is_dir || size != 0))
			continue;
		const char *subject = strchr(p, '/') ? rel : base;
		if (fnmatch(p, subject, FNM_PERIOD) == 0)
			return 1;
	}
	return 0;
}

static void add_job(struct walk *w, const char *rel, const char *abs,
		    enum job_type t, const struct stat *st)
{
	if (w->n == w->cap) {
		w->cap = w->cap ? w->cap * 2 : 64;
		w->jobs = xrealloc(w->jobs, w->cap * sizeof *w->jobs);
	}
	struct job *j = &w->jobs[w->n++];
	memset(j, 0, sizeof *j);
	j->rel = xstrdup(rel);
	j->abs = xstrdup(abs);
	j->type = t;
	j->size = (uint64_t)st->st_size;
	j->mode = st->st_mode;
	j->st = *st;
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void walk_dir(struct walk *w, const char *abs, const char *rel, int depth)
{
	if (depth > PG_MAX_PATH_DEPTH) {
		add_msg(&w->msgs, &w->n_msgs, 1, "%s: folders nested deeper than %d: not scanned", rel, PG_MAX_PATH_DEPTH);
		return;
	}
	int fd = open(abs, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	if (!d) {
		add_msg(&w->msgs, &w->n_msgs, 1, "%s: cannot read folder: %s", *rel ? rel : abs, strerror(errno));
		if (fd >= 0)
			close(fd);
		return;
	}
	char **names = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 32;
			names = xrealloc(names, cap * sizeof *names);
		}
		names[n++] = xstrdup(de->d_name);
	}
	/* The folder stays open while its entries are looked at: fstatat from
	 * it costs no walk of the whole path per entry. */
	int dfd = dirfd(d);
	if (n > 1)
		qsort(names, n, sizeof *names, name_cmp);
	for (size_t i = 0; i < n; i++) {
		char *cabs = pg_path_join(abs, names[i]);
		char *esc = pg_name_escape(names[i], strlen(names[i]));
		char *crel = *rel ? xasprintf("%s/%s", rel, esc) : xstrdup(esc);
		free(esc);
		struct stat st;
		if (fstatat(dfd, names[i], &st, AT_SYMLINK_NOFOLLOW) != 0) {
			add_msg(&w->msgs, &w->n_msgs, 1, "%s: %s", crel, strerror(errno));
		} else if (excluded(w->opts, crel, names[i], st.st_size, S_ISDIR(st.st_mode))) {
			/* lock files and the like: left out by policy */
		} else if (w->n >= PG_MAX_FILES) {
			add_msg(&w->msgs, &w->n_msgs, 1, "%s: more than %d files: rest not scanned", crel, PG_MAX_FILES);
			free(cabs);
			free(crel);
			for (size_t k = i; k < n; k++)
				free(names[k]);
			free(names);
			closedir(d);
			return;
		} else if (S_ISDIR(st.st_mode)) {
			walk_dir(w, cabs, crel, depth + 1);
		} else if (S_ISREG(st.st_mode)) {
			add_job(w, crel, cabs, JOB_FILE, &st);
		} else if (S_ISLNK(st.st_mode)) {
			add_job(w, crel, cabs, JOB_LINK, &st);
		} else {
			add_job(w, crel, cabs, JOB_SPECIAL, &st);
		}
		free(cabs);
		free(crel);
		free(names[i]);
	}
	free(names);
	closedir(d);
}

static void show_progress(struct pool *p, uint64_t total_bytes, int final)
{
	double mb = (double)atomic_load(&p->bytes) / 1e6;
	fprintf(stderr, "\rplcguard: %zu/%zu files, %.0f/%.0f MB%s",
		atomic_load(&p->done), p->n, mb, (double)total_bytes / 1e6,
		final ? "\n" : "");
	fflush(stderr);
}

static const char *folder_format(const struct pg_scan *s)
{
	int beremiz = 0, plcxml = 0, tia = 0, step7 = 0, blocks = 0, files = 0;
	for (size_t i = 0; i < s->comps.n; i++) {
		const struct pg_component *c = &s->comps.v[i];
		if (strcmp(c->kind, "file") != 0)
			continue;
		files++;
		const char *slash = strrchr(c->name, '/');
		const char *base = slash ? slash + 1 : c->name;
		const char *dot = strrchr(base, '.');
		const char *fmt = json_string_value(json_object_get(c->ann, "format"));
		if (!slash && strcmp(base, "beremiz.xml") == 0)
			beremiz = 1;
		if (fmt && strcmp(fmt, "plcopen-xml") == 0)
			plcxml = 1;
		if (fmt && strcmp(fmt, "s7-block") == 0)
			blocks++;
		if (!slash && dot && (strncmp(dot, ".ap", 3) == 0 || strncmp(dot, ".als", 4) == 0) &&
		    dot[3] >= '0' && dot[3] <= '9')
			tia = 1;
		if (!slash && dot && strcasecmp(dot, ".s7p") == 0)
			step7 = 1;
	}
	if (beremiz && plcxml)
		return "beremiz";
	if (tia)
		return "tia-portal";
	if (step7)
		return "step7";
	if (files && blocks == files)
		return "s7-blocks";
	if (plcxml)
		return "plcopen";
	return "folder";
}

int pg_scan_path(const char *path, const struct pg_scan_opts *opts,
		 struct pg_scan *out)
{
	memset(out, 0, sizeof *out);
	char *root = realpath(path, NULL);
	struct stat st;
	if (!root || stat(root, &st) != 0) {
		add_msg(&out->msgs, &out->n_msgs, 1, "%s: %s", path, strerror(errno));
		out->n_io_errors = 1;
		free(root);
		return -1;
	}
	out->root = root;
	const char *slash = strrchr(root, '/');
	const char *base = slash && slash[1] ? slash + 1 : root;
	out->project_name = pg_name_escape(base, strlen(base));
	struct walk w = { opts, NULL, 0, 0, NULL, 0 };
	if (S_ISDIR(st.st_mode)) {
		out->is_dir = 1;
		walk_dir(&w, root, "", 0);
	} else if (S_ISREG(st.st_mode)) {
		add_job(&w, out->project_name, root, JOB_FILE, &st);
	} else {
		add_msg(&out->msgs, &out->n_msgs, 1, "%s: not a file or folder", path);
		out->n_io_errors = 1;
		return -1;
	}

	struct pool p = { opts->cache, w.jobs, w.n, 0, 0, 0 };
	uint64_t total = 0;
	for (size_t i = 0; i < w.n; i++)
		total += w.jobs[i].size;
	int jobs = opts->jobs < 1 ? 1 : opts->jobs > 64 ? 64 : opts->jobs;
	if ((size_t)jobs > w.n)
		jobs = w.n ? (int)w.n : 1;
	pthread_t th[64];
	int started = 0;
	for (int i = 0; i < jobs; i++)
		if (pthread_create(&th[started], NULL, worker, &p) == 0)
			started++;
	if (!started)
		worker(&p);
	double t0 = pg_now_mono();
	int shown = 0;
	/* Poll only to draw progress; otherwise just wait for the workers. */
	while (opts->progress && started && atomic_load(&p.done) < p.n) {
		usleep(50000);
		if (opts->progress && pg_now_mono() - t0 > 1.0) {
			show_progress(&p, total, 0);
			shown = 1;
		}
	}
	for (int i = 0; i < started; i++)
		pthread_join(th[i], NULL);
	if (shown)
		show_progress(&p, total, 1);

	/* Gather in walk order: walk messages first, then per file.  The cache
	 * is made anew from this scan's files (what is gone drops out). */
	out->msgs = w.msgs;
	out->n_msgs = w.n_msgs;
	struct centry *cv = NULL;
	size_t cn = 0;
	int caching = opts->cache != NULL;
	if (caching && w.n && !(cv = calloc(w.n, sizeof *cv)))
		caching = 0;
	for (size_t i = 0; i < w.n; i++) {
		struct job *j = &w.jobs[i];
		if (j->type == JOB_FILE && !j->reused)
			out->n_hashed++;
		if (caching && j->type == JOB_FILE && j->keep && !j->n_msgs) {
			struct centry *e = &cv[cn];
			e->rel = strdup(j->rel);
			ckey_of(&e->key, &j->key);
			e->bytes = j->bytes;
			if (e->rel && complist_copy_exact(&e->comps, &j->comps) == 0) {
				cn++;
			} else {
				free(e->rel);
				pg_complist_free(&e->comps);
				memset(e, 0, sizeof *e);
			}
		}
		for (size_t k = 0; k < j->comps.n; k++) {
			struct pg_component *src = &j->comps.v[k];
			struct pg_component *dst = pg_complist_add(&out->comps, src->name, src->kind);
			free(dst->name);
			*dst = *src;
		}
		free(j->comps.v);
		for (size_t k = 0; k < j->n_msgs; k++) {
			out->msgs = xrealloc(out->msgs, (out->n_msgs + 1) * sizeof *out->msgs);
			out->msgs[out->n_msgs++] = j->msgs[k];
		}
		free(j->msgs);
		if (j->type == JOB_FILE && j->bytes)
			out->n_files++;
		out->bytes += j->bytes;
		free(j->rel);
		free(j->abs);
	}
	free(w.jobs);
	if (opts->cache) {
		pg_scan_cache_clear(opts->cache);
		if (cn)
			qsort(cv, cn, sizeof *cv, centry_cmp);
		opts->cache->v = cv;
		opts->cache->n = cn;
	}
	for (size_t i = 0; i < out->n_msgs; i++) {
		if (out->msgs[i].io)
			out->n_io_errors++;
		else
			out->n_parse_errors++;
	}
	pg_complist_sort(&out->comps);
	/* Names are keys: a second component under one name (possible only with
	 * hostile archive or XML content) is renamed deterministically. */
	for (size_t i = 1; i < out->comps.n; i++) {
		if (strcmp(out->comps.v[i].name, out->comps.v[i - 1].name) == 0) {
			char *nn = xasprintf("%s~dup%zu", out->comps.v[i].name, i);
			free(out->comps.v[i].name);
			out->comps.v[i].name = nn;
		}
	}
	pg_complist_sort(&out->comps);
	if (out->is_dir) {
		out->format = xstrdup(folder_format(out));
		if (strcmp(out->format, "step7") == 0)
			pg_scan_step7(out);
	} else {
		const struct pg_component *f = pg_complist_find(&out->comps, out->project_name);
		const char *fmt = f ? json_string_value(json_object_get(f->ann, "format")) : NULL;
		out->format = xstrdup(fmt ? (strcmp(fmt, "zip") == 0 ? "zip-archive" : fmt) : "file");
	}
	return 0;
}

void pg_scan_free(struct pg_scan *s)
{
	pg_complist_free(&s->comps);
	for (size_t i = 0; i < s->n_msgs; i++)
		free(s->msgs[i].text);
	free(s->msgs);
	free(s->root);
	free(s->project_name);
	free(s->format);
	memset(s, 0, sizeof *s);
}
