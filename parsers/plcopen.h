/*
 * plcopen.h - PLCopen XML (IEC 61131-10 / TC6) projects.
 *
 * Parses with libxml2 with the network off, no DTD loading and no entity
 * expansion, and turns the document into items: every POU (program, function
 * block, function), data type, configuration, resource and task, each with a
 * canonical fingerprint that ignores formatting (whitespace, CRLF/LF, BOM,
 * attribute order, XML comments) and changes when the logic changes.  The
 * canonical form is documented in docs/FORMATS.md.
 */
#ifndef PG_PLCOPEN_H
#define PG_PLCOPEN_H

#include <stddef.h>
#include <stdint.h>

#include "pgerr.h"

enum plc_kind {
	PLC_POU = 1,
	PLC_DATATYPE,
	PLC_CONFIGURATION,
	PLC_RESOURCE,
	PLC_TASK,
};

struct plc_item {
	enum plc_kind kind;
	char *name;          /* stable name: "Main", "Config0/Res0", "Config0/Res0/task0" */
	char *pou_type;      /* POUs: "program", "functionBlock", "function"; else NULL */
	char *language;      /* POUs: body language "ST", "LD", "FBD", "IL", "SFC", or NULL */
	uint8_t fp[32];      /* canonical fingerprint */
	size_t line;         /* line in the file, for messages */
};

struct plc_doc {
	uint8_t doc_fp[32];  /* canonical fingerprint of the whole document */
	char *product;       /* fileHeader/@productName, may be NULL */
	char *product_version;
	char *project_name;  /* contentHeader/@name, may be NULL */
	size_t n_items;
	struct plc_item *items;
};

/* Quick content test: looks like XML whose root is a PLCopen TC6 project. */
int plcopen_sniff(const uint8_t *buf, size_t len);

/* 0 on success; -1 with err (line/offset and what was wrong) otherwise. */
int plcopen_parse(const uint8_t *buf, size_t len, struct plc_doc *out,
		  struct pg_err *err);
void plcopen_free(struct plc_doc *doc);

const char *plcopen_kind_name(enum plc_kind k); /* "pou", "datatype", ... */

/*
 * Initialise libxml2 once (xmlInitParser under pthread_once).  plcopen_parse
 * calls it itself; a program that parses from several threads, or uses
 * libxml2 elsewhere too, should call it from main() before starting threads.
 * plcopen_parse is then safe to call concurrently: it keeps no shared mutable
 * state, and libxml2's error handlers are per thread (set for the duration of
 * one call, then restored).  Never call xmlCleanupParser() while a thread may
 * still parse.
 */
void plcopen_global_init(void);

#endif
