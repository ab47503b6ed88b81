#!/usr/bin/env bash
# Every trust verdict through the real binary: tampered store entries,
# untrusted, expired / not yet valid at signing time, no code-signing usage,
# revoked, revocation unknown (fail and warn policies), OCSP with a real
# `openssl ocsp` responder on loopback, and register's refusals.
. "$(dirname "$0")/lib.sh"
export PG_OCSP_PORT=$((20000 + RANDOM % 20000))
make_pki
cp -r "$PG_SRC/samples/projects" "$T/p"
P=$T/p/pump_station
reg() { "$PLCGUARD" register "$@" >"$T/reg.out" 2>&1; }

expect_exit 0 "register with the engineer certificate" -- "$PLCGUARD" register $(sign_args engineer) "$P"
entry=$(ls -d "$PLCGUARD_STORE"/pump_station-*)
expect_exit 0 "baseline verifies" -- "$PLCGUARD" verify $(trust_args) "$P"

# 1. A manifest edited in the store: detected, never trusted.
cp "$entry/manifest.json" "$T/m.bak"
sed -i 's/"ticket": null/"ticket": "CHG-FORGED"/' "$entry/manifest.json"
expect_exit 2 "edited manifest in the store" -- "$PLCGUARD" verify $(trust_args) "$P"
expect_out 'bad-signature' "edited manifest: bad signature"
cp "$T/m.bak" "$entry/manifest.json"
# widen the change window by editing: same result
sed -i 's/"window": null/"window": {"from": "2020-01-01T00:00:00Z", "to": "2099-01-01T00:00:00Z"}/' "$entry/manifest.json"
expect_exit 2 "widened window in the store" -- "$PLCGUARD" verify $(trust_args) "$P"
cp "$T/m.bak" "$entry/manifest.json"
# a manifest edited into invalid JSON is still reported
echo "garbage" >"$entry/manifest.json"
expect_exit 3 "unparseable manifest cannot be tied to the project" -- "$PLCGUARD" verify $(trust_args) "$P"
expect_out 'warning: baseline pump_station-.*(bad-signature|invalid)' "unreadable store entry is reported"
cp "$T/m.bak" "$entry/manifest.json"
# signature bytes edited / truncated / removed
cp "$entry/manifest.p7s" "$T/s.bak"
printf '\x00' | dd of="$entry/manifest.p7s" bs=1 seek=200 conv=notrunc status=none
expect_exit 2 "edited signature" -- "$PLCGUARD" verify $(trust_args) "$P"
head -c 100 "$T/s.bak" >"$entry/manifest.p7s"
expect_exit 2 "truncated signature" -- "$PLCGUARD" verify $(trust_args) "$P"
rm "$entry/manifest.p7s"
expect_exit 3 "missing signature: entry unusable" -- "$PLCGUARD" verify $(trust_args) "$P"
expect_out 'unreadable' "missing signature is reported"
cp "$T/s.bak" "$entry/manifest.p7s"
expect_exit 0 "restored entry verifies" -- "$PLCGUARD" verify $(trust_args) "$P"
# --all fails when any entry is bad
echo "garbage" >"$entry/manifest.p7s"
expect_exit 2 "verify --all with a bad entry" -- "$PLCGUARD" verify $(trust_args) --all
cp "$T/s.bak" "$entry/manifest.p7s"

# 2. Anchors: a different trust dir does not accept our signer.
mkdir "$T/othertrust" && cp "$PKI/certs/otherroot.pem" "$T/othertrust/"
expect_exit 2 "untrusted anchor" -- "$PLCGUARD" verify --trust "$T/othertrust" "$P"
expect_out 'untrusted' "verdict untrusted"

# 3. Revocation: unknown without CRLs (fail by default, warn on request)
expect_exit 2 "no CRL: revocation unknown fails" -- "$PLCGUARD" verify --trust "$PKI/trust" "$P"
expect_out 'revocation-unknown' "verdict revocation-unknown"
expect_exit 2 "partial CRLs: intermediate unknown" -- "$PLCGUARD" verify --trust "$PKI/trust" --crl "$PKI/crl-partial" "$P"
expect_exit 0 "revocation unknown with --revocation warn" -- "$PLCGUARD" verify --trust "$PKI/trust" --revocation warn "$P"
expect_out 'warning +revocation status unknown' "warn policy says so"

# 4. Register refuses certificates that cannot sign
expect_exit 2 "register refuses an expired certificate" -- "$PLCGUARD" register $(sign_args expired) "$P"
expect_out 'expired|not valid' "expired refusal explained"
expect_exit 2 "register refuses a not-yet-valid certificate" -- "$PLCGUARD" register $(sign_args notyet) "$P"
expect_exit 2 "register refuses a certificate without code signing" -- "$PLCGUARD" register $(sign_args nocodesign) "$P"
expect_out '[Cc]ode.?[Ss]ign' "usage refusal explained"
expect_exit 2 "register refuses a key that does not match" -- "$PLCGUARD" register --key "$PKI/keys/revoked.key" --cert "$PKI/certs/engineer.pem" "$P"

# 5. Signatures made outside plcguard (openssl cms) over a real manifest,
#    with certificates plcguard would not sign with: each verdict.
resign() { # NAME STORE: copy the engineer's entry into STORE, re-signed by NAME
	local d="$2/pump_station-resigned-$1"
	mkdir -p "$d"
	cp "$entry/manifest.json" "$d/"
	# The manifest names its signer: rewrite it as NAME would have.
	local fp
	fp=$(openssl x509 -in "$PKI/certs/$1.pem" -outform DER | sha256sum | cut -d' ' -f1)
	sed -i "s/\"cert_sha256\": \"[0-9a-f]*\"/\"cert_sha256\": \"$fp\"/" "$d/manifest.json"
	local chain="$PKI/chain.pem"
	[ "$1" = stranger ] && chain="$PKI/certs/otherroot.pem"
	openssl cms -sign -binary -outform DER -in "$d/manifest.json" -signer "$PKI/certs/$1.pem" \
		-inkey "$PKI/keys/$1.key" -certfile "$chain" -out "$d/manifest.p7s" 2>/dev/null ||
		fail "openssl cms -sign with $1"
}
for who in expired:2:expired notyet:2:not-yet-valid nocodesign:2:bad-usage revoked:2:revoked stranger:2:untrusted engineer:0:ok; do
	name=${who%%:*}; rest=${who#*:}; code=${rest%%:*}; verdict=${rest#*:}
	S=$T/store-$name
	resign "$name" "$S"
	expect_exit "$code" "signed by $name: verdict $verdict" -- "$PLCGUARD" verify $(trust_args) --store "$S" --json "$P"
	expect_out "\"signature\":\\{\"verdict\":\"$verdict\"" "json signature verdict $verdict"
done

# 6. A valid signature by one engineer over a manifest naming another
S=$T/store-swap
mkdir -p "$S/x" && cp "$entry/manifest.json" "$S/x/"
openssl cms -sign -binary -outform DER -in "$S/x/manifest.json" -signer "$PKI/certs/unlisted.pem" \
	-inkey "$PKI/keys/unlisted.key" -certfile "$PKI/chain.pem" -out "$S/x/manifest.p7s" 2>/dev/null
expect_exit 2 "manifest signer differs from the CMS signer" -- "$PLCGUARD" verify $(trust_args) --store "$S" "$P"
expect_out 'manifest names signer' "signer mismatch explained"

# 7. OCSP against a real `openssl ocsp` responder on loopback.  The root's CRL
#    covers the intermediate; the leaf's status comes from the responder.
if bash "$PG_SRC/tests/pki/ocsp-responder.sh" "$PKI" "$PG_OCSP_PORT" >"$T/ocsp.log" 2>&1; then
	cleanup_hook() { [ -f "$PKI/ocsp.pid" ] && kill "$(cat "$PKI/ocsp.pid")" 2>/dev/null; }
	expect_exit 0 "OCSP: good" -- "$PLCGUARD" verify --trust "$PKI/trust" --crl "$PKI/crl-partial" --ocsp --json "$P"
	expect_out '"revocation":"ocsp"' "revocation checked by OCSP"
	expect_exit 2 "OCSP: revoked" -- "$PLCGUARD" verify --trust "$PKI/trust" --crl "$PKI/crl-partial" --ocsp --store "$T/store-revoked" "$P"
	expect_out 'revoked' "OCSP revoked verdict"
	resign unlisted "$T/store-unlisted"
	expect_exit 2 "OCSP: unknown certificate" -- "$PLCGUARD" verify --trust "$PKI/trust" --crl "$PKI/crl-partial" --ocsp --store "$T/store-unlisted" "$P"
	expect_out 'revocation-unknown' "OCSP unknown verdict"
else
	fail "OCSP responder did not start: $(cat "$T/ocsp.log")"
fi
finish
