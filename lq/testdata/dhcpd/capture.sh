#!/bin/sh
# Capture golden leasequery replies from Debian 12's ISC dhcpd 4.4.3-P1.
# Run as root from the module root:  sh lq/testdata/dhcpd/capture.sh
# Two network namespaces joined by a veth pair: dhcpd serves 10.99.0.1 from
# a hand-written lease file; the capture program queries it from 10.99.0.2
# (the giaddr) and writes each reply to lq/testdata/dhcpd/NAME.bin.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
tag=lqcap$$
srv=$tag-s cli=$tag-c
work=$(mktemp -d)
cleanup() {
	[ -f "$work/dhcpd.pid" ] && kill "$(cat "$work/dhcpd.pid")" 2>/dev/null || true
	ip netns del "$srv" 2>/dev/null || true
	ip netns del "$cli" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT INT TERM

go build -o "$work/capture" ./lq/testdata/capture

ip netns add "$srv"
ip netns add "$cli"
ip link add "${tag}a" netns "$srv" type veth peer name "${tag}b" netns "$cli"
ip -n "$srv" addr add 10.99.0.1/24 dev "${tag}a"
ip -n "$cli" addr add 10.99.0.2/24 dev "${tag}b"
for ns in "$srv" "$cli"; do ip -n "$ns" link set lo up; done
ip -n "$srv" link set "${tag}a" up
ip -n "$cli" link set "${tag}b" up

# Lease times relative to now, in dhcpd's epoch form.
now=$(date +%s)
sed -e "s/@START@/$((now - 600))/g" -e "s/@END@/$((now + 3000))/g" \
	-e "s/@CLTT@/$((now - 600))/g" -e "s/@CLTT2@/$((now - 1200))/g" \
	"$here/dhcpd.leases.in" >"$work/dhcpd.leases"
cp "$here/dhcpd.conf" "$work/dhcpd.conf"

ip netns exec "$srv" dhcpd -4 -f -d -cf "$work/dhcpd.conf" -lf "$work/dhcpd.leases" \
	-pf "$work/dhcpd.pid" "${tag}a" >"$work/dhcpd.log" 2>&1 &
i=0
until grep -q "Server starting service" "$work/dhcpd.log"; do
	i=$((i + 1))
	[ $i -le 100 ] || { cat "$work/dhcpd.log"; exit 1; }
	sleep 0.1
done

ip netns exec "$cli" "$work/capture" -out "$here" -server 10.99.0.1 -giaddr 10.99.0.2
grep -i "leasequery\|LEASE" "$work/dhcpd.log" || true
