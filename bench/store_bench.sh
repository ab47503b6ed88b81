#!/usr/bin/env bash
# store_bench.sh [PLCGUARD] [N] [OLD_PLCGUARD] - cost of a large baseline
# store (issue 10).  Makes a store of N signed baselines (default 10,000):
# the sample S7 project registered once (target 10.10.1.10 rack 0 slot 2,
# the PLC of samples/captures/s7_download.pcap), then N-1 more made
# in-process by pg-mkstore (next to PLCGUARD): 9 older versions of that
# project and the rest spread over 1,000 other projects whose blocks have
# the same ids but other logic (so every OB1 in the store is a candidate for
# the OB1 on the wire).  Then times, median of RUNS (default 5) runs each:
#   verify PATH          of the sample project (the first call, which writes
#                        the store index, is shown on its own)
#   sniff start-up       sniff --store on the tiny s7_download.pcap (72
#                        packets, 4 transfers): start-up plus 4 transfers
#   sniff --check-store  every entry checked at start-up
#   per transfer         sniff of the same download repeated (bench/
#                        pcap_repeat.py) against the large store and against
#                        a store holding the sample project alone
# and the same with an empty store (what any run of the binary costs on this
# machine), and, when OLD_PLCGUARD is given (a build without the index, e.g.
# of main), the old figures, with a check that both say the same (verify's
# output byte for byte, sniff's events but for stats.baselines).
# Wall times include waiting for a core on a shared machine; CPU is user+sys.
# Targets: verify < 50 ms, sniff start-up < 1 s with 10,000 baselines.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
PLCGUARD=$(readlink -f "${1:-$here/../build/plcguard}")
N=${2:-10000}
OLD=${3:-}
RUNS=${RUNS:-5}
MKSTORE=$(dirname "$PLCGUARD")/pg-mkstore
CAP=$here/../samples/captures/s7_download.pcap
[ -x "$PLCGUARD" ] || { echo "store_bench: no plcguard at $PLCGUARD" >&2; exit 2; }
[ -x "$MKSTORE" ] || { echo "store_bench: no pg-mkstore next to it (cmake --build build)" >&2; exit 2; }
[ -x /usr/bin/time ] || { echo "store_bench: /usr/bin/time is missing: apt-get install time" >&2; exit 2; }
[ -z "$OLD" ] || OLD=$(readlink -f "$OLD")
W=$(mktemp -d "${TMPDIR:-/tmp}/pg-storebench.XXXXXX")
trap 'rm -rf "$W"' EXIT

bash "$here/../tests/pki/mkpki.sh" "$W/pki" >/dev/null 2>&1
TRUST="--trust $W/pki/trust --crl $W/pki/crl"
mkdir -p "$W/p" "$W/empty"
cp -r "$here/../samples/projects/s7_blocks" "$W/p/"
P=$W/p/s7_blocks
export PLCGUARD_STORE=$W/one
"$PLCGUARD" register --key "$W/pki/keys/engineer.key" --cert "$W/pki/certs/engineer.pem" \
	--chain "$W/pki/chain.pem" --target 10.10.1.10,rack=0,slot=2 --ticket CHG-BENCH "$P" >/dev/null
mkdir -p "$W/store"
cp -r "$W/one"/s7_blocks-* "$W/store/"
echo "making a store of $N baselines ..."
t0=$EPOCHREALTIME
"$MKSTORE" --key "$W/pki/keys/engineer.key" --cert "$W/pki/certs/engineer.pem" \
	--chain "$W/pki/chain.pem" --from "$(ls -d "$W/one"/s7_blocks-*)" --store "$W/store" \
	--count $((N - 1)) --history 9 --versions 10
echo "  $(ls "$W/store" | wc -l) entries, $(du -sm "$W/store" | cut -f1) MB, made in $(echo "$EPOCHREALTIME - $t0" | bc | xargs printf '%.1f') s"
python3 "$here/pcap_repeat.py" "$CAP" "$W/rep.pcap" 1 >/dev/null
REP_XFERS=$("$PLCGUARD" sniff --json --no-baselines -r "$W/rep.pcap" | grep -c '"kind":"s7.block.download"' || true)
cat "$W"/store/*/manifest.* >/dev/null # warm the page cache

# one CMD...: "wall_ms cpu_ms" of one run (stdout to $W/last.out); the wall
# clock from bash (microseconds), CPU from time(1) (10 ms steps)
one() {
	local t0=$EPOCHREALTIME t1
	/usr/bin/time -f "%U %S" -o "$W/time" "$@" >"$W/last.out" 2>"$W/last.err" || true
	t1=$EPOCHREALTIME
	tail -1 "$W/time" | awk -v w="$(echo "$t1 - $t0" | bc)" '{ printf "%.0f %.0f\n", w * 1000, ($1 + $2) * 1000 }'
}
# med CMD...: "wall_ms cpu_ms", median of RUNS runs (by wall time)
med() {
	for _ in $(seq "$RUNS"); do one "$@"; done | sort -n | awk '{ w[NR] = $1; c[NR] = $2 }
		END { m = int((NR + 1) / 2); print w[m], c[m] }'
}
row() { printf '%-44s %9s %9s\n' "$1" "$2" "$3"; }
show() { local r; r=$(cat); row "$1" "${r% *}" "${r#* }"; }

V() { echo "$1" verify $TRUST --store "$2" "$P"; }
S() { echo "$1" sniff --json $TRUST --store "$2" -r "$3"; }

echo
row "plcguard $(basename "$(dirname "$PLCGUARD")") ($N baselines)" "wall ms" "CPU ms"
rm -f "$W/store/.index"
one $(V "$PLCGUARD" "$W/store") | show "verify PATH, first call (writes the index)"
med $(V "$PLCGUARD" "$W/store") | show "verify PATH"
cp "$W/last.out" "$W/verify.new"
med $(S "$PLCGUARD" "$W/store" "$CAP") | show "sniff start-up (s7_download.pcap)"
cp "$W/last.out" "$W/sniff.new"
one $(S "$PLCGUARD" "$W/store" "$CAP") --check-store | show "sniff --check-store (every entry checked)"
one $(S "$PLCGUARD" "$W/store" "$W/rep.pcap") >/dev/null # warm-up
big=$(med $(S "$PLCGUARD" "$W/store" "$W/rep.pcap"))
big0=$(med $(S "$PLCGUARD" "$W/store" "$CAP"))
small=$(med $(S "$PLCGUARD" "$W/one" "$W/rep.pcap"))
small0=$(med $(S "$PLCGUARD" "$W/one" "$CAP"))
row "sniff $REP_XFERS transfers, $N baselines" "${big% *}" "${big#* }"
row "sniff $REP_XFERS transfers, 1 baseline" "${small% *}" "${small#* }"
# (large store: long capture - tiny one) - (small store: the same), per transfer
per() { echo "(($1 - $2) - ($3 - $4)) / ($REP_XFERS - 4)" | bc -l | xargs printf '%.3f'; }
row "  per transfer, from the store's size" "$(per "${big% *}" "${big0% *}" "${small% *}" "${small0% *}")" \
	"$(per "${big#* }" "${big0#* }" "${small#* }" "${small0#* }")"
med $(V "$PLCGUARD" "$W/empty") | show "verify PATH, empty store (the floor)"
med $(S "$PLCGUARD" "$W/empty" "$CAP") | show "sniff start-up, empty store (the floor)"

if [ -n "$OLD" ]; then
	echo
	row "old: $OLD" "wall ms" "CPU ms"
	one $(V "$OLD" "$W/store") | show "verify PATH"
	cp "$W/last.out" "$W/verify.old"
	one $(S "$OLD" "$W/store" "$CAP") | show "sniff start-up (s7_download.pcap)"
	cp "$W/last.out" "$W/sniff.old"
	norm() { python3 -c '
import json, sys
for l in open(sys.argv[1]):
    e = json.loads(l)
    e.get("stats", {}).pop("baselines", None)
    print(json.dumps(e, sort_keys=True))' "$1"; }
	cmp -s "$W/verify.old" "$W/verify.new" && echo "verify: same output as the old build" ||
		{ echo "verify: OUTPUT DIFFERS from the old build"; diff "$W/verify.old" "$W/verify.new" | head; }
	cmp -s <(norm "$W/sniff.old") <(norm "$W/sniff.new") && echo "sniff: same events as the old build (stats.baselines aside)" ||
		{ echo "sniff: EVENTS DIFFER from the old build"; diff <(norm "$W/sniff.old") <(norm "$W/sniff.new") | head; }
fi
echo
echo "cores: $(nproc); load: $(cut -d' ' -f1-3 /proc/loadavg); $(openssl version)"
