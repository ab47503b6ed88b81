#!/usr/bin/env python3
"""Compare tshark's per-frame fields with plcguard's --pdus events.

usage: oracle_cmp.py s7|modbus TSHARK.tsv PLCGUARD.jsonl

TSHARK.tsv is one `tshark -T fields -E occurrence=a` run over every frame with
the columns: frame.number, _ws.malformed, tcp.analysis.flags,
s7comm.header.rosctr, s7comm.header.pduref, s7comm.param.func,
s7comm.param.blockcontrol.filename, modbus.func_code, mbtcp.trans_id.
Frames tshark's TCP analysis flags (retransmission, previous segment lost,
out of order) or marks malformed are "flagged".  Some differences are known
and allowed, and counted in the report:
 - tshark does not dissect a segment it calls a retransmission even when it
   carries new bytes past the old ones; plcguard does.  PDUs plcguard reports
   in a flagged frame that tshark left empty are accepted.
 - after a lost segment tshark dissects what follows at once; plcguard
   waits for the retransmission (or reports the gap) and so reports those
   PDUs in a later frame.  Tuples tshark shows in a frame where plcguard has
   none are accepted when plcguard reports exactly them later.
 - where tshark's TCP analysis flags a frame (lost, out-of-order or
   retransmitted segments: captures with damaged TCP such as fuzz-72) the
   two reassembly policies legitimately put PDUs in different frames; those
   frames are counted but not compared.
 - after bytes that are not Modbus/S7, plcguard resynchronises on the next
   valid header (and says so with a *.malformed event in that frame); tshark
   gives up on the segment.  PDUs in such a frame are accepted.

Per frame, the multiset of tuples must agree.  With -E occurrence=a tshark
lists every PDU of a frame comma-separated per field; fields a PDU lacks are
simply absent from the list, so tuples are compared per field (as sorted
lists), which is exact when every PDU has the field and still strict
otherwise.  Frames tshark left out (malformed) are not compared.
"""
import collections
import json
import sys

proto, tsv, jl = sys.argv[1], sys.argv[2], sys.argv[3]
flagged = set()


def ints(s):
    return sorted(int(x, 0) for x in s.split(',') if x != '')


def strs(s):
    return sorted(x for x in s.split(',') if x != '')


ts = {}
for line in open(tsv):
    cols = line.rstrip('\n').split('\t')
    cols += [''] * (9 - len(cols))
    frame = int(cols[0])
    malformed = cols[1] != ''
    if malformed or cols[2] != '':
        flagged.add(frame)
    if malformed:
        continue
    if proto == 's7' and cols[3] != '':
        ts[frame] = (ints(cols[3]), ints(cols[4]), ints(cols[5]), strs(cols[6]))
    elif proto == 'modbus' and cols[8] != '':
        ts[frame] = (sorted(x & 0x7f for x in ints(cols[7])), ints(cols[8]))

resync = set()
pg = collections.defaultdict(lambda: ([], [], [], []) if proto == 's7' else ([], []))
for line in open(jl):
    e = json.loads(line)
    if e['kind'].endswith('.malformed') and 'frame' in e:
        resync.add(e['frame'])
    if proto == 's7' and e['kind'] == 's7.pdu':
        t = pg[e['frame']]
        t[0].append(e['rosctr'])
        t[1].append(e['pduref'])
        # tshark names a function only for Job / Ack_Data parameters
        if 'func' in e and e['rosctr'] in (1, 3):
            t[2].append(e['func'])
        if 'filename' in e:
            t[3].append(e['filename'])
    elif proto == 'modbus' and e['kind'] == 'modbus.pdu':
        t = pg[e['frame']]
        t[0].append(e['func'] & 0x7f)
        t[1].append(e['trans_id'])

pgs = {f: tuple(sorted(x) for x in v) for f, v in pg.items()}
skipped = 0
for f in sorted(flagged):
    if f in ts and pgs.get(f) != ts[f]:
        skipped += 1
        del ts[f]
        pgs.pop(f, None)
bad = []
missing = []          # tshark frames where plcguard reports nothing
for f, want in sorted(ts.items()):
    got = pgs.get(f)
    if proto == 's7' and got is not None:
        # tshark's func list also holds Userdata-less Ack functions; compare
        # the function list only when tshark gives one per PDU
        if len(want[2]) != len(want[0]):
            got = (got[0], got[1], want[2], got[3])
    if got is None:
        missing.append((f, want))
    elif got != want:
        bad.append((f, want, got))
extra = sorted(set(pgs) - set(ts))


def tuples(v):
    # per-PDU (first two fields: rosctr/pduref or func/trans_id)
    return list(zip(v[0], v[1])) if len(v[0]) == len(v[1]) else [tuple(map(tuple, v))]


pool = collections.Counter()
for f in extra:
    pool.update(tuples(pgs[f]))
late = []
for f, want in missing:
    need = collections.Counter(tuples(want))
    if all(pool[k] >= c for k, c in need.items()):
        pool.subtract(need)
        late.append(f)
    else:
        bad.append((f, want, None))
late_set = set(late)
unexplained = [f for f in extra if f not in flagged and f not in resync and sum(
    1 for k in tuples(pgs[f]) if pool[k] > 0) > 0]
accepted_flagged = [f for f in extra if f in flagged]
accepted_resync = [f for f in extra if f in resync and f not in flagged]
if bad or unexplained:
    for f, w, g in bad[:8]:
        print(f"frame {f}: tshark {w} plcguard {g}")
    if unexplained:
        print(f"plcguard reports PDUs in {len(unexplained)} frames tshark does not "
              f"(first {unexplained[:8]})")
    print(f"{len(bad)} of {len(ts)} frames disagree")
    sys.exit(1)
msg = f"{len(ts)} frames agree"
notes = []
if late:
    notes.append(f"{len(late)} reported later after a lost segment")
if accepted_flagged:
    notes.append(f"{len(accepted_flagged)} retransmissions with new bytes dissected")
if accepted_resync:
    notes.append(f"{len(accepted_resync)} after resynchronisation")
if skipped:
    notes.append(f"{skipped} frames with damaged TCP not compared")
if notes:
    msg += " (" + ", ".join(notes) + ")"
print(msg)
