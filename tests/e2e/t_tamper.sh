#!/usr/bin/env bash
# Every kind of change on disk is caught and described by component.
. "$(dirname "$0")/lib.sh"
make_pki
cp -r "$PG_SRC/samples/projects" "$T/p"
reg() { "$PLCGUARD" register $(sign_args engineer) "$@" >/dev/null 2>&1 || fail "register $*"; }
reg "$T/p/pump_station"
reg "$T/p/s7_blocks"
reg "$T/p/line3.zap16"
P=$T/p/pump_station
B=$T/p/s7_blocks

# PLCopen: formatting only (re-indent, CRLF) keeps logic, file changes
cp "$P/plc.xml" "$T/plc.orig"
sed -i 's/^  /    /; s/$/\r/' "$P/plc.xml"
expect_exit 1 "reformatted plc.xml differs as a file" -- "$PLCGUARD" diff $(trust_args) "$P"
expect_out 'plc.xml changed: formatting only' "formatting-only change recognised"
expect_no_out 'POU' "no POU reported changed for formatting"
# logic change in one POU
cp "$T/plc.orig" "$P/plc.xml"
sed -i 's/Level > HighLimit THEN/Level > HighLimit + 1.0 THEN/' "$P/plc.xml"
expect_exit 1 "logic change differs" -- "$PLCGUARD" verify $(trust_args) "$P"
expect_out 'POU PumpControl changed' "the changed POU is named"
expect_no_out 'POU Main changed' "unchanged POUs are not named"
expect_exit 1 "diff --json" -- "$PLCGUARD" diff $(trust_args) --json "$P"
expect_out '"name":"plc.xml#pou/PumpControl","kind":"pou"' "json names the POU"
cp "$T/plc.orig" "$P/plc.xml"
expect_exit 0 "restored project verifies again" -- "$PLCGUARD" verify $(trust_args) "$P"

# files added, removed; lock files; symlinks
echo x >"$P/evil.st"
rm "$P/beremiz.xml"
expect_exit 1 "added and removed files" -- "$PLCGUARD" diff $(trust_args) "$P"
expect_out 'added +evil.st added' "added file named"
expect_out 'removed +beremiz.xml removed' "removed file named"
rm "$P/evil.st"
cp "$PG_SRC/samples/projects/pump_station/beremiz.xml" "$P/"
: >"$P/other.lck"
expect_exit 0 "a new empty lock file is ignored" -- "$PLCGUARD" verify $(trust_args) "$P"
echo locked >"$P/other.lck"
expect_exit 1 "a non-empty .lck is not a lock file" -- "$PLCGUARD" verify $(trust_args) "$P"
rm "$P/other.lck"
ln -s /etc/passwd "$P/link"
expect_exit 1 "a new symlink is reported, not followed" -- "$PLCGUARD" diff $(trust_args) "$P"
expect_out 'link link added' "symlink is a link component"
rm "$P/link"

# S7 blocks: code change, timestamps only, checksum only
cp "$B/OB1.mc7" "$T/ob1"; cp "$B/FC10.mc7" "$T/fc10"; cp "$B/DB1.mc7" "$T/db1"
patch_bytes "$B/OB1.mc7" 50 7071
patch_bytes "$B/FC10.mc7" 16 00001000
len=$(stat -c %s "$B/DB1.mc7")
patch_bytes "$B/DB1.mc7" $((len - 10)) abcd
expect_exit 1 "blocks changed" -- "$PLCGUARD" diff $(trust_args) "$B"
expect_out 'OB1 logic changed \(code\)' "OB1 code change named"
expect_out 'FC10 changed: timestamps' "FC10 timestamps-only recognised"
expect_out 'DB1 changed: checksum only' "DB1 checksum-only recognised"
cp "$T/ob1" "$B/OB1.mc7"; cp "$T/fc10" "$B/FC10.mc7"; cp "$T/db1" "$B/DB1.mc7"
expect_exit 0 "restored blocks verify" -- "$PLCGUARD" verify $(trust_args) "$B"

# archive: one entry changed, re-packed in the sample's TIA layout
# (unzip warns about the '\' separators, exit 1, and converts them)
cd "$T" && mkdir z && cd z && { unzip -q "$T/p/line3.zap16" 2>/dev/null || [ $? -eq 1 ]; } &&
	echo "tampered" >>Line3/README.txt && rm "$T/p/line3.zap16" &&
	python3 "$PG_SRC/tests/e2e/tiazip.py" Line3 "$T/p/line3.zap16" --root Line3 && cd "$T"
expect_exit 1 "archive entry changed" -- "$PLCGUARD" diff $(trust_args) "$T/p/line3.zap16"
expect_out 'archive entry line3.zap16!Line3/README.txt changed' "changed entry named"
expect_no_out 'FB20 logic' "unchanged blocks inside the archive not reported"

# The project replaced by a different file type
rm -rf "$B" && echo "not a folder" >"$B"
expect_exit 1 "folder replaced by a file" -- "$PLCGUARD" verify $(trust_args) "$B"
finish
