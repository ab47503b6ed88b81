/*
 * ziparch.c - walk a ZIP archive held in memory, under hard limits.
 *
 * libzip (1.7.3 on Debian 12) does the inflating; this file adds what an
 * integrity tool needs on top of it:
 *
 *  - the layout is read and checked first by ziplayout.c, through the
 *    bounds-checked cursor: every local header against its central record,
 *    every byte before the central directory claimed by exactly one entry.
 *    libzip's own ZIP_CHECKCONS is NOT used: it compares extra fields and
 *    version numbers too, so it refuses every archive TIA Portal writes
 *    (Zip64 extras in the local headers only, version 45 local / 20 central),
 *    while letting us report nothing finer than "inconsistent".  libzip then
 *    opens the same bytes without ZIP_CHECKCONS; ziplayout made sure it can
 *    only find the one end record we checked, and each entry libzip reports
 *    is compared with our central record (a "cannot happen" check).
 *  - names come from our central records: libzip 1.7.3 silently turns a NUL
 *    inside a name into a space, which we report as ZIPE_BAD_NAME; repeated
 *    names after '\\' -> '/' are flagged ZIPE_DUPLICATE, not refused, so the
 *    caller can record both contents and report them.
 *  - decompressed bytes are counted as they arrive; the per-entry, total and
 *    ratio limits are judged on those counts, never on the declared sizes, and
 *    the buffer never grows past the limit (plus one byte to see the excess).
 */
#include "ziparch.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zip.h>

#include "cursor.h"
#include "pg_limits.h"
#include "ziplayout.h"

#define CHUNK (64u << 10)           /* one zip_fread */
#define EOCD_LEN 22u
#define UNIX_S_IFMT 0170000u
#define UNIX_S_IFLNK 0120000u

void ziparch_default_limits(struct zip_limits *lim)
{
	if (!lim)
		return;
	lim->max_entries = PG_ZIP_MAX_ENTRIES;
	lim->max_total = PG_ZIP_MAX_TOTAL;
	lim->max_entry = PG_ZIP_MAX_ENTRY;
	lim->max_ratio = PG_ZIP_MAX_RATIO;
}

int ziparch_sniff(const uint8_t *buf, size_t len)
{
	struct cur c = cur_init(buf, len);
	return cur_peek_eq(&c, "PK\x03\x04", 4) || cur_peek_eq(&c, "PK\x05\x06", 4);
}

/* ---- names ------------------------------------------------------------ */

/* A printable, bounded copy of a name for messages (control bytes -> '?'). */
static const char *shown(const char *name, char *out, size_t n)
{
	size_t i = 0, o = 0;
	if (!name)
		name = "";
	while (name[i] && o + 4 < n) {
		unsigned char ch = (unsigned char)name[i++];
		out[o++] = (ch < 0x20 || ch == 0x7f) ? '?' : (char)ch;
	}
	if (name[i])
		out[o++] = '.', out[o++] = '.', out[o++] = '.';
	out[o] = '\0';
	return out;
}

/* '\\' -> '/', then drop every leading "./".  Returns a new string. */
static char *normalise(const char *in)
{
	size_t n = strlen(in);
	char *s = malloc(n + 1);
	if (!s)
		return NULL;
	for (size_t i = 0; i <= n; i++)
		s[i] = in[i] == '\\' ? '/' : in[i];
	size_t skip = 0;
	while (s[skip] == '.' && s[skip + 1] == '/')
		skip += 2;
	if (skip)
		memmove(s, s + skip, n - skip + 1);
	return s;
}

/* Leading '/', a drive letter "C:", or a ".." path element. */
static int name_unsafe(const char *s)
{
	if (s[0] == '/')
		return 1;
	if (((s[0] >= 'A' && s[0] <= 'Z') || (s[0] >= 'a' && s[0] <= 'z')) && s[1] == ':')
		return 1;
	for (const char *p = s; *p;) {
		const char *e = strchr(p, '/');
		size_t len = e ? (size_t)(e - p) : strlen(p);
		if (len == 2 && p[0] == '.' && p[1] == '.')
			return 1;
		if (!e)
			break;
		p = e + 1;
	}
	return 0;
}

/* ---- a set of names for ZIPE_DUPLICATE --------------------------------- */

struct nameset {
	char **slot;   /* open addressing; the strings are owned by the set */
	size_t mask;
};

static uint64_t fnv1a(const char *s)
{
	uint64_t h = 1469598103934665603ull;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h;
}

static int nameset_init(struct nameset *ns, uint64_t n)
{
	size_t cap = 16;
	while (cap < 2 * n)
		cap <<= 1;
	ns->slot = calloc(cap, sizeof *ns->slot);
	ns->mask = cap - 1;
	return ns->slot ? 0 : -1;
}

/* Takes ownership of s.  1 if it was already there (s is freed then). */
static int nameset_add(struct nameset *ns, char *s)
{
	size_t i = (size_t)fnv1a(s) & ns->mask;
	while (ns->slot[i]) {
		if (strcmp(ns->slot[i], s) == 0) {
			free(s);
			return 1;
		}
		i = (i + 1) & ns->mask;
	}
	ns->slot[i] = s;
	return 0;
}

static void nameset_free(struct nameset *ns)
{
	if (!ns->slot)
		return;
	for (size_t i = 0; i <= ns->mask; i++)
		free(ns->slot[i]);
	free(ns->slot);
	ns->slot = NULL;
}

/* ---- libzip helpers ---------------------------------------------------- */

static zip_t *open_mem(const uint8_t *buf, size_t len, int flags, int *code,
		       char *why, size_t whyn)
{
	zip_error_t ze;
	zip_error_init(&ze);
	zip_source_t *src = zip_source_buffer_create(buf, len, 0, &ze);
	zip_t *za = NULL;
	if (src) {
		za = zip_open_from_source(src, flags, &ze);
		if (!za)
			zip_source_free(src);
	}
	if (!za) {
		*code = zip_error_code_zip(&ze);
		snprintf(why, whyn, "%s", zip_error_strerror(&ze));
	}
	zip_error_fini(&ze);
	return za;
}

struct walk {
	const struct zip_limits *lim;
	uint64_t total;        /* bytes inflated so far, all entries */
	uint8_t *buf;          /* reused between entries */
	size_t cap;
	struct pg_err *err;
};

static int entry_err(struct walk *w, uint64_t idx, const char *name,
		     const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* "entry N" as the field; the message starts with the entry's name. */
static int entry_err(struct walk *w, uint64_t idx, const char *name, const char *fmt, ...)
{
	char nm[128], field[48], what[200];
	snprintf(field, sizeof field, "entry %" PRIu64, idx);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof what, fmt, ap);
	va_end(ap);
	return pg_err_set(w->err, PG_NO_OFFSET, field, "\"%s\": %s",
			  shown(name, nm, sizeof nm), what);
}

/*
 * Inflate entry idx into w->buf.  The buffer is grown in steps but never past
 * min(max_entry, max_total - total) + 1 bytes: one byte over the limit is how
 * we know the limit was broken.
 */
static int inflate_entry(struct walk *w, zip_t *za, uint64_t idx, const char *name,
			 const zip_stat_t *st, size_t *out_len)
{
	const struct zip_limits *lim = w->lim;
	uint64_t room = lim->max_total - w->total;
	uint64_t cap = lim->max_entry < room ? lim->max_entry : room;
	uint64_t hard = cap == UINT64_MAX ? cap : cap + 1;
	uint64_t csize = (st->valid & ZIP_STAT_COMP_SIZE) ? st->comp_size : 0;
	int have_size = (st->valid & ZIP_STAT_SIZE) != 0;
	uint64_t used = 0;

	zip_file_t *zf = zip_fopen_index(za, idx, 0);
	if (!zf)
		return entry_err(w, idx, name, "cannot open: libzip: %s", zip_strerror(za));
	for (;;) {
		uint64_t want = hard - used;
		if (want > CHUNK)
			want = CHUNK;
		if (used + want > w->cap) {
			uint64_t ncap = w->cap ? (uint64_t)w->cap * 2 : CHUNK;
			if (ncap < used + want)
				ncap = used + want;
			if (ncap > hard)
				ncap = hard;
			if (ncap > SIZE_MAX) {
				zip_fclose(zf);
				return entry_err(w, idx, name, "too large for memory");
			}
			uint8_t *nb = realloc(w->buf, (size_t)ncap);
			if (!nb) {
				zip_fclose(zf);
				return entry_err(w, idx, name, "out of memory");
			}
			w->buf = nb;
			w->cap = (size_t)ncap;
		}
		zip_int64_t n = zip_fread(zf, w->buf + used, want);
		if (n < 0) {
			zip_error_t *ze = zip_file_get_error(zf);
			int code = zip_error_code_zip(ze);
			char why[128];
			snprintf(why, sizeof why, "%s", zip_error_strerror(ze));
			zip_fclose(zf);
			if (code == ZIP_ER_INCONS && have_size && used != st->size)
				return entry_err(w, idx, name, "inflated %" PRIu64
						 " bytes but the archive declares %" PRIu64,
						 used, (uint64_t)st->size);
			if (code == ZIP_ER_CRC)
				return entry_err(w, idx, name, "CRC mismatch after %" PRIu64
						 " bytes (libzip: %s)", used, why);
			return entry_err(w, idx, name, "read failed after %" PRIu64
					 " bytes: libzip: %s", used, why);
		}
		if (n == 0)
			break;
		used += (uint64_t)n;
		if (used > lim->max_entry) {
			zip_fclose(zf);
			return entry_err(w, idx, name, "inflates past the per-entry limit of %"
					 PRIu64 " bytes", lim->max_entry);
		}
		if (used > room) {
			zip_fclose(zf);
			return entry_err(w, idx, name, "inflating it passes the total limit of %"
					 PRIu64 " bytes", lim->max_total);
		}
		if (used > PG_ZIP_RATIO_FLOOR &&
		    (csize == 0 || csize <= UINT64_MAX / lim->max_ratio) &&
		    used > lim->max_ratio * csize) {
			zip_fclose(zf);
			return entry_err(w, idx, name, "decompression bomb: ratio %" PRIu64
					 ":1 exceeds limit %" PRIu64,
					 used / (csize ? csize : 1), lim->max_ratio);
		}
		if (have_size && used > st->size) {
			zip_fclose(zf);
			return entry_err(w, idx, name, "inflates to more than the %" PRIu64
					 " bytes the archive declares", (uint64_t)st->size);
		}
	}
	zip_fclose(zf);
	if (have_size && used != st->size)
		return entry_err(w, idx, name, "inflated %" PRIu64
				 " bytes but the archive declares %" PRIu64, used, (uint64_t)st->size);
	w->total += used;
	*out_len = (size_t)used;
	return 0;
}

/* ---- the walk ---------------------------------------------------------- */

int ziparch_walk(const uint8_t *buf, size_t len, const struct zip_limits *limp,
		 zip_entry_cb cb, void *ctx, struct pg_err *err)
{
	struct zip_limits lim;
	ziparch_default_limits(&lim);
	if (limp) {
		if (limp->max_entries)
			lim.max_entries = limp->max_entries;
		if (limp->max_total)
			lim.max_total = limp->max_total;
		if (limp->max_entry)
			lim.max_entry = limp->max_entry;
		if (limp->max_ratio)
			lim.max_ratio = limp->max_ratio;
	}
	pg_err_clear(err);
	if (!buf || len < EOCD_LEN)
		return pg_err_set(err, 0, "zip", "too short for a ZIP archive (%zu bytes)",
				  buf ? len : 0);

	struct zip_layout lay;
	if (ziplayout_read(buf, len, lim.max_entries, &lay, err) < 0)
		return -1;

	int code = 0;
	char why[128];
	zip_t *za = open_mem(buf, len, ZIP_RDONLY, &code, why, sizeof why);
	if (!za) {
		ziplayout_free(&lay);
		return pg_err_set(err, PG_NO_OFFSET, "zip", "cannot open ZIP archive: libzip: %s", why);
	}

	zip_int64_t sn = zip_get_num_entries(za, 0);
	uint64_t n = lay.n;
	int rc = 0;
	struct walk w = { &lim, 0, NULL, 0, err };
	struct nameset ns = { NULL, 0 };
	char *rawcopy = NULL, *norm = NULL;
	if (sn < 0 || (uint64_t)sn != n) {
		/* cannot happen: ziplayout left libzip one end record to find */
		rc = pg_err_set(err, lay.eocd_off, "eocd",
				"libzip reads %" PRId64 " entries where the central directory lists %" PRIu64
				" (internal check, ziparch.c:%d)", (int64_t)sn, n, __LINE__);
		goto out;
	}
	if (nameset_init(&ns, n) < 0) {
		rc = pg_err_set(err, PG_NO_OFFSET, "zip", "out of memory for %" PRIu64 " entries", n);
		goto out;
	}

	for (uint64_t i = 0; i < n; i++) {
		const struct zl_entry *ze = &lay.v[i];
		struct zip_entry_info info;
		memset(&info, 0, sizeof info);
		info.index = i;
		info.offset = ze->lh_off;

		/* stored bytes; a NUL in them ends the C string early */
		rawcopy = malloc(ze->name_len + 1);
		if (!rawcopy) {
			rc = pg_err_set(err, PG_NO_OFFSET, "zip", "out of memory");
			goto out;
		}
		if (ze->name_len)
			memcpy(rawcopy, ze->name, ze->name_len);
		rawcopy[ze->name_len] = '\0';
		if (ze->name_len == 0 || memchr(ze->name, 0, ze->name_len))
			info.flags |= ZIPE_BAD_NAME;

		/* libzip's reading: CP437 -> UTF-8 guessed, Info-ZIP Unicode path */
		const char *guess = zip_get_name(za, i, ZIP_FL_ENC_GUESS);
		if (!guess) {
			rc = pg_err_set(err, PG_NO_OFFSET, "zip", "entry %" PRIu64 ": no name: libzip: %s",
					i, zip_strerror(za));
			goto out;
		}
		norm = normalise(guess);
		if (!norm) {
			rc = pg_err_set(err, PG_NO_OFFSET, "zip", "out of memory");
			goto out;
		}
		size_t nl = strlen(norm);
		if (nl == 0)
			info.flags |= ZIPE_BAD_NAME;
		if (nl && norm[nl - 1] == '/')
			info.flags |= ZIPE_DIR;
		if (name_unsafe(norm))
			info.flags |= ZIPE_UNSAFE_NAME;

		zip_stat_t st;
		zip_stat_init(&st);
		if (zip_stat_index(za, i, 0, &st) < 0) {
			rc = entry_err(&w, i, norm, "stat failed: libzip: %s", zip_strerror(za));
			goto out;
		}
		if (((st.valid & ZIP_STAT_COMP_SIZE) && st.comp_size != ze->csize) ||
		    ((st.valid & ZIP_STAT_SIZE) && st.size != ze->usize) ||
		    ((st.valid & ZIP_STAT_CRC) && st.crc != ze->crc)) {
			/* cannot happen: libzip read the directory we checked */
			rc = entry_err(&w, i, norm, "libzip reads sizes or CRC other than the central record's"
				       " at offset %zu (internal check, ziparch.c:%d)", ze->cd_off, __LINE__);
			goto out;
		}
		info.csize = (st.valid & ZIP_STAT_COMP_SIZE) ? st.comp_size : 0;
		info.method = (st.valid & ZIP_STAT_COMP_METHOD) ? st.comp_method : 0;
		if ((st.valid & ZIP_STAT_ENCRYPTION_METHOD) && st.encryption_method != ZIP_EM_NONE)
			info.flags |= ZIPE_ENCRYPTED;
		if (!zip_compression_method_supported((zip_int32_t)info.method, 0))
			info.flags |= ZIPE_UNSUPPORTED;

		zip_uint8_t opsys = 0;
		zip_uint32_t attr = 0;
		if (zip_file_get_external_attributes(za, i, 0, &opsys, &attr) == 0 &&
		    opsys == ZIP_OPSYS_UNIX && ((attr >> 16) & UNIX_S_IFMT) == UNIX_S_IFLNK)
			info.flags |= ZIPE_SYMLINK;

		/* the set keeps its own copy; norm stays ours for the callback */
		char *key = malloc(nl + 1);
		if (!key) {
			rc = pg_err_set(err, PG_NO_OFFSET, "zip", "out of memory");
			goto out;
		}
		memcpy(key, norm, nl + 1);
		if (nameset_add(&ns, key))
			info.flags |= ZIPE_DUPLICATE;

		const uint8_t *data = NULL;
		size_t dlen = 0;
		if (!(info.flags & (ZIPE_ENCRYPTED | ZIPE_UNSUPPORTED))) {
			if (inflate_entry(&w, za, i, norm, &st, &dlen) < 0) {
				rc = -1;
				goto out;
			}
			if (dlen) {
				data = w.buf;
				if (info.flags & ZIPE_DIR)
					info.flags |= ZIPE_DIR_DATA;
			}
		}
		info.size = dlen;
		info.name = norm;
		info.raw_name = rawcopy;
		rc = cb ? cb(ctx, &info, data, dlen) : 0;
		free(norm);
		free(rawcopy);
		norm = rawcopy = NULL;
		if (rc)
			goto out;
	}
out:
	free(norm);
	free(rawcopy);
	ziplayout_free(&lay);
	free(w.buf);
	nameset_free(&ns);
	zip_discard(za);
	return rc;
}
