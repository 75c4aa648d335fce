#!/usr/bin/env bash
# Kiln's guest kernel benchmark; writes bench/kernel/RESULTS.md. Run as root after bin/test (the
# default and runner-test images on Kiln's kernel) and after
#   bin/kiln image build default --name default-cloud --kernel debian-cloud
#   bin/kiln image build runner --name runner-cloud --kernel debian-cloud --runner-tarball target/actions-runner-linux-x64-2.999.0-standin.tar.gz
# Boots real VMs (it takes the host-wide VM lock itself, per part). All on the host's clock, interleaved:
#   1. kernel: the same busybox init (prints a line, powers off) by bare QEMU on Kiln's kernel and on
#      Debian's cloud kernel with an initrd loading virtio and ext4: QEMU's start to the init's line;
#   2. Kiln's guest path: `kiln run -- true` on the default image against that bare boot's exit;
#   3. Docker: the runner image on Kiln's kernel and on Debian's cloud kernel (through Kiln), and a
#      minimal Docker guest (Debian's docker.io, an init that starts dockerd) by bare QEMU on Kiln's
#      kernel: to dockerd answering and to a first `docker run` done;
#   4. soak: the runner image booted SOAK times with a first `docker run` each.
set -euo pipefail
home=$(cd "$(dirname "$0")/../.." && pwd)
# RUNS, DOCKER_RUNS or SOAK set to 0 leaves that part out (a partial run, e.g. while mending one part).
runs=${RUNS:-7}
docker_runs=${DOCKER_RUNS:-5}
soak=${SOAK:-50}
# The runner image on Kiln's kernel: bin/test's, or RUNNER_IMAGE (one built from a changed kernel recipe,
# without moving the name the tests use).
runner_image=${RUNNER_IMAGE:-runner-test}
. "$home/bin/java-env.sh"
kiln_pick_jdk
images=/var/lib/kiln/images
cache=/var/lib/kiln/cache
# Made once and kept: the minimal Docker guest's root takes a debootstrap.
keep=/var/tmp/kiln-bench-kernel
work=$(mktemp -d /var/tmp/kiln-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir -p "$keep"
image_dir() { echo "$images/$(sed 's/:/-/' "$images/names/$1")"; }
for name in default "$runner_image" default-cloud runner-cloud; do
  [ -f "$images/names/$name" ] || { echo "bench/kernel needs the image $name (see the top of $0)" >&2; exit 2; }
done
own=$(image_dir "$runner_image")
cloud=$(image_dir default-cloud)
jq -e '.kernel.source == "kiln"' "$own/manifest.json" >/dev/null || { echo "$runner_image does not boot Kiln's kernel" >&2; exit 2; }
cp "$own/vmlinuz" "$work/kiln-vmlinux"
cp "$cloud/vmlinuz" "$work/cloud-vmlinuz"

# The busybox init both kernels boot.
mkdir -p "$work/tiny/bin" "$work/tiny/proc" "$work/tiny/sys" "$work/tiny/dev"
cp /bin/busybox "$work/tiny/bin/busybox"
printf '#!/bin/busybox sh\n/bin/busybox echo KILN-BENCH-INIT\n/bin/busybox reboot -f\n' > "$work/tiny/init"
chmod 755 "$work/tiny/init"
mkfs.ext4 -q -F -O ^has_journal -d "$work/tiny" "$work/tiny.ext4" 16M
# The cloud kernel's initrd: the modules the default-cloud image's initrd loads, then the root's init.
mkdir -p "$work/initrd"
(cd "$work/initrd" && gzip -dc "$cloud/initrd.img" | cpio -id --quiet)
cat > "$work/initrd/init" <<'SH'
#!/bin/busybox sh
/bin/busybox mount -t proc proc /proc
/bin/busybox mount -t devtmpfs devtmpfs /dev
while read -r module; do /bin/busybox insmod "/lib/modules/$module"; done < /lib/modules/load-order
/bin/busybox mkdir -p /newroot
until /bin/busybox mount -t ext4 -o ro /dev/vda /newroot 2>/dev/null; do /bin/busybox usleep 10000; done
/bin/busybox umount /proc
exec /bin/busybox switch_root /newroot /init
SH
chmod 755 "$work/initrd/init"
(cd "$work/initrd" && find . | sort | cpio -o -H newc --quiet) | gzip -1 > "$work/cloud-initrd.img"

# The minimal Docker guest: Debian's docker.io (and busybox for the job's tarball), an init that
# mounts what Docker needs, starts dockerd and waits on its socket, as Kiln's runner image does.
min_init='#!/bin/sh
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t tmpfs tmpfs /run
mount -t tmpfs tmpfs /tmp
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /dev/shm
mount -t cgroup2 cgroup2 /sys/fs/cgroup
mkdir -p /var/lib/docker
mount -t ext4 /dev/vdb /var/lib/docker
echo 1 > /proc/sys/net/ipv4/ip_forward
dockerd > /run/dockerd.log 2>&1 &
until [ -S /run/docker.sock ]; do busybox usleep 20000; done
docker version > /dev/null || { echo dockerd-failed; tail -n 20 /run/dockerd.log; busybox reboot -f; }
sh -c "$(cat /bench-script)"
busybox reboot -f'
# The root is kept by what debootstrap put in it; the init is written into each copy (debugfs, no mount).
min_packages=docker.io,busybox-static
min_digest=$(printf 'bookworm minbase %s' "$min_packages" | sha256sum | cut -c1-12)
if [ ! -f "$keep/docker-min-$min_digest.ext4" ]; then
  echo "making the minimal Docker guest's root (debootstrap)..." >&2
  mirror=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
  root=$work/docker-min
  debootstrap --variant=minbase --include="$min_packages" --cache-dir="$cache/debs" bookworm "$root" \
    "${mirror:-http://deb.debian.org/debian}" > "$work/debootstrap.log" 2>&1 || { tail "$work/debootstrap.log" >&2; exit 4; }
  rm -rf "$root/var/cache/apt/"* "$root/var/lib/apt/lists/"*
  mkfs.ext4 -q -F -O ^has_journal -d "$root" "$keep/docker-min-$min_digest.ext4" "$(( $(du -sm "$root" | cut -f1) * 12 / 10 + 128 ))M"
  rm -rf "$root"
fi
cp --sparse=always "$keep/docker-min-$min_digest.ext4" "$work/docker-min.ext4"
printf '%s\n' "$min_init" > "$work/min-init"
debugfs -w -R "rm init" "$work/docker-min.ext4" >/dev/null 2>&1 || true
debugfs -w -f - "$work/docker-min.ext4" >/dev/null 2>&1 <<EOF
write $work/min-init init
set_inode_field init mode 0100755
EOF
# One reactor build: the sibling modules resolve to their target/classes (no `mvn install` needed);
# kiln-vm, built last, leaves its classpath in cp.txt.
(cd "$home" && mvn -q -B -pl kiln-vm -am test-compile dependency:build-classpath -Dmdep.outputFile="$work/cp.txt" >/dev/null)
java_bench() {
  "$JAVA_HOME/bin/java" -cp "$home/kiln-vm/target/test-classes:$home/kiln-vm/target/classes:$(cat "$work/cp.txt")" \
    dev.kiln.vm.KernelBenchmark "$@"
}
bench() {
  flock /tmp/kiln-vm.lock "$JAVA_HOME/bin/java" -Dkiln.bench.runnerImage="$runner_image" \
    -cp "$home/kiln-vm/target/test-classes:$home/kiln-vm/target/classes:$(cat "$work/cp.txt")" dev.kiln.vm.KernelBenchmark "$@"
}
# The job's script goes into the minimal guest's root as a file (debugfs writes it without a mount).
java_bench script "$work" 0 > "$work/bench-script"
debugfs -w -R "write $work/bench-script bench-script" "$work/docker-min.ext4" >/dev/null 2>&1
echo "kernel and guest path: $runs interleaved rounds..." >&2
export KILN_NO_REBUILD=1
"$home/bin/kiln" run -- true > /dev/null   # the distribution and its class-data archive, before timing
if [ "$runs" -gt 0 ]; then
  bench boot "$work" "$runs" "$home/bin/kiln" > "$work/boot.txt"
else
  : > "$work/boot.txt"
fi
echo "Docker: $docker_runs interleaved rounds..." >&2
if [ "$docker_runs" -gt 0 ]; then
  bench docker "$work" "$docker_runs" > "$work/docker.txt"
else
  : > "$work/docker.txt"
fi
if [ "$soak" -gt 0 ]; then
  echo "soak: $soak boots of $runner_image..." >&2
  bench soak "$work" "$soak" > "$work/soak.txt"
else
  : > "$work/soak.txt"
fi
cat "$work/boot.txt" "$work/docker.txt" "$work/soak.txt" > "$home/bench/kernel/last-run.txt"
v() { awk -v k="$1" '$1 == k {print $2; exit}' "$home/bench/kernel/last-run.txt"; }
ratio() { awk -v a="$(v "$1")" -v b="$(v "$2")" 'BEGIN {printf "%.2f", a/b}'; }
kernel_env=$("$home/images/kernel/build-kernel.sh" "$cache" 2>/dev/null | tail -1)/kernel.env
. "$kernel_env"
echo "done; figures in bench/kernel/last-run.txt" >&2
cat "$home/bench/kernel/last-run.txt"
echo "kernel $KERNEL_VERSION built in $KERNEL_BUILD_SECONDS s, vmlinux $(( $(stat -c %s "$work/kiln-vmlinux") >> 10 )) KiB, cloud vmlinuz $(( $(stat -c %s "$work/cloud-vmlinuz") >> 10 )) KiB + initrd $(( $(stat -c %s "$work/cloud-initrd.img") >> 10 )) KiB"
for pair in "kernel.kiln.init kernel.cloud.init" "run.kiln kernel.kiln.exit" "docker.kiln.ready docker.cloud.ready" \
    "docker.kiln.run docker.cloud.run" "docker.kiln.ready docker.minimal.ready" "docker.kiln.run docker.minimal.run"; do
  set -- $pair
  echo "ratio $1 / $2 = $(ratio "$1" "$2")"
done
