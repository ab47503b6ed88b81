#!/usr/bin/env bash
# plcguard sniff on pcapng files made at test time (tests/e2e/mkpcapng.py)
# from the project's sample captures: interfaces of different link types in
# one file (what Wireshark writes when capturing on several interfaces),
# timestamp resolutions and offsets, several sections in both byte orders,
# Simple and obsolete Packet Blocks, blocks to skip; then damaged variants,
# each a clean capture.error naming the byte offset of the damaged block.
. "$(dirname "$0")/lib.sh"
C=$PG_SRC/samples/captures
MK=$PG_SRC/tests/e2e/mkpcapng.py
sniff() { "$PLCGUARD" sniff --json --pdus --no-baselines "$@"; }

# The wire events of a run as "kind frame" lines; with a .map file the
# frames are translated to "source:frame" of the files the packets came from.
wire_events() {
	python3 - "$@" <<'PY'
import json, sys
path, prefix = sys.argv[1], sys.argv[2]
m = {}
if len(sys.argv) > 3:
    for line in open(sys.argv[3]):
        k, src, f = line.split()
        m[int(k)] = '%s:%s' % (src, f)
for line in open(path):
    e = json.loads(line)
    if e['source'] != 'wire':
        continue
    f = e.get('frame', 0)
    print(e['kind'], m.get(f, '%s:%s' % (prefix, f)) if m else '%s:%s' % (prefix, f),
          e.get('ts'), e.get('sha256', ''))
PY
}

sniff -r "$C/s7_download.pcap" >"$T/a.json"
sniff -r "$C/modbus_filerecord.pcap" >"$T/b.json"
{ wire_events "$T/a.json" 0; wire_events "$T/b.json" 1; } | sort >"$T/ab.txt"
[ "$(wc -l <"$T/ab.txt")" -gt 20 ] && pass "reference runs: $(wc -l <"$T/ab.txt") wire events" || fail "reference runs"

# --- 1. two interfaces, two link types, interleaved ------------------------
for v in "sll::" "rawip:--raw:" "rawip-be-pb:--raw --be --pb:"; do
	name=${v%%:*}; rest=${v#*:}; args=${rest%%:*}
	f=$T/multi-$name.pcapng
	python3 "$MK" "$f" multi "$C/s7_download.pcap" "$C/modbus_filerecord.pcap" $args
	# tshark agrees on the interface of every frame
	# (the custom block is a frame without an interface for tshark too)
	if tshark -r "$f" -T fields -e frame.number -e frame.interface_id 2>/dev/null |
		awk 'NF == 2 {print $1, $2}' | diff -q - <(awk '{print $1, $2}' "$f.map") >/dev/null; then
		pass "$name: tshark reads the packets as frames on the interfaces we wrote"
	else
		fail "$name: tshark's frame.interface_id differs from the map"
	fi
	expect_exit 1 "$name: read to the end (exit 1: no baselines)" -- sniff -r "$f"
	cp "$T/out" "$T/m.json"
	expect_count "$T/m.json" "e['kind']=='capture.error'" 0 "$name: no capture error"
	expect_count "$T/m.json" "e['kind']=='sniff.summary' and e['stats']['packets']==$(wc -l <"$f.map") and e['stats']['decode_errors']==0" 1 "$name: every packet decoded"
	expect_count "$T/m.json" "e['kind']=='capture.interface' and e['interface']==1 and e['dlt'] in (113, 12)" 1 "$name: interface 1's link type announced"
	wire_events "$T/m.json" x "$f.map" | sort >"$T/m.txt"
	if diff "$T/ab.txt" "$T/m.txt" >"$T/d.txt"; then
		pass "$name: S7 and Modbus events as in the separate files (kind, frame, time, hash)"
	else
		fail "$name: events differ from the separate files"; head -20 "$T/d.txt"
	fi
done

# --- 2. timestamp resolutions and offsets -----------------------------------
wire_events "$T/a.json" 0 | sort >"$T/a.txt"
for v in "9:1000000000:ns+offset" "0x9e:0:2^-30" "6:0:us" "3:0:ms"; do
	res=${v%%:*}; rest=${v#*:}; off=${rest%%:*}; what=${rest#*:}
	f=$T/ts.pcapng
	python3 "$MK" "$f" ts "$C/s7_download.pcap" "$res" "$off"
	sniff -r "$f" >"$T/t.json"
	wire_events "$T/t.json" 0 | sort >"$T/t.txt"
	if [ "$what" = ms ]; then
		# milliseconds: the times are rounded up to the next ms
		expect_count "$T/t.json" "e['kind']=='s7.block.download'" 4 "tsresol $what: read"
		expect_count "$T/t.json" "e['kind']=='capture.file' and e['ts']=='2026-03-02T09:00:00.001000Z'" 1 "tsresol $what: 230 us is 1 ms"
	elif diff -q "$T/a.txt" "$T/t.txt" >/dev/null; then
		pass "tsresol $what: the same events at the same times"
	else
		fail "tsresol $what: events or times differ"; diff "$T/a.txt" "$T/t.txt" | head
	fi
done

# --- 3. sections in both byte orders; an undecoded link type ----------------
f=$T/sections.pcapng
python3 "$MK" "$f" sections "$C/s7_download.pcap" "$C/modbus_filerecord.pcap"
expect_exit 1 "two sections (little, then big endian)" -- sniff -r "$f"
cp "$T/out" "$T/s.json"
expect_count "$T/s.json" "e['kind']=='capture.error'" 0 "sections: no capture error"
expect_count "$T/s.json" "e['kind']=='s7.block.download'" 4 "section 1: the S7 download"
expect_count "$T/s.json" "e['kind']=='modbus.file.write'" 2 "section 2, interface 1: the Modbus file records"
expect_count "$T/s.json" "e['kind']=='capture.interface' and e['section']==2 and e['dlt']==147 and e['severity']=='warning'" 1 "an undecoded link type is a warning"
expect_count "$T/s.json" "e['kind']=='sniff.summary' and e['stats']['decode_errors']==1" 1 "its packet is counted"

# --- 4. Simple Packet Blocks --------------------------------------------------
f=$T/spb.pcapng
python3 "$MK" "$f" spb "$C/s7_download.pcap"
expect_exit 1 "Simple Packet Blocks" -- sniff -r "$f"
cp "$T/out" "$T/p.json"
expect_count "$T/p.json" "e['kind']=='s7.block.download'" 4 "SPB: the S7 download"
expect_count "$T/p.json" "e['kind']=='s7.block.download' and e['ts'].startswith('1970-01-01T00:00:00')" 4 "SPB: no timestamps"

# --- 5. damaged files ----------------------------------------------------------
f=$T/multi-sll.pcapng
# mutate IN OUT WHAT: damage the 40th packet block (or append), print its offset
mutate() {
	python3 - "$@" <<'PY'
import struct, sys
src, dst, what = sys.argv[1:4]
d = bytearray(open(src, 'rb').read())
off, blocks = 0, []
while off < len(d):
    t, n = struct.unpack_from('<II', d, off)
    blocks.append((off, t, n))
    off += n
pk = [b for b in blocks if b[1] in (2, 3, 6)]
o, t, n = pk[39]
if what == 'len3':      struct.pack_into('<I', d, o + 4, n + 1)
elif what == 'len8':    struct.pack_into('<I', d, o + 4, 8)
elif what == 'huge':    struct.pack_into('<I', d, o + 4, 0xFFFFFFF0)
elif what == 'past':    struct.pack_into('<I', d, o + 4, 1 << 20)
elif what == 'trailer': struct.pack_into('<I', d, o + n - 4, n + 4)
elif what == 'ifid':    struct.pack_into('<I', d, o + 8, 7)
elif what == 'caplen':  struct.pack_into('<I', d, o + 20, n)
elif what == 'snaplen': struct.pack_into('<I', d, o + 20, 300000)
elif what == 'cut':     d = d[:o + n // 2]
elif what == 'bigskip':
    body = b'\0' * (2 << 20)
    blk = struct.pack('<II', 0x40000BAD, 12 + len(body)) + body + struct.pack('<I', 12 + len(body))
    d = d[:o] + blk + d[o:]
elif what == 'bigepb':
    body = struct.pack('<IIIII', 0, 0, 0, 60, 60) + b'\0' * 64 + b'\0' * (2 << 20)
    blk = struct.pack('<II', 6, 12 + len(body)) + body + struct.pack('<I', 12 + len(body))
    d = d[:o] + blk + d[o:]
elif what == 'tsresol':
    # the second IDB's if_tsresol (9) becomes 2^-64
    i = [b for b in blocks if b[1] == 1][1][0]
    j = d.index(b'\x09\x00\x01\x00\x09', i)
    d[j + 4] = 0xC0
    o = i
open(dst, 'wb').write(d)
print(o)
PY
}
for v in "len3:not a multiple of 4" "len8:has a length of 8 < 12" \
	"huge:pcapng block size 4294967280 > maximum 16777216" \
	"past:truncated pcapng dump file; tried to read 1048568 bytes" \
	"trailer:block total length in header [0-9]+ and trailer [0-9]+ don't match" \
	"ifid:a packet arrived on interface 7, but there's no Interface Description Block" \
	"caplen:block of type 6 in pcapng dump file is too short" \
	"snaplen:invalid packet capture length 300000, bigger than snaplen of 262144" \
	"cut:truncated pcapng dump file" \
	"bigepb:more than the 1048576 read at once" \
	"tsresol:if_tsresol option resolution 2\^-64 is too high"; do
	what=${v%%:*}; msg=${v#*:}
	off=$(mutate "$f" "$T/bad.pcapng" "$what")
	expect_exit 74 "damaged ($what): exit 74" -- timeout 60 "$PLCGUARD" sniff --json --no-baselines -r "$T/bad.pcapng"
	expect_out "\"kind\":\"capture.error\".*damaged at byte offset $off, after frame [0-9]+: .*$msg" "damaged ($what): capture.error at byte offset $off"
	if [ "$what" != tsresol ]; then
		expect_out '"kind":"s7.block.download"' "damaged ($what): what came before was read"
	fi
done
off=$(mutate "$f" "$T/big.pcapng" bigskip)
expect_exit 1 "a 2 MiB block of an unknown type is skipped" -- sniff -r "$T/big.pcapng"
expect_no_out '"kind":"capture.error"' "  and the file is read to its end"
expect_out '"kind":"modbus.file.write"' "  with the packets after it"
# a block length libpcap rejects before the first interface: its text
python3 - "$f" "$T/bad.pcapng" <<'PY'
import struct, sys
d = bytearray(open(sys.argv[1], 'rb').read())
n = struct.unpack_from('<I', d, 4)[0]
struct.pack_into('<I', d, n + 4, 0xFFFFFFF0)   # the block after the SHB
open(sys.argv[2], 'wb').write(d)
PY
expect_exit 74 "block length 0xFFFFFFF0 before the first interface" -- sniff -r "$T/bad.pcapng"
expect_out '"kind":"capture.error".*pcapng block size 4294967280 > maximum 16777216' "  libpcap's message"
finish
