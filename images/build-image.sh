#!/usr/bin/env bash
# Builds one Kiln guest image from Debian's packages only.
#   build-image.sh RECIPE OUT_DIR CACHE_DIR
# RECIPE is a folder under images/ holding recipe.env (what to install) and optionally customize.sh
# (run with the root filesystem's path). KILN_KERNEL picks the kernel: kiln (the default: built from
# images/kernel/ once and cached, everything built in, no initrd, no modules) or debian-cloud (the
# fallback: Debian's cloud kernel, its modules in the root and an initrd that loads the ones needed
# to reach it). KILN_ARCH picks the guest's architecture: x86_64 (the default) or arm64, whose packages
# debootstrap fetches and configures under qemu-user-static's binfmt handler on another host (natively
# on an arm64 one); arm64 images boot Kiln's kernel, cross-built (images/kernel/arm64.config).
# OUT_DIR receives vmlinuz, rootfs.ext4, initrd.img (debian-cloud only) and image.env;
# kiln-vm's ImageBuilder digests them and moves them into the store only when this script has
# succeeded, so a half-built image is never used.
set -euo pipefail
recipe_dir=$(cd "$(dirname "$0")" && pwd)/$1
out=$2
cache=$3
here=$(cd "$(dirname "$0")" && pwd)
step() { printf '[kiln image build] %s\n' "$*"; }
[ -f "$recipe_dir/recipe.env" ] || { echo "no recipe at $recipe_dir/recipe.env" >&2; exit 2; }
# shellcheck source=/dev/null
. "$recipe_dir/recipe.env"
: "${SUITE:?recipe.env must set SUITE}" "${PACKAGES:?recipe.env must set PACKAGES}"
MIRROR=${KILN_DEBIAN_MIRROR:-$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)}
MIRROR=${MIRROR:-http://deb.debian.org/debian}

mkdir -p "$out" "$cache/debs" "$cache/kernel"
work=$(mktemp -d "$out/.work.XXXXXX")
cleanup() { rm -rf "$work"; }
trap cleanup EXIT

kernel=${KILN_KERNEL:-kiln}
arch=${KILN_ARCH:-x86_64}
case $arch in
  x86_64) debian_arch=amd64 ;;
  arm64) debian_arch=arm64 ;;
  *) echo "KILN_ARCH=$arch: the architectures are x86_64 and arm64" >&2; exit 2 ;;
esac
case $kernel in
  kiln|debian-cloud) ;;
  *) echo "KILN_KERNEL=$kernel: the kernels are kiln and debian-cloud" >&2; exit 2 ;;
esac
if [ "$arch" != x86_64 ] && [ "$kernel" != kiln ]; then
  echo "--kernel $kernel: $arch images boot Kiln's kernel only (Debian's cloud kernel is the x86_64 fallback)" >&2
  exit 2
fi
if [ "$(dpkg --print-architecture)" != "$debian_arch" ]; then
  # Foreign packages' maintainer scripts run in the chroot through qemu-user-static's binfmt handler.
  handler=/proc/sys/fs/binfmt_misc/qemu-${arch/arm64/aarch64}
  if [ ! -e "$handler" ]; then
    [ -e /proc/sys/fs/binfmt_misc/register ] || mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc 2>/dev/null || true
    update-binfmts --enable "qemu-${arch/arm64/aarch64}" >/dev/null 2>&1 || true
  fi
  [ -e "$handler" ] || { echo "building an $arch image on a $(dpkg --print-architecture) host needs qemu-user-static's binfmt handler ($handler): run bin/setup (or apt-get install qemu-user-static binfmt-support)" >&2; exit 3; }
fi

step "root filesystem: debootstrap $SUITE ($VARIANT, $debian_arch) with $PACKAGES"
debootstrap --arch="$debian_arch" --variant="$VARIANT" --include="$PACKAGES" --cache-dir="$cache/debs" \
  "$SUITE" "$work/rootfs" "$MIRROR" > "$work/debootstrap.log" 2>&1 \
  || { tail -20 "$work/debootstrap.log" >&2; echo "debootstrap failed (log above)" >&2; exit 4; }
rootfs=$work/rootfs

# Security updates: debootstrap takes the suite as released (its point release); the guest's apt also knows
# SUITE-updates and SUITE-security, and the image is upgraded from them, so that every build carries Debian's
# current fixes. KILN_DEBIAN_SECURITY_MIRROR names another security mirror (the image pipeline checks the same).
SECURITY_MIRROR=${KILN_DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
step "security updates: upgrade from $SUITE-updates and $SUITE-security ($SECURITY_MIRROR)"
cat > "$rootfs/etc/apt/sources.list" <<SOURCES
deb $MIRROR $SUITE main
deb $MIRROR $SUITE-updates main
deb $SECURITY_MIRROR $SUITE-security main
SOURCES
# No service of an upgraded package starts inside the build's chroot (policy-rc.d's 101: "action forbidden").
printf '#!/bin/sh\nexit 101\n' > "$rootfs/usr/sbin/policy-rc.d"
chmod 755 "$rootfs/usr/sbin/policy-rc.d"
{ chroot "$rootfs" apt-get -q update \
  && chroot "$rootfs" env DEBIAN_FRONTEND=noninteractive apt-get -q -y -o Dpkg::Options::=--force-confdef \
       -o Dpkg::Options::=--force-confold dist-upgrade; } > "$work/upgrade.log" 2>&1 \
  || { tail -20 "$work/upgrade.log" >&2; echo "upgrading from $SUITE-security failed (log above)" >&2; exit 4; }
rm -f "$rootfs/usr/sbin/policy-rc.d"
grep -E '^[0-9]+ upgraded' "$work/upgrade.log" | sed 's/^/  /' || true

case $kernel in
  kiln)
    # After the root filesystem: a build of the kernel that another image build (or the quick start's
    # background build) holds runs while debootstrap works, rather than before it. Cached across images.
    step "kernel: Kiln's for $arch, from images/kernel/"
    kernel_dir=$("$here/kernel/build-kernel.sh" --arch "$arch" "$cache" | tail -1)
    # shellcheck source=/dev/null
    . "$kernel_dir/kernel.env"
    kver=$KERNEL_VERSION
    kernel_recipe=$KERNEL_RECIPE_DIGEST
    cp "$kernel_dir/${KERNEL_IMAGE:-vmlinux}" "$out/vmlinuz"
    ;;
  debian-cloud)
    step "kernel: $KERNEL_PACKAGE"
    kernel_pkg=$(apt-cache depends "$KERNEL_PACKAGE" | awk '/Depends: linux-image-/ {print $2; exit}')
    [ -n "$kernel_pkg" ] || { echo "apt-cache finds no kernel behind $KERNEL_PACKAGE: run apt-get update" >&2; exit 3; }
    ( cd "$cache/kernel" && ls "${kernel_pkg}"_*.deb >/dev/null 2>&1 || apt-get download -q "$kernel_pkg" >/dev/null )
    kernel_deb=$(ls "$cache/kernel/${kernel_pkg}"_*.deb | head -1)
    dpkg-deb -x "$kernel_deb" "$work/kernel"
    kver=$(ls "$work/kernel/lib/modules")
    kernel_recipe=$(basename "$kernel_deb")
    cp "$work/kernel/boot/vmlinuz-$kver" "$out/vmlinuz"
    ;;
esac

step "users and the guest init"
if [ "$kernel" = debian-cloud ]; then
  mkdir -p "$rootfs/lib/modules"
  cp -a "$work/kernel/lib/modules/$kver" "$rootfs/lib/modules/"
  depmod -b "$rootfs" "$kver"
fi
chroot "$rootfs" /usr/sbin/useradd --create-home --uid 1001 --shell /bin/bash runner
echo 'runner ALL=(ALL) NOPASSWD:ALL' > "$rootfs/etc/sudoers.d/runner"
chmod 440 "$rootfs/etc/sudoers.d/runner"
# No SSH host keys baked into an image every VM shares: a VM's sshd gets the one its host made for it.
rm -f "$rootfs"/etc/ssh/ssh_host_*
# The guest init, compiled for the guest's architecture: static, so that nothing is loaded at the boot's start. Kiln's
# kernel starts it as /sbin/kiln-root (it stacks the overlay first), the cloud kernel's initrd as /sbin/kiln-init.
if [ "$(dpkg --print-architecture)" = "$debian_arch" ]; then
  guest_cc=cc
else
  guest_cc=${arch/arm64/aarch64}-linux-gnu-gcc
fi
command -v "$guest_cc" >/dev/null \
  || { echo "compiling the guest init for $arch needs $guest_cc: run bin/setup (gcc-aarch64-linux-gnu, libc6-dev-arm64-cross)" >&2; exit 3; }
"$guest_cc" -static -O2 -s -Wall -Wextra -Werror -o "$rootfs/sbin/kiln-init" "$here/guest/kiln-init.c"
ln -sf kiln-init "$rootfs/sbin/kiln-root"
# The hooks' tools as busybox applets (static: no dynamic loading, cheap to start under emulation).
mkdir -p "$rootfs/usr/lib/kiln/bin"
for applet in mount umount mkdir cat cp chmod chown usleep sleep; do
  ln -sf /bin/busybox "$rootfs/usr/lib/kiln/bin/$applet"
done
[ -x "$recipe_dir/customize.sh" ] && KILN_ARCH=$arch "$recipe_dir/customize.sh" "$rootfs" "$cache"
chroot "$rootfs" apt-get clean
# What the image holds, for the image pipeline's check of Debian's security updates ("packages" beside the
# manifest): read with the host's dpkg-query from the root's dpkg database, so no emulation for arm64.
{ printf 'suite %s\ndebian-arch %s\n' "$SUITE" "$debian_arch"
  dpkg-query --admindir="$rootfs/var/lib/dpkg" -W -f='${db:Status-Abbrev} ${Package} ${Architecture} ${Version}\n' \
    | awk '$1 == "ii" {print "package", $2, $3, $4}' | sort; } > "$out/packages"
rm -rf "$rootfs/var/lib/apt/lists/"* "$rootfs/var/cache/apt/"*.bin "$rootfs/var/log/"*.log

if [ "$kernel" = debian-cloud ]; then
  step "initrd with $INITRD_MODULES"
  initrd=$work/initrd
  mkdir -p "$initrd/bin" "$initrd/lib/modules" "$initrd/proc" "$initrd/sys" "$initrd/dev"
  cp /bin/busybox "$initrd/bin/busybox"
  install -m 755 "$here/guest/kiln-initrd" "$initrd/init"
  : > "$initrd/lib/modules/load-order"
  for module in $INITRD_MODULES; do
    modprobe -d "$rootfs" -S "$kver" --show-depends "$module" | while read -r kind path _; do
      [ "$kind" = insmod ] || continue
      name=$(basename "$path")
      grep -qx "$name" "$initrd/lib/modules/load-order" && continue
      cp "$rootfs$path" "$initrd/lib/modules/$name" 2>/dev/null || cp "$path" "$initrd/lib/modules/$name"
      echo "$name" >> "$initrd/lib/modules/load-order"
    done
  done
  (cd "$initrd" && find . | sort | cpio -o -H newc --quiet --reproducible) | gzip -1 > "$out/initrd.img"
fi

step "ext4 image"
size_mib=$(( $(du -sm "$rootfs" | cut -f1) * 12 / 10 + 64 ))
rm -f "$out/rootfs.ext4"
mkfs.ext4 -q -F -L kiln-root -O ^has_journal -d "$rootfs" "$out/rootfs.ext4" "${size_mib}M"
cat > "$out/image.env" <<ENV
KERNEL_SOURCE=$kernel
ARCH=$arch
KERNEL_VERSION=$kver
KERNEL_RECIPE=$kernel_recipe
SUITE=$SUITE
ENV
[ -f "$rootfs/usr/lib/kiln/runner.env" ] && cat "$rootfs/usr/lib/kiln/runner.env" >> "$out/image.env"
step "done: $(du -sh "$out/rootfs.ext4" | cut -f1) root filesystem, kernel $kver"
