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
expect_out "S7 Program\(1\)/OB1 +888 " "Practice: OB1 is named by its S7 program (hrs/) and is 888 bytes"
expect_out "S7 Program\(1\)/FC105 .*know-how protected" "Practice: FC105 flagged know-how protected"
expect_out "FC 105, STL, know-how protected; author SEA, family CONVERT, name SCALE, version 2.1" \
	"inspect: FC105's language, protection, author, family, name and version"
expect_out "code 2000-04-11T10:16:18Z, interface 1996-10-14T13:28:29Z" "inspect: FC105's code and interface timestamps"
expect_out "lengths: load 330, MC7 code 208, interface 30, segment table 20, local data 20" "inspect: FC105's lengths"
expect_out "from ombstx/offline/00000001/SUBBLK.DBF row 46" "inspect: the table row FC105 was rebuilt from"
expect_out "step7" "Practice recognised as a STEP 7 project"
expect_no_out "problem|error" "Practice: no problem (deleted duplicate rows skipped, BAUSTEIN.DBF agrees)"

# diff between saves (PROVENANCE.md): 53e19df -> newest: OB1's code changed,
# FC2 added; af5fd3c -> newest: OB1 the same code (timestamps), FC2 added
old=$(ls "$T/store" | grep '53e19df' | head -1)
"$PLCGUARD" diff $(trust_args) --store "$T/store" --baseline "$T/store/$old" "$P/siemens_step7_test" >"$T/out" 2>&1
expect_out "S7 Program\(1\)/OB1 logic changed \(code" "53e19df -> newest: S7 Program(1)/OB1 logic changed (code)"
expect_out "S7 Program\(1\)/FC2 added" "53e19df -> newest: FC2 added"
old=$(ls "$T/store" | grep 'af5fd3c' | head -1)
"$PLCGUARD" diff $(trust_args) --store "$T/store" --baseline "$T/store/$old" "$P/siemens_step7_test" >"$T/out" 2>&1
expect_out "S7 Program\(1\)/OB1 changed: timestamps or header attributes only" "af5fd3c -> newest: OB1 same logic, only timestamps"
expect_out "FC2 added" "af5fd3c -> newest: FC2 added"

# A download of the project's own blocks, as SIMATIC Manager would send them:
# inspect --extract writes the rebuilt images; the capture generator sends
# them in one session (pg-mkcaps --session), one with a code byte altered.
# The signed project is the baseline the download is matched against.
expect_exit 0 "inspect --extract the rebuilt blocks of siemens_step7_test" -- \
	"$PLCGUARD" inspect --extract "$T/x" "$P/siemens_step7_test"
expect_out "2 block\\(s\\) written" "2 blocks written"
[ "$(sha256sum <"$T/x/S7 Program(1)/OB1.mc7" | cut -c1-16)" = ecf284fb3f76556d ] &&
	pass "extracted S7 Program(1)/OB1.mc7 has the component's sha256" || fail "extracted OB1 differs from its component"
expect_exit 0 "inspect --extract the 15 blocks of Practice" -- \
	"$PLCGUARD" inspect --extract "$T/xp" "$P/SIMATIC-Manager-Practice"
expect_out "15 block\\(s\\) written" "15 blocks written"
if [ -x "$PG_BUILD/pg-mkcaps" ]; then
	sn() { "$PLCGUARD" sniff --json $(trust_args) --store "$T/store" -r "$1" >"$2" 2>/dev/null; }
	dl() { # dl FILE PROJECT BLOCK VERDICT
		expect_count "$1" "e['kind']=='s7.block.download' and e['object']=='$3' and e['verdict']=='$4'$( [ "$4" = matches ] && echo " and e['match']=='exact'") and e['baseline']['component']=='S7 Program(1)/$3' and e['baseline']['project']=='$2'" 1 \
			"$2: the download of $3 $4 S7 Program(1)/$3"
	}
	x="$T/x/S7 Program(1)"
	"$PG_BUILD/pg-mkcaps" --session "$T/s1.pcap" "$x/OB1.mc7" "$x/FC2.mc7" >/dev/null
	sn "$T/s1.pcap" "$T/d.json"
	dl "$T/d.json" siemens_step7_test OB1 matches
	dl "$T/d.json" siemens_step7_test FC2 matches
	"$PG_BUILD/pg-mkcaps" --session "$T/s1f.pcap" --filtered "$x/OB1.mc7" "$x/FC2.mc7" >/dev/null
	sn "$T/s1f.pcap" "$T/f.json"
	dl "$T/f.json" siemens_step7_test OB1 matches
	xp="$T/xp/S7 Program(1)"
	"$PG_BUILD/pg-mkcaps" --session "$T/s2.pcap" --alter FC1 "$xp/OB1.mc7" "$xp/FC1.mc7" \
		"$xp/FB1.mc7" "$xp/DB1.mc7" "$xp/DB20.mc7" "$xp/FC105.mc7" >/dev/null
	sn "$T/s2.pcap" "$T/p.json"
	for b in OB1 FB1 DB1 DB20 FC105; do dl "$T/p.json" SIMATIC-Manager-Practice $b matches; done
	dl "$T/p.json" SIMATIC-Manager-Practice FC1 differs
	expect_count "$T/p.json" "e['kind']=='s7.block.activate'" 6 "Practice: six blocks activated (_INSE)"
else
	echo "SKIP (sniff part): $PG_BUILD/pg-mkcaps not built"
fi

# The project's structure, tampered with (copies of the corpus projects in
# $T): each inconsistency is a named problem, register refuses it.
dbf() { /usr/bin/python3 - "$@" <<'PY'
import struct, sys
path, how = sys.argv[1], sys.argv[2]
b = bytearray(open(path, 'rb').read())
hl, rl = struct.unpack_from('<HH', b, 8)
n = struct.unpack_from('<I', b, 4)[0]
fs, o, off = [], 32, 1
while b[o] != 0x0D:
    name = b[o:o+11].split(b'\0')[0].decode(); ln = b[o+16]
    fs.append((name, off, ln)); off += ln; o += 32
col = {f[0]: (f[1], f[2]) for f in fs}
def val(r, f):
    a, l = col[f]; return bytes(b[hl+r*rl+a:hl+r*rl+a+l]).decode('latin1').strip()
def put(r, f, v):
    a, l = col[f]; b[hl+r*rl+a:hl+r*rl+a+l] = v.rjust(l).encode()
# how: "flag OBJECTID SUBBLKTYP CHAR" or "set OBJECTID SUBBLKTYP FIELD VALUE"
args = sys.argv[3:]
for r in range(n):
    key = 'OBJECTID' if 'OBJECTID' in col else 'ID'
    if val(r, key) == args[0] and (len(args) < 2 or 'SUBBLKTYP' not in col or int(val(r, 'SUBBLKTYP')) == int(args[1])):
        if how == 'flag': b[hl+r*rl] = ord(args[2])
        else: put(r, args[2], args[3])
open(path, 'wb').write(b)
PY
}
cpp() { rm -rf "$T/$2"; cp -r "$P/$1" "$T/$2"; chmod -R u+w "$T/$2"; }
regx() { "$PLCGUARD" register $(sign_args engineer) --store "$T/store2" "$@"; }

cpp siemens_step7_test lost
rm "$T/lost/hrs/linkhrs.lnk"
"$PLCGUARD" inspect "$T/lost" >"$T/out" 2>&1
expect_out "ombstx/offline/00000001/OB1 " "without hrs/linkhrs.lnk a folder's blocks are named by the folder"

cpp siemens_step7_test planted
cp -r "$T/planted/ombstx/offline/00000001" "$T/planted/ombstx/offline/00000002"
expect_exit 74 "a block folder BSTCNTOF.DBF does not list: register refuses" -- regx "$T/planted"
expect_out "ombstx/offline/00000002/SUBBLK.DBF: this block folder is not listed in ombstx/offline/BSTCNTOF.DBF" \
	"the planted folder is named"
expect_exit 0 "... and registers with --lenient" -- regx --lenient "$T/planted"
"$PLCGUARD" inspect "$T/planted" >"$T/out" 2>&1
expect_out "ombstx/offline/00000002/OB1 " "its blocks are named by the folder, beside S7 Program(1)/OB1"

cpp siemens_step7_test nocode
dbf "$T/nocode/ombstx/offline/00000001/SUBBLK.DBF" flag 2 12 '*'
expect_exit 74 "a block BAUSTEIN.DBF lists without compiled code: register refuses" -- regx "$T/nocode"
expect_out "S7 Program\(1\)/FC2: listed in ombstx/offline/00000001/BAUSTEIN.DBF \(row 2\), but ombstx/offline/00000001/SUBBLK.DBF holds no compiled block for it" \
	"FC2 without its compiled sub-block is named"

cpp siemens_step7_test badlen
dbf "$T/badlen/ombstx/offline/00000001/SUBBLK.DBF" set 1 8 BLKTOTLEN 999
expect_exit 74 "BLKTOTLEN against the memo lengths: register refuses" -- regx "$T/badlen"
expect_out "SUBBLK.DBF: OB1 \(row [0-9]+\): .*BLKTOTLEN 999: minus 6 it should be 72 \+ MC5LEN" "OB1's lying BLKTOTLEN is named"
expect_no_out "OB1: listed in" "... once (not again as a listed block without code)"

cpp SIMATIC-Manager-Practice orphan
dbf "$T/orphan/ombstx/offline/00000001/SUBBLK.DBF" flag 12 12 ' '
"$PLCGUARD" inspect "$T/orphan" >"$T/out" 2>&1
expect_out "FC105 \(row [0-9]+\) belongs to object 12, which ombstx/offline/00000001/BAUSTEIN.DBF does not list" \
	"an un-deleted copy of FC105 that BAUSTEIN.DBF does not list is named"
expect_out "S7 Program\(1\)/FC105 +330 sha256:404514c2710e5a15" "the listed FC105 is still the one registered"
dbf "$T/orphan/ombstx/offline/00000001/BAUSTEIN.DBF" flag 12 - ' '
"$PLCGUARD" inspect "$T/orphan" >"$T/out" 2>&1
expect_no_out "problem" "listed again, the copy with the same bytes is the same block: no problem"
dbf "$T/orphan/ombstx/offline/00000001/SUBBLK.DBF" set 12 12 CHECKSUM 1
"$PLCGUARD" inspect "$T/orphan" >"$T/out" 2>&1
expect_out "S7 Program\(1\)/FC105: different compiled copies in ombstx/offline/00000001/SUBBLK.DBF rows [0-9]+ and [0-9]+: none is registered" \
	"two listed, different copies of FC105 are named"
expect_no_out "s7-block +S7 Program\(1\)/FC105 " "and neither copy becomes a component"
finish
