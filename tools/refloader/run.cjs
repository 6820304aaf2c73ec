#!/usr/bin/env node
/*
 * run.cjs: the reference side of aocu's differential tests.
 *
 * Feeds a stream of ao messages through the published reference loader
 * @permaweb/ao-loader (0.0.49, installed in ./node_modules by scripts/fixtures.sh)
 * with the same state semantics as the reference CU (servers/cu/src/effects/worker/evaluate.js),
 * and prints one JSON line per message, in the same shape as `aocu eval`.
 *
 *   TZ=UTC node tools/refloader/run.cjs --module FILE.wasm --format MODULE-FORMAT --env ENV.json \
 *       [--memory-in FILE] [--memory-out FILE] [--unsafe-memory] [--bench] [--quiet] \
 *       [--loader-version 0.0.49|0.0.44] [--this-program PATH] \
 *       < messages.jsonl > results.jsonl
 *
 * stdin:  one JSON message object per line (blank lines skipped). Each is JSON.parse'd and the object is
 *         passed to handle(memory, msg, env), so the wasm receives JSON.stringify(msg) (key order preserved).
 * stdout: per message one line: the loader result fields Output, Messages, Spawns, Assignments, Error, Patches,
 *         GasUsed (in this order, only those that are not undefined), then MemorySize and MemorySha256 of the
 *         memory the CU keeps after that message. A rejected/thrown handle() gives
 *         {"Error": <string>, "MemorySize": …, "MemorySha256": …}.
 * stderr: progress (index, ms per message), glue noise, and with --bench a summary JSON at the end.
 *
 * CU semantics: `mem` starts as null (or the bytes of --memory-in). A result without Error replaces `mem`
 * with result.Memory. A result with Error, or a rejection, keeps the previous `mem` and throws the loader
 * instance away; the next message runs on a freshly built instance that gets handle(mem, …).
 * --unsafe-memory: UNSAFE_MEMORY:true, `null` is passed while an instance is reused (it continues its own
 * live memory) and the kept memory is only copied into freshly built instances. Results are identical; it
 * only avoids the two full-memory copies per message.
 *
 * --loader-version: 0.0.49 (default) is ./node_modules/@permaweb/ao-loader, 0.0.44 the one that
 * ../refloader044/node_modules holds (what the reference CU's lockfile pins). The installed version
 * must be the one asked for.
 * --this-program PATH: the glues take thisProgram from process.argv[1] when an instance is built (it is
 * the `_=` environment string of 0.0.44's modern glues and of every legacy glue): set argv[1] to PATH
 * first, as the reference CU's worker threads see /usr/app/src/app.js in its Docker image. Without it,
 * argv[1] is this script's own path.
 *
 * Never call Date.now() here: the glue replaces it with a deterministic counter (TIME++ from 10000) that
 * the wasm also reads, so any extra call would change the memory image. Timings use performance.now().
 */
'use strict'

// Node 20 needs --experimental-wasm-memory64 for the wasm64 modules: re-exec ourselves with it.
if (!process.execArgv.includes('--experimental-wasm-memory64')) {
  const { spawnSync } = require('child_process')
  const r = spawnSync(process.execPath, ['--experimental-wasm-memory64', ...process.execArgv, __filename, ...process.argv.slice(2)], { stdio: 'inherit' })
  if (r.error) { process.stderr.write(`run.cjs: cannot re-exec node: ${r.error.message}\n`); process.exit(1) }
  if (r.signal) process.kill(process.pid, r.signal)
  process.exit(r.status === null ? 1 : r.status)
}

const fs = require('fs')
const util = require('util')
const crypto = require('crypto')
const { performance } = require('perf_hooks')

// stdout carries only result lines. The emscripten glue binds its `out` (C stdout) to console.log when an
// instance is built, so route console.log to stderr before anything is loaded. The loader also mocks
// console.log/Math.random during handle() and does not restore them when handle() throws: restore after
// every call.
const stderrLog = (...a) => { process.stderr.write(util.format(...a) + '\n') }
console.log = stderrLog
console.info = stderrLog
const realRandom = Math.random
const restoreGlobals = () => { console.log = stderrLog; Math.random = realRandom }

// ---------------------------------------------------------------- CLI
function usage (msg) {
  if (msg) process.stderr.write(`run.cjs: ${msg}\n`)
  process.stderr.write('usage: node run.cjs --module FILE.wasm --format MODULE-FORMAT --env ENV.json [--memory-in FILE] [--memory-out FILE] [--unsafe-memory] [--bench] [--quiet] [--loader-version 0.0.49|0.0.44] [--this-program PATH] < messages.jsonl > results.jsonl\n')
  process.exit(2)
}
const opts = { unsafe: false, bench: false, quiet: false, loaderVersion: '0.0.49' }
{
  const a = process.argv.slice(2)
  const val = (i) => { if (i + 1 >= a.length) usage(`${a[i]} needs a value`); return a[i + 1] }
  for (let i = 0; i < a.length; i++) {
    switch (a[i]) {
      case '--module': opts.module = val(i); i++; break
      case '--format': opts.format = val(i); i++; break
      case '--env': opts.env = val(i); i++; break
      case '--memory-in': opts.memoryIn = val(i); i++; break
      case '--memory-out': opts.memoryOut = val(i); i++; break
      case '--loader-version': opts.loaderVersion = val(i); i++; break
      case '--this-program': opts.thisProgram = val(i); i++; break
      case '--unsafe-memory': opts.unsafe = true; break
      case '--bench': opts.bench = true; break
      case '--quiet': opts.quiet = true; break
      case '-h': case '--help': usage()
      // falls through (usage exits)
      default: usage(`unknown argument ${a[i]}`)
    }
  }
  if (!opts.module || !opts.format || !opts.env) usage('--module, --format and --env are required')
}

const LOADERS = {
  '0.0.49': require('path').join(__dirname, 'node_modules', '@permaweb', 'ao-loader'),
  '0.0.44': require('path').join(__dirname, '..', 'refloader044', 'node_modules', '@permaweb', 'ao-loader')
}
if (!LOADERS[opts.loaderVersion]) usage(`--loader-version: one of ${Object.keys(LOADERS).join(', ')}`)
{
  const installed = require(require('path').join(LOADERS[opts.loaderVersion], 'package.json')).version
  if (installed !== opts.loaderVersion) {
    process.stderr.write(`run.cjs: ${LOADERS[opts.loaderVersion]} is ${installed}, not ${opts.loaderVersion}\n`)
    process.exit(2)
  }
}
if (opts.thisProgram !== undefined) process.argv[1] = opts.thisProgram
// A CU's worker thread has no arguments after its script; emscripten2's glue
// passes process.argv.slice(2) to main() as argv (on the stack, in memory).
process.argv.length = 2
const AoLoader = require(LOADERS[opts.loaderVersion])

// ---------------------------------------------------------------- fatal paths
let finished = false
let currentIndex = -1
// A WeaveDrive HALT is thrown inside an Asyncify promise callback: it surfaces as an unhandled rejection
// and the handle() promise never settles. Report it and exit non-zero instead of hanging.
process.on('unhandledRejection', (reason) => {
  restoreGlobals()
  const text = typeof reason === 'string' ? reason : (reason && reason.message !== undefined ? String(reason.message) : String(reason))
  if (text.startsWith('HALT')) {
    process.stdout.write(JSON.stringify({ Error: text, Halt: true }) + '\n')
    process.stderr.write(`run.cjs: message ${currentIndex}: HALT (unhandled rejection): ${text}\n`)
    process.exitCode = 3
  } else {
    process.stderr.write(`run.cjs: message ${currentIndex}: unhandled rejection: ${(reason && reason.stack) || text}\n`)
    process.exitCode = 4
  }
  finished = true
  process.exit()
})
process.on('exit', () => {
  // handle() can leave a promise that never settles (e.g. a HALT swallowed somewhere): node would then
  // exit 0 with an empty event loop. Make that a failure.
  if (!finished && !process.exitCode) {
    process.stderr.write(`run.cjs: exited before finishing (message ${currentIndex} never settled)\n`)
    process.exitCode = 5
  }
})

// ---------------------------------------------------------------- helpers
const sha256 = (u8) => crypto.createHash('sha256').update(u8).digest('hex')
const EMPTY_SHA256 = sha256(new Uint8Array(0))
const RESULT_FIELDS = ['Output', 'Messages', 'Spawns', 'Assignments', 'Error', 'Patches', 'GasUsed']

function computeLimitOf (env) {
  const tags = (env && env.Module && Array.isArray(env.Module.Tags)) ? env.Module.Tags : []
  const t = tags.find(t => t && t.name === 'Compute-Limit')
  return t ? String(t.value) : '9000000000000'
}

// Lines of stdin as they arrive (split on \n at byte level, so UTF-8 is never cut), CR stripped.
async function * stdinLines () {
  let pending = Buffer.alloc(0)
  for await (const chunk of process.stdin) {
    pending = pending.length ? Buffer.concat([pending, chunk]) : chunk
    let start = 0
    let nl
    while ((nl = pending.indexOf(0x0a, start)) !== -1) {
      yield pending.toString('utf8', start, nl)
      start = nl + 1
    }
    pending = pending.subarray(start)
  }
  if (pending.length) yield pending.toString('utf8')
}

function errorText (err) {
  if (typeof err === 'string') return err
  if (err && err.message !== undefined) return String(err.message)
  return String(err)
}

const writeOut = (s) => new Promise((resolve, reject) => {
  if (process.stdout.write(s)) resolve()
  else process.stdout.once('drain', resolve)
})

// ---------------------------------------------------------------- main
async function main () {
  const wasm = fs.readFileSync(opts.module)
  const env = JSON.parse(fs.readFileSync(opts.env, 'utf8'))
  const loaderOptions = () => ({
    format: opts.format,
    inputEncoding: 'JSON-1',
    outputEncoding: 'JSON-1',
    memoryLimit: '1073741824',
    computeLimit: computeLimitOf(env),
    extensions: [],
    ...(opts.unsafe ? { UNSAFE_MEMORY: true } : {})
  })

  // kept memory (what the CU would store after each message)
  let mem = null
  if (opts.memoryIn) {
    const b = fs.readFileSync(opts.memoryIn)
    mem = new Uint8Array(b.buffer, b.byteOffset, b.byteLength)
  }
  let memSha = mem ? sha256(mem) : EMPTY_SHA256
  // --unsafe-memory: a reusable copy of the live memory after the last success, so an error can fall
  // back to it (the live buffer itself has been modified by the failed call).
  let snap = null

  let handle = null // current loader instance; null => build a fresh one for the next message
  let fresh = false
  const loaderTimes = []
  const times = [] // per message: handle() ms
  const wallTimes = [] // per message: handle + bookkeeping (copy, sha256, output)
  const tStart = performance.now()
  let n = 0

  for await (const rawLine of stdinLines()) {
    const line = rawLine.endsWith('\r') ? rawLine.slice(0, -1) : rawLine
    if (line.trim() === '') continue
    const i = n++
    currentIndex = i
    // The glue's exit() (os.exit in Lua) sets process.exitCode before throwing ExitStatus; the CU carries on
    // after such a message, and so does this run: clear it.
    process.exitCode = undefined
    const msg = JSON.parse(line)
    const tw0 = performance.now()

    if (!handle) {
      const tl = performance.now()
      handle = await AoLoader(wasm, loaderOptions())
      restoreGlobals()
      loaderTimes.push(performance.now() - tl)
      fresh = true
    }
    const memArg = (opts.unsafe && !fresh) ? null : mem
    fresh = false

    let res
    let err
    let threw = false
    const t0 = performance.now()
    try {
      res = await handle(memArg, msg, env)
    } catch (e) {
      threw = true
      err = e
    }
    const dt = performance.now() - t0
    restoreGlobals()

    const out = {}
    if (threw) {
      out.Error = errorText(err)
      handle = null
    } else {
      for (const k of RESULT_FIELDS) if (res[k] !== undefined) out[k] = res[k]
      if (res.Error !== undefined) {
        handle = null
      } else {
        let m = res.Memory
        if (!(m instanceof Uint8Array)) m = new Uint8Array(m) // UNSAFE: live ArrayBuffer
        if (opts.unsafe) {
          if (!snap || snap.byteLength < m.byteLength) snap = new Uint8Array(m.byteLength)
          snap.set(m)
          m = snap.subarray(0, m.byteLength)
        }
        mem = m
        memSha = sha256(mem)
      }
    }
    out.MemorySize = mem ? mem.byteLength : 0
    out.MemorySha256 = memSha
    await writeOut(JSON.stringify(out) + '\n')

    const dw = performance.now() - tw0
    times.push(dt)
    wallTimes.push(dw)
    if (!opts.quiet) {
      const tag = threw ? ' REJECTED' : (res.Error !== undefined ? ' Error' : '')
      process.stderr.write(`[${i}] handle ${dt.toFixed(2)} ms, total ${dw.toFixed(2)} ms, memory ${out.MemorySize}${tag}\n`)
    }
  }
  const total = performance.now() - tStart

  if (opts.memoryOut) {
    fs.writeFileSync(opts.memoryOut, mem || new Uint8Array(0))
  }

  if (opts.bench) {
    const stat = (arr) => {
      if (!arr.length) return { mean: 0, median: 0, p99: 0, min: 0, max: 0 }
      const s = [...arr].sort((a, b) => a - b)
      const r3 = (x) => Math.round(x * 1000) / 1000
      return {
        mean: r3(arr.reduce((a, b) => a + b, 0) / arr.length),
        median: r3(s[s.length >> 1]),
        p99: r3(s[Math.min(s.length - 1, Math.floor(s.length * 0.99))]),
        min: r3(s[0]),
        max: r3(s[s.length - 1])
      }
    }
    process.stderr.write(JSON.stringify({
      bench: {
        module: opts.module,
        format: opts.format,
        unsafeMemory: opts.unsafe,
        messages: n,
        totalMs: Math.round(total * 1000) / 1000,
        loaderBuilds: loaderTimes.length,
        loaderBuildMs: stat(loaderTimes),
        handleMs: stat(times),
        perMessageMs: stat(wallTimes),
        finalMemorySize: mem ? mem.byteLength : 0
      }
    }) + '\n')
  }
  finished = true
}

main().catch((e) => {
  restoreGlobals()
  finished = true
  process.stderr.write(`run.cjs: fatal: ${(e && e.stack) || e}\n`)
  process.exitCode = 1
})
