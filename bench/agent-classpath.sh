#!/usr/bin/env bash
# Compiles kiln-agent's test sources with every module they need and prints the classpath that runs
# them (the agent benchmarks: bench/fleet, bench/github). The modules' own classes come first:
# dependency:build-classpath alone names the jars installed in ~/.m2, which may be older than the
# code being measured. Run from anywhere; paths are relative to the repository's root.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
nice -n 10 mvn -q -o -pl kiln-agent -am test-compile -DskipTests >&2
deps="$(nice -n 10 mvn -q -o -pl kiln-agent dependency:build-classpath -Dmdep.outputFile=/dev/stdout -Dmdep.includeScope=test)"
cp="kiln-agent/target/test-classes:kiln-agent/target/classes"
for module in kiln-core kiln-api kiln-vm kiln-github kiln-server kiln-testkit; do
  cp="$cp:$module/target/classes"
done
echo "$cp:$deps"
