#!/usr/bin/env bash
# Debugging shells (issue 18): through the server's SSH gateway and the agent's relay against a direct SSH to the same
# VM from its host, interleaved in one run on one real VM (the default image under TCG, in a network lab). Time to a
# first command, one-byte echo round trips, scp throughput (MEGABYTES, default 100). Writes RESULTS.md here. Run as
# root with `bin/kiln image build default` done; boots a VM: hold the lock (flock /tmp/kiln-vm.lock bench/ssh/run.sh).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
. "$here/../agent-bench.sh"
agent_benchmark dev.kiln.agent.SshBenchmark "${1:-100}"
results="$here/RESULTS.md"
{
  echo "# SSH gateway benchmark results"
  echo
  echo "Run by \`bench/ssh/run.sh\` $run_header The server with its gateway, the agent and the"
  echo "OpenSSH clients share the machine with the VM, which runs under TCG (no KVM here): the VM's sshd does the"
  echo "crypto of both paths in emulation, so the ratios, not the absolute times, are what carries to other hosts."
  echo
  cat "$tmp"
} >"$results"
cat "$results"
