// Load figure for `aocu dev`: end-to-end messages per second through
// MU -> SU -> CU, driven by @permaweb/aoconnect (legacy mode).
//
// Each client loops: message() (signed item posted to the MU, which forwards
// it to the SU), then result() (the CU evaluates it and answers once done);
// the process replies to every Ping, and a message counts once its reply is
// in the result. Latency = from message() returning to result() returning
// with the reply. Scenarios: 1 client; 10 clients on one process; 10 clients
// on 10 processes (one each). All clients share one wallet (signing is
// local; the wallet plays no part in the throughput).
//
//   GATEWAY_URL=... MU_URL=... CU_URL=... AO_MODULE=... AO_SCHEDULER=... AO_AUTHORITY=... \
//     node load.mjs [--seconds 15] [--warmup 3] [--rows 1c,10c1p,10c10p]
// Prints a markdown table (and the machine's load) on stdout.
import os from 'node:os'
import { net, wallet, spawn, tags, sleep, flags } from './lib.mjs'

const BOOT = `
Count = Count or 0
Handlers.add("Ping", "Ping", function (msg)
  Count = Count + 1
  msg.reply({ Action = "Pong", Data = tostring(Count) })
end)
`

const f = flags(process.argv.slice(2))
const seconds = Number(f.seconds || 15)
const warmup = Number(f.warmup || 3)
const n = net()
const { signer } = await wallet()

const pct = (xs, p) => {
  if (!xs.length) return NaN
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]
}

// One request: message() then result(); returns the two durations in ms.
async function one (process) {
  const t0 = performance.now()
  const id = await n.ao.message({ process, signer, tags: tags({ Action: 'Ping' }), data: 'ping' })
  const t1 = performance.now()
  const res = await n.ao.result({ process, message: id })
  const t2 = performance.now()
  if (res.Error || res.Messages?.[0]?.Data === undefined) throw new Error(`no reply for ${id}: ${JSON.stringify(res).slice(0, 300)}`)
  return { send: t1 - t0, reply: t2 - t1 }
}

async function scenario (label, clients, processes) {
  const pids = []
  for (let i = 0; i < processes; i++) pids.push(await spawn(n, signer, { name: `load-${label}-${i}`, boot: BOOT }))
  // Clients loop until `end`; a failed request is counted and reported (on
  // stderr), not retried.
  let errors = 0
  const run = (end, onDone) => Promise.all(Array.from({ length: clients }, async (_, c) => {
    while (Date.now() < end) {
      try {
        onDone(await one(pids[c % processes]))
      } catch (err) {
        errors++
        console.error(`${label} client ${c}: ${err.message}${err.cause ? ` (${err.cause.message || err.cause})` : ''}`)
        await sleep(200)
      }
    }
  }))
  // Warm-up: every process evaluated (module loaded, boot done), then a few
  // seconds at full rate, not measured.
  await Promise.all(pids.map(p => one(p)))
  await run(Date.now() + warmup * 1000, () => {})
  const warmupErrors = errors
  errors = 0
  const send = []
  const reply = []
  const t0 = performance.now()
  await run(Date.now() + seconds * 1000, r => { send.push(r.send); reply.push(r.reply) })
  const wall = (performance.now() - t0) / 1000
  return { label, clients, processes, count: reply.length, errors: errors + warmupErrors, rate: reply.length / wall, send, reply }
}

// --rows 1c,10c1p,10c10p (the default: all three)
const wanted = (f.rows || '1c,10c1p,10c10p').split(',')
const scenarios = { '1c': [1, 1], '10c1p': [10, 1], '10c10p': [10, 10] }
const load0 = os.loadavg()
const rows = []
for (const name of wanted) {
  if (!scenarios[name]) throw new Error(`unknown row ${name}: one of ${Object.keys(scenarios)}`)
  rows.push(await scenario(name, ...scenarios[name]))
}
const load1 = os.loadavg()

const ms = x => `${Math.round(x)} ms`
console.log('| clients | processes | messages | msg/s | message() p50 | reply after message(): p50 | p99 | errors (incl. warm-up) |')
console.log('|---:|---:|---:|---:|---:|---:|---:|---:|')
for (const r of rows) {
  console.log(`| ${r.clients} | ${r.processes} | ${r.count} | ${r.rate.toFixed(1)} | ${ms(pct(r.send, 50))} | ${ms(pct(r.reply, 50))} | ${ms(pct(r.reply, 99))} | ${r.errors} |`)
}
console.log('')
console.log(`${seconds} s per row after ${warmup} s of warm-up; node ${process.version}, ${os.cpus().length} × ${os.cpus()[0]?.model?.trim()}; ` +
  `load average before ${load0.map(x => x.toFixed(2)).join(' ')}, after ${load1.map(x => x.toFixed(2)).join(' ')} (the client runs on the same machine)`)
