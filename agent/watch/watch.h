/*
 * watch.h - the EWS watcher behind `plcguard watch`: re-verifies registered
 * projects at rest the moment they change, and publishes what it finds on the
 * event bus (rules/bus.h), in the same schema and numbering as `sniff`.
 *
 *   inotify (libinotifytools: recursive watches, moves, new folders)
 *     -> the project the path belongs to, marked dirty
 *     -> after a quiet moment (debounce) the project is verified again
 *        (agent/verify.h) and an event is published when what it found
 *        changed: file.verified, file.tampered, file.missing,
 *        file.unreadable, baseline.invalid/revoked/expired
 *   fanotify (when the process may use it): the pid, uid and program that
 *     wrote into a project, named in its next finding
 *   a project-like file or folder appearing under a watched root without a
 *     baseline: file.unsigned
 *   nothing lost silently: a kernel queue overflow (watch.overflow) and a
 *     folder that could not be watched (watch.limit) lead to rescans; a
 *     periodic full rescan is the safety net; the state saved at stop (--state)
 *     says on the next start what changed while the watcher was down
 *     (watch.catchup)
 *   health: agent.start, agent.heartbeat, agent.reload, agent.stop
 *
 * One watcher per process (libinotifytools keeps global state).
 */
#ifndef PG_WATCH_H
#define PG_WATCH_H

#include <signal.h>
#include <stddef.h>

#include "bus.h"

struct pg_watch_cfg {
	const char *trust, *crl, *store;  /* store NULL: pg_store_default() */
	int ocsp, rev_warn;
	const char *state_file;           /* NULL: no state kept */
	const char *const *roots;         /* NULL/0: the registered projects */
	size_t n_roots;
	int jobs;                         /* hashing threads */
	int debounce_ms;                  /* quiet time before a re-verification */
	int max_delay_ms;                 /* longest a busy project waits */
	int rescan_s;                     /* full rescan period, 0: never */
	int deep_rescan_s;                /* the first rescan after this many
					   * seconds hashes every file (0: every
					   * rescan does); others hash what moved */
	int limit_rescan_s;               /* rescan period of what is not watched */
	int heartbeat_s;                  /* 0: none */
	int once;                         /* catch up, verify everything, stop */
	int no_fanotify;                  /* do not try fanotify */
};

void pg_watch_cfg_defaults(struct pg_watch_cfg *c);

struct pg_watch;

/* Load trust, CRLs, store and state, set up the watches.  NULL with err on a
 * failure that makes watching impossible (no trust anchors, no inotify). */
struct pg_watch *pg_watch_open(const struct pg_watch_cfg *cfg, struct pg_bus *bus,
			       char *err, size_t errlen);
/* Run until pg_watch_stop (or SIGTERM/SIGINT, which it handles itself, as
 * it handles SIGHUP: reload).  0 on a clean stop; -1 on an error that ended
 * it (err).  With cfg->once: returns after the first full pass. */
int pg_watch_run(struct pg_watch *w, char *err, size_t errlen);
/* The worst finding of the run: 0 none, 1 a project was not verified clean. */
int pg_watch_findings(const struct pg_watch *w);
/* Ask the loop to stop (async-signal-safe). */
void pg_watch_stop(struct pg_watch *w);
void pg_watch_close(struct pg_watch *w);

#endif
