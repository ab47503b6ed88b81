/*
 * mksamples.c - the generator of plcguard's own samples (samples/projects).
 *
 * Everything the demo and the tests run on comes from here, deterministic
 * byte for byte, so the samples can be regenerated and compared:
 *   pump_station/          a Beremiz-style project folder: plc.xml (PLCopen
 *                          TC6 XML), beremiz.xml, a lock file that the
 *                          default exclusions leave out
 *   s7_blocks/             MC7 blocks as downloaded to an S7-300/400:
 *                          OB1 (STL), FC10 (LAD), FB20 (SCL), DB1 (DB)
 *   line3.zap16            a ZIP archive in TIA Portal V16's exact layout
 *                          (samples/gen/tiazip.h: Zip64 extras in the local
 *                          headers only, version 45 local / 20 central, '\\'
 *                          separators, folder entries, deflate) holding a
 *                          PLCopen export and the blocks
 *   mixer_step7/           a SIMATIC Manager (STEP 7 V5) project folder,
 *                          "MIXER": MIXER.s7p, hrs/S7RESOFF.DBF +
 *                          hrs/linkhrs.lnk (one S7 program), the offline
 *                          block folder ombstx/offline/00000001 (BAUSTEIN and
 *                          SUBBLK dBase tables with their .DBT memos) holding
 *                          the blocks of samples/gen/step7gen.h
 *
 * usage: pg-mksamples OUTDIR
 * Variants for tests: pg-mksamples --block TYPE NUMBER CODEBYTE TS OUTFILE
 * writes one block whose code is filled with CODEBYTE and whose timestamps
 * are TS (so tests can make "logic changed" and "timestamps only" variants).
 * pg-mksamples --step7-blocks OUTDIR writes the download images of the STEP 7
 * project's blocks (OB1.mc7, ...), as step7gen.h builds them, for tests to
 * compare with what plcguard rebuilds from the tables.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "step7gen.h"
#include "tiazip.h"

struct buf {
	uint8_t *p;
	size_t n, cap;
};

static void put(struct buf *b, const void *d, size_t n)
{
	if (b->n + n > b->cap) {
		b->cap = (b->n + n) * 2;
		b->p = realloc(b->p, b->cap);
		if (!b->p) {
			perror("realloc");
			exit(1);
		}
	}
	memcpy(b->p + b->n, d, n);
	b->n += n;
}

static void put8(struct buf *b, unsigned v) { uint8_t x = (uint8_t)v; put(b, &x, 1); }
static void put16(struct buf *b, unsigned v) { put8(b, v >> 8); put8(b, v); }
static void put32(struct buf *b, uint32_t v) { put16(b, v >> 16); put16(b, v & 0xffff); }

static void put_ts(struct buf *b, uint32_t ms, uint16_t days)
{
	put32(b, ms);
	put16(b, days);
}

static void put_name8(struct buf *b, const char *s)
{
	char t[8] = { 0 };
	memcpy(t, s, strlen(s) < 8 ? strlen(s) : 8);
	put(b, t, 8);
}

/*
 * One MC7 block (PROTOCOLS.md section 3): 36-byte header, code, interface,
 * segment table, 36-byte footer.  The code bytes are a deterministic pattern
 * seeded by `seed`, so two seeds give two different programs.
 */
static struct buf make_block(unsigned type, unsigned number, unsigned lang,
			     size_t code_len, size_t iface_len, size_t seg_len,
			     unsigned seed, uint32_t ts_ms, uint16_t ts_days,
			     const char *author, const char *family, const char *name)
{
	struct buf b = { 0 };
	size_t total = 36 + code_len + iface_len + seg_len + 36;
	put8(&b, 'p');
	put8(&b, 'p');
	put8(&b, 0x01);          /* block version */
	put8(&b, 0x01);          /* attributes */
	put8(&b, lang);
	put8(&b, type);
	put16(&b, number);
	put32(&b, (uint32_t)total);
	put32(&b, 0);            /* no know-how protection */
	put_ts(&b, ts_ms, ts_days);          /* code timestamp */
	put_ts(&b, ts_ms + 1000, ts_days);   /* interface timestamp */
	put16(&b, (unsigned)iface_len);
	put16(&b, (unsigned)seg_len);
	put16(&b, 20);           /* local data */
	put16(&b, (unsigned)code_len);
	uint32_t x = seed * 2654435761u + 1;
	for (size_t i = 0; i < code_len; i++) {
		x = x * 1103515245u + 12345u;
		put8(&b, (x >> 16) & 0xff);
	}
	for (size_t i = 0; i < iface_len; i++)
		put8(&b, (unsigned)(0x10 + i % 7));
	for (size_t i = 0; i < seg_len; i++)
		put8(&b, (unsigned)(i & 1 ? 0x00 : 0x02));
	put_name8(&b, author);
	put_name8(&b, family);
	put_name8(&b, name);
	put8(&b, 0x10);          /* header version 1.0 */
	put8(&b, 0x00);
	unsigned sum = 0;
	for (size_t i = 0; i < b.n; i++)
		sum = (sum + b.p[i]) & 0xffff;
	put16(&b, sum);          /* checksum at total - 10 */
	for (int i = 0; i < 8; i++)
		put8(&b, 0);
	if (b.n != total) {
		fprintf(stderr, "internal: block size %zu != %zu\n", b.n, total);
		exit(1);
	}
	return b;
}

static void write_file(const char *dir, const char *name, const void *d, size_t n)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	FILE *f = fopen(path, "wb");
	if (!f || fwrite(d, 1, n, f) != n || fclose(f) != 0) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		exit(1);
	}
}

static void mkdir_p(const char *p)
{
	if (mkdir(p, 0755) != 0 && errno != EEXIST) {
		fprintf(stderr, "%s: %s\n", p, strerror(errno));
		exit(1);
	}
}

static const char plc_xml[] =
"<?xml version=\"1.0\" encoding=\"utf-8\"?>\n"
"<project xmlns=\"http://www.plcopen.org/xml/tc6_0201\" xmlns:xhtml=\"http://www.w3.org/1999/xhtml\">\n"
"  <fileHeader companyName=\"plcguard samples\" productName=\"Pump Station\" productVersion=\"1.4\" creationDateTime=\"2026-11-02T09:00:00\"/>\n"
"  <contentHeader name=\"pump_station\" modificationDateTime=\"2026-11-20T16:45:00\">\n"
"    <coordinateInfo>\n"
"      <fbd><scaling x=\"10\" y=\"10\"/></fbd>\n"
"      <ld><scaling x=\"10\" y=\"10\"/></ld>\n"
"      <sfc><scaling x=\"10\" y=\"10\"/></sfc>\n"
"    </coordinateInfo>\n"
"  </contentHeader>\n"
"  <types>\n"
"    <dataTypes>\n"
"      <dataType name=\"PumpState\">\n"
"        <baseType>\n"
"          <enum><values><value name=\"STOPPED\"/><value name=\"RUNNING\"/><value name=\"FAULT\"/></values></enum>\n"
"        </baseType>\n"
"      </dataType>\n"
"    </dataTypes>\n"
"    <pous>\n"
"      <pou name=\"Scale\" pouType=\"function\">\n"
"        <interface>\n"
"          <returnType><REAL/></returnType>\n"
"          <inputVars>\n"
"            <variable name=\"Raw\"><type><INT/></type></variable>\n"
"            <variable name=\"Span\"><type><REAL/></type></variable>\n"
"          </inputVars>\n"
"        </interface>\n"
"        <body>\n"
"          <ST><xhtml:p><![CDATA[Scale := INT_TO_REAL(Raw) * Span / 27648.0;]]></xhtml:p></ST>\n"
"        </body>\n"
"      </pou>\n"
"      <pou name=\"PumpControl\" pouType=\"functionBlock\">\n"
"        <interface>\n"
"          <inputVars>\n"
"            <variable name=\"Level\"><type><REAL/></type></variable>\n"
"            <variable name=\"HighLimit\"><type><REAL/></type><initialValue><simpleValue value=\"80.0\"/></initialValue></variable>\n"
"            <variable name=\"LowLimit\"><type><REAL/></type><initialValue><simpleValue value=\"20.0\"/></initialValue></variable>\n"
"          </inputVars>\n"
"          <outputVars>\n"
"            <variable name=\"Run\"><type><BOOL/></type></variable>\n"
"            <variable name=\"State\"><type><derived name=\"PumpState\"/></type></variable>\n"
"          </outputVars>\n"
"        </interface>\n"
"        <body>\n"
"          <ST><xhtml:p><![CDATA[\n"
"IF Level > HighLimit THEN\n"
"  Run := TRUE;\n"
"ELSIF Level < LowLimit THEN\n"
"  Run := FALSE;\n"
"END_IF;\n"
"IF Run THEN State := RUNNING; ELSE State := STOPPED; END_IF;\n"
"]]></xhtml:p></ST>\n"
"        </body>\n"
"        <documentation><xhtml:p><![CDATA[Starts the pump above HighLimit, stops it below LowLimit.]]></xhtml:p></documentation>\n"
"      </pou>\n"
"      <pou name=\"Main\" pouType=\"program\">\n"
"        <interface>\n"
"          <localVars>\n"
"            <variable name=\"Pump1\"><type><derived name=\"PumpControl\"/></type></variable>\n"
"            <variable name=\"LevelRaw\"><type><INT/></type></variable>\n"
"            <variable name=\"PumpOut\"><type><BOOL/></type></variable>\n"
"          </localVars>\n"
"        </interface>\n"
"        <body>\n"
"          <ST><xhtml:p><![CDATA[\n"
"Pump1(Level := Scale(LevelRaw, 100.0));\n"
"PumpOut := Pump1.Run;\n"
"]]></xhtml:p></ST>\n"
"        </body>\n"
"      </pou>\n"
"    </pous>\n"
"  </types>\n"
"  <instances>\n"
"    <configurations>\n"
"      <configuration name=\"Config0\">\n"
"        <resource name=\"Res0\">\n"
"          <task name=\"MainTask\" priority=\"0\" interval=\"T#20ms\">\n"
"            <pouInstance name=\"MainInstance\" typeName=\"Main\"/>\n"
"          </task>\n"
"        </resource>\n"
"      </configuration>\n"
"    </configurations>\n"
"  </instances>\n"
"</project>\n";

static const char beremiz_xml[] =
"<?xml version='1.0' encoding='utf-8'?>\n"
"<!-- plcguard sample project (generated by samples/gen/mksamples.c) -->\n"
"<BeremizRoot xmlns:xsd=\"http://www.w3.org/2001/XMLSchema\" URI_location=\"LOCAL://\">\n"
"  <TargetType><Linux/></TargetType>\n"
"</BeremizRoot>\n";

struct blk {
	const char *file;
	unsigned type, number, lang;
	size_t code, iface, seg;
	unsigned seed;
	const char *name;
};

static const struct blk blocks[] = {
	{ "OB1.mc7", 0x08, 1, 1, 96, 24, 8, 1, "CYCLE" },
	{ "FC10.mc7", 0x0C, 10, 2, 64, 16, 8, 10, "SCALE" },
	{ "FB20.mc7", 0x0E, 20, 4, 128, 40, 12, 20, "PUMPCTL" },
	{ "DB1.mc7", 0x0A, 1, 5, 32, 32, 0, 101, "PUMPDATA" },
};

/* ------------------------------------------------------------------------
 * The STEP 7 V5 project "MIXER" (mixer_step7/): PROTOCOLS.md section 7.
 * Field lists (names, types, lengths, order) are those of the tables
 * SIMATIC Manager writes; the rows hold the blocks of step7gen.h.
 * ------------------------------------------------------------------------ */

static void put16le(struct buf *b, unsigned v) { put8(b, v); put8(b, v >> 8); }
static void put32le(struct buf *b, uint32_t v) { put16le(b, v & 0xffff); put16le(b, v >> 16); }
static void put_zero(struct buf *b, size_t n) { while (n--) put8(b, 0); }

struct dbf_fd {
	const char *name;
	char type;           /* N, C or M */
	unsigned len;
};

/* A dBase III table being written, one record at a time. */
struct dbf_w {
	const struct dbf_fd *f;
	size_t nf;
	unsigned rec_len;
	uint8_t *rec;        /* the record being filled */
	struct buf rows;
	unsigned nrec;
};

static void dbf_begin(struct dbf_w *t, const struct dbf_fd *f, size_t nf)
{
	memset(t, 0, sizeof *t);
	t->f = f;
	t->nf = nf;
	t->rec_len = 1;
	for (size_t i = 0; i < nf; i++)
		t->rec_len += f[i].len;
	t->rec = malloc(t->rec_len);
	if (!t->rec) {
		perror("malloc");
		exit(1);
	}
}

/* A new record: every field blank (spaces), deleted ('*') or not (' '). */
static void dbf_row(struct dbf_w *t, int deleted)
{
	memset(t->rec, ' ', t->rec_len);
	t->rec[0] = deleted ? '*' : ' ';
}

static uint8_t *dbf_slot(struct dbf_w *t, const char *name, char type, unsigned *len)
{
	unsigned off = 1;
	for (size_t i = 0; i < t->nf; i++) {
		if (strcmp(t->f[i].name, name) == 0) {
			if (t->f[i].type != type) {
				fprintf(stderr, "internal: field %s is %c, not %c\n", name,
					t->f[i].type, type);
				exit(1);
			}
			*len = t->f[i].len;
			return t->rec + off;
		}
		off += t->f[i].len;
	}
	fprintf(stderr, "internal: no field %s\n", name);
	exit(1);
}

/* N (or M) field: the number right-aligned in spaces. */
static void dbf_fmt_num(uint8_t *p, unsigned len, long long v, const char *name)
{
	char tmp[32];
	int k = snprintf(tmp, sizeof tmp, "%lld", v);
	if (k < 0 || (unsigned)k > len) {
		fprintf(stderr, "internal: %lld does not fit field %s\n", v, name);
		exit(1);
	}
	memcpy(p + len - (unsigned)k, tmp, (size_t)k);
}

static void dbf_n(struct dbf_w *t, const char *name, long long v)
{
	unsigned len;
	uint8_t *p = dbf_slot(t, name, 'N', &len);
	dbf_fmt_num(p, len, v, name);
}

/* C field holding text: left-aligned, space-padded. */
static void dbf_text(struct dbf_w *t, const char *name, const char *s)
{
	unsigned len;
	uint8_t *p = dbf_slot(t, name, 'C', &len);
	size_t k = strlen(s);
	if (k > len) {
		fprintf(stderr, "internal: \"%s\" does not fit field %s\n", s, name);
		exit(1);
	}
	memcpy(p, s, k);
}

/* C field holding a number as SIMATIC Manager writes TYP, BLKLANG, ...: 5 digits, zero-padded. */
static void dbf_digits(struct dbf_w *t, const char *name, unsigned v)
{
	unsigned len;
	uint8_t *p = dbf_slot(t, name, 'C', &len);
	char tmp[16];
	snprintf(tmp, sizeof tmp, "%0*u", (int)len, v);
	memcpy(p, tmp, len);
}

/* C field holding binary bytes (timestamps, NUL-padded names): exactly its length. */
static void dbf_bin(struct dbf_w *t, const char *name, const uint8_t *d, size_t n)
{
	unsigned len;
	uint8_t *p = dbf_slot(t, name, 'C', &len);
	if (n != len) {
		fprintf(stderr, "internal: %zu bytes for field %s of %u\n", n, name, len);
		exit(1);
	}
	memcpy(p, d, n);
}

static void dbf_name8(struct dbf_w *t, const char *name, const char *s)
{
	uint8_t b[8];
	s7g_put_name8(b, s ? s : "");
	dbf_bin(t, name, b, 8);
}

static void dbf_ts(struct dbf_w *t, const char *name, uint32_t ms, uint16_t day)
{
	uint8_t b[6];
	s7g_put_ts(b, ms, day);
	dbf_bin(t, name, b, 6);
}

/* M field: the memo's block number, blank when there is none. */
static void dbf_memo(struct dbf_w *t, const char *name, unsigned blk)
{
	unsigned len;
	uint8_t *p = dbf_slot(t, name, 'M', &len);
	if (blk)
		dbf_fmt_num(p, len, blk, name);
}

static void dbf_end_row(struct dbf_w *t)
{
	put(&t->rows, t->rec, t->rec_len);
	t->nrec++;
}

/*
 * The whole table: version 0x8B (with memo) or 0x03, date of last update,
 * record count, header and record lengths, 32-byte field descriptors, 0x0D,
 * the records, the 0x1A end-of-file byte.  No production index (.MDX) is
 * written, so header byte 28 stays 0.
 */
static struct buf dbf_finish(struct dbf_w *t, int memo)
{
	struct buf b = { 0 };
	unsigned hdr = 32 + 32 * (unsigned)t->nf + 1;
	put8(&b, memo ? 0x8B : 0x03);
	put8(&b, 2026 - 1900);
	put8(&b, 2);
	put8(&b, 18);
	put32le(&b, t->nrec);
	put16le(&b, hdr);
	put16le(&b, t->rec_len);
	put_zero(&b, 20);
	for (size_t i = 0; i < t->nf; i++) {
		char nm[11] = { 0 };
		memcpy(nm, t->f[i].name, strlen(t->f[i].name));
		put(&b, nm, 11);
		put8(&b, (unsigned)t->f[i].type);
		put_zero(&b, 4);
		put8(&b, t->f[i].len);
		put_zero(&b, 15);
	}
	put8(&b, 0x0D);
	put(&b, t->rows.p, t->rows.n);
	put8(&b, 0x1A);
	free(t->rows.p);
	free(t->rec);
	memset(t, 0, sizeof *t);
	return b;
}

/* A .DBT memo file: 512-byte blocks, block 0 the header. */
struct dbt_w {
	struct buf b;
	unsigned next;       /* next free block */
};

static void dbt_begin(struct dbt_w *m)
{
	memset(m, 0, sizeof *m);
	put_zero(&m->b, 512);
	m->next = 1;
}

/* One memo: FF FF 08 00, u32 LE length including those 8 bytes, the data,
 * zeros to the end of its last block.  Returns its first block. */
static unsigned dbt_add(struct dbt_w *m, const void *d, size_t n)
{
	unsigned blk = m->next;
	size_t start = m->b.n;
	put(&m->b, (const uint8_t[]){ 0xFF, 0xFF, 0x08, 0x00 }, 4);
	put32le(&m->b, (uint32_t)(n + 8));
	put(&m->b, d, n);
	while ((m->b.n - start) % 512)
		put8(&m->b, 0);
	m->next += (unsigned)((m->b.n - start) / 512);
	return blk;
}

/* Header: u32 LE next free block, 4 zero bytes, the table's name (8 bytes,
 * NUL-padded), 00 00 02 01, u16 LE block size 512, as in SIMATIC Manager's. */
static struct buf dbt_finish(struct dbt_w *m, const char *table)
{
	uint8_t *h = m->b.p;
	h[0] = (uint8_t)m->next;
	h[1] = (uint8_t)(m->next >> 8);
	h[2] = (uint8_t)(m->next >> 16);
	h[3] = (uint8_t)(m->next >> 24);
	memcpy(h + 8, table, strlen(table) < 8 ? strlen(table) : 8);
	h[18] = 0x02;
	h[19] = 0x01;
	h[20] = 0x00;         /* 512, LE */
	h[21] = 0x02;
	struct buf b = m->b;
	memset(m, 0, sizeof *m);
	return b;
}

static const struct dbf_fd s7resoff_fd[] = {
	{ "ID", 'N', 11 }, { "NAME", 'C', 24 }, { "CREATDATE", 'C', 6 }, { "LASTMODIF", 'C', 6 },
	{ "CREATOR", 'C', 40 }, { "COMMENT", 'C', 255 }, { "HWTYPE", 'C', 24 },
	{ "INTVERSION", 'N', 11 }, { "RSRVD1_L", 'N', 11 }, { "RSRVD2_L", 'N', 11 },
	{ "RSRVD3_L", 'N', 11 }, { "RSRVD4_L", 'N', 11 }, { "RSRVD5_L", 'N', 11 },
	{ "RSRVD6_L", 'N', 11 }, { "RSRVD7_L", 'N', 11 }, { "RSRVD8_L", 'N', 11 },
	{ "RSRVD9_C", 'C', 32 }, { "RSRVD10_C", 'C', 32 }, { "RSRVD11_C", 'C', 32 },
	{ "RSRVD12_C", 'C', 32 },
};

static const struct dbf_fd bstcntof_fd[] = {
	{ "ID", 'N', 11 }, { "NAME", 'C', 24 }, { "CRDATE", 'C', 6 }, { "LASTMOD", 'C', 6 },
	{ "CREATOR", 'C', 40 }, { "COMMENT", 'C', 254 }, { "TAG", 'N', 11 }, { "VERSION", 'N', 11 },
	{ "LINK_ID", 'N', 11 }, { "ANZFB", 'N', 11 }, { "ANZFC", 'N', 11 }, { "ANZDB", 'N', 11 },
	{ "ANZMAB", 'N', 11 }, { "ANZOB", 'N', 11 }, { "ANZSFB", 'N', 11 }, { "ANZSFC", 'N', 11 },
	{ "ANZUDT", 'N', 11 }, { "ANZVAT", 'N', 11 }, { "GESLEN", 'N', 11 }, { "LOADLEN", 'N', 11 },
};

static const struct dbf_fd baustein_fd[] = {
	{ "ID", 'N', 11 }, { "TYP", 'C', 5 }, { "NUMMER", 'C', 5 }, { "ATTRIBS", 'C', 40 },
	{ "LINKS", 'N', 11 }, { "UDA", 'M', 10 }, { "SUBBLOCKS", 'M', 10 },
};

static const struct dbf_fd subblk_fd[] = {
	{ "OBJECTID", 'N', 11 }, { "BLKLANG", 'C', 5 }, { "SUBBLKTYP", 'C', 5 },
	{ "BLKNUMBER", 'C', 5 }, { "ATTRIBUTE", 'N', 3 }, { "AGRESERVED", 'N', 3 },
	{ "BLKTOTLEN", 'N', 11 }, { "MC5LEN", 'N', 11 }, { "SSBLEN", 'N', 11 },
	{ "ADDLEN", 'N', 11 }, { "LOCDATALEN", 'N', 5 }, { "TIMESTAMP1", 'C', 6 },
	{ "TIMESTAMP2", 'C', 6 }, { "PASSWORD", 'N', 11 }, { "USERNAME", 'C', 8 },
	{ "BLOCKFNAME", 'C', 8 }, { "BLOCKNAME", 'C', 8 }, { "VERSION", 'N', 3 },
	{ "RESERVED1", 'N', 3 }, { "CHECKSUM", 'N', 5 }, { "CPUTYPE", 'N', 11 },
	{ "RESERVED2", 'N', 11 }, { "MC5CODE", 'M', 10 }, { "SSBPART", 'M', 10 },
	{ "ADDINFO", 'M', 10 },
};

#define NF(a) (sizeof a / sizeof a[0])

/*
 * The sub-blocks SIMATIC Manager keeps per block besides the downloadable
 * one (the corpus projects have these three per block type, in this order
 * around the download row): a title sub-block, the declaration source, and
 * a comment sub-block.  Our memo contents are small and our own.
 */
enum { SB_DOWNLOAD, SB_TITLE, SB_SOURCE, SB_COMMENT };

struct sb_kind {
	uint8_t type;
	int order[4];        /* the sub-blocks of this block type, table order */
	unsigned typ[4];     /* SUBBLKTYP of each (by SB_*) */
	unsigned attr[4];    /* ATTRIBUTE of each */
	unsigned ver[4];     /* VERSION of the non-download rows */
};

static const struct sb_kind sb_kinds[] = {
	{ S7G_OB, { SB_DOWNLOAD, SB_TITLE, SB_SOURCE, SB_COMMENT }, { 8, 17, 3, 67 },
	  { 1, 0, 0, 1 }, { 0, 0, 0, 1 } },
	{ S7G_FC, { SB_TITLE, SB_SOURCE, SB_DOWNLOAD, SB_COMMENT }, { 12, 19, 5, 65 },
	  { 1, 1, 1, 1 }, { 0, 1, 1, 1 } },
	{ S7G_FB, { SB_TITLE, SB_SOURCE, SB_DOWNLOAD, SB_COMMENT }, { 14, 18, 4, 64 },
	  { 1, 1, 1, 1 }, { 0, 1, 1, 1 } },
	{ S7G_DB, { SB_COMMENT, SB_SOURCE, SB_TITLE, SB_DOWNLOAD }, { 10, 20, 6, 66 },
	  { 1, 0, 0, 1 }, { 0, 0, 0, 1 } },
};

static const struct sb_kind *sb_kind_of(uint8_t type)
{
	for (size_t i = 0; i < NF(sb_kinds); i++)
		if (sb_kinds[i].type == type)
			return &sb_kinds[i];
	fprintf(stderr, "internal: no sub-block kinds for type 0x%02x\n", type);
	exit(1);
}

/* The common part of a SUBBLK row. */
static void sub_row(struct dbf_w *t, unsigned objid, const struct s7g_block *b, unsigned typ,
		    unsigned attr, unsigned mc5, unsigned ssb, unsigned add, unsigned loc)
{
	dbf_n(t, "OBJECTID", objid);
	dbf_digits(t, "BLKLANG", b->lang);
	dbf_digits(t, "SUBBLKTYP", typ);
	dbf_digits(t, "BLKNUMBER", b->number);
	dbf_n(t, "ATTRIBUTE", attr);
	dbf_n(t, "AGRESERVED", 1);
	dbf_n(t, "BLKTOTLEN", s7g_totlen(mc5, ssb, add));
	dbf_n(t, "MC5LEN", mc5);
	dbf_n(t, "SSBLEN", ssb);
	dbf_n(t, "ADDLEN", add);
	dbf_n(t, "LOCDATALEN", loc);
	dbf_n(t, "CPUTYPE", 0);
	dbf_n(t, "RESERVED1", 0);
	dbf_n(t, "RESERVED2", 0);
}

/* The row SIMATIC Manager rebuilds the download image from. */
static void sub_download(struct dbf_w *t, struct dbt_w *m, unsigned objid,
			 const struct s7g_block *b, uint32_t seed, uint32_t ms, uint16_t day,
			 int deleted)
{
	struct s7g_parts p;
	s7g_parts(b, seed, &p);
	dbf_row(t, deleted);
	sub_row(t, objid, b, b->type, b->attribute, b->mc5len, b->ssblen, b->addlen,
		b->locdatalen);
	dbf_ts(t, "TIMESTAMP1", ms, day);
	dbf_ts(t, "TIMESTAMP2", b->iface_ms, b->iface_day);
	dbf_n(t, "PASSWORD", b->password);
	dbf_name8(t, "USERNAME", b->author);
	dbf_name8(t, "BLOCKFNAME", b->family);
	dbf_name8(t, "BLOCKNAME", b->name);
	dbf_n(t, "VERSION", b->version);
	dbf_n(t, "CHECKSUM", p.checksum);
	dbf_memo(t, "MC5CODE", b->mc5len ? dbt_add(m, p.code, b->mc5len) : 0);
	dbf_memo(t, "SSBPART", b->ssblen ? dbt_add(m, p.ssb, b->ssblen) : 0);
	dbf_memo(t, "ADDINFO", b->addlen ? dbt_add(m, p.add, b->addlen) : 0);
	dbf_end_row(t);
	s7g_parts_free(&p);
}

/* A sub-block that is never downloaded: title, source or comment. */
static void sub_other(struct dbf_w *t, struct dbt_w *m, unsigned objid, const struct s7g_block *b,
		      const struct sb_kind *k, int which)
{
	struct buf mc5 = { 0 }, ssb = { 0 }, add = { 0 };
	unsigned loc = 0;
	uint32_t ms1 = b->code_ms, ms2 = b->iface_ms;
	uint16_t d1 = b->code_day, d2 = b->iface_day;
	switch (which) {
	case SB_TITLE: {
		/* 8 bytes of block facts; the title as 03 <len> <text> 00 00; its length */
		size_t tl = strlen(b->title);
		put16le(&mc5, b->number);
		put8(&mc5, b->type);
		put8(&mc5, b->lang);
		put_zero(&mc5, 4);
		put8(&ssb, 0x03);
		put8(&ssb, (unsigned)tl);
		put(&ssb, b->title, tl);
		put_zero(&ssb, 2);
		put16le(&add, 1);
		put16le(&add, (unsigned)tl);
		put_zero(&add, 2);
		ms2 = ms1;
		d2 = d1;
		break;
	}
	case SB_SOURCE: {
		/* the declaration text; F7 FC F7 FC and the two timestamps */
		put(&mc5, b->decl, strlen(b->decl));
		uint8_t ts[6];
		put(&add, (const uint8_t[]){ 0xF7, 0xFC, 0xF7, 0xFC }, 4);
		s7g_put_ts(ts, b->code_ms, b->code_day);
		put(&add, ts, 6);
		s7g_put_ts(ts, b->iface_ms, b->iface_day);
		put(&add, ts, 6);
		put_zero(&add, 8);
		ms1 = ms2;
		d1 = d2;
		break;
	}
	case SB_COMMENT:
		/* the block comment; 01 00, the network count, 4 zero bytes */
		put(&mc5, b->comment, strlen(b->comment));
		put16le(&ssb, 1);
		put16le(&ssb, b->networks);
		put_zero(&ssb, 4);
		loc = 2;
		break;
	default:
		fprintf(stderr, "internal: sub-block %d\n", which);
		exit(1);
	}
	dbf_row(t, 0);
	sub_row(t, objid, b, k->typ[which], k->attr[which], (unsigned)mc5.n, (unsigned)ssb.n,
		(unsigned)add.n, loc);
	dbf_ts(t, "TIMESTAMP1", ms1, d1);
	dbf_ts(t, "TIMESTAMP2", ms2, d2);
	dbf_n(t, "PASSWORD", 0);
	dbf_name8(t, "USERNAME", NULL);
	dbf_name8(t, "BLOCKFNAME", NULL);
	dbf_name8(t, "BLOCKNAME", NULL);
	dbf_n(t, "VERSION", k->ver[which]);
	dbf_n(t, "CHECKSUM", 0);
	dbf_memo(t, "MC5CODE", mc5.n ? dbt_add(m, mc5.p, mc5.n) : 0);
	dbf_memo(t, "SSBPART", ssb.n ? dbt_add(m, ssb.p, ssb.n) : 0);
	dbf_memo(t, "ADDINFO", add.n ? dbt_add(m, add.p, add.n) : 0);
	dbf_end_row(t);
	free(mc5.p);
	free(ssb.p);
	free(add.p);
}

/* One BAUSTEIN row: the block object and the list of its sub-block rows. */
static void baustein_row(struct dbf_w *t, struct dbt_w *m, unsigned id, const struct s7g_block *b,
			 uint32_t code_ms, uint16_t code_day, const unsigned *typ,
			 const unsigned *row, size_t nsub, int deleted)
{
	/* ATTRIBS: author (8), 8 zero bytes, interface and code timestamps,
	 * u32 LE 3, u32 LE 1, u32 LE work-memory length (MC5LEN + 36) */
	uint8_t a[40] = { 0 };
	s7g_put_name8(a, b->author);
	s7g_put_ts(a + 16, b->iface_ms, b->iface_day);
	s7g_put_ts(a + 22, code_ms, code_day);
	a[28] = 3;
	a[32] = 1;
	a[36] = (uint8_t)(b->mc5len + 36);
	a[37] = (uint8_t)((b->mc5len + 36) >> 8);
	struct buf sb = { 0 };
	for (size_t i = 0; i < nsub; i++) {
		put32le(&sb, typ[i]);
		put32le(&sb, row[i]);
	}
	dbf_row(t, deleted);
	dbf_n(t, "ID", id);
	dbf_digits(t, "TYP", b->type);
	dbf_digits(t, "NUMMER", b->number);
	dbf_bin(t, "ATTRIBS", a, sizeof a);
	dbf_n(t, "LINKS", 0);
	dbf_memo(t, "SUBBLOCKS", dbt_add(m, sb.p, sb.n));
	dbf_memo(t, "UDA", dbt_add(m, (const uint8_t[]){ 0, 0 }, 2));
	dbf_end_row(t);
	free(sb.p);
}

static void write_buf(const char *dir, const char *name, struct buf *b)
{
	write_file(dir, name, b->p, b->n);
	free(b->p);
	memset(b, 0, sizeof *b);
}

/* The project's own GUID ({...} in MIXER.s7p, as text and as bytes). */
static const char mixer_guid[] = "{5E1D7C20-4B8A-4F3E-9D61-2A7C0B94E815}";

static void write_step7(const char *out)
{
	char root[4096], d[4096 + 64];
	snprintf(root, sizeof root, "%s/mixer_step7", out);
	mkdir_p(root);
	uint8_t ts[6];

	/* MIXER.s7p: u32 0, the name (length byte + text), 3 zero bytes, the
	 * GUID as text (length byte + 38 chars), u32 LE 3, u32 LE 0x00112001,
	 * created and modified timestamps, u32 LE 0x200, the GUID as bytes */
	struct buf s7p = { 0 };
	put32le(&s7p, 0);
	put8(&s7p, 5);
	put(&s7p, "MIXER", 5);
	put_zero(&s7p, 3);
	put8(&s7p, (unsigned)strlen(mixer_guid));
	put(&s7p, mixer_guid, strlen(mixer_guid));
	put32le(&s7p, 3);
	put32le(&s7p, 0x00112001);
	s7g_put_ts(ts, S7G_MS(8, 30, 0, 0), S7G_DAY0 + 12);
	put(&s7p, ts, 6);
	s7g_put_ts(ts, S7G_MS(17, 5, 40, 0), S7G_DAY0 + 48);
	put(&s7p, ts, 6);
	put32le(&s7p, 0x200);
	{
		unsigned long d1 = strtoul(mixer_guid + 1, NULL, 16);
		unsigned long d2 = strtoul(mixer_guid + 10, NULL, 16);
		unsigned long d3 = strtoul(mixer_guid + 15, NULL, 16);
		put32le(&s7p, (uint32_t)d1);
		put16le(&s7p, (unsigned)d2);
		put16le(&s7p, (unsigned)d3);
		const char *h = mixer_guid + 20;   /* 4 hex, '-', 12 hex */
		for (int i = 0; i < 8; i++) {
			if (*h == '-')
				h++;
			char x[3] = { h[0], h[1], 0 };
			put8(&s7p, (unsigned)strtoul(x, NULL, 16));
			h += 2;
		}
	}
	write_buf(root, "MIXER.s7p", &s7p);

	/* hrs/: one S7 program whose 512-byte record in linkhrs.lnk (record 1,
	 * offset 512 = RSRVD4_L) links it to offline block folder 1 */
	snprintf(d, sizeof d, "%s/hrs", root);
	mkdir_p(d);
	struct dbf_w t;
	dbf_begin(&t, s7resoff_fd, NF(s7resoff_fd));
	dbf_row(&t, 0);
	dbf_n(&t, "ID", 1);
	dbf_text(&t, "NAME", "S7 Program(1)");
	dbf_ts(&t, "CREATDATE", S7G_MS(8, 41, 12, 0), S7G_DAY0 + 12);
	dbf_ts(&t, "LASTMODIF", S7G_MS(8, 41, 12, 0), S7G_DAY0 + 12);
	dbf_text(&t, "HWTYPE", "S7 CPU");
	dbf_n(&t, "INTVERSION", 100);
	dbf_n(&t, "RSRVD1_L", 0);
	dbf_n(&t, "RSRVD2_L", 0);
	dbf_n(&t, "RSRVD4_L", 512);
	dbf_end_row(&t);
	struct buf tb = dbf_finish(&t, 0);
	write_buf(d, "S7RESOFF.DBF", &tb);

	/* linkhrs.lnk: record 0 "KNIL", version 1, first and last record
	 * offsets; record 1 (the program): its own offset, one link, and the
	 * link to its offline block folder: 01 60 11 00, folder id 1 (u32 LE),
	 * then 1E 00 00 00 02 00 00 00 as SIMATIC Manager writes that link.
	 * The other links a real project keeps (station, symbol table, source
	 * folder) are left out: this project has none of them. */
	struct buf lnk = { 0 };
	put(&lnk, "KNIL", 4);
	put32le(&lnk, 1);
	put32le(&lnk, 0x200);
	put32le(&lnk, 0);
	put32le(&lnk, 0x200);
	put_zero(&lnk, 512 - lnk.n);
	put32le(&lnk, 0x200);
	put32le(&lnk, 0);
	put32le(&lnk, 1);
	put_zero(&lnk, 12);
	put32le(&lnk, 0x00116001);
	put32le(&lnk, 1);
	put32le(&lnk, 0x1e);
	put32le(&lnk, 2);
	put_zero(&lnk, 1024 - lnk.n);
	write_buf(d, "linkhrs.lnk", &lnk);

	/* ombstx/offline/: the block folder 1 with its counts */
	snprintf(d, sizeof d, "%s/ombstx", root);
	mkdir_p(d);
	snprintf(d, sizeof d, "%s/ombstx/offline", root);
	mkdir_p(d);
	unsigned anz[16] = { 0 };
	unsigned long geslen = 0, loadlen = 0;
	for (size_t i = 0; i < S7G_NBLOCKS; i++) {
		const struct s7g_block *b = &s7g_blocks[i];
		anz[b->type]++;
		geslen += s7g_totlen(b->mc5len, b->ssblen, b->addlen) - 6;
		loadlen += b->mc5len + 36u;
	}
	dbf_begin(&t, bstcntof_fd, NF(bstcntof_fd));
	dbf_row(&t, 0);
	dbf_n(&t, "ID", 1);
	dbf_text(&t, "NAME", "Blocks");
	dbf_ts(&t, "CRDATE", S7G_MS(8, 41, 12, 500), S7G_DAY0 + 12);
	dbf_ts(&t, "LASTMOD", S7G_MS(16, 40, 28, 0), S7G_DAY0 + 48);
	dbf_n(&t, "TAG", 3);
	dbf_n(&t, "VERSION", 3);
	dbf_n(&t, "LINK_ID", 0);
	dbf_n(&t, "ANZFB", anz[S7G_FB]);
	dbf_n(&t, "ANZFC", anz[S7G_FC]);
	dbf_n(&t, "ANZDB", anz[S7G_DB]);
	dbf_n(&t, "ANZMAB", 0);
	dbf_n(&t, "ANZOB", anz[S7G_OB]);
	dbf_n(&t, "ANZSFB", 0);
	dbf_n(&t, "ANZSFC", 0);
	dbf_n(&t, "ANZUDT", 0);
	dbf_n(&t, "ANZVAT", 0);
	dbf_n(&t, "GESLEN", (long long)geslen);
	dbf_n(&t, "LOADLEN", (long long)loadlen);
	dbf_end_row(&t);
	tb = dbf_finish(&t, 0);
	write_buf(d, "BSTCNTOF.DBF", &tb);

	/* ombstx/offline/00000001/: BAUSTEIN (the block objects) and SUBBLK
	 * (their sub-blocks).  Objects in table order; object 3 is an older FC1
	 * that was replaced by object 4: its BAUSTEIN row and its download row
	 * are deleted ('*'), its code differs from the current FC1's. */
	snprintf(d, sizeof d, "%s/ombstx/offline/00000001", root);
	mkdir_p(d);
	struct dbf_w bt, st;
	struct dbt_w bm, sm;
	dbf_begin(&bt, baustein_fd, NF(baustein_fd));
	dbf_begin(&st, subblk_fd, NF(subblk_fd));
	dbt_begin(&bm);
	dbt_begin(&sm);
	unsigned id = 0;
	for (size_t i = 0; i < S7G_NBLOCKS; i++) {
		const struct s7g_block *b = &s7g_blocks[i];
		if (strcmp(b->id, "FC1") == 0) {
			/* the deleted older copy, one download row */
			unsigned typ = b->type, row;
			id++;
			row = st.nrec + 1;
			sub_download(&st, &sm, id, b, S7G_FC1_OLD_SEED, S7G_FC1_OLD_MS,
				     S7G_FC1_OLD_DAY, 1);
			baustein_row(&bt, &bm, id, b, S7G_FC1_OLD_MS, S7G_FC1_OLD_DAY, &typ, &row,
				     1, 1);
		}
		const struct sb_kind *k = sb_kind_of(b->type);
		unsigned typ[4], row[4];
		id++;
		for (int j = 0; j < 4; j++) {
			int w = k->order[j];
			typ[j] = k->typ[w];
			row[j] = st.nrec + 1;
			if (w == SB_DOWNLOAD)
				sub_download(&st, &sm, id, b, b->seed, b->code_ms, b->code_day, 0);
			else
				sub_other(&st, &sm, id, b, k, w);
		}
		baustein_row(&bt, &bm, id, b, b->code_ms, b->code_day, typ, row, 4, 0);
	}
	tb = dbf_finish(&bt, 1);
	write_buf(d, "BAUSTEIN.DBF", &tb);
	tb = dbt_finish(&bm, "BAUSTEIN");
	write_buf(d, "BAUSTEIN.DBT", &tb);
	tb = dbf_finish(&st, 1);
	write_buf(d, "SUBBLK.DBF", &tb);
	tb = dbt_finish(&sm, "SUBBLK");
	write_buf(d, "SUBBLK.DBT", &tb);
}

/* The download images of the project's blocks, as files (for tests). */
static void write_step7_blocks(const char *dir)
{
	mkdir_p(dir);
	for (size_t i = 0; i < S7G_NBLOCKS; i++) {
		size_t n;
		uint8_t *img = s7g_image(&s7g_blocks[i], &n);
		char name[32];
		snprintf(name, sizeof name, "%s.mc7", s7g_blocks[i].id);
		write_file(dir, name, img, n);
		free(img);
	}
}

int main(int argc, char **argv)
{
	if (argc == 7 && strcmp(argv[1], "--block") == 0) {
		unsigned type = (unsigned)strtoul(argv[2], NULL, 0);
		unsigned num = (unsigned)strtoul(argv[3], NULL, 0);
		unsigned seed = (unsigned)strtoul(argv[4], NULL, 0);
		uint32_t ts = (uint32_t)strtoul(argv[5], NULL, 0);
		struct buf b = make_block(type, num, 1, 80, 20, 8, seed, ts, 15000,
					  "TEST", "VARIANT", "BLOCK");
		FILE *f = fopen(argv[6], "wb");
		if (!f || fwrite(b.p, 1, b.n, f) != b.n || fclose(f)) {
			perror(argv[6]);
			return 1;
		}
		free(b.p);
		return 0;
	}
	if (argc == 3 && strcmp(argv[1], "--step7-blocks") == 0) {
		write_step7_blocks(argv[2]);
		return 0;
	}
	if (argc != 2) {
		fprintf(stderr, "usage: pg-mksamples OUTDIR\n"
				"       pg-mksamples --block TYPE NUMBER SEED TIMESTAMP_MS OUTFILE\n"
				"       pg-mksamples --step7-blocks OUTDIR\n");
		return 2;
	}
	const char *out = argv[1];
	char p[4096];
	mkdir_p(out);

	snprintf(p, sizeof p, "%s/pump_station", out);
	mkdir_p(p);
	write_file(p, "plc.xml", plc_xml, sizeof plc_xml - 1);
	write_file(p, "beremiz.xml", beremiz_xml, sizeof beremiz_xml - 1);

	snprintf(p, sizeof p, "%s/s7_blocks", out);
	mkdir_p(p);
	struct buf made[4];
	for (int i = 0; i < 4; i++) {
		const struct blk *k = &blocks[i];
		made[i] = make_block(k->type, k->number, k->lang, k->code, k->iface, k->seg,
				     k->seed, 36000000u + (uint32_t)i * 60000u, 15300,
				     "PLANT", "PUMPS", k->name);
		write_file(p, k->file, made[i].p, made[i].n);
	}

	/* line3.zap16: folders first, then their files, as TIA lists them */
	static const char readme[] = "Line 3 pump station, approved build 1.4\n";
	char bnames[4][64];
	struct tz_entry ents[10];
	size_t ne = 0;
	ents[ne++] = (struct tz_entry){ "Line3\\", NULL, 0 };
	ents[ne++] = (struct tz_entry){ "Line3\\PLCopen\\", NULL, 0 };
	ents[ne++] = (struct tz_entry){ "Line3\\PLCopen\\line3.xml", plc_xml, sizeof plc_xml - 1 };
	ents[ne++] = (struct tz_entry){ "Line3\\Blocks\\", NULL, 0 };
	for (int i = 0; i < 4; i++) {
		snprintf(bnames[i], sizeof bnames[i], "Line3\\Blocks\\%s", blocks[i].file);
		ents[ne++] = (struct tz_entry){ bnames[i], made[i].p, made[i].n };
	}
	ents[ne++] = (struct tz_entry){ "Line3\\README.txt", readme, sizeof readme - 1 };
	size_t zlen = 0;
	uint8_t *zip = tiazip_build(ents, ne, NULL, &zlen);
	snprintf(p, sizeof p, "%s", out);
	write_file(p, "line3.zap16", zip, zlen);
	free(zip);
	for (int i = 0; i < 4; i++)
		free(made[i].p);

	write_step7(out);
	return 0;
}
