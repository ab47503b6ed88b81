#!/usr/bin/env bash
# plcguard sniff -i: live capture end to end, and its privilege drop.
#
# Two network namespaces made for this test only, joined by a veth pair:
#
#   NS_PLC  plc0  10.10.1.10/24 (S7 PLC, TCP 102)   <-- plcguard sniff -i plc0
#                 10.10.2.20/24 (Modicon, TCP 502)      python "PLC" servers
#      | veth
#   NS_ES   es0   10.10.1.50/24, 10.10.2.50/24          python "engineering station"
#
# The station and the PLC replay, over real TCP sockets, the application bytes
# of samples/captures/s7_download.pcap and umas_download.pcap in their order
# (tests/e2e/live_traffic.py), while the sniffer runs as root only long enough
# to open plc0 and then as nobody; with --check-store --ocsp it asks the OCSP
# responder only as nobody.  Expected objects: samples/captures/README.md.
# Nothing outside the two namespaces is touched; both are deleted on exit.
# Skipped (77) when not root or when namespaces cannot be made.
. "$(dirname "$0")/lib.sh"

if [ "$(id -u)" != 0 ]; then
	echo "SKIP: t_live needs root (network namespaces, live capture, privilege drop)"
	exit 77
fi
for c in ip python3; do
	command -v "$c" >/dev/null || { echo "SKIP: t_live needs $c"; exit 77; }
done
NOBODY=$(id -u nobody 2>/dev/null) || { echo "SKIP: no user nobody"; exit 77; }
# The interpreter itself, not a version-manager shim: a shim costs a second
# per start, and the sessions are timed against --duration.
PY=$(python3 -c 'import sys; print(sys.executable)')
PATH=$(dirname "$PY"):$PATH

C=$PG_SRC/samples/captures
S=$PG_SRC/samples/projects
TRAFFIC=$PG_SRC/tests/e2e/live_traffic.py
NS_PLC=pgtest-$$-plc
NS_ES=pgtest-$$-es
OB1=1b0e81410332d1d0e527f07854d244fc2dea9dbe2852d795699eadec58032ecf
FC10=728ef5157159be672f4709ad63c20d30618608a2dbc2344a5fb74822d13b5636
FB20=8ce22b718b814eb92aace893f7fbad467882da1795fd84d427e5bbeb9478534c
DB1=6e6ea01cb3872b74112c09d762d59ad76574435eea62e8f7179e876784bf6b62
APX=d61ff02aee5453e56775f1db3e2dd0b48332a734c151f298f08a08d4d612f5d4

BG=()
cleanup_hook() {
	local p
	for p in "${BG[@]}"; do
		kill "$p" 2>/dev/null
	done
	for p in "${BG[@]}"; do
		wait "$p" 2>/dev/null
	done
	ip netns del "$NS_PLC" 2>/dev/null
	ip netns del "$NS_ES" 2>/dev/null
}

if ! ip netns add "$NS_PLC" 2>"$T/err"; then
	echo "SKIP: cannot create a network namespace: $(cat "$T/err")"
	exit 77
fi
if ! { ip netns add "$NS_ES" &&
       ip -n "$NS_PLC" link add plc0 type veth peer name es0 netns "$NS_ES" &&
       ip -n "$NS_PLC" addr add 10.10.1.10/24 dev plc0 &&
       ip -n "$NS_PLC" addr add 10.10.2.20/24 dev plc0 &&
       ip -n "$NS_ES" addr add 10.10.1.50/24 dev es0 &&
       ip -n "$NS_ES" addr add 10.10.2.50/24 dev es0 &&
       ip -n "$NS_PLC" link set lo up && ip -n "$NS_ES" link set lo up &&
       ip -n "$NS_PLC" link set plc0 up && ip -n "$NS_ES" link set es0 up; } 2>"$T/err"; then
	echo "SKIP: cannot set up the veth pair between two namespaces: $(cat "$T/err")"
	exit 77
fi
in_plc() { ip netns exec "$NS_PLC" "$@"; }
# Wait until both ends of the veth have carrier.
for _ in $(seq 50); do
	ip -n "$NS_PLC" -o link show plc0 | grep -q LOWER_UP &&
		ip -n "$NS_ES" -o link show es0 | grep -q LOWER_UP && break
	sleep 0.1
done

# start_sniff OUTFILE ARGS...: plcguard sniff in NS_PLC in the background;
# returns once it announces capture.live (SNIFF = its pid), or 1.
start_sniff() {
	local out=$1
	shift
	: >"$out"
	SNIFF_T0=$(date +%s.%N)
	# ip netns exec execs the command: $! is plcguard's own pid.
	ip netns exec "$NS_PLC" "$PLCGUARD" sniff -i plc0 --json --out "$out" "$@" 2>"$out.err" &
	SNIFF=$!
	BG+=("$SNIFF")
	local i
	for i in $(seq 200); do
		grep -q '"capture.live"' "$out" 2>/dev/null && return 0
		kill -0 "$SNIFF" 2>/dev/null || return 1
		sleep 0.05
	done
	return 1
}

# replay PCAP PORT PLC_ADDR: one session, PLC in NS_PLC, station in NS_ES
replay() {
	rm -f "$T/ready"
	ip netns exec "$NS_PLC" "$PY" "$TRAFFIC" serve "$1" "$2" "$3" "$T/ready" >"$T/srv.out" 2>&1 &
	local srv=$! i
	BG+=("$srv")
	# The station connects only once the PLC listens: a refused SYN
	# would be one more flow in the summary.
	for i in $(seq 100); do
		[ -e "$T/ready" ] && break
		sleep 0.05
	done
	ip netns exec "$NS_ES" "$PY" "$TRAFFIC" client "$1" "$2" "$3" >"$T/cli.out" 2>&1
	local crc=$?
	wait "$srv"
	local src=$?
	if [ "$crc" -eq 0 ] && [ "$src" -eq 0 ]; then
		pass "$(basename "$1"): replayed over TCP $2 ($(cat "$T/cli.out"))"
	else
		fail "$(basename "$1"): replay failed (client $crc, server $src)"
		sed 's/^/      | /' "$T/cli.out" "$T/srv.out"
	fi
}

# wait_sniff SECONDS: wait for the sniffer to end by itself, at most SECONDS
# (then it is killed and that fails); SNIFF_RC = its exit code.
wait_sniff() {
	local i
	for i in $(seq $(($1 * 20))); do
		kill -0 "$SNIFF" 2>/dev/null || break
		sleep 0.05
	done
	if kill -0 "$SNIFF" 2>/dev/null; then
		fail "sniffer still running after $1 s: killed"
		kill -KILL "$SNIFF" 2>/dev/null
	fi
	wait "$SNIFF"
	SNIFF_RC=$?
	SNIFF_SECS=$(awk "BEGIN { printf \"%.2f\", $(date +%s.%N) - $SNIFF_T0 }")
}

# check_privs PID: the running sniffer really is nobody, with no way back
check_privs() {
	local st=/proc/$1/status
	if [ "$(cat "/proc/$1/comm" 2>/dev/null)" != plcguard ]; then
		fail "pid $1 is not plcguard ($(cat "/proc/$1/comm" 2>/dev/null))"
		return
	fi
	local uid gid groups capeff capprm nnp
	uid=$(awk '/^Uid:/ {print $2, $3, $4, $5}' "$st")
	gid=$(awk '/^Gid:/ {print $2, $3, $4, $5}' "$st")
	groups=$(awk '/^Groups:/ {$1 = ""; print}' "$st" | xargs)
	capeff=$(awk '/^CapEff:/ {print $2}' "$st")
	capprm=$(awk '/^CapPrm:/ {print $2}' "$st")
	nnp=$(awk '/^NoNewPrivs:/ {print $2}' "$st")
	local g
	g=$(id -g nobody)
	[ "$uid" = "$NOBODY $NOBODY $NOBODY $NOBODY" ] &&
		pass "sniffer runs as nobody: real, effective, saved and fs uid $NOBODY" ||
		fail "sniffer Uid line: $uid (expected $NOBODY x4)"
	[ "$gid" = "$g $g $g $g" ] && pass "real, effective, saved and fs gid are nobody's ($g)" ||
		fail "sniffer Gid line: $gid (expected $g x4)"
	[ "$groups" = "$g" ] && pass "supplementary groups reduced to $g (root's are gone)" ||
		fail "sniffer Groups: '$groups'"
	[ "$capeff" = 0000000000000000 ] && [ "$capprm" = 0000000000000000 ] &&
		pass "no capability left (effective and permitted)" ||
		fail "capabilities left: CapEff $capeff CapPrm $capprm"
	[ "$nnp" = 1 ] && pass "no_new_privs set" || fail "NoNewPrivs: $nnp"
}

# check_live FILE: the common facts of one live run's events
check_live() {
	local f=$1
	[ ! -s "$f.err" ] && pass "nothing on standard error (no sanitizer or leak report)" ||
		{ fail "standard error:"; sed 's/^/      | /' "$f.err" | head -20; }
	expect_count "$f" "e['kind']=='capture.live' and e['interface']=='plc0' and e['uid']==$NOBODY and e['linktype']=='EN10MB' and '102' in e['filter'] and '502' in e['filter']" 1 "capture.live: interface plc0, uid $NOBODY (nobody), Ethernet, filter on 102 and 502"
	expect_count "$f" "e['kind']=='capture.drops' and e['interface']=='plc0' and e['kernel_drops']==0 and e['received']>=150" 1 "capture.drops at the end: no drop, all packets received"
	expect_count "$f" "e['kind'] in ('tcp.gap','tcp.overlap_conflict','capture.error','sniff.memcap')" 0 "no gap, conflict, capture error or memcap refusal"
	python3 - "$f" <<'PY' && pass "events numbered 1..N, capture.live first, capture.drops after every transfer, summary last" || fail "event order (see above)"
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1])]
kinds = [e["kind"] for e in ev]
assert [e["seq"] for e in ev] == list(range(1, len(ev) + 1)), "seq"
assert kinds[0] == "capture.live", kinds[0]
assert kinds[-1] == "sniff.summary", kinds[-1]
d = max(i for i, k in enumerate(kinds) if k == "capture.drops")
t = max(i for i, k in enumerate(kinds) if k.endswith(".download"))
assert t < d < len(kinds) - 1, (t, d)
PY
	expect_count "$f" "e['kind']=='sniff.summary' and e['stats']['flows']==2 and e['stats']['flows_closed_fin']==2 and e['stats']['gaps']==0 and e['stats']['kernel_drops']==0 and e['stats']['s7_pdus']>0 and e['stats']['umas_pdus']>0" 1 "summary: two flows, both closed by FIN, no gap, S7 and UMAS PDUs"
	python3 - "$f" <<'PY' && pass "live events carry wall-clock time (within the last minute)" || fail "event times"
import json, sys, time, datetime
now = time.time()
for l in open(sys.argv[1]):
    e = json.loads(l)
    if e["kind"] in ("s7.block.download", "umas.app.download"):
        t = datetime.datetime.fromisoformat(e["ts"].replace("Z", "+00:00")).timestamp()
        assert now - 60 < t <= now + 1, (e["kind"], e["ts"])
PY
}

# --- 1. no baselines: the four blocks and the image are seen, all unknown -----
if start_sniff "$T/live1.json" --no-baselines --user nobody --duration 8 --heartbeat 2; then
	pass "sniffer capturing on plc0 (capture.live written)"
	check_privs "$SNIFF"
	replay "$C/s7_download.pcap" 102 10.10.1.10
	replay "$C/umas_download.pcap" 502 10.10.2.20
	wait_sniff 15
	python3 -c "import sys; sys.exit(not 8 <= $SNIFF_SECS < 11)" &&
		pass "--duration 8 on a link idle after the sessions: ended after $SNIFF_SECS s" ||
		fail "--duration 8: ended after $SNIFF_SECS s"
	[ "$SNIFF_RC" -eq 1 ] && pass "no baselines: transfers not verified (exit 1)" ||
		{ fail "no baselines: exit $SNIFF_RC, expected 1"; sed 's/^/      | /' "$T/live1.json.err"; }
	f=$T/live1.json
	check_live "$f"
	for b in OB1:$OB1 FC10:$FC10 FB20:$FB20 DB1:$DB1; do
		expect_count "$f" "e['kind']=='s7.block.download' and e['object']=='${b%%:*}' and e['sha256']=='${b#*:}' and e['verdict']=='unknown' and e['src']['ip']=='10.10.1.50' and e['dst']['ip']=='10.10.1.10' and e['dst']['port']==102" 1 "${b%%:*} downloaded live, sha256 ${b#*:}" 
	done
	expect_count "$f" "e['kind']=='s7.block.download'" 4 "exactly four block downloads"
	expect_count "$f" "e['kind']=='s7.block.activate'" 4 "four _INSE activations"
	expect_count "$f" "e['kind']=='s7.plc.start'" 1 "PLC warm start"
	expect_count "$f" "e['kind']=='umas.app.download' and e['size']==7324 and e['sha256']=='$APX' and e['verdict']=='unknown' and e['dst']['ip']=='10.10.2.20'" 1 "UMAS application download live: 7,324 bytes, sha256 d61ff02a..."
	expect_count "$f" "e['kind']=='sniff.summary' and e['transfers']['unknown']==5 and e['transfers']['matches']==0" 1 "summary: 5 transfers, all unknown"
	# heartbeats: the sensor says it is running, with growing counters; every
	# event of the run carries the same run id and host, seq without holes
	python3 - "$f" >"$T/out" 2>&1 <<'PY'
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1])]
hb = [e for e in ev if e['kind'] == 'sensor.heartbeat']
assert hb, "no sensor.heartbeat"
assert all(e['interval_s'] == 2 and e['interface'] == 'plc0' for e in hb), hb
pk = [e['packets'] for e in hb]
assert pk == sorted(pk), pk
assert len({e['run'] for e in ev}) == 1 and len(ev[0]['run']) == 32, "one run id"
assert len({e['host'] for e in ev}) == 1, "one host"
assert [e['seq'] for e in ev] == list(range(1, len(ev) + 1)), "seq 1..n"
print("heartbeats", len(hb))
PY
	expect_out "^heartbeats [1-9]" "sensor.heartbeat while capturing (growing counters), one run id and host, seq 1..n"
else
	fail "sniffer did not start capturing: $(cat "$T/live1.json.err")"
fi

# --- 2. signed baselines: everything matches, exit 0 ------------------------
make_pki
W=$(window_now)
expect_exit 0 "register the S7 blocks (target 10.10.1.10 rack 0 slot 2)" -- \
	"$PLCGUARD" register $(sign_args engineer) --target 10.10.1.10,rack=0,slot=2 \
	--ticket CHG-LIVE --window "$W" "$S/s7_blocks"
expect_exit 0 "register the UMAS application (target 10.10.2.20)" -- \
	"$PLCGUARD" register $(sign_args engineer) --target 10.10.2.20 --window "$W" "$S/umas_app"
# The store, the trust anchors and the output all live in a root-only (0700)
# directory: the sniffer must read everything it needs before it drops to nobody.
[ "$(stat -c %a "$T")" = 700 ] || chmod 700 "$T"
if start_sniff "$T/live2.json" $(trust_args) --duration 8; then
	pass "sniffer with baselines capturing (default --user nobody)"
	check_privs "$SNIFF"
	replay "$C/s7_download.pcap" 102 10.10.1.10
	replay "$C/umas_download.pcap" 502 10.10.2.20
	wait_sniff 15
	[ "$SNIFF_RC" -eq 0 ] && pass "with baselines: every transfer matched (exit 0)" ||
		{ fail "with baselines: exit $SNIFF_RC, expected 0"; sed 's/^/      | /' "$T/live2.json.err"; }
	f=$T/live2.json
	check_live "$f"
	expect_count "$f" "e['kind']=='baseline.invalid'" 0 "both baselines verified before the drop"
	for b in OB1:$OB1 FC10:$FC10 FB20:$FB20 DB1:$DB1; do
		expect_count "$f" "e['kind']=='s7.block.download' and e['object']=='${b%%:*}' and e['sha256']=='${b#*:}' and e['verdict']=='matches' and e['match']=='exact' and e['baseline']['component'].endswith('#s7/${b%%:*}') and e['baseline']['ticket']=='CHG-LIVE' and e['baseline']['in_window']==True and e['baseline']['target_listed']==True and e['rack']==0 and e['slot']==2" 1 "${b%%:*} MATCHES its baseline (exact, in window, target listed)"
	done
	expect_count "$f" "e['kind']=='umas.app.download' and e['size']==7324 and e['sha256']=='$APX' and e['verdict']=='matches' and e['baseline']['target_listed']==True" 1 "UMAS application MATCHES"
	expect_count "$f" "e['kind']=='sniff.summary' and e['transfers']['matches']==5 and e['transfers']['unknown']==0 and e['stats']['baselines']==2" 1 "summary: 5 matched of 5, 2 baselines"
else
	fail "sniffer with baselines did not start: $(cat "$T/live2.json.err")"
fi

# --- 3. --count: stops after exactly N packets ------------------------------
if start_sniff "$T/live3.json" --no-baselines --count 10 --duration 20; then
	replay "$C/s7_download.pcap" 102 10.10.1.10
	wait_sniff 10
	[ "$SNIFF_RC" -le 1 ] && pass "--count 10: ended by itself (exit $SNIFF_RC)" || fail "--count 10: exit $SNIFF_RC"
	expect_count "$T/live3.json" "e['kind']=='sniff.summary' and e['stats']['packets']==10" 1 "--count 10: exactly 10 packets processed"
else
	fail "--count run did not start: $(cat "$T/live3.json.err")"
fi

# --- 4. SIGTERM: a clean stop with the closing events ------------------------
if start_sniff "$T/live4.json" --no-baselines; then
	kill -TERM "$SNIFF"
	t0=$(date +%s)
	wait_sniff 5
	[ "$SNIFF_RC" -eq 0 ] && [ $(($(date +%s) - t0)) -le 3 ] &&
		pass "SIGTERM ends a capture without --duration promptly (exit 0)" ||
		fail "SIGTERM: exit $SNIFF_RC after $(($(date +%s) - t0)) s"
	python3 - "$T/live4.json" <<'PY' && pass "after SIGTERM: capture.drops then the summary" || fail "after SIGTERM: closing events"
import json, sys
k = [json.loads(l)["kind"] for l in open(sys.argv[1])]
assert k[-2:] == ["capture.drops", "sniff.summary"], k
PY
else
	fail "SIGTERM run did not start: $(cat "$T/live4.json.err")"
fi

# --- 5. setup failures: exit 74 and a message naming the culprit --------------
NOUSER=pg-nosuchuser-$$
if getent passwd "$NOUSER" >/dev/null; then
	fail "user $NOUSER unexpectedly exists"
else
	expect_exit 74 "--user $NOUSER refused" -- in_plc "$PLCGUARD" sniff -i plc0 --no-baselines --user "$NOUSER" --duration 1
	expect_out "$NOUSER" "the message names the missing user"
	expect_no_out '"capture.live"|capturing on' "nothing captured for a missing user"
fi
expect_exit 74 "--user root refused (uid 0 is no drop)" -- in_plc "$PLCGUARD" sniff -i plc0 --no-baselines --user root --duration 1
expect_out 'root.*uid 0' "the message says root is uid 0"
expect_exit 74 "nonexistent interface" -- in_plc "$PLCGUARD" sniff -i pgnosuch$$ --no-baselines --duration 1
expect_out "pgnosuch$$" "the message names the interface"
expect_out "pgnosuch$$: .*[a-z]" "and says what is wrong with it"
expect_exit 74 "an invalid --filter" -- in_plc "$PLCGUARD" sniff -i plc0 --no-baselines --filter 'tcp port banana' --duration 1
expect_out 'filter "tcp port banana"' "the message names the filter"
expect_exit 64 "-i and -r together are a usage error" -- "$PLCGUARD" sniff -i plc0 -r "$C/s7_download.pcap"

# --- 6. OCSP is never asked as root ------------------------------------------
# --check-store checks every baseline at start-up; with only the root's CRL the
# engineer's status must come from OCSP.  The responder (openssl ocsp, in
# NS_PLC) sits behind a relay that notes which uid owns each connecting
# socket: every request must come from nobody, after the drop, and both
# baselines must then verify by OCSP.
OCSP_PORT=${PG_OCSP_PORT:-18888}   # what make_pki wrote into the leaves' AIA
if in_plc bash "$PG_SRC/tests/pki/ocsp-responder.sh" "$PKI" $((OCSP_PORT + 1)) >"$T/ocsp.out" 2>&1; then
	BG+=("$(cat "$PKI/ocsp.pid")")
	rm -f "$T/relay.ready" "$T/relay.log"
	in_plc "$PY" "$PG_SRC/tests/e2e/ocsp_uid_proxy.py" "$OCSP_PORT" $((OCSP_PORT + 1)) \
		"$T/relay.log" "$T/relay.ready" >"$T/relay.out" 2>&1 &
	BG+=("$!")
	for _ in $(seq 100); do
		[ -e "$T/relay.ready" ] && break
		sleep 0.05
	done
	if start_sniff "$T/live6.json" --trust "$PKI/trust" --crl "$PKI/crl-partial" --ocsp \
		--check-store --duration 2; then
		wait_sniff 10
		[ "$SNIFF_RC" -eq 0 ] && pass "--check-store --ocsp live as root: exit 0" ||
			{ fail "--check-store --ocsp: exit $SNIFF_RC, expected 0"; sed 's/^/      | /' "$T/live6.json.err"; }
		uids=$(sort -u "$T/relay.log" 2>/dev/null | xargs)
		[ "$uids" = "$NOBODY" ] &&
			pass "every OCSP request at start-up came from uid $NOBODY (nobody), none from root ($(wc -l <"$T/relay.log") requests)" ||
			fail "OCSP requests came from uids '${uids:-none}', expected only $NOBODY"
		expect_count "$T/live6.json" "e['kind']=='baseline.invalid'" 0 "both baselines verified by OCSP after the drop"
		expect_count "$T/live6.json" "e['kind']=='sniff.summary' and e['stats']['baselines']==2" 1 "summary: 2 baselines checked at start-up"
	else
		fail "--check-store --ocsp run did not start: $(cat "$T/live6.json.err")"
	fi
else
	fail "OCSP responder did not start in $NS_PLC: $(cat "$T/ocsp.out")"
fi

finish
