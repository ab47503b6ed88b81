#!/usr/bin/env python3
"""mkpcapng.py - pcapng files for the tests, made from classic pcap files.

  mkpcapng.py OUT multi A.pcap B.pcap [--raw] [--be] [--pb]
      interface 0 Ethernet (A), interface 1 Linux SLL (B, Ethernet header
      replaced; --raw: raw IP, LINKTYPE 101) with nanosecond timestamps;
      packets interleaved by time, EPBs (--pb: B's as obsolete PBs); an NRB,
      a custom block (which tshark numbers as a frame), an unknown block type
      and an ISB to be skipped.
      Writes OUT.map: "frame source index source-frame" per packet.
  mkpcapng.py OUT ts A.pcap RES [OFFSET]
      one Ethernet interface, if_tsresol RES (a byte: 9 = ns, 0x9e = 2^-30),
      if_tsoffset OFFSET seconds; the same instants as A.
  mkpcapng.py OUT sections A.pcap B.pcap
      section 1 (little endian): Ethernet, A; section 2 (big endian): an
      interface of a link type nobody decodes (147) with one packet, then raw
      IP (101) with B as interface 1.
  mkpcapng.py OUT spb A.pcap
      A's packets as Simple Packet Blocks (no timestamps).

Only the standard library; the block layout is the pcapng draft's
(draft-ietf-opsawg-pcapng).
"""
import struct
import sys


def read_pcap(path):
    d = open(path, 'rb').read()
    magic = d[:4]
    if magic == b'\xd4\xc3\xb2\xa1':
        e, nano = '<', False
    elif magic == b'\xa1\xb2\xc3\xd4':
        e, nano = '>', False
    elif magic == b'\x4d\x3c\xb2\xa1':
        e, nano = '<', True
    elif magic == b'\xa1\xb2\x3c\x4d':
        e, nano = '>', True
    else:
        raise SystemExit('%s: not a classic pcap file' % path)
    linktype = struct.unpack_from(e + 'I', d, 20)[0]
    off, pkts = 24, []
    while off + 16 <= len(d):
        sec, frac, caplen, length = struct.unpack_from(e + 'IIII', d, off)
        data = d[off + 16:off + 16 + caplen]
        ns = sec * 10**9 + (frac if nano else frac * 1000)
        pkts.append((ns, data, length))
        off += 16 + caplen
    return linktype, pkts


class W:
    def __init__(self, be=False):
        self.e = '>' if be else '<'
        self.out = bytearray()

    def block(self, btype, body):
        body = bytes(body)
        body += b'\0' * (-len(body) % 4)
        n = 12 + len(body)
        self.out += struct.pack(self.e + 'II', btype, n) + body + struct.pack(self.e + 'I', n)

    def opt(self, code, value):
        return struct.pack(self.e + 'HH', code, len(value)) + value + b'\0' * (-len(value) % 4)

    def shb(self, be=None):
        if be is not None:
            self.e = '>' if be else '<'
        body = struct.pack(self.e + 'IHHq', 0x1A2B3C4D, 1, 0, -1)
        body += self.opt(4, b'mkpcapng.py') + self.opt(0, b'')
        self.block(0x0A0D0D0A, body)

    def idb(self, linktype, snaplen=262144, tsresol=None, tsoffset=None):
        body = struct.pack(self.e + 'HHI', linktype, 0, snaplen)
        body += self.opt(2, b'if%d' % linktype)
        if tsresol is not None:
            body += self.opt(9, bytes([tsresol]))
        if tsoffset is not None:
            body += self.opt(14, struct.pack(self.e + 'q', tsoffset))
        body += self.opt(0, b'')
        self.block(1, body)

    def epb(self, ifid, t, data, length):
        body = struct.pack(self.e + 'IIIII', ifid, t >> 32, t & 0xffffffff, len(data), length)
        body += data + b'\0' * (-len(data) % 4)
        body += self.opt(1, b'a comment') + self.opt(0, b'')
        self.block(6, body)

    def pb(self, ifid, t, data, length):
        body = struct.pack(self.e + 'HHIIII', ifid, 0, t >> 32, t & 0xffffffff, len(data), length)
        self.block(2, body + data)

    def spb(self, data, length):
        self.block(3, struct.pack(self.e + 'I', length) + data)


def units(ns, res):
    """Timestamp in units of if_tsresol byte res (ceiling: never earlier)."""
    if res & 0x80:
        return -(-ns * (1 << (res & 0x7f)) // 10**9)
    return -(-ns * 10**res // 10**9)


def sll(eth):
    """Ethernet II frame -> Linux cooked (SLL) frame: outgoing, ARPHRD_ETHER."""
    return struct.pack('>HHH8sH', 4, 1, 6, eth[6:12] + b'\0\0', struct.unpack_from('>H', eth, 12)[0]) + eth[14:]


def main(argv):
    out, mode = argv[1], argv[2]
    if mode == 'multi':
        a = read_pcap(argv[3])[1]
        b = read_pcap(argv[4])[1]
        raw, be, pb = '--raw' in argv, '--be' in argv, '--pb' in argv
        w = W(be)
        w.shb()
        w.block(4, struct.pack(w.e + 'HH', 0, 0))                  # empty NRB
        w.idb(1)
        w.idb(101 if raw else 113, tsresol=9)
        both = sorted([(p[0], 0, i, p) for i, p in enumerate(a)] +
                      [(p[0], 1, i, p) for i, p in enumerate(b)])
        frames, frame = [], 0
        for k, (ns, src, i, p) in enumerate(both):
            if k == 3:      # Wireshark shows it as a record: a frame number
                w.block(0x00000BAD, struct.pack(w.e + 'I', 32473) + b'custom!')
                frame += 1
            if k == 5:
                w.block(0x7777, b'')                                # unknown type
            data, length = p[1], p[2]
            if src == 0:
                w.epb(0, units(ns, 6), data, length)
            else:
                data = data[14:] if raw else sll(data)
                length -= 14 if raw else -2
                (w.pb if pb else w.epb)(1, units(ns, 9), data, length)
            frame += 1
            frames.append('%d %d %d' % (frame, src, i + 1))
        w.block(5, struct.pack(w.e + 'III', 0, 0, 0) + w.opt(0, b''))  # ISB
        open(out + '.map', 'w').write('\n'.join(frames) + '\n')
    elif mode == 'ts':
        a = read_pcap(argv[3])[1]
        res = int(argv[4], 0)
        off = int(argv[5]) if len(argv) > 5 else 0
        w = W()
        w.shb()
        w.idb(1, tsresol=res, tsoffset=off if off else None)
        for ns, data, length in a:
            w.epb(0, units(ns - off * 10**9, res), data, length)
    elif mode == 'sections':
        a = read_pcap(argv[3])[1]
        b = read_pcap(argv[4])[1]
        w = W()
        w.shb(False)
        w.idb(1)
        for ns, data, length in a:
            w.epb(0, units(ns, 6), data, length)
        w.shb(True)
        w.idb(147)
        w.idb(101)
        w.epb(0, units(b[0][0], 6), b'\x01\x02\x03\x04', 4)
        for ns, data, length in b:
            w.epb(1, units(ns, 6), data[14:], length - 14)
    elif mode == 'spb':
        a = read_pcap(argv[3])[1]
        w = W()
        w.shb()
        w.idb(1, snaplen=0)
        for ns, data, length in a:
            w.spb(data, len(data))
    else:
        raise SystemExit('unknown mode ' + mode)
    open(out, 'wb').write(w.out)


if __name__ == '__main__':
    main(sys.argv)
