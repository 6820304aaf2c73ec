// Generates internal/cron/testdata/reference.json by running the reference
// CU's own code (servers/cu/src/domain/lib/loadMessages.js of permaweb/ao,
// with ms@2.1.3, ramda@0.30.1, hyper-async@1.1.2) under Node 22 (V8 12.4, the
// reference image's runtime). dal.js and utils.js are replaced by stubs (the
// schemas' implement() is the identity; parseTags/mapFrom are not on the
// compared path).
//
// Layout: <dir>/src/domain/lib/loadMessages.js (verbatim), <dir>/src/domain/
// {dal,utils}.js (stubs), <dir>/node_modules, this file in <dir>.
// Run: node gen.mjs > reference.json
import { Readable, compose } from 'node:stream'
import { parseCrons, loadMessagesWith } from './src/domain/lib/loadMessages.js'

let seed = 0x9e3779b9
function rnd () { // mulberry32
  seed |= 0; seed = seed + 0x6D2B79F5 | 0
  let t = Math.imul(seed ^ seed >>> 15, 1 | seed)
  t = t + Math.imul(t ^ t >>> 7, 61 | t) ^ t
  return ((t ^ t >>> 14) >>> 0) / 4294967296
}
const ri = (a, b) => a + Math.floor(rnd() * (b - a + 1)) // inclusive
const pick = (arr) => arr[Math.floor(rnd() * arr.length)]

// ---- sorts: V8's Array.prototype.sort with ramda's ascend on NaN-bearing values
const sorts = []
for (let c = 0; c < 400; c++) {
  const n = c < 200 ? ri(0, 12) : ri(13, 300)
  const vals = []
  for (let i = 0; i < n; i++) {
    const r = rnd()
    vals.push(r < 0.2 ? NaN : (c % 3 === 0 ? ri(1, 5) : ri(1, 1000)))
  }
  const a = vals.map((v, i) => ({ value: v, i }))
  a.sort((x, y) => x.value < y.value ? -1 : x.value > y.value ? 1 : 0)
  sorts.push({ in: vals.map(v => Number.isNaN(v) ? null : v), out: a.map(x => x.i) })
}

// ---- parse: parseCrons on many interval spellings
const intervalPool = [
  '10-seconds', '5-seconds', '1-minute', '10-minutes', '10-Minutes', '1-month', '2-months',
  '2-blocks', '3-blocks', '1-block', '0-blocks', 'abc-blocks', '10-Blocks', '0x3-blocks', '+4-blocks',
  '5.9-blocks', '1e2-blocks', ' 7 - seconds ', ' 5 - seconds ', '1.5-minutes', '2-Seconds', '1-s', '1000',
  '2000-ms', '500-ms', '999-ms', '1000-ms', '3-secs', '1-hour', '1-hrs', '2-h', '1-day', '1-d', '1-week',
  '2-w', '1-year', '1-yr', '1-y', '.5-minutes', '1.-seconds', '1-seconds-extra', '', '-', '10-',
  '-10-seconds', '1 0-seconds', '10  -  seconds', '10-sec onds', '0.001-years', '1.1-seconds',
  '7-MSECS', '90000-msec', '1-millisecond', '100-y', '1-ſeconds', '\u00a010-seconds\u00a0',
  '\ufeff10-seconds', '\u008510-seconds', '12345678901234567890-blocks',
  '99999999999999999999999999999999-years', '0-seconds', '0.0001-seconds', '1.000001-seconds',
  '60-minutes', '24-hours', '10-SECONDS', '10-Secs', '5-mins', '30-m', '45-S', '1.9999999-seconds'
]
const parse = []
for (const iv of intervalPool) parse.push({ tags: [{ name: 'Cron-Interval', value: iv }, { name: 'Cron-Tag-Action', value: 'Tick' }] })
parse.push({ tags: [{ name: 'Cron-Tag-Action', value: 'x' }, { name: 'Cron-Interval', value: '1-second' }] })
parse.push({ tags: [{ name: 'Cron-Tag-', value: 'x' }, { name: 'Cron-Interval', value: '1-second' }] })
parse.push({ tags: [{ name: 'Cron-Tag-a\nb', value: 'x' }, { name: 'Cron-Interval', value: '1-second' }] })
parse.push({ tags: [{ name: 'cron-interval', value: '1-second' }, { name: 'Cron-Tag-X', value: 'x' }] })
parse.push({ tags: [{ name: 'Cron-Interval', value: '1-second' }, { name: 'Cron-Tag-A\u2028', value: 'x' }, { name: 'Cron-Tag-B', value: 'y' }, { name: 'Cron-Interval', value: '2-blocks' }, { name: 'Cron-Tag-C', value: 'z' }, { name: 'Cron-Tag-C', value: 'w' }] })
parse.push({ tags: [{ name: 'Cron-Interval', value: '1-month' }, { name: 'Cron-Interval', value: '500-ms' }] })
parse.push({ tags: [{ name: 'Cron-Interval', value: '500-ms' }, { name: 'Cron-Tag-X', value: 'x' }] })
parse.push({ tags: [{ name: 'Cron-Tag-X', value: 'x' }, { name: 'Cron-Interval', value: '500-ms' }] })
parse.push({ tags: [] })
for (const p of parse) {
  try {
    const crons = await parseCrons({ tags: p.tags }).toPromise()
    p.crons = crons.map(c => ({ interval: c.interval, unit: c.unit, value: Number.isNaN(c.value) ? null : c.value, tags: c.message.tags }))
  } catch (e) {
    p.error = e.message
  }
}

// ---- streams: the whole merged stream of loadMessagesWith
const logger = Object.assign((...a) => {}, { tap: () => (x) => x })
logger.child = () => logger

const streamIntervals = [
  '10-seconds', '5-seconds', '1-minute', '3-seconds', '7-seconds', '30-seconds', '2-blocks', '3-blocks',
  '1-block', '1-month', '0-blocks', '2-Minutes', ' 4 - seconds ', '1.5-minutes', '13-seconds', '1-hour',
  '20-seconds', '1-blocks', '11-seconds', '5-blocks', 'x-blocks', '1-months'
]
const streams = []
for (let c = 0; c < 500; c++) {
  const tags = [{ name: 'Type', value: 'Process' }]
  const nc = ri(1, 5)
  for (let i = 0; i < nc; i++) {
    tags.push({ name: 'Cron-Interval', value: (c % 25 === 0 && i === 0) ? '1-second' : pick(streamIntervals) })
    const nt = ri(0, 2)
    for (let j = 0; j < nt; j++) tags.push({ name: `Cron-Tag-T${j}`, value: `v${c}-${i}-${j}` })
  }
  const origin = { height: ri(1000, 1100), timestamp: 1700000000000 + ri(0, 5000) }
  const cold = rnd() < 0.5
  let left = cold
    ? { ts: origin.timestamp, height: origin.height, ordinate: '0' }
    : { ts: origin.timestamp + ri(0, 400000), height: 0, ordinate: String(ri(0, 9)) }
  if (!cold) left.height = origin.height + ri(0, 3)
  // scheduled messages
  const scheduled = []
  let ts = left.ts
  let height = left.height
  let nonce = cold ? 0 : Number(left.ordinate) + 1
  const nm = ri(0, 6)
  for (let i = 0; i < nm; i++) {
    const r = rnd()
    ts += r < 0.25 ? ri(0, 999) : r < 0.6 ? ri(1000, 20000) : ri(20000, 120000)
    if (rnd() < 0.3) height += ri(0, 2)
    scheduled.push({ ts, height, nonce, type: (cold && i === 0 && rnd() < 0.5) ? 'Process' : 'Message' })
    nonce++
  }
  // blocks from a bit before the left boundary to past the end
  const blocks = []
  const to = rnd() < 0.4 && scheduled.length ? scheduled[scheduled.length - 1].ts : undefined
  const suNow = ts + (rnd() < 0.2 ? ri(0, 999) : ri(0, 120000))
  const end = Math.max(ts, suNow) + 5000
  let bh = left.height - ri(0, 2)
  let bts = Math.floor(left.ts / 1000) * 1000 - ri(0, 3) * 1000
  const dense = rnd() < 0.3
  while (bts < end) {
    blocks.push({ height: bh, timestamp: bts })
    bh++
    bts += dense ? ri(0, 3) * 1000 + (rnd() < 0.1 ? ri(1, 999) : 0) : ri(20, 200) * 1000
  }

  let findBlocksArg
  const env = {
    logger,
    loadMessages: async () => [Readable.from(scheduled.map(m => ({
      cron: undefined,
      ordinate: String(m.nonce),
      name: `Scheduled Message m${m.nonce} ${m.ts}:${m.nonce}`,
      message: { Tags: [{ name: 'Type', value: m.type }], Timestamp: m.ts, 'Block-Height': m.height, Cron: false },
      block: { height: m.height, timestamp: m.ts }
    })))],
    loadTimestamp: async () => ({ timestamp: suNow, height: height }),
    findBlocks: async ({ minHeight, maxTimestamp }) => {
      findBlocksArg = { minHeight, maxTimestamp }
      return blocks.filter(b => b.height >= minHeight && b.timestamp <= maxTimestamp)
    },
    loadBlocksMeta: async () => [],
    saveBlocks: async () => {},
    getLatestBlock: async () => blocks[blocks.length - 1],
    loadTransactionData: async () => ({ text: async () => '' })
  }
  const ctx = {
    id: 'P', owner: 'O', tags, moduleId: 'M', moduleOwner: 'MO', moduleTags: [],
    block: origin,
    from: cold ? undefined : left.ts,
    fromBlockHeight: cold ? undefined : left.height,
    ordinate: left.ordinate,
    to
  }
  const res = await loadMessagesWith(env)(ctx).toPromise()
  const out = []
  for await (const m of compose(...res.messages)) {
    out.push([m.name, m.message['Block-Height'], m.message.Cron ? m.message.Tags.length : -1])
  }
  streams.push({
    tags, origin, cold, left, scheduled, to: to ?? null, suNow, blocks: blocks.map(b => [b.height, b.timestamp]), findBlocks: findBlocksArg ?? null, out
  })
}
process.stdout.write(JSON.stringify({ node: process.version, v8: process.versions.v8, sorts, parse, streams }))
