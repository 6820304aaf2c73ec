#!/usr/bin/env bash
# The headless browser of the explorer's test: Debian's chromium (apt-get,
# when missing, in CI or with AOCU_INSTALL=1, as root or with sudo) and playwright-core from
# npm, cached under ~/.cache/aocu/. Idempotent: prints the folder holding
# node_modules/playwright-core on stdout; exits 1 (with the reason on
# stderr) if chromium cannot be installed.
#
#   CHROMIUM=/path/to/chromium   use that browser instead of /usr/bin/chromium
set -euo pipefail
PLAYWRIGHT_VERSION=1.65.1
chromium="${CHROMIUM:-/usr/bin/chromium}"
if [[ ! -x "$chromium" ]]; then
  if [[ "${CI:-}" != "true" && "${AOCU_INSTALL:-}" != "1" ]]; then
    echo "browser: $chromium is missing (apt-get install chromium, or AOCU_INSTALL=1 to let this script install it)" >&2
    exit 1
  fi
  command -v apt-get >/dev/null || { echo "browser: $chromium is missing and there is no apt-get" >&2; exit 1; }
  sudo=""
  if [[ $(id -u) != 0 ]]; then
    command -v sudo >/dev/null && sudo -n true 2>/dev/null || { echo "browser: $chromium is missing; install it: apt-get install chromium" >&2; exit 1; }
    sudo="sudo -n"
  fi
  echo "browser: apt-get install chromium" >&2
  $sudo apt-get install -y -qq --no-install-recommends chromium >/dev/null 2>&1 ||
    { $sudo apt-get update -qq >/dev/null && $sudo apt-get install -y -qq --no-install-recommends chromium >/dev/null; }
fi
command -v npm >/dev/null || { echo "browser: npm is required" >&2; exit 1; }
dst="${XDG_CACHE_HOME:-$HOME/.cache}/aocu/playwright-core-$PLAYWRIGHT_VERSION"
if [[ ! -f "$dst/.installed" ]]; then
  echo "browser: npm install playwright-core@$PLAYWRIGHT_VERSION in $dst" >&2
  rm -rf "$dst.tmp"
  mkdir -p "$dst.tmp"
  printf '{"name":"aocu-browser","private":true,"dependencies":{"playwright-core":"%s"}}\n' "$PLAYWRIGHT_VERSION" >"$dst.tmp/package.json"
  # playwright-core downloads no browser (that is the `playwright` package).
  (cd "$dst.tmp" && npm install --no-audit --no-fund --loglevel=error >/dev/null)
  touch "$dst.tmp/.installed"
  rm -rf "$dst"
  mv "$dst.tmp" "$dst"
fi
echo "$dst"
