#!/usr/bin/env bash
# GitLab benchmark, end to end through the server (bench/github's harness, with FakeGitLab): the fake queues 1,000 jobs
# tagged kiln-2cpu-4gb at once and sends their Job Hooks to a real server (SQLite) with 100 agents on simulated VMMs,
# in one JVM over loopback HTTP. Job Hook received → launch delivered (target: p99 ≤ 200 ms), and GitLab API requests
# per job. `run.sh [ROUNDS]` (default 1). Needs the host-wide lock: flock /tmp/kiln-vm.lock bench/gitlab/run.sh.
# Writes RESULTS.md here.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
. "$here/../agent-bench.sh"
agent_benchmark dev.kiln.agent.GitLabBenchmark "${1:-1}"
results="$here/RESULTS.md"
{
  echo "# GitLab benchmark results"
  echo
  echo "Run by \`bench/gitlab/run.sh\` $run_header Server, 100 agents, their runner"
  echo "guests and the fake GitLab all run in one JVM (\`-Xmx2g\`), so they compete for the same cores."
  echo "Warnings logged during the run: $(grep -c ' WARN ' "$log" || true)."
  echo
  cat "$tmp"
} >"$results"
cat "$results"
