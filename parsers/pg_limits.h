/*
 * pg_limits.h - every count and length that untrusted input can drive is checked
 * against one of these named maxima before we allocate or loop.  They live in
 * one place so that a reviewer can see the worst case of the whole program
 * (tests/e2e/t_source_rules.sh keeps it so: a #define with MAX in its name
 * anywhere else fails the suite).
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

/* ---- frames (parsers/netdecode.c) ---- */
#define PG_ND_MAX_VLAN   4   /* 802.1Q/802.1ad/0x9100 tags in one frame */
#define PG_ND_MAX_EXTHDR 8   /* IPv6 extension headers before TCP */

/* ---- TPKT/COTP (parsers/cotp.c) ---- */
#define COTP_TPKT_MAX      65535
#define COTP_TSAP_MAX      32       /* longer TSAP parameters are refused */

/* ---- S7comm (parsers/s7comm.c) ---- */
#define S7_FILENAME_MAX       32    /* a block control file name is 9 bytes */
#define S7_SERVICE_MAX        32    /* PI service name ("_INSE", "P_PROGRAM") */
#define S7_PI_MAX_BLOCKS      64    /* blocks in one _INSE/_DELE */
#define S7_ASCII_LEN_MAX      9     /* digits of an ASCII length (fits uint32) */

/* ---- Modbus/TCP and UMAS (parsers/modbus.c) ---- */
#define PG_MB_LEN_SPEC_MAX    254    /* the standard's maximum */
/* Accepted maximum: modicon_test.pcap has two UMAS ADUs of length 255; the
 * few bytes of slack above that cost nothing and are counted when used. */
#define PG_MB_LEN_MAX         260
#define PG_MB_ADU_MAX         (6 + PG_MB_LEN_MAX)
#define PG_UMAS_NAME_MAX      64     /* engineering station name kept */
#define PG_MB_FILE_SUB_MAX    40     /* sub-requests in one file-record PDU (253/7) */
#define PG_MB_FILE_REC_MAX    0x270F /* highest record number (spec) */

/* ---- dBase tables and memos (parsers/dbase.c) ---- */
#define DBF_MAX_FIELDS   128u        /* field descriptors in one table */
#define DBF_MAX_RECLEN   65535u      /* the record length is a u16 */
#define DBT_MAX_MEMO     (16u << 20) /* one memo (MC7 code is < 64 KiB) */

/* ---- STEP 7 V5 projects (agent/step7.c) ---- */
#define PG_STEP7_TABLE_MAX (256u << 20)   /* one offline table or memo file */

/* ---- TCP flows (collectors/flow.c) ---- */
#define PG_FLOW_WIN_MAX     (64u << 10) /* delivered bytes kept per direction to
					   judge retransmissions (lazily grown) */
#define PG_FLOW_WIN_MIN     (2u << 10)  /* first window allocation */
#define PG_FLOW_MAX_SEGS    1024        /* out-of-order segments per direction */
#define PG_FLOW_MAX_AHEAD   (1u << 30)  /* farthest seq ahead we buffer (max TCP
					   window with scaling) */
#define PG_FLOW_RST_WINDOW  (1u << 20)  /* a RST farther than this from the next
					   expected seq is ignored (RFC 5961) */
#define PG_FLOW_TOMBSTONE_S 30          /* a closed flow keeps its tuple this long
					   so that late segments do not start a
					   spurious mid-stream flow */
#define PG_FLOW_CHECK_PKTS  4096        /* idle check at least this often */
#define PG_FLOW_MAX_BUCKETS (1u << 20)

/* ---- S7 sessions (collectors/s7sess.c) ---- */
#define PG_S7_STREAM_BUF      65536u   /* one TPKT is at most 65535 bytes */
#define PG_S7_STREAM_BUF_MIN  2048u
#define PG_S7_PDU_MAX         65536u   /* one reassembled COTP payload */
#define PG_S7_MAX_FRAGS       512u     /* non-empty DT TPDUs per PDU */
#define PG_S7_MAX_XFERS       64u      /* transfers in progress per flow */
#define PG_S7_MAX_JOBS        256u     /* outstanding jobs per flow */
#define PG_S7_XFER_SLACK      4096u    /* bytes tolerated over the announced length */
#define PG_S7_MAX_MALFORMED   64u      /* "s7.malformed" events per flow */
#define PG_S7_MAX_SLICES      65536u   /* slices in one block transfer */

/* ---- Modbus/UMAS sessions (collectors/mbsess.c) ---- */
#define PG_MB_TXN_MAX        256          /* outstanding requests per flow */
#define PG_MB_PROBE_BYTES    8192         /* unframeable bytes before giving up */
#define PG_UMAS_MAX_BLOCKS   65535        /* block numbers are 16-bit */
#define PG_UMAS_MAX_IMAGE    (64u << 20)  /* one application image */
#define PG_MB_FILE_MAX_FILES 16           /* files written per flow */
#define PG_MB_FILE_MAX_RECNO 0x270F       /* record numbers 0..9999 (Modbus spec) */
#define PG_MB_FILE_MAX_BYTES (1u << 20)   /* bytes kept per file */
/* ---- capture files (collectors/capture.c) ---- */
#define PG_CAP_READBUF  (1u << 20)  /* bytes per fread(); > the largest record */
#define PG_CAP_MINBUF   4096u       /* the buffer of a small file */
#define PG_CAP_MAXSNAP  262144u     /* libpcap's MAXIMUM_SNAPLEN */
#define PG_NG_MAXBLOCK  (16u << 20) /* libpcap's largest pcapng block */
#define PG_NG_MAXIF     4096u       /* interfaces in one pcapng section */
#define PG_NG_NOTES     16          /* link types announced per file */

/* ---- S7 block lifecycle (collectors/s7life.c) ---- */
#define PG_S7_MAX_FATES 256u             /* blocks followed per connection */
/* ---- the store index (agent/storeidx.c) ---- */
#define PG_MAX_INDEX_BYTES (1u << 30)
#define PG_MAX_INDEX_ENTRIES 10000000
#define IDX_MAX_ID 255                 /* bytes of a store entry id */
/* ---- trust anchors, CRLs, keys and signatures (agent/pki.c) ---- */
#define PKI_MAX_FILE       (16u << 20)   /* one trust / CRL / key file */
#define PKI_MAX_SIG        (1u << 20)    /* = PG_MAX_SIGNATURE_BYTES */
#define PKI_OCSP_MAX_RESP  (256u << 10)
#define PKI_MAX_DEPTH      8             /* certificates between leaf and anchor */

/* ---- the event bus (rules/bus.c) ---- */
#define PG_BUS_MAX_SUBS 8
#define PG_BUS_MAX_HELD 65536 /* events published from inside a subscriber, at once */

/* ---- the EWS watcher (agent/watch/) ---- */
#define PG_WSTATE_MAX_BYTES    (256u << 20) /* the state file */
#define PG_WSTATE_MAX_PROJECTS 1000000      /* projects remembered in it */
#define PG_WSTATE_MAX_PATH     4096         /* bytes of a project path */
#define PG_WATCH_MAX_CHANGES   50           /* changes listed in one file.tampered */
#define PG_WATCH_MAX_WRITERS   8            /* writing processes named per project */
#define PG_WATCH_DRAIN         4096         /* inotify events read before other work gets a turn */
#define PG_WATCH_MAX_CANDIDATES 100000      /* folders waiting to be looked at for file.unsigned */
#define PG_WATCH_MAX_UNSIGNED  100000       /* unsigned projects remembered (said once each) */

/* ---- Sigma rules (rules/sigma.c) ---- */
#define PG_SIGMA_MAX_FILE_BYTES  (1u << 20)  /* one rule file */
#define PG_SIGMA_MAX_DEPTH       16          /* YAML nesting in one document */
#define PG_SIGMA_MAX_NODES       20000       /* YAML nodes visited in one document (aliases count each time) */
#define PG_SIGMA_MAX_RULES       10000       /* rules in one set */
#define PG_SIGMA_MAX_DOCS        1000        /* YAML documents in one file */
#define PG_SIGMA_MAX_ITEMS       1024        /* search identifiers, fields in a map, values in a list */
#define PG_SIGMA_MAX_STR         65536       /* one string value, field name or condition */
#define PG_SIGMA_MAX_COND_DEPTH  64          /* parentheses and nots in a condition */
#define PG_SIGMA_MAX_FIELD_PARTS 16          /* dotted parts of a field name; modifiers per field */
#define PG_SIGMA_RE_MATCH_LIMIT  100000      /* PCRE2 match limit per value */
#define PG_SIGMA_RE_DEPTH_LIMIT  1000        /* PCRE2 backtracking depth limit */
#define PG_SIGMA_MAX_EVENT_LINE  (1u << 20)  /* one JSON line read by `rules test` */
#define PG_SIGMA_MAX_EVENT_DEPTH 32          /* event nesting walked by keyword searches */
#define PG_SIGMA_MAX_ERRORS      64          /* errors reported per file */

#endif
