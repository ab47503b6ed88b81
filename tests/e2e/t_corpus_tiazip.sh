#!/usr/bin/env bash
# The corpus TIA Portal V16 project, re-packed NOW (into a temp dir, never the
# repo) in TIA's own archive layout by tiazip.py: Zip64 extras in the local
# headers only, version 45 local / 20 central, '\' names, folder entries.
# Every real .zap16/.zal16 looks like this; libzip's ZIP_CHECKCONS refused
# them all.  It must register, verify, inspect, and a one-byte change of
# System/PEData.plf must be named.  Skipped without the corpus, 7z or python3.
. "$(dirname "$0")/lib.sh"
need_corpus
for tool in 7z python3; do
	if ! command -v "$tool" >/dev/null; then
		echo "SKIP: $tool not installed (needed to unpack and re-pack the corpus TIA project)"
		exit 77
	fi
done
make_pki
PACK="python3 $PG_SRC/tests/e2e/tiazip.py"
mkdir -p "$T/u" "$T/a"
(cd "$T/u" && 7z x -y "$PG_CORPUS/projects/tia/HowTos_Sinus_Wave.7z" >/dev/null) ||
	{ echo "FAIL  7z could not unpack the corpus TIA project"; exit 1; }
tia=$(find "$T/u" -maxdepth 2 -name '*.ap16' -printf '%h\n' | head -1)
[ -n "$tia" ] || { echo "FAIL  no .ap16 in the corpus TIA project"; exit 1; }
root=$(basename "$tia")
Z=$T/a/HowTos.zap16
$PACK "$tia" "$Z" --root "$root"

# the archive really has TIA's layout, and other readers accept it
python3 - "$Z" >"$T/out" 2>&1 <<'PY'
import struct, sys, zipfile
b = open(sys.argv[1], "rb").read()
z = zipfile.ZipFile(sys.argv[1])
assert z.testzip() is None
loc = cen = 0
for i in z.infolist():
    assert i.extra == b"", i.filename            # central: no extra field
    assert i.create_version == 20 and i.extract_version == 20
    (sig, ver) = struct.unpack_from("<4sH", b, i.header_offset)
    (nl, el) = struct.unpack_from("<HH", b, i.header_offset + 26)
    (tag,) = struct.unpack_from("<H", b, i.header_offset + 30 + nl)
    assert sig == b"PK\x03\x04" and ver == 45 and el == 20 and tag == 1, i.filename
    loc += 1
    cen += "\\" in i.filename or i.filename.endswith("/")
print("entries", loc, "backslash-or-folder", cen)
assert cen > 0
PY
[ $? -eq 0 ] && pass "re-pack has TIA's layout ($(cat "$T/out")) and python zipfile tests it" ||
	{ fail "re-pack layout"; sed 's/^/      | /' "$T/out"; }
if command -v unzip >/dev/null; then
	unzip -tq "$Z" >"$T/out" 2>&1
	[ $? -le 1 ] && pass "unzip -t accepts the re-pack" || fail "unzip -t: $(cat "$T/out")"
fi

expect_exit 0 "register TIA-layout archive" -- "$PLCGUARD" register $(sign_args engineer) "$Z"
expect_exit 0 "verify TIA-layout archive" -- "$PLCGUARD" verify $(trust_args) "$Z"
expect_exit 0 "inspect TIA-layout archive" -- "$PLCGUARD" inspect "$Z"
expect_out "zip-entry +HowTos.zap16!$root/System/PEData.plf " "entry shown with / separators"
expect_no_out '\\' "no backslash in any component name"
expect_no_out 'problem' "no problem reported"

# one byte of System/PEData.plf changed, re-packed the same way
f="$tia/System/PEData.plf"
[ -f "$f" ] || f=$(find "$tia" -name PEData.plf | head -1)
printf 'X' | dd of="$f" bs=1 seek=1000 conv=notrunc status=none
$PACK "$tia" "$Z" --root "$root"
expect_exit 1 "verify: PEData.plf changed" -- "$PLCGUARD" verify $(trust_args) "$Z"
expect_exit 1 "diff: PEData.plf changed" -- "$PLCGUARD" diff $(trust_args) "$Z"
expect_out "archive entry HowTos.zap16!$root/System/PEData.plf changed" "diff names System/PEData.plf"
expect_no_out 'HowTos_Sinus_Wave.ap16 changed' "other entries unchanged"

# an evasion on the real project: the local name of PEData.plf differs from
# the central one -> a named problem, nothing registered
python3 - "$Z" "$T/a/evasive.zap16" <<'PY'
import sys
b = bytearray(open(sys.argv[1], "rb").read())
i = b.index(b"System\\PEData.plf")     # first occurrence: the local header
b[i + 7] = ord("Q")
open(sys.argv[2], "wb").write(b)
PY
expect_exit 74 "register refuses a local/central name mismatch" -- "$PLCGUARD" register $(sign_args engineer) "$T/a/evasive.zap16"
expect_out 'evasive.zap16: ZIP archive: offset [0-9]+ \(local name\): entry [0-9]+ ".*System/PEData.plf": the local header names it ".*System/QEData.plf"' "problem names archive, entry, offset"
expect_exit 1 "inspect reports it as a problem" -- "$PLCGUARD" inspect "$T/a/evasive.zap16"
expect_out 'problem +evasive.zap16: ZIP archive: offset [0-9]+ \(local name\)' "inspect names the problem"
finish
