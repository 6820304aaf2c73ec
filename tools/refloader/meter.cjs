#!/usr/bin/env node
// Oracle for internal/metering: runs the reference meterWASM on a module.
//
//   node tools/refloader/meter.cjs IN.wasm i32|i64 OUT.wasm
//   node tools/refloader/meter.cjs --batch JOBS.json
//
// The batch form meters many modules in one process (used by the Go tests): JOBS.json is an array of
// {"in": path, "meterType": "i32"|"i64", "out": path}; stdout gets one JSON array with, per job,
// {"ok": true} (out written) or {"ok": false, "error": "<Error.name>: <message>"}.
//
// By default it uses the npm package @permaweb/wasm-metering@0.2.2 (node_modules/@permaweb/wasm-metering).
// With METER_IMPL=bundled it uses the copy that esbuild bundled into @permaweb/ao-loader@0.0.49
// (dist/index.cjs, require_wasm_metering), that is, exactly the code the loader runs.
//
// Exit status: 0 and OUT.wasm written on success; 2 (message on stderr, first line
// "meterWASM threw: <Error.name>: <message>") if meterWASM throws; 1 on usage errors.
'use strict'
const fs = require('fs')
const path = require('path')
const Module = require('module')

function loadMetering () {
  if (process.env.METER_IMPL === 'bundled') {
    const file = path.join(__dirname, 'node_modules/@permaweb/ao-loader/dist/index.cjs')
    const src = fs.readFileSync(file, 'utf8') + '\nmodule.exports.__wasmMetering = require_wasm_metering();\n'
    const m = new Module(file, module)
    m.filename = file
    m.paths = Module._nodeModulePaths(path.dirname(file))
    m._compile(src, file)
    return m.exports.__wasmMetering
  }
  return require(path.join(__dirname, 'node_modules/@permaweb/wasm-metering'))
}

function describe (e) {
  const name = (e && e.name) || 'Error'
  const msg = (e && e.message !== undefined) ? e.message : String(e)
  return `${name}: ${msg}`
}

function batch (jobsFile) {
  const metering = loadMetering()
  const jobs = JSON.parse(fs.readFileSync(jobsFile, 'utf8'))
  const results = []
  for (const job of jobs) {
    let out
    try {
      out = metering.meterWASM(fs.readFileSync(job.in), { meterType: job.meterType })
    } catch (e) {
      results.push({ ok: false, error: describe(e) })
      continue
    }
    fs.writeFileSync(job.out, out)
    results.push({ ok: true })
  }
  process.stdout.write(JSON.stringify(results))
}

function main () {
  if (process.argv[2] === '--batch' && process.argv[3]) return batch(process.argv[3])
  const [inFile, meterType, outFile] = process.argv.slice(2)
  if (!inFile || !outFile || (meterType !== 'i32' && meterType !== 'i64')) {
    process.stderr.write('usage: node meter.cjs IN.wasm i32|i64 OUT.wasm | --batch JOBS.json\n')
    process.exit(1)
  }
  const metering = loadMetering()
  const binary = fs.readFileSync(inFile)
  let out
  try {
    out = metering.meterWASM(binary, { meterType })
  } catch (e) {
    process.stderr.write(`meterWASM threw: ${describe(e)}\n`)
    if (e && e.stack) process.stderr.write(e.stack + '\n')
    process.exit(2)
  }
  fs.writeFileSync(outFile, out)
}

main()
