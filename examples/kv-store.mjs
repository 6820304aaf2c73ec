// A key-value store on aos (seed 004), driven by @permaweb/aoconnect:
//   spawn an aos process, load the store's handlers with Eval, Set a key,
//   then Get it back twice: by a message (recorded by the SU, computed by the
//   CU) and by a dry-run (computed on the current state, recorded nowhere).
//
//   aocu dev &            # in another terminal
//   node examples/kv-store.mjs
import { readFileSync } from 'node:fs'
import { network, newWallet, send, evalLua, ask, tag, report } from './lib/network.mjs'

const { ao, module, scheduler, authority } = await network()
const { signer, address } = await newWallet()

// 1. Spawn an aos process. The MU forwards it to the SU named by `scheduler`.
const pid = await ao.spawn({
  module,
  scheduler,
  signer,
  tags: [{ name: 'Authority', value: authority }, { name: 'Name', value: 'kv-store' }]
})
console.log('process', pid)

// 2. Load the handlers (aos evaluates Eval messages from its owner only).
await evalLua(ao, pid, signer, readFileSync(new URL('./lua/kv-store.lua', import.meta.url), 'utf8'))

// 3. Set test = abc. The handler replies "Value stored!" to the sender: the
//    reply is the first message of the result's outbox.
const set = await send(ao, pid, signer, { Action: 'Set', Key: 'test', Value: 'abc' })
console.log('Set ->', set.Messages[0].Data)

// 4. Get by message: the answer is the Value tag of the outbox message.
const get = await send(ao, pid, signer, { Action: 'Get', Key: 'test' })
console.log('Get (message) ->', tag(get.Messages[0], 'Value'))

// 5. Get by dry-run: same handler, but nothing is written to the SU.
const dry = await ask(ao, pid, { Action: 'Get', Key: 'test' })
console.log('Get (dryrun) ->', tag(dry.Messages[0], 'Value'))

// 6. A Set without Value fails the handler's assert: the result has an Error
//    and the store keeps its content.
const bad = await send(ao, pid, signer, { Action: 'Set', Key: 'other' })
const missing = await ask(ao, pid, { Action: 'Get', Key: 'other' })

report({
  example: 'kv-store',
  process: pid,
  owner: address,
  module,
  scheduler,
  authority,
  set: set.Messages[0].Data,
  setTarget: set.Messages[0].Target,
  getByMessage: tag(get.Messages[0], 'Value') ?? null,
  getByDryrun: tag(dry.Messages[0], 'Value') ?? null,
  badSetError: bad.Error ? String(bad.Error).includes('Value is required!') : false,
  missingValue: tag(missing.Messages[0], 'Value') ?? null
})
