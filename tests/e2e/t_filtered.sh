#!/usr/bin/env bash
# t_filtered.sh - captures as analysts share them: display-filtered exports
# (`tshark -Y 's7comm || mbtcp' -w`, which drops STEP 7's empty COTP DT before
# every PDU, the bare ACKs, the handshake and the COTP CR/CC) and lossy copies.
# Every block whose slices were all captured must come out byte-exact with
# the same verdict as from the full capture; a block that lost a slice is
# INCOMPLETE with no hash; nothing ever gets a wrong hash.
. "$(dirname "$0")/lib.sh"
X="python3 $PG_SRC/tests/e2e/xfers.py"
C=$PG_SRC/samples/captures
MKCAPS=$PG_BUILD/pg-mkcaps
command -v tshark >/dev/null || { echo "SKIP: tshark not installed"; exit 77; }
[ -x "$MKCAPS" ] || { echo "SKIP: $MKCAPS not built"; exit 77; }

sniff_json() { "$PLCGUARD" sniff --json "$1" >"$2" 2>/dev/null; }

# 1. The generator's filtered export of every sample session.
"$MKCAPS" --blocks "$PG_SRC/samples/projects/s7_blocks" --out "$T/gf" \
	--apx "$T/gf.apx" --filtered || { fail "pg-mkcaps --filtered"; finish; exit; }
for f in "$C"/*.pcap "$C"/*.pcapng; do
	b=$(basename "$f")
	sniff_json "$f" "$T/full.$b.json"
	sniff_json "$T/gf/$b" "$T/gf.$b.json"
	n=$($X list "$T/full.$b.json" | wc -l)
	if $X same "$T/full.$b.json" "$T/gf.$b.json" >"$T/out"; then
		pass "generator-filtered $b: the same $n transfers, verdicts and hashes as the full capture"
	else
		fail "generator-filtered $b differs from the full capture"; sed 's/^/      | /' "$T/out"
	fi
	# the filter really removed frames (not a no-op)
	full_n=$(tshark -r "$f" 2>/dev/null | wc -l)
	filt_n=$(tshark -r "$T/gf/$b" 2>/dev/null | wc -l)
	[ "$filt_n" -lt "$full_n" ] && pass "$b: $full_n frames -> $filt_n in the filtered export" \
		|| fail "$b: the filtered export has $filt_n frames of $full_n"
done
# the S7 download's blocks are all there and their frames are those of the
# packets that carried them (the filtered frame numbers, not the full ones)
sniff_json "$T/gf/s7_download.pcap" "$T/d.json"
expect_count "$T/d.json" "e['kind']=='s7.block.download' and 'sha256' in e and e['gaps']>0" 4 \
	"filtered s7_download: 4 blocks with hashes, each counting the capture gaps it crossed"
want=$(tshark -r "$T/gf/s7_download.pcap" -Y 's7comm.param.func==0x1c && s7comm.header.rosctr==1' \
	-T fields -e frame.number 2>/dev/null | paste -sd, -)
got=$(python3 -c "
import json,sys
print(','.join(str(e['frame']) for e in map(json.loads, open(sys.argv[1])) if e['kind']=='s7.block.download'))" "$T/d.json")
[ "$want" = "$got" ] && pass "filtered s7_download: each block reported at its Job 1C frame ($got), as tshark numbers them" \
	|| fail "block frames $got, tshark's Job 1C frames $want"

# 2. The same sessions through tshark's own display-filter export.
plain="s7_download s7_step7_download s7_tampered s7_gap s7_midstream s7_vlan s7_qinq s7_sll s7_sll2 s7_rawip s7_ipv6 umas_download umas_envelope umas_readback modbus_filerecord mixed"
for f in "$C"/*.pcap "$C"/*.pcapng; do
	b=$(basename "$f")
	tshark -r "$f" -Y 's7comm || mbtcp' -w "$T/ty.$b" 2>/dev/null
	sniff_json "$T/ty.$b" "$T/ty.$b.json"
	if $X never_wrong "$T/full.$b.json" "$T/ty.$b.json" >"$T/out"; then
		pass "tshark -Y export of $b: never a wrong hash ($(cat "$T/out"))"
	else
		fail "tshark -Y export of $b"; sed 's/^/      | /' "$T/out"
	fi
	case " $plain " in *" ${b%.*} "*)
		if $X same "$T/full.$b.json" "$T/ty.$b.json" >"$T/out"; then
			pass "tshark -Y export of $b: every transfer as in the full capture"
		else
			fail "tshark -Y export of $b loses transfers"; sed 's/^/      | /' "$T/out"
		fi;;
	esac
done
# s7_download_evasive: tshark's export drops the first half of a split TPKT
# and the first COTP fragments (frames where s7comm is not dissected): those
# bytes are really gone, so those blocks must be INCOMPLETE, the rest exact.
expect_count "$T/ty.s7_download_evasive.pcap.json" "e['kind']=='s7.block.download' and e.get('verdict')=='incomplete' and 'sha256' not in e" 3 \
	"tshark export of the evasive session: the 3 blocks whose bytes tshark dropped are INCOMPLETE without a hash"

# 3. One slice frame removed from a filtered session: that block only.
fs=$T/gf/s7_download.pcap
slice=$(tshark -r "$fs" -Y 's7comm.header.rosctr==3 && s7comm.param.func==0x1b' -T fields \
	-e frame.number 2>/dev/null | sed -n 3p)   # FC10's first slice
editcap "$fs" "$T/cut.pcap" "$slice" >/dev/null 2>&1
sniff_json "$T/cut.pcap" "$T/cut.json"
expect_count "$T/cut.json" "e['kind']=='s7.block.download' and e['object']=='FC10' and e['verdict']=='incomplete' and 'sha256' not in e and e['reason']=='missing_slices' and e['slices_missing']==1" 1 \
	"slice frame $slice removed: FC10 INCOMPLETE (1 slice requested and not seen), no hash"
$X never_wrong "$T/full.s7_download.pcap.json" "$T/cut.json" >"$T/out"
expect_out "exact 3 incomplete 1" "the other three blocks stay byte-exact"
# a slice cut inside (snaplen-like truncation would be a gap; here: the
# frame's TCP payload replaced by a hole via editcap -C on the end)
editcap -C -20 -r "$fs" "$T/part.pcap" "$slice" >/dev/null 2>&1  # only the truncated frame
mergecap -w "$T/trunc.pcap" "$T/part.pcap" "$T/cut.pcap" >/dev/null 2>&1
sniff_json "$T/trunc.pcap" "$T/trunc.json"
$X never_wrong "$T/full.s7_download.pcap.json" "$T/trunc.json" >"$T/out" &&
	pass "a slice frame cut 20 bytes short: never a wrong hash ($(cat "$T/out"))" ||
	{ fail "slice cut short"; sed 's/^/      | /' "$T/out"; }
expect_count "$T/trunc.json" "e['kind']=='s7.block.download' and e['object']=='FC10' and e['verdict']=='incomplete'" 1 \
	"slice frame cut short: FC10 INCOMPLETE"

# 4. Random frames that carry no slice removed: still byte-exact.
nonslice() {  # frames of $1 that carry neither block bytes nor their accounting
	tshark -r "$1" -T fields -e frame.number -e s7comm.header.rosctr -e s7comm.param.func \
		-e tcp.srcport -e tcp.len -e s7comm.header.errcls 2>/dev/null | python3 -c '
import sys
for l in sys.stdin:
    n, ros, fn, sp, tl, ec = (l.rstrip("\n").split("\t") + [""] * 6)[:6]
    if ros:                          # S7: all but the slices (Ack_Data 1B / 1E)
        # and the PLC refusing a request (without it, a request with no
        # transfer after it is rightly reported as incomplete)
        if not (ros == "3" and fn in ("0x1b", "0x1e", "27", "30")) and ec in ("", "0", "0x00"):
            print(n)
    elif sp == "502" and tl and int(tl) <= 12:
        print(n)                     # UMAS: the PLC answers that carry no data
        # (the PC requests are kept: they carry the blocks, the block numbers
        # of a read-back and the declared count, i.e. the accounting itself)
'
}
for b in s7_download s7_tampered s7_refused umas_download umas_readback; do
	src=$T/gf/$b.pcap
	nonslice "$src" >"$T/ns"
	ok=1
	for seed in 1 2 3 4 5 6 7 8 9 10 11 12; do
		drop=$(python3 -c "
import random,sys
fr=[l.strip() for l in open(sys.argv[1]) if l.strip()]
r=random.Random($seed*7919+len(fr)); k=min(len(fr), 1+$seed%4)
print(','.join(sorted(r.sample(fr,k), key=int)))" "$T/ns")
		editcap "$src" "$T/r.pcap" $(echo "$drop" | tr , ' ') >/dev/null 2>&1
		sniff_json "$T/r.pcap" "$T/r.json"
		if ! $X same "$T/full.$b.pcap.json" "$T/r.json" >"$T/out"; then
			ok=0; fail "$b without frames $drop (no slice among them)"; sed 's/^/      | /' "$T/out"
		fi
	done
	[ $ok = 1 ] && pass "$b: 12 random removals of frames that carry no slice, every transfer still byte-exact"
done

# 5. Real captures, when the corpus is here.
if [ -d "$PG_CORPUS" ]; then
	rc=$PG_CORPUS/pcap/s7/s7comm_downloading_block_db1.pcap
	tshark -r "$rc" -Y s7comm -w "$T/db1f.pcap" 2>/dev/null
	sniff_json "$T/db1f.pcap" "$T/db1f.json"
	expect_count "$T/db1f.json" "e['kind']=='s7.block.download' and e['object']=='DB1' and e['size']==500 and e['sha256'].startswith('6fbdbd7f')" 1 \
		"corpus s7comm_downloading_block_db1 through tshark -Y s7comm: DB1, 500 bytes, sha256 6fbdbd7f..."
else
	echo "SKIP (part 5): shared corpus not found at $PG_CORPUS"
fi
finish
