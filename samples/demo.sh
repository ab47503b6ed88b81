#!/usr/bin/env bash
# demo.sh [PLCGUARD] - the end-to-end demo on samples/: a test-only PKI is
# generated, an engineer registers the sample projects, plcguard verifies
# them, then someone tampers with the copies on disk and plcguard catches it;
# then the wire: captured program downloads (samples/captures, made by
# samples/gen/mkcaps.c) are matched against the signed baselines.
# Works on copies in a temporary folder; the committed samples stay untouched.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
PLCGUARD=${1:-${PLCGUARD:-$here/../build/plcguard}}
PLCGUARD=$(cd "$(dirname "$PLCGUARD")" && pwd)/$(basename "$PLCGUARD")
work=$(mktemp -d "${TMPDIR:-/tmp}/plcguard-demo.XXXXXX")
pki=$work/pki
store=$work/store
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*" | sed "s|$work|\$DEMO|g"; "$@"; }

say "A test-only PKI (root CA, intermediate, engineer certificate, CRLs)"
bash "$here/../tests/pki/mkpki.sh" "$pki" >/dev/null
echo "generated in \$DEMO/pki (TEST ONLY keys)"
cp -r "$here/projects" "$work/projects"
window="$(date -u -d '-1 hour' +%Y-%m-%dT%H:%MZ)/$(date -u -d '+4 hours' +%Y-%m-%dT%H:%MZ)"

say "The OT engineer registers the approved projects"
for p in pump_station s7_blocks line3.zap16 mixer_step7; do
	run "$PLCGUARD" register --key "$pki/keys/engineer.key" --cert "$pki/certs/engineer.pem" \
		--chain "$pki/chain.pem" --ticket CHG-2026-0142 --window "$window" \
		--target 10.10.1.10,rack=0,slot=2 --store "$store" "$work/projects/$p"
done
run "$PLCGUARD" register --key "$pki/keys/engineer.key" --cert "$pki/certs/engineer.pem" \
	--chain "$pki/chain.pem" --ticket CHG-2026-0150 --target 10.10.2.20 \
	--store "$store" "$work/projects/umas_app"

say "Anyone holding only the trust anchor and CRLs verifies them"
run "$PLCGUARD" verify --trust "$pki/trust" --crl "$pki/crl" --store "$store" --all

say "Someone edits PumpControl's logic and patches OB1's code on disk"
sed -i 's/Level > HighLimit THEN/Level > HighLimit + 15.0 THEN/' "$work/projects/pump_station/plc.xml"
printf '\x70\x71' | dd of="$work/projects/s7_blocks/OB1.mc7" bs=1 seek=50 conv=notrunc status=none
printf '\x00\x00\x10\x00' | dd of="$work/projects/s7_blocks/FC10.mc7" bs=1 seek=16 conv=notrunc status=none
echo "helper.dll" >"$work/projects/s7_blocks/helper.dll"

say "plcguard catches it"
set +e
run "$PLCGUARD" verify --trust "$pki/trust" --crl "$pki/crl" --store "$store" "$work/projects/pump_station"
rc1=$?
run "$PLCGUARD" diff --trust "$pki/trust" --crl "$pki/crl" --store "$store" "$work/projects/s7_blocks"
rc2=$?
run "$PLCGUARD" verify --trust "$pki/trust" --crl "$pki/crl" --store "$store" "$work/projects/line3.zap16"
rc3=$?
say "The EWS watcher's view of the same folder (plcguard watch --once: what a running agent reports)"
run "$PLCGUARD" watch --once --no-fanotify --trust "$pki/trust" --crl "$pki/crl" --store "$store" \
	"$work/projects"
rc10=$?

say "On the wire: an approved S7 download (OB1, FC10, FB20, DB1) seen on the SPAN port"
run "$PLCGUARD" sniff --trust "$pki/trust" --crl "$pki/crl" --store "$store" \
	-r "$here/captures/s7_download.pcap"
rc4=$?
say "On the wire: a tampered OB1, a re-stamped FC10, an unknown FB99, then a PLC stop"
run "$PLCGUARD" sniff --trust "$pki/trust" --crl "$pki/crl" --store "$store" \
	-r "$here/captures/s7_tampered.pcap"
rc5=$?
say "On the wire: a Modicon application download over UMAS, as JSON lines for the SOC"
run "$PLCGUARD" sniff --json --no-summary --trust "$pki/trust" --crl "$pki/crl" --store "$store" \
	--extract "$work/extracted" -r "$here/captures/umas_download.pcap"
rc6=$?
say "The approved download as an analyst exports it (tshark -Y s7comm: no empty COTP DTs, no ACKs)"
rc7=0
if command -v tshark >/dev/null; then
	tshark -r "$here/captures/s7_download.pcap" -Y s7comm -w "$work/s7_download.filtered.pcap" 2>/dev/null
	run "$PLCGUARD" sniff --trust "$pki/trust" --crl "$pki/crl" --store "$store" \
		-r "$work/s7_download.filtered.pcap"
	rc7=$?
else
	echo "(tshark not installed: step skipped)"
fi
say "What reached the PLC: OB1 activated, FC10 never activated, FB20 refused by the PLC (0xD280)"
run "$PLCGUARD" sniff --trust "$pki/trust" --crl "$pki/crl" --store "$store" \
	-r "$here/captures/s7_refused.pcap"
rc8=$?
say "On the wire: SIMATIC Manager downloads the STEP 7 project's blocks (FC1 patched after signing)"
run "$PLCGUARD" sniff --trust "$pki/trust" --crl "$pki/crl" --store "$store" \
	-r "$here/captures/s7_step7_download.pcap"
rc9=$?
set -e

say "Result"
if [ $rc1 -eq 1 ] && [ $rc2 -eq 1 ] && [ $rc3 -eq 0 ] && [ $rc4 -eq 0 ] && [ $rc5 -eq 1 ] && [ $rc6 -eq 0 ] &&
   [ $rc7 -eq 0 ] && [ $rc8 -eq 0 ] && [ $rc9 -eq 1 ] && [ $rc10 -eq 1 ]; then
	echo "tamper caught: pump_station and s7_blocks differ (exit 1), line3.zap16 still verified (exit 0);"
	echo "      the watcher reports both as file.tampered (exit 1)"
	echo "wire: the approved downloads match their baselines (exit 0); the tampered session"
	echo "      differs (exit 1): OB1 DIFFERS, FB99 UNKNOWN, PLC stop reported;"
	echo "      the filtered export still matches block for block; the refused FB20 is told apart;"
	echo "      SIMATIC Manager's download of the STEP 7 project matches block for block,"
	echo "      except FC1, patched after signing, which DIFFERS (exit 1)"
	rm -rf "$work"
	exit 0
fi
echo "UNEXPECTED: exits $rc1 $rc2 $rc3 $rc4 $rc5 $rc6 $rc7 $rc8 $rc9 $rc10 (wanted 1 1 0 0 1 0 0 0 1 1); files kept in $work" >&2
exit 1
