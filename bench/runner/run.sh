#!/usr/bin/env bash
# The runner image's benchmark; writes bench/runner/RESULTS.md. Run as root after bin/test (which
# builds the runner-test image). Boots real VMs: nothing else should run meanwhile.
#   1. VM start to dockerd answering and to a first `docker run` done, through Kiln's engine and
#      through the bare QEMU command booting the same guest, interleaved in one run;
#   2. the image's size and a full build's time.
set -euo pipefail
home=$(cd "$(dirname "$0")/../.." && pwd)
runs=${RUNS:-4}
. "$home/bin/java-env.sh"
kiln_pick_jdk
work=$(mktemp -d /var/tmp/kiln-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT

(cd "$home" && mvn -q -B -pl kiln-vm test-compile -am >/dev/null \
  && mvn -q -B -pl kiln-vm dependency:build-classpath -Dmdep.outputFile="$work/cp.txt" >/dev/null)
echo "booting $runs pairs of Docker VMs..." >&2
out=$("$JAVA_HOME/bin/java" -cp "$home/kiln-vm/target/test-classes:$home/kiln-vm/target/classes:$(cat "$work/cp.txt")" \
  dev.kiln.vm.DockerBenchmark "$runs" runner-test)
read -r bare_ready kiln_ready bare_run kiln_run <<< "$(echo "$out" | head -1)"
detail=$(echo "$out" | tail -1)

echo "timing a full build of the runner image..." >&2
tarball=$home/target/actions-runner-linux-x64-2.999.0-standin.tar.gz
start=$(date +%s)
"$home/bin/kiln" image build runner --name runner-bench --force --runner-tarball "$tarball" > "$work/build.log" 2>&1
build_s=$(( $(date +%s) - start ))
"$home/bin/kiln" image rm runner-bench > /dev/null
dir=/var/lib/kiln/images/$(sed 's/:/-/' /var/lib/kiln/images/names/runner-test)
rootfs_mib=$(( $(stat -c %s "$dir/rootfs.ext4") >> 20 ))
used_mib=$(( $(du -k "$dir/rootfs.ext4" | cut -f1) >> 10 ))
kernel_kib=$(( $(stat -c %s "$dir/vmlinuz") >> 10 ))
initrd_kib=$(( $(stat -c %s "$dir/initrd.img") >> 10 ))

ratio() { awk -v k="$1" -v b="$2" 'BEGIN {printf "%.2f", k/b}'; }
cat > "$home/bench/runner/RESULTS.md" <<MD
# Runner image benchmark

Measured $(date -u +%Y-%m-%d) on a 2-core, 24 GiB build machine (shared, noisy); guests under TCG
(emulation: this machine's KVM runs only PVM kernels), 2 vCPUs, 2 GiB, Debian's cloud kernel
$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))[\"kernelVersion\"])" "$dir/manifest.json") from the runner-test image. Re-run with \`bench/runner/run.sh\`.

## VM start to Docker ($runs interleaved pairs, medians, host clock)

The guest init starts dockerd before the job and waits until it answers, so the job's first line
marks "dockerd ready". "docker run done" adds a \`docker import\` of a busybox tarball and a first
\`docker run\`.

| | bare QEMU, same guest | Kiln | ratio |
| --- | --- | --- | --- |
| dockerd ready | $bare_ready ms | $kiln_ready ms | $(ratio "$kiln_ready" "$bare_ready") |
| first \`docker run\` done | $bare_run ms | $kiln_run ms | $(ratio "$kiln_run" "$bare_run") |

All runs: $detail

## The image

| | |
| --- | --- |
| root filesystem (ext4, read-only, shared by all VMs) | $rootfs_mib MiB, $used_mib MiB allocated |
| kernel / initrd | $kernel_kib KiB / $initrd_kib KiB |
| full build (\`kiln image build runner --force\`, debootstrap from the Debian mirror, packages cached) | $build_s s |
MD
cat "$home/bench/runner/RESULTS.md"
