# lib.sh - shared helpers for the end-to-end tests, which drive the real
# plcguard binary.  ctest sets PLCGUARD, PG_SRC, PG_BUILD and PG_CORPUS.
set -uo pipefail

: "${PLCGUARD:?PLCGUARD must point at the plcguard binary}"
: "${PG_SRC:?PG_SRC must point at the source tree}"
PG_BUILD=${PG_BUILD:-$(dirname "$PLCGUARD")}
PG_CORPUS=${PG_CORPUS:-$PG_SRC/../shared/corpus}

T=$(mktemp -d "${TMPDIR:-/tmp}/pg-e2e.XXXXXX")
trap 'cleanup_hook; rm -rf "$T"' EXIT
cleanup_hook() { :; }
export PLCGUARD_STORE=$T/store
PASS=0
FAIL=0

pass() { PASS=$((PASS + 1)); echo "ok    $*"; }
fail() { FAIL=$((FAIL + 1)); echo "FAIL  $*"; }

# expect_exit CODE DESCRIPTION -- command...   (output kept in $T/out)
expect_exit() {
	local want=$1 what=$2
	shift 3
	"$@" >"$T/out" 2>&1
	local got=$?
	if [ "$got" -eq "$want" ]; then
		pass "$what (exit $got)"
	else
		fail "$what: exit $got, expected $want"
		sed 's/^/      | /' "$T/out" | head -40
	fi
}

# expect_out PATTERN DESCRIPTION  (grep -E on the last command's output)
expect_out() {
	if grep -Eq -- "$1" "$T/out"; then
		pass "$2"
	else
		fail "$2: output lacks /$1/"
		sed 's/^/      | /' "$T/out" | head -40
	fi
}

expect_no_out() {
	if grep -Eq -- "$1" "$T/out"; then
		fail "$2: output has /$1/"
		sed 's/^/      | /' "$T/out" | head -40
	else
		pass "$2"
	fi
}

# A test-only PKI, made now with the openssl CLI.
make_pki() {
	PKI=$T/pki
	bash "$PG_SRC/tests/pki/mkpki.sh" "$PKI" >/dev/null 2>&1 || { echo "mkpki.sh failed"; exit 1; }
}

# sign_args NAME -> the --key/--cert/--chain options for a leaf of the PKI
sign_args() {
	echo "--key $PKI/keys/$1.key --cert $PKI/certs/$1.pem --chain $PKI/chain.pem"
}

trust_args() {
	echo "--trust $PKI/trust --crl $PKI/crl"
}

# A window around now, so that the demo and tests are always inside it.
window_now() {
	echo "$(date -u -d '-1 hour' +%Y-%m-%dT%H:%MZ)/$(date -u -d '+4 hours' +%Y-%m-%dT%H:%MZ)"
}

need_corpus() {
	if [ ! -d "$PG_CORPUS" ]; then
		echo "SKIP: shared corpus not found at $PG_CORPUS (tests that read real captures and projects are skipped)"
		exit 77
	fi
}

# Byte patch: patch FILE OFFSET HEXBYTES
patch_bytes() {
	printf "$(echo "$3" | sed 's/\(..\)/\\x\1/g')" | dd of="$1" bs=1 seek="$2" conv=notrunc status=none
}

# jcount FILE 'python expression on e' -> how many JSON lines of FILE match
jcount() {
	python3 - "$1" "$2" <<'PY'
import json, os, sys
n = 0
for line in open(sys.argv[1]):
    e = json.loads(line)
    try:
        if eval(sys.argv[2]):
            n += 1
    except (KeyError, TypeError):
        pass
print(n)
PY
}

# expect_count FILE 'python expression on e' N DESCRIPTION
expect_count() {
	local got
	got=$(jcount "$1" "$2")
	if [ "$got" = "$3" ]; then pass "$4"; else fail "$4: $got events match, expected $3 ($2)"; fi
}

# For the tests of a running watcher, whose events go to $EV:
# wait_for EXPR N: until N events of $EV match (at most WAIT_TENTHS tenths of
# a second, 200 unless set)
wait_for() {
	local i n=0
	for i in $(seq 1 "${WAIT_TENTHS:-200}"); do
		n=$(jcount "$EV" "$1")
		[ "$n" -ge "$2" ] && break
		sleep 0.1
	done
}
# settle [N]: until N (2) more heartbeats follow, so that nothing is still
# pending (debounced) when the counts are taken
settle() {
	local base
	base=$(jcount "$EV" 'e["kind"]=="agent.heartbeat"')
	wait_for 'e["kind"]=="agent.heartbeat"' $((base + ${1:-2}))
}

finish() {
	echo "$PASS passed, $FAIL failed"
	[ "$FAIL" -eq 0 ]
}
