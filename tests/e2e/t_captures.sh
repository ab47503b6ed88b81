#!/bin/bash
# t_captures.sh - the committed sample captures (samples/captures) are exactly
# what the generator (samples/gen/mkcaps.c, $PG_BUILD/pg-mkcaps) makes, and an
# independent dissector (tshark) reads every S7 / Modbus capture without
# "Malformed", with correct IP/TCP checksums, and sees the intended S7
# functions, block file names, PI services and Modbus/UMAS function codes.
# Expected values: samples/captures/README.md.  Exit 77 (skip) after the
# determinism checks when tshark is not installed.
. "$PG_SRC/tests/e2e/lib.sh"

GEN=$PG_BUILD/pg-mkcaps
CAPS=$PG_SRC/samples/captures
APX=$PG_SRC/samples/projects/umas_app/line4.apx

if [ ! -x "$GEN" ]; then
	fail "generator $GEN not built"
	finish
	exit 1
fi

# ---- 1. determinism: regenerate into a temp dir, compare byte for byte
expect_exit 0 "pg-mkcaps runs" -- "$GEN" --blocks "$PG_SRC/samples/projects/s7_blocks" \
	--out "$T/caps" --apx "$T/line4.apx"
for f in "$CAPS"/*; do
	n=$(basename "$f")
	[ "$n" = README.md ] && continue
	if cmp -s "$f" "$T/caps/$n"; then
		pass "regenerated $n is byte-identical"
	else
		fail "regenerated $n differs from the committed file (run pg-mkcaps, see README)"
	fi
done
for f in "$T/caps"/*; do
	n=$(basename "$f")
	[ -e "$CAPS/$n" ] || fail "generator writes $n, which is not committed"
done
if cmp -s "$APX" "$T/line4.apx"; then
	pass "regenerated line4.apx is byte-identical"
else
	fail "regenerated line4.apx differs from samples/projects/umas_app/line4.apx"
fi
head -c 3 "$T/line4.apx" >"$T/out"
expect_out '^APX' "line4.apx starts with APX"
# Same inputs, second run: identical again (no clock, no randomness).
"$GEN" --blocks "$PG_SRC/samples/projects/s7_blocks" --out "$T/caps2" --apx "$T/l2.apx" >/dev/null 2>&1
if diff -r "$T/caps" "$T/caps2" >/dev/null && cmp -s "$T/line4.apx" "$T/l2.apx"; then
	pass "two runs give identical output"
else
	fail "two runs differ"
fi
expect_exit 2 "pg-mkcaps without arguments is a usage error" -- "$GEN"
expect_exit 2 "pg-mkcaps with a missing block folder fails cleanly" -- \
	"$GEN" --blocks "$T/nope" --out "$T/caps3" --apx "$T/l3.apx"

# ---- 2. tshark as the independent oracle
if ! command -v tshark >/dev/null 2>&1; then
	echo "SKIP: tshark not installed (Debian package tshark): dissection checks skipped"
	finish || exit 1
	exit 77
fi

# Out-of-order segments are part of the evasive capture; the OSI session
# heuristic on COTP misreads TLS handshake records (s7plus_tls) as SES SPDUs,
# which tells nothing about our bytes, so it is switched off.
TS=(tshark -n -o tcp.reassemble_out_of_order:TRUE --disable-heuristic ses_cotp)

# field F FIELD [FILTER] [tshark opts...]: all values, one per line
field() {
	local f=$1 fld=$2 flt=${3:-} ; shift 3 2>/dev/null || shift $#
	"${TS[@]}" "$@" -r "$CAPS/$f" ${flt:+-Y "$flt"} -T fields -e "$fld" -E occurrence=a \
		2>/dev/null | tr ',' '\n' | sed '/^$/d'
}

# counts F FIELD [FILTER] [opts]: "v1:n1 v2:n2 ..." sorted by value
counts() {
	field "$@" | sort | uniq -c | awk '{ printf "%s%s:%s", (NR > 1 ? " " : ""), $2, $1 }'
}

# expect_eq GOT WANT WHAT
expect_eq() {
	if [ "$1" = "$2" ]; then
		pass "$3"
	else
		fail "$3: got '$1', want '$2'"
	fi
}

# One pass per capture: frame number, IPv4 and TCP checksum status (1 good,
# 0 bad), expert severities (0x800000 = error, which every "Malformed" is).
for f in "$CAPS"/*.pcap "$CAPS"/*.pcapng; do
	n=$(basename "$f")
	"${TS[@]}" -o ip.check_checksum:TRUE -o tcp.check_checksum:TRUE -r "$f" -T fields \
		-e frame.number -e ip.checksum.status -e tcp.checksum.status -e _ws.expert.severity \
		-E occurrence=a >"$T/fields" 2>/dev/null
	frames=$(wc -l <"$T/fields")
	[ "$frames" -gt 0 ] && pass "$n: tshark reads $frames frames" || fail "$n: tshark reads nothing"
	grep -q "^==== $n  (.*, $frames frames)" "$CAPS/FRAMES.txt" &&
		pass "$n: FRAMES.txt lists $frames frames" || fail "$n: FRAMES.txt frame count differs"
	expect_eq "$(awk -F'\t' '{ n = split($4, s, ","); for (i = 1; i <= n; i++)
		if (s[i] + 0 >= 8388608) { print $1; break } }' "$T/fields" | wc -l)" 0 \
		"$n: no malformed / error-level frames"
	expect_eq "$(awk -F'\t' '$2 == "0" || $3 == "0"' "$T/fields" | wc -l)" 0 \
		"$n: IPv4 header and TCP checksums correct"
	expect_eq "$(awk -F'\t' '$3 == "1"' "$T/fields" | wc -l)" "$frames" \
		"$n: every frame has a verified-good TCP checksum"
done

# ---- S7comm: functions per capture (each counted over Job and Ack_Data)
ALL4="0x1a:8 0x1b:18 0x1c:8 0x28:10 0xf0:2"
OB1ONLY="0x1a:2 0x1b:4 0x1c:2 0x28:2 0xf0:2"
expect_eq "$(counts s7_download.pcap s7comm.param.func)" "$ALL4" "s7_download: S7 functions"
expect_eq "$(counts s7_download_evasive.pcap s7comm.param.func)" "$ALL4" \
	"s7_download_evasive: same functions after COTP and TCP reassembly"
expect_eq "$(counts s7_overlap_conflict.pcap s7comm.param.func)" \
	"0x1a:4 0x1b:8 0x1c:4 0x28:4 0xf0:2" "s7_overlap_conflict: S7 functions"
expect_eq "$(counts s7_gap.pcap s7comm.param.func '' -o tcp.desegment_tcp_streams:FALSE)" \
	"0x1a:8 0x1b:17 0x1c:8 0x28:8 0xf0:2" "s7_gap: one Download Block reply missing"
expect_eq "$(field s7_gap.pcap frame.number tcp.analysis.lost_segment | tr '\n' ' ')" "28 " \
	"s7_gap: tshark reports the lost segment before frame 28"
expect_eq "$(field s7_download.pcap frame.number tcp.analysis.lost_segment | wc -l)" 0 \
	"s7_download: no lost segment"
expect_eq "$(counts s7_tampered.pcap s7comm.param.func)" \
	"0x1a:8 0x1b:14 0x1c:6 0x1d:2 0x1e:4 0x1f:2 0x28:8 0x29:2 0xf0:2" "s7_tampered: S7 functions"
expect_eq "$(counts s7_refused.pcap s7comm.param.func)" "0x1a:6 0x1b:14 0x1c:6 0x28:2 0xf0:2" \
	"s7_refused: S7 functions (one _INSE: FC10 is never activated, FB20 refused)"
expect_eq "$(field s7_refused.pcap s7comm.data.blockcontrol.errorcode 's7comm.param.func == 0x1c && s7comm.header.rosctr == 1' | tr '\n' ' ')" \
	"0x0000 0x0000 0xd280 " "s7_refused: Job 1C error codes 0, 0, 0xD280"
expect_eq "$(counts s7_midstream.pcap s7comm.param.func)" "0x1a:2 0x1b:6 0x1c:4 0x28:4" \
	"s7_midstream: starts inside FC10 (1B/1C/28 without 1A), then DB1"
expect_eq "$(field s7_midstream.pcap tcp.flags.syn 'tcp.flags.syn == 1' | wc -l)" 0 \
	"s7_midstream: no handshake"
for v in s7_vlan.pcap s7_qinq.pcap s7_sll.pcap s7_sll2.pcap s7_ipv6.pcapng s7_rawip.pcap; do
	expect_eq "$(counts $v s7comm.param.func)" "$OB1ONLY" "$v: OB1 download"
done
expect_eq "$(counts mixed.pcapng s7comm.param.func)" "0x1a:2 0x1b:4 0x1c:2 0x28:2 0xf0:2" \
	"mixed: S7 download of DB1"
expect_eq "$(counts s7_step7_download.pcap s7comm.param.func)" "0x1a:14 0x1b:40 0x1c:14 0x28:14 0xf0:2" \
	"s7_step7_download: S7 functions (7 blocks, 20 slices, 7 x _INSE)"

# block file names in Job 1A (request download) and the PI services, in order
# (without TCP desegmentation: tshark stops dissecting a direction after a gap)
reqnames() { field "$1" s7comm.param.blockcontrol.filename \
	's7comm.header.rosctr == 1 && (s7comm.param.func == 0x1a || s7comm.param.func == 0x1d)' \
	-o tcp.desegment_tcp_streams:FALSE | tr '\n' ' '; }
expect_eq "$(reqnames s7_download.pcap)" "_0800001P _0C00010P _0E00020P _0A00001P " \
	"s7_download: OB1, FC10, FB20, DB1 requested"
expect_eq "$(reqnames s7_download_evasive.pcap)" "_0800001P _0C00010P _0E00020P _0A00001P " \
	"s7_download_evasive: OB1, FC10, FB20, DB1 requested"
expect_eq "$(reqnames s7_gap.pcap)" "_0800001P _0A00001P _0C00010P _0E00020P " \
	"s7_gap: OB1, DB1, FC10, FB20 requested"
expect_eq "$(reqnames s7_tampered.pcap)" "_0800001P _0C00010P _0E00099P _0A00001P _0A00001A " \
	"s7_tampered: OB1, FC10, FB99, DB1 (refused), upload of DB1"
expect_eq "$(reqnames s7_step7_download.pcap)" \
	"_0800035P _0C00001P _0E00001P _0A00001P _0A00002P _0C00002P _0800001P " \
	"s7_step7_download: OB35, FC1, FB1, DB1, DB2, FC2, OB1 requested"
expect_eq "$(field s7_step7_download.pcap s7comm.param.pistart.servicename | tr '\n' ' ')" \
	"_INSE _INSE _INSE _INSE _INSE _INSE _INSE " "s7_step7_download: an _INSE after each block"
expect_eq "$(field s7_step7_download.pcap s7comm.data.blockcontrol.loadmem_len | tr '\n' ' ')" \
	"000204 000246 000468 000160 000160 000164 000296 " "s7_step7_download: 1A load-memory lengths"
expect_eq "$(field s7_download.pcap s7comm.param.pistart.servicename | tr '\n' ' ')" \
	"_INSE _INSE _INSE _INSE P_PROGRAM " "s7_download: 4 x _INSE then P_PROGRAM"
expect_eq "$(field s7_tampered.pcap s7comm.param.pistart.servicename | tr '\n' ' ')" \
	"_INSE _INSE _INSE _DELE P_PROGRAM " "s7_tampered: _INSE x3, _DELE, stop (P_PROGRAM)"
expect_eq "$(field s7_tampered.pcap frame.number 's7comm.header.errcls == 0xd2 && s7comm.header.errcod == 0x37')" \
	55 "s7_tampered: Ack_Data error 0xD237 in frame 55"
expect_eq "$(field s7_tampered.pcap s7comm.param.blockcontrol.upl_lenstring)" 0000136 \
	"s7_tampered: upload announces 136 bytes"
expect_eq "$(field s7_download.pcap s7comm.data.blockcontrol.loadmem_len | tr '\n' ' ')" \
	"000200 000160 000252 000136 " "s7_download: 1A load-memory lengths"
# the slices of each block are the block: compare with the sample files
hex2bin() { tr -d ':\n' | perl -ne 'print pack("H*", $_)'; }
slices() { field "$1" s7comm.resp.data "s7comm.header.rosctr == 3 && s7comm.param.func == $2" | hex2bin |
	sha256sum | cut -c1-64; }
got=$(slices s7_download.pcap 0x1b)
want=$(cat "$PG_SRC"/samples/projects/s7_blocks/{OB1,FC10,FB20,DB1}.mc7 | sha256sum | cut -c1-64)
expect_eq "$got" "$want" "s7_download: the Download Block slices concatenate to OB1+FC10+FB20+DB1"
got=$(slices s7_download_evasive.pcap 0x1b)
expect_eq "$got" "$want" "s7_download_evasive: the reassembled slices are the four blocks"
# the STEP 7 project's blocks as pg-mksamples builds them (samples/gen/step7gen.h),
# FC1 with block byte 56 XOR 0x10 (patched after signing), in the download order
if [ -x "$PG_BUILD/pg-mksamples" ] && "$PG_BUILD/pg-mksamples" --step7-blocks "$T/s7g" >/dev/null; then
	got=$(slices s7_step7_download.pcap 0x1b)
	want=$(python3 -c '
import hashlib, sys
d = sys.argv[1]
out = b""
for b in ("OB35", "FC1", "FB1", "DB1", "DB2", "FC2", "OB1"):
    x = bytearray(open(f"{d}/{b}.mc7", "rb").read())
    if b == "FC1":
        x[56] ^= 0x10
    out += bytes(x)
print(hashlib.sha256(out).hexdigest())' "$T/s7g")
	expect_eq "$got" "$want" \
		"s7_step7_download: the slices are the STEP 7 project's 7 blocks, FC1 with byte 56 patched"
else
	fail "pg-mksamples --step7-blocks did not run"
fi
got=$(slices s7_tampered.pcap 0x1e)
expect_eq "$got" "$(sha256sum <"$PG_SRC/samples/projects/s7_blocks/DB1.mc7" | cut -c1-64)" \
	"s7_tampered: the uploaded bytes are DB1"
expect_eq "$(field s7plus_tls.pcap cotp.dst-tsap 'cotp.type == 0x0e')" SIMATIC-ROOT-ES \
	"s7plus_tls: CR with ASCII TSAP SIMATIC-ROOT-ES"
expect_eq "$(field s7plus_tls.pcap s7comm.param.func | wc -l)" 0 "s7plus_tls: no classic S7comm"

# ---- Modbus and UMAS
# umas_codes F: request codes (0x38 envelopes as 38/<inner>), replies as fe.
# Read from tcp.payload (the whole ADU, one per segment here) rather than
# modbus.data: tshark's openSAFETY heuristic sometimes claims UMAS data.
umas_codes() {
	"${TS[@]}" -r "$CAPS/$1" -Y 'modbus.func_code == 90' -T fields -e tcp.srcport -e tcp.payload \
		2>/dev/null | tr -d ':' | awk '{
		c = substr($2, 19, 2)
		if (c == "38") c = c "/" substr($2, 91, 2)
		print ($1 == 502 ? "rsp:" : "req:") c }' | sort | uniq -c |
		awk '{ printf "%s%s=%s", (NR > 1 ? " " : ""), $2, $1 }'
}
expect_eq "$(umas_codes umas_download.pcap)" "req:10=1 req:11=1 req:30=1 req:31=38 req:32=1 req:40=1 rsp:fe=43" \
	"umas_download: 0x10, 0x30, 38 x 0x31 (37 blocks, one re-sent), 0x32, 0x40, 0x11"
expect_eq "$(umas_codes umas_envelope.pcap)" \
	"req:38/10=1 req:38/11=1 req:38/30=1 req:38/31=38 req:38/32=1 req:38/41=1 rsp:fe=43" \
	"umas_envelope: every request in a 0x38 envelope, ends with 0x41 stop"
expect_eq "$(umas_codes umas_readback.pcap)" "req:10=1 req:11=1 req:33=1 req:34=31 req:35=1 rsp:fe=35" \
	"umas_readback: 0x33, 31 x 0x34, 0x35"
expect_eq "$(umas_codes mixed.pcapng)" "req:10=1 req:11=1 req:30=1 req:31=38 req:32=1 req:40=1 rsp:fe=43" \
	"mixed: the UMAS download"
# the 0x31 data of umas_download, deduplicated by block number, is line4.apx
got=$("${TS[@]}" -r "$CAPS/umas_download.pcap" -Y 'tcp.dstport == 502 && modbus.func_code == 90' \
	-T fields -e tcp.payload 2>/dev/null | tr -d ':' | awk 'substr($0, 19, 2) == "31" {
		blk = substr($0, 25, 4); if (!(blk in seen)) { seen[blk] = 1; print substr($0, 33) } }' |
	hex2bin | sha256sum | cut -c1-64)
expect_eq "$got" "$(sha256sum <"$APX" | cut -c1-64)" "umas_download: 0x31 blocks reassemble to line4.apx"
expect_eq "$(counts modbus_filerecord.pcap modbus.func_code)" "21:8 3:6 43:2" \
	"modbus_filerecord: FC 3 x3, FC 0x15 x4 (each echoed), FC 0x2B and its exception reply"
expect_eq "$(field modbus_filerecord.pcap modbus.exception_code | tr '\n' ' ')" "1 " \
	"modbus_filerecord: exception code 01"
expect_eq "$(field modbus_filerecord.pcap modbus.reference_num_32 'tcp.dstport == 502 && modbus.func_code == 21' | tr '\n' ' ')" \
	"262144 262204 262264 458752 458792 " "modbus_filerecord: file 4 records 0/60/120, file 7 records 0/40"

finish
