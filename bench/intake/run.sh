#!/usr/bin/env bash
# Intake campaign: 10,000 generated malformed GitHub deliveries (signed with the webhook secret, signed with
# another, unsigned; broken headers, truncated, mutated, mistyped, huge, deeply nested, not UTF-8, form-encoded)
# and API bodies (jobs, hosts, an agent's enrolment, sync and logs) sent over loopback to a running server
# (in this JVM, port 0, its App on the fake GitHub), once on SQLite and once on PostgreSQL. It counts the answers
# by status and requires 0 answers 5xx, every verified delivery stored and processed, and nothing else in the
# database changed but what requests answered 2xx made (see IntakeCampaign). Writes RESULTS.md here.
# Usage: bench/intake/run.sh [REQUESTS]   (default 10000)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
count="${1:-10000}"
export JAVA_HOME="${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}"
java="$JAVA_HOME/bin/java"
cd "$root"
changes="$(git diff --quiet HEAD -- . && echo "" || echo " (working tree with changes)")"
# In the reactor, so that the sibling modules resolve to their target/classes (nothing is installed in ~/.m2).
nice -n 10 mvn -q -o -pl kiln-server -am test-compile dependency:build-classpath -DskipTests \
  -Dmdep.outputFile=target/intake-classpath.txt -Dmdep.includeScope=test >&2
cp="kiln-server/target/test-classes:kiln-server/target/classes:$(cat kiln-server/target/intake-classpath.txt)"
tmp="$(mktemp)"
log="$(mktemp)"
trap 'rm -f "$tmp" "$log"' EXIT
started=$(date +%s)
status=0
nice -n 10 "$java" -Xmx1g -Dorg.slf4j.simpleLogger.defaultLogLevel=warn -cp "$cp" dev.kiln.server.IntakeCampaign "$count" \
  >"$tmp" 2>"$log" || status=$?
results="$here/RESULTS.md"
{
  echo "# Intake campaign results"
  echo
  echo "Run by \`bench/intake/run.sh $count\` on $(date -u +%Y-%m-%d) on top of commit $(git rev-parse --short HEAD)$changes"
  echo "with $("$java" -version 2>&1 | head -n 1), in $(( $(date +%s) - started )) s, exit status $status."
  echo "Server warnings logged: $(grep -c ' WARN ' "$log" || true), of which $(grep ' WARN ' "$log" | grep -c "refused: ping" || true) the refused \`ping\`s (403 names both App ids)."
  echo
  cat "$tmp"
  echo
  cat "$here/NOTES.md"
} >"$results"
cat "$results"
exit "$status"
