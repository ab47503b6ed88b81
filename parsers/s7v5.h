/*
 * s7v5.h - SIMATIC Manager (STEP 7 V5) offline blocks: the download image of
 * a block, rebuilt from its row in ombstx/offline/<folder>/SUBBLK.DBF and the
 * memos in SUBBLK.DBT (../shared/docs/PROTOCOLS.md section 7).
 *
 * The image is laid out as a block goes over the wire (section 3), so that
 * mc7_parse() and its logic fingerprint treat a block signed in a project
 * and a block seen downloading by the same code:
 *   header (36): 70 70, 01, ATTRIBUTE, BLKLANG, SUBBLKTYP, BLKNUMBER (BE16),
 *     BLKTOTLEN-6 (BE32), 00 00 00, PASSWORD, TIMESTAMP1 (6), TIMESTAMP2 (6),
 *     SSBLEN, ADDLEN, LOCDATALEN, MC5LEN (BE16 each)
 *   body: MC5CODE, SSBPART, ADDINFO (memos, each cut to its length field)
 *   footer (36): USERNAME, BLOCKFNAME, BLOCKNAME (8 each), VERSION, 00,
 *     CHECKSUM (LE16), 8 zero bytes.
 */
#ifndef PG_S7V5_H
#define PG_S7V5_H

#include <stddef.h>
#include <stdint.h>

#include "dbase.h"
#include "pgerr.h"

/* Column indexes of the SUBBLK fields used. */
struct s7v5_cols {
	int objid, lang, typ, num, attr, tot, mc5len, ssblen, addlen, loclen;
	int ts1, ts2, pw, user, fname, bname, ver, cksum, mc5, ssb, add;
};

/* Find the columns: 0, or -1 with err naming the first one missing. */
int s7v5_cols(const struct dbf *d, struct s7v5_cols *c, struct pg_err *err);
/* Is this row the sub-block that is downloaded (its SUBBLKTYP is a wire
 * block type: OB 08, DB 0A, FC 0C, SFC 0D, FB 0E, SFB 0F)?  1 and *type,
 * *number; 0 when another sub-block (source, comments, references). */
int s7v5_download_row(const struct dbf *d, const struct s7v5_cols *c, const uint8_t *rec,
		      uint8_t *type, uint16_t *number);
/* Rebuild the image into a new malloc'd buffer (*out, *n).  -1 with err when
 * a field is not a number, a memo is missing or shorter than its length
 * field, or BLKTOTLEN-6 is not 72 + MC5LEN + SSBLEN + ADDLEN.  max bounds
 * the image. */
int s7v5_image(const struct dbf *d, const struct dbt *m, const struct s7v5_cols *c,
	       const uint8_t *rec, size_t max, uint8_t **out, size_t *n,
	       struct pg_err *err);

/*
 * The project's structure (section 7): which offline block folders exist
 * (ombstx/offline/BSTCNTOF.DBF), which S7 program each belongs to
 * (hrs/S7RESOFF.DBF + hrs/linkhrs.lnk), and which blocks the project lists
 * (BAUSTEIN.DBF of a folder).  Each takes an opened table; live rows only.
 * -1 with err when a required field is missing or a value is not a number.
 */
struct s7v5_folder {
	uint32_t id;        /* the folder is ombstx/offline/%08X/ */
	int64_t nblocks;    /* ANZOB+ANZFB+ANZFC+ANZDB+ANZSFB+ANZSFC, -1 unknown */
	size_t row;         /* 1-based */
};
int s7v5_folders(const struct dbf *bstcntof, struct s7v5_folder **out, size_t *n,
		 struct pg_err *err);

struct s7v5_program {
	int64_t id;
	char name[80];      /* UTF-8 (the table is Windows-1252); '/', '\\', '#',
			     * '!' and control characters replaced by '_'; "" blank */
	int64_t folder;     /* its offline block folder id, -1 when not found */
	size_t row;         /* 1-based */
};
/* lnk: hrs/linkhrs.lnk; a program's 512-byte record starts at its RSRVD4_L
 * and holds 01 60 11 00 followed by the folder id (u16 LE). */
int s7v5_programs(const struct dbf *resoff, const uint8_t *lnk, size_t lnk_len,
		  struct s7v5_program **out, size_t *n, struct pg_err *err);

struct s7v5_object {
	int64_t id;         /* SUBBLK's OBJECTID refers to it */
	uint8_t type;       /* wire block type (TYP 8 OB .. 15 SFB) */
	uint16_t number;
	size_t row;         /* 1-based */
};
/* The downloadable blocks (OB, DB, FC, SFC, FB, SFB) BAUSTEIN.DBF lists. */
int s7v5_objects(const struct dbf *baustein, struct s7v5_object **out, size_t *n,
		 struct pg_err *err);

#endif
