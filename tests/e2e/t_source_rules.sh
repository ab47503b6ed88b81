#!/usr/bin/env bash
# t_source_rules.sh - conventions of the source tree that a reviewer relies on:
# every named maximum (a #define with MAX in its name) lives in
# parsers/pg_limits.h, so the worst case of the whole program is in one
# place; headers are included by name ("cursor.h"), never by a relative
# path, the include folders being set once in CMakeLists.txt; signing (the
# only code that reads a private key) lives in agent/sign.c alone, apart from
# the verifier (agent/pki.c and everything that verifies).
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

# Signing apart from verifying.  Only agent/sign.c reads a private key or
# signs; only the signer's user, agent/cmd_register.c, includes sign.h (tests
# and bench/ may); the helpers both sides share (pki_int.h) stay theirs.
prog="agent collectors parsers rules"
keyfn='PEM_read[A-Za-z_]*PrivateKey|d2i_[A-Za-z_]*PrivateKey|PrivateKey_bio|OSSL_DECODER|EVP_PKEY_new_raw_private_key|CMS_sign\b|CMS_add1_signer|CMS_SignerInfo_sign|X509_check_private_key|PKCS7_sign|EVP_(Digest)?Sign|EVP_PKEY_sign'
bad=$(grep -rnE --include='*.c' --include='*.h' "$keyfn" $prog | grep -v '^agent/sign\.c:')
[ -z "$bad" ] && pass "only agent/sign.c loads a private key or signs" ||
	{ fail "private-key or signing calls outside agent/sign.c:"; echo "$bad" | head; }
bad=$(grep -rln --include='*.c' --include='*.h' '#include "sign\.h"' $prog |
	grep -vxE 'agent/(sign|cmd_register)\.c')
[ -z "$bad" ] && pass "only agent/sign.c and agent/cmd_register.c include sign.h" ||
	{ fail "sign.h included by:"; echo "$bad" | head; }
bad=$(grep -rln --include='*.c' --include='*.h' '#include "pki_int\.h"' $prog tests/unit tests/fuzz bench |
	grep -vxE 'agent/(pki|sign|pki_util)\.c')
[ -z "$bad" ] && pass "pki_int.h is included by pki.c, sign.c and pki_util.c only" ||
	{ fail "pki_int.h included by:"; echo "$bad" | head; }
# The same in the objects that were built: no object but sign.c's refers to
# a key-loading or signing function, and pki.c's defines no signing entry.
objs=$PG_BUILD/CMakeFiles
if command -v nm >/dev/null && [ -f "$objs/pgagent.dir/agent/pki.c.o" ] &&
   [ -f "$objs/pgagent.dir/agent/sign.c.o" ]; then
	bad=$(cd "$objs" && nm -A -u pgagent.dir/agent/*.o pgcollect.dir/*/*.o pgparsers.dir/parsers/*.o |
		grep -v '^pgagent\.dir/agent/sign\.c\.o:' | grep -E ": +U ($keyfn)")
	[ -z "$bad" ] && pass "built objects: only sign.c.o refers to key-loading or signing functions" ||
		{ fail "built objects refer to key-loading or signing functions:"; echo "$bad" | head; }
	# (and the pattern does find what it is meant to, where it belongs)
	d=$(nm --defined-only "$objs/pgagent.dir/agent/pki.c.o" | awk '{print $3}' |
		grep -E '^(pki_sign|pki_cert_info|load_key|key_pass_cb)$' | tr '\n' ' ')
	u=$(nm -u "$objs/pgagent.dir/agent/sign.c.o" | awk '{print $2}' | grep -cE "^($keyfn)")
	if [ -z "$d" ] && [ "$u" -ge 4 ]; then
		pass "pki.c.o defines no signing function; sign.c.o refers to the $u key and signing functions"
	else
		fail "pki.c.o defines '$d'; sign.c.o refers to $u key or signing functions (4 or more expected)"
	fi
else
	echo "skip  object checks (no nm, or no objects under $objs)"
fi
finish
