#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void oom(void)
{
	fputs("plcguard: out of memory\n", stderr);
	exit(74);
}

void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p)
		oom();
	return p;
}

void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);
	if (!p)
		oom();
	return p;
}

void *xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);
	if (!q)
		oom();
	return q;
}

char *xstrdup(const char *s)
{
	char *p = strdup(s ? s : "");
	if (!p)
		oom();
	return p;
}

char *xasprintf(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		oom();
	char *p = xmalloc((size_t)n + 1);
	va_start(ap, fmt);
	vsnprintf(p, (size_t)n + 1, fmt, ap);
	va_end(ap);
	return p;
}

int size_add(size_t a, size_t b, size_t *out)
{
	if (a > SIZE_MAX - b)
		return -1;
	*out = a + b;
	return 0;
}

int size_mul(size_t a, size_t b, size_t *out)
{
	if (b && a > SIZE_MAX / b)
		return -1;
	*out = a * b;
	return 0;
}

int pg_read_file(const char *path, size_t max, uint8_t **buf, size_t *len,
		 char *err, size_t errlen)
{
	*buf = NULL;
	*len = 0;
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, errlen, "%s: %s", path,
			 errno == ELOOP ? "is a symbolic link (refused)" : strerror(errno));
		return -1;
	}
	struct stat st;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s: not a regular file", path);
		close(fd);
		return -1;
	}
	if ((uint64_t)st.st_size > max) {
		snprintf(err, errlen, "%s: %lld bytes exceeds the limit of %zu",
			 path, (long long)st.st_size, max);
		close(fd);
		return -1;
	}
	size_t cap = (size_t)st.st_size + 1, n = 0;
	uint8_t *p = xmalloc(cap);
	for (;;) {
		if (n + 1 >= cap) {
			if (cap > max) {
				snprintf(err, errlen, "%s: grew past the limit of %zu bytes while reading", path, max);
				free(p);
				close(fd);
				return -1;
			}
			cap = cap * 2 + 1;
			p = xrealloc(p, cap);
		}
		ssize_t r = read(fd, p + n, cap - n - 1);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			snprintf(err, errlen, "%s: read: %s", path, strerror(errno));
			free(p);
			close(fd);
			return -1;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	if (n > max) {
		snprintf(err, errlen, "%s: %zu bytes exceeds the limit of %zu", path, n, max);
		free(p);
		return -1;
	}
	p[n] = 0;
	*buf = p;
	*len = n;
	return 0;
}

int pg_fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	int rc = fsync(fd);
	close(fd);
	return rc;
}

int pg_write_atomic(const char *dir, const char *name, const void *data,
		    size_t len, char *err, size_t errlen)
{
	char *tmp = xasprintf("%s/.%s.tmp.%ld", dir, name, (long)getpid());
	char *dst = xasprintf("%s/%s", dir, name);
	int rc = -1;
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0) {
		snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
		goto out;
	}
	const uint8_t *p = data;
	size_t left = len;
	while (left) {
		ssize_t w = write(fd, p, left);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			snprintf(err, errlen, "%s: write: %s", tmp, strerror(errno));
			close(fd);
			unlink(tmp);
			goto out;
		}
		p += w;
		left -= (size_t)w;
	}
	if (fsync(fd) != 0 || close(fd) != 0) {
		snprintf(err, errlen, "%s: fsync: %s", tmp, strerror(errno));
		unlink(tmp);
		goto out;
	}
	if (rename(tmp, dst) != 0) {
		snprintf(err, errlen, "%s: rename: %s", dst, strerror(errno));
		unlink(tmp);
		goto out;
	}
	pg_fsync_dir(dir);
	rc = 0;
out:
	free(tmp);
	free(dst);
	return rc;
}

int pg_mkdirs(const char *path, unsigned mode)
{
	char *p = xstrdup(path);
	for (char *s = p + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = 0;
		if (mkdir(p, mode) != 0 && errno != EEXIST) {
			free(p);
			return -1;
		}
		*s = '/';
	}
	int rc = (mkdir(p, mode) != 0 && errno != EEXIST) ? -1 : 0;
	free(p);
	return rc;
}

/* Read exactly n decimal digits. */
static int digits(const char **s, int n, int *out)
{
	int v = 0;
	for (int i = 0; i < n; i++) {
		char c = (*s)[i];
		if (c < '0' || c > '9')
			return -1;
		v = v * 10 + (c - '0');
	}
	*s += n;
	*out = v;
	return 0;
}

static int days_in_month(int y, int m)
{
	static const int d[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
		return 29;
	return d[m - 1];
}

/* Parse a time; *end is set past what was consumed. */
static int parse_time_prefix(const char *s, time_t *out, const char **end)
{
	int Y, M, D, h, m, sec = 0;
	if (digits(&s, 4, &Y) || *s++ != '-' || digits(&s, 2, &M) || *s++ != '-' ||
	    digits(&s, 2, &D) || (*s != 'T' && *s != 't' && *s != ' '))
		return -1;
	s++;
	if (digits(&s, 2, &h) || *s++ != ':' || digits(&s, 2, &m))
		return -1;
	if (*s == ':') {
		s++;
		if (digits(&s, 2, &sec))
			return -1;
		if (*s == '.' || *s == ',') { /* fractions are accepted and dropped */
			s++;
			if (*s < '0' || *s > '9')
				return -1;
			while (*s >= '0' && *s <= '9')
				s++;
		}
	}
	if (Y < 1970 || Y > 9999 || M < 1 || M > 12 || D < 1 ||
	    D > days_in_month(Y, M) || h > 23 || m > 59 || sec > 60)
		return -1;
	long off = 0;
	if (*s == 'Z' || *s == 'z') {
		s++;
	} else if (*s == '+' || *s == '-') {
		int sign = *s == '-' ? -1 : 1, oh, om;
		s++;
		if (digits(&s, 2, &oh))
			return -1;
		if (*s == ':')
			s++;
		if (digits(&s, 2, &om) || oh > 23 || om > 59)
			return -1;
		off = sign * (oh * 3600L + om * 60L);
	} else {
		return -1; /* a zone is required */
	}
	struct tm tm = { 0 };
	tm.tm_year = Y - 1900;
	tm.tm_mon = M - 1;
	tm.tm_mday = D;
	tm.tm_hour = h;
	tm.tm_min = m;
	tm.tm_sec = sec;
	time_t t = timegm(&tm);
	if (t == (time_t)-1)
		return -1;
	*out = t - off;
	*end = s;
	return 0;
}

int pg_parse_time(const char *s, time_t *out)
{
	const char *end;
	if (!s || parse_time_prefix(s, out, &end) || *end)
		return -1;
	return 0;
}

/* ISO 8601 duration limited to PnDTnHnMnS / PTnHnMnS (weeks: PnW). */
static int parse_duration(const char *s, long long *secs)
{
	if (*s++ != 'P')
		return -1;
	long long total = 0;
	int in_time = 0, any = 0;
	while (*s) {
		if (*s == 'T') {
			if (in_time)
				return -1;
			in_time = 1;
			s++;
			continue;
		}
		long long v = 0;
		int nd = 0;
		while (*s >= '0' && *s <= '9') {
			v = v * 10 + (*s++ - '0');
			if (++nd > 9)
				return -1;
		}
		if (!nd)
			return -1;
		char u = *s++;
		if (!in_time && u == 'W')
			total += v * 604800;
		else if (!in_time && u == 'D')
			total += v * 86400;
		else if (in_time && u == 'H')
			total += v * 3600;
		else if (in_time && u == 'M')
			total += v * 60;
		else if (in_time && u == 'S')
			total += v;
		else
			return -1;
		any = 1;
	}
	if (!any)
		return -1;
	*secs = total;
	return 0;
}

int pg_parse_window(const char *s, time_t *from, time_t *to, char *err,
		    size_t errlen)
{
	const char *slash = s ? strchr(s, '/') : NULL;
	if (!slash) {
		snprintf(err, errlen, "window '%s': expected FROM/TO in ISO 8601, e.g. 2026-11-22T08:00Z/2026-11-22T12:00Z", s ? s : "");
		return -1;
	}
	char *a = xstrdup(s);
	a[slash - s] = 0;
	const char *b = slash + 1;
	int rc = -1;
	if (pg_parse_time(a, from)) {
		snprintf(err, errlen, "window start '%s' is not an ISO 8601 date-time with a zone (e.g. 2026-11-22T08:00Z)", a);
		goto out;
	}
	long long d;
	if (b[0] == 'P') {
		if (parse_duration(b, &d) || d <= 0) {
			snprintf(err, errlen, "window duration '%s' is not an ISO 8601 duration (e.g. PT4H)", b);
			goto out;
		}
		*to = *from + (time_t)d;
	} else if (pg_parse_time(b, to)) {
		snprintf(err, errlen, "window end '%s' is not an ISO 8601 date-time with a zone (e.g. 2026-11-22T12:00Z)", b);
		goto out;
	}
	if (*to <= *from) {
		snprintf(err, errlen, "window '%s' ends before it starts", s);
		goto out;
	}
	rc = 0;
out:
	free(a);
	return rc;
}

char *pg_fmt_time(time_t t, char *buf, size_t n)
{
	struct tm tm;
	if (!gmtime_r(&t, &tm) || !strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm))
		snprintf(buf, n, "invalid-time");
	return buf;
}

char *pg_path_join(const char *a, const char *b)
{
	size_t la = strlen(a);
	if (la && a[la - 1] == '/')
		return xasprintf("%s%s", a, b);
	if (!la)
		return xstrdup(b);
	return xasprintf("%s/%s", a, b);
}

int pg_isatty_stderr(void)
{
	return isatty(2);
}

double pg_now_mono(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Length of the valid UTF-8 sequence at s (n bytes left), or 0. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	unsigned char c = s[0];
	size_t need;
	uint32_t cp;
	if (c < 0x80)
		return 1;
	if (c >= 0xC2 && c <= 0xDF) {
		need = 2;
		cp = c & 0x1F;
	} else if (c >= 0xE0 && c <= 0xEF) {
		need = 3;
		cp = c & 0x0F;
	} else if (c >= 0xF0 && c <= 0xF4) {
		need = 4;
		cp = c & 0x07;
	} else {
		return 0;
	}
	if (n < need)
		return 0;
	for (size_t i = 1; i < need; i++) {
		if ((s[i] & 0xC0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3F);
	}
	if ((need == 3 && cp < 0x800) || (need == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
	    (cp >= 0xD800 && cp <= 0xDFFF))
		return 0;
	return need;
}

char *pg_name_escape(const char *s, size_t len)
{
	size_t cap;
	if (size_mul(len, 4, &cap) || size_add(cap, 1, &cap))
		cap = 1;
	char *out = xmalloc(cap), *o = out;
	const unsigned char *p = (const unsigned char *)s;
	for (size_t i = 0; i < len;) {
		size_t k = utf8_len(p + i, len - i);
		if (k == 1 && p[i] == '\\') {
			*o++ = '\\';
			*o++ = '\\';
		} else if (k == 0 || (k == 1 && (p[i] < 0x20 || p[i] == 0x7f))) {
			static const char hx[] = "0123456789abcdef";
			*o++ = '\\';
			*o++ = 'x';
			*o++ = hx[p[i] >> 4];
			*o++ = hx[p[i] & 15];
			k = 1;
		} else {
			memcpy(o, p + i, k);
			o += k;
		}
		i += k;
	}
	*o = 0;
	return out;
}
