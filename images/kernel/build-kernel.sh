#!/usr/bin/env bash
# Builds Kiln's guest kernel from Debian's linux-source package with the fragments kiln.config and
# ARCH.config, once: the result is cached under CACHE_DIR/kiln-kernel/<digest>/, the digest being of
# this script, the fragments, the architecture and the source package's version, so an unchanged
# recipe is never rebuilt.
#   build-kernel.sh [--arch A] CACHE_DIR          prints the path of the cached build's directory on its last line
#   build-kernel.sh [--arch A] --digest           prints the digest only (ImageBuilder folds it into the image's)
#   build-kernel.sh [--arch A] --cached CACHE_DIR exits 0 when this recipe's kernel is built already, else 1
# A is x86_64 (the default) or arm64; arm64 is cross-built with gcc-aarch64-linux-gnu on other hosts.
# The directory holds the kernel QEMU boots, named in kernel.env's KERNEL_IMAGE (x86_64: vmlinux,
# uncompressed and stripped, booted through its PVH entry, faster than decompressing a bzImage under
# emulation; arm64: Image, the uncompressed boot image), config (the full .config) and kernel.env.
# The build runs under `nice -n 10` (other work shares the host) and prints its progress.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source_package=${KILN_LINUX_SOURCE_PACKAGE:-linux-source-6.1}
step() { printf '[kiln kernel] %s\n' "$*" >&2; }
arch=x86_64
if [ "${1:-}" = --arch ]; then
  arch=${2:?usage: build-kernel.sh --arch x86_64|arm64 ...}
  shift 2
fi
case $arch in
  x86_64) kernel_image=vmlinux; cross= ;;
  arm64) kernel_image=Image; cross=aarch64-linux-gnu- ;;
  *) echo "build-kernel.sh: no kernel recipe for architecture $arch (x86_64, arm64)" >&2; exit 2 ;;
esac
# Natively on a host of the same architecture; cross-compiled elsewhere.
[ "$(uname -m)" = "${arch/arm64/aarch64}" ] && cross=

source_version=$(dpkg-query -W -f '${Version}' "$source_package" 2>/dev/null || true)
if [ -z "$source_version" ]; then
  if [ "${1:-}" = --digest ] || [ "${1:-}" = --cached ]; then
    source_version=$(apt-cache policy "$source_package" | awk '/Candidate:/ {print $2}')
  else
    echo "the kernel source package $source_package is not installed: run bin/setup (or apt-get install $source_package)" >&2
    exit 3
  fi
fi
digest=$( { sha256sum "$here/build-kernel.sh" "$here/kiln.config" "$here/$arch.config" | cut -d' ' -f1
  echo "$arch $source_package $source_version"; } \
  | sha256sum | cut -c1-16)
if [ "${1:-}" = --digest ]; then
  echo "$digest"
  exit 0
fi
if [ "${1:-}" = --cached ]; then
  [ -f "${2:?usage: build-kernel.sh [--arch A] --cached CACHE_DIR}/kiln-kernel/$digest/kernel.env" ]
  exit
fi
cache=${1:?usage: build-kernel.sh [--arch A] CACHE_DIR}
if [ -n "$cross" ] && ! command -v "${cross}gcc" >/dev/null; then
  echo "cross-building the $arch kernel needs ${cross}gcc: run bin/setup (or apt-get install gcc-aarch64-linux-gnu)" >&2
  exit 3
fi
kernels=$cache/kiln-kernel
out=$kernels/$digest
if [ -f "$out/kernel.env" ]; then
  step "cached: $out ($source_package $source_version)"
  echo "$out"
  exit 0
fi
mkdir -p "$kernels"
# One build at a time per host: a second `kiln image build` waits for the first's kernel.
exec 9> "$kernels/.lock"
if ! flock -n 9; then
  step "another build of the kernel is running; waiting for it"
  flock 9
fi
if [ -f "$out/kernel.env" ]; then
  echo "$out"
  exit 0
fi

tarball=/usr/src/$source_package.tar.xz
[ -f "$tarball" ] || { echo "$tarball is missing: reinstall $source_package" >&2; exit 3; }
# The unpacked tree and its objects are kept per source version: a changed fragment rebuilds only
# what it changes (minutes, not the full 6-8). Objects are per architecture (x86_64's keep their old name).
src=$kernels/src-$source_version
obj=$kernels/obj-$source_version
[ "$arch" = x86_64 ] || obj=$kernels/obj-$arch-$source_version
if [ ! -f "$src/.kiln-unpacked" ]; then
  step "unpacking $tarball"
  rm -rf "$src"
  mkdir -p "$src"
  tar -xJf "$tarball" -C "$src" --strip-components=1
  touch "$src/.kiln-unpacked"
fi
mkdir -p "$obj"
make_kernel() { nice -n 10 make -C "$src" O="$obj" ARCH="$arch" CROSS_COMPILE="$cross" "$@"; }

fragments=("$here/kiln.config" "$here/$arch.config")
step "configuring $arch: defconfig + kiln.config + $arch.config"
make_kernel -s defconfig >&2
# kvm_guest.config is x86's paravirtual guest (PVH, KVM clock); arm64's virt guest needs nothing of it.
[ "$arch" = x86_64 ] && make_kernel -s kvm_guest.config >&2
ARCH=$arch CROSS_COMPILE=$cross "$src/scripts/kconfig/merge_config.sh" -m -O "$obj" "$obj/.config" "${fragments[@]}" \
  > "$obj/merge.log" 2>&1 || { cat "$obj/merge.log" >&2; exit 4; }
make_kernel -s olddefconfig >&2
# Every line of the fragment must have survived: Kconfig drops an option whose dependencies are
# off without a word.
lost=$(awk -F= '
  FNR == NR { if (/^CONFIG_[A-Z0-9_]+=/) { name = $1; sub(/^[^=]*=/, ""); want[name] = $0 } ; next }
  /^CONFIG_/ { name = $1; sub(/^[^=]*=/, ""); have[name] = $0 }
  END { for (name in want) {
          if (want[name] == "n") { if (name in have) print name "=" have[name] " (wanted n)" }
          else if (!(name in have)) print name " unset (wanted " want[name] ")"
          else if (have[name] != want[name]) print name "=" have[name] " (wanted " want[name] ")"
        } }' <(cat "${fragments[@]}") "$obj/.config")
if [ -n "$lost" ]; then
  echo "kiln.config or $arch.config asks for options the kernel's Kconfig did not keep (a missing dependency or a typo):" >&2
  echo "$lost" >&2
  exit 4
fi

jobs=${KILN_KERNEL_JOBS:-$(nproc)}
step "compiling $source_package $source_version for $arch with -j$jobs (6-8 minutes on 2 cores for x86_64; progress every 30 s)"
# Progress: make prints one line per built object; they are counted and reported every 30 s.
progress() {
  local built=0 last=0 line
  while IFS= read -r line; do
    case $line in
      "  "[A-Z]*) built=$((built + 1)) ;;
      *": error: "*|*"Error "[0-9]*) printf '%s\n' "$line" >&2 ;;
    esac
    if [ $((SECONDS - last)) -ge 30 ]; then
      last=$SECONDS
      step "$built files built, $SECONDS s"
    fi
  done
  step "$built files built"
}
SECONDS=0
target=vmlinux
[ "$arch" = arm64 ] && target=Image
make_kernel -j"$jobs" "$target" 2>&1 | progress
[ "${PIPESTATUS[0]}" = 0 ] || { echo "the kernel build failed (errors above); rerun with KILN_KERNEL_JOBS=1 for readable output" >&2; exit 5; }
release=$(cat "$obj/include/config/kernel.release")
seconds=$SECONDS

tmp=$kernels/.tmp-$digest
rm -rf "$tmp"
mkdir -p "$tmp"
if [ "$arch" = arm64 ]; then
  cp "$obj/arch/arm64/boot/Image" "$tmp/Image"
else
  strip -o "$tmp/vmlinux" "$obj/vmlinux"
fi
cp "$obj/.config" "$tmp/config"
cat > "$tmp/kernel.env" <<ENV
KERNEL_SOURCE=kiln
KERNEL_ARCH=$arch
KERNEL_IMAGE=$kernel_image
KERNEL_VERSION=$release
KERNEL_RECIPE_DIGEST=$digest
KERNEL_SOURCE_PACKAGE=$source_package=$source_version
KERNEL_BUILD_SECONDS=$seconds
ENV
rm -rf "$out"
mv "$tmp" "$out"
step "built $release for $arch in $seconds s: $kernel_image $(du -m "$out/$kernel_image" | cut -f1) MB, cached as $out"
echo "$out"
