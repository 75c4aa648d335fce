#!/usr/bin/env bash
# Packing benchmark: best fit beside first fit on 100 simulated hosts and a burst of 5,000 jobs.
# Compiles kiln-core's test sources, runs dev.kiln.core.PackingBenchmark and writes RESULTS.md here.
# Arguments go to the benchmark, e.g. `bench/packing/run.sh seed=7 overcommit=1.0`.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
export JAVA_HOME="${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}"
java="$JAVA_HOME/bin/java"

cd "$root"
nice -n 10 mvn -q -o -pl kiln-core test-compile

results="$here/RESULTS.md"
tmp="$(mktemp)"
trap 'rm -f "$tmp"' EXIT
{
  echo "# Packing benchmark results"
  echo
  echo "Run by \`bench/packing/run.sh${*:+ $*}\` on $(date -u +%Y-%m-%d) with $("$java" -version 2>&1 | head -n 1)."
  echo "Machine: $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')), shared with VM"
  echo "tests running at the same time (load average at start: $(cut -d' ' -f1-3 /proc/loadavg)), so the timings are"
  echo "indicative; the packing figures are deterministic for a seed."
  echo
  nice -n 10 "$java" -Xms256m -Xmx1g -cp kiln-core/target/test-classes:kiln-core/target/classes \
    dev.kiln.core.PackingBenchmark "$@"
  echo
  cat "$here/NOTES.md"
} >"$tmp"
mv "$tmp" "$results"
trap - EXIT
cat "$results"
