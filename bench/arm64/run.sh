#!/usr/bin/env bash
# arm64 guests' benchmark; writes bench/arm64/RESULTS.md. Run as root holding the host's VM lock
# (`flock /tmp/kiln-vm.lock bench/arm64/run.sh`), on a host where `bin/kiln image build default --arch arm64`
# has been run. Boots real VMs (emulated on an x86_64 host):
#   1. `kiln run --arch arm64 -- true` wall time against the bare `qemu-system-aarch64` command on the same
#      artifacts (kernel, root filesystem, scratch and config drives, network card on a tap), interleaved;
#   2. the arm64 default image's build time (its kernel cached, as on every build after the first), and the
#      kernel's own cross-build time as its build recorded it.
set -euo pipefail
home=$(cd "$(dirname "$0")/../.." && pwd)
runs=${RUNS:-8}
. "$home/bin/java-env.sh"
kiln_pick_jdk
kiln=$home/bin/kiln
ns=kiln-bench-arm-$$
work=$(mktemp -d /var/tmp/kiln-bench-arm64.XXXXXX)
cleanup() { ip netns del "$ns" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
ip netns add "$ns"
ip -n "$ns" link set lo up
net_flags=(--netns "$ns" --vm-network 10.205.0.0/24 --accel tcg)

# Warm-up: the distribution, the JVM's class-data archive, the page cache.
"$kiln" run --arch arm64 "${net_flags[@]}" -- true
"$kiln" run --arch arm64 "${net_flags[@]}" -- true
export KILN_NO_REBUILD=1
image_dir=/var/lib/kiln/images/$(sed 's/:/-/' /var/lib/kiln/images/names/default-arm64)
grep -q '"arch" : "arm64"' "$image_dir/manifest.json" || { echo "default-arm64 is not an arm64 image" >&2; exit 1; }

# The bare command: what Kiln's QEMU driver runs for an arm64 guest under TCG, by hand, as root, in the same
# namespace, with a tap made here before any timing and the guest told to configure it as Kiln's guest does.
# Its disks in the driver's order: virt's last virtio device is the guest's first (vda, the root).
bare_tap=kbarearm0
printf 'tuntap add dev %s mode tap\nlink set dev %s addrgenmode none\naddr add 10.206.0.1/30 dev %s\nlink set %s up\n' \
  "$bare_tap" "$bare_tap" "$bare_tap" "$bare_tap" | ip -n "$ns" -batch -
mkdir -p "$work/cfg"
printf "KILN_HOSTNAME='bare'\nKILN_NONCE='n'\nKILN_GUEST_IP='10.206.0.2'\nKILN_PREFIX='30'\nKILN_GATEWAY='10.206.0.1'\nKILN_DNS='10.206.0.1'\n" \
  > "$work/cfg/kiln.env"
printf '#!/bin/sh\nexec true\n' > "$work/cfg/command.sh"
printf 'true\0' > "$work/cfg/command.argv"
: > "$work/cfg/job.env"; echo '{}' > "$work/cfg/config.json"
tar -cf "$work/config.tar" -C "$work/cfg" .
bare() {
  qemu-img create -q -f qcow2 -F raw -b /var/lib/kiln/scratch/ext4-10g.img "$work/scratch.qcow2"
  local start end
  start=$(date +%s%N)
  ip netns exec "$ns" qemu-system-aarch64 -M virt,gic-version=3 -accel tcg,thread=multi,tb-size=128 \
    -cpu neoverse-n1 -smp 1 -m 1024M -nodefaults -no-user-config -display none -no-reboot \
    -kernel "$image_dir/vmlinuz" \
    -append "console=ttyAMA0 panic=-1 quiet loglevel=3 root=/dev/vda ro rootfstype=ext4 init=/sbin/kiln-root cgroup.memory=nokmem" \
    -chardev file,id=console,path="$work/console.log" -serial chardev:console \
    -chardev file,id=stderr,path="$work/stderr.log" -device virtio-serial-device -device virtconsole,chardev=stderr \
    -drive id=config,file="$work/config.tar",format=raw,if=none,readonly=on -device virtio-blk-device,drive=config,serial=kiln-config \
    -drive id=scratch,file="$work/scratch.qcow2",format=qcow2,if=none,discard=unmap -device virtio-blk-device,drive=scratch,serial=kiln-scratch \
    -drive id=root,file="$image_dir/rootfs.ext4",format=raw,if=none,readonly=on -device virtio-blk-device,drive=root,serial=kiln-root \
    -device virtio-rng-device \
    -netdev "tap,id=net,ifname=$bare_tap,script=no,downscript=no" -device virtio-net-device,netdev=net,mac=52:54:00:00:00:03
  end=$(date +%s%N)
  grep -q "KILN-EXIT:n:0" "$work/console.log" || { echo "bare QEMU run did not report exit 0:" >&2; cat "$work/console.log" >&2; exit 1; }
  rm -f "$work/scratch.qcow2" "$work/console.log" "$work/stderr.log"
  echo $(( (end - start) / 1000000 ))
}
kiln_true() {
  local start end
  start=$(date +%s%N)
  "$kiln" run --arch arm64 "${net_flags[@]}" -- true 2> "$work/kiln.err" \
    || { echo "kiln run --arch arm64 -- true failed:" >&2; cat "$work/kiln.err" >&2; exit 1; }
  end=$(date +%s%N)
  echo $(( (end - start) / 1000000 ))
}
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : int((a[NR/2]+a[NR/2+1])/2))}'; }
pair_ratio() {
  paste "$1" "$2" | awk '{printf "%.4f\n", $1/$2}' | sort -n \
    | awk '{a[NR]=$1} END {printf "%.3f", (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'
}

echo "booting $runs rounds of bare qemu-system-aarch64 and kiln run --arch arm64, interleaved..." >&2
load_start="$(cut -d' ' -f1-3 /proc/loadavg)"
: > "$work/bare.ms"; : > "$work/kiln.ms"
# Which of a round's two runs goes first alternates, so that neither always finds the other's pages cached.
for i in $(seq "$runs"); do
  if [ $((i % 2)) -eq 1 ]; then
    bare >> "$work/bare.ms"; kiln_true >> "$work/kiln.ms"
  else
    kiln_true >> "$work/kiln.ms"; bare >> "$work/bare.ms"
  fi
done
bare_ms=$(median < "$work/bare.ms")
kiln_ms=$(median < "$work/kiln.ms")
ratio=$(pair_ratio "$work/kiln.ms" "$work/bare.ms")
overhead=$(paste "$work/kiln.ms" "$work/bare.ms" | awk '{print $1-$2}' | median)

echo "building the arm64 default image once more (its kernel cached)..." >&2
build_start=$(date +%s)
"$kiln" image build default --arch arm64 --name bench-build-arm64 > "$work/build.log" 2>&1 \
  || { cat "$work/build.log" >&2; exit 1; }
build_s=$(( $(date +%s) - build_start ))
"$kiln" image rm bench-build-arm64 > /dev/null
kernel_env=$("$home/images/kernel/build-kernel.sh" --arch arm64 /var/lib/kiln/cache 2>/dev/null | tail -1)/kernel.env
# shellcheck source=/dev/null
. "$kernel_env"

cat > "$home/bench/arm64/RESULTS.md" <<MD
# arm64 guests benchmark

Measured $(date -u +%Y-%m-%d) on a 2-core, 24 GiB x86_64 build machine (shared with other work, noisy),
QEMU $(qemu-system-aarch64 --version | head -1 | awk '{print $4}'), arm64 guests under TCG on the \`virt\` machine
(\`-cpu neoverse-n1\`), Kiln's arm64 kernel $KERNEL_VERSION, the default-arm64 image, 1 vCPU, 1 GiB.
Re-run with \`flock /tmp/kiln-vm.lock bench/arm64/run.sh\`.

## \`kiln run --arch arm64 -- true\` against the bare \`qemu-system-aarch64\` command ($runs interleaved rounds)

The bare command is what Kiln's QEMU driver runs for an arm64 guest, typed by hand, as root, in the same
network namespace, on the same kernel, root filesystem, scratch and config drives, with the same network
card on a tap made before any timing. Everything Kiln adds is in its time: the JVM, the checks, the
tap and its nftables rules, the cgroup, the unprivileged sandboxed QEMU, the supervision, the cleanup.

| | wall time (median) |
| --- | --- |
| bare \`qemu-system-aarch64\`, the same VM | $bare_ms ms |
| \`kiln run --arch arm64 -- true\` | $kiln_ms ms |
| Kiln's overhead, median of the rounds | $overhead ms, ratio **$ratio** (target ≤ 1.05) |

All runs: bare $(tr '\n' ' ' < "$work/bare.ms")ms; kiln $(tr '\n' ' ' < "$work/kiln.ms")ms.
Load average (1, 5, 15 min) at the start: $load_start.

## Building the arm64 images

| | |
| --- | --- |
| \`kiln image build default --arch arm64\`, kernel cached (debootstrap of arm64 packages under qemu-user-static, ext4) | $build_s s |
| Kiln's arm64 kernel, cross-built once with gcc-aarch64-linux-gnu (\`nice -n 10\`, $KERNEL_SOURCE_PACKAGE), as its build recorded it | $KERNEL_BUILD_SECONDS s |
| its \`Image\` | $(( $(stat -c %s "$(dirname "$kernel_env")/Image") >> 20 )) MiB |
MD
cat "$home/bench/arm64/RESULTS.md"
