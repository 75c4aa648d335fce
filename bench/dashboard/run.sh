#!/usr/bin/env bash
# Dashboard benchmark: each page's server time (its HTML, and the JSON its script draws it from) and a /metrics
# scrape against 5,000 jobs and 100 enrolled (simulated) hosts on SQLite, beside GET /api/v1/hosts on the same server
# in the same run. Targets: each page p95 <= 100 ms, the scrape p95 <= 50 ms.
# Writes RESULTS.md here. Run under `flock /tmp/kiln-vm.lock`.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cd "$root"
export JAVA_HOME="${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}"
changes="$(git diff --quiet HEAD -- . && echo "" || echo " (working tree with changes)")"
tmp="$(mktemp)"; log="$(mktemp)"; cpfile="$(mktemp)"; trap 'rm -f "$tmp" "$log" "$cpfile"' EXIT
# In the reactor, so that sibling modules resolve to their target/classes (nothing is installed in ~/.m2);
# each module writes the file in turn and kiln-server, built last, leaves its own classpath.
nice -n 10 mvn -q -o -pl kiln-server -am test-compile dependency:build-classpath -DskipTests \
  -Dmdep.outputFile="$cpfile" -Dmdep.includeScope=test >&2
cp="kiln-server/target/test-classes:kiln-server/target/classes:$(cat "$cpfile")"
load="$(cut -d' ' -f1-3 /proc/loadavg)"
nice -n 10 "$JAVA_HOME/bin/java" -Xmx1g -cp "$cp" dev.kiln.server.MetricsBenchmark >"$tmp" 2>"$log"
{
  echo "# Dashboard benchmark results (pages and metrics)"
  echo
  echo "Run by \`bench/dashboard/run.sh\` on $(date -u +%Y-%m-%d) on top of commit $(git rev-parse --short HEAD)$changes"
  echo "with $("$JAVA_HOME/bin/java" -version 2>&1 | head -n 1). Machine: $(nproc) cores shared with other work;"
  echo "load average $load at the start, $(cut -d' ' -f1-3 /proc/loadavg) at the end. Server and client in one JVM."
  echo
  cat "$tmp"
  echo
  echo "Targets: each page (/fleet is the HTML every page shares; /dashboard/api/* the JSON each page polls) p95 <= 100 ms;"
  echo "a /metrics scrape p95 <= 50 ms."
} >"$here/RESULTS.md"
cat "$here/RESULTS.md"
