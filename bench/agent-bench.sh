# Sourced by the agent benchmarks (bench/fleet, bench/github). `agent_benchmark MAIN [ARGS]` compiles kiln-agent's
# test sources with every module they need and runs MAIN in one JVM (-Xmx2g, nice 10). Its output is left
# in $tmp, its log in $log (both removed on exit), and the opening of the results' header in $run_header.
# The modules' own classes come first on the classpath.
agent_benchmark() {
  local main=$1 root java cp deps module started load_start changes
  shift
  root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
  export JAVA_HOME="${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}"
  java="$JAVA_HOME/bin/java"
  cd "$root"
  # Read before anything is written: the results file itself is part of the tree.
  changes="$(git diff --quiet HEAD -- . && echo "" || echo " (working tree with changes)")"
  tmp="$(mktemp)"
  log="$(mktemp)"
  trap 'rm -f "$tmp" "$log"' EXIT
  # In the reactor, with a phase, so that the sibling modules resolve to their classes: nothing is installed in ~/.m2.
  # Each module writes the file in turn; kiln-agent comes last.
  nice -n 10 mvn -q -o -pl kiln-agent -am test-compile dependency:build-classpath -DskipTests -Dmdep.outputFile="$tmp" \
    -Dmdep.includeScope=test >&2
  deps="$(cat "$tmp")"
  cp="kiln-agent/target/test-classes:kiln-agent/target/classes"
  for module in kiln-core kiln-api kiln-images kiln-vm kiln-github kiln-gitlab kiln-server kiln-testkit; do
    cp="$cp:$module/target/classes"
  done
  load_start="$(cut -d' ' -f1-3 /proc/loadavg)"
  started=$(date +%s)
  nice -n 10 "$java" -Xmx2g -cp "$cp:$deps" "$main" "$@" >"$tmp" 2>"$log"
  run_header="on $(date -u +%Y-%m-%d) on top of commit $(git rev-parse --short HEAD)$changes with $("$java" -version 2>&1 | head -n 1),
in $(( $(date +%s) - started )) s. Machine: $(nproc) cores shared with other work; load average (1, 5, 15 min)
$load_start at the start and $(cut -d' ' -f1-3 /proc/loadavg) at the end."
}
