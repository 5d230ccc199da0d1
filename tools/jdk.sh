# Sourced by ./tinyllm, bench/run and .ci/run: prints the path of a java from a JDK 25 or newer (JAVA_HOME
# if it is one, else the first under /usr/lib/jvm), or nothing.
#
# Reading a JDK's version means starting it (~0.1 s each, one per installed JDK), so the answer is cached
# in ~/.cache/tinyllm/java, keyed by JAVA_HOME; a cached java that is gone or no longer executable is
# looked up again. TINYLLM_JAVA_CACHE names another cache file ("" turns the cache off).
java_major() { # the feature version of the java at $1, or nothing
  "$1" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java\.specification\.version = \([0-9]*\).*/\1/p' | head -n 1
}

find_java_uncached() {
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

find_java() {
  local cache="${TINYLLM_JAVA_CACHE-${XDG_CACHE_HOME:-$HOME/.cache}/tinyllm/java}" key="JAVA_HOME=${JAVA_HOME:-}" cached found
  if [ -n "$cache" ] && [ -f "$cache" ] && [ "$(head -n 1 "$cache")" = "$key" ]; then
    cached="$(sed -n 2p "$cache")"
    if [ -n "$cached" ] && [ -x "$cached" ]; then echo "$cached"; return; fi
  fi
  found="$(find_java_uncached)"
  if [ -n "$cache" ] && [ -n "$found" ]; then
    mkdir -p "$(dirname "$cache")" 2>/dev/null && printf '%s\n%s\n' "$key" "$found" >"$cache.$$" 2>/dev/null \
      && mv -f "$cache.$$" "$cache" 2>/dev/null || rm -f "$cache.$$" 2>/dev/null || true
  fi
  echo "$found"
}
