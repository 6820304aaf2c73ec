#!/usr/bin/env bash
# Installs WAO (npm wao@0.35.7, the ao testing framework) under
# ~/.cache/aocu/, for test/aoconnect's WAO recipe test. Idempotent: prints
# the folder holding node_modules/wao on stdout.
set -euo pipefail
WAO_VERSION=0.35.7
command -v npm >/dev/null || { echo "wao: npm is required" >&2; exit 1; }
dst="${XDG_CACHE_HOME:-$HOME/.cache}/aocu/wao-$WAO_VERSION"
if [[ ! -f "$dst/.installed" ]]; then
  echo "wao: npm install wao@$WAO_VERSION in $dst (about 1.5 minutes, 230 MB)" >&2
  rm -rf "$dst.tmp"
  mkdir -p "$dst.tmp"
  printf '{"name":"aocu-wao","private":true,"type":"module","dependencies":{"wao":"%s"}}\n' "$WAO_VERSION" >"$dst.tmp/package.json"
  (cd "$dst.tmp" && npm install --no-audit --no-fund --loglevel=error >/dev/null)
  got="$(node -p 'require(process.argv[1] + "/node_modules/wao/package.json").version' "$dst.tmp")"
  [[ "$got" == "$WAO_VERSION" ]] || { echo "wao: installed $got, want $WAO_VERSION" >&2; exit 1; }
  touch "$dst.tmp/.installed"
  rm -rf "$dst"
  mv "$dst.tmp" "$dst"
fi
echo "$dst"
