#!/usr/bin/env bash
# register + verify on the samples; manifest schema; store layout; openssl
# interop; inspect; usage errors.
. "$(dirname "$0")/lib.sh"
make_pki
cp -r "$PG_SRC/samples/projects" "$T/p"
# an empty lock file, as engineering tools leave them: excluded by default
# (made here: an empty file is not committed among the samples)
: >"$T/p/pump_station/project.lck"
W=$(window_now)

for p in pump_station s7_blocks line3.zap16; do
	expect_exit 0 "register $p" -- "$PLCGUARD" register $(sign_args engineer) --ticket CHG-1 \
		--window "$W" --target 10.0.0.5,rack=0,slot=2 --target fd00::7 --note "approved build" "$T/p/$p"
	expect_out "registered $p-" "register $p prints the baseline id"
done
n=$(ls "$PLCGUARD_STORE" | wc -l)
[ "$n" -eq 3 ] && pass "store holds 3 baselines" || fail "store holds $n baselines"
for d in "$PLCGUARD_STORE"/*/; do
	[ -s "$d/manifest.json" ] && [ -s "$d/manifest.p7s" ] || fail "store entry $d incomplete"
done
ls -a "$PLCGUARD_STORE" | grep -q '^\.tmp' && fail "temporary folder left in store" || pass "no temporary folders left in the store"

for p in pump_station s7_blocks line3.zap16; do
	expect_exit 0 "verify $p" -- "$PLCGUARD" verify $(trust_args) "$T/p/$p"
	expect_out '^VERIFIED' "verify $p says VERIFIED"
done
expect_exit 0 "verify --all" -- "$PLCGUARD" verify $(trust_args) --all
[ "$(grep -c '^VERIFIED' "$T/out")" -eq 3 ] && pass "--all verified 3 projects" || fail "--all: $(cat "$T/out")"

# JSON output, machine-readable verdict and metadata
expect_exit 0 "verify --json" -- "$PLCGUARD" verify $(trust_args) --json "$T/p/pump_station"
expect_out '"verdict":"verified"' "json verdict"
expect_out '"ticket":"CHG-1"' "json carries the ticket"
expect_out '"targets":\["10.0.0.5 rack 0 slot 2","fd00::7"\]' "json carries targets"
expect_out '"revocation":"crl"' "revocation checked by CRL"

# Manifest schema: in-toto Statement with components
m=$(ls "$PLCGUARD_STORE"/pump_station-*/manifest.json)
cp "$m" "$T/out"
expect_out '"_type": "https://in-toto.io/Statement/v1"' "manifest is an in-toto Statement v1"
expect_out '"predicateType": "urn:plcguard:baseline:v1"' "predicate type"
expect_out '"name": "plc.xml#pou/PumpControl"' "POU PumpControl is a component"
expect_out '"name": "plc.xml#datatype/PumpState"' "data type is a component"
expect_out '"name": "plc.xml#task/Config0/Res0/MainTask"' "task is a component"
expect_out '"plcguard-plcopen-v1"' "POUs carry the PLCopen fingerprint"
expect_no_out '"name": "project.lck"' "empty lock file excluded"
expect_out '"from": "20[0-9-]+T[0-9:]+Z"' "window in the signed manifest"
m2=$(ls "$PLCGUARD_STORE"/s7_blocks-*/manifest.json)
cp "$m2" "$T/out"
expect_out '"name": "OB1.mc7#s7/OB1"' "S7 block OB1 is a component"
expect_out '"plcguard-mc7-logic-v1"' "blocks carry the MC7 logic fingerprint"
m3=$(ls "$PLCGUARD_STORE"/line3.zap16-*/manifest.json)
cp "$m3" "$T/out"
expect_out '"name": "line3.zap16!Line3/Blocks/FB20.mc7#s7/FB20"' "block inside the archive"
expect_out '"name": "line3.zap16!Line3/PLCopen/line3.xml#pou/Main"' "POU inside the archive"

# Interoperability: openssl cms accepts our detached signature
for d in "$PLCGUARD_STORE"/*/; do
	expect_exit 0 "openssl cms -verify accepts $(basename "$d")" -- openssl cms -verify -binary -inform DER \
		-in "$d/manifest.p7s" -content "$d/manifest.json" -CAfile "$PKI/trust/root.pem" -purpose any -out /dev/null
done

# inspect
expect_exit 0 "inspect folder" -- "$PLCGUARD" inspect "$T/p/pump_station"
expect_out 'format  beremiz' "Beremiz folder recognised"
expect_out 'pou +plc.xml#pou/PumpControl' "inspect lists POUs"
expect_exit 0 "inspect --json archive" -- "$PLCGUARD" inspect --json "$T/p/line3.zap16"
expect_out '"format": "zip-archive"' "archive recognised"
expect_out '"block": "OB1"' "block id in JSON"
expect_exit 0 "inspect block" -- "$PLCGUARD" inspect "$T/p/s7_blocks/FB20.mc7"
expect_out 's7-block +FB20.mc7#s7/FB20' "single block recognised"
expect_out '\[SCL\]' "block language shown"

# help and usage
for c in register verify diff inspect; do
	expect_exit 0 "$c --help" -- "$PLCGUARD" "$c" --help
	expect_out "usage: plcguard $c" "$c --help prints usage"
done
expect_exit 64 "verify without --trust" -- "$PLCGUARD" verify "$T/p/pump_station"
expect_exit 64 "unknown command" -- "$PLCGUARD" frobnicate
expect_exit 64 "register without key" -- "$PLCGUARD" register "$T/p/pump_station"
expect_exit 64 "bad window" -- "$PLCGUARD" register $(sign_args engineer) --window 2026-11-22T08:00/2026-11-22T12:00Z "$T/p/pump_station"
expect_out 'window start' "bad window is explained"
expect_exit 64 "window ends before it starts" -- "$PLCGUARD" register $(sign_args engineer) --window 2026-11-22T12:00Z/2026-11-22T08:00Z "$T/p/pump_station"
expect_exit 64 "bad target" -- "$PLCGUARD" register $(sign_args engineer) --target 10.0.0.300 "$T/p/pump_station"
expect_exit 74 "register missing path" -- "$PLCGUARD" register $(sign_args engineer) "$T/nonexistent"
expect_exit 3 "verify an unregistered project" -- "$PLCGUARD" verify $(trust_args) "$PG_SRC/samples/gen"
expect_out 'UNSIGNED' "unsigned is said"
finish
