/*
 * fuzz_dbase.c - libFuzzer target for parsers/dbase.c.
 *
 * Also parsers/s7v5.c: every row is tried as a STEP 7 V5 SUBBLK row and
 * rebuilt as a download image when the table has the columns, and the table
 * is read as BSTCNTOF, S7RESOFF (with the memo bytes as hrs/linkhrs.lnk)
 * and BAUSTEIN.
 * Input: u16 LE n, then n bytes of a .DBF table, then the rest as its .DBT
 * memo file; each copied into an exact-size heap buffer (ASan flags a read
 * one byte past either).  Every record, every field as raw bytes, as a
 * number and as a memo reference, and every memo it names are read.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dbase.h"
#include "s7v5.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t *copy(const uint8_t *p, size_t n)
{
	uint8_t *b = malloc(n ? n : 1);
	if (b && n)
		memcpy(b, p, n);
	return b;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2)
		return 0;
	size_t n = (size_t)data[0] | (size_t)data[1] << 8;
	if (n > size - 2)
		n = size - 2;
	uint8_t *t = copy(data + 2, n), *m = copy(data + 2 + n, size - 2 - n);
	if (!t || !m)
		goto out;
	struct dbf d;
	struct dbt memo;
	struct pg_err e;
	int have_memo = dbt_open(&memo, m, size - 2 - n, &e) == 0;
	if (dbf_open(&d, t, n, &e) != 0)
		goto out;
	if (d.nrec_avail > d.nrec || d.nf > DBF_MAX_FIELDS)
		abort();
	(void)dbf_field_index(&d, "MC5CODE");
	/* the same table as BSTCNTOF, S7RESOFF (the memo bytes as linkhrs.lnk)
	 * and BAUSTEIN: every row returned must be a live row of the table */
	struct s7v5_folder *fo;
	struct s7v5_program *pr;
	struct s7v5_object *ob;
	size_t k;
	if (s7v5_folders(&d, &fo, &k, &e) == 0) {
		for (size_t i = 0; i < k; i++)
			if (fo[i].row < 1 || fo[i].row > d.nrec_avail)
				abort();
		free(fo);
	}
	if (s7v5_programs(&d, m, size - 2 - n, &pr, &k, &e) == 0) {
		for (size_t i = 0; i < k; i++)
			if (pr[i].row < 1 || pr[i].row > d.nrec_avail ||
			    strlen(pr[i].name) >= sizeof pr[i].name || pr[i].folder > 65535)
				abort();
		free(pr);
	}
	if (s7v5_objects(&d, &ob, &k, &e) == 0) {
		for (size_t i = 0; i < k; i++)
			if (ob[i].type < 8 || ob[i].type > 15)
				abort();
		free(ob);
	}
	struct s7v5_cols cols;
	int v5 = have_memo && s7v5_cols(&d, &cols, &e) == 0;
	for (size_t i = 0; i < d.nrec_avail + 1; i++) {
		const uint8_t *rec;
		if (dbf_record(&d, i, &rec) < 0)
			continue;
		uint8_t bt;
		uint16_t bn;
		if (v5 && s7v5_download_row(&d, &cols, rec, &bt, &bn)) {
			uint8_t *img = NULL;
			size_t in = 0;
			if (s7v5_image(&d, &memo, &cols, rec, 1 << 20, &img, &in, &e) == 0 &&
			    (in < 72 || img[0] != 0x70))
				abort();   /* an image always has header and footer */
			free(img);
		}
		for (size_t f = 0; f < d.nf; f++) {
			const uint8_t *p;
			size_t len;
			int64_t v;
			uint32_t blk;
			dbf_raw(&d, rec, (int)f, &p, &len);
			if (len != d.f[f].len)
				abort();
			(void)dbf_num(&d, rec, (int)f, &v, &e);
			if (have_memo && dbf_memo_block(&d, rec, (int)f, &blk, &e) == 0 && blk &&
			    dbt_memo(&memo, blk, &p, &len, &e) == 0 &&
			    (p < m || p + len > m + (size - 2 - n)))
				abort();   /* a memo must lie inside the memo file */
		}
	}
out:
	free(t);
	free(m);
	return 0;
}
