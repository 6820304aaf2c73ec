#!/usr/bin/env bash
# Prepares permaweb/ao's feat/hb-unit CU (the Node sidecar HyperBEAM runs) for
# internal/servecmd's TestHBUSideBySide, offline but for the npm registry.
#
#   tools/hburef/prepare.sh <permaweb/ao git dir> [out dir]
#
# The branch is not in ../shared: give a clone or mirror of
# https://github.com/permaweb/ao that has feat/hb-unit. Its servers/cu is
# installed over the reference CU's node_modules (../shared/oracles/ao-cu,
# installed as its README says, cached under ~/.cache/aocu/oracle/<hash>/cu),
# with @permaweb/ao-loader 0.0.49: the branch pins 0.0.48, which the npm
# registry does not serve (0.0.47+ behave alike for the env strings).
# It prints the environment for the test.
set -euo pipefail
src="${1:?usage: prepare.sh <permaweb/ao git dir> [out dir]}"
out="${2:-$HOME/.cache/aocu/hbu-ref}"
here="$(cd "$(dirname "$0")" && pwd)"
oracle="$(ls -d "$HOME"/.cache/aocu/oracle/*/cu 2>/dev/null | head -1)"
node="$(ls "$HOME"/.cache/aocu/oracle/*/node/node_modules/node/bin/node 2>/dev/null | head -1)"
[[ -d "$oracle/node_modules" && -x "$node" ]] || { echo "prepare: install the reference CU first (../shared/oracles/README.md)" >&2; exit 1; }
commit="$(git --git-dir="$src" rev-parse feat/hb-unit 2>/dev/null || git -C "$src" rev-parse feat/hb-unit)"
cu="$out/$commit/cu"
if [[ ! -f "$cu/.ready" ]]; then
  rm -rf "$cu" && mkdir -p "$cu"
  (git --git-dir="$src" archive "$commit" servers/cu/src servers/cu/package.json 2>/dev/null ||
    git -C "$src" archive "$commit" servers/cu/src servers/cu/package.json) | tar -x --strip-components=2 -C "$cu"
  cp -a "$oracle/node_modules" "$cu/"
  rm -rf "$cu/node_modules/@permaweb/ao-loader" && mkdir -p "$cu/node_modules/@permaweb/ao-loader"
  tmp="$(mktemp -d)"
  (cd "$tmp" && npm pack --silent @permaweb/ao-loader@0.0.49 >/dev/null)
  tar -xzf "$tmp"/permaweb-ao-loader-0.0.49.tgz -C "$cu/node_modules/@permaweb/ao-loader" --strip-components=1
  rm -rf "$tmp"
  touch "$cu/.ready"
fi
echo "AOCU_HBU_REF_CU=$cu AOCU_NODE22=$node AOCU_HBU_REF_PRELOAD=$here/offline.mjs"
