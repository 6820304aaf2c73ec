// Two aos processes talking to each other. "ping" sends three Pings to
// "pong" with ao.send(...).receive(); "pong" answers each with msg.reply.
// Only the first message (Start) comes from this script: the MU pushes the
// six others (3 Pings, 3 Pongs) from process to process, so both processes
// must trust the MU (tag Authority = the MU's address).
//
//   node examples/ping-pong.mjs
import { readFileSync } from 'node:fs'
import { network, newWallet, send, evalLua, ask, waitFor, report } from './lib/network.mjs'

const { ao, module, scheduler, authority } = await network()
const { signer } = await newWallet()
const lua = name => readFileSync(new URL(`./lua/${name}.lua`, import.meta.url), 'utf8')

const spawn = name => ao.spawn({
  module,
  scheduler,
  signer,
  tags: [{ name: 'Authority', value: authority }, { name: 'Name', value: name }]
})
const ping = await spawn('ping')
const pong = await spawn('pong')
console.log('ping', ping, 'pong', pong)
await evalLua(ao, ping, signer, lua('ping'))
await evalLua(ao, pong, signer, lua('pong'))

// Start: its result holds the first Ping in the outbox; the MU takes it from there.
const start = await send(ao, ping, signer, { Action: 'Start', Peer: pong, Rounds: 3 })
const firstPing = start.Messages[0]
console.log('Start -> outbox message to', firstPing.Target)

// Wait until the coroutine has seen all three replies (dry-run Status).
const status = await waitFor('the three pongs', async () => {
  const s = JSON.parse((await ask(ao, ping, { Action: 'Status' })).Messages[0].Data)
  return s.done && s.pongs.length === 3 && s
})
console.log('ping received', status.pongs)
const pings = Number((await ask(ao, pong, { Action: 'Count' })).Messages[0].Data)

// The CU's record of what "ping" computed: the pushed Pongs are there too.
const page = await ao.results({ process: ping, sort: 'ASC', limit: 25 })
const output = page.edges.map(e => e.node.Output?.data).filter(Boolean).join('\n')

report({
  example: 'ping-pong',
  ping,
  pong,
  firstPingTarget: firstPing.Target,
  pongs: status.pongs,
  pingsSeenByPong: pings,
  pingResults: page.edges.length,
  printed: output.includes('received 3 pongs')
})
