#!/usr/bin/env bash
# Fleet benchmark, end to end through the server: 100 agents with simulated VMMs (16 vCPUs / 64 GiB
# each) and a real server on SQLite, in one JVM over loopback HTTP. Submit → launch delivered at
# 200 jobs/s, and a burst of 5,000 mixed jobs packed best fit beside first fit. Writes RESULTS.md here.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
export JAVA_HOME="${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}"
java="$JAVA_HOME/bin/java"
cd "$root"
nice -n 10 mvn -q -o -pl kiln-agent -am test-compile -DskipTests
cp="$(nice -n 10 mvn -q -o -pl kiln-agent dependency:build-classpath -Dmdep.outputFile=/dev/stdout -Dmdep.includeScope=test)"
results="$here/RESULTS.md"
tmp="$(mktemp)"
trap 'rm -f "$tmp"' EXIT
{
  echo "# Fleet benchmark results"
  echo
  echo "Run by \`bench/fleet/run.sh\` on $(date -u +%Y-%m-%d) with $("$java" -version 2>&1 | head -n 1)."
  echo "Machine: $(nproc) cores, shared with other work (load average at start: $(cut -d' ' -f1-3 /proc/loadavg));"
  echo "server, 100 agents and the submitting clients all run in one JVM, so the figures are indicative."
  echo
  nice -n 10 "$java" -Xmx2g -cp "kiln-agent/target/test-classes:kiln-agent/target/classes:$cp" dev.kiln.agent.FleetBenchmark
  echo
  cat "$here/NOTES.md"
} >"$tmp"
mv "$tmp" "$results"
trap - EXIT
cat "$results"
