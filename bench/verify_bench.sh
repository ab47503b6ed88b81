#!/usr/bin/env bash
# verify_bench.sh [PLCGUARD] [FILES] [MB_PER_FILE] - throughput of
# `plcguard verify` on a tree of FILES files of MB_PER_FILE MB (default
# 1000 x 2 MB = 2 GB), against, in the same run and on the same files:
#   openssl dgst -sha256   the hashing floor on this machine (one core)
#   aide --check           the file-integrity checker plants use today
# Everything is read from the page cache (a warm-up pass runs first), so the
# figures compare CPU work, not the disk.  Prints a table of GB/s and ratios.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
PLCGUARD=$(readlink -f "${1:-$here/../build/plcguard}")
N=${2:-1000}
MB=${3:-2}
W=$(mktemp -d "${TMPDIR:-/tmp}/pg-bench.XXXXXX")
trap 'rm -rf "$W"' EXIT
data=$W/data
mkdir -p "$data"
echo "making $N files of $MB MB in $data ..."
head -c $((MB * 1024 * 1024)) /dev/urandom >"$W/seed"
for i in $(seq 1 "$N"); do
	d=$data/dir$((i % 20))
	mkdir -p "$d"
	# distinct content per file: seed with a changed prefix
	{ printf '%08d' "$i"; tail -c +9 "$W/seed"; } >"$d/file$i.bin"
done
total=$(du -sb "$data" | cut -f1)
bash "$here/../tests/pki/mkpki.sh" "$W/pki" >/dev/null
export PLCGUARD_STORE=$W/store
"$PLCGUARD" register --key "$W/pki/keys/engineer.key" --cert "$W/pki/certs/engineer.pem" \
	--chain "$W/pki/chain.pem" "$data" >/dev/null
cat "$data"/*/* >/dev/null # warm the page cache

t() { # seconds for a command, best of 3
	local best=999999
	for _ in 1 2 3; do
		local s e
		s=$(date +%s.%N)
		"$@" >/dev/null 2>&1 || { echo "command failed: $*" >&2; return 1; }
		e=$(date +%s.%N)
		best=$(echo "$e - $s" | bc -l | awk -v b="$best" '{print ($1 < b) ? $1 : b}')
	done
	echo "$best"
}
ossl() { find "$data" -type f -print0 | xargs -0 openssl dgst -sha256 >/dev/null; }
t_ossl=$(t ossl)
t_pg1=$(t "$PLCGUARD" verify --trust "$W/pki/trust" --crl "$W/pki/crl" --jobs 1 "$data")
t_pg2=$(t "$PLCGUARD" verify --trust "$W/pki/trust" --crl "$W/pki/crl" --jobs 2 "$data")
t_aide=
if command -v aide >/dev/null; then
	cat >"$W/aide.conf" <<CONF
database_in=file:$W/aide.db
database_out=file:$W/aide.db.new
gzip_dbout=no
report_url=stdout
Rule = p+i+n+u+g+s+m+c+sha256
$data Rule
CONF
	aide --init --config="$W/aide.conf" >/dev/null 2>&1 || true
	mv "$W/aide.db.new" "$W/aide.db"
	aide_check() { aide --check --config="$W/aide.conf" >/dev/null 2>&1 || [ $? -lt 8 ]; }
	t_aide=$(t aide_check)
fi
gbs() { echo "$total / $1 / 1000000000" | bc -l | xargs printf '%.2f'; }
printf '\n%-34s %8s %8s %s\n' "tool ($N x $MB MB, $(echo "$total/1000000000" | bc -l | xargs printf '%.2f') GB)" "seconds" "GB/s" "vs openssl"
row() { printf '%-34s %8.2f %8s %6.2fx\n' "$1" "$2" "$(gbs "$2")" "$(echo "$t_ossl / $2" | bc -l)"; }
row "openssl dgst -sha256 (1 core)" "$t_ossl"
row "plcguard verify --jobs 1" "$t_pg1"
row "plcguard verify --jobs 2" "$t_pg2"
[ -n "$t_aide" ] && row "aide --check" "$t_aide"
echo
echo "cores: $(nproc); $(openssl version)"
