#!/bin/sh
# bench.sh: DOCSIS BPI encryption throughput next to OpenSSL on the same
# machine in the same run. For each suite and size the Go benchmarks and
# `openssl speed` run back to back, for several rounds, and each figure
# keeps its best round.
#
#   cipher: the bpi cipher alone on an N-byte region, compared with
#           `openssl speed -bytes N -evp <alg>`; every call starts from the
#           same IV, as frames do, so short regions' chains may overlap
#   chain:  the same with one chain continued across calls (each IV the
#           previous last ciphertext block), like for like with openssl
#           speed, whose context carries the IV from call to call
#   frame:  a whole downstream frame from an N-byte Ethernet frame: MAC
#           header, privacy element, CRC-32 and encryption
#   pair:   the cipher on two N-byte regions at once, their CBC chains
#           interleaved (EncryptPair, what Encoder.SendPair does when two
#           frames are waiting); bytes of both counted
#   fpair:  two whole frames at once (Encoder.SendPair's frame path)
#
# Two bases, both in 10^6 bytes per second:
#   cpu:  per second of the process's user CPU time. This is what openssl
#         speed reports by default, and it stays comparable when other work
#         shares the host.
#   wall: per second of elapsed time (go test's MB/s, openssl -elapsed);
#         only meaningful on an idle host.
# Usage: bpi/bench.sh [rounds]
set -eu
cd "$(dirname "$0")/.."
rounds=${1:-3}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go test -c -o "$tmp/bpi.test" ./bpi/

# ossl [-elapsed] alg size [provider args]: MB/s from openssl speed
# (its figures are in k = 1000 bytes/s)
ossl() {
	el=""
	if [ "$1" = -elapsed ]; then el=-elapsed; shift; fi
	alg=$1 n=$2
	shift 2
	openssl speed $el -seconds 1 -bytes "$n" -evp "$alg" "$@" 2>/dev/null |
		awk '$1 ~ /CBC/ && $2 ~ /k$/ { sub(/k$/, "", $2); printf "%.1f\n", $2 / 1000 }'
}

# gob bench suite size: "wallMB/s cpuMB/s allocs/op" of one Go benchmark
gob() {
	"$tmp/bpi.test" -test.run '^$' -test.bench "^$1\$/^$2\$/^$3\$" -test.benchmem -test.benchtime 1s -test.cpu 1 |
		awk '/^Benchmark/ { for (i = 1; i <= NF; i++) {
				if ($(i+1) == "MB/s") w = $i; if ($(i+1) == "MB/cpu-s") c = $i; if ($(i+1) == "allocs/op") a = $i } }
			END { print w, c, a }'
}

max() { awk -v a="$1" -v b="$2" 'BEGIN { print (a + 0 > b + 0) ? a : b }'; }

printf '%-11s %5s | %-76s | %-34s | %s\n' "" "" "cpu basis (MB per CPU-second)" "wall basis (MB/s, idle host only)" ""
printf '%-11s %5s | %7s %7s %7s %7s %7s %7s %5s %5s %5s %5s %5s | %7s %7s %7s %5s %5s | %s\n' suite bytes \
	cipher chain frame pair fpair openssl c/o ch/o f/o p/o fp/o cipher frame openssl c/o f/o allocs
for suite in AES-128-CBC DES-56-CBC; do
	case $suite in
	AES-128-CBC) alg=aes-128-cbc prov="" ;;
	*) alg=des-cbc prov="-provider legacy -provider default" ;;
	esac
	for n in 64 512 1500; do
		cw=0 cc=0 hc=0 fw=0 fc=0 pc=0 qc=0 oc=0 ow=0 r=0
		while [ "$r" -lt "$rounds" ]; do
			set -- $(gob BenchmarkCipherEncrypt "$suite" "$n")
			cw=$(max "$cw" "$1") cc=$(max "$cc" "$2") ca=$3
			set -- $(gob BenchmarkCipherEncryptChained "$suite" "$n")
			hc=$(max "$hc" "$2")
			# shellcheck disable=SC2086 # prov is a word list
			oc=$(max "$oc" "$(ossl "$alg" "$n" $prov)")
			set -- $(gob BenchmarkCipherEncryptPair "$suite" "$n")
			pc=$(max "$pc" "$2") pa=$3
			set -- $(gob BenchmarkDownstreamFrame "$suite" "$n")
			fw=$(max "$fw" "$1") fc=$(max "$fc" "$2") fa=$3
			set -- $(gob BenchmarkDownstreamFramePair "$suite" "$n")
			qc=$(max "$qc" "$2") qa=$3
			# shellcheck disable=SC2086
			ow=$(max "$ow" "$(ossl -elapsed "$alg" "$n" $prov)")
			r=$((r + 1))
		done
		awk -v s="$suite" -v n="$n" -v cw="$cw" -v cc="$cc" -v hc="$hc" -v fw="$fw" -v fc="$fc" -v pc="$pc" -v qc="$qc" -v oc="$oc" -v ow="$ow" \
			-v a="$ca/$fa/$pa/$qa" 'BEGIN {
			printf "%-11s %5d | %7.1f %7.1f %7.1f %7.1f %7.1f %7.1f %4.0f%% %4.0f%% %4.0f%% %4.0f%% %4.0f%% | %7.1f %7.1f %7.1f %4.0f%% %4.0f%% | %s\n",
				s, n, cc, hc, fc, pc, qc, oc, 100 * cc / oc, 100 * hc / oc, 100 * fc / oc, 100 * pc / oc, 100 * qc / oc, cw, fw, ow, 100 * cw / ow, 100 * fw / ow, a }'
	done
done
echo "best of $rounds rounds; c/o, ch/o, f/o, p/o, fp/o = Go cipher, chained cipher, frame, pair, frame pair / OpenSSL (single stream); allocs/op: cipher/frame/pair/fpair; load average: $(cut -d' ' -f1-3 /proc/loadavg)"
