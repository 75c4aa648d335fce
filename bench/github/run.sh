#!/usr/bin/env bash
# GitHub benchmark, end to end through the server, in three rounds: the fake GitHub queues 1,000 jobs at once and delivers
# their signed webhooks to a real server (SQLite) with 100 agents on simulated VMMs, in one JVM over
# loopback HTTP. Webhook received → launch delivered (and the part of it spent waiting for GitHub's
# answers), and GitHub API requests per job. Writes RESULTS.md here.
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
nice -n 10 "$java" -Xmx2g -cp "$cp" dev.kiln.agent.GitHubBenchmark >"$tmp" 2>"$log"
{
  echo "# GitHub benchmark results"
  echo
  echo "Run by \`bench/github/run.sh\` on $(date -u +%Y-%m-%d) on top of commit $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- . && echo "" || echo " (working tree with changes)") with $("$java" -version 2>&1 | head -n 1),"
  echo "in $(( $(date +%s) - started )) s. Machine: $(nproc) cores shared with other work; load average (1, 5, 15 min)"
  echo "$load_start at the start and $(cut -d' ' -f1-3 /proc/loadavg) at the end. Server, 100 agents, their runner"
  echo "guests and the fake GitHub all run in one JVM (\`-Xmx2g\`), so they compete for the same cores."
  echo "Warnings logged during the run: $(grep -c ' WARN ' "$log" || true)."
  echo
  cat "$tmp"
  echo
  cat "$here/NOTES.md"
} >"$results"
cat "$results"
