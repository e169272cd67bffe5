#!/bin/sh
# kernel.sh DEBARCH META DIR: downloads the Debian kernel that the meta
# package META (e.g. linux-image-arm64) points at today, for DEBARCH, and
# unpacks it (never installs it) into DIR: DIR/vmlinuz, DIR/kver and
# DIR/lib/modules/KVER with modules.dep. apt runs with a private state
# directory, so the host's dpkg architecture list is left alone; nothing is
# fetched from anywhere but the Debian archive the host is configured with.
# A DIR that already holds a kernel is kept (remove it to refresh).
set -eu
arch=$1 meta=$2 dir=$3
if [ -s "$dir/kver" ] && [ -f "$dir/vmlinuz" ]; then
	exit 0
fi
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
state="$dir/apt"
mkdir -p "$state/lists/partial" "$state/cache/archives/partial"
A="-qq -oAPT::Architecture=$arch -oAPT::Architectures=$arch -oDir::State::Lists=$state/lists -oDir::Cache=$state/cache -oDir::State::status=/dev/null -oAPT::Sandbox::User=root"
# shellcheck disable=SC2086
apt-get $A update
# The meta package depends on the current ABI's image package
# (linux-image-6.1.0-NN-ARCH); resolve it instead of hard-coding the ABI.
# shellcheck disable=SC2086
pkg=$(apt-cache $A depends "$meta" | awk '/Depends: linux-image-[0-9]/{print $2; exit}')
if [ -z "$pkg" ]; then
	echo "kernel.sh: $meta ($arch) depends on no linux-image-N package" >&2
	exit 1
fi
echo "kernel: $meta ($arch) -> $pkg"
rm -rf "$dir/unpack" && mkdir -p "$dir/unpack"
# shellcheck disable=SC2086
(cd "$state" && apt-get $A download "$pkg")
dpkg-deb -x "$state/${pkg}"_*_"$arch".deb "$dir/unpack"
kver=$(ls "$dir/unpack/lib/modules")
depmod -b "$dir/unpack" "$kver"
cp "$dir/unpack/boot/vmlinu"*"-$kver" "$dir/vmlinuz"
rm -rf "$dir/lib" && mkdir -p "$dir/lib" && mv "$dir/unpack/lib/modules" "$dir/lib/modules"
rm -rf "$dir/unpack" "$state/${pkg}"_*.deb
echo "$pkg" >"$dir/package"
echo "$kver" >"$dir/kver"
echo "kernel: $dir/vmlinuz $kver"
