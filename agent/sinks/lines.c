/* lines.c - the line sink (lines.h). */
#include "lines.h"

#include <stdlib.h>

void pg_lines_write(void *arg, struct pg_event *ev)
{
	struct pg_lines_sink *k = arg;
	if (k->json) {
		char *j = pg_event_json(ev);
		if (!j || fputs(j, k->out) == EOF || fputc('\n', k->out) == EOF)
			k->write_error = 1;
		free(j);
	} else {
		char line[2048];
		pg_event_human(ev, line, sizeof line);
		if (fputs(line, k->out) == EOF || fputc('\n', k->out) == EOF)
			k->write_error = 1;
	}
	if (k->flush_each && fflush(k->out) != 0)
		k->write_error = 1;
	k->written++;
}
