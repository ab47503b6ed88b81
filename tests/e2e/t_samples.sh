#!/usr/bin/env bash
# t_samples.sh - the committed sample projects (samples/projects) are exactly
# what the samples generator (samples/gen/mksamples.c, $PG_BUILD/pg-mksamples)
# writes, file for file and byte for byte, and two runs agree.  umas_app/ is
# written by pg-mkcaps and checked by t_captures.sh.
. "$(dirname "$0")/lib.sh"
GEN=$PG_BUILD/pg-mksamples
S=$PG_SRC/samples/projects
if [ ! -x "$GEN" ]; then
	fail "generator $GEN not built"
	finish
	exit 1
fi

expect_exit 0 "pg-mksamples runs" -- "$GEN" "$T/s"
if diff -r -x umas_app "$S" "$T/s" >"$T/out" 2>&1; then
	pass "samples/projects (but umas_app) equals a fresh pg-mksamples run (diff -r)"
else
	fail "samples/projects differs from a fresh pg-mksamples run (regenerate and commit):"
	sed 's/^/      | /' "$T/out" | head -20
fi
n=$(cd "$T/s" && find . -type f | wc -l)
[ "$n" -ge 15 ] && pass "the generator writes $n files" || fail "the generator writes only $n files"
"$GEN" "$T/s2" >/dev/null 2>&1
diff -r "$T/s" "$T/s2" >/dev/null && pass "two runs give identical output" || fail "two runs differ"
[ -f "$T/s/mixer_step7/MIXER.s7p" ] && [ -f "$T/s/mixer_step7/ombstx/offline/00000001/SUBBLK.DBT" ] &&
	pass "mixer_step7 (STEP 7 V5 project) is among them" || fail "mixer_step7 not written"
expect_exit 2 "pg-mksamples without arguments is a usage error" -- "$GEN"
finish
