#!/usr/bin/env python3
"""xfers.py - transfer events of `plcguard sniff --json` output, for the
end-to-end tests that compare captures with their filtered or lossy copies.

  xfers.py list FILE            one line per transfer: kind object verdict sha256
  xfers.py same FULL OTHER      exit 0 when OTHER has exactly FULL's transfers
  xfers.py never_wrong FULL OTHER
                                every transfer in OTHER is either byte-exact
                                (same object and sha256 as in FULL) or
                                incomplete with no sha256: never a wrong hash;
                                prints "exact N incomplete M"
"""
import json
import sys

KINDS = ('s7.block.download', 's7.block.upload', 'umas.app.download',
         'umas.app.upload', 'modbus.file.write')


def load(path):
    out = []
    for line in open(path):
        e = json.loads(line)
        if e['kind'] in KINDS:
            out.append((e['kind'], e.get('object', ''), e.get('verdict') or 'complete',
                        e.get('sha256', '-')))
    return out


def main():
    cmd = sys.argv[1]
    if cmd == 'list':
        for t in load(sys.argv[2]):
            print(*t)
        return 0
    full, other = load(sys.argv[2]), load(sys.argv[3])
    if cmd == 'same':
        if sorted(full) == sorted(other):
            return 0
        print('full:  ', sorted(full))
        print('other: ', sorted(other))
        return 1
    if cmd == 'never_wrong':
        good = {(k, o, s) for k, o, v, s in full if s != '-'}
        exact = inc = 0
        bad = []
        for k, o, v, s in other:
            if s == '-' and v == 'incomplete':
                inc += 1
            elif (k, o, s) in good:
                exact += 1
            else:
                bad.append((k, o, v, s))
        print('exact', exact, 'incomplete', inc)
        if bad:
            print('WRONG:', bad)
            return 1
        return 0
    return 2


sys.exit(main())
