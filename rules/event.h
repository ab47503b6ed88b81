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

/*
 * Every kind of event, with its name (docs/EVENTS.md) and what it is.  One
 * list: the enum, the name table and the flags are made from it.
 *   T  a transfer of logic whose bytes are judged against the baselines
 *   U  the transfer goes from the PLC to the station (an upload)
 */
#define PG_KIND_LIST(X) \
	X(CAPTURE_FILE,         "capture.file",          0) \
	X(CAPTURE_INTERFACE,    "capture.interface",     0) \
	X(CAPTURE_LIVE,         "capture.live",          0) \
	X(CAPTURE_ERROR,        "capture.error",         0) \
	X(CAPTURE_DROPS,        "capture.drops",         0) \
	X(SNIFF_MEMCAP,         "sniff.memcap",          0) \
	X(SNIFF_SUMMARY,        "sniff.summary",         0) \
	X(SENSOR_HEARTBEAT,     "sensor.heartbeat",      0) \
	X(BASELINE_INVALID,     "baseline.invalid",      0) \
	X(FLOW_TIMEOUT,         "flow.timeout",          0) \
	X(FLOW_EVICTED,         "flow.evicted",          0) \
	X(TCP_GAP,              "tcp.gap",               0) \
	X(TCP_OVERLAP_CONFLICT, "tcp.overlap_conflict",  0) \
	X(COTP_CONNECT,         "cotp.connect",          0) \
	X(S7_SETUP,             "s7.setup",              0) \
	X(S7_PDU,               "s7.pdu",                0) \
	X(S7_ERROR,             "s7.error",              0) \
	X(S7_LIMIT,             "s7.limit",              0) \
	X(S7_MALFORMED,         "s7.malformed",          0) \
	X(S7_PI,                "s7.pi",                 0) \
	X(S7_PLC_STOP,          "s7.plc.stop",           0) \
	X(S7_PLC_START,         "s7.plc.start",          0) \
	X(S7_DOWNLOAD_REQUEST,  "s7.download.request",   0) \
	X(S7_DOWNLOAD_REFUSED,  "s7.download.refused",   0) \
	X(S7_DOWNLOAD_END,      "s7.download.end",       0) \
	X(S7_UPLOAD_START,      "s7.upload.start",       0) \
	X(S7_UPLOAD_END,        "s7.upload.end",         0) \
	X(S7_BLOCK_DOWNLOAD,    "s7.block.download",     PG_KF_TRANSFER) \
	X(S7_BLOCK_UPLOAD,      "s7.block.upload",       PG_KF_TRANSFER | PG_KF_UPLOAD) \
	X(S7_BLOCK_ACTIVATE,    "s7.block.activate",     0) \
	X(S7_BLOCK_DELETE,      "s7.block.delete",       0) \
	X(S7_SESSION_BLOCKS,    "s7.session.blocks",     0) \
	X(S7PLUS_SESSION,       "s7plus.session",        0) \
	X(MODBUS_PDU,           "modbus.pdu",            0) \
	X(MODBUS_EXCEPTION,     "modbus.exception",      0) \
	X(MODBUS_LIMIT,         "modbus.limit",          0) \
	X(MODBUS_MALFORMED,     "modbus.malformed",      0) \
	X(MODBUS_NOT_MODBUS,    "modbus.not_modbus",     0) \
	X(MODBUS_FILE_WRITE,    "modbus.file.write",     PG_KF_TRANSFER) \
	X(UMAS_RESERVE,         "umas.reserve",          0) \
	X(UMAS_RELEASE,         "umas.release",          0) \
	X(UMAS_PLC_STOP,        "umas.plc.stop",         0) \
	X(UMAS_PLC_START,       "umas.plc.start",        0) \
	X(UMAS_APP_DOWNLOAD,    "umas.app.download",     PG_KF_TRANSFER) \
	X(UMAS_APP_UPLOAD,      "umas.app.upload",       PG_KF_TRANSFER | PG_KF_UPLOAD) \
	X(AGENT_START,          "agent.start",           0) \
	X(AGENT_STOP,           "agent.stop",            0) \
	X(AGENT_HEARTBEAT,      "agent.heartbeat",       0) \
	X(AGENT_RELOAD,         "agent.reload",          0) \
	X(FILE_VERIFIED,        "file.verified",         0) \
	X(FILE_TAMPERED,        "file.tampered",         0) \
	X(FILE_MISSING,         "file.missing",          0) \
	X(FILE_UNREADABLE,      "file.unreadable",       0) \
	X(FILE_UNSIGNED,        "file.unsigned",         0) \
	X(BASELINE_REVOKED,     "baseline.revoked",      0) \
	X(BASELINE_EXPIRED,     "baseline.expired",      0) \
	X(WATCH_OVERFLOW,       "watch.overflow",        0) \
	X(WATCH_LIMIT,          "watch.limit",           0) \
	X(WATCH_CATCHUP,        "watch.catchup",         0) \
	X(WATCH_ERROR,          "watch.error",           0)

#define PG_KF_TRANSFER 1u
#define PG_KF_UPLOAD   2u

enum pg_kind {
	PG_K_NONE = 0,             /* printed as "unknown" */
#define PG_KIND_ENUM(id, name, flags) PG_K_##id,
	PG_KIND_LIST(PG_KIND_ENUM)
#undef PG_KIND_ENUM
	PG_K_COUNT
};

/* The verdict on transferred logic against the signed baselines. */
enum pg_verdict {
	PG_VERDICT_NONE = 0,       /* not a judged transfer (no "verdict" member) */
	PG_VERDICT_MATCHES,        /* the bytes are a signed baseline's */
	PG_VERDICT_DIFFERS,        /* the same object in a baseline, other bytes */
	PG_VERDICT_UNKNOWN,        /* in no baseline */
	PG_VERDICT_INCOMPLETE,     /* bytes missing from the capture */
	PG_VERDICT_UNVERIFIABLE,   /* content not visible (S7comm-plus, TLS) */
	PG_VERDICT_INVALID,        /* the bytes are not a valid object */
	PG_VERDICT_COUNT
};

/* The baseline an event was judged against (a transfer) or verified against
 * (a file event), typed for the correlator; its JSON form is the event's
 * "baseline" member (docs/EVENTS.md).  id "" when none. */
struct pg_baseline_ref {
	char id[256];              /* store entry id */
	char ticket[256];          /* change ticket; "" when none */
	int has_window;
	int64_t win_from, win_to;  /* change window, UTC seconds */
	int in_window;             /* the event's time inside the window: 1, 0; -1 no window */
	int target_listed;         /* the PLC is among its targets: 1, 0; -1 not known */
};

/* Who observed the events of a run: one per bus (rules/bus.h). */
struct pg_observer {
	char run[33];              /* 128 random bits in hex, new at each start: a
				    * seq that starts again at 1 is visibly a new run */
	char host[256];            /* the host name where plcguard runs */
};

struct pg_event {
	uint64_t seq;              /* set by the bus: 1, 2, 3 ... never reused */
	const struct pg_observer *obs; /* set by the bus; NULL: not published */
	struct timespec ts;        /* packet time (or file event time), never "now" */
	enum pg_source source;
	enum pg_sev sev;
	enum pg_kind kind;         /* PG_K_S7_BLOCK_DOWNLOAD ...; names: pg_kind_name() */
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
	enum pg_verdict verdict;   /* PG_VERDICT_NONE unless a judged transfer */
	struct pg_baseline_ref base; /* what it was judged against; base.id "" none */
	char text[512];            /* one sentence for people */
	json_t *fields;            /* protocol-specific extra members (owned; may be NULL) */
	const uint8_t *payload;    /* borrowed transferred bytes (complete block or image) */
	size_t payload_len;
};

/* "s7.block.download"; "unknown" for PG_K_NONE or a value out of range. */
const char *pg_kind_name(enum pg_kind k);
/* The kind of a name, PG_K_NONE when there is none. */
enum pg_kind pg_kind_from_name(const char *name);
unsigned pg_kind_flags(enum pg_kind k);
static inline int pg_kind_is_transfer(enum pg_kind k)
{
	return (pg_kind_flags(k) & PG_KF_TRANSFER) != 0;
}
/* "matches", ...; NULL for PG_VERDICT_NONE. */
const char *pg_verdict_name(enum pg_verdict v);

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
/* A copy of s made safe the same way (for strings put inside a JSON value
 * given to pg_event_set_json); malloc'd, NULL when memory is short. */
char *pg_event_safe(const char *s);

const char *pg_sev_name(enum pg_sev s);      /* "info", "notice", "warning", "alert" */
const char *pg_source_name(enum pg_source s);/* "wire", "file", "self" */

/* One JSON object (no newline); caller frees with free(). */
char *pg_event_json(const struct pg_event *ev);
/* One human line (no newline) into buf. */
char *pg_event_human(const struct pg_event *ev, char *buf, size_t n);
/* RFC 3339 UTC with microseconds: "2014-08-20T09:59:59.992327Z". */
char *pg_ts_str(const struct timespec *ts, char *buf, size_t n);

#endif
