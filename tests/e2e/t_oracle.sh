#!/usr/bin/env bash
# tshark as the oracle for wire parsing (../shared/docs/PROTOCOLS.md section 6):
# for every corpus capture with classic S7comm or Modbus/TCP, and for our own
# sample captures, the per-frame tuples plcguard reports with --pdus agree with
# tshark's fields:
#   S7comm: (frame, ROSCTR, PDU reference, function, block file name)
#   Modbus: (frame, function code, transaction id)
# Frames tshark marks malformed are left out of the comparison (tshark has
# no resynchronisation; we do, and report it).  Skipped without tshark.
. "$(dirname "$0")/lib.sh"
command -v tshark >/dev/null || { echo "SKIP: tshark not installed (Debian package tshark)"; exit 77; }

# tshark with its defaults for the real captures; for our own samples, which
# hold deliberate out-of-order segments, it must be told to reassemble them,
# and after a deliberately lost segment (s7_gap) it must dissect segment by
# segment, or it stops dissecting that direction (plcguard resynchronises).
TS=(tshark -n)

# compare FILE PROTO... : one tshark pass and one plcguard pass per capture
compare() {
	local f=$1 b proto
	shift
	b=$(basename "$f")
	"${TS[@]}" -r "$f" -T fields -E occurrence=a -E separator=/t \
		-e frame.number -e _ws.malformed -e tcp.analysis.flags \
		-e s7comm.header.rosctr -e s7comm.header.pduref -e s7comm.param.func \
		-e s7comm.param.blockcontrol.filename -e modbus.func_code -e mbtcp.trans_id \
		>"$T/ts.tsv" 2>/dev/null
	"$PLCGUARD" sniff --json --pdus --no-baselines --no-summary -r "$f" >"$T/pg.json" 2>/dev/null
	for proto in "$@"; do
		local col=4 kind=s7.pdu
		[ "$proto" = modbus ] && col=9 && kind=modbus.pdu
		if ! cut -f"$col" "$T/ts.tsv" | grep -q . && ! grep -q "\"kind\":\"$kind\"" "$T/pg.json"; then
			continue   # no such traffic in this capture
		fi
		n=$((n + 1))
		if python3 "$PG_SRC/tests/e2e/oracle_cmp.py" "$proto" "$T/ts.tsv" "$T/pg.json" >"$T/cmp" 2>&1; then
			pass "$b ($proto): $(cat "$T/cmp")"
		else
			fail "$b ($proto): $(head -c 800 "$T/cmp")"
		fi
	done
}

n=0
if [ -d "$PG_CORPUS/pcap" ]; then
	# classic S7comm and Modbus only (tshark has no S7comm-plus or UMAS dissector)
	for f in "$PG_CORPUS"/pcap/s7/* "$PG_CORPUS"/pcap/modbus/*; do
		compare "$f" s7 modbus
	done
else
	echo "note: shared corpus not found at $PG_CORPUS: only our own samples are compared"
fi
for f in "$PG_SRC"/samples/captures/*.pcap*; do
	[ -e "$f" ] || continue
	TS=(tshark -n -o tcp.reassemble_out_of_order:TRUE)
	case $(basename "$f") in
	*gap*) TS=(tshark -n -o tcp.desegment_tcp_streams:FALSE) ;;
	esac
	case $(basename "$f") in
	s7plus*) ;;
	*) compare "$f" s7 modbus ;;
	esac
done
# Filtered exports as analysts share them (tshark -Y, and our generator's
# --filtered mode): the empty COTP DT before each PDU and the bare ACKs are
# missing, so the streams have holes the peers ACKed.  tshark dissects them
# segment by segment with its defaults (its out-of-order reassembly would
# stall at the first hole, as issue 8 describes); we must agree frame by frame.
TS=(tshark -n)
if [ -x "$PG_BUILD/pg-mkcaps" ]; then
	"$PG_BUILD/pg-mkcaps" --blocks "$PG_SRC/samples/projects/s7_blocks" --out "$T/gf" \
		--apx "$T/gf.apx" --filtered
	for f in "$T"/gf/*.pcap*; do
		case $(basename "$f") in s7plus*|*gap*|*evasive*|*overlap*) continue ;; esac
		ln -s "$f" "$T/filtered-$(basename "$f")"
		compare "$T/filtered-$(basename "$f")" s7 modbus
	done
fi
for f in "$PG_SRC"/samples/captures/s7_download.pcap "$PG_SRC"/samples/captures/s7_tampered.pcap \
	 "$PG_SRC"/samples/captures/umas_download.pcap \
	 "$PG_CORPUS"/pcap/s7/s7comm_downloading_block_db1.pcap "$PG_CORPUS"/pcap/s7/Plant1_S7comm.pcap; do
	[ -e "$f" ] || continue
	tshark -r "$f" -Y 's7comm || mbtcp' -w "$T/ty-$(basename "$f")" 2>/dev/null
	compare "$T/ty-$(basename "$f")" s7 modbus
done
[ "$n" -gt 0 ] && pass "$n captures compared with tshark" || fail "no capture compared"
finish
