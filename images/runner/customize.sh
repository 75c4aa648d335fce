#!/usr/bin/env bash
# Runner image specifics, run by build-image.sh with the root filesystem's path.
set -euo pipefail
rootfs=$1
here=$(cd "$(dirname "$0")" && pwd)
chroot "$rootfs" /usr/sbin/usermod -aG docker runner
install -D -m 755 "$here/guest-hooks" "$rootfs/usr/lib/kiln/guest-hooks"
# No host keys baked into an image every VM shares: sshd gets fresh ones if a job starts it.
rm -f "$rootfs"/etc/ssh/ssh_host_*
mkdir -p "$rootfs/etc/docker"
cat > "$rootfs/etc/docker/daemon.json" <<'JSON'
{
  "storage-driver": "overlay2",
  "log-driver": "json-file",
  "features": { "buildkit": true }
}
JSON
