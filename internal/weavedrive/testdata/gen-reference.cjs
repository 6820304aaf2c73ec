// Generates reference.json for the weavedrive tests by running the reference WeaveDrive extension itself
// (npm @permaweb/weavedrive@0.0.18) with a stubbed fetch and emscripten FS, plus node's own JSON.stringify and
// TextDecoder. The RSA key is random, so a regenerated file needs the rsaModulus/rsaAddress constants in
// gateway_test.go updated to its "n" and "indep".
//
// usage: (cd /tmp && npm pack @permaweb/weavedrive@0.0.18 && tar xzf permaweb-weavedrive-0.0.18.tgz)
//        node gen-reference.cjs /tmp/package/dist/index.cjs > reference.json
const crypto = require('crypto')
const weaveDrive = require(require('path').resolve(process.argv[2]))
const log = []
let responder = null
globalThis.fetch = async (url, opts = {}) => {
  log.push({ url, method: opts.method || 'GET', headers: opts.headers, body: opts.body })
  const [status, body] = responder(url, opts)
  return new Response(body, { status })
}
const files = {}
const FS = {
  createPath () {}, analyzePath () { return { exists: false } },
  createDataFile (parent, name, buf) { files[name] = Buffer.from(buf) },
  open () { return { fd: 3 } }, mkdir () {}
}
async function main () {
  // 1. ownerAddress from a fresh RSA-4096 modulus
  const { publicKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 4096, publicExponent: 65537 })
  const n = publicKey.export({ format: 'jwk' }).n
  const indep = crypto.createHash('sha256').update(Buffer.from(n, 'base64url')).digest('base64url')
  const TX = 'SOME_TX_ID_' + '0'.repeat(32)
  const mod = { ARWEAVE: 'http://gw.example', spawn: { tags: [] }, module: { tags: [] }, blockHeight: 1500000 }
  const d = weaveDrive(mod, FS)
  const simple = JSON.stringify({ id: TX, owner: n, tags: [], data_size: '0', target: '' })
  responder = () => [200, simple]
  await d.createTxHeader(TX)
  const out = { n, indep, simpleBody: simple, simpleFile: files['tx/' + TX].toString('utf8') }
  // 2. tricky body
  const tricky = '\ufeff{ "id" : "' + TX + '", "format": 2, "owner": "' + n.slice(0, 20) + '",\n "10": 1, "2": true, "num": 1.50, "big": 12345678901234567890, "small": 1e-7, "tiny": 0.000001, "exp": 1E21, "e20": 1e20, "neg0": -0, "negf": -2.5e-9, "huge": 1e400, "esc": "a\\/b\\u00e9\\ud83d\\ude00\\u2028<>&\\u0001\\u001f\\"\\\\\\b\\f\\n\\r\\t\u00fc", "lone": "\\udc00x\\ud800", "dup": 1, "dup": 2, "nested": {"b":1,"a":[1,2,{"5":0,"x":null,"01":1,"4294967295":1,"4294967294":2}]}, "ownerAddress": "old", "z": [] }  '
  responder = () => [200, tricky]
  await d.createTxHeader(TX)
  out.trickyBody = tricky
  out.trickyFile = files['tx/' + TX].toString('utf8')
  // weird owners
  out.owners = {}
  for (const o of ['', 'A', 'AB', 'ABC', 'ABCD', 'ABCDE', 'AB=C', 'A+/_-B', 'A*B!', 'éab', 'ABCDEF==', '😀xyz']) {
    responder = () => [200, JSON.stringify({ owner: o })]
    try { await d.createTxHeader(TX); out.owners[o] = JSON.parse(files['tx/' + TX].toString()).ownerAddress } catch (e) { out.owners[o] = 'THROW ' + e.message }
  }
  // 3. graphql bodies
  const ID = 'DATA_TX_ID_' + '0'.repeat(32)
  const mk = (ptags, mtags) => weaveDrive({ ARWEAVE: 'http://gw.example', spawn: { tags: ptags }, module: { tags: mtags }, blockHeight: 1500000 }, FS)
  log.length = 0
  responder = () => [200, JSON.stringify({ data: { transactions: { edges: [] } } })]
  const ptags = [{ name: 'Scheduler', value: 'SCHED_0' }, { name: 'Scheduler', value: 'SCHED_1' }, { name: 'Attestor', value: 'ATT_1' }, { name: 'Attestor', value: '' }, { name: 'Attestor', value: 'ATT_2' }, { name: 'Extension', value: 'WeaveDrive' }, { name: 'Availability-Type', value: 'Individual' }]
  out.individualResult = await mk(ptags, []).checkAdmissible(ID)
  out.gql = log.map(x => ({ url: x.url, method: x.method, headers: x.headers, body: x.body }))
  log.length = 0
  try { await mk([{ name: 'Extension', value: 'WeaveDrive' }, { name: 'Availability-Type', value: 'Library' }], []).checkAdmissible(ID) } catch (e) { out.libraryThrow = e.message }
  out.libraryLog = log.map(x => x.body)
  // 4. JSON.stringify of numbers (bit patterns as hex, so the Go test parses nothing but the expected text)
  const nums = [0, -0, 1, -1, 0.1, 1.5, 123e-20, 1e21, 1e20, 999999999999999900000, 1e-6, 1e-7, 1.2345e-7, 5e-324, 1.7976931348623157e308,
    2 ** 53, 2 ** 53 + 2, 123456789012345680000, 0.000001234, 100, 1e100, -1e-100, 4.35, 0.3, 2 / 3]
  for (let i = 0; i < 1000; i++) {
    const b = crypto.randomBytes(8)
    const f = b.readDoubleBE(0)
    if (Number.isFinite(f)) nums.push(f)
    nums.push(Math.round(Math.random() * 10 ** (Math.random() * 22)) / 10 ** Math.floor(Math.random() * 8))
  }
  out.numbers = nums.map(f => { const b = Buffer.alloc(8); b.writeDoubleBE(f); return [b.toString('hex'), JSON.stringify(f)] })
  // 5. WHATWG UTF-8 decoding (what Response.text()/json() do) of invalid input
  const seqs = ['efbbbf41', '41efbbbf42', 'c0af', 'e282', 'e28241', 'f09f98', 'f09f9841', 'eda080', 'f4908080', 'ff', 'c2', 'e0a0', 'e080', 'f08f', 'c3a9e2', 'fe41fe', 'f0', 'e0a0c3a9', '80808041', 'f4bfbfbf']
  out.utf8 = seqs.map(h => [h, Buffer.from(new TextDecoder().decode(Buffer.from(h, 'hex')), 'utf8').toString('hex')])
  console.log(JSON.stringify(out, null, 1))
}
main()
