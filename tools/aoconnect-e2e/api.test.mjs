// Extra end-to-end checks of aoconnect's legacy API against aocu dev, beyond
// what the examples print: results() paging, dry-runs leave no trace,
// assign(), and spawn() refusing an unknown scheduler. Run by
// test/aoconnect (TestExamples/group/node-tests) with the environment of
// lib.mjs; `node --test api.test.mjs` by hand.
import './guard.mjs' // first: nothing may leave loopback
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { net, wallet, spawn, send, ask, sleep } from './lib.mjs'

const n = net()
const { signer, address } = await wallet()

const COUNTER = `
Count = Count or 0
Handlers.add("Inc", "Inc", function (msg) Count = Count + 1; msg.reply({ Data = tostring(Count) }) end)
Handlers.add("Get", "Get", function (msg) msg.reply({ Data = tostring(Count) }) end)
`

test('results() pages through a process\'s results with cursors', async () => {
  const pid = await spawn(n, signer, { boot: COUNTER })
  for (let i = 1; i <= 3; i++) assert.equal((await send(n.ao, pid, signer, { Action: 'Inc' })).Messages[0].Data, String(i))
  const all = await n.ao.results({ process: pid, sort: 'ASC', limit: 100 })
  assert.equal(all.edges.length, 4) // boot + 3 Inc
  const first = await n.ao.results({ process: pid, sort: 'ASC', limit: 2 })
  assert.equal(first.edges.length, 2)
  const rest = await n.ao.results({ process: pid, sort: 'ASC', from: first.edges[1].cursor, limit: 100 })
  assert.deepEqual(rest.edges.map(e => e.cursor), all.edges.slice(2).map(e => e.cursor))
  assert.deepEqual(rest.edges.map(e => e.node.Messages[0]?.Data), ['2', '3'])
  const desc = await n.ao.results({ process: pid, sort: 'DESC', limit: 1 })
  assert.equal(desc.edges[0].node.Messages[0].Data, '3') // cursors embed the sort: compare the results
})

test('dry-runs answer from the state and change nothing', async () => {
  const pid = await spawn(n, signer, { boot: COUNTER })
  assert.equal((await send(n.ao, pid, signer, { Action: 'Inc' })).Messages[0].Data, '1')
  for (let i = 0; i < 3; i++) assert.equal((await ask(n.ao, pid, { Action: 'Inc' })).Messages[0].Data, '2')
  assert.equal((await send(n.ao, pid, signer, { Action: 'Get' })).Messages[0].Data, '1')
  const page = await n.ao.results({ process: pid, limit: 100 })
  assert.equal(page.edges.length, 3) // boot, Inc, Get: no dry-run recorded
})

test('assign() puts a message of one process on another\'s schedule', async () => {
  // B accepts assignments of Note messages (aos refuses unlisted ones).
  const notes = `
Notes = Notes or {}
ao.addAssignable("notes", function (msg) return msg.Action == "Note" end)
Handlers.add("Note", "Note", function (msg) table.insert(Notes, msg.Data) end)
Handlers.add("Notes", "Notes", function (msg) msg.reply({ Data = require("json").encode(Notes) }) end)
`
  const a = await spawn(n, signer, { boot: notes })
  const b = await spawn(n, signer, { boot: notes })
  const m = await send(n.ao, a, signer, { Action: 'Note' }, 'hello')
  assert.equal(m.Error, undefined)
  const assignment = await n.ao.assign({ process: b, message: m.id })
  assert.match(assignment, /^[\w-]{43}$/)
  const res = await n.ao.result({ process: b, message: m.id })
  assert.equal(res.Error, undefined)
  const notesOf = async p => JSON.parse((await ask(n.ao, p, { Action: 'Notes' })).Messages[0].Data)
  assert.deepEqual(await notesOf(a), ['hello'])
  assert.deepEqual(await notesOf(b), ['hello'])
})

test('a message to another process is delivered with From = the sender process', async () => {
  const echo = `
Got = Got or {}
Handlers.add("Say", "Say", function (msg) ao.send({ Target = msg.To, Action = "Heard", Data = msg.Data }) end)
Handlers.add("Heard", "Heard", function (msg) table.insert(Got, msg.From .. ":" .. msg.Data) end)
Handlers.add("Got", "Got", function (msg) msg.reply({ Data = require("json").encode(Got) }) end)
`
  const a = await spawn(n, signer, { boot: echo })
  const b = await spawn(n, signer, { boot: echo })
  await send(n.ao, a, signer, { Action: 'Say', To: b }, 'hi')
  let got = []
  for (let i = 0; i < 120 && got.length === 0; i++) {
    await sleep(250)
    got = JSON.parse((await ask(n.ao, b, { Action: 'Got' })).Messages[0].Data)
  }
  assert.deepEqual(got, [`${a}:hi`])
})

test('spawn() checks the scheduler on the local gateway', async () => {
  await assert.rejects(n.ao.spawn({ module: n.module, scheduler: address, signer, tags: [] }), /Scheduler-Location|scheduler/i)
})
