#!/usr/bin/env bash
# Fleet benchmark, end to end through the server: 100 agents with simulated VMMs and a real server on
# SQLite, in one JVM over loopback HTTP. Submit → launch delivered at 50, 100 and 200 jobs/s, and a
# burst of 5,000 mixed jobs packed best fit beside first fit. Writes RESULTS.md here.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
export JAVA_HOME="${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}"
java="$JAVA_HOME/bin/java"
cd "$root"
cp="$("$root/bench/agent-classpath.sh")"
results="$here/RESULTS.md"
tmp="$(mktemp)"
log="$(mktemp)"
trap 'rm -f "$tmp" "$log"' EXIT
load_start="$(cut -d' ' -f1-3 /proc/loadavg)"
started=$(date +%s)
nice -n 10 "$java" -Xmx2g -cp "$cp" dev.kiln.agent.FleetBenchmark >"$tmp" 2>"$log"
{
  echo "# Fleet benchmark results"
  echo
  echo "Run by \`bench/fleet/run.sh\` on $(date -u +%Y-%m-%d) on top of commit $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- . && echo "" || echo " (working tree with changes)") with $("$java" -version 2>&1 | head -n 1),"
  echo "in $(( $(date +%s) - started )) s. Machine: $(nproc) cores shared with other work; load average (1, 5, 15 min)"
  echo "$load_start at the start and $(cut -d' ' -f1-3 /proc/loadavg) at the end. Server, 100 agents and the submitting"
  echo "clients all run in one JVM (\`-Xmx2g\`), so they compete for the same two cores."
  echo "Warnings logged by server and agents during the run: $(grep -c ' WARN ' "$log" || true)"
  echo "($(grep -c 'lost the connection' "$log" || true) of them a lost connection, $(grep -c 'Connection is not available' "$log" || true) a request that waited 10 s for the database)."
  echo
  cat "$tmp"
  echo
  cat "$here/NOTES.md"
} >"$results"
cat "$results"
