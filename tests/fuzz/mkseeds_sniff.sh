#!/usr/bin/env bash
# mkseeds_sniff.sh - the small seeds of fuzz_sniff (tests/fuzz/seeds/fuzz_sniff):
# single short sessions cut from samples/captures and pcapng variants made by
# tests/e2e/mkpcapng.py, a few KB each, so that libFuzzer runs thousands of
# executions a second instead of tens (fuzz_sniff ignores inputs > 64 KiB).
# Run from the source tree; the outputs are committed.
set -euo pipefail
cd "$(dirname "$0")/../.."
C=samples/captures
O=tests/fuzz/seeds/fuzz_sniff
MK=tests/e2e/mkpcapng.py
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT

# cut IN OUT FIRST LAST: classic pcap records FIRST..LAST (1-based)
cut() {
	python3 - "$@" <<'PY'
import struct, sys
src, dst, first, last = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
d = open(src, 'rb').read()
e = '<' if d[:4] in (b'\xd4\xc3\xb2\xa1', b'\x4d\x3c\xb2\xa1') else '>'
out, off, n = bytearray(d[:24]), 24, 0
while off + 16 <= len(d):
    caplen = struct.unpack_from(e + 'I', d, off + 8)[0]
    n += 1
    if first <= n <= last:
        out += d[off:off + 16 + caplen]
    off += 16 + caplen
open(dst, 'wb').write(out)
PY
}

cut $C/s7_download.pcap $O/s7_download_ob1.pcap 1 36          # setup, OB1 slices, _INSE
cut $C/s7_download.pcap $W/s7_short.pcap 1 20
cut $C/umas_download.pcap $O/umas_download_head.pcap 1 30
cut $C/umas_readback.pcap $O/umas_readback_head.pcap 1 30
cut $C/s7_download_evasive.pcap $O/s7_evasive_head.pcap 1 36
cut $C/s7_overlap_conflict.pcap $O/s7_overlap_conflict.pcap 1 999
python3 $MK $O/ng_two_linktypes.pcapng multi $W/s7_short.pcap $C/modbus_filerecord.pcap
python3 $MK $O/ng_rawip_be_pb.pcapng multi $W/s7_short.pcap $C/modbus_filerecord.pcap --raw --be --pb
python3 $MK $O/ng_tsresol_ns.pcapng ts $W/s7_short.pcap 9 1000000000
python3 $MK $O/ng_tsresol_bin.pcapng ts $W/s7_short.pcap 0x9e
python3 $MK $O/ng_sections.pcapng sections $W/s7_short.pcap $C/modbus_filerecord.pcap
python3 $MK $O/ng_spb.pcapng spb $W/s7_short.pcap
rm -f $O/*.map
ls -l $O
