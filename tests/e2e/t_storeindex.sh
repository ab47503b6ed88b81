#!/usr/bin/env bash
# The store index (STORE/.index) changes what is read, never what is said:
# verify, verify --all and sniff give the same output with no index, with an
# index, with a stale one (entries added, removed, changed), a damaged one
# (ignored with a notice) and a lying one (put right); an entry tampered with
# after it was indexed is caught exactly as without an index; a folder named
# after another project is a reported problem; sniff --check-store reports
# every bad entry at start-up.
. "$(dirname "$0")/lib.sh"
make_pki
C=$PG_SRC/samples/captures
cp -r "$PG_SRC/samples/projects" "$T/p"
ST=$PLCGUARD_STORE
IDX=$ST/.index
reg() { "$PLCGUARD" register $(sign_args engineer) "$@" >/dev/null 2>&1 || fail "register $*"; }
reg --target 10.10.1.10,rack=0,slot=2 --ticket CHG-1 "$T/p/s7_blocks"
reg --target 10.10.2.20 "$T/p/umas_app"
reg "$T/p/pump_station"
reg "$T/p/line3.zap16"
sleep 1 # a second version of the blocks, newer
reg --target 10.10.1.10,rack=0,slot=2 --ticket CHG-2 "$T/p/s7_blocks"

# run NAME ARGS...: stdout, stderr and exit of plcguard ARGS in $T/NAME.*
run() {
	local n=$1
	shift
	"$PLCGUARD" "$@" >"$T/$n.out" 2>"$T/$n.err"
	echo $? >"$T/$n.rc"
}
# sniff output without what changes from run to run (the run id, and the
# wall-clock time of baseline.invalid events)
norm() {
	python3 - "$1" <<'PY'
import json, sys
for line in open(sys.argv[1]):
    e = json.loads(line)
    e.pop("run", None)
    if e["kind"] == "baseline.invalid":
        e.pop("ts", None)
    print(json.dumps(e, sort_keys=True))
PY
}
same() { # NAME1 NAME2 WHAT: identical stdout, stderr and exit code
	if cmp -s "$T/$1.out" "$T/$2.out" && cmp -s "$T/$1.err" "$T/$2.err" && cmp -s "$T/$1.rc" "$T/$2.rc"; then
		pass "$3"
	else
		fail "$3"
		diff "$T/$1.out" "$T/$2.out" | head -10 | sed 's/^/      | /'
		diff "$T/$1.err" "$T/$2.err" | head -10 | sed 's/^/      | /'
	fi
}
same_sniff() {
	if cmp -s <(norm "$T/$1.out") <(norm "$T/$2.out") && cmp -s "$T/$1.rc" "$T/$2.rc"; then
		pass "$3"
	else
		fail "$3"
		diff <(norm "$T/$1.out") <(norm "$T/$2.out") | head -10 | sed 's/^/      | /'
	fi
}
V() { echo verify $(trust_args) --json "$@"; }
sniffargs() { echo sniff --json $(trust_args) -r "$C/s7_download.pcap" -r "$C/umas_download.pcap"; }
allruns() { # SUFFIX: every command of the comparison
	run "v1$1" $(V "$T/p/s7_blocks")
	run "v2$1" $(V "$T/p/pump_station")
	run "v3$1" $(V "$PG_SRC/samples/gen")
	run "va$1" verify $(trust_args) --all
	run "s$1" $(sniffargs)
}
compare() { # A B WHAT
	for c in v1 v2 v3 va; do same "$c$1" "$c$2" "$3: $c the same"; done
	same_sniff "s$1" "s$2" "$3: sniff the same"
}

# 1. no index yet (the first call writes it), then with it
rm -f "$IDX"
run v1ref $(V "$T/p/s7_blocks")
[ -s "$IDX" ] && pass "the first call wrote $IDX" || fail "no index written"
head -1 "$IDX" | grep -q '^plcguard-store-index' && pass "index header" || fail "index header"
[ "$(ls "$ST" | wc -l)" -eq 5 ] && pass "the index is hidden: ls shows the 5 entries" || fail "ls $ST"
rm -f "$IDX"; allruns _none
allruns _idx
compare _none _idx "index present"
expect_count "$T/v1_idx.out" "e['verdict']=='verified' and e['baseline']['ticket']=='CHG-2'" 1 "verify uses the newest baseline of the project"
expect_count "$T/s_idx.out" "e['kind']=='s7.block.download' and e['verdict']=='matches' and e['baseline']['ticket']=='CHG-2'" 4 "sniff matches the newest baseline"
expect_count "$T/s_idx.out" "e['kind']=='umas.app.download' and e['verdict']=='matches'" 1 "and the UMAS application"
grep -q . "$T/v1_idx.err" && fail "verify wrote to stderr: $(cat "$T/v1_idx.err")" || pass "nothing on stderr"

# 2. a stale index: an entry added, one removed, one changed since
cp "$IDX" "$T/index.old"
reg --target 10.10.2.20 --note "again" "$T/p/umas_app"
old=$(ls -d "$ST"/pump_station-* | head -1)
mv "$old" "$T/pump.saved"
cp "$T/index.old" "$IDX"
allruns _stale
rm -f "$IDX"; allruns _stale_none
compare _stale_none _stale "stale index"
mv "$T/pump.saved" "$old"

# 3. a damaged index: ignored with a notice on stderr, rebuilt
run ok $(V "$T/p/s7_blocks")
for how in garbage truncated flipped; do
	case $how in
	garbage) echo garbage >"$IDX" ;;
	truncated) head -c 200 "$IDX" >"$T/x" && mv "$T/x" "$IDX" ;;
	flipped) python3 - "$IDX" <<'PY'
import sys
p = sys.argv[1]; b = bytearray(open(p, 'rb').read()); b[40] ^= 0x20; open(p, 'wb').write(b)
PY
	;;
	esac
	run "bad_$how" $(V "$T/p/s7_blocks")
	cmp -s "$T/ok.out" "$T/bad_$how.out" && cmp -s "$T/ok.rc" "$T/bad_$how.rc" &&
		pass "$how index: same verdict" || fail "$how index: verdict differs"
	grep -q "notice: store index .* ignored" "$T/bad_$how.err" &&
		pass "$how index: a notice says it was ignored" || fail "$how index: no notice ($(cat "$T/bad_$how.err"))"
	run "after_$how" $(V "$T/p/s7_blocks")
	grep -q . "$T/after_$how.err" && fail "$how index: not rebuilt" || pass "$how index: rebuilt (no notice the next time)"
done

# 4. a lying index (right checksum, wrong hints): the entries' own files
#    decide; the blocks' entries claim to be the pump station's and the pump
#    station's to be theirs (a baseline verify would use is still found by
#    its folder name), OB1 claims to be OB2
python3 - "$IDX" "$T/p/s7_blocks" "$T/p/pump_station" <<'PY'
import hashlib, sys
p, s7, pump = sys.argv[1:]
t = open(p, 'rb').read()
body = t[:t.index(b'\nend\t') + 1]
body = body.replace(s7.encode(), b'@S7@').replace(pump.encode(), s7.encode()).replace(b'@S7@', pump.encode())
body = body.replace(b'\nb\t8\t1\t', b'\nb\t8\t2\t')
n = sum(1 for l in body.split(b'\n') if l.startswith(b'e\t'))
open(p, 'wb').write(body + b'end\t%d\t%s\n' % (n, hashlib.sha256(body).hexdigest().encode()))
PY
allruns _lie
grep -q "$T/p/s7_blocks" "$IDX" && pass "the lie was put right in the index" || fail "index not corrected"
rm -f "$IDX"; allruns _lie_none
compare _lie_none _lie "lying index"

# 5. an entry tampered with after it was indexed: same size, mtime put back
e=$(ls -d "$ST"/s7_blocks-* | sort | tail -1)
run pre $(V "$T/p/s7_blocks")
m=$e/manifest.json
ts=$(stat -c %y "$m")
sed -i 's/"CHG-2"/"CHG-9"/' "$m"
touch -d "$ts" "$m"
allruns _tamper
rm -f "$IDX"; allruns _tamper_none
compare _tamper_none _tamper "tampered after indexing"
expect_count "$T/v1_tamper.out" "e['verdict']=='verified' and e['baseline']['ticket']=='CHG-1' and any('bad-signature' in w for w in e['warnings'])" 1 "verify: the tampered newest entry is reported, the older one used"
grep -q "warning .*$(basename "$e"): signature bad-signature" "$T/va_tamper.out" && pass "verify --all reports the entry" || fail "verify --all: $(cat "$T/va_tamper.out")"
expect_count "$T/s_tamper.out" "e['kind']=='baseline.invalid' and e['signature']=='bad-signature' and e['baseline']=='$(basename "$e")'" 1 "sniff reports the tampered entry once, when a transfer needs it"
expect_count "$T/s_tamper.out" "e['kind']=='s7.block.download' and e['verdict']=='matches' and e['baseline']['ticket']=='CHG-1'" 4 "sniff matches the older, intact baseline"
python3 -c '
import json, sys
seqs = [json.loads(l)["seq"] for l in open(sys.argv[1])]
assert seqs == list(range(1, len(seqs) + 1))
' "$T/s_tamper.out" && pass "event numbers 1..N without a hole" || fail "event numbers"
# --check-store: every bad entry at start-up, before the first packet
run chk $(sniffargs) --check-store
python3 - "$T/chk.out" <<'PY' && pass "--check-store: the bad entry is reported first, baselines counts every trusted one" || fail "--check-store"
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1])]
assert ev[0]["kind"] == "baseline.invalid" and ev[0]["signature"] == "bad-signature", ev[0]
s = [e for e in ev if e["kind"] == "sniff.summary"][0]
assert s["stats"]["baselines"] == 5, s["stats"]["baselines"]
PY
sed -i 's/"CHG-9"/"CHG-2"/' "$m"

# 6. an entry that is not JSON is reported by every call, index or not
mkdir "$ST/broken-20260101T000000Z-00000000"
echo garbage >"$ST/broken-20260101T000000Z-00000000/manifest.json"
cp "$e/manifest.p7s" "$ST/broken-20260101T000000Z-00000000/"
allruns _broken
rm -f "$IDX"; allruns _broken_none
compare _broken_none _broken "an unparseable entry"
grep -q "warning: baseline broken-.*signature bad-signature" "$T/v2_broken.err" && pass "verify of another project still warns about it" || fail "no warning: $(cat "$T/v2_broken.err")"
expect_count "$T/s_broken.out" "e['kind']=='baseline.invalid' and e['baseline'].startswith('broken-')" 1 "sniff reports it at start-up"
rm -rf "$ST/broken-20260101T000000Z-00000000"

# 7. a valid entry in a folder named after another project
mv "$e" "$ST/pump_station-$(basename "$e" | cut -d- -f2-)"
run named $(V "$T/p/s7_blocks")
expect_count "$T/named.out" "e['verdict']=='verified' and e['baseline']['ticket']=='CHG-1' and any('folder name does not match the signed project name' in w for w in e['warnings'])" 1 "verify: the misnamed entry is a problem, not used"
run named_all verify $(trust_args) --all
grep -q "warning .*folder name does not match the signed project name 's7_blocks'" "$T/named_all.out" &&
	pass "verify --all reports it" || fail "verify --all: $(cat "$T/named_all.out")"
run named_sniff $(sniffargs)
expect_count "$T/named_sniff.out" "e['kind']=='baseline.invalid' and 'folder name does not match' in e['text'] and e['signature']=='ok'" 1 "sniff reports it"
finish
