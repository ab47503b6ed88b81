#!/usr/bin/env python3
"""ocsp_uid_proxy.py PORT UPSTREAM_PORT LOG READY - a TCP relay on
127.0.0.1:PORT to 127.0.0.1:UPSTREAM_PORT (the test OCSP responder) that
writes, for every connection, the uid owning the client's socket (from
/proc/net/tcp of its network namespace) as one line of LOG.  For t_live.sh:
which user asked the OCSP responder.  READY is created once it listens."""
import socket
import sys
import threading

port, up, log, ready = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]


def owner(cport):
    with open("/proc/net/tcp") as f:
        for line in f.readlines()[1:]:
            p = line.split()
            if int(p[1].split(":")[1], 16) == cport and int(p[2].split(":")[1], 16) == port:
                return int(p[7])
    return -1


def pump(src, dst):
    try:
        while True:
            b = src.recv(65536)
            if not b:
                break
            dst.sendall(b)
    except OSError:
        pass
    try:
        dst.shutdown(socket.SHUT_WR)
    except OSError:
        pass


srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", port))
srv.listen(16)
open(ready, "w").close()
while True:
    c, addr = srv.accept()
    with open(log, "a") as f:
        f.write("%d\n" % owner(addr[1]))
    try:
        u = socket.create_connection(("127.0.0.1", up), timeout=5)
    except OSError:
        c.close()
        continue
    t = threading.Thread(target=pump, args=(c, u))
    t.start()
    pump(u, c)
    t.join(5)
    c.close()
    u.close()
