#!/usr/bin/env bash
# Runner image specifics, run by build-image.sh with the root filesystem's path.
set -euo pipefail
rootfs=$1
here=$(cd "$(dirname "$0")" && pwd)
arch=${KILN_ARCH:-x86_64}
case $arch in
  arm64) runner_arch=arm64 elf_machine=aarch64 ;;
  *) runner_arch=x64 elf_machine=x86-64 ;;
esac
chroot "$rootfs" /usr/sbin/usermod -aG docker runner
install -D -m 755 "$here/guest-hooks" "$rootfs/usr/lib/kiln/guest-hooks"
install -D -m 755 "$here/guest-early" "$rootfs/usr/lib/kiln/guest-early"
# A workflow step's pause for a debugging shell through the server's SSH gateway (issue 18).
install -D -m 755 "$here/kiln-debug" "$rootfs/usr/local/bin/kiln-debug"
# No host keys baked into an image every VM shares: sshd gets fresh ones if a job starts it.
rm -f "$rootfs"/etc/ssh/ssh_host_*
if [ -n "${KILN_RUNNER_TARBALL:-}" ]; then
  # The official actions runner, from a tarball the user supplies: never downloaded here.
  tarball=$KILN_RUNNER_TARBALL
  listing=$(tar -tzf "$tarball") || { echo "runner tarball $tarball is not a gzipped tar" >&2; exit 5; }
  for required in run.sh config.sh bin/Runner.Listener; do
    printf '%s\n' "$listing" | sed 's|^\./||' | grep -qx "$required" \
      || { echo "runner tarball $tarball lacks $required: is it an actions-runner-linux-$runner_arch tarball?" >&2; exit 5; }
  done
  home=$rootfs/home/runner/actions-runner
  mkdir -p "$home"
  tar -xzf "$tarball" -C "$home"
  # The runner's build must be the image's: an x64 runner in an arm64 image fails only when a job comes.
  if file -L "$home/bin/Runner.Listener" | grep -q ELF \
      && ! file -L "$home/bin/Runner.Listener" | grep -q "$elf_machine"; then
    echo "runner tarball $tarball is not built for $arch ($(file -bL "$home/bin/Runner.Listener" | cut -d, -f1-2)): use actions-runner-linux-$runner_arch" >&2
    exit 5
  fi
  chroot "$rootfs" chown -R runner:runner /home/runner/actions-runner
  # Its dependencies (the .NET runtime's native libraries) must all resolve inside the image.
  missing=$(find "$home/bin" -maxdepth 1 -type f \( -name '*.so' -o -name 'Runner.*' \) -print 2>/dev/null \
    | sed "s|^$rootfs||" | while read -r file; do
        file "$rootfs$file" | grep -q ELF || continue
        chroot "$rootfs" ldd "$file" 2>/dev/null | awk '/not found/ {print $1}'
      done | sort -u)
  if [ -n "$missing" ]; then
    echo "the runner needs libraries the image lacks: $(echo $missing); add their Debian packages to images/runner/recipe.env" >&2
    exit 5
  fi
  version=$(basename "$tarball" | sed -n 's/.*-\([0-9][0-9]*\.[0-9][0-9]*\.[0-9][0-9]*\)\(-[a-z0-9]*\)\{0,1\}\.tar\.gz$/\1\2/p')
  mkdir -p "$rootfs/usr/lib/kiln"
  # KILN_BUILD_DATE: the image pipeline's day (its clock's, which tests move); today's otherwise.
  printf 'RUNNER_VERSION=%s\nRUNNER_INSTALLED=%s\n' "${version:-unknown}" "${KILN_BUILD_DATE:-$(date -u +%Y-%m-%d)}" > "$rootfs/usr/lib/kiln/runner.env"
  echo "[kiln image build] installed actions runner ${version:-of unknown version} from $(basename "$tarball")"
fi
if [ -n "${KILN_GITLAB_RUNNER:-}" ]; then
  # gitlab-runner, from a file the user supplies (GitLab's linux-amd64 binary, or Kiln's stand-in in tests):
  # a GitLab runner VM starts `gitlab-runner run-single` with the token from its config drive.
  # Checked, not run: the host does not execute what the user supplies for the guest.
  magic=$(head -c 4 "$KILN_GITLAB_RUNNER" | od -An -c | tr -d ' ')
  case $magic in
    177ELF*|'#!'*) ;;
    *) echo "--gitlab-runner $KILN_GITLAB_RUNNER is neither an ELF binary nor a script" >&2; exit 5 ;;
  esac
  install -D -m 755 "$KILN_GITLAB_RUNNER" "$rootfs/usr/local/bin/gitlab-runner"
  echo "[kiln image build] installed gitlab-runner from $(basename "$KILN_GITLAB_RUNNER")"
fi
mkdir -p "$rootfs/etc/docker"
# containerd of its own, started by guest-early beside dockerd (dockerd uses it rather than starting one):
# its data on the scratch disk, without CRI (Kubernetes-in-Docker brings its own) or the snapshotters Docker 20.10
# does not use (its overlay2 is its own), each a plugin to load and aufs' a modprobe to run at every boot.
mkdir -p "$rootfs/etc/kiln"
cat > "$rootfs/etc/kiln/containerd.toml" <<'TOML'
version = 2
root = "/run/kiln/scratch/containerd"
state = "/run/containerd"
disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.zfs"]

[grpc]
  address = "/run/containerd/containerd.sock"
TOML
# Docker's data on the VM's scratch disk, named here once rather than bind-mounted at every boot.
cat > "$rootfs/etc/docker/daemon.json" <<'JSON'
{
  "data-root": "/run/kiln/scratch/docker",
  "containerd": "/run/containerd/containerd.sock",
  "storage-driver": "overlay2",
  "log-driver": "json-file",
  "features": { "buildkit": true }
}
JSON
