#!/usr/bin/env bash
# plcguard sniff on the real captures in ../shared/corpus: the real S7comm
# download of DB1 and the real UMAS read-back yield the exact known bytes, a
# registered block MATCHES, and every capture runs without crash or hang with
# every output line valid JSON.  Skipped when the corpus is absent.
. "$(dirname "$0")/lib.sh"
need_corpus
make_pki
P=$PG_CORPUS/pcap

# --- the real S7comm download of DB1 -------------------------------------
expect_exit 1 "DB1 download, no baselines: transfer not verified (exit 1)" -- \
	"$PLCGUARD" sniff --json --no-baselines -r "$P/s7/s7comm_downloading_block_db1.pcap"
cp "$T/out" "$T/db1.json"
n=$(jcount "$T/db1.json" "e['kind']=='s7.block.download' and e.get('object')=='DB1' and e.get('size')==500 and e.get('sha256')=='6fbdbd7fb0f8c20cdc0b917b2a3f0a7c2b1e7d5f9536e5d804edb7d4a1628f2d'")
[ "$n" = 1 ] && pass "DB1: 500 bytes, sha256 6fbdbd7f... (one block event)" || fail "DB1 block event count $n"
n=$(jcount "$T/db1.json" "e['kind']=='s7.block.download' and 'logic_fp' in e and 'strict_sha256' in e")
[ "$n" = 1 ] && pass "DB1 has a logic fingerprint" || fail "DB1 logic_fp missing"
n=$(jcount "$T/db1.json" "e['kind']=='s7.block.activate'")
[ "$n" -ge 1 ] && pass "DB1 activated by _INSE" || fail "_INSE not reported"
n=$(jcount "$T/db1.json" "e['kind']=='s7.download.request' and e.get('load_len')==500")
[ "$n" = 1 ] && pass "request download announces 500 bytes" || fail "request download event $n"

mkdir -p "$T/proj"
cp "$PG_CORPUS/blocks/DB1_from_s7comm_downloading_block_db1.mc7" "$T/proj/DB1.mc7"
expect_exit 0 "register the carved DB1" -- "$PLCGUARD" register $(sign_args engineer) "$T/proj"
expect_exit 0 "DB1 download matches the signed baseline (exit 0)" -- \
	"$PLCGUARD" sniff --json $(trust_args) --extract "$T/x" -r "$P/s7/s7comm_downloading_block_db1.pcap"
cp "$T/out" "$T/db1m.json"
n=$(jcount "$T/db1m.json" "e['kind']=='s7.block.download' and e.get('verdict')=='matches' and e['baseline']['component'].endswith('#s7/DB1')")
[ "$n" = 1 ] && pass "DB1 MATCHES its baseline component" || fail "DB1 verdict"
f=$(ls "$T"/x/*DB1*.mc7 2>/dev/null | head -1)
if [ -n "$f" ] && cmp -s "$f" "$T/proj/DB1.mc7"; then pass "extracted DB1 equals the carved block"; else fail "extracted DB1 ($f)"; fi

# --- the real UMAS read-back -----------------------------------------------
"$PLCGUARD" sniff --json --no-baselines -r "$P/modbus/modicon_test.pcap" >"$T/mod.json" 2>"$T/err"
n=$(jcount "$T/mod.json" "e['kind']=='umas.app.upload' and e.get('size')==12343 and e.get('sha256')=='223dfe4cb8497b9a16b23f20a369a1483f83903a85b749deb8c84f878186c5c1'")
[ "$n" = 1 ] && pass "modicon read-back: 12,343 bytes, sha256 223dfe4c..." || fail "read-back event count $n"
n=$(jcount "$T/mod.json" "e['kind']=='umas.reserve'")
[ "$n" -ge 1 ] && pass "UMAS reservation reported" || fail "no umas.reserve"

# --- S7comm-plus is never called clean -------------------------------------
"$PLCGUARD" sniff --json --no-baselines -r "$P/s7/S7-1200-Uploading-OB1-TIAV12.pcap" >"$T/plus.json" 2>&1
n=$(jcount "$T/plus.json" "e['kind']=='s7plus.session' and e.get('verdict')=='unverifiable'")
[ "$n" -ge 1 ] && pass "S7comm-plus session reported unverifiable" || fail "S7comm-plus not reported"

# --- file names lie: pcapng named .pcap; SLL link type ----------------------
"$PLCGUARD" sniff --json --no-baselines -r "$P/s7/S7-1511_db2_var1_HMI.pcap" >"$T/ng.json" 2>&1
n=$(jcount "$T/ng.json" "e['kind']=='capture.file' and e.get('format')=='pcapng'")
[ "$n" = 1 ] && pass "pcapng detected by content in a .pcap file" || fail "pcapng detection"
"$PLCGUARD" sniff --json --no-baselines --pdus -r "$P/s7/s7comm_plus.pcap" >"$T/sll.json" 2>&1
n=$(jcount "$T/sll.json" "e['kind']=='capture.file' and e.get('linktype')=='LINUX_SLL'")
[ "$n" = 1 ] && pass "Linux cooked capture detected" || fail "SLL detection"
n=$(jcount "$T/sll.json" "e['kind']=='s7.pdu'")
[ "$n" -gt 10 ] && pass "S7comm PDUs decoded inside SLL ($n)" || fail "SLL S7 PDUs: $n"

# --- every capture: no crash, no hang, valid JSON, a summary at the end ----
for f in "$P"/s7/* "$P"/modbus/*; do
	timeout 300 "$PLCGUARD" sniff --json --pdus --no-baselines -r "$f" >"$T/all.json" 2>"$T/err"
	rc=$?
	b=$(basename "$f")
	if [ "$rc" -ge 124 ]; then fail "$b: exit $rc (crash or hang)"; continue; fi
	if python3 -c '
import json, sys
last = None
seq = 0
for line in open(sys.argv[1]):
    e = json.loads(line)
    seq += 1
    assert e["seq"] == seq, "seq gap"
    last = e
assert last and last["kind"] == "sniff.summary"
' "$T/all.json" 2>"$T/err"; then pass "$b: exit $rc, $(wc -l <"$T/all.json") valid JSON lines, summary last"
	else fail "$b: bad JSON output: $(tail -1 "$T/err")"; fi
done
finish
