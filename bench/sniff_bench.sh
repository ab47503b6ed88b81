#!/usr/bin/env bash
# sniff_bench.sh [PLCGUARD] [MB] [RUNS] - throughput and memory of
# `plcguard sniff -r` on a capture of at least MB megabytes (default 100),
# against, in the same run and on the same file:
#   tshark -r FILE -Y 's7comm || mbtcp'   the dissector people use today
#   tcpdump -r FILE -w /dev/null          the libpcap read floor
# and peak RSS at 1x and at 10x the capture size (memory must stay flat).
#
# The input is built from the corpus's Ethernet captures ($PG_CORPUS, default
# ../../shared/corpus; libpcap cannot read a pcapng whose interfaces differ in
# link type, and s7comm_plus.pcap is Linux cooked), concatenated with
# `mergecap -F pcap -a`, then repeated by bench/pcap_repeat.py with new ports,
# sequence numbers and times per repetition, so that every repetition is
# fresh traffic through reassembly and the parsers, not retransmissions of the
# first one.  Everything is read from the page cache (a warm-up pass runs
# first), so the figures compare CPU work, not the disk.  Best of RUNS
# (default 3) wall-clock times; tshark and --pdus run once (they take long).
# On a shared machine prefer the CPU column: wall time includes waiting for a core.
# Installs nothing: names the Debian package of a missing tool.
# Exit 0 when the targets hold (>= 50x tshark, <= 3x tcpdump's time, RSS at
# 10x < 1.2x RSS at 1x), 1 when one does not, 2 when something is missing.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
PLCGUARD=$(readlink -f "${1:-$here/../build/plcguard}")
MB=${2:-100}
RUNS=${3:-3}
CORPUS=${PG_CORPUS:-$here/../../shared/corpus}

need() { # need TOOL PACKAGE
	command -v "$1" >/dev/null 2>&1 && return 0
	echo "sniff_bench: $1 is missing: apt-get install $2" >&2
	exit 2
}
need mergecap wireshark-common
need capinfos wireshark-common
need python3 python3
need bc bc
[ -x /usr/bin/time ] || { echo "sniff_bench: /usr/bin/time is missing: apt-get install time" >&2; exit 2; }
[ -x "$PLCGUARD" ] || { echo "sniff_bench: no plcguard at $PLCGUARD (build it, or give its path)" >&2; exit 2; }
[ -d "$CORPUS/pcap" ] || { echo "sniff_bench: no corpus at $CORPUS (set PG_CORPUS)" >&2; exit 2; }
have_tshark=1; command -v tshark >/dev/null || { have_tshark=0; echo "sniff_bench: tshark is missing (apt-get install tshark): no tshark row" >&2; }
have_tcpdump=1; command -v tcpdump >/dev/null || { have_tcpdump=0; echo "sniff_bench: tcpdump is missing (apt-get install tcpdump): no tcpdump row" >&2; }

W=$(mktemp -d "${TMPDIR:-/tmp}/pg-sniff-bench.XXXXXX")
trap 'rm -rf "$W"' EXIT

# ---- input ----
eth=()
while IFS= read -r -d '' f; do
	lt=$(capinfos -T -r -E "$f" 2>/dev/null | tail -1 | cut -f2)
	[ "$lt" = ether ] && eth+=("$f")
done < <(find "$CORPUS/pcap" -type f \( -name '*.pcap' -o -name '*.pcapng' \) -print0 | sort -z)
[ ${#eth[@]} -gt 0 ] || { echo "sniff_bench: no Ethernet captures under $CORPUS/pcap" >&2; exit 2; }
mergecap -F pcap -a -w "$W/base.pcap" "${eth[@]}"
echo "base: ${#eth[@]} Ethernet captures, $(stat -c %s "$W/base.pcap") bytes"
python3 "$here/pcap_repeat.py" "$W/base.pcap" "$W/x1.pcap" "$MB"
python3 "$here/pcap_repeat.py" "$W/base.pcap" "$W/x10.pcap" "$((MB * 10))"
rm -f "$W/base.pcap"
size1=$(stat -c %s "$W/x1.pcap")
size10=$(stat -c %s "$W/x10.pcap")
cat "$W/x1.pcap" "$W/x10.pcap" >/dev/null   # warm the page cache

# ---- runs ----
# run NAME RUNS CMD...: best wall seconds -> T[NAME], peak RSS (max over runs,
# KiB) -> R[NAME], CPU seconds of the best run -> C[NAME].  plcguard exits 1
# when a transfer was not verified clean (every transfer here is UNKNOWN: no
# baselines), so 0 and 1 are success; 2 and up is a failure.
declare -A T R C
run() {
	local name=$1 n=$2; shift 2
	local best=999999 rss=0 cpu=0
	for _ in $(seq 1 "$n"); do
		local s e rc=0 el
		s=$(date +%s.%N)
		/usr/bin/time -o "$W/time" -f '%U %S %M' "$@" >/dev/null 2>"$W/err" || rc=$?
		e=$(date +%s.%N)
		if [ "$rc" -gt 1 ]; then
			echo "sniff_bench: failed ($rc): $*" >&2
			tail -3 "$W/err" >&2
			exit 2
		fi
		el=$(echo "$e - $s" | bc -l)
		read -r u sy m < <(tail -1 "$W/time")
		[ "$m" -gt "$rss" ] && rss=$m
		if [ "$(echo "$el < $best" | bc -l)" = 1 ]; then
			best=$el
			cpu=$(echo "$u + $sy" | bc -l)
		fi
	done
	T[$name]=$best; R[$name]=$rss; C[$name]=$cpu
}
F1=$W/x1.pcap
run pg_json "$RUNS" "$PLCGUARD" sniff -r "$F1" --json --out /dev/null
run pg_human "$RUNS" "$PLCGUARD" sniff -r "$F1" --out /dev/null
run pg_file "$RUNS" "$PLCGUARD" sniff -r "$F1" --json --out "$W/events.json"
run pg_pdus 1 "$PLCGUARD" sniff -r "$F1" --json --pdus --out /dev/null
run pg_json10 "$RUNS" "$PLCGUARD" sniff -r "$W/x10.pcap" --json --out /dev/null
[ $have_tcpdump = 1 ] && run tcpdump "$RUNS" tcpdump -r "$F1" -w /dev/null
[ $have_tshark = 1 ] && run tshark 1 tshark -r "$F1" -Y 's7comm || mbtcp'
# One more run of each size for the event counts (--out appends: the timed
# runs above wrote events.json RUNS times over).
"$PLCGUARD" sniff -r "$F1" --json --out "$W/events1.json" || [ $? -le 1 ]
"$PLCGUARD" sniff -r "$W/x10.pcap" --json --out "$W/events10.json" || [ $? -le 1 ]

# ---- table ----
mbs() { echo "$2 / $1 / 1000000" | bc -l | xargs printf '%.1f'; }
printf '\n%-44s %8s %8s %8s %9s %9s %9s\n' "tool ($(echo "$size1/1000000" | bc) MB, $(capinfos -c -M "$F1" | awk -F': *' '/packets/{print $2}') packets)" \
	seconds "CPU s" "MB/s" "x tshark" "x tcpdump" "peak RSS"
row() { # row LABEL NAME [SIZE]
	local t=${T[$2]} size=${3:-$size1} xt="" xd=""
	[ -n "${T[tshark]:-}" ] && xt=$(echo "(${T[tshark]} / $size1) / ($t / $size)" | bc -l | xargs printf '%.0fx')
	[ -n "${T[tcpdump]:-}" ] && xd=$(echo "($t / $size) / (${T[tcpdump]} / $size1)" | bc -l | xargs printf '%.2f')
	printf '%-44s %8.3f %8.3f %8s %9s %9s %7d MB\n' "$1" "$t" "${C[$2]}" "$(mbs "$t" "$size")" \
		"$xt" "$xd" "$((R[$2] / 1024))"
}
row "plcguard sniff --json --out /dev/null" pg_json
row "plcguard sniff --out /dev/null (human)" pg_human
row "plcguard sniff --json --out FILE" pg_file
row "plcguard sniff --json --pdus --out /dev/null" pg_pdus
row "plcguard sniff --json, 10x ($(echo "$size10/1000000" | bc) MB)" pg_json10 "$size10"
[ -n "${T[tcpdump]:-}" ] && row "tcpdump -r FILE -w /dev/null" tcpdump
[ -n "${T[tshark]:-}" ] && row "tshark -r FILE -Y 's7comm || mbtcp'" tshark
echo "(x tshark: throughput relative to tshark; x tcpdump: time relative to tcpdump's, per byte)"

# What the capture exercised (from the 1x summary): fresh traffic, not
# retransmissions; and the 10x run saw ten times the same work.
python3 - "$W/events1.json" "$W/events10.json" <<'PY'
import json, sys
for name, path in (("1x", sys.argv[1]), ("10x", sys.argv[2])):
    ev = [json.loads(l) for l in open(path)]
    st = next(e for e in ev if e['kind'] == 'sniff.summary')['stats']
    print(f"{name}: {st['packets']} packets, {st['flows']} flows, {st['s7_pdus']} S7comm PDUs, "
          f"{st['s7plus_pdus']} S7comm-plus PDUs, {st['modbus_adus']} Modbus ADUs, "
          f"{st['retransmits']} retransmissions, {len(ev)} events")
PY

# ---- targets ----
ok=0
verdict() { if [ "$(echo "$2" | bc -l)" = 1 ]; then echo "PASS  $1"; else echo "FAIL  $1"; ok=1; fi; }
echo
if [ -n "${T[tshark]:-}" ]; then
	x=$(echo "${T[tshark]} / ${T[pg_json]}" | bc -l)
	verdict "$(printf 'plcguard --json is %.0fx tshark (target >= 50x)' "$x")" "$x >= 50"
fi
if [ -n "${T[tcpdump]:-}" ]; then
	x=$(echo "${T[pg_json]} / ${T[tcpdump]}" | bc -l)
	verdict "$(printf 'plcguard --json takes %.2fx the time of tcpdump (target <= 3x)' "$x")" "$x <= 3"
fi
x=$(echo "${R[pg_json10]} / ${R[pg_json]}" | bc -l)
verdict "$(printf 'peak RSS at 10x is %.2fx the RSS at 1x (%d / %d MB; target < 1.2x)' "$x" \
	$((R[pg_json10] / 1024)) $((R[pg_json] / 1024)))" "$x < 1.2"
echo "cores: $(nproc); load: $(cut -d' ' -f1-3 /proc/loadavg); $("$PLCGUARD" --version 2>/dev/null | head -1 || true)"
exit $ok
