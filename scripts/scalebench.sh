#!/usr/bin/env bash
# Many idle processes on one machine (issue 12): N aos2_0_6 processes, each
# with a small KV set by a few messages, created by posting signed items
# straight to a local SU in parallel and evaluated once; then one client
# switching between idle processes (the restore cost), and CLIENTS concurrent
# clients dry-running and messaging random processes for DURATION, all at
# `aocu serve`'s default settings. Prints a markdown table (throughput, p50/p99,
# peak RSS, disk, wrong answers) and writes the raw JSON to OUT. Not part of
# ./scripts/test.sh (it takes minutes).
#
#   ./scripts/scalebench.sh                 # N=1000, 30 s of load
#   N=10000 DURATION=60s ./scripts/scalebench.sh
#   QUICK=1 ./scripts/scalebench.sh          # N=50, 10 s: a smoke run (about a minute here)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
if [[ -n "${QUICK:-}" ]]; then
	N="${N:-50}"
	DURATION="${DURATION:-10s}"
	set -- -switch 30 "$@"
fi
N="${N:-1000}"
DURATION="${DURATION:-30s}"
CLIENTS="${CLIENTS:-20}"
OUT="${OUT:-$(mktemp -t scalebench-XXXX.json)}"

[[ -f .fixtures/modules/aos2_0_6.wasm ]] || ./scripts/fixtures.sh
export CGO_ENABLED=1
mkdir -p bin
go build -o bin/aocu ./cmd/aocu
bench="$(mktemp -d)/scalebench"
trap 'rm -rf "$(dirname "$bench")"' EXIT
go build -o "$bench" ./tools/scalebench
echo "scalebench: aocu at $(git rev-parse --short HEAD 2>/dev/null || echo '?')$(git diff --quiet 2>/dev/null || echo ' (dirty tree)'), load average: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
"$bench" -aocu bin/aocu -n "$N" -duration "$DURATION" -clients "$CLIENTS" -json "$OUT" "$@"
