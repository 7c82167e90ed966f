#!/usr/bin/env bash
# Install the one system package the lab needs, and only when it is missing:
#   Java 17 or newer: the embedded Kafka broker and Spark run on it.
# Kafka comes as jars (jvm/kafka.lock), Redis (Valkey) and S3 (SeaweedFS) as Python wheels: no
# other system package is needed. `make lab` and `make test` run this script by themselves when
# `java` is missing or too old; `make system-deps` runs it up front.
#
# Debian/Ubuntu: apt-get (with sudo when not root).  macOS: Homebrew (never sudo).
# Safe to run again: it installs nothing when Java is present.
set -euo pipefail

MIN_JAVA=17
say() { printf '%s\n' "$*"; }
die() { printf 'install-system-deps: %s\n' "$*" >&2; exit 1; }

java_bin() {
  if [ -n "${JAVA_HOME:-}" ] && [ -x "$JAVA_HOME/bin/java" ]; then echo "$JAVA_HOME/bin/java"; else echo java; fi
}

java_major() {
  # prints the major version of `java` (17 for "17.0.15", 8 for "1.8.0_392"), or nothing
  local out
  command -v "$(java_bin)" >/dev/null 2>&1 || return 0
  out=$("$(java_bin)" -version 2>&1 | sed -n 's/.*version "\([0-9][0-9]*\)\(\.\([0-9][0-9]*\)\)\{0,1\}.*/\1 \3/p' | head -n1)
  set -- $out
  if [ "${1:-}" = "1" ]; then echo "${2:-0}"; else echo "${1:-}"; fi
}

need_java() { local m; m=$(java_major); [ -z "$m" ] || [ "$m" -lt "$MIN_JAVA" ]; }

if [ "${1:-}" = "--check" ]; then  # exit 0 when Java is fine, 1 when this script would install it
  need_java && exit 1 || exit 0
fi

if ! need_java; then
  say "system packages: all present (Java $(java_major) at $(command -v "$(java_bin)"))"
  exit 0
fi

say "Java $MIN_JAVA+ is missing (the embedded Kafka broker and Spark run on it): installing it"

sudo_prefix() {
  if [ "$(id -u)" -eq 0 ]; then echo ""
  elif command -v sudo >/dev/null 2>&1; then echo "sudo"
  else die "Java $MIN_JAVA+ is missing and this user is not root and has no sudo: install a JRE $MIN_JAVA+ (e.g. openjdk-17-jre-headless) and set JAVA_HOME, then run make again"
  fi
}

apt_has() { # the package has an installable candidate
  local cand
  cand=$(apt-cache policy "$1" 2>/dev/null | awk '/Candidate:/ {print $2}')
  [ -n "$cand" ] && [ "$cand" != "(none)" ]
}

install_debian() {
  local SUDO java_pkg=""
  SUDO=$(sudo_prefix)
  $SUDO apt-get update -qq
  for candidate in openjdk-17-jre-headless openjdk-21-jre-headless openjdk-25-jre-headless default-jre-headless; do
    if apt_has "$candidate"; then java_pkg=$candidate; break; fi
  done
  [ -n "$java_pkg" ] || die "no Java $MIN_JAVA+ package found in apt: install a JRE $MIN_JAVA+ yourself and set JAVA_HOME"
  say "installing with apt-get: $java_pkg"
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "$java_pkg"
  if need_java; then
    say "note: $java_pkg is installed but \`java\` is still older than $MIN_JAVA; choose it with"
    say "      \`sudo update-alternatives --config java\` or set JAVA_HOME"
  fi
}

install_macos() {
  command -v brew >/dev/null 2>&1 || die "Java $MIN_JAVA+ is missing and Homebrew is not installed: install a JDK $MIN_JAVA+ (or Homebrew), then run make again"
  say "installing with brew: openjdk@17"
  brew install openjdk@17
  if need_java; then
    say "note: point JAVA_HOME at Homebrew's JDK, e.g."
    say "      export JAVA_HOME=\"$(brew --prefix openjdk@17)/libexec/openjdk.jdk/Contents/Home\""
  fi
}

case "$(uname -s)" in
  Linux)
    command -v apt-get >/dev/null 2>&1 || die "Java $MIN_JAVA+ is missing and there is no apt-get here: install a JRE $MIN_JAVA+ with your package manager and set JAVA_HOME"
    install_debian ;;
  Darwin) install_macos ;;
  *) die "unsupported system $(uname -s): install Java $MIN_JAVA+ yourself and set JAVA_HOME" ;;
esac

need_java && die "Java $MIN_JAVA+ is still missing (java -version: $("$(java_bin)" -version 2>&1 | head -n1))"
say "ok: Java $(java_major)"
