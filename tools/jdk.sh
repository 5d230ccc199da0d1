# Sourced by ./tinyllm and bench/run: prints the path of a java from a JDK 25 or newer (JAVA_HOME if it
# is one, else the first under /usr/lib/jvm), or nothing.
java_major() { # the feature version of the java at $1, or nothing
  "$1" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java\.specification\.version = \([0-9]*\).*/\1/p' | head -n 1
}

find_java() {
  local v candidate
  if [ -n "${JAVA_HOME:-}" ] && [ -x "$JAVA_HOME/bin/java" ]; then
    v="$(java_major "$JAVA_HOME/bin/java")"
    if [ -n "$v" ] && [ "$v" -ge 25 ]; then echo "$JAVA_HOME/bin/java"; return; fi
  fi
  for candidate in /usr/lib/jvm/*/bin/java; do
    [ -x "$candidate" ] || continue
    v="$(java_major "$candidate")"
    if [ -n "$v" ] && [ "$v" -ge 25 ]; then echo "$candidate"; return; fi
  done
}
