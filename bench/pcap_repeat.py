#!/usr/bin/env python3
"""pcap_repeat.py IN OUT MIN_MB - write OUT (classic pcap) holding IN repeated
until it is at least MIN_MB megabytes (10^6 bytes), each repetition made fresh
traffic, for bench/sniff_bench.sh.

Why not just `cat` IN several times: a repetition would replay the same TCP
5-tuples with the same sequence numbers, so the flow table would see every
byte of repetition 2..n as a retransmission of repetition 1 (the compare-
and-drop path) or, for flows already closed, as segments on a tombstone, and
never run the delivery path (reassembly, S7comm/Modbus parsing, transfer
assembly, hashing) that the benchmark is meant to measure.  So repetition r:

  - shifts every port >= 1024 other than 102 and 502 by r * 4099 within
    1024..65535 (a bijection per repetition, so flows stay distinct inside one
    repetition and get a new tuple in the next);
  - adds r * 0x9E3779B1 to every TCP sequence number, and to the ACK number
    when ACK is set (both directions move together, so ACKs stay consistent);
  - fixes the TCP checksum incrementally (RFC 1624), so a checksumming
    reader sees the same validity as in IN;
  - lays time out forwards: the base is re-timed once so that time never runs
    backwards (mergecap -a leaves 2004..2024 jumps between source files); a
    step back or a jump over an hour becomes 700 s of silence (past the 600 s
    idle timeout, so each source capture's flows end as they would in one long
    capture); each repetition follows the previous one after 700 s.

IPv4 and IPv6 over Ethernet II with up to 4 VLAN tags are rewritten; other
frames (ARP, fragments, other link types) are copied unchanged.  Stdlib only.
"""
import struct
import sys

GAP = 700            # seconds of silence between source captures/repetitions
MAX_STEP = 3600      # larger forward jumps are compressed to GAP
PORT_SHIFT = 4099
SEQ_SHIFT = 0x9E3779B1
KEEP_PORTS = (102, 502)


def read_pcap(path):
    with open(path, 'rb') as f:
        data = f.read()
    if len(data) < 24:
        sys.exit(f'{path}: not a pcap file (shorter than its header)')
    magic = data[:4]
    if magic in (b'\xd4\xc3\xb2\xa1', b'\x4d\x3c\xb2\xa1'):
        e = '<'
    elif magic in (b'\xa1\xb2\xc3\xd4', b'\xa1\xb2\x3c\x4d'):
        e = '>'
    else:
        sys.exit(f'{path}: not a classic pcap file (write it with mergecap -F pcap)')
    nano = magic in (b'\x4d\x3c\xb2\xa1', b'\xa1\xb2\x3c\x4d')
    linktype = struct.unpack_from(e + 'I', data, 20)[0]
    if linktype != 1:
        sys.exit(f'{path}: link type {linktype}, need Ethernet (1)')
    return data, e, nano


def tcp_offsets(frame):
    """Offset of the TCP header in an Ethernet frame, or None."""
    n = len(frame)
    off = 12
    for _ in range(5):
        if off + 2 > n:
            return None
        et = (frame[off] << 8) | frame[off + 1]
        if et in (0x8100, 0x88a8, 0x9100):
            off += 4
            continue
        break
    else:
        return None
    off += 2
    if et == 0x0800:
        if off + 20 > n:
            return None
        ihl = (frame[off] & 0x0f) * 4
        frag = ((frame[off + 6] << 8) | frame[off + 7]) & 0x3fff
        if frame[off + 9] != 6 or frag or ihl < 20:
            return None
        off += ihl
    elif et == 0x86dd:
        if off + 40 > n or frame[off + 6] != 6:   # no extension headers
            return None
        off += 40
    else:
        return None
    if off + 18 > n:                  # through the checksum
        return None
    return off


def csum_fix(ck, old_words, new_words):
    """RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m')."""
    s = (~ck) & 0xffff
    for m in old_words:
        s += (~m) & 0xffff
    for m in new_words:
        s += m
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return (~s) & 0xffff


def main():
    if len(sys.argv) != 4:
        sys.exit('usage: pcap_repeat.py IN.pcap OUT.pcap MIN_MB')
    data, e, nano = read_pcap(sys.argv[1])
    want = int(float(sys.argv[3]) * 1e6)
    frac = 1000000000 if nano else 1000000
    hdr = struct.Struct(e + 'IIII')

    # One pass over the base: record offsets, TCP offsets, re-timed stamps.
    recs = []         # (record offset, tcp offset in file or -1)
    stamps = []       # re-timed, in units of frac
    pos, prev, t = 24, None, 0
    while pos + 16 <= len(data):
        sec, sub, caplen, _ = hdr.unpack_from(data, pos)
        if pos + 16 + caplen > len(data):
            break
        now = sec * frac + sub
        if prev is not None:
            step = now - prev
            t += step if 0 <= step <= MAX_STEP * frac else GAP * frac
        prev = now
        stamps.append(t)
        to = tcp_offsets(data[pos + 16:pos + 16 + caplen])
        recs.append((pos, -1 if to is None else pos + 16 + to))
        pos += 16 + caplen
    end = pos
    if not recs:
        sys.exit(f'{sys.argv[1]}: no packets')
    span = stamps[-1] + GAP * frac
    t0 = hdr.unpack_from(data, 24)[0] * frac + hdr.unpack_from(data, 24)[1]

    be16 = struct.Struct('>H')
    written = 0
    with open(sys.argv[2], 'wb') as out:
        out.write(data[:24])
        written = 24
        r = 0
        while written < want:
            buf = bytearray(data[24:end])
            base = 24
            shift = (r * PORT_SHIFT) % (65536 - 1024)
            dseq = (r * SEQ_SHIFT) & 0xffffffff
            for (ro, to), st in zip(recs, stamps):
                ts = t0 + r * span + st
                struct.pack_into(e + 'II', buf, ro - base, ts // frac, ts % frac)
                if to < 0 or r == 0:
                    continue
                o = to - base
                sp, dp, seq, ack = struct.unpack_from('>HHII', buf, o)
                flags = buf[o + 13]
                ck = be16.unpack_from(buf, o + 16)[0]
                nsp = sp if sp < 1024 or sp in KEEP_PORTS else \
                    1024 + (sp - 1024 + shift) % (65536 - 1024)
                ndp = dp if dp < 1024 or dp in KEEP_PORTS else \
                    1024 + (dp - 1024 + shift) % (65536 - 1024)
                nseq = (seq + dseq) & 0xffffffff
                nack = (ack + dseq) & 0xffffffff if flags & 0x10 else ack
                struct.pack_into('>HHII', buf, o, nsp, ndp, nseq, nack)
                # tcp_offsets() saw the checksum inside the captured bytes.
                old = (sp, dp, seq >> 16, seq & 0xffff, ack >> 16, ack & 0xffff)
                new = (nsp, ndp, nseq >> 16, nseq & 0xffff, nack >> 16, nack & 0xffff)
                be16.pack_into(buf, o + 16, csum_fix(ck, old, new))
            out.write(buf)
            written += len(buf)
            r += 1
    print(f'{sys.argv[2]}: {r} repetitions of {len(recs)} packets, {written} bytes')


if __name__ == '__main__':
    main()
