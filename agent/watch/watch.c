/*
 * watch.c - the EWS watcher (watch.h).
 *
 * One thread, one poll loop over: the inotify descriptor that libinotifytools
 * reads, a signalfd (TERM/INT stop, HUP reload), and a fanotify descriptor
 * when the process may have one.  Time-driven work (debounced
 * re-verifications, heartbeats, rescans, saving the state) is done when its
 * deadline comes; poll sleeps until the nearest one.
 *
 * What is remembered per project (path, status, content digest, baseline id)
 * decides what is published: an event when the status, the content or the
 * baseline changes, never twice for the same finding, so a periodic rescan
 * or a burst of identical saves adds no noise and a real change is never
 * absorbed.
 */
#define _GNU_SOURCE
#include "watch.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inotifytools/inotify.h>
#include <inotifytools/inotifytools.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fanotify.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "digest.h"
#include "pg_limits.h"
#include "pki.h"
#include "store.h"
#include "util.h"
#include "plcopen.h"
#include "verify.h"
#include "wstate.h"

#define WMASK (IN_CLOSE_WRITE | IN_MODIFY | IN_ATTRIB | IN_CREATE | IN_DELETE | \
	       IN_MOVED_FROM | IN_MOVED_TO | IN_DELETE_SELF | IN_MOVE_SELF)

struct writer {
	int pid;
	long uid;
	char exe[256];
	int exited;
};

struct wproj {
	char *path;                /* absolute; the manifest's project path */
	size_t plen;
	int is_dir;
	int watched;               /* its watches are in place */
	int partial;               /* some folder of it could not be watched */
	/* what was last found (or read from the state) */
	int known;
	enum pg_wstatus st;
	int has_digest;
	uint8_t digest[32];
	char *bid;                 /* baseline judged against */
	unsigned flags;            /* PG_WSF_* */
	struct pg_scan_cache *cache; /* its files as last scanned: a change
				      * re-hashes only what moved (scan.h) */
	/* pending change */
	int dirty;
	const char *trigger;       /* "inotify", "rescan", "overflow", ... */
	struct timespec first, last;
	struct writer writers[PG_WATCH_MAX_WRITERS];
	size_t n_writers;
	int writers_more;
};

struct cand {                      /* a path to look at for file.unsigned */
	char *path;
	struct timespec last;
};

struct pg_watch {
	struct pg_watch_cfg cfg;
	struct pg_bus *bus;
	char *store_dir;
	struct pki_trust *t;
	struct pg_store st;
	int have_store;
	struct wproj *p;           /* sorted by path */
	size_t np;
	char **roots;              /* absolute */
	size_t nroots;
	struct cand *cands;
	size_t ncands, capcands;
	size_t *cidx;              /* open addressing over cands by path: index + 1 */
	size_t cidx_cap;           /* a power of two, at least twice ncands; 0 none */
	char **said_unsigned;      /* sorted: paths reported as file.unsigned */
	size_t nsaid, capsaid;
	int unsigned_cap_said;     /* PG_WATCH_MAX_UNSIGNED reached, said */
	struct pg_wstate prev;     /* state at the last stop */
	int have_prev;
	int ifd, sfd, ffd;         /* inotify (libinotifytools'), signalfd, fanotify */
	char fan_note[200];        /* why there is no writer attribution */
	volatile sig_atomic_t stop;
	int reload;
	const char *stop_reason;
	char *crl_real, *store_real;  /* watched: a change there reloads */
	int reload_due;
	struct timespec reload_at;
	int findings;
	int state_dirty;
	struct timespec start, last_save, next_hb, next_rescan, next_limit, next_deep;
	int limit_said;
	unsigned long long limit_quiet;   /* folders not watched since said */
	struct timespec last_limit;
	int queue_max;                    /* max_queued_events of our instance */
	unsigned long long overflows, overflows_said, rescans, verifications;
	char moved_from[PATH_MAX];
	uint32_t moved_cookie;
	int io_error;
	char err[600];
};

/* ------------------------------------------------------------ time -- */

static struct timespec now_mono(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t;
}

static long long ms_between(struct timespec a, struct timespec b)
{
	return (long long)(b.tv_sec - a.tv_sec) * 1000 + (b.tv_nsec - a.tv_nsec) / 1000000;
}

static struct timespec add_ms(struct timespec t, long long ms)
{
	t.tv_sec += ms / 1000;
	t.tv_nsec += (ms % 1000) * 1000000;
	if (t.tv_nsec >= 1000000000) {
		t.tv_sec++;
		t.tv_nsec -= 1000000000;
	}
	return t;
}

void pg_watch_cfg_defaults(struct pg_watch_cfg *c)
{
	memset(c, 0, sizeof *c);
	c->jobs = 2;
	c->debounce_ms = 300;
	c->max_delay_ms = 5000;
	c->rescan_s = 3600;
	c->deep_rescan_s = 86400;
	c->limit_rescan_s = 60;
	c->heartbeat_s = 60;
}

/* --------------------------------------------------------- events -- */

static void ev_start(struct pg_event *ev, enum pg_source src, enum pg_kind kind,
		     enum pg_sev sev)
{
	pg_event_init(ev);
	ev->source = src;
	ev->kind = kind;
	ev->sev = sev;
	clock_gettime(CLOCK_REALTIME, &ev->ts);
}

static void set_object(struct pg_event *ev, const char *path)
{
	const char *slash = strrchr(path, '/');
	snprintf(ev->object, sizeof ev->object, "%s", slash && slash[1] ? slash + 1 : path);
}

static void publish(struct pg_watch *w, struct pg_event *ev)
{
	pg_bus_publish(w->bus, ev);
}

/* ------------------------------------------------------- projects -- */

static int cmp_proj(const void *a, const void *b)
{
	return strcmp(((const struct wproj *)a)->path, ((const struct wproj *)b)->path);
}

static struct wproj *find_exact(struct pg_watch *w, const char *path)
{
	struct wproj key = { .path = (char *)path };
	return w->np ? bsearch(&key, w->p, w->np, sizeof *w->p, cmp_proj) : NULL;
}

/* The project that path lies in (the path itself, or a folder above it). */
static struct wproj *project_of(struct pg_watch *w, const char *path)
{
	char buf[PATH_MAX];
	size_t n = strlen(path);
	if (n >= sizeof buf)
		return NULL;
	memcpy(buf, path, n + 1);
	while (n > 1 && buf[n - 1] == '/')
		buf[--n] = 0;
	for (;;) {
		struct wproj *p = find_exact(w, buf);
		if (p)
			return p;
		char *slash = strrchr(buf, '/');
		if (!slash || slash == buf)
			return NULL;
		*slash = 0;
	}
}

static void mark_dirty(struct pg_watch *w, struct wproj *p, const char *trigger)
{
	struct timespec t = now_mono();
	if (!p->dirty) {
		p->dirty = 1;
		p->first = t;
		p->trigger = trigger;
	}
	p->last = t;
	(void)w;
}

static void mark_all(struct pg_watch *w, const char *trigger)
{
	for (size_t i = 0; i < w->np; i++)
		mark_dirty(w, &w->p[i], trigger);
}

/* ------------------------------------------------- writer (fanotify) -- */

static void fan_open(struct pg_watch *w)
{
	w->ffd = -1;
	if (w->cfg.no_fanotify) {
		snprintf(w->fan_note, sizeof w->fan_note, "disabled (--no-fanotify)");
		return;
	}
	int fd = fanotify_init(FAN_CLASS_NOTIF | FAN_CLOEXEC | FAN_NONBLOCK, O_RDONLY | O_LARGEFILE);
	if (fd < 0) {
		snprintf(w->fan_note, sizeof w->fan_note,
			 "fanotify unavailable (%s; needs CAP_SYS_ADMIN): inotify alone, writers not named",
			 strerror(errno));
		return;
	}
	size_t marked = 0;
	for (size_t i = 0; i < w->np; i++) {
		const char *path = w->p[i].path;
		if (fanotify_mark(fd, FAN_MARK_ADD | FAN_MARK_MOUNT, FAN_MODIFY | FAN_CLOSE_WRITE,
				  AT_FDCWD, path) == 0)
			marked++;
	}
	for (size_t i = 0; i < w->nroots; i++)
		if (fanotify_mark(fd, FAN_MARK_ADD | FAN_MARK_MOUNT, FAN_MODIFY | FAN_CLOSE_WRITE,
				  AT_FDCWD, w->roots[i]) == 0)
			marked++;
	if (!marked) {
		snprintf(w->fan_note, sizeof w->fan_note,
			 "fanotify could not mark the projects' mounts: inotify alone, writers not named");
		close(fd);
		return;
	}
	w->ffd = fd;
}

static void note_writer(struct wproj *p, int pid)
{
	for (size_t i = 0; i < p->n_writers; i++)
		if (p->writers[i].pid == pid)
			return;
	if (p->n_writers == PG_WATCH_MAX_WRITERS) {
		p->writers_more = 1;
		return;
	}
	struct writer *wr = &p->writers[p->n_writers++];
	memset(wr, 0, sizeof *wr);
	wr->pid = pid;
	wr->uid = -1;
	char path[64];
	snprintf(path, sizeof path, "/proc/%d/exe", pid);
	ssize_t n = readlink(path, wr->exe, sizeof wr->exe - 1);
	wr->exe[n > 0 ? n : 0] = 0;
	/* fanotify reports asynchronously: a short-lived writer (sed -i, cp)
	 * may be gone before its event is read. Say so rather than guess. */
	wr->exited = n <= 0 && errno == ENOENT;
	snprintf(path, sizeof path, "/proc/%d", pid);
	struct stat st;
	if (stat(path, &st) == 0)
		wr->uid = (long)st.st_uid;
}

static void fan_read(struct pg_watch *w)
{
	char buf[8192] __attribute__((aligned(__alignof__(struct fanotify_event_metadata))));
	for (;;) {
		ssize_t len = read(w->ffd, buf, sizeof buf);
		if (len <= 0)
			return;
		struct fanotify_event_metadata *m = (struct fanotify_event_metadata *)buf;
		for (; FAN_EVENT_OK(m, len); m = FAN_EVENT_NEXT(m, len)) {
			if (m->vers != FANOTIFY_METADATA_VERSION)
				return;
			if (m->fd < 0)
				continue;
			char lnk[64], path[PATH_MAX];
			snprintf(lnk, sizeof lnk, "/proc/self/fd/%d", m->fd);
			ssize_t n = readlink(lnk, path, sizeof path - 1);
			close(m->fd);
			if (n <= 0 || m->pid == getpid())
				continue;
			path[n] = 0;
			struct wproj *p = project_of(w, path);
			if (p)
				note_writer(p, m->pid);
		}
	}
}

/* --------------------------------------------------------- inotify -- */

/* The descriptor libinotifytools opened: the inotify instance that was not
 * there before it was initialised. */
static int inotify_fds(int *v, int max)
{
	int n = 0;
	DIR *d = opendir("/proc/self/fd");
	if (!d)
		return 0;
	struct dirent *e;
	while ((e = readdir(d)) && n < max) {
		char lnk[300], tgt[64];
		snprintf(lnk, sizeof lnk, "/proc/self/fd/%s", e->d_name);
		ssize_t k = readlink(lnk, tgt, sizeof tgt - 1);
		if (k <= 0)
			continue;
		tgt[k] = 0;
		if (strcmp(tgt, "anon_inode:inotify") == 0)
			v[n++] = atoi(e->d_name);
	}
	closedir(d);
	return n;
}

static int inotify_open(struct pg_watch *w)
{
	int before[64], after[64];
	int nb = inotify_fds(before, 64);
	/* the kernel sizes the queue of the new instance from this, now */
	FILE *qf = fopen("/proc/sys/fs/inotify/max_queued_events", "re");
	if (!qf || fscanf(qf, "%d", &w->queue_max) != 1)
		w->queue_max = -1;
	if (qf)
		fclose(qf);
	if (!inotifytools_initialize())
		return -1;
	int na = inotify_fds(after, 64);
	w->ifd = -1;
	for (int i = 0; i < na; i++) {
		int seen = 0;
		for (int k = 0; k < nb; k++)
			if (before[k] == after[i])
				seen = 1;
		if (!seen)
			w->ifd = after[i];
	}
	return w->ifd < 0 ? -1 : 0;
}

static void say_limit(struct pg_watch *w, const char *path, int e)
{
	/* at most once a minute: a limit that is hit is hit again at every
	 * rescan; the folders not watched meanwhile are counted */
	struct timespec t = now_mono();
	if (w->limit_said && ms_between(w->last_limit, t) < 60000) {
		w->limit_quiet++;
		return;
	}
	w->last_limit = t;
	w->limit_said = 1;
	unsigned long long quiet = w->limit_quiet;
	w->limit_quiet = 0;
	struct pg_event ev;
	ev_start(&ev, PG_SRC_SELF, e == ENOSPC ? PG_K_WATCH_LIMIT : PG_K_WATCH_ERROR, PG_SEV_WARNING);
	set_object(&ev, path);
	pg_event_set_str(&ev, "path", path);
	pg_event_set_int(&ev, "watches", inotifytools_get_num_watches());
	if (e == ENOSPC) {
		pg_event_set_int(&ev, "max_user_watches", inotifytools_get_max_user_watches());
		pg_event_set_int(&ev, "rescan_s", w->cfg.limit_rescan_s);
		pg_event_set_int(&ev, "not_said", (long long)quiet);
		pg_event_text(&ev, "cannot watch all of %s: the inotify watch limit (fs.inotify.max_user_watches = %d) "
			      "is reached; what is not watched is rescanned every %d s",
			      path, inotifytools_get_max_user_watches(), w->cfg.limit_rescan_s);
	} else {
		pg_event_set_str(&ev, "error", strerror(e));
		pg_event_text(&ev, "cannot watch %s: %s; it is rescanned every %d s", path, strerror(e),
			      w->cfg.limit_rescan_s);
	}
	publish(w, &ev);
}

/* Watch a folder and everything below it; 0, or -1 when some of it could not
 * be watched (reported). */
static int watch_tree(struct pg_watch *w, const char *path)
{
	struct stat st;
	if (lstat(path, &st) != 0 || !S_ISDIR(st.st_mode))
		return 0;
	int e = 0;
	for (int tries = 0; tries < 3; tries++) {
		if (inotifytools_watch_recursively(path, WMASK))
			return 0;
		e = inotifytools_error();
		if (e != ENOENT)
			break;
		/* A folder under it went while it was walked, and the walk stopped
		 * there, its later siblings unwatched: walk again while the folder
		 * itself is still there (its events say what went). */
		if (lstat(path, &st) != 0 || !S_ISDIR(st.st_mode))
			return 0;   /* gone meanwhile: its parent's events say so */
	}
	say_limit(w, path, e);
	return -1;
}

static void watch_project(struct pg_watch *w, struct wproj *p)
{
	struct stat st;
	char parent[PATH_MAX];
	snprintf(parent, sizeof parent, "%s", p->path);
	char *slash = strrchr(parent, '/');
	if (slash)
		*(slash == parent ? slash + 1 : slash) = 0;
	/* The folder above: the project itself deleted, moved out and back,
	 * or (a single-file project) saved by writing a new file over it. */
	if (!inotifytools_watch_file(parent, WMASK)) { /* the same mask everywhere: re-adding a
							 * watch replaces its mask */
		int e = inotifytools_error();
		if (e != ENOENT) {
			say_limit(w, parent, e);
			p->partial = 1;
		}
	}
	if (lstat(p->path, &st) == 0 && S_ISDIR(st.st_mode)) {
		p->is_dir = 1;
		if (watch_tree(w, p->path) < 0)
			p->partial = 1;
	}
	p->watched = 1;
}

/* ------------------------------------------------- unsigned things -- */

static int has_suffix_num(const char *name, const char *stem)
{
	const char *dot = strrchr(name, '.');
	size_t sl = strlen(stem);
	if (!dot || strncasecmp(dot + 1, stem, sl) != 0)
		return 0;
	const char *d = dot + 1 + sl;
	if (!*d)
		return 0;
	for (; *d; d++)
		if (*d < '0' || *d > '9')
			return 0;
	return 1;
}

static int plcopen_xml(const char *path)
{
	const char *dot = strrchr(path, '.');
	if (!dot || strcasecmp(dot, ".xml") != 0)
		return 0;
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return 0;
	uint8_t buf[8192];  /* plcopen_sniff's window */
	ssize_t n = read(fd, buf, sizeof buf);
	close(fd);
	/* the same content test as a scan's (parsers/plcopen.c, through the
	 * cursor): what register would take for PLCopen XML */
	return n > 0 && plcopen_sniff(buf, (size_t)n);
}

/* A file that is a project by itself: TIA archives, a PLCopen XML. */
static int project_file(const char *path)
{
	const char *slash = strrchr(path, '/');
	const char *name = slash ? slash + 1 : path;
	return has_suffix_num(name, "zap") || has_suffix_num(name, "zal") ||
	       has_suffix_num(name, "ap") || plcopen_xml(path);
}

static struct wproj *find_exact(struct pg_watch *w, const char *path);

/* A folder that is a project: it holds a STEP 7 or TIA project file, the
 * STEP 7 offline block tables, or a PLCopen XML that is not a registered
 * project of its own (a folder of registered projects is not one). */
static int project_dir(struct pg_watch *w, const char *path)
{
	DIR *d = opendir(path);
	if (!d)
		return 0;
	int yes = 0;
	struct dirent *e;
	char full[PATH_MAX];
	while (!yes && (e = readdir(d))) {
		const char *dot = strrchr(e->d_name, '.');
		int marker = strcmp(e->d_name, "ombstx") == 0 || (dot && strcasecmp(dot, ".s7p") == 0) ||
			     has_suffix_num(e->d_name, "ap");
		int xml = !marker && dot && strcasecmp(dot, ".xml") == 0;
		if ((!marker && !xml) ||
		    (size_t)snprintf(full, sizeof full, "%s/%s", path, e->d_name) >= sizeof full ||
		    find_exact(w, full))
			continue;
		yes = marker || plcopen_xml(full);
	}
	closedir(d);
	return yes;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int said_unsigned(struct pg_watch *w, const char *path)
{
	return w->nsaid &&
	       bsearch(&path, w->said_unsigned, w->nsaid, sizeof *w->said_unsigned, cmp_str) != NULL;
}

static void say_unsigned(struct pg_watch *w, const char *path, int is_dir)
{
	if (said_unsigned(w, path))
		return;
	if (w->nsaid >= PG_WATCH_MAX_UNSIGNED) {
		/* remembered no more: said once, not again at every rescan */
		if (!w->unsigned_cap_said) {
			struct pg_event ev;
			ev_start(&ev, PG_SRC_SELF, PG_K_WATCH_ERROR, PG_SEV_WARNING);
			set_object(&ev, path);
			pg_event_set_str(&ev, "path", path);
			pg_event_set_int(&ev, "unsigned", (long long)w->nsaid);
			pg_event_text(&ev, "more than %d unsigned projects under the watched roots: "
				      "further ones (%s first) are not reported one by one",
				      PG_WATCH_MAX_UNSIGNED, path);
			publish(w, &ev);
			w->unsigned_cap_said = 1;
		}
		w->findings = 1;
		return;
	}
	if (w->nsaid == w->capsaid) {
		size_t nc = w->capsaid ? w->capsaid * 2 : 16;
		char **v = realloc(w->said_unsigned, nc * sizeof *v);
		if (!v)
			return;
		w->said_unsigned = v;
		w->capsaid = nc;
	}
	char *dup = strdup(path);
	if (!dup)
		return;
	size_t i = w->nsaid;
	while (i > 0 && strcmp(w->said_unsigned[i - 1], path) > 0) {
		w->said_unsigned[i] = w->said_unsigned[i - 1];
		i--;
	}
	w->said_unsigned[i] = dup;
	w->nsaid++;
	w->findings = 1;
	struct pg_event ev;
	ev_start(&ev, PG_SRC_FILE, PG_K_FILE_UNSIGNED, PG_SEV_WARNING);
	set_object(&ev, path);
	pg_event_set_str(&ev, "path", path);
	pg_event_set_str(&ev, "status", "unsigned");
	pg_event_text(&ev, "%s %s looks like a PLC project but has no signed baseline in the store",
		      is_dir ? "folder" : "file", path);
	publish(w, &ev);
}

/* Look at path (and, for a folder that is not a project, what is below it,
 * a few levels deep) for projects that have no baseline. */
static void look_for_unsigned(struct pg_watch *w, const char *path, int depth)
{
	struct stat st;
	if (depth > 4 || lstat(path, &st) != 0)
		return;
	struct wproj *p = project_of(w, path);
	if (p)
		return;             /* inside a registered project: its own finding */
	if (S_ISREG(st.st_mode)) {
		if (depth > 0) {
			/* found by walking a folder that is not a project */
			if (project_file(path))
				say_unsigned(w, path, 0);
			return;
		}
		/* the project file of a project folder: the folder is the project */
		char parent[PATH_MAX];
		snprintf(parent, sizeof parent, "%s", path);
		char *slash = strrchr(parent, '/');
		if (slash && slash != parent) {
			*slash = 0;
			if (project_dir(w, parent)) {
				if (!project_of(w, parent))
					say_unsigned(w, parent, 1);
				return;
			}
		}
		if (project_file(path))
			say_unsigned(w, path, 0);
		return;
	}
	if (!S_ISDIR(st.st_mode))
		return;
	if (project_dir(w, path)) {
		say_unsigned(w, path, 1);
		return;
	}
	DIR *d = opendir(path);
	if (!d)
		return;
	struct dirent *e;
	char full[PATH_MAX];
	while ((e = readdir(d))) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		if ((size_t)snprintf(full, sizeof full, "%s/%s", path, e->d_name) < sizeof full)
			look_for_unsigned(w, full, depth + 1);
	}
	closedir(d);
}

/* path is dir or lies below it ("/x/B2" is not below "/x/B"). */
static int below(const char *path, const char *dir)
{
	size_t n = strlen(dir);
	return strncmp(path, dir, n) == 0 && (path[n] == '/' || path[n] == 0);
}

static int under_root(struct pg_watch *w, const char *path)
{
	for (size_t i = 0; i < w->nroots; i++)
		if (below(path, w->roots[i]))
			return 1;
	return 0;
}

static size_t path_hash(const char *s)
{
	uint64_t h = 14695981039346656037ull;   /* FNV-1a */
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return (size_t)h;
}

/* The index of candidates by path, made anew for the current list (after it
 * grew or was compacted); 0, or -1 out of memory (lookups then scan). */
static int cidx_rebuild(struct pg_watch *w, size_t want)
{
	size_t cap = 64;
	while (cap < 2 * want)
		cap *= 2;
	if (cap != w->cidx_cap) {
		size_t *v = calloc(cap, sizeof *v);
		if (!v) {
			free(w->cidx);
			w->cidx = NULL;
			w->cidx_cap = 0;
			return -1;
		}
		free(w->cidx);
		w->cidx = v;
		w->cidx_cap = cap;
	} else {
		memset(w->cidx, 0, cap * sizeof *w->cidx);
	}
	for (size_t i = 0; i < w->ncands; i++) {
		size_t h = path_hash(w->cands[i].path) & (w->cidx_cap - 1);
		while (w->cidx[h])
			h = (h + 1) & (w->cidx_cap - 1);
		w->cidx[h] = i + 1;
	}
	return 0;
}

static struct cand *find_cand(struct pg_watch *w, const char *path)
{
	if (!w->cidx_cap) {
		for (size_t i = 0; i < w->ncands; i++)
			if (strcmp(w->cands[i].path, path) == 0)
				return &w->cands[i];
		return NULL;
	}
	size_t h = path_hash(path) & (w->cidx_cap - 1);
	for (; w->cidx[h]; h = (h + 1) & (w->cidx_cap - 1))
		if (strcmp(w->cands[w->cidx[h] - 1].path, path) == 0)
			return &w->cands[w->cidx[h] - 1];
	return NULL;
}

static void add_cand(struct pg_watch *w, const char *path)
{
	struct cand *c = find_cand(w, path);
	if (c) {
		c->last = now_mono();
		return;
	}
	if (w->ncands >= PG_WATCH_MAX_CANDIDATES)
		return;             /* the periodic rescan looks at the roots too */
	if (w->ncands == w->capcands) {
		size_t nc = w->capcands ? w->capcands * 2 : 16;
		struct cand *v = realloc(w->cands, nc * sizeof *v);
		if (!v)
			return;
		w->cands = v;
		w->capcands = nc;
	}
	char *dup = strdup(path);
	if (!dup)
		return;
	w->cands[w->ncands].path = dup;
	w->cands[w->ncands].last = now_mono();
	w->ncands++;
	if (w->cidx_cap && 2 * w->ncands <= w->cidx_cap) {
		size_t h = path_hash(dup) & (w->cidx_cap - 1);
		while (w->cidx[h])
			h = (h + 1) & (w->cidx_cap - 1);
		w->cidx[h] = w->ncands;
	} else {
		cidx_rebuild(w, w->ncands);
	}
}

/* ------------------------------------------------ verification -- */

static void content_digest(const struct pg_scan *s, uint8_t out[32])
{
	struct pg_sha256_ctx *c = pg_sha256_new();
	if (!c) {
		memset(out, 0, 32);
		return;
	}
	for (size_t i = 0; i < s->comps.n; i++) {
		const struct pg_component *x = &s->comps.v[i];
		uint8_t flags[2] = { (uint8_t)x->has_sha, (uint8_t)x->has_fp };
		pg_sha256_update(c, x->name, strlen(x->name) + 1);
		pg_sha256_update(c, x->kind, strlen(x->kind) + 1);
		pg_sha256_update(c, &x->size, sizeof x->size);
		pg_sha256_update(c, flags, 2);
		if (x->has_sha)
			pg_sha256_update(c, x->sha256, 32);
		if (x->has_fp)
			pg_sha256_update(c, x->fp, 32);
	}
	pg_sha256_final(c, out);
	pg_sha256_free(c);
}

static json_t *changes_json(const struct pg_changes *ch)
{
	json_t *a = json_array();
	for (size_t i = 0; i < ch->n && i < PG_WATCH_MAX_CHANGES; i++) {
		const struct pg_change *c = &ch->v[i];
		const struct pg_component *x = c->cur ? c->cur : c->base;
		json_t *e = json_pack("{s:s,s:s,s:s,s:s}", "change", c->what, "name", x->name,
				      "kind", x->kind, "detail", c->detail);
		json_object_set_new(e, "logic", c->logic < 0 ? json_null() : json_boolean(c->logic));
		json_array_append_new(a, e);
	}
	return a;
}

static void add_writers(struct pg_event *ev, struct wproj *p)
{
	if (!p->n_writers)
		return;
	json_t *a = json_array();
	for (size_t i = 0; i < p->n_writers; i++) {
		const struct writer *wr = &p->writers[i];
		json_t *o = json_pack("{s:i}", "pid", wr->pid);
		if (wr->uid >= 0)
			json_object_set_new(o, "uid", json_integer(wr->uid));
		char *exe = pg_event_safe(wr->exe);
		json_object_set_new(o, "exe", json_string(exe ? exe : ""));
		free(exe);
		if (wr->exited)
			json_object_set_new(o, "exited", json_true());
		json_array_append_new(a, o);
	}
	pg_event_set_json(ev, "writers", a);
	if (p->writers_more)
		pg_event_set_bool(ev, "writers_truncated", 1);
	p->n_writers = 0;
	p->writers_more = 0;
}

static void add_baseline(struct pg_event *ev, const struct pg_baseline *b)
{
	if (!b)
		return;
	pg_event_set_str(ev, "baseline", b->id);
	snprintf(ev->base.id, sizeof ev->base.id, "%s", b->id);
	ev->base.in_window = -1;
	ev->base.target_listed = -1;
	if (!b->parsed)
		return;
	snprintf(ev->base.ticket, sizeof ev->base.ticket, "%s", b->m.ticket ? b->m.ticket : "");
	if (b->m.has_window) {
		ev->base.has_window = 1;
		ev->base.win_from = (int64_t)b->m.win_from;
		ev->base.win_to = (int64_t)b->m.win_to;
		ev->base.in_window = ev->ts.tv_sec >= b->m.win_from && ev->ts.tv_sec <= b->m.win_to;
	}
	if (b->m.ticket)
		pg_event_set_str(ev, "ticket", b->m.ticket);
	if (b->checked && b->pki.signer.subject[0])
		pg_event_set_str(ev, "signer", b->pki.signer.subject);
}

static void add_msgs(struct pg_event *ev, const struct pg_verify_result *r)
{
	json_t *a = NULL;
	for (size_t i = 0; i < r->n_msgs && i < 10; i++) {
		if (!a)
			a = json_array();
		static const char *const cls[] = { "error", "problem", "warning" };
		char *t = pg_event_safe(r->msgs[i].text);
		json_array_append_new(a, json_pack("{s:s,s:s}", "class", cls[r->msgs[i].cls],
						   "text", t ? t : ""));
		free(t);
	}
	if (a)
		pg_event_set_json(ev, "messages", a);
}

static enum pg_wstatus wstatus_of(const struct pg_verify_result *r, const char *path)
{
	/* a change that was seen is said as a change even when some other
	 * part of the project could not be read */
	if (r->status == PG_VS_IO && r->compared && r->changes.n)
		return PG_WS_DIFFERS;
	switch (r->status) {
	case PG_VS_VERIFIED: return PG_WS_VERIFIED;
	case PG_VS_DIFFERS: return PG_WS_DIFFERS;
	case PG_VS_TRUST: return PG_WS_TRUST;
	case PG_VS_UNSIGNED: return PG_WS_UNSIGNED;
	case PG_VS_IO: break;
	}
	struct stat st;
	if (lstat(path, &st) != 0 && (errno == ENOENT || errno == ENOTDIR))
		return PG_WS_MISSING;
	return PG_WS_UNREADABLE;
}

/* The finding about project p, published. */
static void say_finding(struct pg_watch *w, struct wproj *p, const struct pg_verify_result *r,
			enum pg_wstatus ws, const char *trigger)
{
	const struct pg_baseline *b = r->baseline;
	struct pg_event ev;
	enum pg_kind kind;
	enum pg_sev sev;
	switch (ws) {
	case PG_WS_VERIFIED: kind = PG_K_FILE_VERIFIED; sev = PG_SEV_INFO; break;
	case PG_WS_DIFFERS: kind = PG_K_FILE_TAMPERED; sev = PG_SEV_ALERT; break;
	case PG_WS_MISSING: kind = PG_K_FILE_MISSING; sev = PG_SEV_ALERT; break;
	case PG_WS_UNREADABLE: kind = PG_K_FILE_UNREADABLE; sev = PG_SEV_WARNING; break;
	case PG_WS_UNSIGNED: kind = PG_K_FILE_UNSIGNED; sev = PG_SEV_WARNING; break;
	case PG_WS_TRUST:
	default:
		kind = b && b->checked && b->pki.verdict == PKI_REVOKED ? PG_K_BASELINE_REVOKED
									: PG_K_BASELINE_INVALID;
		sev = PG_SEV_ALERT;
		break;
	}
	if (ws != PG_WS_VERIFIED)
		w->findings = 1;
	ev_start(&ev, kind == PG_K_BASELINE_REVOKED || kind == PG_K_BASELINE_INVALID ? PG_SRC_SELF
										      : PG_SRC_FILE,
		 kind, sev);
	set_object(&ev, p->path);
	pg_event_set_str(&ev, "path", p->path);
	pg_event_set_str(&ev, "status", pg_wstatus_name(ws));
	pg_event_set_str(&ev, "trigger", trigger);
	add_baseline(&ev, b);
	if (r->compared) {
		const struct pg_changes *ch = &r->changes;
		pg_event_set_json(&ev, "components", json_pack("{s:I,s:I,s:I,s:I,s:I,s:I}",
			"baseline", (json_int_t)b->m.comps.n, "current", (json_int_t)r->scan.comps.n,
			"matching", (json_int_t)ch->n_same, "changed", (json_int_t)ch->n_changed,
			"added", (json_int_t)ch->n_added, "removed", (json_int_t)ch->n_removed));
		pg_event_set_json(&ev, "files", json_pack("{s:I,s:I}",
			"scanned", (json_int_t)r->scan.n_files, "hashed", (json_int_t)r->scan.n_hashed));
		if (ch->n) {
			pg_event_set_json(&ev, "changes", changes_json(ch));
			pg_event_set_int(&ev, "changes_total", (long long)ch->n);
			size_t logic = 0;
			for (size_t i = 0; i < ch->n; i++)
				if (ch->v[i].logic != 0)
					logic++;
			pg_event_set_int(&ev, "changes_logic", (long long)logic);
		}
	}
	add_msgs(&ev, r);
	add_writers(&ev, p);
	if (r->compared && r->changes.n && r->changes.n <= 3) {
		char list[300] = "";
		for (size_t i = 0; i < r->changes.n; i++) {
			size_t l = strlen(list);
			snprintf(list + l, sizeof list - l, "%s%s", i ? "; " : "", r->changes.v[i].detail);
		}
		pg_event_text(&ev, "project %s differs from its signed baseline %s: %s", p->path,
			      b->id, list);
	} else if (ws == PG_WS_DIFFERS) {
		pg_event_text(&ev, "project %s differs from its signed baseline %s: %zu changed, "
			      "%zu added, %zu removed", p->path, b->id, r->changes.n_changed,
			      r->changes.n_added, r->changes.n_removed);
	} else if (ws == PG_WS_VERIFIED) {
		pg_event_text(&ev, "project %s is as signed in baseline %s (%zu components)", p->path,
			      b->id, r->scan.comps.n);
	} else if (ws == PG_WS_MISSING) {
		pg_event_text(&ev, "registered project %s is gone (deleted, renamed or moved away)",
			      p->path);
	} else if (ws == PG_WS_UNSIGNED) {
		pg_event_text(&ev, "project %s has no signed baseline in the store any more", p->path);
	} else {
		pg_event_text(&ev, "project %s: %s", p->path,
			      r->n_msgs ? r->msgs[0].text : pg_wstatus_name(ws));
	}
	publish(w, &ev);
}

static void say_expired(struct pg_watch *w, struct wproj *p, const struct pg_baseline *b)
{
	char t[32];
	struct pg_event ev;
	ev_start(&ev, PG_SRC_SELF, PG_K_BASELINE_EXPIRED, PG_SEV_WARNING);
	set_object(&ev, p->path);
	pg_event_set_str(&ev, "path", p->path);
	add_baseline(&ev, b);
	pg_event_set_str(&ev, "not_after", pg_fmt_time(b->pki.signer.not_after, t, sizeof t));
	pg_event_text(&ev, "the signer certificate of baseline %s (%s) expired %s; it was valid when "
		      "it signed, so the baseline stays usable: plan its re-signing", b->id,
		      b->pki.signer.subject, t);
	publish(w, &ev);
}

static int drain_inotify(struct pg_watch *w);

/* SIGTERM/SIGINT/SIGHUP, read between verifications too: a long pass
 * must not hold up a stop. */
static void check_signals(struct pg_watch *w)
{
	struct signalfd_siginfo si;
	while (w->sfd >= 0 && read(w->sfd, &si, sizeof si) == (ssize_t)sizeof si) {
		if (si.ssi_signo == SIGHUP) {
			w->reload = 1;
		} else {
			w->stop = 1;
			w->stop_reason = si.ssi_signo == SIGTERM ? "SIGTERM" : "SIGINT";
		}
	}
}

/* Verify project p now; publish when what is found is new.  Returns 1 when
 * something was published. */
static int verify_one(struct pg_watch *w, struct wproj *p, const char *trigger, int quiet_ok)
{
	struct pg_verify_result r;
	struct stat lst;
	enum pg_wstatus ws;
	if (lstat(p->path, &lst) == 0 && S_ISLNK(lst.st_mode)) {
		/* the registered path was a real folder or file: a symbolic link
		 * there now is a replacement, whatever it points at */
		memset(&r, 0, sizeof r);
		r.status = PG_VS_IO;
		r.msgs = calloc(1, sizeof *r.msgs);
		if (r.msgs) {
			r.msgs[0].cls = PG_VM_ERROR;
			r.msgs[0].text = strdup("the project was replaced by a symbolic link");
			r.n_msgs = r.msgs[0].text ? 1 : 0;
		}
		ws = PG_WS_MISSING;
	} else {
		struct pg_baseline **c = NULL;
		size_t nc = 0;
		pg_verify_candidates(&w->st, p->path, &c, &nc);
		/* --once verifies each project once: nothing to keep */
		if (!p->cache && !w->cfg.once)
			p->cache = pg_scan_cache_new();  /* NULL: every file hashed */
		struct pg_verify_opts vo = { w->cfg.jobs, 0, 0, 1, p->cache };
		pg_verify_project(p->path, c, nc, &vo, &r);
		free(c);
		w->verifications++;
		ws = wstatus_of(&r, p->path);
		if (ws == PG_WS_UNREADABLE && !w->cfg.once) {
			/* typically a file written while it was hashed: if the
			 * project changed meanwhile, verify it again once it is
			 * quiet instead of calling it unreadable */
			drain_inotify(w);
			if (p->dirty) {
				pg_verify_result_free(&r);
				return 0;
			}
		}
	}
	uint8_t dg[32];
	int has_dg = r.compared;
	if (has_dg)
		content_digest(&r.scan, dg);
	const char *bid = r.baseline ? r.baseline->id : NULL;
	int same = p->known && p->st == ws && p->has_digest == has_dg &&
		   (!has_dg || memcmp(p->digest, dg, 32) == 0) &&
		   ((!p->bid && !bid) || (p->bid && bid && strcmp(p->bid, bid) == 0));
	int said = 0;
	if (!same && !(quiet_ok && !p->known && ws == PG_WS_VERIFIED)) {
		say_finding(w, p, &r, ws, trigger);
		said = 1;
	} else if (ws != PG_WS_VERIFIED && !p->known) {
		w->findings = 1;
	}
	if (!same) {
		p->known = 1;
		p->st = ws;
		p->has_digest = has_dg;
		if (has_dg)
			memcpy(p->digest, dg, 32);
		if (!p->bid || !bid || strcmp(p->bid, bid) != 0)
			p->flags = 0;      /* another baseline: its own flags */
		free(p->bid);
		p->bid = bid ? strdup(bid) : NULL;
		w->state_dirty = 1;
	}
	/* a signer whose certificate has expired since it signed: said once */
	const struct pg_baseline *b = r.baseline;
	if (b && b->trusted && b->checked && b->pki.signer.not_after &&
	    b->pki.signer.not_after < time(NULL) && !(p->flags & PG_WSF_EXPIRED_SAID)) {
		say_expired(w, p, b);
		p->flags |= PG_WSF_EXPIRED_SAID;
		w->state_dirty = 1;
		said = 1;
	}
	pg_verify_result_free(&r);
	p->n_writers = 0;
	return said;
}

/* ---------------------------------------------------- trust, store -- */

static int cmp_wsp(const void *a, const void *b)
{
	return strcmp(((const struct pg_wstate_proj *)a)->path,
		      ((const struct pg_wstate_proj *)b)->path);
}

/* The projects the store names (one per project path). */
static int load_store(struct pg_watch *w, char *err, size_t errlen)
{
	struct pki_trust *t = pki_trust_load(w->cfg.trust, w->cfg.crl, w->cfg.ocsp, err, errlen);
	if (!t)
		return -1;
	struct pg_store st;
	if (pg_store_open(&st, w->store_dir, t, w->cfg.rev_warn, 1, err, errlen) != 0) {
		pki_trust_free(t);
		return -1;
	}
	if (w->have_store)
		pg_store_close(&w->st);
	pki_trust_free(w->t);
	w->t = t;
	w->st = st;
	w->have_store = 1;
	/* project paths, deduplicated, keeping what is known of old ones */
	struct wproj *old = w->p;
	size_t nold = w->np;
	struct wproj *v = calloc(st.ix.n ? st.ix.n : 1, sizeof *v);
	if (!v) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	size_t n = 0;
	for (size_t i = 0; i < st.ix.n; i++) {
		const struct pg_idx_entry *e = &st.ix.v[i];
		if (!e->ok || !e->project_path || e->project_path[0] != '/')
			continue;
		v[n].path = strdup(e->project_path);
		if (!v[n].path)
			continue;
		v[n].plen = strlen(v[n].path);
		n++;
	}
	qsort(v, n, sizeof *v, cmp_proj);
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		if (k && strcmp(v[k - 1].path, v[i].path) == 0) {
			free(v[i].path);
			continue;
		}
		v[k++] = v[i];
	}
	n = k;
	for (size_t i = 0; i < n; i++) {
		struct wproj key = { .path = v[i].path };
		struct wproj *o = nold ? bsearch(&key, old, nold, sizeof *old, cmp_proj) : NULL;
		if (o) {
			char *path = v[i].path;
			v[i] = *o;
			v[i].path = path;
			o->bid = NULL;
			o->cache = NULL;
			o->plen = SIZE_MAX;    /* taken over (its path is freed below) */
		}
	}
	for (size_t i = 0; i < nold; i++) {
		if (old[i].plen != SIZE_MAX) {
			/* registered no more: said once */
			if (old[i].known && old[i].st != PG_WS_UNSIGNED) {
				struct pg_event ev;
				ev_start(&ev, PG_SRC_FILE, PG_K_FILE_UNSIGNED, PG_SEV_WARNING);
				set_object(&ev, old[i].path);
				pg_event_set_str(&ev, "path", old[i].path);
				pg_event_set_str(&ev, "status", "unsigned");
				pg_event_set_str(&ev, "trigger", "reload");
				pg_event_text(&ev, "project %s has no baseline in the store any more",
					      old[i].path);
				publish(w, &ev);
				w->findings = 1;
			}
		}
		free(old[i].path);
		free(old[i].bid);
		pg_scan_cache_free(old[i].cache);
	}
	free(old);
	w->p = v;
	w->np = n;
	return 0;
}

static void take_prev_state(struct pg_watch *w)
{
	/* what was known at the last stop, as if this run had found it */
	if (!w->have_prev || !w->prev.n)
		return;
	qsort(w->prev.v, w->prev.n, sizeof *w->prev.v, cmp_wsp);
	for (size_t i = 0; i < w->np; i++) {
		struct wproj *p = &w->p[i];
		struct pg_wstate_proj key = { .path = p->path };
		struct pg_wstate_proj *s = bsearch(&key, w->prev.v, w->prev.n, sizeof *w->prev.v, cmp_wsp);
		if (!s)
			continue;
		p->known = 1;
		p->st = s->status;
		p->has_digest = s->has_digest;
		memcpy(p->digest, s->digest, 32);
		p->bid = s->baseline ? strdup(s->baseline) : NULL;
		p->flags = s->flags;
	}
}

static int save_state(struct pg_watch *w)
{
	if (!w->cfg.state_file)
		return 0;
	struct pg_wstate s;
	memset(&s, 0, sizeof s);
	s.saved = (long long)time(NULL);
	snprintf(s.run, sizeof s.run, "%s", w->bus->obs.run);
	s.last_seq = w->bus->next_seq ? w->bus->next_seq - 1 : 0;
	s.v = calloc(w->np ? w->np : 1, sizeof *s.v);
	if (!s.v)
		return -1;
	for (size_t i = 0; i < w->np; i++) {
		const struct wproj *p = &w->p[i];
		if (!p->known)
			continue;
		struct pg_wstate_proj *q = &s.v[s.n++];
		q->path = p->path;
		q->status = p->st;
		q->has_digest = p->has_digest;
		memcpy(q->digest, p->digest, 32);
		q->baseline = p->bid;
		q->flags = p->flags;
	}
	char err[700];
	int rc = pg_wstate_save(w->cfg.state_file, &s, err, sizeof err);
	free(s.v);           /* the strings are the projects' */
	w->last_save = now_mono();   /* a failing save is retried a second later, not at once */
	if (rc) {
		struct pg_event ev;
		ev_start(&ev, PG_SRC_SELF, PG_K_WATCH_ERROR, PG_SEV_WARNING);
		pg_event_set_str(&ev, "path", w->cfg.state_file);
		pg_event_text(&ev, "cannot save the watch state: %s", err);
		publish(w, &ev);
		return -1;
	}
	w->state_dirty = 0;
	w->last_save = now_mono();
	return 0;
}

/* ------------------------------------------------------ the loop -- */

static void setup_watches(struct pg_watch *w)
{
	const int dmask = IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_CLOSE_WRITE;
	if (w->crl_real && !inotifytools_watch_file(w->crl_real, dmask))
		say_limit(w, w->crl_real, inotifytools_error());
	if (w->store_real && !inotifytools_watch_file(w->store_real, dmask))
		say_limit(w, w->store_real, inotifytools_error());
	for (size_t i = 0; i < w->nroots; i++)
		if (watch_tree(w, w->roots[i]) < 0)
			for (size_t k = 0; k < w->np; k++)
				if (below(w->p[k].path, w->roots[i]))
					w->p[k].partial = 1;
	for (size_t i = 0; i < w->np; i++)
		if (!w->p[i].watched)
			watch_project(w, &w->p[i]);
}

static void forget_moved(struct pg_watch *w)
{
	if (w->moved_from[0]) {
		/* moved out of everything watched: its old watches are stale */
		char dir[PATH_MAX + 1];
		snprintf(dir, sizeof dir, "%s/", w->moved_from);
		inotifytools_remove_watch_by_filename(dir);
		w->moved_from[0] = 0;
	}
}

static void on_inotify(struct pg_watch *w, struct inotify_event *e)
{
	if (e->mask & IN_Q_OVERFLOW) {
		w->overflows++;
		mark_all(w, "overflow");
		for (size_t i = 0; i < w->nroots; i++)
			add_cand(w, w->roots[i]);
		return;
	}
	if (e->wd < 0)
		return;
	const char *dir = inotifytools_filename_from_wd(e->wd);
	if (!dir)
		return;
	char path[PATH_MAX];
	size_t dl = strlen(dir);
	while (dl > 1 && dir[dl - 1] == '/')
		dl--;
	if (e->len && e->name[0])
		snprintf(path, sizeof path, "%.*s/%s", (int)dl, dir, e->name);
	else
		snprintf(path, sizeof path, "%.*s", (int)dl, dir);
	if (!(e->mask & IN_MOVED_TO) || e->cookie != w->moved_cookie)
		forget_moved(w);
	if ((w->crl_real && strlen(w->crl_real) == dl && strncmp(dir, w->crl_real, dl) == 0) ||
	    (w->store_real && strlen(w->store_real) == dl && strncmp(dir, w->store_real, dl) == 0 &&
	     e->len && e->name[0] != '.')) {
		/* a CRL or a baseline came or went: reload once it is quiet */
		w->reload_due = 1;
		w->reload_at = now_mono();
		return;
	}
	struct wproj *p = project_of(w, path);
	int isdir = (e->mask & IN_ISDIR) != 0;
	if (isdir && (e->mask & IN_MOVED_FROM)) {
		snprintf(w->moved_from, sizeof w->moved_from, "%s", path);
		w->moved_cookie = e->cookie;
	} else if (isdir && (e->mask & IN_MOVED_TO) && w->moved_from[0] &&
		   e->cookie == w->moved_cookie) {
		char a[PATH_MAX + 1], b[PATH_MAX + 1];
		snprintf(a, sizeof a, "%s/", w->moved_from);
		snprintf(b, sizeof b, "%s/", path);
		inotifytools_replace_filename(a, b);
		struct wproj *q = project_of(w, w->moved_from);
		if (q)
			mark_dirty(w, q, "inotify");
		w->moved_from[0] = 0;
	}
	if (isdir && (e->mask & (IN_CREATE | IN_MOVED_TO))) {
		/* a new folder: watched with everything already in it */
		struct wproj *q = find_exact(w, path);
		if (q || p || under_root(w, path))
			if (watch_tree(w, path) < 0 && (q || p))
				(q ? q : p)->partial = 1;
	}
	if (isdir && (e->mask & (IN_MOVED_FROM | IN_MOVED_TO | IN_DELETE | IN_CREATE))) {
		/* a folder above projects moved, went or came: the projects in it
		 * left (or came back to) their registered paths */
		for (size_t i = 0; i < w->np; i++)
			if (&w->p[i] != p && below(w->p[i].path, path))
				mark_dirty(w, &w->p[i], "inotify");
	}
	if (p) {
		mark_dirty(w, p, "inotify");
		if (p->is_dir == 0 && isdir && strcmp(p->path, path) == 0)
			p->is_dir = 1;
	} else if (under_root(w, path) && (e->mask & (IN_CREATE | IN_MOVED_TO | IN_CLOSE_WRITE))) {
		add_cand(w, path);
	}
}

/* Read what inotify has, at most PG_WATCH_DRAIN events at a time so that a
 * flood cannot starve verifications, heartbeats and signals; 1 when more
 * may be waiting. */
static int drain_inotify(struct pg_watch *w)
{
	struct inotify_event *e;
	int n = 0, more = 0;
	while ((e = inotifytools_next_events(0, 1)) != NULL) { /* 0: do not block */
		on_inotify(w, e);
		if (++n >= PG_WATCH_DRAIN) {
			more = 1;
			break;
		}
	}
	if (w->overflows > w->overflows_said) {
		struct pg_event ev;
		ev_start(&ev, PG_SRC_SELF, PG_K_WATCH_OVERFLOW, PG_SEV_WARNING);
		pg_event_set_int(&ev, "overflows", (long long)w->overflows);
		pg_event_set_int(&ev, "max_queued_events", w->queue_max);
		pg_event_set_int(&ev, "projects", (long long)w->np);
		pg_event_text(&ev, "the kernel's inotify queue overflowed (fs.inotify.max_queued_events = %d): "
			      "changes were not seen one by one; every project is verified again",
			      w->queue_max);
		publish(w, &ev);
		w->overflows_said = w->overflows;
		/* watches of folders made during the storm */
		setup_watches(w);
	}
	return more;
}

static void heartbeat(struct pg_watch *w)
{
	struct timespec t = now_mono();
	size_t partial = 0;
	for (size_t i = 0; i < w->np; i++)
		partial += w->p[i].partial;
	struct pg_event ev;
	ev_start(&ev, PG_SRC_SELF, PG_K_AGENT_HEARTBEAT, PG_SEV_INFO);
	pg_event_set_int(&ev, "interval_s", w->cfg.heartbeat_s);
	pg_event_set_int(&ev, "uptime_s", (long long)(ms_between(w->start, t) / 1000));
	pg_event_set_int(&ev, "projects", (long long)w->np);
	pg_event_set_int(&ev, "projects_not_fully_watched", (long long)partial);
	pg_event_set_int(&ev, "watches", inotifytools_get_num_watches());
	pg_event_set_int(&ev, "verifications", (long long)w->verifications);
	pg_event_set_int(&ev, "rescans", (long long)w->rescans);
	pg_event_set_int(&ev, "overflows", (long long)w->overflows);
	pg_event_set_int(&ev, "events", (long long)(w->bus->next_seq - 1));
	pg_event_text(&ev, "watching %zu projects (%d watches)", w->np, inotifytools_get_num_watches());
	publish(w, &ev);
}

static void do_reload(struct pg_watch *w, const char *why)
{
	char err[1024];
	struct pg_event ev;
	if (load_store(w, err, sizeof err) != 0) {
		ev_start(&ev, PG_SRC_SELF, PG_K_WATCH_ERROR, PG_SEV_WARNING);
		pg_event_set_str(&ev, "error", err);
		pg_event_text(&ev, "reload (%s) failed, the old baselines and CRLs stay in use: %s", why, err);
		publish(w, &ev);
		return;
	}
	ev_start(&ev, PG_SRC_SELF, PG_K_AGENT_RELOAD, PG_SEV_INFO);
	pg_event_set_str(&ev, "reason", why);
	pg_event_set_int(&ev, "projects", (long long)w->np);
	pg_event_text(&ev, "baselines and CRLs reloaded (%s): %zu projects", why, w->np);
	publish(w, &ev);
	setup_watches(w);
	if (w->ffd >= 0) {
		close(w->ffd);
		fan_open(w);
	}
	mark_all(w, "reload");
}

static void process_due(struct pg_watch *w, int force)
{
	struct timespec t = now_mono();
	for (size_t i = 0; i < w->np && !w->stop; i++) {
		struct wproj *p = &w->p[i];
		if (!p->dirty)
			continue;
		if (!force && ms_between(p->last, t) < w->cfg.debounce_ms &&
		    ms_between(p->first, t) < w->cfg.max_delay_ms)
			continue;
		p->dirty = 0;
		const char *trigger = p->trigger ? p->trigger : "inotify";
		if (w->ffd >= 0)
			fan_read(w);
		verify_one(w, p, trigger, 0);
		check_signals(w);
		t = now_mono();
	}
	size_t k = 0;
	for (size_t i = 0; i < w->ncands; i++) {
		struct cand *c = &w->cands[i];
		if (!force && ms_between(c->last, t) < w->cfg.debounce_ms) {
			w->cands[k++] = *c;
			continue;
		}
		look_for_unsigned(w, c->path, 0);
		free(c->path);
	}
	if (k != w->ncands) {
		w->ncands = k;
		cidx_rebuild(w, k);
	}
}

static long long next_deadline_ms(struct pg_watch *w)
{
	struct timespec t = now_mono();
	long long best = 1000;  /* wake at least once a second */
	for (size_t i = 0; i < w->np; i++) {
		const struct wproj *p = &w->p[i];
		if (!p->dirty)
			continue;
		long long a = w->cfg.debounce_ms - ms_between(p->last, t);
		long long b = w->cfg.max_delay_ms - ms_between(p->first, t);
		long long d = a < b ? a : b;
		if (d < best)
			best = d;
	}
	for (size_t i = 0; i < w->ncands; i++) {
		long long d = w->cfg.debounce_ms - ms_between(w->cands[i].last, t);
		if (d < best)
			best = d;
	}
	if (w->reload_due) {
		long long d = w->cfg.debounce_ms - ms_between(w->reload_at, t);
		if (d < best)
			best = d;
	}
	return best < 0 ? 0 : best;
}

/* The first pass: every project verified, compared with the last stop. */
static void first_pass(struct pg_watch *w)
{
	char t[32];
	struct wproj *p;
	if (w->have_prev) {
		struct pg_event ev;
		ev_start(&ev, PG_SRC_SELF, PG_K_WATCH_CATCHUP, PG_SEV_NOTICE);
		pg_event_set_str(&ev, "since", pg_fmt_time((time_t)w->prev.saved, t, sizeof t));
		pg_event_set_int(&ev, "down_s", (long long)(time(NULL) - w->prev.saved));
		if (w->prev.run[0])
			pg_event_set_str(&ev, "previous_run", w->prev.run);
		pg_event_set_int(&ev, "previous_last_seq", (long long)w->prev.last_seq);
		pg_event_set_int(&ev, "projects", (long long)w->np);
		pg_event_text(&ev, "catching up on what changed since the watcher stopped at %s: "
			      "every registered project is verified against what was known then", t);
		publish(w, &ev);
	}
	for (size_t i = 0; i < w->np && !w->stop; i++) {
		p = &w->p[i];
		p->dirty = 0;
		verify_one(w, p, w->have_prev && p->known ? "catchup" : "start", 1);
		check_signals(w);
	}
	for (size_t i = 0; i < w->nroots; i++)
		look_for_unsigned(w, w->roots[i], 0);
}

struct pg_watch *pg_watch_open(const struct pg_watch_cfg *cfg, struct pg_bus *bus,
			       char *err, size_t errlen)
{
	struct pg_watch *w = calloc(1, sizeof *w);
	if (!w) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	w->cfg = *cfg;
	w->bus = bus;
	w->ifd = w->sfd = w->ffd = -1;
	w->store_dir = cfg->store ? strdup(cfg->store) : pg_store_default();
	if (!w->store_dir || load_store(w, err, errlen) != 0)
		goto fail;
	w->store_real = realpath(w->store_dir, NULL);
	w->crl_real = cfg->crl ? realpath(cfg->crl, NULL) : NULL;
	if (cfg->state_file) {
		char e[800];
		int r = pg_wstate_load(cfg->state_file, &w->prev, e, sizeof e);
		if (r == 0)
			w->have_prev = 1;
		else if (r < 0)
			fprintf(stderr, "plcguard watch: warning: state not used (starting without it): %s\n", e);
	}
	take_prev_state(w);
	/* roots: as given (made absolute), else the projects themselves */
	if (cfg->n_roots) {
		w->roots = calloc(cfg->n_roots, sizeof *w->roots);
		for (size_t i = 0; w->roots && i < cfg->n_roots; i++) {
			char *r = realpath(cfg->roots[i], NULL);
			if (!r) {
				snprintf(err, errlen, "%s: %s", cfg->roots[i], strerror(errno));
				goto fail;
			}
			w->roots[w->nroots++] = r;
		}
	}
	if (inotify_open(w) != 0) {
		snprintf(err, errlen, "cannot start inotify: %s (fs.inotify.max_user_instances = %d)",
			 strerror(errno), inotifytools_get_max_user_instances());
		goto fail;
	}
	sigset_t ss;
	sigemptyset(&ss);
	sigaddset(&ss, SIGTERM);
	sigaddset(&ss, SIGINT);
	sigaddset(&ss, SIGHUP);
	sigprocmask(SIG_BLOCK, &ss, NULL);
	w->sfd = signalfd(-1, &ss, SFD_CLOEXEC | SFD_NONBLOCK);
	if (w->sfd < 0) {
		snprintf(err, errlen, "signalfd: %s", strerror(errno));
		goto fail;
	}
	w->start = now_mono();
	return w;
fail:
	pg_watch_close(w);
	return NULL;
}

int pg_watch_findings(const struct pg_watch *w)
{
	return w->findings;
}

void pg_watch_stop(struct pg_watch *w)
{
	w->stop = 1;
}

static void say_start(struct pg_watch *w)
{
	struct pg_event ev;
	ev_start(&ev, PG_SRC_SELF, PG_K_AGENT_START, PG_SEV_INFO);
	pg_event_set_str(&ev, "store", w->store_dir);
	pg_event_set_int(&ev, "projects", (long long)w->np);
	json_t *roots = json_array();
	for (size_t i = 0; i < w->nroots; i++)
		json_array_append_new(roots, json_string(w->roots[i]));
	pg_event_set_json(&ev, "roots", roots);
	pg_event_set_int(&ev, "watches", inotifytools_get_num_watches());
	pg_event_set_str(&ev, "writer_attribution", w->ffd >= 0 ? "fanotify" : "none");
	if (w->ffd < 0)
		pg_event_set_str(&ev, "writer_attribution_note", w->fan_note);
	pg_event_set_bool(&ev, "state", w->have_prev);
	pg_event_set_int(&ev, "rescan_s", w->cfg.rescan_s);
	pg_event_set_int(&ev, "heartbeat_s", w->cfg.heartbeat_s);
	pg_event_text(&ev, "watching %zu registered projects; %s%s", w->np,
		      w->ffd >= 0 ? "writers named by fanotify" : "writers not named: ",
		      w->ffd >= 0 ? "" : w->fan_note);
	publish(w, &ev);
}

int pg_watch_run(struct pg_watch *w, char *err, size_t errlen)
{
	if (!w->cfg.once) {
		/* --once looks once and stops: no watches, no fanotify marks */
		setup_watches(w);
		fan_open(w);
		if (w->ffd < 0 && !w->cfg.no_fanotify)
			fprintf(stderr, "plcguard watch: notice: %s\n", w->fan_note);
	} else {
		snprintf(w->fan_note, sizeof w->fan_note, "--once: nothing is watched");
	}
	say_start(w);
	/* changes made while the watches were being set up are in the queue:
	 * the first pass sees the files as they are after them */
	first_pass(w);
	/* events of the first pass (including those of the project being
	 * verified when they came) leave their projects dirty: verified again,
	 * and said only if that finds something new */
	if (w->cfg.state_file)
		save_state(w);
	struct timespec t = now_mono();
	w->next_hb = add_ms(t, (long long)w->cfg.heartbeat_s * 1000);
	w->next_rescan = add_ms(t, (long long)w->cfg.rescan_s * 1000);
	w->next_deep = add_ms(t, (long long)w->cfg.deep_rescan_s * 1000);
	w->next_limit = add_ms(t, (long long)w->cfg.limit_rescan_s * 1000);
	if (!w->stop_reason)
		w->stop_reason = w->cfg.once ? "once" : "stopped";
	int more = 0;
	while (!w->stop && !w->cfg.once) {
		struct pollfd fds[3] = {
			{ w->ifd, POLLIN, 0 }, { w->sfd, POLLIN, 0 }, { w->ffd, POLLIN, 0 },
		};
		int nf = w->ffd >= 0 ? 3 : 2;
		int r = poll(fds, (nfds_t)nf, more ? 0 : (int)next_deadline_ms(w));
		if (r < 0 && errno != EINTR) {
			snprintf(err, errlen, "poll: %s", strerror(errno));
			w->io_error = 1;
			break;
		}
		if (r > 0 && (fds[1].revents & POLLIN))
			check_signals(w);
		if (r > 0 && nf == 3 && (fds[2].revents & POLLIN))
			fan_read(w);
		/* libinotifytools may hold events it read already: ask every turn */
		more = drain_inotify(w);
		if (w->reload) {
			w->reload = 0;
			w->reload_due = 0;
			do_reload(w, "SIGHUP");
		} else if (w->reload_due && ms_between(w->reload_at, now_mono()) >= w->cfg.debounce_ms) {
			w->reload_due = 0;
			do_reload(w, "the CRL or store folder changed");
		}
		if (w->stop)
			break;
		process_due(w, 0);
		t = now_mono();
		if (w->cfg.heartbeat_s > 0 && ms_between(w->next_hb, t) >= 0) {
			heartbeat(w);
			w->next_hb = add_ms(t, (long long)w->cfg.heartbeat_s * 1000);
		}
		if (w->cfg.rescan_s > 0 && ms_between(w->next_rescan, t) >= 0) {
			w->rescans++;
			if (ms_between(w->next_deep, t) >= 0) {
				/* a deep rescan: every file hashed again, whatever
				 * its times say (a clock set back, a raw write) */
				for (size_t i = 0; i < w->np; i++)
					pg_scan_cache_clear(w->p[i].cache);
				w->next_deep = add_ms(t, (long long)w->cfg.deep_rescan_s * 1000);
			}
			mark_all(w, "rescan");
			for (size_t i = 0; i < w->nroots; i++)
				add_cand(w, w->roots[i]);
			setup_watches(w);
			w->next_rescan = add_ms(t, (long long)w->cfg.rescan_s * 1000);
		}
		if (ms_between(w->next_limit, t) >= 0) {
			int any = 0;
			for (size_t i = 0; i < w->np; i++)
				if (w->p[i].partial) {
					mark_dirty(w, &w->p[i], "rescan");
					any = 1;
				}
			if (any) {
				w->rescans++;
				for (size_t i = 0; i < w->nroots; i++)
					add_cand(w, w->roots[i]);
				setup_watches(w);
			}
			w->next_limit = add_ms(t, (long long)w->cfg.limit_rescan_s * 1000);
		}
		if (w->state_dirty && ms_between(w->last_save, t) >= 1000)
			save_state(w);
		if (w->bus->refused) {
			snprintf(err, errlen, "events were refused by the bus");
			w->io_error = 1;
			break;
		}
	}
	/* stopping: a project still waiting for its verification keeps, in the
	 * state, what was last found, so the next start's catch-up reports its
	 * change; nothing pending holds up the stop */
	for (size_t i = 0; i < w->np; i++)
		if (w->p[i].known && w->p[i].st != PG_WS_VERIFIED)
			w->findings = 1;
	if (w->cfg.state_file)
		save_state(w);
	struct pg_event ev;
	ev_start(&ev, PG_SRC_SELF, PG_K_AGENT_STOP, PG_SEV_INFO);
	pg_event_set_str(&ev, "reason", w->io_error ? "error" : w->stop_reason);
	pg_event_set_int(&ev, "uptime_s", (long long)(ms_between(w->start, now_mono()) / 1000));
	pg_event_set_int(&ev, "verifications", (long long)w->verifications);
	pg_event_set_bool(&ev, "state_saved", w->cfg.state_file && !w->state_dirty);
	pg_event_text(&ev, "watcher stopped (%s)", w->io_error ? err : w->stop_reason);
	publish(w, &ev);
	return w->io_error ? -1 : 0;
}

void pg_watch_close(struct pg_watch *w)
{
	if (!w)
		return;
	if (w->ifd >= 0)
		inotifytools_cleanup();
	if (w->sfd >= 0)
		close(w->sfd);
	if (w->ffd >= 0)
		close(w->ffd);
	for (size_t i = 0; i < w->np; i++) {
		free(w->p[i].path);
		free(w->p[i].bid);
		pg_scan_cache_free(w->p[i].cache);
	}
	free(w->p);
	for (size_t i = 0; i < w->nroots; i++)
		free(w->roots[i]);
	free(w->roots);
	for (size_t i = 0; i < w->ncands; i++)
		free(w->cands[i].path);
	free(w->cands);
	free(w->cidx);
	for (size_t i = 0; i < w->nsaid; i++)
		free(w->said_unsigned[i]);
	free(w->said_unsigned);
	pg_wstate_free(&w->prev);
	if (w->have_store)
		pg_store_close(&w->st);
	pki_trust_free(w->t);
	free(w->store_dir);
	free(w->store_real);
	free(w->crl_real);
	free(w);
}
