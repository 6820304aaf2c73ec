// The scenario of test/oracle, driven through the MU with the unmodified
// @permaweb/aoconnect (legacy mode; packages of tools/aoconnect-e2e). The Go
// test then asks both CUs (the reference and aocu) every route about every
// process printed on the last line (JSON) and compares the bytes.
//
// Environment: MU_URL, CU_URL, GATEWAY_URL, AO_MODULE (aos2_0_6),
// AO_MODULE32 (aos2_0_4_32),
// AO_MODULE_METERED (aos2_0_6 under the wasm64 metering format),
// AO_SCHEDULER, AO_AUTHORITY, BOOT_TX (the id of a
// Lua data item on the gateway, for On-Boot=<txid>).
import { net, wallet, spawn, ask, sleep, need, tags } from '../aoconnect-e2e/lib.mjs'


const n = net()
const { ao } = n
const alice = await wallet()
const bob = await wallet()
const processes = {}
const log = (...a) => console.error('scenario:', ...a)

async function waitFor (what, fn, { timeout = 120000, every = 1000 } = {}) {
  const end = Date.now() + timeout
  for (;;) {
    const v = await fn().catch(e => { log(what, e.message); return false })
    if (v) return v
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await sleep(every)
  }
}

const KV = `
Store = Store or {}
Handlers.add("Set", "Set", function (msg)
  assert(msg.Tags.Key, "Key is required")
  Store[msg.Tags.Key] = msg.Data
  msg.reply({ Data = "stored " .. msg.Tags.Key, Key = msg.Tags.Key })
end)
Handlers.add("Get", "Get", function (msg)
  msg.reply({ Data = Store[msg.Tags.Key] or "", Key = msg.Tags.Key })
end)
Handlers.add("Keys", "Keys", function (msg)
  local ks = {}
  for k in pairs(Store) do table.insert(ks, k) end
  table.sort(ks)
  msg.reply({ Data = require("json").encode(ks) })
end)
Handlers.add("Bad", "Bad", function (msg) error({ code = 42, why = "handler error" }) end)
Handlers.add("Big", "Big", function (msg)
  Store["#big" .. #msg.Data] = #msg.Data
  msg.reply({ Data = "size " .. #msg.Data })
end)
Handlers.add("Clock", "Clock", function (msg)
  print(msg.Timestamp .. " " .. os.time() .. " " .. tostring(math.random()) .. " " .. math.random(1, 1000000))
  msg.reply({ Data = tostring(os.time()) .. ":" .. tostring(math.random(1, 1000)) })
end)
`

const TOKEN = `
Balances = Balances or { [Owner] = 1000000 }
Handlers.add("Transfer", "Transfer", function (msg)
  local q = math.tointeger(tonumber(msg.Tags.Quantity))
  assert(q and q > 0, "Quantity must be a positive integer > 0")
  if (Balances[msg.From] or 0) >= q then
    Balances[msg.From] = Balances[msg.From] - q
    Balances[msg.Tags.Recipient] = (Balances[msg.Tags.Recipient] or 0) + q
    ao.send({ Target = msg.From, Action = "Debit-Notice", Quantity = tostring(q), Recipient = msg.Tags.Recipient })
    ao.send({ Target = msg.Tags.Recipient, Action = "Credit-Notice", Quantity = tostring(q), Sender = msg.From })
  else
    ao.send({ Target = msg.From, Action = "Transfer-Error", Error = "Insufficient Balance!" })
  end
end)
Handlers.add("Balances", "Balances", function (msg) msg.reply({ Data = require("json").encode(Balances) }) end)
Credits = Credits or {}
Handlers.add("Credit-Notice", "Credit-Notice", function (msg)
  table.insert(Credits, msg.From .. ":" .. msg.Tags.Quantity)
end)
Handlers.add("Debit-Notice", "Debit-Notice", function (msg) Debits = (Debits or 0) + 1 end)
`

const NOTES = `
Notes = Notes or {}
ao.addAssignable("notes", function (msg) return msg.Action == "Note" end)
Handlers.add("Note", "Note", function (msg) table.insert(Notes, { msg.Id, msg.Data or "(none)", msg.Target or "(none)" }) end)
Handlers.add("Forward", "Forward", function (msg)
  ao.assign({ Processes = { msg.Tags.To }, Message = msg.Id })
  table.insert(Notes, { "forwarded", msg.Id })
end)
Handlers.add("Notes", "Notes", function (msg) msg.reply({ Data = require("json").encode(Notes) }) end)
`

const CRON = `
Ticks = Ticks or 0
Handlers.add("Tick", "Tick", function (msg)
  Ticks = Ticks + 1
  if Ticks % 2 == 0 then ao.send({ Target = ao.id, Action = "Tock", Data = tostring(Ticks) }) end
end)
Handlers.add("Tock", "Tock", function (msg) Tocks = (Tocks or 0) + 1; print("tock " .. msg.Data) end)
Handlers.add("Clock", "Clock", function (msg) msg.reply({ Data = tostring(Ticks) .. "/" .. tostring(Tocks) }) end)
`

const PARENT = `
Children = Children or {}
Handlers.add("SpawnChild", "SpawnChild", function (msg)
  local spawned = Spawn(ao.env.Module.Id, { Data = msg.Data, Tags = { ["On-Boot"] = "Data",
    Authority = table.concat(ao.authorities, ","), Name = "child-" .. (#Children + 1) } }).receive()
  table.insert(Children, spawned.Process)
  local answer = Send({ Target = spawned.Process, Action = "Hello" }).receive()
  print("child said " .. answer.Data)
end)
Handlers.add("Family", "Family", function (msg) msg.reply({ Data = require("json").encode(Children) }) end)
`
const CHILD = `
Handlers.add("Hello", "Hello", function (msg) msg.reply({ Data = "hello from " .. ao.id .. ", child of " .. Owner }) end)
`

const UNICODE = 'ключ 🔑 é\u0301 \u200b 中文 \u2028 "q" \\ <tag>&amp; \u{10FFFF}'

// --- spawns, all at once
const cronTags = [{ name: 'Cron-Interval', value: '1-second' }, { name: 'Cron-Tag-Action', value: 'Tick' }]
const [kv, token1, token2, notesA, notesB, parent, bootTx, w32, metered] = await Promise.all([
  spawn(n, alice.signer, { boot: KV, name: 'kv', extra: [{ name: 'Greeting', value: UNICODE }] }),
  spawn(n, alice.signer, { boot: TOKEN, name: 'token-1' }),
  spawn(n, bob.signer, { boot: TOKEN, name: 'token-2' }),
  spawn(n, alice.signer, { boot: NOTES, name: 'notes-a' }),
  spawn(n, alice.signer, { boot: NOTES, name: 'notes-b' }),
  spawn(n, alice.signer, { boot: PARENT, name: 'parent' }),
  ao.spawn({ module: n.module, scheduler: n.scheduler, signer: alice.signer,
    tags: [{ name: 'Authority', value: n.authority }, { name: 'On-Boot', value: need('BOOT_TX') }, { name: 'Name', value: 'boot-tx' }] }),
  ao.spawn({ module: need('AO_MODULE32'), scheduler: n.scheduler, signer: alice.signer, data: KV,
    tags: [{ name: 'Authority', value: n.authority }, { name: 'On-Boot', value: 'Data' }, { name: 'Name', value: 'wasm32' }] }),
  ao.spawn({ module: need('AO_MODULE_METERED'), scheduler: n.scheduler, signer: alice.signer, data: KV,
    tags: [{ name: 'Authority', value: n.authority }, { name: 'On-Boot', value: 'Data' }, { name: 'Name', value: 'metered' }] })
])
Object.assign(processes, { kv, token1, token2, notesA, notesB, parent, bootTx, w32, metered })
log('spawned', JSON.stringify(processes))


// Posts messages one after another (their order on the SU is the order
// here), then waits for every result: the CU evaluates them in one go.
async function batch (pid, list) {
  const ids = []
  for (const [signer, t, data] of list) ids.push(await ao.message({ process: pid, signer, tags: tags(t), data }))
  // a result the CU cannot give is logged, not fatal: the Go test compares
  // both CUs' answers afterwards
  return Promise.all(ids.map(async id => ({ id, ...(await ao.result({ process: pid, message: id })
    .catch(err => { log(`result of ${id} on ${pid}: ${err.message}`); return { Error: `no result: ${err.message}` } })) })))
}

// --- KV on the wasm64 and the wasm32 module, with the 1 MB and 2 MiB
// messages on the wasm64 one
async function kvSteps (pid, full) {
  const list = [
    [alice.signer, { Action: 'Set', Key: UNICODE, Note: UNICODE }, UNICODE],
    [alice.signer, { Action: 'Set', Key: 'html' }, 'a <b> & c -> d && x < y > z'],
    [alice.signer, { Action: 'Set', Key: 'json' }, '{"b": 1, "a": "<x>&", "c": [1, 2.50, "\\u00e9"]}'],
    [alice.signer, { Action: 'Eval' }, 'error("eval boom")'],
    [alice.signer, { Action: 'Clock' }],
    [alice.signer, { Action: 'Keys' }]
  ]
  if (full) {
    list.push(
      [bob.signer, { Action: 'Get', Key: UNICODE }],
      [alice.signer, { Action: 'Set' }, 'no key'], // assert error
      [alice.signer, { Action: 'Bad' }], // error({table})
      [alice.signer, { Action: 'Eval' }, 'local t = {} ; for i = 1, 40 do t["k" .. i] = i end ; local s = "" ; for k, v in pairs(t) do s = s .. k end ; return s'],
      [alice.signer, { Action: 'Eval' }, 'return require("json").encode({ z = 1, a = { 3, 2, 1 }, m = "<&>" })'],
      [alice.signer, { Action: 'Big' }, 'x'.repeat(1000000)],
      [alice.signer, { Action: 'Big' }, 'y'.repeat(2 * 1048576)]
    )
  }
  const rs = await batch(pid, list)
  if (!rs[0].Messages?.length) throw new Error(`Set unicode on ${pid}: ${JSON.stringify(rs[0]).slice(0, 300)}`)
  log('kv done', pid)
}

// --- the metered module (Compute-Limit 2e10): KV, a loop within the limit,
// one that runs out of gas, and a Get after it
async function meteredSteps () {
  await kvSteps(metered, false)
  await batch(metered, [
    [alice.signer, { Action: 'Eval' }, 'local s = 0 ; for i = 1, 1e5 do s = s + i end ; return s'],
    [alice.signer, { Action: 'Eval' }, 'local s = 0 ; for i = 1, 1e8 do s = s + i end ; return s'], // out of gas
    [alice.signer, { Action: 'Get', Key: 'html' }]
  ])
  log('metered done')
}

// --- a token between two processes: token-1 (alice) -> token-2's process id,
// then token-2 moves some back with an Eval (the process itself sends).
async function tokenSteps () {
  await batch(token1, [
    [alice.signer, { Action: 'Transfer', Recipient: token2, Quantity: '250' }],
    [alice.signer, { Action: 'Transfer', Recipient: token2, Quantity: '0' }] // assert error
  ])
  await batch(token2, [[bob.signer, { Action: 'Eval' }, `Balances[ao.id] = 7 ; Send({ Target = "${token1}", Action = "Transfer", Recipient = "${token1}", Quantity = "100" })`]])
  // (/results leaves errors out) token-1: boot, Transfer, token-2's
  // Transfer, its own Credit-Notice; token-2: boot, Credit-Notice, Eval, Debit-Notice
  await waitFor('the token messages', async () =>
    (await ao.results({ process: token1, limit: 100 })).edges.length >= 4 &&
    (await ao.results({ process: token2, limit: 100 })).edges.length >= 4)
  log('token done')
}

// --- assignments: aoconnect assign() with and without Exclude, and ao.assign from Lua
async function assignSteps () {
  const [note, note2] = await batch(notesA, [
    [alice.signer, { Action: 'Note' }, 'a note <&>'],
    [alice.signer, { Action: 'Note' }, 'excluded data']
  ])
  await ao.assign({ process: notesB, message: note.id })
  await ao.assign({ process: notesB, message: note2.id, exclude: ['Data', 'Anchor'] })
  await batch(notesA, [[alice.signer, { Action: 'Forward', To: notesB }, 'forward me']])
  await waitFor('notes-b has the three', async () => (await ao.results({ process: notesB, limit: 100 })).edges.length >= 4)
  log('assignments done')
}

// --- a parent spawning a child
async function parentSteps () {
  await batch(parent, [[alice.signer, { Action: 'SpawnChild' }, CHILD]])
  // parent: boot, SpawnChild, Spawned, the child's answer
  await waitFor('the child answered', async () => (await ao.results({ process: parent, limit: 100 })).edges.length >= 4, { every: 2000 })
  const c = JSON.parse((await ask(ao, parent, { Action: 'Family' })).Messages[0].Data)
  processes.child = c[0]
  log('child', processes.child)
}

// --- On-Boot by txid
async function bootSteps () {
  await batch(bootTx, [[alice.signer, { Action: 'Hello' }]])
}

// SCENARIO_ONLY=token (a development aid): only the two token processes
if (process.env.SCENARIO_ONLY === 'token') {
  await tokenSteps()
  console.log(JSON.stringify({ processes: { token1, token2 } }))
  process.exit(0)
}
await Promise.all([kvSteps(kv, true), kvSteps(w32, false), meteredSteps(), tokenSteps(), assignSteps(), parentSteps(), bootSteps()])

// --- a cron, last (every poll of the MU is an evaluation stream in the
// reference): spawned, monitored by the MU until it has ticked 6 times
const cron = await ao.spawn({ module: n.module, scheduler: n.scheduler, signer: alice.signer, data: CRON,
  tags: [{ name: 'Authority', value: n.authority }, { name: 'On-Boot', value: 'Data' }, { name: 'Name', value: 'cron' }, ...cronTags] })
processes.cron = cron
await ao.monitor({ process: cron, signer: alice.signer })
// the results the MU's /cron polls made: boot, 6 ticks, 3 tocks
await waitFor('cron ticks', async () => (await ao.results({ process: cron, limit: 100 })).edges.length >= 10, { every: 2000 })
await ao.unmonitor({ process: cron, signer: alice.signer })
await batch(cron, [[alice.signer, { Action: 'Clock' }]])

console.log(JSON.stringify({ processes, wallets: { alice: alice.address, bob: bob.address } }))
