/*
 * mc7.c - parse and fingerprint one S7 block in the MC7 transfer format.
 *
 * Layout (PROTOCOLS.md section 3, docs/FORMATS.md "S7 blocks (MC7)"):
 *   36-byte big-endian header, MC7 code, interface, segment table,
 *   36-byte footer; load length (header bytes 8-11) = the whole block.
 *
 * Every read of the block goes through the bounds-checked cursor; the hashes
 * are computed over spans that the cursor handed out.  Nothing is written to
 * *out unless the whole block checked out.
 */
#include "mc7.h"

#include <stdio.h>
#include <string.h>

#include "cursor.h"
#include "digest.h"
#include "pg_limits.h"

#define MC7_MAGIC       0x7070u
#define MC7_MIN_BLOCK   (PG_MC7_HEADER + PG_MC7_FOOTER)
#define MC7_CKSUM_FROM_END 10   /* checksum sits at load_len - 10 */
#define MC7_TEXT        8       /* author / family / name field width */

/* Domain-separation tag of the logic fingerprint (hashed with its NUL). */
static const char mc7_logic_tag[] = MC7_LOGIC_TAG;
#define MC7_LOGIC_PREFIX_LEN (sizeof mc7_logic_tag + 1 + 1 + 1 + 2 + 4 + 2 + 2 + 2 + 2)

static const char *const mc7_types[8] = {
	"OB", "CMod", "DB", "SDB", "FC", "SFC", "FB", "SFB",
};

const char *mc7_type_name(uint8_t type)
{
	if (type < 0x08 || type > 0x0F)
		return NULL;
	return mc7_types[type - 0x08];
}

const char *mc7_lang_name(uint8_t lang)
{
	switch (lang) {
	case 1: return "STL";
	case 2: return "LAD";
	case 3: return "FBD";
	case 4: return "SCL";
	case 5: return "DB";
	case 6: return "GRAPH";
	case 7: return "SDB";
	default: return "unknown";
	}
}

/*
 * Footer text: 8 bytes, NUL (or space) padded on the right.  Trailing NULs
 * and spaces are dropped; every remaining byte outside printable ASCII
 * (0x20..0x7E), including a NUL before other text, becomes '?'.
 */
static void mc7_text(struct cur *c, char dst[MC7_TEXT + 1])
{
	uint8_t raw[MC7_TEXT];
	cur_copy(c, raw, sizeof raw);
	size_t n = sizeof raw;
	while (n > 0 && (raw[n - 1] == 0 || raw[n - 1] == ' '))
		n--;
	for (size_t i = 0; i < n; i++)
		dst[i] = (raw[i] >= 0x20 && raw[i] <= 0x7E) ? (char)raw[i] : '?';
	dst[n] = '\0';
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/*
 * The fixed-size part of the logic fingerprint input, 39 bytes:
 *   "plcguard-mc7-logic-v1" NUL, version, language, type, number (BE16),
 *   security (BE32), code_len, iface_len, segtab_len, local_len (BE16 each).
 * The body (bytes 36 .. load_len-36) follows it in the hash.
 */
static void mc7_logic_prefix(const struct mc7_block *b,
			     uint8_t out[MC7_LOGIC_PREFIX_LEN])
{
	uint8_t *p = out;
	memcpy(p, mc7_logic_tag, sizeof mc7_logic_tag); /* with its NUL */
	p += sizeof mc7_logic_tag;
	*p++ = b->version;
	*p++ = b->lang;
	*p++ = b->type;
	put16(p, b->number);      p += 2;
	put32(p, b->security);    p += 4;
	put16(p, b->code_len);    p += 2;
	put16(p, b->iface_len);   p += 2;
	put16(p, b->segtab_len);  p += 2;
	put16(p, b->local_len);
}

int mc7_parse(const uint8_t *buf, size_t len, struct mc7_block *out,
	      struct pg_err *err)
{
	pg_err_clear(err);
	if (out)
		memset(out, 0, sizeof *out);
	if (!out)
		return pg_err_set(err, PG_NO_OFFSET, "", "no output structure");
	if (!buf && len)
		return pg_err_set(err, 0, "", "no input buffer");
	/* A cursor over NULL would do NULL + 0 when it latches an error. */
	static const uint8_t empty[1] = { 0 };
	if (!buf)
		buf = empty;

	struct mc7_block b;
	memset(&b, 0, sizeof b);
	struct cur c = cur_init(buf, len);

	/* ---- header, 36 bytes ---- */
	uint16_t magic = cur_u16be(&c);
	if (c.err)
		return pg_err_set(err, c.err_off, "magic",
				  "%zu bytes is too short for an MC7 block "
				  "(36-byte header + 36-byte footer)", len);
	if (magic != MC7_MAGIC)
		return pg_err_set(err, 0, "magic",
				  "expected 70 70 (\"pp\"), found %02x %02x",
				  magic >> 8, magic & 0xFF);
	if (cur_left(&c) < PG_MC7_HEADER - 2)
		return pg_err_set(err, len, "header",
				  "block ends at offset %zu, inside the 36-byte "
				  "header", len);
	b.version = cur_u8(&c);
	b.attrs = cur_u8(&c);
	b.lang = cur_u8(&c);
	b.type = cur_u8(&c);
	b.number = cur_u16be(&c);
	b.load_len = cur_u32be(&c);
	b.security = cur_u32be(&c);
	cur_copy(&c, b.code_ts, sizeof b.code_ts);
	cur_copy(&c, b.iface_ts, sizeof b.iface_ts);
	b.iface_len = cur_u16be(&c);
	b.segtab_len = cur_u16be(&c);
	b.local_len = cur_u16be(&c);
	b.code_len = cur_u16be(&c);
	if (c.err) /* cannot happen: length checked above */
		return pg_err_set(err, c.err_off, "header", "short header read");

	if (!mc7_type_name(b.type))
		return pg_err_set(err, 5, "type",
				  "unknown block type 0x%02x (expected 0x08 OB "
				  "to 0x0F SFB)", b.type);
	if (len > PG_MC7_MAX_BLOCK)
		return pg_err_set(err, 8, "load_len",
				  "block of %zu bytes is over the %u-byte limit",
				  len, (unsigned)PG_MC7_MAX_BLOCK);
	if (b.load_len != len)
		return pg_err_set(err, 8, "load_len",
				  "header says %lu bytes but the block is %zu",
				  (unsigned long)b.load_len, len);
	if (len < MC7_MIN_BLOCK)
		return pg_err_set(err, 8, "load_len",
				  "block of %zu bytes is shorter than header "
				  "plus footer (%u)", len, (unsigned)MC7_MIN_BLOCK);

	/*
	 * Identity: 36 + code + interface + segment table + 36 = load length.
	 * Sections follow each other in file order; the error names the first
	 * section that runs into the footer, or load_len when the sections stop
	 * short of it.  The message always spells out the whole sum.
	 */
	size_t foot = len - PG_MC7_FOOTER;
	size_t sum = PG_MC7_HEADER + (size_t)b.code_len + b.iface_len +
		     b.segtab_len + PG_MC7_FOOTER;
	size_t code_end = PG_MC7_HEADER + (size_t)b.code_len;
	size_t iface_end = code_end + b.iface_len;
	size_t seg_end = iface_end + b.segtab_len;
#define MC7_SUM_FMT "36 + code %u + interface %u + segment table %u + 36 = %zu, " \
		    "load length %zu"
#define MC7_SUM_ARGS b.code_len, b.iface_len, b.segtab_len, sum, len
	if (code_end > foot)
		return pg_err_set(err, 34, "code_len",
				  "MC7 code from offset 36 runs past the footer "
				  "at offset %zu (" MC7_SUM_FMT ")", foot,
				  MC7_SUM_ARGS);
	if (iface_end > foot)
		return pg_err_set(err, 28, "iface_len",
				  "interface from offset %zu runs past the footer "
				  "at offset %zu (" MC7_SUM_FMT ")", code_end,
				  foot, MC7_SUM_ARGS);
	if (seg_end > foot)
		return pg_err_set(err, 30, "segtab_len",
				  "segment table from offset %zu runs past the "
				  "footer at offset %zu (" MC7_SUM_FMT ")",
				  iface_end, foot, MC7_SUM_ARGS);
	if (seg_end != foot)
		return pg_err_set(err, 8, "load_len",
				  "%zu bytes between the sections and the footer "
				  "are not accounted for (" MC7_SUM_FMT ")",
				  foot - seg_end, MC7_SUM_ARGS);
#undef MC7_SUM_FMT
#undef MC7_SUM_ARGS

	/* ---- sections and footer ---- */
	const uint8_t *code = cur_bytes(&c, b.code_len);
	const uint8_t *iface = cur_bytes(&c, b.iface_len);
	const uint8_t *segtab = cur_bytes(&c, b.segtab_len);
	mc7_text(&c, b.author);
	mc7_text(&c, b.family);
	mc7_text(&c, b.name);
	b.hdr_version = cur_u8(&c);
	cur_skip(&c, 1);                   /* unknown */
	b.checksum = cur_u16be(&c);
	cur_skip(&c, 8);                   /* reserved */
	if (c.err || cur_left(&c) != 0)    /* cannot happen: lengths checked */
		return pg_err_set(err, c.err ? c.err_off : cur_off(&c), "footer",
				  "section walk does not end at the block end");
	b.know_how = b.security == 3;

	/* ---- hashes, over spans handed out by fresh cursors ---- */
	struct cur w = cur_init(buf, len);
	const uint8_t *all = cur_bytes(&w, len);

	struct cur s = cur_init(buf, len);
	const uint8_t *before = cur_bytes(&s, len - MC7_CKSUM_FROM_END);
	cur_skip(&s, 2);
	const uint8_t *after = cur_bytes(&s, MC7_CKSUM_FROM_END - 2);

	struct cur l = cur_init(buf, len);
	cur_skip(&l, PG_MC7_HEADER);
	const uint8_t *body = cur_bytes(&l, len - PG_MC7_HEADER - PG_MC7_FOOTER);

	if (!all || !before || !after || !body || w.err || s.err || l.err ||
	    (!code && b.code_len) || (!iface && b.iface_len) ||
	    (!segtab && b.segtab_len))
		return pg_err_set(err, PG_NO_OFFSET, "", "internal: span lost");

	static const uint8_t zero2[2] = { 0, 0 };
	struct pg_sha256_ctx *h = pg_sha256_new();
	if (!h)
		return pg_err_set(err, PG_NO_OFFSET, "", "out of memory");

	pg_sha256(all, len, b.sha256);

	pg_sha256_update(h, before, len - MC7_CKSUM_FROM_END);
	pg_sha256_update(h, zero2, sizeof zero2);
	pg_sha256_update(h, after, MC7_CKSUM_FROM_END - 2);
	pg_sha256_final(h, b.strict);

	pg_sha256_update(h, code ? code : zero2, b.code_len);
	pg_sha256_final(h, b.code_sha);
	pg_sha256_update(h, iface ? iface : zero2, b.iface_len);
	pg_sha256_final(h, b.iface_sha);
	pg_sha256_update(h, segtab ? segtab : zero2, b.segtab_len);
	pg_sha256_final(h, b.segtab_sha);

	/* Logic fingerprint: see mc7_logic_prefix() and docs/FORMATS.md. */
	uint8_t pre[MC7_LOGIC_PREFIX_LEN];
	mc7_logic_prefix(&b, pre);
	pg_sha256_update(h, pre, sizeof pre);
	pg_sha256_update(h, body, len - PG_MC7_HEADER - PG_MC7_FOOTER);
	pg_sha256_final(h, b.logic_fp);
	pg_sha256_free(h);

	*out = b;
	return 0;
}

int mc7_sniff(const uint8_t *buf, size_t len)
{
	if (!buf || len < MC7_MIN_BLOCK || len > PG_MC7_MAX_BLOCK)
		return 0;
	struct cur c = cur_init(buf, len);
	uint16_t magic = cur_u16be(&c);
	cur_skip(&c, 6);
	uint32_t load_len = cur_u32be(&c);
	return !c.err && magic == MC7_MAGIC && load_len == len;
}

char *mc7_block_id(uint8_t type, uint16_t number, char *buf, size_t n)
{
	if (!buf || n == 0)
		return buf;
	const char *t = mc7_type_name(type);
	if (t)
		snprintf(buf, n, "%s%u", t, (unsigned)number);
	else
		snprintf(buf, n, "0x%02X:%u", (unsigned)type, (unsigned)number);
	return buf;
}

static int ascii_upper(int ch)
{
	return (ch >= 'a' && ch <= 'z') ? ch - 'a' + 'A' : ch;
}

/* Up to 5 decimal digits, value <= 65535; -1 if none or too many. */
static long mc7_digits(struct cur *c, size_t max)
{
	long v = 0;
	size_t n = 0;
	int ch;
	while ((ch = cur_peek(c, 0)) >= '0' && ch <= '9') {
		if (++n > max)
			return -1;
		v = v * 10 + (ch - '0');
		cur_skip(c, 1);
	}
	if (n == 0 || v > 65535)
		return -1;
	return v;
}

int mc7_parse_block_id(const char *s, uint8_t *type, uint16_t *number)
{
	if (!s)
		return -1;
	struct cur c = cur_init((const uint8_t *)s, strnlen(s, 64));
	char letters[5] = { 0 };
	size_t nl = 0;
	int ch;
	while ((ch = cur_peek(&c, 0)) >= 0 &&
	       ((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z'))) {
		if (nl >= sizeof letters - 1)
			return -1;
		letters[nl++] = (char)ascii_upper(ch);
		cur_skip(&c, 1);
	}
	letters[nl] = '\0';
	uint8_t t = 0;
	for (uint8_t i = 0x08; i <= 0x0F; i++) {
		const char *name = mc7_type_name(i);
		size_t k = strlen(name);
		if (k != nl)
			continue;
		size_t j = 0;
		while (j < k && ascii_upper((unsigned char)name[j]) == letters[j])
			j++;
		if (j == k) {
			t = i;
			break;
		}
	}
	if (!t)
		return -1;
	while (cur_peek(&c, 0) == ' ')
		cur_skip(&c, 1);
	long v = mc7_digits(&c, 5);
	if (v < 0 || cur_left(&c) != 0)
		return -1;
	if (type)
		*type = t;
	if (number)
		*number = (uint16_t)v;
	return 0;
}

static int hexdigit(int ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	ch = ascii_upper(ch);
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

int mc7_parse_filename(const char *fn, size_t n, uint8_t *type,
		       uint16_t *number, char *fs)
{
	if (!fn || n != 9)
		return -1;
	struct cur c = cur_init((const uint8_t *)fn, n);
	int kind = cur_u8(&c);
	if (kind != '_' && kind != '$')
		return -1;
	int hi = hexdigit(cur_u8(&c));
	int lo = hexdigit(cur_u8(&c));
	if (hi < 0 || lo < 0)
		return -1;
	uint8_t t = (uint8_t)(hi << 4 | lo);
	if (!mc7_type_name(t))
		return -1;
	struct cur d = cur_sub(&c, 5);
	long v = mc7_digits(&d, 5);
	if (v < 0 || cur_left(&d) != 0)
		return -1;
	int f = cur_u8(&c);
	if (c.err || (f != 'P' && f != 'A' && f != 'B'))
		return -1;
	if (type)
		*type = t;
	if (number)
		*number = (uint16_t)v;
	if (fs)
		*fs = (char)f;
	return 0;
}
