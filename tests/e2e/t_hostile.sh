#!/usr/bin/env bash
# Hostile and broken input: a clear error naming the file, a non-zero exit,
# never a crash or a hang.
. "$(dirname "$0")/lib.sh"
make_pki
H=$T/h
mkdir -p "$H"
# Each case is a project folder holding one bad file.
mk() { mkdir -p "$H/$1"; }

mk xxe
cat >"$H/xxe/plc.xml" <<'X'
<?xml version="1.0"?>
<!DOCTYPE project [ <!ENTITY xxe SYSTEM "file:///etc/passwd"> ]>
<project xmlns="http://www.plcopen.org/xml/tc6_0201"><fileHeader companyName="&xxe;"/></project>
X
mk laughs
{
	echo '<?xml version="1.0"?>'
	echo '<!DOCTYPE project ['
	echo ' <!ENTITY a "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa">'
	p=a
	for l in b c d e f g h i j k; do
		echo " <!ENTITY $l \"&$p;&$p;&$p;&$p;&$p;&$p;&$p;&$p;&$p;&$p;\">"
		p=$l
	done
	echo ']>'
	echo '<project xmlns="http://www.plcopen.org/xml/tc6_0201"><fileHeader companyName="&k;"/></project>'
} >"$H/laughs/plc.xml"
mk truncxml
head -c 1500 "$PG_SRC/samples/projects/pump_station/plc.xml" >"$H/truncxml/plc.xml"
mk truncmc7
head -c 120 "$PG_SRC/samples/projects/s7_blocks/FB20.mc7" >"$H/truncmc7/FB20.mc7"
mk badzip
head -c 1200 "$PG_SRC/samples/projects/line3.zap16" >"$H/badzip/line3.zap16"
mk bomb
head -c 300000000 /dev/zero >"$T/zeros.bin"
(cd "$T" && zip -q -9 "$H/bomb/bomb.zip" zeros.bin) && rm "$T/zeros.bin"
for c in xxe laughs truncxml truncmc7 badzip bomb; do
	expect_exit 74 "register refuses $c" -- timeout 60 "$PLCGUARD" register $(sign_args engineer) "$H/$c"
	expect_out "$H/$c: .+: " "error for $c names the file"
done
cp "$T/out" "$T/bomb.out"
expect_exit 74 "bomb" -- timeout 60 "$PLCGUARD" register $(sign_args engineer) "$H/bomb"
expect_out 'bomb.zip.*(ratio|limit)' "decompression bomb named as such"
expect_exit 74 "xxe" -- timeout 60 "$PLCGUARD" register $(sign_args engineer) "$H/xxe"
expect_no_out 'root:x:0' "no external entity was read"
expect_exit 74 "truncated block" -- timeout 60 "$PLCGUARD" register $(sign_args engineer) "$H/truncmc7"
expect_out 'FB20.mc7: S7 block: offset' "truncated MC7 error names the offset"

# --lenient registers such files as plain files; verify then works
expect_exit 0 "--lenient registers a broken file as plain" -- "$PLCGUARD" register --lenient $(sign_args engineer) "$H/truncxml"
expect_exit 0 "and verify accepts the same bytes" -- "$PLCGUARD" verify $(trust_args) "$H/truncxml"

# A project file replaced by a hostile one is a content change, not a crash
cp -r "$PG_SRC/samples/projects/pump_station" "$T/ps"
"$PLCGUARD" register $(sign_args engineer) "$T/ps" >/dev/null 2>&1
cp "$H/xxe/plc.xml" "$T/ps/plc.xml"
expect_exit 1 "XXE swapped in: content differs" -- timeout 60 "$PLCGUARD" verify $(trust_args) "$T/ps"
expect_out 'problem +plc.xml: PLCopen XML' "the parse problem is reported"
expect_out 'removed +POU PumpControl removed' "its POUs are gone"

# Inspect on hostile files exits 1 with the problem, never crashes
for c in xxe laughs truncxml truncmc7 badzip; do
	expect_exit 1 "inspect $c" -- timeout 60 "$PLCGUARD" inspect "$H/$c"
done

# Unreadable file: an I/O error naming the file (skipped as root: root reads all)
if [ "$(id -u)" -ne 0 ]; then
	mk unreadable
	echo x >"$H/unreadable/f"
	chmod 000 "$H/unreadable/f"
	expect_exit 74 "unreadable file" -- "$PLCGUARD" register $(sign_args engineer) "$H/unreadable"
	expect_out 'unreadable.*f: cannot open' "unreadable file named"
fi

# A file that keeps changing while it is hashed is never given a hash
mk changing
head -c 64000000 /dev/urandom >"$H/changing/big.bin"
( while :; do echo x >>"$H/changing/big.bin"; done ) &
writer=$!
cleanup_hook() { kill "$writer" 2>/dev/null; }
expect_exit 74 "file changing while hashed" -- "$PLCGUARD" register $(sign_args engineer) "$H/changing"
expect_out 'changed while being hashed' "the change is reported"
kill "$writer" 2>/dev/null; wait "$writer" 2>/dev/null

# Manifests: hostile JSON in a store entry never crashes the verifier
S=$T/hstore
for i in 1 2 3 4 5; do mkdir -p "$S/e$i"; cp "$(ls "$PLCGUARD_STORE"/*/manifest.p7s | head -1)" "$S/e$i/manifest.p7s"; done
printf '%*s' 100000 '' | tr ' ' '[' >"$S/e1/manifest.json"
printf '{"_type": "https://in-toto.io/Statement/v1", "_type": 1}' >"$S/e2/manifest.json"
head -c 5000 /dev/urandom >"$S/e3/manifest.json"
printf '' >"$S/e4/manifest.json"
printf '{"a":"\\u0000"}' >"$S/e5/manifest.json"
expect_exit 3 "hostile store entries" -- timeout 60 "$PLCGUARD" verify $(trust_args) --store "$S" "$T/ps"
expect_out 'warning: baseline e1' "each bad entry reported"
finish
