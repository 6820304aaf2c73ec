// A token on aos (seed 003): the owner holds the supply and transfers to a
// second wallet, which transfers part of it back; balances are read with
// dry-runs, which cost nothing and change nothing.
//
//   node examples/token.mjs
import { readFileSync } from 'node:fs'
import { network, newWallet, send, evalLua, ask, tag, report } from './lib/network.mjs'

const { ao, module, scheduler, authority } = await network()
const alice = await newWallet() // spawns the token: the whole supply is hers
const bob = await newWallet()

const pid = await ao.spawn({
  module,
  scheduler,
  signer: alice.signer,
  tags: [{ name: 'Authority', value: authority }, { name: 'Name', value: 'token' }]
})
console.log('token process', pid)
await evalLua(ao, pid, alice.signer, readFileSync(new URL('./lua/token.lua', import.meta.url), 'utf8'))

// Reads a balance by dry-run.
const balance = async who => tag((await ask(ao, pid, { Action: 'Balance', Account: who })).Messages[0], 'Balance')

// A transfer is a message signed by the sender; its result carries the two
// notices the handler sends (to the sender and to the recipient).
const transfer = async (from, to, quantity) => {
  const res = await send(ao, pid, from.signer, { Action: 'Transfer', Recipient: to.address, Quantity: quantity })
  return res.Messages.map(m => ({ to: m.Target === from.address ? 'sender' : m.Target === to.address ? 'recipient' : m.Target, data: m.Data }))
}

const initial = await balance(alice.address)
const t1 = await transfer(alice, bob, 250) // Alice -> Bob
const t2 = await transfer(bob, alice, 50) //  Bob -> Alice, signed by Bob
const t3 = await transfer(bob, alice, 1000) // more than Bob has
const final = { alice: await balance(alice.address), bob: await balance(bob.address) }
console.log('Alice', final.alice, 'Bob', final.bob)

// Every message the process computed, newest first (CU /results).
const page = await ao.results({ process: pid, sort: 'DESC', limit: 25 })

report({
  example: 'token',
  process: pid,
  initial,
  transfers: [t1, t2, t3],
  balances: final,
  results: page.edges.length
})
