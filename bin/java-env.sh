# Sourced by Kiln's scripts: picks a JDK 21 or newer (Kiln targets Java 21) and exports JAVA_HOME.
# The version comes from the JDK's `release` file, read with shell builtins into a variable (not
# echoed into $(...), which forks): starting a JVM, or even sed, just to ask would cost on every `kiln` call.
kiln_java_version() {
  local line
  KILN_JAVA_VERSION=
  [ -r "$1/release" ] || return 0
  while IFS= read -r line; do
    case $line in
      JAVA_VERSION=*) line=${line#JAVA_VERSION=\"}; KILN_JAVA_VERSION=${line%%[!0-9]*}; return 0 ;;
    esac
  done < "$1/release"
}
kiln_pick_jdk() {
  local candidate
  for candidate in "${JAVA_HOME:-}" /usr/lib/jvm/*; do
    [ -n "$candidate" ] && [ -x "$candidate/bin/javac" ] || continue
    kiln_java_version "$candidate"
    if [ "${KILN_JAVA_VERSION:-0}" -ge 21 ] 2>/dev/null; then
      export JAVA_HOME=$candidate
      return 0
    fi
  done
  echo "kiln: no JDK 21 or newer found (looked at \$JAVA_HOME and /usr/lib/jvm/*); install one, e.g. Temurin 21" >&2
  return 1
}
