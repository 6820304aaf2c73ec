#!/usr/bin/env bash
# Makes HAProxy available for the cluster test (internal/servecmd
# TestClusterBehindHAProxy: three `aocu serve` behind HAProxy hashing on the
# process id) and prints the path of its binary, and only that, on stdout.
#
#   bin="$(./scripts/haproxy.sh)"
#
# AOCU_HAPROXY, if set, is the answer. Else `haproxy` on PATH (or in /usr/sbin),
# else the Debian package is installed with apt-get (as root, or through
# passwordless sudo). Everything but the path goes to stderr.
set -euo pipefail
log() { echo "haproxy.sh: $*" >&2; }
if [[ -n "${AOCU_HAPROXY:-}" ]]; then
  printf '%s\n' "$AOCU_HAPROXY"
  exit 0
fi
find_bin() {
  command -v haproxy 2>/dev/null && return 0
  [[ -x /usr/sbin/haproxy ]] && { echo /usr/sbin/haproxy; return 0; }
  return 1
}
if bin="$(find_bin)"; then
  printf '%s\n' "$bin"
  exit 0
fi
command -v apt-get >/dev/null 2>&1 || { log "HAProxy is not installed and there is no apt-get to install it"; exit 1; }
as_root() {
  if [[ "$(id -u)" -eq 0 ]]; then "$@"
  elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then sudo -n "$@"
  else return 1
  fi
}
as_root true || { log "installing HAProxy needs root or passwordless sudo"; exit 1; }
log "installing HAProxy with apt-get (once)"
apt=(env DEBIAN_FRONTEND=noninteractive apt-get -q -y -o Dpkg::Use-Pty=0)
# (the package's service is not started: policy-rc.d would be needed on some
# images; the test runs its own haproxy in the foreground)
as_root "${apt[@]}" install --no-install-recommends haproxy >&2 ||
  { as_root "${apt[@]}" update >&2 && as_root "${apt[@]}" install --no-install-recommends haproxy >&2; } ||
  { log "apt-get install haproxy failed"; exit 1; }
bin="$(find_bin)" || { log "haproxy is still not found after installing it"; exit 1; }
printf '%s\n' "$bin"
