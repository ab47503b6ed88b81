#!/usr/bin/env bash
# t_rules.sh - plcguard rules check / rules test on the real binary: the
# shipped rules are valid, bad files are refused with FILE:LINE and exit 1,
# usage errors exit 64, and `rules test` prints its stable tab-separated lines.
. "$(dirname "$0")/lib.sh"
R=$PG_SRC/rules/sigma

expect_exit 0 "rules check: shipped rules" -- "$PLCGUARD" rules check "$R"
expect_out '^4 rule\(s\) valid in 3 file\(s\)$' "rules check counts the shipped rules"
expect_exit 0 "rules check: one shipped file" -- "$PLCGUARD" rules check "$R/plc_stop.yml"

cat >"$T/bad.yml" <<'Y'
title: bad
logsource:
  product: plcguard
  service: wire
detection:
  sel:
    kind|base64: x
  condition: sel
Y
expect_exit 1 "rules check: unsupported modifier" -- "$PLCGUARD" rules check "$T/bad.yml"
expect_out "bad.yml:7: detection.sel.kind\|base64: modifier 'base64' is not supported" "error names file, line and modifier"

cat >"$T/corr.yml" <<'Y'
title: many downloads
name: many_downloads
correlation:
  type: event_count
  rules: [x]
  timespan: 5m
  condition: {gte: 10}
Y
expect_exit 1 "rules check: correlation rule" -- "$PLCGUARD" rules check "$T/corr.yml"
expect_out 'corr.yml:3: correlation: correlation rules are not yet supported' "correlation refused with its line"

cat >"$T/cond.yml" <<'Y'
title: bad condition
logsource: {product: plcguard, service: file}
detection:
  sel:
    kind: file.tampered
  condition: sel and (sel or sel
Y
expect_exit 1 "rules check: bad condition" -- "$PLCGUARD" rules check "$T/cond.yml"
expect_out "cond.yml:6: detection.condition: column 20: '\)' expected at the end" "condition error has line and column"

cat >"$T/svc.yml" <<'Y'
title: windows
logsource:
  product: windows
  service: security
detection:
  sel: {EventID: 4624}
  condition: sel
Y
expect_exit 1 "rules check: foreign logsource" -- "$PLCGUARD" rules check "$R" "$T/svc.yml"
expect_out "svc.yml:3: logsource.product: 'windows'" "foreign product named"
expect_exit 1 "rules check: missing file" -- "$PLCGUARD" rules check "$T/nope.yml"
expect_exit 64 "rules: no subcommand" -- "$PLCGUARD" rules
expect_exit 64 "rules check: no file" -- "$PLCGUARD" rules check
expect_exit 64 "rules frob" -- "$PLCGUARD" rules frob x
expect_exit 0 "rules --help" -- "$PLCGUARD" rules --help
expect_out 'SEQ<TAB>KIND<TAB>RULE-ID<TAB>LEVEL<TAB>TITLE' "help documents the output"

cat >"$T/ev.jsonl" <<'J'
{"seq":1,"run":"00","host":"h","ts":"2026-12-02T10:00:00.000000Z","source":"self","kind":"capture.file","severity":"info","text":"x"}
{"seq":2,"run":"00","host":"h","ts":"2026-12-02T10:00:01.000000Z","source":"wire","kind":"s7.block.download","severity":"alert","proto":"s7comm","flow":1,"src":{"ip":"10.0.0.5","port":50000},"dst":{"ip":"10.0.0.10","port":102},"object":"OB1","verdict":"differs","text":"x"}
{"seq":3,"run":"00","host":"h","ts":"2026-12-02T10:00:02.000000Z","source":"wire","kind":"s7.block.download","severity":"info","proto":"s7comm","flow":1,"object":"DB1","verdict":"matches","text":"x"}
this line is not JSON
{"seq":4,"run":"00","host":"h","ts":"2026-12-02T10:00:03.000000Z","source":"wire","kind":"umas.plc.stop","severity":"warning","proto":"umas","text":"x"}
{"seq":5,"run":"00","host":"h","ts":"2026-12-02T10:00:04.000000Z","source":"file","kind":"file.tampered","severity":"alert","path":"/p/x","changes_logic":2,"text":"x"}

{"seq":6,"run":"00","host":"h","ts":"2026-12-02T10:00:05.000000Z","source":"file","kind":"file.tampered","severity":"alert","path":"/p/x","changes_logic":0,"text":"x"}
J
expect_exit 0 "rules test --events" -- "$PLCGUARD" rules test "$R" --events "$T/ev.jsonl"
expect_out "$(printf '^2\ts7.block.download\t3f6c2a8e-5d41-4c1b-9f7a-2b8e6d0c4a17\tcritical\tPLC logic transferred')" "unapproved download matched"
expect_out "$(printf '^4\tumas.plc.stop\tc4e9a7b2-6f18-4d3a-8e05-9b2d1f7c6a48\thigh\t')" "UMAS stop matched"
expect_out "$(printf '^5\tfile.tampered\t8a1d3c5e-7b92-4f06-a4d8-1e5c9b7f2a63\thigh\t')" "logic tampering matched"
expect_out "$(printf '^6\tfile.tampered\t5c27e0b4-93fd-4a8e-b1c6-0d4f8e2a7395\tmedium\t')" "other tampering matched"
expect_no_out "$(printf '^3\t')" "an approved download is not matched"
expect_out 'ev.jsonl:4: not a JSON object, skipped' "a bad line is reported"
expect_out '^6 event\(s\), 4 match\(es\)$' "summary"
"$PLCGUARD" rules test "$R" --events "$T/ev.jsonl" 2>/dev/null >"$T/a"
"$PLCGUARD" rules test "$R/plc_stop.yml" "$R/unapproved_logic.yml" "$R/file_tampered.yml" -- - <"$T/ev.jsonl" 2>/dev/null >"$T/b"
if [ "$(wc -l <"$T/a")" -eq 4 ] && [ "$(sort "$T/a")" = "$(sort "$T/b")" ]; then
	pass "-- FILE from stdin gives the same matches"
else
	fail "stdin form differs"; diff "$T/a" "$T/b"
fi
expect_exit 1 "rules test with an invalid rule" -- "$PLCGUARD" rules test "$T/bad.yml" --events "$T/ev.jsonl"
expect_exit 74 "rules test: missing events file" -- "$PLCGUARD" rules test "$R" --events "$T/nope.jsonl"
expect_exit 64 "rules test: no events" -- "$PLCGUARD" rules test "$R"
# The real collector's output: every unapproved transfer (no store: verdict
# unknown) of the sample captures is matched once by unapproved_logic.yml.
"$PLCGUARD" sniff --json -r "$PG_SRC"/samples/captures/s7_download.pcap \
	"$PG_SRC"/samples/captures/modbus_filerecord.pcap >"$T/sn.jsonl" 2>/dev/null
want=$(jcount "$T/sn.jsonl" 'e["kind"] in ("s7.block.download","umas.app.download","modbus.file.write") and e["verdict"] in ("differs","unknown")')
expect_exit 0 "rules test on sniff --json output" -- "$PLCGUARD" rules test "$R/unapproved_logic.yml" --events "$T/sn.jsonl"
got=$(grep -c "$(printf '\t')3f6c2a8e-5d41-4c1b-9f7a-2b8e6d0c4a17$(printf '\t')" "$T/out")
if [ "$want" -gt 0 ] && [ "$got" = "$want" ]; then
	pass "sniff output: $got unapproved transfers matched"
else
	fail "sniff output: $got matched, $want unapproved transfers"
fi
finish
