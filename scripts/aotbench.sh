#!/usr/bin/env bash
# Measures what an ahead-of-time tier would give (issue 13, item 4): the aos
# modules translated to C by wasm2c (npm wabt@1.0.39, which has memory64) and
# compiled by the system's cc with aocu's small wasm2c runtime
# (tools/aotbench/rt), against aocu's loader (Cranelift, tools/bench) and the
# reference loader (@permaweb/ao-loader 0.0.49 in node, UNSAFE_MEMORY), in one
# run, on the scenario files of tools/refloader/scenarios (the Set/Get stream,
# the CPU-heavy Eval, the memory-growing stream). Every round alternates the
# three; the table shows the medians over ROUNDS rounds (default 3).
#
#   ROUNDS=3 ./scripts/aotbench.sh [results.jsonl]
#
# The C side is tools/aotbench/harness.c, which drives handle() as aocu's
# loader does; the run fails unless its final memory has the sha256 the
# reference loader recorded for the same stream (expected-<module>.jsonl).
# wasm64 keeps memory64's bounds checks (explicit, in the generated code);
# wasm32 uses guard pages, as Cranelift does. Compiled modules are cached in
# ~/.cache/aocu/aotbench. Needs cc (gcc) and node; not part of scripts/test.sh.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
./scripts/fixtures.sh
out="${1:-$(mktemp -t aocu-aotbench-XXXX.jsonl)}"
: > "$out"
ROUNDS="${ROUNDS:-3}"
CFLAGS="${AOT_CFLAGS:--O2 -ffp-contract=off -fno-fast-math}"

ab="$root/tools/aotbench"
rt="$ab/rt"
if [[ ! -f "$ab/node_modules/wabt/bin/wasm2c" ]]; then
  echo "aotbench: npm install in tools/aotbench" >&2
  (cd "$ab" && npm install --silent --no-audit --no-fund --no-package-lock >/dev/null)
fi
wasm2c() { node "$ab/node_modules/wabt/bin/wasm2c" "$@"; }

cache="${XDG_CACHE_HOME:-$HOME/.cache}/aocu/aotbench"
mkdir -p "$cache"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
bin="$work/aocu-bench"
go build -o "$bin" ./tools/bench
gohost="$work/gohost"
go build -o "$gohost" ./tools/aotbench/gohost

# build MODULE W64(0|1): the harness binary for the module, from the cache when
# the module, harness, runtime, wasm2c and flags are unchanged.
build() {
  local mod=$1 w64=$2 key dir
  key="$( { sha256sum ".fixtures/modules/$mod.wasm" "$ab/harness.c" "$rt/wasm-rt.h" "$rt/wasm-rt.c" \
    "$ab/node_modules/wabt/bin/wasm2c" "$0"; cc --version | head -1; echo "$CFLAGS $w64"; } | sha256sum | cut -c1-16)"
  dir="$cache/$mod-$key"
  if [[ ! -x "$dir/harness" ]]; then
    echo "aotbench: translating and compiling $mod (about a minute)" >&2
    rm -rf "$dir.tmp" && mkdir -p "$dir.tmp"
    local def=() feat=()
    if [[ $w64 == 1 ]]; then
      def=(-DW64)
      feat=(--enable-memory64)
    fi
    wasm2c "${feat[@]}" ".fixtures/modules/$mod.wasm" -n aot -o "$dir.tmp/aot.c"
    # GCC leaves the checked memory accessors (static inline) out of line in
    # Lua's large functions: one call per load or store (wasm64 Set/Get 1.75
    # ms instead of 0.72). Force them inline.
    sed -i 's/^  static inline \(.*\) name\(##_unchecked\|##_default32\|\)(/  static inline __attribute__((always_inline)) \1 name\2(/' \
      "$dir.tmp/aot.c"
    grep -q 'always_inline.*name##_unchecked(' "$dir.tmp/aot.c" || { echo "aotbench: wasm2c's accessors not found" >&2; exit 1; }
    local t0=$SECONDS
    # shellcheck disable=SC2086
    cc $CFLAGS -I"$rt" -c "$dir.tmp/aot.c" -o "$dir.tmp/aot.o"
    echo "aotbench: $mod: cc took $((SECONDS - t0)) s for $(($(stat -c %s "$dir.tmp/aot.c") / 1048576)) MB of C" >&2
    # shellcheck disable=SC2086
    cc $CFLAGS -Wall -Wextra -Wno-unused-parameter -I"$rt" -c "$rt/wasm-rt.c" -o "$dir.tmp/rt.o"
    # shellcheck disable=SC2086
    cc $CFLAGS -Wall -Wno-unused-parameter -I"$rt" -I"$dir.tmp" "${def[@]}" -DMODULE_H='"aot.h"' \
      -c "$ab/harness.c" -o "$dir.tmp/harness.o"
    cc -o "$dir.tmp/harness" "$dir.tmp/harness.o" "$dir.tmp/aot.o" "$dir.tmp/rt.o" -lm
    # The same as a shared object, for tools/aotbench/gohost.
    # shellcheck disable=SC2086
    cc $CFLAGS -fPIC -I"$rt" -c "$dir.tmp/aot.c" -o "$dir.tmp/aot.pic.o"
    # shellcheck disable=SC2086
    cc $CFLAGS -fPIC -I"$rt" -c "$rt/wasm-rt.c" -o "$dir.tmp/rt.pic.o"
    # shellcheck disable=SC2086
    cc $CFLAGS -fPIC -I"$rt" -I"$dir.tmp" "${def[@]}" -DMODULE_H='"aot.h"' -Dmain=aot_harness_main \
      -c "$ab/harness.c" -o "$dir.tmp/harness.pic.o"
    cc -shared -o "$dir.tmp/harness.so" "$dir.tmp/harness.pic.o" "$dir.tmp/aot.pic.o" "$dir.tmp/rt.pic.o" -lm
    rm -f "$dir.tmp/aot.c" "$dir.tmp"/*.o
    rm -rf "$dir" && mv "$dir.tmp" "$dir"
  fi
  echo "$dir/harness"
}

# stringify FILE OUT [lines]: what the glue hands to handle(): JSON.stringify
# of the file's JSON, or with "lines" of each line.
stringify() {
  node -e 'const fs = require("fs"), [file, out, lines] = process.argv.slice(1), text = fs.readFileSync(file, "utf8")
    const values = lines ? text.split("\n").filter(l => l.trim()) : [text]
    fs.writeFileSync(out, values.map(v => JSON.stringify(JSON.parse(v))).join("\n") + "\n")' "$@"
}

S=tools/refloader/scenarios
specs=(aos2_0_6:wasm64-unknown-emscripten-draft_2024_02_15:env-wasm64:1 aos2_0_4_32:wasm32-unknown-emscripten4:env-wasm32:0)
declare -A harness
for spec in "${specs[@]}"; do
  IFS=: read -r mod fmt env w64 <<<"$spec"
  harness[$mod]="$(build "$mod" "$w64")"
done
for sc in bench heavy grow; do
  stringify "$S/$sc/messages.jsonl" "$work/$sc.jsonl" lines
  for e in env-wasm64 env-wasm32; do stringify "$S/$sc/$e.json" "$work/$sc-$e.json"; done
done

for round in $(seq "$ROUNDS"); do
  for spec in "${specs[@]}"; do
    IFS=: read -r mod fmt env w64 <<<"$spec"
    m=".fixtures/modules/$mod.wasm"
    for scs in setget:bench:2 heavy:heavy:1 grow:grow:3; do
      IFS=: read -r label sc skip <<<"$scs"
      tag() { sed "s/^{/{\"label\":\"$label\",\"mod\":\"$mod\",/" >> "$out"; }
      echo "aotbench: round $round $mod $label" >&2
      want="$(tail -1 "$S/$sc/expected-$mod.jsonl" | node -e 'process.stdout.write(JSON.parse(require("fs").readFileSync(0, "utf8")).MemorySha256)')"
      # guard: 0 without the timeout guard, else a deadline far away armed for every message;
      # go: the harness as a shared object in a Go process (tools/aotbench/gohost).
      for variant in plain:0 guard:60000 go:0; do
        IFS=: read -r name guard <<<"$variant"
        [[ $name == plain || $label == setget ]] || continue
        impl=wasm2c
        run=("${harness[$mod]}")
        [[ $name == guard ]] && impl=wasm2c+guard
        [[ $name == go ]] && impl=wasm2c+go && run=("$gohost" "${harness[$mod]}.so")
        AOT_TIMEOUT_MS=$guard "${run[@]}" "$work/$sc-$env.json" "$work/$sc.jsonl" "$skip" "$work/outputs.jsonl" \
          "$work/memory" | sed "s/\"impl\":\"wasm2c\"/\"impl\":\"$impl\"/" | tag
        got="$(sha256sum "$work/memory" | cut -d' ' -f1)"
        if [[ $got != "$want" ]]; then
          echo "aotbench: $mod $label: wasm2c's memory sha256 $got, the reference loader's $want" >&2
          exit 1
        fi
      done
      "$bin" --module "$m" --format "$fmt" --env "$S/$sc/$env.json" --scenario "$S/$sc" --skip "$skip" | tag
      TZ=UTC node tools/refloader/bench.cjs --module "$m" --format "$fmt" --env "$S/$sc/$env.json" --scenario "$S/$sc" \
        --skip "$skip" --mode unsafe | tag
    done
  done
done

# The timeout guard: an Eval of an endless loop under a 100 ms deadline must
# come back by the signal (exit status 4), at the deadline.
node -e 'const fs = require("fs"), l = fs.readFileSync(process.argv[1], "utf8").split("\n"), m = JSON.parse(l[1])
  m.Data = "while true do end"; fs.writeFileSync(process.argv[2], l[0] + "\n" + JSON.stringify(m) + "\n")' \
  "$work/bench.jsonl" "$work/loop.jsonl"
for spec in "${specs[@]}"; do
  IFS=: read -r mod fmt env w64 <<<"$spec"
  for where in c go; do
    run=("${harness[$mod]}")
    [[ $where == go ]] && run=("$gohost" "${harness[$mod]}.so")
    status=0
    AOT_TIMEOUT_MS=100 "${run[@]}" "$work/bench-$env.json" "$work/loop.jsonl" 0 /dev/null "$work/memory" \
      > "$work/loop.json" || status=$?
    if [[ $status != 4 ]] || ! grep -q '"timedOut":1' "$work/loop.json"; then
      echo "aotbench: $mod ($where): an endless loop under a 100 ms deadline ended with status $status: $(cat "$work/loop.json")" >&2
      exit 1
    fi
    sed "s/^{/{\"label\":\"loop-$where\",\"mod\":\"$mod\",/" "$work/loop.json" >> "$out"
  done
done

node - "$out" "$(cut -d' ' -f1-3 /proc/loadavg)" <<'EOF_NODE'
const rows = require('fs').readFileSync(process.argv[2], 'utf8').trim().split('\n').map(JSON.parse)
const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[s.length >> 1] }
const get = (mod, label, impl, key) => median(rows.filter(r => r.mod === mod && r.label === label && r.impl === impl).map(r => r[key]))
const f = (x) => x >= 100 ? x.toFixed(0) : x.toFixed(3)
const rounds = rows.filter(r => r.impl === 'wasm2c' && r.mod === rows[0].mod && r.label === rows[0].label).length
console.log(`Median of ${rounds} rounds; load average at the end ${process.argv[3]}. Every wasm2c run ended with the reference loader's memory sha256.\n`)
console.log('| module | measurement | wasm2c + cc | aocu (Cranelift) | reference (V8, UNSAFE_MEMORY) | wasm2c against aocu | wasm2c against the reference |')
console.log('|---|---|---|---|---|---|---|')
const what = { setget: 'Set/Get, per message', heavy: 'CPU-heavy Eval (sum 1..5e7)', grow: 'Set/Get growing to 473 MB, per message' }
for (const mod of [...new Set(rows.map(r => r.mod))]) {
  for (const label of ['setget', 'heavy', 'grow']) {
    for (const key of label === 'heavy' ? ['meanMs'] : ['medianMs', 'meanMs']) {
      const w = get(mod, label, 'wasm2c', key), a = get(mod, label, 'aocu', key), r = get(mod, label, 'ao-loader', key)
      const k = key === 'medianMs' ? 'median' : label === 'heavy' ? 'ms' : 'mean'
      console.log(`| ${mod} | ${what[label]}, ${k} (ms) | ${f(w)} | ${f(a)} | ${f(r)} | ${(a / w).toFixed(2)}× | ${(r / w).toFixed(2)}× |`)
    }
  }
}
console.log('\nThe timeout guard (a POSIX timer per handle() call, its signal leaving the wasm code; AOT_TIMEOUT_MS):\n')
for (const mod of [...new Set(rows.map(r => r.mod))]) {
  const plain = get(mod, 'setget', 'wasm2c', 'medianMs'), guarded = get(mod, 'setget', 'wasm2c+guard', 'medianMs')
  const loop = rows.find(r => r.mod === mod && r.label === 'loop-c'), goLoop = rows.find(r => r.mod === mod && r.label === 'loop-go')
  console.log(`* ${mod}: Set/Get median ${f(plain)} ms without it, ${f(guarded)} ms with a deadline armed per message; ` +
    `an endless loop under a ${loop.timeoutMs} ms deadline came back ${loop.lateMs.toFixed(3)} ms after it ` +
    `(${goLoop.lateMs.toFixed(3)} ms in a Go process).`)
}
console.log('\nIn a Go process (tools/aotbench/gohost: the harness as a shared object called through cgo on a locked thread, the Go runtime\'s signal handlers behind the harness\'s, its collector kept busy):\n')
for (const mod of [...new Set(rows.map(r => r.mod))]) {
  console.log(`* ${mod}: Set/Get median ${f(get(mod, 'setget', 'wasm2c+go', 'medianMs'))} ms (${f(get(mod, 'setget', 'wasm2c', 'medianMs'))} ms alone), ` +
    'same memory sha256; a nil dereference in Go afterwards still became a panic.')
}
EOF_NODE
echo "raw figures: $out" >&2
