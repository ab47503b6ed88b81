#!/usr/bin/env python3
"""tiazip.py SRC_DIR OUT [--root NAME]: pack a folder into a ZIP archive in
TIA Portal V16's exact layout (what the .NET zip writer produces), for the
e2e tests; the same layout as samples/gen/tiazip.h:

  - every local header: version needed 45, a Zip64 extended-information extra
    field (0x0001, 16 bytes: uncompressed then compressed size), 0xFFFFFFFF
    in the 32-bit size fields;
  - each central record: version made by / needed 20, no extra field;
  - names with '\\' separators, a folder entry (ending in '\\') before the
    files of each folder, files deflated (raw deflate), empty ones stored.

Entries are named relative to SRC_DIR, under NAME\\ when --root is given.
Written with struct and zlib only: python's zipfile cannot write this layout.
"""
import os
import struct
import sys
import zlib

DOS_TIME, DOS_DATE = 0x6000, 0x5A21


def entries(src, root):
    out = []
    if root:
        out.append((root + "\\", None))
    for dirpath, dirnames, filenames in os.walk(src):
        dirnames.sort()
        rel = os.path.relpath(dirpath, src)
        parts = [] if rel == "." else rel.split(os.sep)
        if root:
            parts = [root] + parts
        if parts and (len(parts) > 1 or not root):
            out.append(("\\".join(parts) + "\\", None))
        for f in sorted(filenames):
            with open(os.path.join(dirpath, f), "rb") as fh:
                out.append(("\\".join(parts + [f]), fh.read()))
    return out


def build(items):
    body, cd = bytearray(), bytearray()
    for name, data in items:
        raw = name.encode("utf-8")
        flags = 0x0800 if any(b > 0x7F for b in raw) else 0
        data = data or b""
        crc = zlib.crc32(data) & 0xFFFFFFFF
        if data:
            c = zlib.compressobj(6, zlib.DEFLATED, -15)
            comp, method = c.compress(data) + c.flush(), 8
        else:
            comp, method = b"", 0
        off = len(body)
        extra = struct.pack("<HHQQ", 0x0001, 16, len(data), len(comp))
        body += struct.pack("<4sHHHHHIIIHH", b"PK\x03\x04", 45, flags, method,
                            DOS_TIME, DOS_DATE, crc, 0xFFFFFFFF, 0xFFFFFFFF,
                            len(raw), len(extra))
        body += raw + extra + comp
        attr = 0x10 if name.endswith("\\") else 0
        cd += struct.pack("<4sHHHHHHIIIHHHHHII", b"PK\x01\x02", 20, 20, flags, method,
                          DOS_TIME, DOS_DATE, crc, len(comp), len(data), len(raw),
                          0, 0, 0, 0, attr, off)
        cd += raw
    eocd = struct.pack("<4sHHHHIIH", b"PK\x05\x06", 0, 0, len(items), len(items),
                       len(cd), len(body), 0)
    return bytes(body + cd + eocd)


def main(argv):
    args = argv[1:]
    root = None
    if "--root" in args:
        i = args.index("--root")
        root = args[i + 1]
        del args[i:i + 2]
    if len(args) != 2:
        sys.stderr.write(__doc__)
        return 2
    src, out = args
    with open(out, "wb") as fh:
        fh.write(build(entries(src, root)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
