// One-step spawn (AOP-6): the process is spawned with its code as Data and
// the tag On-Boot = Data; aos runs the code at boot, so the process is
// usable at once, without an Eval message.
//
//   node examples/on-boot.mjs
import { readFileSync } from 'node:fs'
import { network, newWallet, send, ask, report } from './lib/network.mjs'

const { ao, module, scheduler, authority } = await network()
const { signer } = await newWallet()

const pid = await ao.spawn({
  module,
  scheduler,
  signer,
  tags: [
    { name: 'Authority', value: authority },
    { name: 'On-Boot', value: 'Data' },
    { name: 'Content-Type', value: 'text/x-lua' }
  ],
  data: readFileSync(new URL('./lua/counter.lua', import.meta.url), 'utf8')
})
console.log('process', pid)

// The boot is the result of the Process message itself (its id is the
// process id): the code printed "counter ready".
const boot = await ao.result({ process: pid, message: pid })
console.log('boot output:', boot.Output?.data)

// The handlers exist already: no Eval was sent.
const before = (await ask(ao, pid, { Action: 'Count' })).Messages[0].Data
const one = await send(ao, pid, signer, { Action: 'Increment' })
const two = await send(ao, pid, signer, { Action: 'Increment' })
const after = (await ask(ao, pid, { Action: 'Count' })).Messages[0].Data
console.log('count', before, '->', after)

const page = await ao.results({ process: pid, sort: 'ASC', limit: 25 })

report({
  example: 'on-boot',
  process: pid,
  bootOutput: boot.Output?.data ?? null,
  bootError: boot.Error ?? null,
  countBefore: before,
  increments: [one.Messages[0].Data, two.Messages[0].Data],
  countAfter: after,
  results: page.edges.length
})
