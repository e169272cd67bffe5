#!/bin/sh
# bench.sh: DOCSIS BPI encryption throughput next to OpenSSL on the same
# machine in the same run. For each suite and size the Go benchmark and
# `openssl speed` run back to back, for several rounds; each column keeps
# its best round, which is the least disturbed by other load on the host.
#
#   Go cipher: the bpi cipher alone on an N-byte region, like for like with
#              `openssl speed -bytes N -evp <alg>`
#   Go frame:  a whole downstream frame from an N-byte Ethernet frame: MAC
#              header, privacy element, CRC-32 and encryption
#
# MB/s are 10^6 bytes/s on both sides. Usage: bpi/bench.sh [rounds]
set -eu
cd "$(dirname "$0")/.."
rounds=${1:-3}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go test -c -o "$tmp/bpi.test" ./bpi/

# ossl alg size [provider args]: MB/s from openssl speed (k = 1000 bytes/s).
# -elapsed: wall-clock time like go test; by default openssl speed counts
# only its own CPU time, which flatters it when the host is busy.
ossl() {
	alg=$1 n=$2
	shift 2
	openssl speed -elapsed -seconds 1 -bytes "$n" -evp "$alg" "$@" 2>/dev/null |
		awk '$1 ~ /CBC/ && $2 ~ /k$/ { sub(/k$/, "", $2); printf "%.1f\n", $2 / 1000 }'
}

# gob bench suite size: "MB/s allocs/op" of one Go benchmark
gob() {
	"$tmp/bpi.test" -test.run '^$' -test.bench "^$1\$/^$2\$/^$3\$" -test.benchmem -test.benchtime 1s -test.cpu 1 |
		awk '/^Benchmark/ { for (i = 1; i <= NF; i++) { if ($(i+1) == "MB/s") mb = $i; if ($(i+1) == "allocs/op") a = $i } }
			END { print mb, a }'
}

max() { awk -v a="$1" -v b="$2" 'BEGIN { print (a + 0 > b + 0) ? a : b }'; }

printf '%-12s %5s | %14s %14s %6s | %14s %6s | %s\n' suite bytes "Go cipher" "OpenSSL" ratio "Go frame" ratio "allocs/op"
for suite in AES-128-CBC DES-56-CBC; do
	case $suite in
	AES-128-CBC) alg=aes-128-cbc prov="" ;;
	*) alg=des-cbc prov="-provider legacy -provider default" ;;
	esac
	for n in 64 512 1500; do
		c=0 f=0 o=0 r=0
		while [ "$r" -lt "$rounds" ]; do
			set -- $(gob BenchmarkCipherEncrypt "$suite" "$n")
			c=$(max "$c" "$1") ca=$2
			# shellcheck disable=SC2086 # prov is a word list
			o=$(max "$o" "$(ossl "$alg" "$n" $prov)")
			set -- $(gob BenchmarkDownstreamFrame "$suite" "$n")
			f=$(max "$f" "$1") fa=$2
			r=$((r + 1))
		done
		awk -v s="$suite" -v n="$n" -v c="$c" -v o="$o" -v f="$f" -v a="$ca / $fa" 'BEGIN {
			printf "%-12s %5d | %9.1f MB/s %9.1f MB/s %5.0f%% | %9.1f MB/s %5.0f%% | %s\n",
				s, n, c, o, 100 * c / o, f, 100 * f / o, a }'
	done
done
echo "best of $rounds rounds; ratio = Go / OpenSSL; allocs/op: cipher / frame; load: $(cut -d' ' -f1-3 /proc/loadavg)"
