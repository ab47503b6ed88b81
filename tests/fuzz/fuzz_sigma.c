/* fuzz_sigma.c - Sigma rule files (rules/sigma.c) are read from folders an
 * operator fills, often with rules from elsewhere: the loader must refuse
 * anything malformed with a FILE:LINE message, never read outside the
 * buffer, and what it accepts must be matchable against events. */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sigma.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pg_sigma_set *set = pg_sigma_set_new();
	char err[4096];
	if (!set)
		return 0;
	int n = pg_sigma_load_buf(set, "f.yml", (const char *)data, size, err, sizeof err);
	if (n > 0 && strncmp(err, "f.yml:", 6) != 0)
		abort();       /* every refusal names the file and a line */
	static const char *const events[] = {
		("{\"seq\":1,\"source\":\"wire\",\"kind\":\"s7.block.download\",\"verdict\":\"differs\","
		"\"src\":{\"ip\":\"10.0.0.5\",\"port\":1200},\"dst\":{\"ip\":\"fd00::1\",\"port\":102},"
		"\"size\":1024,\"blocks\":[\"DB1\",\"OB1\"],\"know_how\":false,\"text\":\"a b\"}"),
		("{\"seq\":2,\"source\":\"file\",\"kind\":\"file.tampered\",\"baseline\":{\"ticket\":\"CHG-1\"},"
		"\"components\":{\"changed\":3},\"changes_logic\":1,\"ticket\":null}"),
		"{\"seq\":3,\"source\":\"self\",\"kind\":\"capture.drops\",\"stats\":{\"drops\":2.5}}",
	};
	for (size_t e = 0; e < sizeof events / sizeof events[0]; e++) {
		json_t *ev = json_loads(events[e], 0, NULL);
		for (size_t i = 0; ev && i < pg_sigma_count(set); i++) {
			const struct pg_sigma_rule *r = pg_sigma_get(set, i);
			if (!pg_sigma_rule_title(r) || !pg_sigma_rule_service(r))
				abort();
			(void)pg_sigma_match(r, ev);
		}
		json_decref(ev);
	}
	pg_sigma_set_free(set);
	return 0;
}
