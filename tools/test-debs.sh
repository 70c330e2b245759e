#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Builds the .deb packages (cpack -G DEB), installs them with apt in a fresh
# Debian 12 (bookworm) chroot made by debootstrap (so their dependencies
# resolve from the archive), and checks there: onnxgrad --version,
# pkg-config --modversion onnxgrad, a CMake project with find_package(onnxgrad)
# building the installed examples, the man pages, the bash completion and,
# when python3-onnxgrad was built, `import onnxgrad`.
# Needs root (debootstrap, chroot). The base chroot (with cmake and gcc) is
# cached as build/debian12-base.tar.gz, so reruns skip debootstrap.
# usage: tools/test-debs.sh [BUILD_DIR]   (default: build)
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
build=$(realpath -m "${1:-$src/build}")
start=$(date +%s)
[ "$(id -u)" -eq 0 ] || { echo "test-debs: needs root (debootstrap, chroot)" >&2; exit 1; }
command -v debootstrap >/dev/null || {
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap; }
# The machine's configured Debian mirror.
mirror=$(grep -hoE '(URIs:|deb) +https?://[^ ]+/debian/?( |$)' /etc/apt/sources.list /etc/apt/sources.list.d/* 2>/dev/null \
         | grep -oE 'https?://[^ ]+' | head -n1 || true)
mirror=${mirror:-http://deb.debian.org/debian}
echo "test-debs: mirror $mirror"

[ -f "$build/CMakeCache.txt" ] || cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build "$build" -j2 >/dev/null
rm -f "$build"/*.deb
(cd "$build" && cpack -G DEB >/dev/null 2>&1)
debs=("$build"/*.deb)
echo "test-debs: built ${debs[*]##*/}"

root="$build/debian12-chroot"
tarball="$build/debian12-base.tar.gz"
cleanup() {
    for m in proc dev/pts dev; do mountpoint -q "$root/$m" 2>/dev/null && umount -l "$root/$m"; done
    return 0
}
trap cleanup EXIT
cleanup
rm -rf "$root"; mkdir -p "$root"
if [ -f "$tarball" ]; then
    tar -C "$root" -xzf "$tarball"
    echo "test-debs: base chroot from $tarball"
else
    debootstrap --variant=minbase --include=cmake,gcc,libc6-dev,make,pkg-config,ca-certificates \
        bookworm "$root" "$mirror" >"$build/debootstrap.log" 2>&1 \
        || { tail -20 "$build/debootstrap.log"; exit 1; }
    tar -C "$root" -czf "$tarball" .
    echo "test-debs: debootstrap done, cached in $tarball"
fi
echo "deb $mirror bookworm main" > "$root/etc/apt/sources.list"
cp /etc/resolv.conf "$root/etc/resolv.conf" 2>/dev/null || true
mount -t proc proc "$root/proc"
mount --bind /dev "$root/dev"
mkdir -p "$root/tmp/debs"; cp "${debs[@]}" "$root/tmp/debs/"
in_root() { chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 "$@"; }
in_root apt-get update -qq
in_root env DEBIAN_FRONTEND=noninteractive sh -c "apt-get install -y -qq --no-install-recommends /tmp/debs/*.deb" \
    >"$build/test-debs-apt.log" 2>&1 || { tail -20 "$build/test-debs-apt.log"; exit 1; }
echo "test-debs: installed with apt: $(in_root dpkg-query -W -f='${Package}=${Version} ' 'libonnxgrad*' 'onnxgrad*' 'python3-onnxgrad' 2>/dev/null)"

fail=0
step() { local what=$1; shift; if out=$("$@" 2>&1); then echo "ok: $what: $(tail -n1 <<<"$out")"; else echo "FAIL: $what"; echo "$out" | tail -20; fail=1; fi; }
step "onnxgrad --version" in_root onnxgrad --version
step "pkg-config --modversion onnxgrad" in_root pkg-config --modversion onnxgrad
cat > "$root/tmp/fp.sh" <<'SH'
set -e
rm -rf /tmp/fp && mkdir -p /tmp/fp && cd /tmp/fp
cp /usr/share/doc/libonnxgrad-dev/examples/*.c .
cat > CMakeLists.txt <<'CM'
cmake_minimum_required(VERSION 3.25)
project(examples C)
find_package(onnxgrad REQUIRED)
foreach(ex lenet train_lenet)
  add_executable(${ex} ${ex}.c)
  target_link_libraries(${ex} PRIVATE onnxgrad::onnxgrad m)
endforeach()
CM
cmake -S . -B b >/dev/null && cmake --build b >/dev/null
ldd b/lenet | grep -qE 'libonnxgrad.so.0 => /(usr/)?lib/libonnxgrad' && echo "examples built with find_package(onnxgrad), linked to the packaged libonnxgrad.so.0"
SH
step "find_package(onnxgrad) builds the examples" in_root sh /tmp/fp.sh
if in_root sh -c 'command -v man' >/dev/null 2>&1; then
    step "man onnxgrad-run" in_root sh -c 'man onnxgrad-run | grep -m1 onnxgrad-run'
else
    # No man program in the minimal chroot: a page for every command of 'onnxgrad --help'.
    cat > "$root/tmp/man.sh" <<'SH'
set -e
ls /usr/share/man/man1/onnxgrad.1* >/dev/null
n=0
for c in $(onnxgrad --help | awk '/^commands:/{on=1;next} on&&/^[^ ]/{on=0} on&&/^  [a-z]/{print $1}'); do
    [ "$c" = help ] && continue
    ls /usr/share/man/man1/onnxgrad-"$c".1* >/dev/null 2>&1 || { echo "no man page onnxgrad-$c(1)"; exit 1; }
    n=$((n + 1))
done
echo "onnxgrad(1) and a page for each of the $n commands"
SH
    step "man pages installed" in_root sh /tmp/man.sh
fi
# The installed completion, sourced by bash, completes "onnxgrad tr" to train.
step "bash completion completes 'onnxgrad tr'" in_root bash -c \
    '. /usr/share/bash-completion/completions/onnxgrad && COMP_WORDS=(onnxgrad tr) COMP_CWORD=1 && _onnxgrad &&
     [ "${COMPREPLY[*]}" = train ] && echo "onnxgrad tr -> ${COMPREPLY[*]}"'
step "LICENSE in the -dev docs" in_root sh -c 'grep -m1 "MIT License" /usr/share/doc/libonnxgrad-dev/LICENSE'
if ls "$build"/python3-onnxgrad_*.deb >/dev/null 2>&1; then
    step "python3 -c 'import onnxgrad'" in_root python3 -c 'import onnxgrad; print("import onnxgrad:", onnxgrad.__file__)'
else
    echo "skip: python3-onnxgrad not built (no python/onnxgrad)"
fi
echo "test-debs: $([ $fail = 0 ] && echo PASS || echo FAIL) in $(( $(date +%s) - start )) s"
exit $fail
