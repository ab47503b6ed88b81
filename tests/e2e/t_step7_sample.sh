#!/usr/bin/env bash
# t_step7_sample.sh - our own STEP 7 V5 sample project (samples/projects/
# mixer_step7, written by pg-mksamples from samples/gen/step7gen.h) as a
# baseline: its seven offline blocks become S7 block components, they
# rebuild byte for byte as the images step7gen.h makes, and SIMATIC
# Manager's download of them (samples/captures/s7_step7_download.pcap, FC1
# patched after signing) matches block for block, FC1 DIFFERS.
# Blocks are named by their S7 program: "S7 Program(1)/OB1".
. "$(dirname "$0")/lib.sh"
S=$PG_SRC/samples/projects/mixer_step7
CAP=$PG_SRC/samples/captures/s7_step7_download.pcap
GEN=$PG_BUILD/pg-mksamples
make_pki
cp -r "$S" "$T/mixer_step7"
P=$T/mixer_step7

expect_exit 0 "register mixer_step7" -- \
	"$PLCGUARD" register $(sign_args engineer) --store "$T/store" "$P"
expect_exit 0 "verify mixer_step7" -- "$PLCGUARD" verify $(trust_args) --store "$T/store" "$P"
expect_out "0 changed, 0 added, 0 removed" "mixer_step7 verifies: nothing changed"

# inspect --json: 7 S7 blocks, FC2 know-how protected, the others not
"$PLCGUARD" inspect --json "$P" >"$T/i.json" 2>"$T/i.err"
python3 - "$T/i.json" >"$T/out" 2>&1 <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
print("format", d["format"])
blocks = {}
for c in d["components"]:
    a = c["annotations"]
    if a.get("kind") == "s7-block":
        blocks[c["name"].rsplit("/", 1)[-1]] = a
print("count", len(blocks))
print("blocks", " ".join(sorted(blocks)))
for b, a in sorted(blocks.items()):
    print("khp", b, a["know_how_protected"], a["language"], a["author"], a["block_name"])
PY
expect_out "^format step7$" "inspect: a STEP 7 project"
expect_out "^count 7$" "inspect --json: 7 components of kind s7-block"
expect_out "^blocks DB1 DB2 FB1 FC1 FC2 OB1 OB35$" "inspect: OB1, OB35, FC1, FC2, FB1, DB1, DB2"
expect_out "^khp FC2 True STL FILTLIB PT1FILT$" "inspect: FC2 flagged know-how protected (STL, author FILTLIB)"
[ "$(grep -c '^khp .* False ' "$T/out")" = 6 ] && pass "inspect: the other six are not know-how protected" ||
	fail "inspect: know-how flags: $(grep '^khp' "$T/out" | tr '\n' ';')"
expect_out "^khp OB1 False LAD MIXING CYCLE$" "inspect: OB1 LAD, author and name from the footer"
expect_out "^khp FB1 False SCL " "inspect: FB1 SCL"
expect_out "^khp FC1 False FBD " "inspect: FC1 FBD"
[ -s "$T/i.err" ] && fail "inspect wrote to stderr: $(head -c 300 "$T/i.err")" || pass "inspect: no problems reported"
python3 -c "
import json,sys
d=json.load(open(sys.argv[1])); sys.exit(1 if d['problems'] else 0)" "$T/i.json" &&
	pass "inspect --json: no problems (the deleted older FC1 row is skipped)" ||
	fail "inspect --json lists problems"

# inspect --extract: the 7 rebuilt images are the ones step7gen.h builds
expect_exit 0 "inspect --extract" -- "$PLCGUARD" inspect --extract "$T/x" "$P"
expect_out "7 block\\(s\\) written" "7 blocks written"
if [ -x "$GEN" ]; then
	expect_exit 0 "pg-mksamples --step7-blocks" -- "$GEN" --step7-blocks "$T/want"
	ok=0
	for b in OB1 OB35 FC1 FC2 FB1 DB1 DB2; do
		if cmp -s "$T/want/$b.mc7" "$T/x/S7 Program(1)/$b.mc7"; then
			ok=$((ok + 1))
		else
			fail "extracted $b differs from step7gen.h's image"
		fi
	done
	[ $ok = 7 ] && pass "all 7 extracted blocks are byte-identical to step7gen.h's images"
	[ "$(ls "$T/x/S7 Program(1)" | wc -l)" = 7 ] && pass "nothing else extracted" ||
		fail "extracted: $(ls "$T/x/S7 Program(1)" | tr '\n' ' ')"
else
	fail "$GEN not built"
fi

# the wire: SIMATIC Manager's download, FC1 patched after signing
"$PLCGUARD" sniff --json $(trust_args) --store "$T/store" -r "$CAP" >"$T/s.json" 2>"$T/s.err"
rc=$?
[ $rc -eq 1 ] && pass "sniff exits 1 (a block differs)" || fail "sniff exit $rc, expected 1"
for b in OB35 FB1 DB1 DB2 FC2 OB1; do
	expect_count "$T/s.json" "e['kind']=='s7.block.download' and e['object']=='$b' and e['verdict']=='matches' and e['match']=='exact' and e['baseline']['project']=='mixer_step7' and e['baseline']['component']=='S7 Program(1)/$b'" 1 \
		"$b download MATCHES the signed mixer_step7 exactly"
done
expect_count "$T/s.json" "e['kind']=='s7.block.download' and e['object']=='FC1' and e['verdict']=='differs' and e['baseline']['project']=='mixer_step7' and e['baseline']['component']=='S7 Program(1)/FC1'" 1 \
	"FC1, one code byte patched after signing, DIFFERS from mixer_step7's FC1"
expect_count "$T/s.json" "e['kind']=='s7.block.download'" 7 "7 block downloads, no more"
expect_count "$T/s.json" "e['kind']=='s7.block.activate'" 7 "7 activations (_INSE)"
finish
