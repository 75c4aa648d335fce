# Sourced by Kiln's scripts: picks a JDK 21 or newer (Kiln targets Java 21) and exports JAVA_HOME.
kiln_java_version() { "$1/bin/java" -XshowSettings:properties -version 2>&1 | awk -F' = ' '/java.specification.version/ {print $2}'; }
kiln_pick_jdk() {
  local candidate version
  for candidate in "${JAVA_HOME:-}" /usr/lib/jvm/*; do
    [ -n "$candidate" ] && [ -x "$candidate/bin/javac" ] || continue
    version=$(kiln_java_version "$candidate")
    if [ "${version%%.*}" -ge 21 ] 2>/dev/null; then
      export JAVA_HOME=$candidate
      return 0
    fi
  done
  echo "kiln: no JDK 21 or newer found (looked at \$JAVA_HOME and /usr/lib/jvm/*); install one, e.g. Temurin 21" >&2
  return 1
}
