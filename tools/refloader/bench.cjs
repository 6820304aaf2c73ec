#!/usr/bin/env node
/*
 * bench.cjs: the reference loader's side of scripts/bench.sh. Times only the
 * handle() calls (no hashing), on the scenario files of tools/refloader/scenarios:
 *
 *   TZ=UTC node bench.cjs --module M.wasm --format F --env ENV.json --scenario DIR
 *          [--skip N] [--limit N] [--mode unsafe|cu]
 *
 * The first --skip messages (spawn, Eval, ...) run first and are reported
 * individually; the rest are the measured messages.
 *   unsafe: UNSAFE_MEMORY, memory set once, the instance continues (fastest the
 *           reference can go).
 *   cu:     what the reference CU does: pass the previous Memory in and get a copy
 *           out on every call.
 * Prints one JSON object on stdout. Uses process.hrtime.bigint saved at start: ao-loader replaces Date.now
 * (and the legacy glues process.hrtime).
 */
'use strict'
if (!process.execArgv.includes('--experimental-wasm-memory64')) {
  const { spawnSync } = require('child_process')
  const r = spawnSync(process.execPath, ['--experimental-wasm-memory64', __filename, ...process.argv.slice(2)], { stdio: 'inherit' })
  process.exit(r.status === null ? 1 : r.status)
}
const fs = require('fs')
const path = require('path')
// The legacy glues replace process.hrtime (with Date.now) and Date.now (with a
// counter) for determinism: keep the real monotonic clock from before loading.
const hrtimeNs = process.hrtime.bigint
const performance = { now: () => Number(hrtimeNs()) / 1e6 }
const quiet = (...a) => {}
console.log = quiet
console.error = quiet
const AoLoader = require('@permaweb/ao-loader')

const args = {}
for (let i = 2; i < process.argv.length; i += 2) args[process.argv[i].replace(/^--/, '')] = process.argv[i + 1]
const skip = Number(args.skip || 2)
const mode = args.mode || 'unsafe'
const env = JSON.parse(fs.readFileSync(args.env, 'utf8'))
let msgs = fs.readFileSync(path.join(args.scenario, 'messages.jsonl'), 'utf8').split('\n').filter(l => l.trim()).map(l => JSON.parse(l))
if (args.limit) msgs = msgs.slice(0, skip + Number(args.limit))
const wasm = fs.readFileSync(args.module)
const computeLimit = (env.Module.Tags.find(t => t.name === 'Compute-Limit') || {}).value || '9000000000000'

async function main () {
  const unsafe = mode === 'unsafe'
  const t0 = performance.now()
  const handle = await AoLoader(wasm, { format: args.format, inputEncoding: 'JSON-1', outputEncoding: 'JSON-1', memoryLimit: '1073741824', computeLimit, extensions: [], UNSAFE_MEMORY: unsafe })
  const buildMs = performance.now() - t0
  let mem = null
  const setup = []
  const times = []
  let cpu0 = null
  for (let i = 0; i < msgs.length; i++) {
    if (i === skip) cpu0 = process.cpuUsage()
    const t = performance.now()
    const res = await handle(unsafe ? (i === 0 ? null : null) : mem, msgs[i], env)
    const dt = performance.now() - t
    if (res.Error) throw new Error(`message ${i}: ${JSON.stringify(res.Error)}`)
    if (!unsafe) mem = res.Memory
    if (i < skip) setup.push(dt)
    else times.push(dt)
  }
  const s = [...times].sort((a, b) => a - b)
  const r3 = (x) => Math.round(x * 1000) / 1000
  process.stdout.write(JSON.stringify({
    impl: 'ao-loader', mode, module: path.basename(args.module), buildMs: r3(buildMs), setupMs: setup.map(r3),
    messages: times.length,
    meanMs: times.length ? r3(times.reduce((a, b) => a + b, 0) / times.length) : 0,
    medianMs: times.length ? r3(s[s.length >> 1]) : 0,
    p99Ms: times.length ? r3(s[Math.min(s.length - 1, Math.floor(s.length * 0.99))]) : 0,
    // CPU time of the whole node process (V8's compiler threads included) per measured message.
    cpuMeanMs: times.length ? r3(Object.values(process.cpuUsage(cpu0)).reduce((a, b) => a + b, 0) / 1000 / times.length) : 0
  }) + '\n')
}
main().catch(e => { process.stderr.write(`bench.cjs: ${e.stack || e}\n`); process.exit(1) })
