#!/usr/bin/env bash
# t_step7.sh - STEP 7 V5 (SIMATIC Manager) project folders as baselines, on
# the real projects of ../shared/corpus/projects/step7 (read in place, never
# copied into the project): every downloadable block of the offline tables is
# rebuilt as its download image and becomes an S7 block component; verify
# holds; diff between saves speaks in blocks as PROVENANCE.md says.
. "$(dirname "$0")/lib.sh"
need_corpus
P=$PG_CORPUS/projects/step7
[ -d "$P" ] || { echo "SKIP: $P not found"; exit 77; }
make_pki
reg() { "$PLCGUARD" register $(sign_args engineer) --store "$T/store" "$@"; }

# blocks per project: name count
for pc in SIMATIC-Manager-Practice:15 siemens_step7_test:2 siemens_step7_test@af5fd3c:1 siemens_step7_test@53e19df:1; do
	p=${pc%%:*} want=${pc#*:}
	expect_exit 0 "register $p" -- reg "$P/$p"
	expect_exit 0 "verify $p" -- "$PLCGUARD" verify $(trust_args) --store "$T/store" "$P/$p"
	expect_out "0 changed, 0 added, 0 removed" "$p verifies: nothing changed"
	"$PLCGUARD" inspect --json "$P/$p" >"$T/i.json" 2>&1
	got=$(python3 -c "
import json,sys
d=json.load(open(sys.argv[1]))
print(sum(1 for c in d['components'] if c['annotations'].get('kind')=='s7-block'))" "$T/i.json" 2>/dev/null)
	[ "$got" = "$want" ] && pass "$p: $want S7 blocks rebuilt from the offline tables" ||
		fail "$p: $got S7 blocks, expected $want"
done
"$PLCGUARD" inspect "$P/SIMATIC-Manager-Practice" >"$T/out" 2>&1
expect_out "SUBBLK.DBF#s7/OB1 +888 " "Practice: OB1 is 888 bytes"
expect_out "#s7/FC105 .*know-how protected" "Practice: FC105 flagged know-how protected"
expect_out "step7" "Practice recognised as a STEP 7 project"

# diff between saves (PROVENANCE.md): 53e19df -> newest: OB1's code changed,
# FC2 added; af5fd3c -> newest: OB1 the same code (timestamps), FC2 added
old=$(ls "$T/store" | grep '53e19df' | head -1)
"$PLCGUARD" diff $(trust_args) --store "$T/store" --baseline "$T/store/$old" "$P/siemens_step7_test" >"$T/out" 2>&1
expect_out "OB1 logic changed \\(code" "53e19df -> newest: OB1 logic changed (code)"
expect_out "FC2 added" "53e19df -> newest: FC2 added"
old=$(ls "$T/store" | grep 'af5fd3c' | head -1)
"$PLCGUARD" diff $(trust_args) --store "$T/store" --baseline "$T/store/$old" "$P/siemens_step7_test" >"$T/out" 2>&1
expect_out "OB1 changed: timestamps or header attributes only" "af5fd3c -> newest: OB1 same logic, only timestamps"
expect_out "FC2 added" "af5fd3c -> newest: FC2 added"

# A download of the project's own blocks, as SIMATIC Manager would send them:
# inspect --extract writes the rebuilt images; our capture generator sends
# that OB1 (and the sample FC10, FB20, DB1) in a session, plain and with one
# code byte altered, also as a filtered export.  The signed project is the
# baseline the download is matched against.
expect_exit 0 "inspect --extract the rebuilt blocks of siemens_step7_test" -- \
	"$PLCGUARD" inspect --extract "$T/x" "$P/siemens_step7_test"
expect_out "2 block\\(s\\) written" "2 blocks written"
[ "$(sha256sum <"$T/x/00000001/OB1.mc7" | cut -c1-16)" = ecf284fb3f76556d ] &&
	pass "extracted OB1 has the component's sha256" || fail "extracted OB1 differs from its component"
if [ -x "$PG_BUILD/pg-mkcaps" ]; then
	mkdir -p "$T/blk"
	cp "$T/x/00000001/OB1.mc7" "$T/blk/OB1.mc7"
	for b in FC10 FB20 DB1; do cp "$PG_SRC/samples/projects/s7_blocks/$b.mc7" "$T/blk/"; done
	"$PG_BUILD/pg-mkcaps" --blocks "$T/blk" --out "$T/caps" --apx "$T/apx" >/dev/null
	"$PG_BUILD/pg-mkcaps" --blocks "$T/blk" --out "$T/capsf" --apx "$T/apx" --filtered >/dev/null
	sn() { "$PLCGUARD" sniff --json $(trust_args) --store "$T/store" -r "$1" >"$2" 2>/dev/null; }
	sn "$T/caps/s7_download.pcap" "$T/d.json"
	expect_count "$T/d.json" "e['kind']=='s7.block.download' and e['object']=='OB1' and e['verdict']=='matches' and e['match']=='exact' and e['baseline']['component']=='ombstx/offline/00000001/SUBBLK.DBF#s7/OB1' and e['baseline']['project']=='siemens_step7_test'" 1 \
		"a download of OB1 MATCHES the signed STEP 7 project exactly (component ombstx/offline/00000001/SUBBLK.DBF#s7/OB1)"
	expect_count "$T/d.json" "e['kind']=='s7.block.download' and e['object']=='FC10' and e['verdict']=='unknown'" 1 \
		"FC10, in no STEP 7 project, is UNKNOWN"
	sn "$T/capsf/s7_download.pcap" "$T/f.json"
	expect_count "$T/f.json" "e['kind']=='s7.block.download' and e['object']=='OB1' and e['verdict']=='matches' and e['match']=='exact'" 1 \
		"the same download as a filtered export: OB1 MATCHES"
	sn "$T/caps/s7_tampered.pcap" "$T/t.json"
	expect_count "$T/t.json" "e['kind']=='s7.block.download' and e['object']=='OB1' and e['verdict']=='differs' and e['baseline']['component'].endswith('#s7/OB1')" 1 \
		"OB1 with one code byte altered after signing DIFFERS from the project's OB1"
else
	echo "SKIP (sniff part): $PG_BUILD/pg-mkcaps not built"
fi
finish
