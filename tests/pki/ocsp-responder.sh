#!/usr/bin/env bash
# ocsp-responder.sh OUTDIR PORT - start 'openssl ocsp' as the OCSP responder of
# the TEST-ONLY PKI made by mkpki.sh, in the background.  Its pid goes to
# OUTDIR/ocsp.pid, its log to OUTDIR/ocsp.log.  Waits (at most ~10 s) until the
# responder listens; exit status 1 if it never does (the responder is
# then stopped again).  Stop it with: kill "$(cat OUTDIR/ocsp.pid)".
#
# Note: OpenSSL 3.0's 'openssl ocsp -port' takes a bare port number and listens
# on every local address; the certificates point at 127.0.0.1 only.
set -euo pipefail

if [ $# -ne 2 ]; then
	echo "usage: $0 OUTDIR PORT" >&2
	exit 2
fi
out=$1
port=$2
case $port in
'' | *[!0-9]*) echo "$0: PORT must be a number" >&2; exit 2 ;;
esac
for f in index.txt certs/ocsp.pem keys/ocsp.key certs/intermediate.pem; do
	[ -f "$out/$f" ] || { echo "$0: $out/$f missing (run mkpki.sh first)" >&2; exit 2; }
done

# -nmin 10: responses carry a nextUpdate ten minutes ahead.
openssl ocsp -index "$out/index.txt" -port "$port" \
	-rsigner "$out/certs/ocsp.pem" -rkey "$out/keys/ocsp.key" \
	-CA "$out/certs/intermediate.pem" -nmin 10 \
	</dev/null >"$out/ocsp.log" 2>&1 &
pid=$!
echo "$pid" >"$out/ocsp.pid"

for _ in $(seq 1 100); do
	if ! kill -0 "$pid" 2>/dev/null; then
		echo "$0: openssl ocsp exited early:" >&2
		cat "$out/ocsp.log" >&2
		exit 1
	fi
	# Not a bare TCP probe: OpenSSL 3.0's responder spins on a connection
	# closed without a request.  It prints ACCEPT once it is listening.
	if grep -q '^ACCEPT' "$out/ocsp.log" 2>/dev/null; then
		exit 0
	fi
	sleep 0.1
done
echo "$0: responder did not accept connections on port $port" >&2
kill "$pid" 2>/dev/null || true
exit 1
