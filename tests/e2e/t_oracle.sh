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

compare() {   # compare PROTO FILE
	local proto=$1 f=$2 b
	b=$(basename "$f")
	if [ "$proto" = s7 ]; then
		"${TS[@]}" -r "$f" -Y 's7comm && !_ws.malformed' -T fields -E occurrence=a -E separator=/t \
			-e frame.number -e s7comm.header.rosctr -e s7comm.header.pduref \
			-e s7comm.param.func -e s7comm.param.blockcontrol.filename >"$T/ts.tsv" 2>/dev/null
	else
		"${TS[@]}" -r "$f" -Y 'mbtcp && !_ws.malformed' -T fields -E occurrence=a -E separator=/t \
			-e frame.number -e modbus.func_code -e mbtcp.trans_id >"$T/ts.tsv" 2>/dev/null
	fi
	# frames tshark flags (retransmission, lost segment, out of order, malformed):
	# it does not dissect new bytes in a segment it calls a retransmission
	"${TS[@]}" -r "$f" -Y 'tcp.analysis.flags || _ws.malformed' -T fields -e frame.number \
		>"$T/flagged" 2>/dev/null
	"$PLCGUARD" sniff --json --pdus --no-baselines --no-summary -r "$f" >"$T/pg.json" 2>/dev/null
	if [ ! -s "$T/ts.tsv" ] && ! grep -q "\"kind\":\"$([ "$proto" = s7 ] && echo s7 || echo modbus).pdu\"" "$T/pg.json"; then
		return 1   # no such traffic in this capture
	fi
	if python3 "$PG_SRC/tests/e2e/oracle_cmp.py" "$proto" "$T/ts.tsv" "$T/pg.json" "$T/flagged" >"$T/cmp" 2>&1; then
		pass "$b ($proto): $(cat "$T/cmp")"
	else
		fail "$b ($proto): $(head -c 800 "$T/cmp")"
	fi
	return 0
}

n=0
if [ -d "$PG_CORPUS/pcap" ]; then
	# classic S7comm and Modbus only (tshark has no S7comm-plus or UMAS dissector)
	for f in "$PG_CORPUS"/pcap/s7/* "$PG_CORPUS"/pcap/modbus/*; do
		compare s7 "$f" && n=$((n + 1))
		compare modbus "$f" && n=$((n + 1))
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
	s7plus*) continue ;;
	s7*|mixed*) compare s7 "$f" && n=$((n + 1)) ;;
	esac
	case $(basename "$f") in
	umas*|modbus*|mixed*) compare modbus "$f" && n=$((n + 1)) ;;
	esac
done
[ "$n" -gt 0 ] && pass "$n captures compared with tshark" || fail "no capture compared"
finish
