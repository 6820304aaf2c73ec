// A process that spawns a child process (ao.spawn in Lua), is told the
// child's id by a Spawned message, then exchanges messages with it.
//
//   node examples/spawn-child.mjs
import { readFileSync } from 'node:fs'
import { network, newWallet, send, evalLua, ask, waitFor, report } from './lib/network.mjs'

const { ao, module, scheduler, authority } = await network()
const { signer } = await newWallet()
const lua = name => readFileSync(new URL(`./lua/${name}.lua`, import.meta.url), 'utf8')

const parent = await ao.spawn({
  module,
  scheduler,
  signer,
  tags: [{ name: 'Authority', value: authority }, { name: 'Name', value: 'parent' }]
})
console.log('parent', parent)
await evalLua(ao, parent, signer, lua('parent'))

// The result of SpawnChild holds the spawn in its outbox; the MU posts it to
// the SU as a new process, then sends the parent its Spawned message.
const res = await send(ao, parent, signer, { Action: 'SpawnChild' }, lua('child'))
console.log('SpawnChild -> spawns', res.Spawns.length)

const family = await waitFor('the child to answer', async () => {
  const f = JSON.parse((await ask(ao, parent, { Action: 'Family' })).Messages[0].Data)
  return f.children.length === 1 && f.greetings[f.children[0]] && f
})
const child = family.children[0]
console.log('child', child, 'says:', family.greetings[child])

// The child is an ordinary process: it answers a dry-run too.
const hello = await ask(ao, child, { Action: 'Hello' })

// The parent's results include the Spawned message the MU pushed.
const page = await ao.results({ process: parent, sort: 'ASC', limit: 25 })

report({
  example: 'spawn-child',
  parent,
  child,
  spawnsInResult: res.Spawns.length,
  spawnModule: res.Spawns[0]?.Tags?.find(t => t.name === 'Module')?.value,
  greeting: family.greetings[child],
  dryrunGreeting: hello.Messages[0]?.Data,
  parentResults: page.edges.length
})
