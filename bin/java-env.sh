# Sourced by Kiln's scripts: picks a JDK 21 or newer (Kiln targets Java 21) and exports JAVA_HOME.
# The version comes from the JDK's `release` file: starting a JVM just to ask would cost ~0.2 s per call.
kiln_java_version() {
  sed -n 's/^JAVA_VERSION="\([0-9]*\).*/\1/p' "$1/release" 2>/dev/null
}
kiln_pick_jdk() {
  local candidate version
  for candidate in "${JAVA_HOME:-}" /usr/lib/jvm/*; do
    [ -n "$candidate" ] && [ -x "$candidate/bin/javac" ] || continue
    version=$(kiln_java_version "$candidate")
    if [ "${version:-0}" -ge 21 ] 2>/dev/null; then
      export JAVA_HOME=$candidate
      return 0
    fi
  done
  echo "kiln: no JDK 21 or newer found (looked at \$JAVA_HOME and /usr/lib/jvm/*); install one, e.g. Temurin 21" >&2
  return 1
}
