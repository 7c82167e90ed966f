#!/usr/bin/env bash
# Install the system packages the lab's embedded stack needs, and only those that are missing:
#   - redis-server          (the embedded Redis)
#   - Java 17 or newer      (Spark 4), only when `java -version` is missing or older than 17
# Kafka (tansu) and S3 (SeaweedFS) come as Python wheels in .venv: nothing to install here.
#
# Debian/Ubuntu: apt-get (with sudo when not root).  macOS: Homebrew (never sudo).
# Safe to run again: it installs nothing when everything is present.
set -euo pipefail

MIN_JAVA=17
say() { printf '%s\n' "$*"; }
die() { printf 'install-system-deps: %s\n' "$*" >&2; exit 1; }

java_major() {
  # prints the major version of `java` (17 for "17.0.15", 8 for "1.8.0_392"), or nothing
  local java_bin="java" out
  if [ -n "${JAVA_HOME:-}" ] && [ -x "$JAVA_HOME/bin/java" ]; then java_bin="$JAVA_HOME/bin/java"; fi
  command -v "$java_bin" >/dev/null 2>&1 || return 0
  out=$("$java_bin" -version 2>&1 | sed -n 's/.*version "\([0-9][0-9]*\)\(\.\([0-9][0-9]*\)\)\{0,1\}.*/\1 \3/p' | head -n1)
  set -- $out
  if [ "${1:-}" = "1" ]; then echo "${2:-0}"; else echo "${1:-}"; fi
}

need_java() { local m; m=$(java_major); [ -z "$m" ] || [ "$m" -lt "$MIN_JAVA" ]; }
need_redis() { ! command -v redis-server >/dev/null 2>&1; }

sudo_prefix() {
  if [ "$(id -u)" -eq 0 ]; then echo ""
  elif command -v sudo >/dev/null 2>&1; then echo "sudo"
  else die "not root and no sudo: run this script as root, or install ${*} yourself"
  fi
}

apt_has() { # the package has an installable candidate
  local cand
  cand=$(apt-cache policy "$1" 2>/dev/null | awk '/Candidate:/ {print $2}')
  [ -n "$cand" ] && [ "$cand" != "(none)" ]
}

install_debian() {
  local pkgs=() redis_new=0
  need_redis && { pkgs+=(redis-server); redis_new=1; }
  local java_pkg=""
  if need_java; then
    local SUDO; SUDO=$(sudo_prefix "Java $MIN_JAVA+")
    $SUDO apt-get update -qq
    for candidate in openjdk-17-jre-headless openjdk-21-jre-headless default-jre-headless; do
      if apt_has "$candidate"; then java_pkg=$candidate; break; fi
    done
    [ -n "$java_pkg" ] || die "no Java $MIN_JAVA+ package found in apt; install a JDK $MIN_JAVA+ and set JAVA_HOME"
    pkgs+=("$java_pkg")
  fi
  if [ ${#pkgs[@]} -eq 0 ]; then
    say "system packages: all present (redis-server, Java $(java_major))"
    return 0
  fi
  local SUDO; SUDO=$(sudo_prefix "${pkgs[*]}")
  say "installing with apt-get: ${pkgs[*]}"
  [ -n "$java_pkg" ] || $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${pkgs[@]}"
  if [ "$redis_new" = 1 ] && [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
    # Debian starts a system-wide Redis on 6379, the lab's own port: the lab runs its own.
    say "stopping the system redis-server service the package started (the lab starts its own on 127.0.0.1:6379)"
    $SUDO systemctl disable --now redis-server >/dev/null 2>&1 || true
  fi
  if [ -n "$java_pkg" ] && need_java; then
    say "note: $java_pkg is installed but \`java\` is still older than $MIN_JAVA; choose it with"
    say "      \`sudo update-alternatives --config java\` or set JAVA_HOME"
  fi
}

install_macos() {
  command -v brew >/dev/null 2>&1 || die "Homebrew is missing: install it from https://brew.sh, then run this again"
  local pkgs=()
  need_redis && pkgs+=(redis)
  need_java && pkgs+=(openjdk@17)
  if [ ${#pkgs[@]} -eq 0 ]; then
    say "system packages: all present (redis-server, Java $(java_major))"
    return 0
  fi
  say "installing with brew: ${pkgs[*]}"
  brew install "${pkgs[@]}"
  if [[ " ${pkgs[*]} " == *" openjdk@17 "* ]] && need_java; then
    say "note: point JAVA_HOME at Homebrew's JDK, e.g."
    say "      export JAVA_HOME=\"$(brew --prefix openjdk@17)/libexec/openjdk.jdk/Contents/Home\""
  fi
}

case "$(uname -s)" in
  Linux)
    if command -v apt-get >/dev/null 2>&1; then install_debian
    else
      need_redis || need_java || { say "system packages: all present"; exit 0; }
      die "no apt-get here: install redis-server and Java $MIN_JAVA+ (JRE) with your package manager"
    fi ;;
  Darwin) install_macos ;;
  *) die "unsupported system $(uname -s): install redis-server and Java $MIN_JAVA+ yourself" ;;
esac

need_redis && die "redis-server is still missing after the install"
need_java && die "Java $MIN_JAVA+ is still missing (java -version: $(java -version 2>&1 | head -n1))"
say "ok: $(redis-server --version | cut -d' ' -f1-3), Java $(java_major)"
