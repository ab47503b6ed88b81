/*
 * event.h - the one event type.  Both sources (the file watcher and the wire
 * collector) produce it; the correlator and the sinks consume it.  Schema of
 * its JSON form: docs/EVENTS.md.  Keep the two in step.
 *
 * An event is built on the stack by a producer, handed to pg_sniff_emit()
 * (collectors/sniff.h), which numbers it, passes it to the sink, and then
 * clears it (frees `fields`).  `payload` is borrowed: it is valid only during
 * the emit call (the sink may hash, match or extract it, never keep it).
 */
#ifndef PG_EVENT_H
#define PG_EVENT_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <jansson.h>

enum pg_source { PG_SRC_WIRE = 1, PG_SRC_FILE = 2, PG_SRC_SELF = 3 };
enum pg_sev { PG_SEV_INFO = 0, PG_SEV_NOTICE = 1, PG_SEV_WARNING = 2, PG_SEV_ALERT = 3 };

#define PG_ADDR_STR 48

struct pg_endpoint {
	char addr[PG_ADDR_STR];   /* "10.0.0.5", "fd00::5"; "" when none */
	uint16_t port;
};

struct pg_event {
	uint64_t seq;              /* set by the emitter: 1, 2, 3 ... never reused */
	struct timespec ts;        /* packet time (or file event time), never "now" */
	enum pg_source source;
	enum pg_sev sev;
	const char *kind;          /* static string, e.g. "s7.block.download"; see EVENTS.md */
	const char *proto;         /* "s7comm", "s7comm-plus", "cotp", "modbus", "umas", "tcp", "capture"; NULL */
	uint64_t flow_id;          /* 0 when not about a flow */
	struct pg_endpoint src;    /* wire: the client side (engineering station, HMI) */
	struct pg_endpoint dst;    /* wire: the server side (PLC) */
	uint64_t frame;            /* 1-based frame number, counted across all input files, of the
				      packet that completed this event; 0 when none */
	char object[64];           /* "DB1", "application", "file 4", a path; "" when none */
	int64_t size;              /* bytes of the object; -1 when none */
	int has_sha256;
	uint8_t sha256[32];        /* plain SHA-256 of the transferred bytes */
	int has_fp;
	uint8_t strict[32];        /* MC7 strict hash (checksum zeroed) */
	uint8_t logic_fp[32];      /* MC7 logic fingerprint (same function as `register`) */
	const char *verdict;       /* NULL, or one of the PG_V_* strings below */
	char text[512];            /* one sentence for people */
	json_t *fields;            /* protocol-specific extra members (owned; may be NULL) */
	const uint8_t *payload;    /* borrowed transferred bytes (complete block or image) */
	size_t payload_len;
};

/* Verdict strings (compare by pointer or strcmp). */
#define PG_V_MATCHES      "matches"
#define PG_V_DIFFERS      "differs"
#define PG_V_UNKNOWN      "unknown"
#define PG_V_INCOMPLETE   "incomplete"
#define PG_V_UNVERIFIABLE "unverifiable"
#define PG_V_INVALID      "invalid"

/* Zero the event, size = -1.  Call before filling it. */
void pg_event_init(struct pg_event *ev);
/* Free `fields` and zero again. */
void pg_event_clear(struct pg_event *ev);
/* printf into ev->text (truncates safely). */
void pg_event_text(struct pg_event *ev, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Extra members: create ev->fields on first use.  String values are copied
 * and made safe (invalid UTF-8 / control bytes escaped as \xNN). */
void pg_event_set_str(struct pg_event *ev, const char *key, const char *val);
void pg_event_set_strn(struct pg_event *ev, const char *key, const char *val, size_t n);
void pg_event_set_int(struct pg_event *ev, const char *key, long long val);
void pg_event_set_bool(struct pg_event *ev, const char *key, int val);
void pg_event_set_hex(struct pg_event *ev, const char *key, const uint8_t *p, size_t n);
void pg_event_set_json(struct pg_event *ev, const char *key, json_t *val); /* steals val */

const char *pg_sev_name(enum pg_sev s);      /* "info", "notice", "warning", "alert" */
const char *pg_source_name(enum pg_source s);/* "wire", "file", "self" */

/* One JSON object (no newline); caller frees with free(). */
char *pg_event_json(const struct pg_event *ev);
/* One human line (no newline) into buf. */
char *pg_event_human(const struct pg_event *ev, char *buf, size_t n);
/* RFC 3339 UTC with microseconds: "2014-08-20T09:59:59.992327Z". */
char *pg_ts_str(const struct timespec *ts, char *buf, size_t n);

#endif
