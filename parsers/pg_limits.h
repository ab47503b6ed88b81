/*
 * pg_limits.h - every count and length that untrusted input can drive is checked
 * against one of these named maxima before we allocate or loop.  They live in
 * one place so that a reviewer can see the worst case of the whole program.
 */
#ifndef PG_PG_LIMITS_H
#define PG_PG_LIMITS_H

/* ---- files and folders (agent/scan.c) ---- */
#define PG_MAX_PATH_DEPTH        64          /* directory nesting below a project root */
#define PG_MAX_FILES             1000000     /* regular files in one project */
#define PG_MAX_INSPECT_BYTES     (256u << 20)/* larger files are hashed, not parsed */
#define PG_MAX_NEST              3           /* archive in archive in archive ... */

/* ---- manifests and signatures (agent/manifest.c, agent/sign.c) ---- */
#define PG_MAX_MANIFEST_BYTES    (256u << 20)
#define PG_MAX_SIGNATURE_BYTES   (1u << 20)
#define PG_MAX_COMPONENTS        4000000
#define PG_MAX_NAME_BYTES        4096        /* one component name / path */
#define PG_MAX_TARGETS           1024
#define PG_MAX_TEXT_BYTES        4096        /* ticket, note */

/* ---- ZIP archives (parsers/ziparch.c) ---- */
#define PG_ZIP_MAX_ENTRIES       65536
#define PG_ZIP_MAX_TOTAL         (4ull << 30)   /* sum of uncompressed bytes read */
#define PG_ZIP_MAX_ENTRY         (1ull << 30)   /* one entry, uncompressed */
#define PG_ZIP_MAX_RATIO         200            /* uncompressed / compressed, per entry */
#define PG_ZIP_RATIO_FLOOR       (1u << 20)     /* ratio is only judged above this size */

/* ---- PLCopen XML (parsers/plcopen.c) ---- */
#define PG_XML_MAX_BYTES         (256u << 20)
#define PG_XML_MAX_DEPTH         256
#define PG_XML_MAX_ITEMS         200000        /* POUs + types + configs + resources + tasks */
#define PG_XML_MAX_NODES         50000000

/* ---- S7 MC7 blocks (parsers/mc7.c) ---- */
#define PG_MC7_HEADER            36
#define PG_MC7_FOOTER            36
#define PG_MC7_MAX_BLOCK         (16u << 20)   /* a block's load-memory length */

#endif
