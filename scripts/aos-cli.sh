#!/usr/bin/env bash
# Installs a copy of the aos command line (permaweb/aos 2.0.16, the unmodified
# oracle in ../shared/oracles/aos-cli) under ~/.cache/aocu/, for
# test/aoconnect's TestAOSCLI. The copy's package.json pins
# @permaweb/aoconnect 0.0.98 (the registry does not serve 0.0.97) and drops
# the dev dependencies and the workspaces that are not in the copy. Idempotent: prints the install's
# directory (the one holding bin/aos.js) on stdout.
#
#   AOCU_ORACLES=dir   where the oracles are (default: ../shared/oracles from the
#                      repository, or from its parent for a git worktree)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
src="${AOCU_ORACLES:-}"
if [[ -z "$src" ]]; then
  for d in "$root/../shared/oracles" "$root/../../shared/oracles"; do
    [[ -d "$d/aos-cli" ]] && { src="$d"; break; }
  done
fi
src="${src:+$src/aos-cli}"
if [[ -z "$src" || ! -f "$src/package.json" ]]; then
  echo "aos-cli: the aos CLI oracle (shared/oracles/aos-cli) was not found; set AOCU_ORACLES" >&2
  exit 1
fi
command -v npm >/dev/null || { echo "aos-cli: npm is required" >&2; exit 1; }
# The tests drive aos in a pseudo-terminal with tmux.
if ! command -v tmux >/dev/null; then
  if [[ "${CI:-}" == "true" ]] && command -v apt-get >/dev/null; then
    echo "aos-cli: apt-get install tmux" >&2
    sudo=""; [[ $(id -u) == 0 ]] || sudo="sudo"
    $sudo apt-get install -y -qq tmux >/dev/null || { $sudo apt-get update -qq && $sudo apt-get install -y -qq tmux >/dev/null; }
  else
    echo "aos-cli: tmux is required to drive aos in tests" >&2
  fi
fi
AOCONNECT=0.0.98
# The cache key: the oracle's package.json and lockfile, and the override.
key="$(cat "$src/package.json" "$src/package-lock.json" <(echo "$AOCONNECT lockfile") | sha256sum | cut -c1-16)"
dst="${XDG_CACHE_HOME:-$HOME/.cache}/aocu/aos-cli-$key"
if [[ ! -f "$dst/.installed" ]]; then
  echo "aos-cli: installing a copy of $src in $dst (npm, about a minute)" >&2
  rm -rf "$dst.tmp"
  mkdir -p "$dst.tmp"
  # With its lockfile: the versions aos 2.0.16 was released with, but aoconnect's.
  cp -r "$src/bin" "$src/src" "$src/blueprints" "$src/package.json" "$src/package-lock.json" "$src/LICENSE" "$dst.tmp/"
  node -e '
    const fs = require("fs"), f = process.argv[1] + "/package.json";
    const p = JSON.parse(fs.readFileSync(f, "utf8"));
    p.dependencies["@permaweb/aoconnect"] = process.argv[2];
    delete p.devDependencies; delete p.workspaces; delete p.scripts;
    fs.writeFileSync(f, JSON.stringify(p, null, 2));' "$dst.tmp" "$AOCONNECT"
  (cd "$dst.tmp" && npm install --omit=dev --no-audit --no-fund --loglevel=error >/dev/null)
  got="$(node -p 'require(process.argv[1] + "/node_modules/@permaweb/aoconnect/package.json").version' "$dst.tmp")"
  [[ "$got" == "$AOCONNECT" ]] || { echo "aos-cli: installed aoconnect $got, want $AOCONNECT" >&2; exit 1; }
  touch "$dst.tmp/.installed"
  rm -rf "$dst"
  mv "$dst.tmp" "$dst"
fi
echo "$dst"
