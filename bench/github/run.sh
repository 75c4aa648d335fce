#!/usr/bin/env bash
# GitHub benchmark, end to end through the server, in three rounds: the fake GitHub queues 1,000 jobs at once and delivers
# their signed webhooks to a real server (SQLite) with 100 agents on simulated VMMs, in one JVM over
# loopback HTTP. Webhook received → launch delivered (and the part of it spent waiting for GitHub's
# answers), and GitHub API requests per job. Writes RESULTS.md here.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
. "$here/../agent-bench.sh"
agent_benchmark dev.kiln.agent.GitHubBenchmark
results="$here/RESULTS.md"
{
  echo "# GitHub benchmark results"
  echo
  echo "Run by \`bench/github/run.sh\` $run_header Server, 100 agents, their runner"
  echo "guests and the fake GitHub all run in one JVM (\`-Xmx2g\`), so they compete for the same cores."
  echo "Warnings logged during the run: $(grep -c ' WARN ' "$log" || true)."
  echo
  cat "$tmp"
  echo
  cat "$here/NOTES.md"
} >"$results"
cat "$results"
