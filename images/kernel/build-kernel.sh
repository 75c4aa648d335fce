#!/usr/bin/env bash
# Builds Kiln's guest kernel from Debian's linux-source package with the fragment kiln.config, once:
# the result is cached under CACHE_DIR/kiln-kernel/<digest>/, the digest being of this script, the
# fragment and the source package's version, so an unchanged recipe is never rebuilt.
#   build-kernel.sh CACHE_DIR          prints the path of the cached build's directory on its last line
#   build-kernel.sh --digest           prints the digest only (ImageBuilder folds it into the image's)
#   build-kernel.sh --cached CACHE_DIR exits 0 when this recipe's kernel is built already, else 1
# The directory holds vmlinux (uncompressed, stripped: QEMU boots it through its PVH entry, faster
# than decompressing a bzImage under emulation), config (the full .config) and kernel.env.
# The build runs under `nice -n 10` (other work shares the host) and prints its progress.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source_package=${KILN_LINUX_SOURCE_PACKAGE:-linux-source-6.1}
step() { printf '[kiln kernel] %s\n' "$*" >&2; }

source_version=$(dpkg-query -W -f '${Version}' "$source_package" 2>/dev/null || true)
if [ -z "$source_version" ]; then
  if [ "${1:-}" = --digest ] || [ "${1:-}" = --cached ]; then
    source_version=$(apt-cache policy "$source_package" | awk '/Candidate:/ {print $2}')
  else
    echo "the kernel source package $source_package is not installed: run bin/setup (or apt-get install $source_package)" >&2
    exit 3
  fi
fi
digest=$( { sha256sum "$here/build-kernel.sh" "$here/kiln.config" | cut -d' ' -f1; echo "$source_package $source_version"; } \
  | sha256sum | cut -c1-16)
if [ "${1:-}" = --digest ]; then
  echo "$digest"
  exit 0
fi
if [ "${1:-}" = --cached ]; then
  [ -f "${2:?usage: build-kernel.sh --cached CACHE_DIR}/kiln-kernel/$digest/kernel.env" ]
  exit
fi
cache=${1:?usage: build-kernel.sh CACHE_DIR}
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
# what it changes (minutes, not the full 6-8).
src=$kernels/src-$source_version
obj=$kernels/obj-$source_version
if [ ! -f "$src/.kiln-unpacked" ]; then
  step "unpacking $tarball"
  rm -rf "$src"
  mkdir -p "$src"
  tar -xJf "$tarball" -C "$src" --strip-components=1
  touch "$src/.kiln-unpacked"
fi
mkdir -p "$obj"
make_kernel() { nice -n 10 make -C "$src" O="$obj" ARCH=x86_64 "$@"; }

step "configuring: defconfig + kvm_guest.config + $(basename "$here")/kiln.config"
make_kernel -s defconfig >&2
make_kernel -s kvm_guest.config >&2
"$src/scripts/kconfig/merge_config.sh" -m -O "$obj" "$obj/.config" "$here/kiln.config" > "$obj/merge.log" 2>&1 \
  || { cat "$obj/merge.log" >&2; exit 4; }
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
        } }' "$here/kiln.config" "$obj/.config")
if [ -n "$lost" ]; then
  echo "kiln.config asks for options the kernel's Kconfig did not keep (a missing dependency or a typo):" >&2
  echo "$lost" >&2
  exit 4
fi

jobs=${KILN_KERNEL_JOBS:-$(nproc)}
step "compiling $source_package $source_version with -j$jobs (6-8 minutes on 2 cores; progress every 30 s)"
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
make_kernel -j"$jobs" vmlinux 2>&1 | progress
[ "${PIPESTATUS[0]}" = 0 ] || { echo "the kernel build failed (errors above); rerun with KILN_KERNEL_JOBS=1 for readable output" >&2; exit 5; }
release=$(cat "$obj/include/config/kernel.release")
seconds=$SECONDS

tmp=$kernels/.tmp-$digest
rm -rf "$tmp"
mkdir -p "$tmp"
strip -o "$tmp/vmlinux" "$obj/vmlinux"
cp "$obj/.config" "$tmp/config"
cat > "$tmp/kernel.env" <<ENV
KERNEL_SOURCE=kiln
KERNEL_VERSION=$release
KERNEL_RECIPE_DIGEST=$digest
KERNEL_SOURCE_PACKAGE=$source_package=$source_version
KERNEL_BUILD_SECONDS=$seconds
ENV
rm -rf "$out"
mv "$tmp" "$out"
step "built $release in $seconds s: vmlinux $(du -m "$out/vmlinux" | cut -f1) MB, cached as $out"
echo "$out"
