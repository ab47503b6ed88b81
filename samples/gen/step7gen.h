/*
 * step7gen.h - the blocks of plcguard's sample STEP 7 V5 project "MIXER"
 * (samples/projects/mixer_step7), shared by the samples generator (which
 * writes the project's offline tables) and the capture generator (which
 * sends the same blocks as SIMATIC Manager downloads them).
 *
 * A small batch mixer: OB1 (LAD) calls the dosing function FC1 (FBD) and
 * the agitator block FB1 (SCL) with its instance DB1; OB35 (STL, 100 ms
 * cyclic interrupt) runs a vendor's know-how protected filter FC2 (STL,
 * PASSWORD 3); DB2 is the global recipe DB.  The code bytes are a seeded
 * pattern (plausible in shape: 16-bit words, each network's code, the block
 * ending in BE "65 00"), not compiled STEP 7 logic.
 *
 * Each block is described once (struct s7g_block); its three sub-block
 * parts, as the SUBBLK row's memos hold them, are
 *   MC5CODE  the MC7 code (a DB: its actual values),
 *   SSBPART  the compiled interface (an instance DB shares its FB's),
 *   ADDINFO  the segment (network) table: u16 LE network count, then each
 *            network's code length as u16 LE (the last network includes the
 *            closing BE), zero-padded (DBs have none),
 * and s7g_image() puts them together exactly as PROTOCOLS.md section 7 says
 * SIMATIC Manager rebuilds the download image from that row:
 *   36-byte header  70 70, 01, ATTRIBUTE, BLKLANG, SUBBLKTYP, BLKNUMBER (BE16),
 *                   BLKTOTLEN-6 (BE32), 00 00 00, PASSWORD, TIMESTAMP1 (code),
 *                   TIMESTAMP2 (interface), SSBLEN, ADDLEN, LOCDATALEN, MC5LEN
 *                   (BE16 each);
 *   body            MC5CODE, SSBPART, ADDINFO;
 *   36-byte footer  USERNAME, BLOCKFNAME, BLOCKNAME (8 bytes each, NUL-padded),
 *                   VERSION, 00, CHECKSUM (LE16), 8 zero bytes.
 * BLKTOTLEN is 78 + MC5LEN + SSBLEN + ADDLEN, as for every row of the corpus
 * projects, so the image is BLKTOTLEN - 6 bytes long.
 *
 * Timestamps are 6 bytes: u32 BE milliseconds since midnight, u16 BE days
 * since 1984-01-01 (2026-01-01 is day 15341).  The footer checksum is a
 * deterministic 16-bit value standing in for SIMATIC Manager's (whose
 * algorithm is not public and which no reader checks); the SUBBLK row's
 * CHECKSUM holds the same value.
 *
 * Header-only (static functions, marked unused) so that both generators
 * compile it in without warnings.
 */
#ifndef PG_STEP7GEN_H
#define PG_STEP7GEN_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S7G_UNUSED __attribute__((unused))

/* wire block types (= SUBBLKTYP of the download row, BAUSTEIN TYP) */
#define S7G_OB 0x08
#define S7G_DB 0x0A
#define S7G_FC 0x0C
#define S7G_FB 0x0E

/* languages (header byte 4, BLKLANG) */
#define S7G_STL 1
#define S7G_LAD 2
#define S7G_FBD 3
#define S7G_SCL 4
#define S7G_LDB 5

#define S7G_DAY0 15341u   /* 2026-01-01, days since 1984-01-01 */
#define S7G_MS(h, m, s, ms) ((uint32_t)(((h) * 3600u + (m) * 60u + (s)) * 1000u + (ms)))

struct s7g_block {
	const char *id;           /* "OB1" */
	uint8_t type;             /* S7G_OB .. S7G_FB */
	uint16_t number;
	uint8_t lang;
	uint8_t attribute;        /* header byte 3 / ATTRIBUTE */
	uint8_t password;         /* header byte 15 / PASSWORD: 3 = know-how protected */
	uint16_t mc5len, ssblen, addlen, locdatalen;
	uint32_t code_ms;         /* TIMESTAMP1 */
	uint16_t code_day;
	uint32_t iface_ms;        /* TIMESTAMP2 */
	uint16_t iface_day;
	const char *author, *family, *name;   /* USERNAME, BLOCKFNAME, BLOCKNAME */
	uint8_t version;          /* major * 16 + minor */
	uint32_t seed;            /* of the code (or actual values) pattern */
	unsigned networks;        /* code blocks: networks in the segment table */
	int iface_of;             /* index of the block whose interface this one is, or -1 */
	const char *title;        /* block title (the title sub-block) */
	const char *comment;      /* block comment (the comment sub-block) */
	const char *decl;         /* declaration source (the source sub-block) */
};

/*
 * The project's blocks, in the order SIMATIC Manager lists them.  Every
 * image stays within 800 bytes (8 slices of pg-mkcaps' 100-byte slices).
 */
static const struct s7g_block s7g_blocks[] S7G_UNUSED = {
	{ "OB1", S7G_OB, 1, S7G_LAD, 1, 0, 184, 28, 12, 20,
	  S7G_MS(14, 12, 5, 120), S7G_DAY0 + 47, S7G_MS(10, 31, 44, 0), S7G_DAY0 + 39,
	  "MIXING", "MAIN", "CYCLE", 0x12, 0x4f423031, 3, -1,
	  "Mixer main cycle",
	  "Network 1: dosing (FC1), network 2: agitator (FB1/DB1), network 3: discharge valve",
	  "VAR_TEMP\r\n  OB1_EV_CLASS : BYTE ;\r\n  OB1_SCAN_1 : BYTE ;\r\n"
	  "  OB1_PRIORITY : BYTE ;\r\n  OB1_OB_NUMBR : BYTE ;\r\n  Start_Mix : BOOL ;\r\n"
	  "END_VAR\r\n" },
	{ "OB35", S7G_OB, 35, S7G_STL, 1, 0, 96, 28, 8, 20,
	  S7G_MS(9, 2, 51, 480), S7G_DAY0 + 45, S7G_MS(9, 0, 13, 250), S7G_DAY0 + 38,
	  "MIXING", "TIMING", "CYC100MS", 0x10, 0x4f423335, 2, -1,
	  "Cyclic interrupt 100 ms",
	  "Filters the tank level (FC2) every 100 ms",
	  "VAR_TEMP\r\n  OB35_EV_CLASS : BYTE ;\r\n  OB35_STRT_INF : BYTE ;\r\n"
	  "  Level_Raw : INT ;\r\nEND_VAR\r\n" },
	{ "FC1", S7G_FC, 1, S7G_FBD, 1, 0, 142, 22, 10, 6,
	  S7G_MS(16, 40, 27, 910), S7G_DAY0 + 48, S7G_MS(11, 5, 2, 300), S7G_DAY0 + 40,
	  "MIXING", "DOSING", "DOSECALC", 0x11, 0x46433031, 3, -1,
	  "Dosing: valve times from the recipe",
	  "Opens the dosing valves for the recipe quantities of DB2",
	  "VAR_INPUT\r\n  Recipe_No : INT ;\r\n  Flow : REAL ;\r\nEND_VAR\r\n"
	  "VAR_OUTPUT\r\n  Valve_A : BOOL ;\r\n  Valve_B : BOOL ;\r\nEND_VAR\r\n" },
	{ "FC2", S7G_FC, 2, S7G_STL, 1, 3, 68, 18, 6, 4,
	  S7G_MS(8, 15, 0, 0), S7G_DAY0 + 21, S7G_MS(8, 14, 30, 0), S7G_DAY0 + 21,
	  "FILTLIB", "FILTERS", "PT1FILT", 0x21, 0x46433032, 1, -1,
	  "PT1 filter (know-how protected)",
	  "Vendor library block, know-how protected",
	  "VAR_INPUT\r\n  X : REAL ;\r\n  T_Ms : INT ;\r\nEND_VAR\r\n"
	  "VAR_IN_OUT\r\n  Y : REAL ;\r\nEND_VAR\r\n" },
	{ "FB1", S7G_FB, 1, S7G_SCL, 1, 0, 326, 64, 6, 12,
	  S7G_MS(15, 22, 48, 640), S7G_DAY0 + 46, S7G_MS(13, 57, 9, 50), S7G_DAY0 + 42,
	  "MIXING", "AGITATOR", "AGITCTRL", 0x13, 0x46423031, 1, -1,
	  "Agitator control",
	  "Start/stop ramp, dry-run interlock on low level, overload trip",
	  "VAR_INPUT\r\n  Enable : BOOL ;\r\n  Level : REAL ;\r\n  Speed_SP : REAL ;\r\n"
	  "END_VAR\r\nVAR_OUTPUT\r\n  Motor_On : BOOL ;\r\n  Speed_Out : REAL ;\r\n"
	  "END_VAR\r\nVAR\r\n  Ramp : REAL ;\r\n  Trip : BOOL ;\r\nEND_VAR\r\n" },
	{ "DB1", S7G_DB, 1, S7G_LDB, 1, 0, 24, 64, 0, 0,
	  S7G_MS(15, 23, 2, 10), S7G_DAY0 + 46, S7G_MS(13, 57, 40, 700), S7G_DAY0 + 42,
	  "MIXING", "AGITATOR", "AGITINST", 0x13, 0x44423031, 0, 4,
	  "Instance data of FB1 (agitator)",
	  "Instance DB of FB1",
	  "DATA_BLOCK DB1 FB1\r\nBEGIN\r\nEND_DATA_BLOCK\r\n" },
	{ "DB2", S7G_DB, 2, S7G_LDB, 1, 0, 40, 48, 0, 0,
	  S7G_MS(11, 48, 36, 200), S7G_DAY0 + 44, S7G_MS(11, 30, 0, 0), S7G_DAY0 + 37,
	  "MIXING", "RECIPES", "RECIPE", 0x10, 0x44423032, 0, -1,
	  "Recipes",
	  "Global DB: quantities and mixing times of recipes 1-4",
	  "STRUCT\r\n  Qty_A : ARRAY [1 .. 4] OF REAL ;\r\n  Qty_B : ARRAY [1 .. 4] OF REAL ;\r\n"
	  "  Mix_Time : ARRAY [1 .. 4] OF INT ;\r\nEND_STRUCT ;\r\n" },
};

#define S7G_NBLOCKS (sizeof s7g_blocks / sizeof s7g_blocks[0])

/* The older FC1 that SIMATIC Manager left as a deleted row (other code). */
#define S7G_FC1_OLD_SEED 0x46433030u
#define S7G_FC1_OLD_MS S7G_MS(10, 2, 11, 0)
#define S7G_FC1_OLD_DAY (S7G_DAY0 + 43)

static S7G_UNUSED uint32_t s7g_next(uint32_t *x)
{
	*x = *x * 1103515245u + 12345u;
	return *x >> 16;
}

/* BLKTOTLEN of a row with these lengths (the corpus' rule, every row). */
static S7G_UNUSED unsigned s7g_totlen(unsigned mc5, unsigned ssb, unsigned add)
{
	return 78 + mc5 + ssb + add;
}

/*
 * MC5CODE: code blocks get 16-bit words from the seed, closed by BE (65 00);
 * a DB gets actual values (INT/REAL-looking words).  `seed` is usually
 * b->seed (the deleted older FC1 row passes another).
 */
static S7G_UNUSED void s7g_code(const struct s7g_block *b, uint32_t seed, uint8_t *out)
{
	uint32_t x = seed;
	size_t n = b->mc5len;
	if (b->type == S7G_DB) {
		for (size_t i = 0; i + 1 < n; i += 2) {
			unsigned v = s7g_next(&x) % 2000u;
			out[i] = (uint8_t)(v >> 8);
			out[i + 1] = (uint8_t)v;
		}
		if (n & 1)
			out[n - 1] = 0;
		return;
	}
	/* op-code-like first bytes, operand-like second bytes */
	static const uint8_t ops[] = { 0xC0, 0xC1, 0xC8, 0xD0, 0xD1, 0x41, 0x4A, 0x5A, 0x30,
				       0xFB, 0x70, 0x7E, 0x10, 0xBA, 0xBB, 0x68 };
	for (size_t i = 0; i + 2 < n; i += 2) {
		uint32_t r = s7g_next(&x);
		out[i] = ops[r & 0x0F];
		out[i + 1] = (uint8_t)(r >> 4);
	}
	out[n - 2] = 0x65;   /* BE: block end */
	out[n - 1] = 0x00;
}

/*
 * SSBPART: 01, the block type, local data length (BE16), parameter count
 * (BE16), then (data type, declaration section) pairs from the seed.
 */
static S7G_UNUSED void s7g_iface(const struct s7g_block *b, uint8_t *out)
{
	const struct s7g_block *src = b->iface_of >= 0 ? &s7g_blocks[b->iface_of] : b;
	size_t n = src->ssblen;
	uint32_t x = src->seed ^ 0x5a5a5a5au;
	if (n != b->ssblen) {
		fprintf(stderr, "step7gen: %s: SSBLEN %u, its FB's interface has %u\n", b->id,
			(unsigned)b->ssblen, (unsigned)n);
		exit(1);
	}
	memset(out, 0, n);
	out[0] = 0x01;
	out[1] = src->type;
	out[2] = (uint8_t)(src->locdatalen >> 8);
	out[3] = (uint8_t)src->locdatalen;
	out[4] = 0;
	out[5] = (uint8_t)((n - 6) / 2);
	static const uint8_t types[] = { 0x01, 0x02, 0x04, 0x05, 0x06, 0x07, 0x08 };
	for (size_t i = 6; i + 1 < n; i += 2) {
		uint32_t r = s7g_next(&x);
		out[i] = types[r % sizeof types];
		out[i + 1] = (uint8_t)(1 + (r >> 8) % 5);   /* IN OUT IN_OUT STAT TEMP */
	}
}

/* ADDINFO: the network table, u16 LE count and lengths, zero-padded. */
static S7G_UNUSED void s7g_segtab(const struct s7g_block *b, uint8_t *out)
{
	size_t n = b->addlen;
	memset(out, 0, n);
	if (!n || !b->networks)
		return;
	unsigned k = b->networks, left = b->mc5len;
	if (n < 2 + 2 * (size_t)k) {
		fprintf(stderr, "step7gen: %s: ADDLEN %u too small for %u networks\n", b->id,
			(unsigned)n, k);
		exit(1);
	}
	out[0] = (uint8_t)k;
	out[1] = (uint8_t)(k >> 8);
	for (unsigned i = 0; i < k; i++) {
		/* even lengths; the last network takes the rest (with the BE) */
		unsigned len = i + 1 < k ? (b->mc5len / k) & ~1u : left;
		out[2 + 2 * i] = (uint8_t)len;
		out[3 + 2 * i] = (uint8_t)(len >> 8);
		left -= len;
	}
}

/* The stand-in footer checksum over code and interface (see above). */
static S7G_UNUSED uint16_t s7g_checksum(const uint8_t *code, size_t nc, const uint8_t *ssb,
					size_t ns)
{
	uint32_t s = 0x5337;
	for (size_t i = 0; i < nc; i++)
		s = (s * 31u + code[i]) & 0xffffu;
	for (size_t i = 0; i < ns; i++)
		s = (s * 31u + ssb[i]) & 0xffffu;
	return (uint16_t)s;
}

static S7G_UNUSED void s7g_put_ts(uint8_t *p, uint32_t ms, uint16_t day)
{
	p[0] = (uint8_t)(ms >> 24);
	p[1] = (uint8_t)(ms >> 16);
	p[2] = (uint8_t)(ms >> 8);
	p[3] = (uint8_t)ms;
	p[4] = (uint8_t)(day >> 8);
	p[5] = (uint8_t)day;
}

static S7G_UNUSED void s7g_put_name8(uint8_t *p, const char *s)
{
	size_t k = strlen(s);
	memset(p, 0, 8);
	memcpy(p, s, k < 8 ? k : 8);
}

/* One block's parts, as the download row's memos hold them (malloc'd). */
struct s7g_parts {
	uint8_t *code, *ssb, *add;
	uint16_t checksum;
};

static S7G_UNUSED void s7g_parts(const struct s7g_block *b, uint32_t seed, struct s7g_parts *p)
{
	p->code = calloc(1, (size_t)b->mc5len + 1);
	p->ssb = calloc(1, (size_t)b->ssblen + 1);
	p->add = calloc(1, (size_t)b->addlen + 1);
	if (!p->code || !p->ssb || !p->add) {
		fprintf(stderr, "step7gen: out of memory\n");
		exit(1);
	}
	s7g_code(b, seed, p->code);
	s7g_iface(b, p->ssb);
	s7g_segtab(b, p->add);
	p->checksum = s7g_checksum(p->code, b->mc5len, p->ssb, b->ssblen);
}

static S7G_UNUSED void s7g_parts_free(struct s7g_parts *p)
{
	free(p->code);
	free(p->ssb);
	free(p->add);
	memset(p, 0, sizeof *p);
}

/*
 * The download image of block b (PROTOCOLS.md section 7), malloc'd; *n is
 * its length, BLKTOTLEN - 6.  `seed`, `ms` and `day` stand for the code
 * pattern and code timestamp (b's own for the project's blocks).
 */
static S7G_UNUSED uint8_t *s7g_image_of(const struct s7g_block *b, uint32_t seed, uint32_t ms,
					uint16_t day, size_t *n)
{
	struct s7g_parts p;
	s7g_parts(b, seed, &p);
	size_t len = s7g_totlen(b->mc5len, b->ssblen, b->addlen) - 6;
	if (len > 800) {
		fprintf(stderr, "step7gen: %s: %zu bytes, more than 8 slices of 100\n", b->id, len);
		exit(1);
	}
	uint8_t *o = calloc(1, len);
	if (!o) {
		fprintf(stderr, "step7gen: out of memory\n");
		exit(1);
	}
	o[0] = 0x70;
	o[1] = 0x70;
	o[2] = 0x01;
	o[3] = b->attribute;
	o[4] = b->lang;
	o[5] = b->type;
	o[6] = (uint8_t)(b->number >> 8);
	o[7] = (uint8_t)b->number;
	o[8] = (uint8_t)(len >> 24);
	o[9] = (uint8_t)(len >> 16);
	o[10] = (uint8_t)(len >> 8);
	o[11] = (uint8_t)len;
	o[15] = b->password;                   /* 12-14 stay zero */
	s7g_put_ts(o + 16, ms, day);
	s7g_put_ts(o + 22, b->iface_ms, b->iface_day);
	o[28] = (uint8_t)(b->ssblen >> 8);
	o[29] = (uint8_t)b->ssblen;
	o[30] = (uint8_t)(b->addlen >> 8);
	o[31] = (uint8_t)b->addlen;
	o[32] = (uint8_t)(b->locdatalen >> 8);
	o[33] = (uint8_t)b->locdatalen;
	o[34] = (uint8_t)(b->mc5len >> 8);
	o[35] = (uint8_t)b->mc5len;
	size_t k = 36;
	memcpy(o + k, p.code, b->mc5len);
	k += b->mc5len;
	memcpy(o + k, p.ssb, b->ssblen);
	k += b->ssblen;
	memcpy(o + k, p.add, b->addlen);
	k += b->addlen;
	s7g_put_name8(o + k, b->author);
	s7g_put_name8(o + k + 8, b->family);
	s7g_put_name8(o + k + 16, b->name);
	o[k + 24] = b->version;
	o[k + 25] = 0x00;
	o[k + 26] = (uint8_t)p.checksum;        /* LE16 */
	o[k + 27] = (uint8_t)(p.checksum >> 8);
	/* 8 zero bytes to the end */
	if (k + 36 != len) {
		fprintf(stderr, "step7gen: internal: %s image %zu != %zu\n", b->id, k + 36, len);
		exit(1);
	}
	s7g_parts_free(&p);
	*n = len;
	return o;
}

static S7G_UNUSED uint8_t *s7g_image(const struct s7g_block *b, size_t *n)
{
	return s7g_image_of(b, b->seed, b->code_ms, b->code_day, n);
}

#endif
