#include "pgerr.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void pg_err_clear(struct pg_err *e)
{
	if (!e)
		return;
	e->offset = PG_NO_OFFSET;
	e->field[0] = '\0';
	e->msg[0] = '\0';
}

int pg_err_set(struct pg_err *e, size_t offset, const char *field,
	       const char *fmt, ...)
{
	if (!e)
		return -1;
	e->offset = offset;
	snprintf(e->field, sizeof e->field, "%s", field ? field : "");
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof e->msg, fmt, ap);
	va_end(ap);
	return -1;
}

const char *pg_err_str(const struct pg_err *e, char *buf, size_t n)
{
	if (!e || !buf || n == 0)
		return "";
	if (e->offset != PG_NO_OFFSET && e->field[0])
		snprintf(buf, n, "offset %zu (%s): %s", e->offset, e->field, e->msg);
	else if (e->offset != PG_NO_OFFSET)
		snprintf(buf, n, "offset %zu: %s", e->offset, e->msg);
	else if (e->field[0])
		snprintf(buf, n, "%s: %s", e->field, e->msg);
	else
		snprintf(buf, n, "%s", e->msg);
	return buf;
}
