#!/usr/bin/env node
// Reference side of internal/arweave's tests: signs ANS-104 data items and
// bundles with arbundles and aoconnect, and verifies items made by Go.
//
//   node vectors.cjs wallet                      print a new Arweave JWK (arweave-js's generator)
//   node vectors.cjs generate [--wallet FILE]    print test vectors (JSON) to stdout
//   node vectors.cjs verify DIR                  check DIR/*.item and DIR/*.bundle, print JSON
//
// See README.md.
'use strict'

const fs = require('fs')
const path = require('path')
const crypto = require('crypto')

const arbundles = require('arbundles')
const dha = require('@dha-team/arbundles')
const { createDataItemSigner } = require('@permaweb/aoconnect')
const ed = require('@noble/ed25519')
const bs58 = require('bs58')
const { computeAddress } = require('@ethersproject/transactions')

const b64u = (b) => Buffer.from(b).toString('base64url')
const fromB64u = (s) => Buffer.from(s, 'base64url')
const sha256 = (b) => crypto.createHash('sha256').update(b).digest()

function versionOf (pkg) {
  // Read package.json from the installed package (exports maps may hide it).
  let dir = path.dirname(require.resolve(pkg))
  for (;;) {
    const f = path.join(dir, 'package.json')
    if (fs.existsSync(f)) {
      const j = JSON.parse(fs.readFileSync(f, 'utf8'))
      if (j.name === pkg) return j.version
    }
    const up = path.dirname(dir)
    if (up === dir) return 'unknown'
    dir = up
  }
}

const generator = () => ({
  node: process.version,
  arbundles: versionOf('arbundles'),
  '@dha-team/arbundles': versionOf('@dha-team/arbundles'),
  '@permaweb/aoconnect': versionOf('@permaweb/aoconnect')
})

// Deterministic, documented test keys (never used for anything real).
const ED25519_SEED = sha256(Buffer.from('aocu arweave-vectors ed25519 test key'))
const ETH_KEY = sha256(Buffer.from('aocu arweave-vectors secp256k1 test key'))

// Pseudo-random bytes from a label, so the vectors' inputs are reproducible.
function bytesFrom (label, n) {
  const out = []
  let counter = 0
  let have = 0
  while (have < n) {
    const h = sha256(Buffer.from(`${label}/${counter++}`))
    out.push(h)
    have += h.length
  }
  return Buffer.concat(out).subarray(0, n)
}

// Salt length of an RSA-PSS (SHA-256, MGF1-SHA-256) signature, recovered with
// the public key: EM = sig^e mod n, then RFC 8017 EMSA-PSS decoding.
function pssSaltLength (ownerB64u, sig) {
  const key = crypto.createPublicKey({ key: { kty: 'RSA', n: ownerB64u, e: 'AQAB' }, format: 'jwk' })
  const em = crypto.publicDecrypt({ key, padding: crypto.constants.RSA_NO_PADDING }, sig)
  const hLen = 32
  const emLen = em.length
  if (em[emLen - 1] !== 0xbc) return -1
  const maskedDB = em.subarray(0, emLen - hLen - 1)
  const H = em.subarray(emLen - hLen - 1, emLen - 1)
  const mask = []
  for (let c = 0; Buffer.concat(mask).length < maskedDB.length; c++) {
    const C = Buffer.alloc(4)
    C.writeUInt32BE(c)
    mask.push(crypto.createHash('sha256').update(Buffer.concat([H, C])).digest())
  }
  const m = Buffer.concat(mask)
  const db = Buffer.from(maskedDB.map((x, i) => x ^ m[i]))
  db[0] &= 0x7f // 8*emLen - emBits = 1 for a 4096-bit modulus
  let i = 0
  while (i < db.length && db[i] === 0) i++
  if (i === db.length || db[i] !== 1) return -1
  return db.length - i - 1
}

// The owner address as the ao CU computes it (servers/cu/src/domain/utils.js
// addressFrom): EIP-55 address for 65-byte (Ethereum) owners, else sha256.
function aoOwnerAddress (owner) {
  if (owner.length === 65) return computeAddress(owner)
  return b64u(sha256(owner))
}

// aoconnect's data item signing (connect/src/client/signer.js toDataItemSigner):
// the signer calls create() with its public key, gets the deep hash to sign,
// and returns the signature, which is set into the unsigned bytes.
async function signWithAoconnect (aoSigner, { data, tags, target, anchor }) {
  let unsigned
  const create = async ({ publicKey, type = 1 }) => {
    const meta = { ...dha.SIG_CONFIG[type] }
    meta.signatureType = type
    meta.ownerLength = meta.pubLength
    meta.signatureLength = meta.sigLength
    meta.publicKey = Buffer.from(publicKey)
    unsigned = dha.createData(data, meta, { target, tags, anchor }).getRaw()
    return new dha.DataItem(unsigned).getSignatureData()
  }
  const res = await aoSigner(create, 'ans104')
  unsigned.set(Buffer.from(res.signature), 2)
  return new arbundles.DataItem(unsigned)
}

function describe (item) {
  return {
    signatureType: item.signatureType,
    id: item.id,
    owner: item.owner,
    ownerAddress: b64u(sha256(item.rawOwner)),
    aoOwnerAddress: aoOwnerAddress(item.rawOwner),
    target: b64u(item.rawTarget),
    anchor: b64u(item.rawAnchor),
    tags: item.tags,
    data: b64u(item.rawData)
  }
}

function aoTags (extra) {
  return [
    { name: 'Data-Protocol', value: 'ao' },
    { name: 'Variant', value: 'ao.TN.1' },
    ...extra
  ]
}

async function generate (walletPath) {
  const jwk = JSON.parse(fs.readFileSync(walletPath, 'utf8'))
  const rsa = new arbundles.ArweaveSigner(jwk)
  const edPub = Buffer.from(await ed.getPublicKey(ED25519_SEED))
  const ed25519 = new arbundles.SolanaSigner(bs58.encode(Buffer.concat([ED25519_SEED, edPub])))
  const eth = new arbundles.EthereumSigner(ETH_KEY.toString('hex'))
  const ao = createDataItemSigner(jwk)

  const processId = b64u(sha256(Buffer.from('aocu test process')))
  const manyTags = Array.from({ length: 128 }, (_, i) => ({ name: `T-${i}`, value: `v${i}` }))
  const cases = [
    { name: 'rsa-ao-message', signer: 'arbundles ArweaveSigner', s: rsa, data: 'hello ao', target: processId, anchor: '00000000000000000000000000000001', tags: aoTags([{ name: 'Type', value: 'Message' }, { name: 'Action', value: 'Eval' }]) },
    { name: 'rsa-bare', signer: 'arbundles ArweaveSigner', s: rsa, data: '', tags: [] },
    { name: 'rsa-target-binary-data', signer: 'arbundles ArweaveSigner', s: rsa, data: bytesFrom('binary', 1000), target: processId, tags: [{ name: 'Content-Type', value: 'application/octet-stream' }] },
    { name: 'rsa-anchor-unicode-tags', signer: 'arbundles ArweaveSigner', s: rsa, data: 'ünïcødé 🚀', anchor: 'anchor-anchor-anchor-anchor-0032', tags: [{ name: 'ñame', value: 'värde 🚀' }, { name: 'Empty', value: '' }, { name: 'Long', value: 'x'.repeat(300) }, { name: 'Long-Unicode', value: 'é'.repeat(100) }] },
    { name: 'rsa-128-tags', signer: 'arbundles ArweaveSigner', s: rsa, data: 'many tags', tags: manyTags },
    { name: 'rsa-max-value', signer: 'arbundles ArweaveSigner', s: rsa, data: 'v', tags: [{ name: 'Big', value: 'v'.repeat(3072) }] },
    { name: 'rsa-max-name', signer: 'arbundles ArweaveSigner', s: rsa, data: 'n', tags: [{ name: 'N'.repeat(1024), value: 'short' }] },
    { name: 'rsa-large-data', signer: 'arbundles ArweaveSigner', s: rsa, data: bytesFrom('large', 10000), tags: [{ name: 'Size', value: '10000' }] },
    { name: 'aoconnect-message', signer: 'aoconnect createDataItemSigner', ao: true, data: 'Send({ Target = ao.id, Action = "Ping" })', target: processId, anchor: '00000000000000000000000000000042', tags: aoTags([{ name: 'Type', value: 'Message' }, { name: 'Action', value: 'Eval' }, { name: 'SDK', value: 'aoconnect' }]) },
    { name: 'aoconnect-process', signer: 'aoconnect createDataItemSigner', ao: true, data: '1984', tags: aoTags([{ name: 'Type', value: 'Process' }, { name: 'Module', value: b64u(sha256(Buffer.from('module'))) }, { name: 'Scheduler', value: b64u(sha256(Buffer.from('scheduler'))) }, { name: 'SDK', value: 'aoconnect' }, { name: 'Content-Type', value: 'text/plain' }]) },
    { name: 'ed25519-message', signer: 'arbundles SolanaSigner (type 2)', s: ed25519, data: 'ed25519 data', target: processId, anchor: '00000000000000000000000000000007', tags: aoTags([{ name: 'Type', value: 'Message' }]) },
    { name: 'ed25519-bare', signer: 'arbundles SolanaSigner (type 2)', s: ed25519, data: '', tags: [] },
    { name: 'ethereum-message', signer: 'arbundles EthereumSigner', s: eth, data: 'ethereum data', target: processId, anchor: '00000000000000000000000000000009', tags: aoTags([{ name: 'Type', value: 'Message' }, { name: 'Action', value: 'Balance' }]) },
    { name: 'ethereum-bare', signer: 'arbundles EthereumSigner', s: eth, data: 'x', tags: [] }
  ]

  const items = []
  const signed = {}
  for (const c of cases) {
    let item
    if (c.ao) {
      item = await signWithAoconnect(ao, c)
    } else {
      item = arbundles.createData(c.data, c.s, { target: c.target, anchor: c.anchor, tags: c.tags })
      await item.sign(c.s)
    }
    const raw = item.getRaw()
    const v = {
      name: c.name,
      signer: c.signer,
      raw: b64u(raw),
      ...describe(item),
      signatureData: b64u(await item.getSignatureData()),
      verified: await arbundles.DataItem.verify(raw),
      verifiedDha: await dha.DataItem.verify(Buffer.from(raw))
    }
    if (item.signatureType === 1) v.pssSaltLength = pssSaltLength(item.owner, item.rawSignature)
    if (!v.verified || !v.verifiedDha) throw new Error(`${c.name}: reference does not verify its own item`)
    items.push(v)
    signed[c.name] = item
  }

  // Bundles, built by arbundles' bundleAndSignData. Unsigned items are signed
  // with the RSA wallet on the way.
  const unsigned = arbundles.createData('signed by bundleAndSignData', rsa, { tags: [{ name: 'In', value: 'bundle' }] })
  const bundleCases = [
    { name: 'bundle-mixed', items: [signed['rsa-ao-message'], signed['ed25519-message'], signed['ethereum-message'], unsigned] },
    { name: 'bundle-single', items: [signed['rsa-bare']] },
    { name: 'bundle-empty', items: [] }
  ]
  const bundles = []
  for (const c of bundleCases) {
    const b = await arbundles.bundleAndSignData(c.items, rsa)
    const verified = await b.verify()
    if (!verified) throw new Error(`${c.name}: reference does not verify its own bundle`)
    bundles.push({ name: c.name, raw: b64u(b.getRaw()), ids: b.getIds(), verified })
  }

  // Deep hashes of assorted structures: {blob: b64url} or {list: [...]}.
  const toChunks = (x) => x.list ? x.list.map(toChunks) : fromB64u(x.blob)
  const blob = (b) => ({ blob: b64u(b) })
  const deepInputs = [
    blob(Buffer.alloc(0)),
    blob(Buffer.from('hello')),
    { list: [] },
    { list: [blob(Buffer.alloc(0))] },
    { list: [blob(Buffer.from('a')), blob(Buffer.from('b'))] },
    { list: [{ list: [blob(Buffer.from('a'))] }, { list: [] }, { list: [{ list: [] }] }] },
    blob(bytesFrom('deep', 5000)),
    { list: Array.from({ length: 12 }, (_, i) => blob(Buffer.from(String(i)))) }
  ]
  const deepHashes = []
  for (const input of deepInputs) {
    deepHashes.push({ input, hash: b64u(await arbundles.deepHash(toChunks(input))) })
  }

  return {
    comment: 'Generated by tools/arweave-vectors/vectors.cjs generate; see its README. RSA items are signed with internal/arweave/testdata/wallet.json.',
    generator: generator(),
    wallet: { address: b64u(sha256(fromB64u(jwk.n))) },
    keys: { ed25519Seed: b64u(ED25519_SEED), ethereumPrivateKey: b64u(ETH_KEY), ethereumAddress: computeAddress(eth.publicKey) },
    deepHashes,
    items,
    bundles
  }
}

async function describeChecked (raw) {
  const r = {}
  try {
    r.valid = await arbundles.DataItem.verify(raw)
  } catch (e) {
    r.valid = false
    r.error = String(e && e.message)
  }
  try {
    r.validDha = await dha.DataItem.verify(Buffer.from(raw))
  } catch (e) {
    r.validDha = false
    r.errorDha = String(e && e.message)
  }
  try {
    const item = new arbundles.DataItem(raw)
    Object.assign(r, describe(item))
    r.signatureData = b64u(await item.getSignatureData())
    if (item.signatureType === 1) r.pssSaltLength = pssSaltLength(item.owner, item.rawSignature)
  } catch (e) {
    r.describeError = String(e && e.message)
  }
  return r
}

async function verify (dir) {
  const results = []
  for (const file of fs.readdirSync(dir).sort()) {
    const raw = fs.readFileSync(path.join(dir, file))
    if (file.endsWith('.item')) {
      results.push({ file, kind: 'item', ...(await describeChecked(raw)) })
    } else if (file.endsWith('.bundle')) {
      const r = { file, kind: 'bundle' }
      try {
        const b = new arbundles.Bundle(raw)
        r.valid = await b.verify()
        r.ids = b.getIds()
        r.items = []
        for (const item of b.items) r.items.push(await describeChecked(item.getRaw()))
      } catch (e) {
        r.valid = false
        r.error = String(e && e.message)
      }
      results.push(r)
    }
  }
  return { generator: generator(), results }
}

async function main () {
  const [cmd, ...args] = process.argv.slice(2)
  let out
  if (cmd === 'wallet') {
    out = await arbundles.getCryptoDriver().generateJWK()
  } else if (cmd === 'generate') {
    const i = args.indexOf('--wallet')
    const walletPath = i >= 0 ? args[i + 1] : path.join(__dirname, '..', '..', 'internal', 'arweave', 'testdata', 'wallet.json')
    out = await generate(walletPath)
  } else if (cmd === 'verify' && args.length === 1) {
    out = await verify(args[0])
  } else {
    process.stderr.write('usage: node vectors.cjs wallet | generate [--wallet FILE] | verify DIR\n')
    process.exit(2)
  }
  process.stdout.write(JSON.stringify(out, null, 1) + '\n')
}

main().catch((e) => {
  process.stderr.write(`vectors.cjs: ${e && e.stack ? e.stack : e}\n`)
  process.exit(1)
})
