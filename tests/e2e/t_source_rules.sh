#!/usr/bin/env bash
# t_source_rules.sh - conventions of the source tree that a reviewer relies on:
# every named maximum (a #define with MAX in its name) lives in
# parsers/pg_limits.h, so the worst case of the whole program is in one
# place; headers are included by name ("cursor.h"), never by a relative
# path, the include folders being set once in CMakeLists.txt.
. "$(dirname "$0")/lib.sh"
cd "$PG_SRC" || exit 1
dirs="agent collectors parsers rules tests/unit tests/fuzz"

rel=$(grep -rn --include='*.c' --include='*.h' '#include "\.\./' $dirs)
[ -z "$rel" ] && pass "no relative include paths" || { fail "relative include paths:"; echo "$rel" | head; }

# Not limits on input: a fixed-width constant and a JSON writer's table size.
allow='^(parsers/ziplayout\.c:.*U32MAX|rules/event\.c:.*JB_COMMON_MAX)'
stray=$(grep -rnE --include='*.c' --include='*.h' '^#define [A-Z0-9_]*MAX[A-Z0-9_]*[[:space:]]' agent collectors parsers rules |
	grep -v '^parsers/pg_limits\.h:' | grep -Ev "$allow")
[ -z "$stray" ] && pass "every named maximum is in parsers/pg_limits.h" ||
	{ fail "named maxima outside parsers/pg_limits.h:"; echo "$stray" | head; }
dups=$(grep -oE '^#define [A-Z0-9_]+' parsers/pg_limits.h | sort | uniq -d)
[ -z "$dups" ] && pass "pg_limits.h defines each name once" || fail "defined twice: $dups"
finish
