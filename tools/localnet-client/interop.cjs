#!/usr/bin/env node
// Interop check of the Go local net with ao clients written elsewhere:
//   (a) @permaweb/ao-scheduler-utils locate() against the local GraphQL,
//   (b) arbundles-built, arbundles-signed Message items POSTed to the SU.
//
// Usage:
//   node interop.cjs --graphql http://127.0.0.1:1984/graphql \
//     --su http://127.0.0.1:4003 --process <pid> --scheduler <su address> \
//     [--wallet ../../internal/arweave/testdata/wallet.json] [--count 3]
// Every flag may also come from the environment: GRAPHQL_URL, SU_URL,
// PROCESS_ID, SCHEDULER, WALLET, COUNT.
//
// No request leaves loopback: global fetch is wrapped before the clients are
// loaded, and any non-loopback URL gets a local 404 instead of a network
// call. scheduler-utils hard-codes an eager GET to
// https://su-router.ao-testnet.xyz when locate() has no scheduler hint; that
// call is answered 404 here, so it falls through to GraphQL as it does when
// the router is unreachable-but-answering. Blocked URLs are reported.
//
// The last stdout line is `RESULT <json>` for machines.
'use strict'

const fs = require('node:fs')
const path = require('node:path')

function args () {
  const out = {
    graphql: process.env.GRAPHQL_URL,
    su: process.env.SU_URL,
    process: process.env.PROCESS_ID,
    scheduler: process.env.SCHEDULER,
    wallet: process.env.WALLET || path.join(__dirname, '..', '..', 'internal', 'arweave', 'testdata', 'wallet.json'),
    count: process.env.COUNT || '3'
  }
  const argv = process.argv.slice(2)
  for (let i = 0; i < argv.length; i++) {
    const m = /^--([a-z]+)(?:=(.*))?$/.exec(argv[i])
    if (!m || !(m[1] in out)) throw new Error(`unknown argument ${argv[i]}`)
    out[m[1]] = m[2] !== undefined ? m[2] : argv[++i]
  }
  for (const k of ['graphql', 'su', 'process', 'scheduler']) {
    if (!out[k]) throw new Error(`missing --${k}`)
  }
  out.count = Number.parseInt(out.count, 10)
  out.su = out.su.replace(/\/+$/, '')
  return out
}

function isLoopback (u) {
  let h
  try {
    h = new URL(u).hostname
  } catch {
    return false
  }
  return h === 'localhost' || h === '::1' || h === '[::1]' || /^127\./.test(h)
}

// Installed before requiring the clients: scheduler-utils captures the global
// fetch when connect() is called.
const blocked = []
const realFetch = globalThis.fetch
globalThis.fetch = async (input, init) => {
  const u = typeof input === 'string' ? input : (input.url || String(input))
  if (!isLoopback(u)) {
    blocked.push(u)
    return new Response('blocked by localnet interop guard', { status: 404 })
  }
  return realFetch(input, init)
}

const { connect } = require('@permaweb/ao-scheduler-utils')
const { createData, ArweaveSigner } = require('arbundles')

async function main () {
  const a = args()
  if (!isLoopback(a.graphql) || !isLoopback(a.su)) throw new Error('GRAPHQL_URL and SU_URL must be loopback URLs')
  const result = { locate: null, locateNoHint: null, messages: [], blocked }

  // (a) locate with the scheduler hint (Scheduler-Location by owner), then
  // with a fresh cache and no hint (process -> Scheduler tag -> location).
  const withHint = connect({ GRAPHQL_URL: a.graphql, cacheSize: 100, followRedirects: true })
  result.locate = await withHint.locate(a.process, a.scheduler)
  console.log(`locate(process, hint): url=${result.locate.url} address=${result.locate.address}`)
  const noHint = connect({ GRAPHQL_URL: a.graphql, cacheSize: 100, followRedirects: true })
  try {
    result.locateNoHint = await noHint.locate(a.process)
    console.log(`locate(process): url=${result.locateNoHint.url} address=${result.locateNoHint.address}`)
  } catch (e) {
    result.locateNoHint = { error: String(e && e.message ? e.message : e) }
    console.log(`locate(process) failed: ${result.locateNoHint.error}`)
  }
  result.validate = await withHint.validate(a.scheduler)
  console.log(`validate(scheduler): ${result.validate}`)

  // (b) arbundles-signed Message items, POSTed to the located SU.
  const jwk = JSON.parse(fs.readFileSync(a.wallet, 'utf8'))
  const signer = new ArweaveSigner(jwk)
  for (let i = 1; i <= a.count; i++) {
    const item = createData(`ping ${i}`, signer, {
      target: a.process,
      tags: [
        { name: 'Data-Protocol', value: 'ao' },
        { name: 'Variant', value: 'ao.TN.1' },
        { name: 'Type', value: 'Message' },
        { name: 'Action', value: 'Ping' },
        { name: 'Seq', value: String(i) }
      ]
    })
    await item.sign(signer)
    const res = await fetch(`${result.locate.url}/`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/octet-stream' },
      body: item.getRaw()
    })
    const text = await res.text()
    let body
    try {
      body = JSON.parse(text)
    } catch {
      body = text
    }
    console.log(`POST ${item.id}: ${res.status} ${text.trim()}`)
    result.messages.push({ id: item.id, status: res.status, body })
  }
  if (blocked.length) console.log(`blocked non-loopback requests: ${blocked.join(', ')}`)
  console.log('RESULT ' + JSON.stringify(result))
}

main().catch((e) => {
  console.error(e && e.stack ? e.stack : e)
  process.exit(1)
})
