#!/usr/bin/env python3
# live_traffic.py - replay the application bytes of one TCP session from a
# classic pcap (Ethernet or raw IPv4, as samples/captures/ writes them) over a
# real socket, so that `plcguard sniff -i` sees a live engineering session.
#
#   live_traffic.py turns  PCAP PORT              print the turns (debugging)
#   live_traffic.py serve  PCAP PORT BIND_ADDR [READY_FILE]
#                                                 act as the PLC (one session);
#                                                 READY_FILE is created once it
#                                                 listens
#   live_traffic.py client PCAP PORT SERVER_ADDR  act as the engineering station
#
# The capture's TCP payloads are taken per direction in sequence order
# (a retransmitted or already-seen byte range is skipped), then cut into
# "turns": runs of consecutive segments in one direction.  Each side sends its
# turn one segment per send() (TCP_NODELAY, so segments stay roughly as in the
# capture), then reads exactly the other side's next turn and checks it is
# byte for byte what the capture holds.  That keeps the two directions in the
# order of the capture: the station speaks, the PLC answers, and so on.
#
# Exit status 0 when every byte was exchanged as captured, 1 otherwise (the
# reason on stderr).  Standard library only.
import socket
import struct
import sys
import time

TIMEOUT = 15.0


def pcap_records(path):
    """(linktype, frame bytes) for every record of a classic pcap file."""
    with open(path, 'rb') as f:
        data = f.read()
    if len(data) < 24:
        raise ValueError('%s: too short for a pcap header' % path)
    magic = data[:4]
    if magic in (b'\xd4\xc3\xb2\xa1', b'\x4d\x3c\xb2\xa1'):
        e = '<'
    elif magic in (b'\xa1\xb2\xc3\xd4', b'\xa1\xb2\x3c\x4d'):
        e = '>'
    else:
        raise ValueError('%s: not a classic pcap (magic %s)' % (path, magic.hex()))
    linktype = struct.unpack(e + 'I', data[20:24])[0] & 0x0fffffff
    off = 24
    while off + 16 <= len(data):
        incl = struct.unpack(e + 'I', data[off + 8:off + 12])[0]
        off += 16
        if off + incl > len(data):
            raise ValueError('%s: record truncated at offset %d' % (path, off))
        yield linktype, data[off:off + incl]
        off += incl


def tcp_segment(linktype, frame):
    """(sport, dport, seq, flags, payload) of an IPv4 TCP frame, else None."""
    if linktype == 1:                      # Ethernet, optional 802.1Q tags
        off, etype = 14, struct.unpack('>H', frame[12:14])[0]
        while etype in (0x8100, 0x88a8) and off + 4 <= len(frame):
            etype = struct.unpack('>H', frame[off + 2:off + 4])[0]
            off += 4
        if etype != 0x0800:
            return None
    elif linktype in (101, 228):           # raw IP / raw IPv4
        off = 0
    else:
        raise ValueError('link type %d not supported here' % linktype)
    ip = frame[off:]
    if len(ip) < 20 or ip[0] >> 4 != 4 or ip[9] != 6:
        return None
    ihl = (ip[0] & 15) * 4
    total = struct.unpack('>H', ip[2:4])[0]
    tcp = ip[ihl:total]
    if len(tcp) < 20:
        return None
    sport, dport, seq = struct.unpack('>HHI', tcp[:8])
    doff = (tcp[12] >> 4) * 4
    return sport, dport, seq, tcp[13], tcp[doff:]


def session_turns(path, port):
    """[(from_server, [segment payloads])] of the first session on port."""
    nxt = {}          # direction -> next expected sequence number
    turns = []
    for lt, frame in pcap_records(path):
        t = tcp_segment(lt, frame)
        if t is None:
            continue
        sport, dport, seq, flags, payload = t
        if port not in (sport, dport):
            continue
        srv = sport == port
        if flags & 0x02:                   # SYN: data starts at seq + 1
            nxt[srv] = (seq + 1) & 0xffffffff
            continue
        if not payload:
            continue
        if srv not in nxt:
            raise ValueError('%s: data before the handshake' % path)
        delta = (seq - nxt[srv]) & 0xffffffff
        if delta >= 0x80000000:            # starts before next: skip the old part
            old = 0x100000000 - delta
            if old >= len(payload):
                continue                   # a pure retransmission
            payload = payload[old:]
        elif delta != 0:
            raise ValueError('%s: hole of %d bytes, cannot replay' % (path, delta))
        nxt[srv] = (nxt[srv] + len(payload)) & 0xffffffff
        if turns and turns[-1][0] == srv:
            turns[-1][1].append(payload)
        else:
            turns.append((srv, [payload]))
    if not turns:
        raise ValueError('%s: no TCP payload on port %d' % (path, port))
    return turns


def recv_exact(sock, n):
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise ConnectionError('peer closed after %d of %d bytes' % (len(buf), n))
        buf += chunk
    return bytes(buf)


def play(sock, turns, am_server):
    sent = got = 0
    for i, (from_server, segs) in enumerate(turns):
        if from_server == am_server:
            for s in segs:
                sock.sendall(s)
                sent += len(s)
        else:
            want = b''.join(segs)
            have = recv_exact(sock, len(want))
            if have != want:
                raise ValueError('turn %d: received bytes differ from the capture' % i)
            got += len(have)
    return sent, got


def main(argv):
    if len(argv) < 3:
        print('usage: live_traffic.py turns|serve|client PCAP PORT [ADDR]',
              file=sys.stderr)
        return 2
    mode, path, port = argv[0], argv[1], int(argv[2])
    turns = session_turns(path, port)
    if mode == 'turns':
        for srv, segs in turns:
            print('%s %s' % ('PLC' if srv else 'ES ', ' '.join(str(len(s)) for s in segs)))
        return 0
    addr = argv[3]
    if mode == 'serve':
        ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        ls.bind((addr, port))
        ls.listen(1)
        if len(argv) > 4:
            open(argv[4], 'w').close()
        ls.settimeout(TIMEOUT)
        sock, peer = ls.accept()
        ls.close()
    elif mode == 'client':
        deadline = time.monotonic() + TIMEOUT
        while True:
            try:
                sock = socket.create_connection((addr, port), timeout=TIMEOUT)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
    else:
        print('unknown mode %s' % mode, file=sys.stderr)
        return 2
    sock.settimeout(TIMEOUT)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sent, got = play(sock, turns, mode == 'serve')
    if mode == 'client':
        sock.shutdown(socket.SHUT_WR)       # the station closes first, as captured
        rest = sock.recv(1)
    else:
        rest = sock.recv(1)                 # wait for the station's FIN
        sock.shutdown(socket.SHUT_WR)
    sock.close()
    if rest:
        raise ValueError('unexpected bytes after the last turn')
    print('%s: %d turns, sent %d bytes, received %d bytes' % (mode, len(turns), sent, got))
    return 0


if __name__ == '__main__':
    try:
        sys.exit(main(sys.argv[1:]))
    except (OSError, ValueError) as ex:
        print('live_traffic.py: %s' % ex, file=sys.stderr)
        sys.exit(1)
