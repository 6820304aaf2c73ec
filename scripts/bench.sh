#!/usr/bin/env bash
# Benchmarks aocu's loader against the reference loader (@permaweb/ao-loader
# 0.0.49 in node) on this machine, in one run, on the same scenario files, and
# prints a markdown table with ratios (reference time / aocu time: >1 means
# aocu is faster). Every measurement runs ROUNDS times (default 3), the two
# implementations alternating, and the table shows the median of the rounds.
#
#   ROUNDS=3 ./scripts/bench.sh [results.jsonl]
#
# With AOCU_LEGACY_FIXTURES naming the old permaweb/ao test modules
# (docs/legacy-formats.md §6), it also times a stream of messages on the
# pre-metered legacy formats (tools/refloader/bench-legacy): emscripten
# (emscripten/process.wasm), emscripten2 (emscripten2/aos.wasm) and
# emscripten3 (emscripten3/AOS.wasm, on the emscripten2 aos's messages).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
./scripts/fixtures.sh
out="${1:-$(mktemp -t aocu-bench-XXXX.jsonl)}"
: > "$out"
# aocu runs each measurement on both of its tiers: Cranelift and the
# ahead-of-time tier (wasm2c from fixtures.sh + cc; each module compiled once,
# cached in the user's cache directory).
export AOCU_WASM2C="${AOCU_WASM2C:-node $root/.fixtures/wabt/node_modules/wabt/bin/wasm2c}"
bin="$(mktemp -d)/aocu-bench"
go build -o "$bin" ./tools/bench
S=tools/refloader/scenarios
CU_MSGS="${CU_MSGS:-50}"   # the reference's CU mode copies ~110 MB twice per message: keep it short
ROUNDS="${ROUNDS:-3}"

for round in $(seq "$ROUNDS"); do
for spec in aos2_0_6:wasm64-unknown-emscripten-draft_2024_02_15:env-wasm64 aos2_0_4_32:wasm32-unknown-emscripten4:env-wasm32; do
  IFS=: read -r mod fmt env <<<"$spec"
  m=".fixtures/modules/$mod.wasm"
  run() { # label scenario skip limit impl [mode]
    local label=$1 sc=$2 skip=$3 limit=$4 impl=$5 mode=${6:-}
    echo "bench: $mod $label $impl $mode" >&2
    if [[ $impl == aocu ]]; then
      "$bin" --tier "${mode:-cranelift}" --module "$m" --format "$fmt" --env "$S/$sc/$env.json" --scenario "$S/$sc" --skip "$skip" --limit "$limit"
    else
      TZ=UTC node tools/refloader/bench.cjs --module "$m" --format "$fmt" --env "$S/$sc/$env.json" --scenario "$S/$sc" --skip "$skip" --limit "$limit" --mode "$mode"
    fi | sed "s/^{/{\"label\":\"$label\",\"mod\":\"$mod\",/" >> "$out"
  }
  run setget bench 2 1000 aocu
  run setget bench 2 1000 aocu aot
  run setget bench 2 1000 ref unsafe
  run setget-cu bench 2 "$CU_MSGS" ref cu
  run heavy heavy 1 1 aocu
  run heavy heavy 1 1 aocu aot
  run heavy heavy 1 1 ref unsafe
  run grow grow 3 1000 aocu
  run grow grow 3 1000 aocu aot
  run grow grow 3 1000 ref unsafe
done
if [[ -n ${AOCU_LEGACY_FIXTURES:-} ]]; then
  for spec in em1:emscripten/process.wasm:wasm32-unknown-emscripten:em1 em2:emscripten2/aos.wasm:wasm32-unknown-emscripten2:em2 \
    em3:emscripten3/AOS.wasm:wasm32-unknown-emscripten3:em2; do
    IFS=: read -r mod file fmt sc <<<"$spec"
    L=tools/refloader/bench-legacy/$sc
    for impl in aocu ref; do
      echo "bench: legacy $mod $impl" >&2
      if [[ $impl == aocu ]]; then
        "$bin" --module "$AOCU_LEGACY_FIXTURES/$file" --format "$fmt" --env "$L/env.json" --scenario "$L" --skip 1 --limit "${LEGACY_MSGS:-200}"
      else
        TZ=UTC node tools/refloader/bench.cjs --module "$AOCU_LEGACY_FIXTURES/$file" --format "$fmt" --env "$L/env.json" --scenario "$L" --skip 1 --limit "${LEGACY_MSGS:-200}" --mode unsafe
      fi | sed "s/^{/{\"label\":\"legacy\",\"mod\":\"$mod\",/" >> "$out"
    done
  done
fi
done

node - "$out" <<'EOF_NODE'
const rows = require('fs').readFileSync(process.argv[2], 'utf8').trim().split('\n').map(JSON.parse)
const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[s.length >> 1] }
// The median of every numeric field (and of every element of numeric arrays) over the rounds.
// aocu's rows carry their tier; the reference's their mode.
const get = (mod, label, impl, mode) => {
  const rs = rows.filter(r => r.mod === mod && r.label === label && r.impl === impl &&
    (impl === 'aocu' ? (r.tier || 'cranelift') === (mode || 'cranelift') : (!mode || r.mode === mode)))
  const out = { ...rs[0] }
  for (const k of Object.keys(out)) {
    if (typeof out[k] === 'number') out[k] = median(rs.map(r => r[k]))
    if (Array.isArray(out[k])) out[k] = out[k].map((_, i) => median(rs.map(r => r[k][i])))
  }
  return out
}
const f = (x) => x === undefined ? 'n/a' : (x >= 100 ? x.toFixed(0) : x.toFixed(2))
const ratio = (ref, ours) => (ref && ours) ? (ref / ours).toFixed(2) + '×' : 'n/a'
console.log(`Median of ${Math.max(...rows.map(r => rows.filter(x => x.mod === r.mod && x.label === r.label && x.impl === r.impl && x.mode === r.mode && x.tier === r.tier).length))} rounds.\n`)
console.log('| module | measurement | aocu (cranelift) | reference loader | ratio (ref/aocu) | aocu (aot) | ratio (ref/aot) |')
console.log('|---|---|---|---|---|---|---|')
for (const mod of [...new Set(rows.filter(r => r.label === 'setget').map(r => r.mod))]) {
  const a = get(mod, 'setget', 'aocu'), u = get(mod, 'setget', 'ao-loader', 'unsafe'), c = get(mod, 'setget-cu', 'ao-loader', 'cu')
  const h = get(mod, 'heavy', 'aocu'), hu = get(mod, 'heavy', 'ao-loader', 'unsafe')
  const g = get(mod, 'grow', 'aocu'), gu = get(mod, 'grow', 'ao-loader', 'unsafe')
  const A = get(mod, 'setget', 'aocu', 'aot'), H = get(mod, 'heavy', 'aocu', 'aot'), G = get(mod, 'grow', 'aocu', 'aot')
  // the ahead-of-time tier's columns: its figure and the reference's over it
  const t = (x, ref) => x === undefined ? ' | |' : ` | ${f(x)} | ${ratio(ref, x)} |`
  console.log(`| ${mod} | cold start: compile, no cache (ms) | ${f(a.compileMs)} | ${f(u.buildMs)} (V8 compiles lazily) | ${ratio(u.buildMs, a.compileMs)} |`)
  console.log(`| ${mod} | cold start: compiled-artifact cache (ms) | ${f(a.cachedCompileMs)} | no cache | ${ratio(u.buildMs, a.cachedCompileMs)} |`)
  console.log(`| ${mod} | spawn: first message, Lua boot + 9 Asyncify cycles (ms) | ${f(a.setupMs[0])} | ${f(u.setupMs[0])} | ${ratio(u.setupMs[0], a.setupMs[0])} |`)
  console.log(`| ${mod} | Set/Get, mean per message over ${a.messages} (ms) | ${f(a.meanMs)} | ${f(u.meanMs)} (UNSAFE_MEMORY) | ${ratio(u.meanMs, a.meanMs)}${t(A.meanMs, u.meanMs)}`)
  console.log(`| ${mod} | Set/Get, median per message (ms) | ${f(a.medianMs)} | ${f(u.medianMs)} (UNSAFE_MEMORY) | ${ratio(u.medianMs, a.medianMs)}${t(A.medianMs, u.medianMs)}`)
  console.log(`| ${mod} | Set/Get as the reference CU calls it (Memory in and out), mean over ${c.messages} (ms) | ${f(a.meanMs)} | ${f(c.meanMs)} | ${ratio(c.meanMs, a.meanMs)} |`)
  console.log(`| ${mod} | CPU-heavy Eval, sum 1..5e7 (ms) | ${f(h.meanMs)} | ${f(hu.meanMs)} | ${ratio(hu.meanMs, h.meanMs)}${t(H.meanMs, hu.meanMs)}`)
  console.log(`| ${mod} | Set/Get at ${(g.memoryBytes / 1e6).toFixed(0)} MB, mean per message (ms) | ${f(g.meanMs)} | ${f(gu.meanMs)} (UNSAFE_MEMORY) | ${ratio(gu.meanMs, g.meanMs)}${t(G.meanMs, gu.meanMs)}`)
  console.log(`| ${mod} | snapshots taken / time (Set/Get run; one-off first-touch of the buffer) | ${a.snapshots} / ${f(a.snapshotMs)} ms | n/a | |`)
}
const legacyNames = { em1: 'emscripten/process.wasm (wasm32-unknown-emscripten)', em2: 'emscripten2/aos.wasm (wasm32-unknown-emscripten2)', em3: 'emscripten3/AOS.wasm (wasm32-unknown-emscripten3)' }
for (const mod of [...new Set(rows.filter(r => r.label === 'legacy').map(r => r.mod))]) {
  const a = get(mod, 'legacy', 'aocu'), u = get(mod, 'legacy', 'ao-loader', 'unsafe')
  console.log(`| ${legacyNames[mod]} | pre-metered: load (aocu: instantiate + glue init from the compiled module; reference: AoLoader()) (ms) | ${f(a.instantiateMs)} | ${f(u.buildMs)} | ${ratio(u.buildMs, a.instantiateMs)} |`)
  console.log(`| ${legacyNames[mod]} | pre-metered: first message (ms) | ${f(a.setupMs[0])} | ${f(u.setupMs[0])} | ${ratio(u.setupMs[0], a.setupMs[0])} |`)
  console.log(`| ${legacyNames[mod]} | pre-metered: mean per message over ${a.messages} (ms) | ${f(a.meanMs)} | ${f(u.meanMs)} (UNSAFE_MEMORY) | ${ratio(u.meanMs, a.meanMs)} |`)
  console.log(`| ${legacyNames[mod]} | pre-metered: median per message (ms) | ${f(a.medianMs)} | ${f(u.medianMs)} (UNSAFE_MEMORY) | ${ratio(u.medianMs, a.medianMs)} |`)
}
EOF_NODE
echo "bench: raw results in $out" >&2
