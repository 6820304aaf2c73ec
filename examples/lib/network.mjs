// Shared helpers of the examples: where the local ao network is, a fresh
// wallet, and a way to wait for messages that travel between processes.
//
// Every example talks to `aocu dev` (gateway :4000, MU :4002, SU :4003,
// CU :4004) through the unmodified @permaweb/aoconnect in its legacy mode.
// Nothing here is specific to aocu except the discovery of the network, which
// needs three values besides the URLs:
//
//   module     the aos module to spawn: the gateway's GraphQL is asked for the
//              newest `Type=Module` item with `Name=aos2_0_6` (AO_MODULE_NAME);
//   scheduler  the SU's wallet address: the newest `Type=Scheduler-Location`
//              record on the gateway (the one whose Url is SU_URL if several);
//   authority  the MU's wallet address. aos only trusts messages pushed by
//              the MU (process to process) if the process was spawned with
//              the tag `Authority = <MU address>`. Nothing on the network
//              publishes it, so it is read from `<data-dir>/network.json`
//              when `aocu dev` writes one, else derived from the public key in
//              `<data-dir>/wallets/mu.json` (data dir: AOCU_DATA_DIR, default
//              `.aocu`, the default of `aocu dev --data-dir`).
//
// Environment (all optional):
//   GATEWAY_URL, GRAPHQL_URL, MU_URL, CU_URL, SU_URL   the units' URLs
//   AOCU_DATA_DIR     the data directory of `aocu dev` (default .aocu)
//   AOCU_NETWORK      a network.json to read instead of <data-dir>/network.json
//   AO_MODULE, AO_SCHEDULER, AO_AUTHORITY              skip the discovery
//   AO_MODULE_NAME    the module to look up by name (default aos2_0_6)
//   AO_WALLET         a JWK file to use instead of freshly generated wallets

import { readFileSync, existsSync } from 'node:fs'
import { createHash } from 'node:crypto'
import { join } from 'node:path'
import Arweave from 'arweave'
import { connect, createDataItemSigner } from '@permaweb/aoconnect'

const env = process.env

/** Reads a JSON file, or returns undefined when it does not exist. */
function readJSON (path) {
  if (!path || !existsSync(path)) return undefined
  return JSON.parse(readFileSync(path, 'utf8'))
}

/** The Arweave address of a JWK: base64url(sha256(n)). */
export function addressOf (jwk) {
  return createHash('sha256').update(Buffer.from(jwk.n, 'base64url')).digest('base64url')
}

/** POSTs a GraphQL query to the gateway and returns the edges' nodes. */
async function graphql (url, query, variables) {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ query, variables })
  })
  if (!res.ok) throw new Error(`GraphQL ${url}: ${res.status} ${await res.text()}`)
  const body = await res.json()
  if (body.errors) throw new Error(`GraphQL ${url}: ${JSON.stringify(body.errors)}`)
  return body.data.transactions.edges.map(e => e.node)
}

const tagOf = (node, name) => node.tags.find(t => t.name === name)?.value

/**
 * Finds the local network and returns aoconnect's legacy-mode API bound to
 * it, with the ids an example needs to spawn aos processes.
 */
export async function network () {
  const dataDir = env.AOCU_DATA_DIR || '.aocu'
  // `aocu dev` may describe itself in <data-dir>/network.json.
  const file = readJSON(env.AOCU_NETWORK || join(dataDir, 'network.json')) || {}

  const GATEWAY_URL = env.GATEWAY_URL || file.gatewayUrl || 'http://localhost:4000'
  const GRAPHQL_URL = env.GRAPHQL_URL || file.graphqlUrl || `${GATEWAY_URL}/graphql`
  const MU_URL = env.MU_URL || file.muUrl || 'http://localhost:4002'
  const CU_URL = env.CU_URL || file.cuUrl || 'http://localhost:4004'
  const SU_URL = env.SU_URL || file.suUrl || 'http://localhost:4003'

  // The aos module, by name.
  const moduleName = env.AO_MODULE_NAME || 'aos2_0_6'
  let module = env.AO_MODULE || file.modules?.[moduleName]
  if (!module) {
    const [mod] = await graphql(GRAPHQL_URL, `query ($name: [String!]!) {
      transactions(first: 1, sort: HEIGHT_DESC, tags: [
        { name: "Data-Protocol", values: ["ao"] },
        { name: "Type", values: ["Module"] },
        { name: "Name", values: $name }
      ]) { edges { node { id tags { name value } } } } }`, { name: [moduleName] })
    if (!mod) throw new Error(`no module named ${moduleName} on ${GRAPHQL_URL} (is aocu dev running?)`)
    module = mod.id
  }

  // The scheduler: the owner of the SU's Scheduler-Location record.
  let scheduler = env.AO_SCHEDULER || file.suAddress
  if (!scheduler) {
    const locations = await graphql(GRAPHQL_URL, `query {
      transactions(first: 20, sort: HEIGHT_DESC, tags: [
        { name: "Data-Protocol", values: ["ao"] },
        { name: "Type", values: ["Scheduler-Location"] }
      ]) { edges { node { id owner { address } tags { name value } } } } }`)
    const sameURL = u => u && new URL(u).port === new URL(SU_URL).port
    const loc = locations.find(n => sameURL(tagOf(n, 'Url'))) || locations[0]
    if (!loc) throw new Error(`no Scheduler-Location on ${GRAPHQL_URL}`)
    scheduler = loc.owner.address
  }

  // The MU's address, which processes must list as an Authority.
  let authority = env.AO_AUTHORITY || file.muAddress
  if (!authority) {
    const mu = readJSON(join(dataDir, 'wallets', 'mu.json'))
    if (!mu) {
      throw new Error(`cannot tell the MU's address: set AO_AUTHORITY (aocu dev prints it) or AOCU_DATA_DIR (${dataDir}/wallets/mu.json not found)`)
    }
    authority = addressOf(mu) // only the public modulus n is used
  }

  // aoconnect, legacy mode (MU + CU + gateway). Every URL is given: without
  // them aoconnect would talk to the public testnet.
  const ao = connect({ MODE: 'legacy', MU_URL, CU_URL, GATEWAY_URL, GRAPHQL_URL })
  return { ao, module, scheduler, authority, urls: { GATEWAY_URL, GRAPHQL_URL, MU_URL, CU_URL, SU_URL } }
}

const arweave = Arweave.init({}) // only used for local key generation

/**
 * A wallet (JWK) with its address and an aoconnect signer. Keys are generated
 * on the spot (any RSA JWK works on a dev network) unless AO_WALLET names one
 * (then every call returns that same wallet).
 */
export async function newWallet () {
  const jwk = env.AO_WALLET ? readJSON(env.AO_WALLET) : await arweave.wallets.generate()
  return { jwk, address: addressOf(jwk), signer: createDataItemSigner(jwk) }
}

/** The value of a tag in a result's message ({name, value} array). */
export const tag = (msg, name) => msg?.Tags?.find(t => t.name === name)?.value

/**
 * Calls fn every `every` ms until it returns a truthy value, which is then
 * returned; throws after `timeout` ms. Process-to-process messages are pushed
 * by the MU in the background, so their effects are awaited this way.
 */
export async function waitFor (what, fn, { timeout = 60000, every = 250 } = {}) {
  const deadline = Date.now() + timeout
  let last
  for (;;) {
    last = await fn()
    if (last) return last
    if (Date.now() > deadline) throw new Error(`timed out after ${timeout} ms waiting for ${what}`)
    await new Promise(resolve => setTimeout(resolve, every))
  }
}

/**
 * Sends a message and returns its result (what the CU computed for it).
 * result() itself waits until the CU has evaluated the message.
 */
export async function send (ao, process, signer, tags, data) {
  const id = await ao.message({
    process,
    signer,
    tags: Object.entries(tags).map(([name, value]) => ({ name, value: String(value) })),
    data
  })
  return { id, ...(await ao.result({ process, message: id })) }
}

/** Evaluates Lua in a process (aos accepts Eval from the process owner only). */
export async function evalLua (ao, process, signer, lua) {
  const res = await send(ao, process, signer, { Action: 'Eval' }, lua)
  if (res.Error) throw new Error(`Eval failed: ${res.Error}`)
  return res
}

/** A dry-run: the process answers from its current state, nothing is stored. */
export async function ask (ao, process, tags, data) {
  return ao.dryrun({
    process,
    tags: Object.entries(tags).map(([name, value]) => ({ name, value: String(value) })),
    data
  })
}

/** Prints the example's results as the last line of its output (one JSON object). */
export function report (results) {
  console.log(JSON.stringify(results))
}
