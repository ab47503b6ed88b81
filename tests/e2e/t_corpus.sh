#!/usr/bin/env bash
# Real project formats from ../shared/corpus register and verify, and a
# change in them is caught.  Skipped when the corpus is absent.
. "$(dirname "$0")/lib.sh"
need_corpus
make_pki
C=$PG_CORPUS/projects
mkdir -p "$T/c"
cp -r "$C/plcopen/beremiz" "$T/c/beremiz"
cp "$C/plcopen/codesys_example_project.xml" "$T/c/"
cp "$PG_CORPUS/blocks/DB1_from_s7comm_downloading_block_db1.mc7" "$T/c/DB1.mc7"

# Beremiz project folders, each one
n=0
for d in "$T"/c/beremiz/exemples/* "$T"/c/beremiz/tests/projects/*; do
	[ -d "$d" ] || continue
	n=$((n + 1))
	expect_exit 0 "register beremiz $(basename "$d")" -- "$PLCGUARD" register $(sign_args engineer) "$d"
	expect_exit 0 "verify beremiz $(basename "$d")" -- "$PLCGUARD" verify $(trust_args) "$d"
done
[ "$n" -gt 5 ] && pass "$n Beremiz folders" || fail "only $n Beremiz folders found"

expect_exit 0 "register CODESYS export" -- "$PLCGUARD" register $(sign_args engineer) "$T/c/codesys_example_project.xml"
expect_exit 0 "inspect CODESYS export" -- "$PLCGUARD" inspect "$T/c/codesys_example_project.xml"
expect_out 'format  plcopen-xml' "CODESYS export is PLCopen XML"
[ "$(grep -c '^  pou ' "$T/out")" -eq 30 ] && pass "30 POUs in the CODESYS export" || fail "POU count $(grep -c '^  pou ' "$T/out")"
expect_exit 0 "verify CODESYS export" -- "$PLCGUARD" verify $(trust_args) "$T/c/codesys_example_project.xml"
# CRLF -> LF conversion of the whole file keeps all logic
sed -i 's/\r$//' "$T/c/codesys_example_project.xml"
expect_exit 1 "line endings changed" -- "$PLCGUARD" diff $(trust_args) "$T/c/codesys_example_project.xml"
expect_out 'formatting only' "CRLF/LF is formatting"
expect_no_out 'POU .* changed' "no POU changed by line endings"

expect_exit 0 "register the carved DB1" -- "$PLCGUARD" register $(sign_args engineer) "$T/c/DB1.mc7"
expect_exit 0 "inspect DB1 --json" -- "$PLCGUARD" inspect --json "$T/c/DB1.mc7"
expect_out '"sha256": "6fbdbd7fb0f8c20cdc0b917b2a3f0a7c2b1e7d5f9536e5d804edb7d4a1628f2d"' "DB1 sha256"
expect_out '"block": "DB1"' "DB1 recognised"
expect_exit 0 "verify DB1" -- "$PLCGUARD" verify $(trust_args) "$T/c/DB1.mc7"

# The TIA Portal V16 project folder (7-Zip in the corpus)
if command -v 7z >/dev/null; then
	(cd "$T/c" && 7z x -y "$C/tia/HowTos_Sinus_Wave.7z" >/dev/null)
	tia=$(find "$T/c" -maxdepth 2 -name '*.ap16' -printf '%h\n' | head -1)
	if [ -n "$tia" ]; then
		expect_exit 0 "register TIA project" -- "$PLCGUARD" register $(sign_args engineer) "$tia"
		expect_exit 0 "verify TIA project" -- "$PLCGUARD" verify $(trust_args) "$tia"
		expect_exit 0 "inspect TIA project" -- "$PLCGUARD" inspect "$tia"
		expect_out 'format  tia-portal' "TIA project recognised"
		f=$(find "$tia" -name 'PEData.plf' | head -1)
		printf 'X' | dd of="$f" bs=1 seek=1000 conv=notrunc status=none
		expect_exit 1 "TIA PEData.plf changed" -- "$PLCGUARD" diff $(trust_args) "$tia"
		expect_out 'PEData.plf changed' "PEData.plf named"
		# zip the folder as an archive and register that too
		(cd "$(dirname "$tia")" && zip -qr "$T/c/tia.zap16" "$(basename "$tia")")
		expect_exit 0 "register TIA archive" -- "$PLCGUARD" register $(sign_args engineer) "$T/c/tia.zap16"
		expect_exit 0 "verify TIA archive" -- "$PLCGUARD" verify $(trust_args) "$T/c/tia.zap16"
	else
		fail "TIA project folder not found after unpacking"
	fi
else
	echo "SKIP part: 7z (p7zip-full) not installed"
fi
finish
