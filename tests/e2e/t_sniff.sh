#!/usr/bin/env bash
# plcguard sniff on the project's own synthetic captures (samples/captures,
# expected results in samples/captures/README.md), against baselines signed
# at test time: every verdict, every link type, the TCP evasions, extraction,
# input handling and the exit codes.
. "$(dirname "$0")/lib.sh"
make_pki
C=$PG_SRC/samples/captures
S=$PG_SRC/samples/projects
OB1=1b0e81410332d1d0e527f07854d244fc2dea9dbe2852d795699eadec58032ecf
FC10=728ef5157159be672f4709ad63c20d30618608a2dbc2344a5fb74822d13b5636
FB20=8ce22b718b814eb92aace893f7fbad467882da1795fd84d427e5bbeb9478534c
DB1=6e6ea01cb3872b74112c09d762d59ad76574435eea62e8f7179e876784bf6b62
APX=d61ff02aee5453e56775f1db3e2dd0b48332a734c151f298f08a08d4d612f5d4

expect_exit 0 "register the S7 blocks (targets PLC 10.10.1.10 rack 0 slot 2)" -- \
	"$PLCGUARD" register $(sign_args engineer) --target 10.10.1.10,rack=0,slot=2 \
	--ticket CHG-4711 --window 2026-03-02T08:00Z/2026-03-02T12:00Z "$S/s7_blocks"
expect_exit 0 "register the UMAS application (target 10.10.2.20)" -- \
	"$PLCGUARD" register $(sign_args engineer) --target 10.10.2.20 "$S/umas_app"
sniff() { "$PLCGUARD" sniff --json $(trust_args) "$@"; }

# 1. plain download: four blocks match, PLC start
expect_exit 0 "s7_download: all transfers match (exit 0)" -- sniff -r "$C/s7_download.pcap"
cp "$T/out" "$T/1.json"
for b in OB1:$OB1 FC10:$FC10 FB20:$FB20 DB1:$DB1; do
	expect_count "$T/1.json" "e['kind']=='s7.block.download' and e['object']=='${b%%:*}' and e['sha256']=='${b#*:}' and e['verdict']=='matches' and e['match']=='exact'" 1 "${b%%:*} downloaded and MATCHES exactly"
done
expect_count "$T/1.json" "e['kind']=='s7.block.download' and e['baseline']['ticket']=='CHG-4711' and e['baseline']['in_window']==True and e['baseline']['target_listed']==True and e['rack']==0 and e['slot']==2" 4 "events carry ticket, in-window and target-listed, rack and slot"
expect_count "$T/1.json" "e['kind']=='s7.block.download' and e['frame']==17 and e['object']=='OB1' and e['accepted'] and e['slices_requested']==2" 1 "OB1 reported at frame 17 (Download Ended, accepted), 2 slices requested"
expect_count "$T/1.json" "e['kind']=='s7.block.activate'" 4 "four _INSE activations"
expect_count "$T/1.json" "e['kind']=='s7.plc.start' and e['frame']==68" 1 "warm start at frame 68"
expect_count "$T/1.json" "e['kind']=='cotp.connect' and e['rack']==0 and e['slot']==2" 1 "COTP TSAP gives rack 0 slot 2"
expect_count "$T/1.json" "e['kind']=='sniff.summary' and e['transfers']['matches']==4" 1 "summary: 4 matched"
python3 -c '
import json, sys
seqs = [json.loads(l)["seq"] for l in open(sys.argv[1])]
assert seqs == list(range(1, len(seqs) + 1))
' "$T/1.json" && pass "event numbers 1..N without a hole" || fail "event numbers"

# 2. evasive transport: same verdicts, no conflict
expect_exit 0 "s7_download_evasive: all transfers match" -- sniff -r "$C/s7_download_evasive.pcap"
cp "$T/out" "$T/2.json"
expect_count "$T/2.json" "e['kind']=='s7.block.download' and e['verdict']=='matches'" 4 "COTP fragments, split TPKT, several PDUs per segment, out of order, retransmission: 4 matches"
expect_count "$T/2.json" "e['kind']=='tcp.overlap_conflict'" 0 "identical retransmission is no conflict"
expect_count "$T/2.json" "e['kind']=='sniff.summary' and e['stats']['retransmits']>=1 and e['stats']['out_of_order']>=1" 1 "retransmission and out-of-order counted"

# 3. overlap with different bytes
expect_exit 1 "s7_overlap_conflict: not clean (exit 1)" -- sniff -r "$C/s7_overlap_conflict.pcap"
cp "$T/out" "$T/3.json"
expect_count "$T/3.json" "e['kind']=='tcp.overlap_conflict' and e['severity']=='alert' and e['dir']=='c2s' and e['length']==40" 1 "overlap with different bytes reported (alert, 40 bytes)"
expect_count "$T/3.json" "e['kind']=='s7.block.download' and e['object']=='OB1' and e['sha256']=='$OB1' and e['overlap_conflict']==True and e['severity']=='alert' and 'other' in e['text']" 1 "OB1 hashed from the first copy, flagged: the PLC may have taken the other (alert)"
expect_count "$T/3.json" "e['kind']=='s7.block.download' and e['object']=='DB1' and 'overlap_conflict' not in e and e['verdict']=='matches'" 1 "DB1, sent after the conflict, is clean"

# 4. a gap inside DB1
expect_exit 1 "s7_gap: an incomplete transfer (exit 1)" -- sniff -r "$C/s7_gap.pcap"
cp "$T/out" "$T/4.json"
expect_count "$T/4.json" "e['kind']=='tcp.gap' and e['bytes']==125 and e['dir']=='c2s'" 1 "gap of 125 bytes reported"
expect_count "$T/4.json" "e['kind']=='s7.block.download' and e['object']=='DB1' and e['verdict']=='incomplete' and 'sha256' not in e and e['severity']=='warning'" 1 "DB1 INCOMPLETE with no hash"
expect_count "$T/4.json" "e['kind']=='s7.block.download' and e['verdict']=='matches'" 3 "OB1, FC10, FB20 still match after resynchronising"

# 5. tampered session
expect_exit 1 "s7_tampered: differs/unknown (exit 1)" -- sniff -r "$C/s7_tampered.pcap"
cp "$T/out" "$T/5.json"
expect_count "$T/5.json" "e['kind']=='s7.block.download' and e['object']=='OB1' and e['verdict']=='differs' and e['severity']=='alert' and e['baseline']['component'].endswith('#s7/OB1')" 1 "tampered OB1 DIFFERS (alert, names the component)"
expect_count "$T/5.json" "e['kind']=='s7.block.download' and e['object']=='FC10' and e['verdict']=='matches' and e['match']=='logic' and 'timestamps' in e['text']" 1 "re-stamped FC10 MATCHES by logic, timestamps differ"
expect_count "$T/5.json" "e['kind']=='s7.block.download' and e['object']=='FB99' and e['verdict']=='unknown'" 1 "FB99 UNKNOWN"
expect_count "$T/5.json" "e['kind']=='s7.error' and e['errcls']==0xd2 and e['errcod']==0x37" 1 "refused download 0xD237 reported"
expect_count "$T/5.json" "e['kind']=='s7.block.upload' and e['object']=='DB1' and e['sha256']=='$DB1' and e['verdict']=='matches'" 1 "upload of DB1 matches"
expect_count "$T/5.json" "e['kind']=='s7.block.delete' and 'FB99' in json.dumps(e['blocks'])" 1 "_DELE of FB99"
expect_count "$T/5.json" "e['kind']=='s7.plc.stop' and e['severity']=='alert' and e['frame']==72" 1 "PLC stop at frame 72"

expect_count "$T/5.json" "e['kind']=='s7.download.refused' and e['object']=='DB1' and e['error_code']==0xd237 and not e['accepted'] and 'timestamp' in e['error_name']" 1 "the 0xD237 refusal is a download.refused event naming DB1 and the error"
expect_count "$T/5.json" "e['kind']=='s7.session.blocks' and {b['block']:b['state'] for b in e['blocks']}=={'OB1':'activated','FC10':'activated','FB99':'deleted','DB1':'refused'}" 1 "session blocks: OB1, FC10 activated, FB99 deleted, DB1 refused"

# 5b. what reached the PLC: activated, never activated, refused at Job 1C
expect_exit 0 "s7_refused: every transfer matches by content (exit 0)" -- sniff -r "$C/s7_refused.pcap"
cp "$T/out" "$T/5b.json"
expect_count "$T/5b.json" "e['kind']=='s7.block.download' and e['object']=='OB1' and e['verdict']=='matches' and e['accepted'] and e['end_seen'] and 'refused' not in e" 1 "OB1 matches and was accepted"
expect_count "$T/5b.json" "e['kind']=='s7.block.download' and e['object']=='FC10' and e['verdict']=='matches' and e['accepted']" 1 "FC10 matches and was accepted"
expect_count "$T/5b.json" "e['kind']=='s7.block.download' and e['object']=='FB20' and e['sha256']=='$FB20' and e['verdict']=='matches' and not e['accepted'] and e['refused'] and e['error_code']==0xd280 and e['error_name']=='error compiling the block in the CPU' and e['frame']==46 and 'REFUSED' in e['text']" 1 "FB20 transferred whole but REFUSED at Job 1C (0xD280, frame 46): accepted false"
expect_count "$T/5b.json" "e['kind']=='s7.download.end' and e['object']=='FB20' and e['severity']=='warning' and e['error_code']==0xd280" 1 "the refusing Job 1C is a warning"
expect_count "$T/5b.json" "e['kind']=='s7.session.blocks' and {b['block']:b['state'] for b in e['blocks']}=={'OB1':'activated','FC10':'downloaded_not_activated','FB20':'refused'} and e['downloaded_not_activated']==1 and e['severity']=='notice'" 1 "session blocks: OB1 activated, FC10 downloaded and never activated, FB20 refused"
expect_count "$T/5b.json" "e['kind']=='s7.block.activate' and e['downloaded_here']==['OB1']" 1 "the _INSE of OB1 names the download it activates"

# 6. link and IP variants
for f in s7_vlan.pcap s7_qinq.pcap s7_sll.pcap s7_sll2.pcap s7_ipv6.pcapng s7_rawip.pcap; do
	sniff -r "$C/$f" >"$T/6.json" 2>&1
	expect_count "$T/6.json" "e['kind']=='s7.block.download' and e['object']=='OB1' and e['sha256']=='$OB1' and e['verdict']=='matches'" 1 "$f: OB1 matches"
done
expect_count "$T/6.json" "e['kind']=='capture.file' and e['linktype']=='RAW'" 1 "raw IP link type named"
sniff -r "$C/s7_ipv6.pcapng" >"$T/6.json" 2>&1
expect_count "$T/6.json" "e['kind']=='capture.file' and e['format']=='pcapng'" 1 "pcapng detected"
expect_count "$T/6.json" "e['kind']=='s7.block.download' and e['dst']['ip']=='fd00:10::10' and e['baseline']['target_listed']==False" 1 "IPv6 PLC is not among the baseline's targets: said"

# 7. picked up mid-stream
expect_exit 1 "s7_midstream: FC10 incomplete (exit 1)" -- sniff -r "$C/s7_midstream.pcap"
cp "$T/out" "$T/7.json"
expect_count "$T/7.json" "e['kind']=='s7.block.download' and e['object']=='FC10' and e['verdict']=='incomplete'" 1 "FC10 seen from the middle: INCOMPLETE, never a match"
expect_count "$T/7.json" "e['kind']=='s7.block.download' and e['object']=='DB1' and e['verdict']=='matches'" 1 "DB1 after it matches"

# 8. S7comm-plus with TLS
expect_exit 1 "s7plus_tls: unverifiable (exit 1)" -- sniff -r "$C/s7plus_tls.pcap"
expect_out '"kind":"s7plus.session".*"verdict":"unverifiable"' "S7comm-plus session: observed, content not verifiable"
expect_out '"kind":"s7plus.session".*"init_ssl":true.*InitSSL' "switch to TLS reported as it happens"

# 9-11. UMAS
expect_exit 0 "umas_download: image matches" -- sniff -r "$C/umas_download.pcap"
cp "$T/out" "$T/9.json"
expect_count "$T/9.json" "e['kind']=='umas.app.download' and e['size']==7324 and e['sha256']=='$APX' and e['verdict']=='matches' and e['baseline']['target_listed']==True" 1 "UMAS PC-to-PLC image 7,324 B MATCHES (duplicate block handled)"
expect_count "$T/9.json" "e['kind']=='umas.reserve' and e['station']=='EWS-LINE4'" 1 "reservation names the station"
expect_count "$T/9.json" "e['kind']=='umas.plc.start'" 1 "start PLC"
expect_exit 0 "umas_envelope: image matches" -- sniff -r "$C/umas_envelope.pcap"
cp "$T/out" "$T/10.json"
expect_count "$T/10.json" "e['kind']=='umas.app.download' and e['sha256']=='$APX' and e['enveloped']==True" 1 "0x38 envelopes unwrapped"
expect_count "$T/10.json" "e['kind']=='umas.plc.stop' and e['severity']=='alert'" 1 "stop PLC is an alert"
expect_exit 0 "umas_readback: image matches" -- sniff -r "$C/umas_readback.pcap"
expect_out "\"kind\":\"umas.app.upload\".*\"sha256\":\"$APX\".*\"verdict\":\"matches\"" "read-back PLC-to-PC image matches"

# 12. file records
expect_exit 1 "modbus_filerecord: unknown files (exit 1)" -- sniff -r "$C/modbus_filerecord.pcap"
cp "$T/out" "$T/12.json"
expect_count "$T/12.json" "e['kind']=='modbus.file.write' and e['object']=='file 4' and e['size']==360 and e['sha256']=='512638ed06a3decd41daf441b6bf4a06603f958d8bc1b65b07f5fcf107d399d2'" 1 "file 4 assembled from 3 records"
expect_count "$T/12.json" "e['kind']=='modbus.file.write' and e['object']=='file 7' and e['size']==160" 1 "file 7 assembled"
expect_count "$T/12.json" "e['kind']=='modbus.exception' and e['exception']==1" 1 "exception named"

# 13. mixed, several files in order, stdin, extraction
expect_exit 0 "mixed.pcapng: DB1 and the image match" -- sniff --extract "$T/x" -r "$C/mixed.pcapng"
cp "$T/out" "$T/13.json"
expect_count "$T/13.json" "e.get('verdict')=='matches'" 2 "two transfers match"
f=$(ls "$T"/x/*DB1*.mc7 2>/dev/null | head -1)
[ -n "$f" ] && cmp -s "$f" "$S/s7_blocks/DB1.mc7" && pass "extracted DB1 equals the sample block" || fail "extracted DB1"
f=$(ls "$T"/x/*application*.apx 2>/dev/null | head -1)
[ -n "$f" ] && cmp -s "$f" "$S/umas_app/line4.apx" && pass "extracted image equals line4.apx" || fail "extracted image"
expect_count "$T/13.json" "'extracted' in e" 2 "events name their extracted files"
expect_exit 0 "two files in order, frames counted across them" -- sniff -r "$C/s7_download.pcap" -r "$C/s7_vlan.pcap"
cp "$T/out" "$T/m.json"
expect_count "$T/m.json" "e['kind']=='s7.block.download' and e['object']=='OB1' and e['frame']==72+17" 1 "second file's OB1 at frame 89"
expect_count "$T/m.json" "e['kind']=='capture.file'" 2 "both files announced"
"$PLCGUARD" sniff --json $(trust_args) -r - <"$C/s7_download.pcap" >"$T/out" 2>&1
expect_count "$T/out" "e['kind']=='s7.block.download' and e['verdict']=='matches'" 4 "capture read from standard input"
expect_exit 0 "human output" -- "$PLCGUARD" sniff $(trust_args) -r "$C/s7_download.pcap"
expect_out 's7.block.download .* matches +download of OB1 complete \(200 bytes\) - MATCHES' "human line names block, verdict and baseline"
expect_out 'events by kind' "human summary"
expect_exit 0 "--out appends JSON lines to a file" -- sniff --out "$T/o.json" -r "$C/s7_download.pcap"
expect_count "$T/o.json" "e['kind']=='s7.block.download'" 4 "--out file holds the events"

# --pdus: one event per PDU / ADU
sniff --pdus -r "$C/s7_download.pcap" >"$T/p.json"
expect_count "$T/p.json" "e['kind']=='s7.pdu'" 46 "--pdus: 46 S7 PDUs in s7_download (as tshark counts)"

# baselines that must not be used
cp -r "$PLCGUARD_STORE" "$T/store2"
m=$(ls -d "$T"/store2/s7_blocks-*/manifest.json)
sed -i 's/CHG-4711/CHG-9999/' "$m"
expect_exit 1 "edited baseline in the store" -- "$PLCGUARD" sniff --json $(trust_args) --store "$T/store2" -r "$C/s7_download.pcap"
cp "$T/out" "$T/b.json"
expect_count "$T/b.json" "e['kind']=='baseline.invalid' and e['signature']=='bad-signature'" 1 "edited baseline reported, never used"
expect_count "$T/b.json" "e['kind']=='s7.block.download' and e['verdict']=='unknown'" 4 "blocks of an unusable baseline are UNKNOWN"
mkdir -p "$T/other" && cp "$PKI/certs/otherroot.pem" "$T/other/"
expect_exit 1 "untrusted signer" -- "$PLCGUARD" sniff --json --trust "$T/other" -r "$C/s7_download.pcap"
expect_out '"kind":"baseline.invalid".*"signature":"untrusted"' "baseline from another root is not used"

# input and usage errors
printf 'this is not a capture' >"$T/bad.pcap"
expect_exit 74 "not a capture file" -- sniff -r "$T/bad.pcap"
expect_out 'not a pcap or pcapng file \(magic 74 68 69 73 at offset 0\)' "names the magic bytes"
# cut inside frame 58 (DB1's first slice): 24-byte header, then records
python3 - "$C/s7_download.pcap" "$T/cut.pcap" <<'PY'
import struct, sys
d = open(sys.argv[1], 'rb').read()
off = 24
for _ in range(57):
    off += 16 + struct.unpack_from('<I', d, off + 8)[0]
open(sys.argv[2], 'wb').write(d[:off + 16 + 40])
PY
expect_exit 74 "truncated capture" -- sniff -r "$T/cut.pcap"
expect_out '"kind":"capture.error".*damaged at byte offset [0-9]+, after frame [0-9]+' "names the offset and the last frame"
expect_out '"kind":"s7.block.download".*"verdict":"incomplete"' "transfer cut by the end of the file is INCOMPLETE"
expect_exit 74 "missing file" -- sniff -r "$T/nope.pcap"
expect_exit 64 "no input" -- "$PLCGUARD" sniff --json
expect_exit 64 "--store without --trust" -- "$PLCGUARD" sniff --store "$T/store2" -r "$C/s7_download.pcap"
expect_exit 64 "bad --ports" -- "$PLCGUARD" sniff -r "$C/s7_download.pcap" --ports S7=102,MODBUS=102
# other ports: nothing seen on 102 when S7 is said to be elsewhere
expect_exit 0 "--ports moves S7 elsewhere" -- sniff --ports S7=1102,MODBUS=502 -r "$C/s7_download.pcap"
expect_no_out '"kind":"s7.block.download"' "no S7 parsing on 102 then"
finish
