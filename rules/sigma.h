/*
 * sigma.h - single-event Sigma rules (Sigma v2.1, the subset in docs/RULES.md)
 * over the JSON form of plcguard events (docs/EVENTS.md).
 *
 * A set is loaded from YAML files (one or more documents each); every error
 * says FILE:LINE: field: what is wrong.  Loading compiles each rule (patterns,
 * regular expressions, CIDR ranges, the condition tree), so matching does no
 * parsing.  Correlation rules, rule collections (action:) and filters are
 * refused in this version.
 */
#ifndef PG_SIGMA_H
#define PG_SIGMA_H

#include <stddef.h>
#include <jansson.h>

struct pg_sigma_rule;
struct pg_sigma_set;

struct pg_sigma_set *pg_sigma_set_new(void);
void pg_sigma_set_free(struct pg_sigma_set *set);

/*
 * Parse BUF (LEN bytes, the content of the file called NAME) and add its valid
 * rules to SET.  Returns the number of errors (0: every document is a valid
 * rule); their text, one "NAME:LINE: field: message" per line, is written to
 * ERR (truncated to ERRSZ).  -1 and "out of memory" when memory ran out.
 */
int pg_sigma_load_buf(struct pg_sigma_set *set, const char *name, const char *buf, size_t len,
		      char *err, size_t errsz);
/* The same for a file on disk (at most PG_SIGMA_MAX_FILE_BYTES). */
int pg_sigma_load_file(struct pg_sigma_set *set, const char *path, char *err, size_t errsz);

size_t pg_sigma_count(const struct pg_sigma_set *set);
const struct pg_sigma_rule *pg_sigma_get(const struct pg_sigma_set *set, size_t i);

const char *pg_sigma_rule_id(const struct pg_sigma_rule *r);     /* "" when absent */
const char *pg_sigma_rule_title(const struct pg_sigma_rule *r);
const char *pg_sigma_rule_level(const struct pg_sigma_rule *r);  /* "" when absent */
const char *pg_sigma_rule_service(const struct pg_sigma_rule *r);/* wire, file, health */
const char *pg_sigma_rule_file(const struct pg_sigma_rule *r);

/*
 * The logsource service of an event: its `source` member, wire -> "wire",
 * file -> "file", self -> "health"; NULL for anything else.
 */
const char *pg_sigma_event_service(const json_t *event);

/* 1 when EVENT (a JSON object) is of the rule's service and its condition holds. */
int pg_sigma_match(const struct pg_sigma_rule *r, const json_t *event);

#endif
