// Helpers of the harness scripts (chain.mjs, load.mjs, *.test.mjs). Unlike
// examples/lib/network.mjs they discover nothing: the Go test (or whoever
// runs them) passes every value in the environment:
//   MU_URL, CU_URL, GATEWAY_URL [, GRAPHQL_URL]   the units
//   AO_MODULE, AO_SCHEDULER, AO_AUTHORITY          aos module id, SU address, MU address
import { createHash } from 'node:crypto'
import Arweave from 'arweave'
import { connect, createDataItemSigner } from '@permaweb/aoconnect'

export function need (name) {
  const v = process.env[name]
  if (!v) throw new Error(`${name} is not set`)
  return v
}

export function net () {
  const GATEWAY_URL = need('GATEWAY_URL')
  const ao = connect({
    MODE: 'legacy',
    MU_URL: need('MU_URL'),
    CU_URL: need('CU_URL'),
    GATEWAY_URL,
    GRAPHQL_URL: process.env.GRAPHQL_URL || `${GATEWAY_URL}/graphql`
  })
  return { ao, module: need('AO_MODULE'), scheduler: need('AO_SCHEDULER'), authority: need('AO_AUTHORITY') }
}

const arweave = Arweave.init({})

export async function wallet () {
  const jwk = await arweave.wallets.generate()
  const address = createHash('sha256').update(Buffer.from(jwk.n, 'base64url')).digest('base64url')
  return { jwk, address, signer: createDataItemSigner(jwk) }
}

export const tags = obj => Object.entries(obj).map(([name, value]) => ({ name, value: String(value) }))
export const tag = (msg, name) => msg?.Tags?.find(t => t.name === name)?.value
export const sleep = ms => new Promise(resolve => setTimeout(resolve, ms))

/** Spawns an aos process that trusts the MU, optionally booting Lua code. */
export async function spawn ({ ao, module, scheduler, authority }, signer, { name, boot, extra = [] } = {}) {
  const t = [{ name: 'Authority', value: authority }, ...extra]
  if (name) t.push({ name: 'Name', value: name })
  if (boot) t.push({ name: 'On-Boot', value: 'Data' })
  return ao.spawn({ module, scheduler, signer, tags: t, data: boot })
}

export async function send (ao, process, signer, t, data) {
  const id = await ao.message({ process, signer, tags: tags(t), data })
  return { id, ...(await ao.result({ process, message: id })) }
}

export async function ask (ao, process, t, data) {
  return ao.dryrun({ process, tags: tags(t), data })
}

/** Parses --name value flags. */
export function flags (argv = process.argv.slice(3)) {
  const out = {}
  for (let i = 0; i < argv.length; i++) {
    if (argv[i].startsWith('--')) out[argv[i].slice(2)] = argv[i + 1]?.startsWith('--') || argv[i + 1] === undefined ? 'true' : argv[++i]
  }
  return out
}
