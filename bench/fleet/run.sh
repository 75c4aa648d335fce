#!/usr/bin/env bash
# Fleet benchmark, end to end through the server: 100 agents with simulated VMMs and a real server on
# SQLite, in one JVM over loopback HTTP. Submit → launch delivered at 50, 100 and 200 jobs/s, and a
# burst of 5,000 mixed jobs packed best fit beside first fit. Writes RESULTS.md here.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
. "$here/../agent-bench.sh"
agent_benchmark dev.kiln.agent.FleetBenchmark
results="$here/RESULTS.md"
{
  echo "# Fleet benchmark results"
  echo
  echo "Run by \`bench/fleet/run.sh\` $run_header Server, 100 agents and the submitting"
  echo "clients all run in one JVM (\`-Xmx2g\`), so they compete for the same two cores."
  echo "Warnings logged by server and agents during the run: $(grep -c ' WARN ' "$log" || true)"
  echo "($(grep -c 'lost the connection' "$log" || true) of them a lost connection, $(grep -c 'Connection is not available' "$log" || true) a request that waited 10 s for the database)."
  echo
  cat "$tmp"
  echo
  cat "$here/NOTES.md"
} >"$results"
cat "$results"
