#!/usr/bin/env bash
# t_watch.sh - plcguard watch through the real binary: edits, a save by
# rename-over, a delete, a new sub-folder holding a project, a move out and
# back, a TIA-style save of many files, an unsigned project appearing, a CRL
# update that revokes the signer, SIGTERM with the state saved, and the
# catch-up of changes made while the watcher was down.  Each step gives
# exactly the expected events.
. "$(dirname "$0")/lib.sh"
make_pki
R=$T/root
mkdir -p "$R"
cp -r "$PG_SRC/samples/projects/pump_station" "$PG_SRC/samples/projects/s7_blocks" \
	"$PG_SRC/samples/projects/line3.zap16" "$R/"
# a TIA-like project folder: the project file and many files saved at once
mkdir -p "$R/tia_line/System" "$R/tia_line/IM"
echo "TIA project file (test)" >"$R/tia_line/tia_line.ap16"
for i in $(seq 1 40); do echo "part $i" >"$R/tia_line/System/part$i.plf"; done
for i in $(seq 1 10); do echo "im $i" >"$R/tia_line/IM/im$i.bin"; done
for p in pump_station s7_blocks line3.zap16 tia_line; do
	"$PLCGUARD" register $(sign_args engineer) --store "$T/store" "$R/$p" >/dev/null 2>&1 ||
		{ echo "register $p failed"; exit 1; }
done
cp -r "$R" "$T/orig"

EV=$T/ev.jsonl
WPID=
cleanup_hook() { [ -n "$WPID" ] && kill "$WPID" 2>/dev/null; :; }
start_watch() {
	: >"$EV"
	"$PLCGUARD" watch --trust "$PKI/trust" --crl "$PKI/crl" --store "$T/store" --json \
		--out "$EV" --state "$T/watch.state" --heartbeat 1 --debounce 200 "$@" "$R" \
		2>"$T/watch.err" &
	WPID=$!
	wait_for 'e["kind"]=="agent.start"' 1
}
# step NAME: events after this point are the step's
MARK=0
step() { settle; MARK=$(wc -l <"$EV"); echo "--- $1 ($SECONDS s)"; }
since() { tail -n +$((MARK + 1)) "$EV" | grep -v '"agent.heartbeat"' >"$T/step.jsonl"; }
# expect_step EXPR N DESCRIPTION: exactly N of the step's events match
expect_step() { since; expect_count "$T/step.jsonl" "$1" "$2" "$3"; }
# expect_only N DESCRIPTION: the step gave exactly N events in all
expect_only() { since; expect_count "$T/step.jsonl" 'True' "$1" "$2"; }

start_watch
expect_count "$EV" 'e["kind"]=="agent.start" and e["projects"]==4 and e["seq"]==1 and len(e["run"])==32' 1 "agent.start: 4 registered projects, seq 1, a run id"
settle
expect_count "$EV" 'e["kind"].startswith("file.")' 0 "a clean start says nothing about verified projects"

step "edit"
# The writer lingers after its write: fanotify reports asynchronously, and
# a writer that has exited by then can be named only by pid ("exited").
python3 -c 'import sys,time
p=sys.argv[1]; s=open(p).read()
open(p,"w").write(s.replace("Level > HighLimit THEN","Level > HighLimit + 15.0 THEN"))
time.sleep(4)' "$R/pump_station/plc.xml" &
WRITER=$!
wait_for 'e["kind"]=="file.tampered"' 1
expect_step 'e["kind"]=="file.tampered" and e["path"].endswith("/pump_station") and e["severity"]=="alert" and e["components"]["changed"]>=1 and any(c["name"]=="plc.xml#pou/PumpControl" for c in e["changes"])' 1 "edit: file.tampered names the POU that changed"
expect_only 1 "edit: nothing else"
if [ "$(jcount "$EV" 'e["kind"]=="agent.start" and e["writer_attribution"]=="fanotify"')" = 1 ]; then
	expect_step 'e["kind"]=="file.tampered" and any(w["pid"]=='"$WRITER"' and "python3" in w["exe"].rsplit("/",1)[-1] and w.get("uid")==os.getuid() and "exited" not in w for w in e["writers"])' 1 "fanotify names the writer (pid, exe, uid)"
else
	echo "note: fanotify not available here; writer attribution not tested"
fi
wait $WRITER

step "restore"
cp "$T/orig/pump_station/plc.xml" "$R/pump_station/plc.xml"
wait_for 'e["kind"]=="file.verified"' 1
expect_step 'e["kind"]=="file.verified" and e["path"].endswith("/pump_station") and e["components"]["matching"]==e["components"]["baseline"]' 1 "restore: file.verified"
expect_only 1 "restore: nothing else"

step "save by rename-over"
cp "$R/line3.zap16" "$R/.line3.tmp"
printf 'x' >>"$R/.line3.tmp"
mv "$R/.line3.tmp" "$R/line3.zap16"
wait_for 'e["kind"]=="file.tampered"' 2
expect_step 'e["kind"]=="file.tampered" and e["path"].endswith("/line3.zap16")' 1 "rename-over: the archive project is tampered"
expect_only 1 "rename-over: nothing else (the temporary file is not a project)"
cp "$T/orig/line3.zap16" "$R/.line3.tmp" && mv "$R/.line3.tmp" "$R/line3.zap16"
wait_for 'e["kind"]=="file.verified"' 2

step "delete"
rm "$R/s7_blocks/FC10.mc7"
wait_for 'e["kind"]=="file.tampered"' 3
expect_step 'e["kind"]=="file.tampered" and e["path"].endswith("/s7_blocks") and e["components"]["removed"]>=1' 1 "delete: file.tampered with a removed component"
expect_only 1 "delete: nothing else"
cp "$T/orig/s7_blocks/FC10.mc7" "$R/s7_blocks/"
wait_for 'e["kind"]=="file.verified"' 3

step "new sub-folder with a project"
mkdir -p "$R/area2/newline"
cp "$R/tia_line/tia_line.ap16" "$R/area2/newline/newline.ap16"
wait_for 'e["kind"]=="file.unsigned"' 1
expect_step 'e["kind"]=="file.unsigned" and e["path"].endswith("/area2/newline")' 1 "a new project in a new sub-folder: file.unsigned"
expect_only 1 "new sub-folder: nothing else"

step "move out and back"
mv "$R/s7_blocks" "$T/moved_away"
wait_for 'e["kind"]=="file.missing"' 1
expect_step 'e["kind"]=="file.missing" and e["path"].endswith("/s7_blocks")' 1 "moved out: file.missing"
mv "$T/moved_away" "$R/s7_blocks"
wait_for 'e["kind"]=="file.verified"' 4
expect_step 'e["kind"]=="file.verified" and e["path"].endswith("/s7_blocks")' 1 "moved back: file.verified"
expect_only 2 "move out and back: nothing else"
step "edit after the move back (its folder is watched again)"
printf 'z' >>"$R/s7_blocks/DB1.mc7"
wait_for 'e["kind"]=="file.tampered"' 4
expect_step 'e["kind"]=="file.tampered" and e["path"].endswith("/s7_blocks")' 1 "a change after the move back is seen"
cp "$T/orig/s7_blocks/DB1.mc7" "$R/s7_blocks/"
wait_for 'e["kind"]=="file.verified"' 5

# a save as the engineering tool makes it, in one process: every file
# written to a temporary name and renamed over the old one
tia_save() {
	/usr/bin/python3 - "$R/tia_line" "${1:-}" <<'PY'
import os, sys
root, change = sys.argv[1], sys.argv[2]
for d, _, files in os.walk(root):
    for f in sorted(files):
        p = os.path.join(d, f)
        data = open(p, "rb").read()
        if change and p.endswith(change):
            data = b"changed by the save\n"
        with open(p + ".~tmp", "wb") as o:
            o.write(data)
        os.rename(p + ".~tmp", p)
PY
}
step "TIA-style save, same content"
tia_save
settle
expect_only 0 "a save of 51 files with the same content says nothing"

step "TIA-style save, one part changed"
tia_save System/part7.plf
wait_for 'e["kind"]=="file.tampered"' 5
expect_step 'e["kind"]=="file.tampered" and e["path"].endswith("/tia_line") and e["components"]["changed"]==1 and e["changes"][0]["name"]=="System/part7.plf"' 1 "a save of many files: one file.tampered naming the one part"
expect_only 1 "TIA save: exactly one event"
expect_step 'e["kind"]=="file.tampered" and e["files"]["scanned"]==51 and e["files"]["hashed"]==51' 1 "a save that rewrites every file: every file hashed again"
cp "$T/orig/tia_line/System/part7.plf" "$R/tia_line/System/part7.plf"
wait_for 'e["kind"]=="file.verified"' 6
expect_step 'e["kind"]=="file.verified" and e["path"].endswith("/tia_line") and e["files"]["scanned"]==51 and e["files"]["hashed"]==1' 1 "one file written in a project of 51: only it is hashed again"

step "same size, mtime put back"
# different bytes of the same length, then the old mtime restored to the
# nanosecond: only the ctime (which no user can set) tells
python3 -c 'import os,sys
p=sys.argv[1]; st=os.stat(p); d=open(p,"rb").read()
open(p,"wb").write(d.replace(b"part 9",b"PART 9"))
os.utime(p, ns=(st.st_atime_ns, st.st_mtime_ns))' "$R/tia_line/System/part9.plf"
wait_for 'e["kind"]=="file.tampered"' 6
expect_step 'e["kind"]=="file.tampered" and e["path"].endswith("/tia_line") and e["files"]["hashed"]==1 and e["changes"][0]["name"]=="System/part9.plf"' 1 "a same-size edit with its mtime put back is found (ctime moved)"
cp -p "$T/orig/tia_line/System/part9.plf" "$R/tia_line/System/part9.plf"
wait_for 'e["kind"]=="file.verified"' 7

step "unsigned project appears"
cp "$T/orig/line3.zap16" "$R/line4.zap16"
wait_for 'e["kind"]=="file.unsigned"' 2
expect_step 'e["kind"]=="file.unsigned" and e["path"].endswith("/line4.zap16")' 1 "a copied archive without a baseline: file.unsigned"
expect_only 1 "unsigned: nothing else"

step "SIGTERM"
kill -TERM "$WPID"
wait "$WPID"
rc=$?
WPID=
[ "$rc" = 0 ] && pass "SIGTERM: exit 0" || fail "SIGTERM: exit $rc"
expect_count "$EV" 'e["kind"]=="agent.stop" and e["reason"]=="SIGTERM" and e["state_saved"]' 1 "agent.stop says SIGTERM, state saved"
python3 - "$EV" <<'PY' && pass "seq 1..n without a gap, one run, one host" || fail "seq/run/host"
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1])]
assert [e["seq"] for e in ev] == list(range(1, len(ev) + 1))
assert len({e["run"] for e in ev}) == 1 and len({e["host"] for e in ev}) == 1
PY
head -1 "$T/watch.state" | grep -q '^plcguard-watch-state' && pass "state file written" || fail "no state file"

echo "--- catch-up"
sed -i 's/Level > HighLimit THEN/Level > HighLimit + 1.0 THEN/' "$R/pump_station/plc.xml"
echo "part 3 changed while down" >"$R/tia_line/System/part3.plf"
: >"$EV"
"$PLCGUARD" watch --trust "$PKI/trust" --crl "$PKI/crl" --store "$T/store" --json \
	--out "$EV" --state "$T/watch.state" --once "$R" 2>"$T/watch.err"
rc=$?
[ "$rc" = 1 ] && pass "--once with findings: exit 1" || fail "--once: exit $rc"
expect_count "$EV" 'e["kind"]=="watch.catchup"' 1 "catch-up: watch.catchup"
expect_count "$EV" 'e["kind"]=="file.tampered" and e["trigger"]=="catchup"' 2 "catch-up: both projects changed while down are reported"
python3 - "$EV" <<'PY' && pass "watch.catchup comes before the findings" || fail "order"
import json, sys
k = [json.loads(l)["kind"] for l in open(sys.argv[1])]
assert k.index("watch.catchup") < k.index("file.tampered")
PY
expect_count "$EV" 'e["kind"]=="file.unsigned" and e["path"].endswith("/line4.zap16")' 1 "catch-up: the unsigned archive is reported again (it still is)"
: >"$EV"
"$PLCGUARD" watch --trust "$PKI/trust" --crl "$PKI/crl" --store "$T/store" --json \
	--out "$EV" --state "$T/watch.state" --once "$R" 2>"$T/watch.err"
rc=$?
expect_count "$EV" 'e["kind"]=="file.tampered"' 0 "a second catch-up with nothing changed repeats no finding"
[ "$rc" = 1 ] && pass "--once still exits 1 while a project stays tampered" || fail "--once with an unchanged finding: exit $rc"
echo "--- a project replaced by a symbolic link (to another, signed project)"
mv "$R/s7_blocks" "$T/s7_real"
ln -s "$R/pump_station" "$R/s7_blocks"
: >"$EV"
"$PLCGUARD" watch --trust "$PKI/trust" --crl "$PKI/crl" --store "$T/store" --json \
	--out "$EV" --state "$T/watch.state" --once "$R" 2>"$T/watch.err"
expect_count "$EV" 'e["kind"]=="file.missing" and e["path"].endswith("/s7_blocks") and "symbolic link" in e["text"] + json.dumps(e.get("messages"))' 1 "a symbolic link in place of a project is not verified through it"
expect_count "$EV" 'e["kind"]=="file.verified" and e["path"].endswith("/s7_blocks")' 0 "and never said verified"
rm "$R/s7_blocks"
mv "$T/s7_real" "$R/s7_blocks"
cp "$T/orig/pump_station/plc.xml" "$R/pump_station/plc.xml"
cp "$T/orig/tia_line/System/part3.plf" "$R/tia_line/System/part3.plf"
rm "$R/line4.zap16"
rm -rf "$R/area2"

echo "--- a root that holds a registered PLCopen XML file (as the corpus's CODESYS export sits)"
mkdir -p "$T/root2"
cp "$PG_SRC/samples/projects/pump_station/plc.xml" "$T/root2/line5.xml"
"$PLCGUARD" register $(sign_args engineer) --store "$T/store2" "$T/root2/line5.xml" >/dev/null 2>&1
: >"$EV"
"$PLCGUARD" watch --trust "$PKI/trust" --crl "$PKI/crl" --store "$T/store2" --json --out "$EV" --once "$T/root2" 2>"$T/watch.err"
rc=$?
expect_count "$EV" 'e["kind"]=="file.unsigned"' 0 "the root folder is not taken for an unsigned project because of a registered file in it"
[ "$rc" = 0 ] && pass "--once, all verified: exit 0" || fail "--once all verified: exit $rc"

echo "--- a folder above a project renamed, moved out of the root and back"
mkdir -p "$T/root3/cell/press/sub" "$T/away"
cp "$PG_SRC/samples/projects/pump_station/plc.xml" "$T/root3/cell/press/plc.xml"
echo "part" >"$T/root3/cell/press/sub/part.bin"
"$PLCGUARD" register $(sign_args engineer) --store "$T/store3" "$T/root3/cell/press" >/dev/null 2>&1
: >"$EV"
"$PLCGUARD" watch --trust "$PKI/trust" --crl "$PKI/crl" --store "$T/store3" --json --out "$EV" \
	--heartbeat 1 --rescan 0 --debounce 200 "$T/root3" 2>"$T/watch.err" &
WPID=$!
wait_for 'e["kind"]=="agent.start"' 1
step "rename of the folder above"
mv "$T/root3/cell" "$T/root3/cell2"
wait_for 'e["kind"]=="file.missing"' 1
expect_step 'e["kind"]=="file.missing" and e["path"].endswith("/root3/cell/press")' 1 "a rename above the project: file.missing at its registered path"
step "renamed back"
mv "$T/root3/cell2" "$T/root3/cell"
wait_for 'e["kind"]=="file.verified"' 1
expect_step 'e["kind"]=="file.verified" and e["path"].endswith("/root3/cell/press")' 1 "renamed back: file.verified"
step "moved out of the watched root and back"
mv "$T/root3/cell" "$T/away/cell"
wait_for 'e["kind"]=="file.missing"' 2
echo "changed while away" >"$T/away/cell/press/sub/part.bin"
mv "$T/away/cell" "$T/root3/cell"
wait_for 'e["kind"]=="file.tampered"' 1
expect_step 'e["kind"]=="file.missing"' 1 "moved out: file.missing"
expect_step 'e["kind"]=="file.tampered" and e["changes"][0]["name"]=="sub/part.bin"' 1 "moved back changed: file.tampered names the file changed while away"
step "edit after the move back"
echo "part" >"$T/root3/cell/press/sub/part.bin"
wait_for 'e["kind"]=="file.verified"' 2
expect_step 'e["kind"]=="file.verified"' 1 "its folders are watched again: the restore is seen"
kill -TERM "$WPID"
wait "$WPID"
WPID=

echo "--- CRL update revokes the signer"
start_watch
settle
MARK=$(wc -l <"$EV")
openssl ca -config "$PKI/openssl.cnf" -name intca -batch -revoke "$PKI/certs/engineer.pem" \
	-crl_reason keyCompromise >/dev/null 2>&1
openssl ca -config "$PKI/openssl.cnf" -name intca -batch -gencrl \
	-out "$PKI/crl/intermediate.crl.new" >/dev/null 2>&1
mv "$PKI/crl/intermediate.crl.new" "$PKI/crl/intermediate.crl.pem"
wait_for 'e["kind"]=="baseline.revoked"' 4
expect_step 'e["kind"]=="agent.reload"' 1 "the CRL folder changed: baselines and CRLs reloaded"
expect_step 'e["kind"]=="baseline.revoked" and e["severity"]=="alert" and "Engineer Alice" in e["signer"]' 4 "every project signed by the revoked engineer: baseline.revoked"
expect_only 5 "CRL update: nothing else"
kill -TERM "$WPID"
wait "$WPID"
WPID=

echo "--- usage"
expect_exit 64 "watch without --trust" -- "$PLCGUARD" watch --store "$T/store"
expect_exit 74 "watch with a trust folder that does not exist" -- "$PLCGUARD" watch --trust "$T/nothing" --store "$T/store" --once
finish
