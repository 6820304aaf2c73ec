// Chains of process-to-process messages, for the exactly-once test
// (test/aoconnect: TestExactlyOnceAcrossKill).
//
// Two aos processes A and B run the same code. Kick (sent by this script to
// A) starts `chains` chains at once; each chain bounces a Hop message A -> B
// -> A ... `hops` times, every hop pushed by the MU. Each process counts the
// hops it receives by "chain:hop": a hop delivered twice counts 2 (and its
// continuation runs twice, so the duplicate shows further down the chain
// too), a lost hop stops its chain.
//
//   node chain.mjs start --chains 4 --hops 30 --until 12
//       spawns A and B, kicks, returns once `until` hops have arrived in
//       total; prints {"a","b","seen"}
//   node chain.mjs wait --a A --b B --chains 4 --hops 30 [--timeout 120]
//       waits until every hop has arrived, then a little longer for strays;
//       prints {"expected","total","missing","duplicates","settledMs"}
import { net, wallet, spawn, send, ask, sleep, flags } from './lib.mjs'

const CODE = `
Seen = Seen or {}
Handlers.add("Kick", "Kick", function (msg)
  for c = 1, tonumber(msg.Chains) do
    ao.send({ Target = msg.Peer, Action = "Hop", Chain = tostring(c), Hop = "1", Hops = msg.Hops })
  end
end)
Handlers.add("Hop", "Hop", function (msg)
  local key = msg.Chain .. ":" .. msg.Hop
  Seen[key] = (Seen[key] or 0) + 1
  local hop = tonumber(msg.Hop)
  if hop < tonumber(msg.Hops) then
    ao.send({ Target = msg.From, Action = "Hop", Chain = msg.Chain, Hop = tostring(hop + 1), Hops = msg.Hops })
  end
end)
Handlers.add("Seen", "Seen", function (msg)
  msg.reply({ Data = require("json").encode(Seen) })
end)
`

const n = net()
const f = flags()
const cmd = process.argv[2]

// The union of both processes' counters.
async function seen (a, b) {
  const out = {}
  for (const p of [a, b]) {
    const res = await ask(n.ao, p, { Action: 'Seen' })
    if (res.Error || !res.Messages?.[0]) throw new Error(`dryrun Seen on ${p}: ${JSON.stringify(res).slice(0, 300)}`)
    const s = JSON.parse(res.Messages[0].Data)
    for (const [k, v] of Object.entries(Array.isArray(s) ? {} : s)) out[k] = (out[k] || 0) + v
  }
  return out
}
const total = s => Object.values(s).reduce((x, y) => x + y, 0)

if (cmd === 'start') {
  const chains = Number(f.chains || 4)
  const hops = Number(f.hops || 30)
  const until = Number(f.until || 10)
  const { signer } = await wallet()
  const a = await spawn(n, signer, { name: 'chain-a', boot: CODE })
  const b = await spawn(n, signer, { name: 'chain-b', boot: CODE })
  const kick = await send(n.ao, a, signer, { Action: 'Kick', Peer: b, Chains: chains, Hops: hops })
  if (kick.Error || kick.Messages.length !== chains) throw new Error(`Kick: ${JSON.stringify(kick).slice(0, 500)}`)
  const t0 = Date.now()
  let s = {}
  while (total(s) < until) {
    if (Date.now() - t0 > 60000) throw new Error(`only ${total(s)} hops after 60 s`)
    await sleep(100)
    s = await seen(a, b)
  }
  console.log(JSON.stringify({ a, b, seen: total(s), ms: Date.now() - t0 }))
} else if (cmd === 'wait') {
  const chains = Number(f.chains || 4)
  const hops = Number(f.hops || 30)
  const timeout = Number(f.timeout || 120) * 1000
  const expected = chains * hops
  const t0 = Date.now()
  let s = {}
  for (;;) {
    try {
      s = await seen(f.a, f.b)
    } catch (err) {
      // the CU may still be starting
      if (Date.now() - t0 > timeout) throw err
      await sleep(500)
      continue
    }
    if (Object.keys(s).length >= expected || Date.now() - t0 > timeout) break
    await sleep(250)
  }
  const settledMs = Date.now() - t0
  await sleep(Number(f.linger || 3000)) // anything still in flight would show now
  s = await seen(f.a, f.b)
  const missing = []
  const duplicates = {}
  for (let c = 1; c <= chains; c++) {
    for (let h = 1; h <= hops; h++) {
      const k = `${c}:${h}`
      if (!s[k]) missing.push(k)
      else if (s[k] > 1) duplicates[k] = s[k]
    }
  }
  console.log(JSON.stringify({ expected, total: total(s), keys: Object.keys(s).length, missing, duplicates, settledMs }))
} else {
  console.error('usage: node chain.mjs start|wait [flags]')
  process.exit(2)
}
