#!/usr/bin/python3
"""watch_bench.py - helper of bench/watch_bench.sh.  BENCH USE ONLY.

  watch_bench.py mktree ROOT PROJECTS FILES [SEED]
      PROJECTS project folders ROOT/pNNNN, each of FILES files of random bytes
      (sizes log-uniform 256 B .. 16 KiB, mean about 3.9 KiB) spread over the
      sub-folders System/, IM/ and XRef/ (the shape of a TIA Portal project
      folder).  Prints the total size in bytes.

  watch_bench.py edits EVENTS ROOT PAIRS [--warmup N] [--seed S]
                 [--timeout S] [--mode rewrite|inplace] [--raw FILE]
      Against a running `plcguard watch --json --out EVENTS ... ROOT`:
      PAIRS times, pick a random file of a random project (each folder in
      ROOT is a registered project), tamper with it (one
      byte changed), wait for the project's file.tampered line in EVENTS,
      restore it, wait for its file.verified line.  Each edit's latency is
      from just before the file is opened for writing to the moment the line
      is seen in EVENTS (inotify on EVENTS: woken by the watcher's write),
      and, from the line itself, to its "ts" (when the watcher made the
      finding, before it formatted and wrote the line).  The first N pairs
      (default 5; they also wait for the watcher's first pass) are not
      counted.  Prints one JSON object of figures.
        rewrite: open(O_TRUNC), one write of the whole file, close (a save)
        inplace: one pwrite of the changed byte, close
"""
import calendar
import ctypes
import json
import math
import os
import random
import select
import sys
import time

SUBS = ("System", "IM", "XRef")


def mktree(root, nproj, nfiles, seed=1):
    rnd = random.Random(seed)
    lo, hi = math.log(256), math.log(16384)
    total = 0
    for p in range(nproj):
        d = os.path.join(root, "p%05d" % p)
        for s in SUBS:
            os.makedirs(os.path.join(d, s), exist_ok=True)
        for i in range(nfiles):
            n = int(math.exp(rnd.uniform(lo, hi)))
            with open(os.path.join(d, SUBS[i % 3], "f%05d.bin" % i), "wb") as f:
                f.write(os.urandom(n))
            total += n
    print(total)


IN_MODIFY = 0x2
libc = ctypes.CDLL(None, use_errno=True)


class Tail:
    """New complete lines of a file, woken by inotify (IN_MODIFY)."""

    def __init__(self, path):
        self.fd = os.open(path, os.O_RDONLY)
        os.lseek(self.fd, 0, os.SEEK_END)
        self.ifd = libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
        if self.ifd < 0 or libc.inotify_add_watch(self.ifd, path.encode(), IN_MODIFY) < 0:
            raise OSError(ctypes.get_errno(), "inotify")
        self.poll = select.poll()
        self.poll.register(self.ifd, select.POLLIN)
        self.buf = b""

    def lines(self, timeout_s):
        """Complete lines available now, waiting up to timeout_s for some;
        returns (lines, the realtime ns when they were read)."""
        deadline = time.monotonic() + timeout_s
        while True:
            chunk = os.read(self.fd, 1 << 20)
            if chunk:
                self.buf += chunk
                t = time.clock_gettime_ns(time.CLOCK_REALTIME)
                *done, self.buf = self.buf.split(b"\n")
                if done:
                    return done, t
                continue
            left = deadline - time.monotonic()
            if left <= 0:
                return [], time.clock_gettime_ns(time.CLOCK_REALTIME)
            if self.poll.poll(max(1, int(left * 1000))):
                try:
                    os.read(self.ifd, 65536)
                except BlockingIOError:
                    pass


def ts_ns(ts):
    """ns since the epoch of an event's "ts" (2026-12-02T14:27:57.123456Z)."""
    sec, frac = ts.rstrip("Z").split(".")
    t = calendar.timegm(time.strptime(sec, "%Y-%m-%dT%H:%M:%S"))
    return t * 1000000000 + int(frac.ljust(9, "0")[:9])


def pct(v, p):
    """Nearest-rank percentile of a sorted list."""
    if not v:
        return None
    k = max(1, math.ceil(p / 100 * len(v)))
    return v[k - 1]


def edits(args):
    ev_path, root, pairs = args[0], args[1], int(args[2])
    opt = {"--warmup": "5", "--seed": "7", "--timeout": "30", "--mode": "rewrite", "--raw": ""}
    rest = args[3:]
    while rest:
        k, v, rest = rest[0], rest[1], rest[2:]
        if k not in opt:
            sys.exit("watch_bench.py edits: unknown option " + k)
        opt[k] = v
    warm, timeout, mode = int(opt["--warmup"]), float(opt["--timeout"]), opt["--mode"]
    rnd = random.Random(int(opt["--seed"]))
    root = os.path.realpath(root)
    projs = sorted(os.path.join(root, d) for d in os.listdir(root)
                   if os.path.isdir(os.path.join(root, d)))
    files = {}
    tail = Tail(ev_path)
    seen, ts_lat, timeouts, extra = [], [], 0, []
    by_kind = {"file.tampered": [], "file.verified": []}

    def write(path, data, off, byte):
        t0 = time.clock_gettime_ns(time.CLOCK_REALTIME)
        if mode == "rewrite":
            fd = os.open(path, os.O_WRONLY | os.O_TRUNC)
            os.write(fd, data)
        else:
            fd = os.open(path, os.O_WRONLY)
            os.pwrite(fd, bytes([byte]), off)
        os.close(fd)
        return t0

    def wait(proj, kind, t0, tmo):
        """Lines until proj's `kind`; (seen latency, ts latency) in ns or None."""
        deadline = time.monotonic() + tmo
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            lines, t = tail.lines(left)
            hit = None
            for l in lines:
                e = json.loads(l)
                if hit is None and e.get("kind") == kind and e.get("path") == proj:
                    hit = (t - t0, ts_ns(e["ts"]) - t0)
                else:
                    extra.append({"k": e.get("kind"), "path": e.get("path"),
                                  "waiting_for": kind, "status": e.get("status")})
            if hit:
                return hit

    raw = open(opt["--raw"], "w") if opt["--raw"] else None
    for n in range(warm + pairs):
        proj = rnd.choice(projs)
        if proj not in files:
            fl = []
            for dp, _, fn in os.walk(proj):
                fl += [os.path.join(dp, f) for f in fn]
            files[proj] = sorted(fl)
        path = rnd.choice(files[proj])
        with open(path, "rb") as f:
            orig = f.read()
        off = rnd.randrange(len(orig))
        bad = bytearray(orig)
        bad[off] ^= 0x5A
        counted = n >= warm
        if counted and n == warm:
            del extra[:]
        for kind, data, byte in (("file.tampered", bytes(bad), bad[off]),
                                 ("file.verified", orig, orig[off])):
            t0 = write(path, data, off, byte)
            r = wait(proj, kind, t0, timeout if counted else max(timeout, 300))
            if r is None:
                if counted:
                    timeouts += 1
                if raw:
                    print("%d %s timeout" % (n, kind), file=raw)
                continue
            if counted:
                seen.append(r[0])
                ts_lat.append(r[1])
                by_kind[kind].append(r[0])
            if raw:
                print("%d %s %.3f %.3f" % (n, kind, r[0] / 1e6, r[1] / 1e6), file=raw)
    # anything still coming (a late second event about a settled edit)
    lines, _ = tail.lines(0.5)
    for l in lines:
        e = json.loads(l)
        extra.append({"k": e.get("kind"), "path": e.get("path"), "waiting_for": None,
                      "status": e.get("status")})

    def stats(v):
        v = sorted(x / 1e6 for x in v)
        if not v:
            return {"n": 0}
        return {"n": len(v), "p50": round(pct(v, 50), 2), "p99": round(pct(v, 99), 2),
                "max": round(v[-1], 2), "min": round(v[0], 2),
                "mean": round(sum(v) / len(v), 2)}
    out = {"edits": len(seen) + timeouts, "timeouts": timeouts, "mode": mode,
           "seen_ms": stats(seen), "ts_ms": stats(ts_lat),
           "tampered_seen_ms": stats(by_kind["file.tampered"]),
           "verified_seen_ms": stats(by_kind["file.verified"]),
           "extra_events": len(extra), "extra_sample": extra[:5]}
    print(json.dumps(out))


def main():
    a = sys.argv[1:]
    if a and a[0] == "mktree" and len(a) in (4, 5):
        mktree(a[1], int(a[2]), int(a[3]), int(a[4]) if len(a) == 5 else 1)
    elif a and a[0] == "edits" and len(a) >= 4:
        edits(a[1:])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
