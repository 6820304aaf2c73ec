#!/usr/bin/env bash
# Measures `aocu serve` (a separate process, env config only) the way the
# reference CU was measured on this machine (research/ref-cu-bench.md): cold
# replay, hot /result, repeat GETs, dry-runs (sequential, identical,
# concurrent), /state and a cold restart, with aocu's peak RSS per phase. It
# prints a markdown table against the reference's figures, then the goals of
# issue 13 (hot and dry-run p50/p99, dry-runs of 20 clients, /state time to
# first byte) with the load average, and writes the raw JSON to OUT.
#
#   N=1000 MODULE=aos2_0_6 ./scripts/cubench.sh [extra tools/cubench flags]
#   MODULE=aos2_0_4_32 ./scripts/cubench.sh          # wasm32-unknown-emscripten-metering
#   N=100 ./scripts/cubench.sh -dry-seq 10 -dry-clients 4 -dry-per 2 -keep
#
# With -coldstart it measures instead the time a fresh aocu process takes to
# serve a new message of the process: (a) from nothing, (b) from the file
# checkpoint a SIGTERM writes, (c) from an Arweave checkpoint uploaded to the
# local gateway, with each one's starting point, messages evaluated and peak
# RSS (-situations cold,file,arweave picks them):
#
#   N=10000 ./scripts/cubench.sh -coldstart
#
# It also runs, in the same run and on the same process, `aocu eval` and the
# reference loader (tools/refloader, node) on the cold phase's stream, and with
# REF=1 (or AOCU_ORACLE_DIR set) the live reference CU (scripts/oracle.sh
# installs it) after aocu's phases: a cold replay of the whole stream (a few
# messages per second: minutes at N=1000), -ref-hot new messages and dry-runs,
# 20 concurrent dry-runs and /state, with its /result bodies compared to aocu's.
#
#   REF=1 N=300 ./scripts/cubench.sh
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
N="${N:-1000}"
MODULE="${MODULE:-aos2_0_6}"
MODULE="${MODULE%.wasm}"
OUT="${OUT:-$(mktemp -t cubench-XXXX.json)}"

[[ -f ".fixtures/modules/$MODULE.wasm" ]] || ./scripts/fixtures.sh
export CGO_ENABLED=1
mkdir -p bin
go build -o bin/aocu ./cmd/aocu
bench="$(mktemp -d)/cubench"
trap 'rm -rf "$(dirname "$bench")"' EXIT
go build -o "$bench" ./tools/cubench
echo "cubench: aocu at $(git rev-parse --short HEAD 2>/dev/null || echo '?')$(git diff --quiet 2>/dev/null || echo ' (dirty tree)'), load average: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
ref=()
if [[ -n "${AOCU_ORACLE_DIR:-}" ]]; then
  ref=(-ref "$AOCU_ORACLE_DIR")
elif [[ "${REF:-}" == 1 ]]; then
  ref=(-ref "$(./scripts/oracle.sh)")
fi
"$bench" -aocu bin/aocu -n "$N" -module "$MODULE.wasm" -json "$OUT" "${ref[@]}" "$@"
