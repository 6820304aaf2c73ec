// Reads results with the unmodified aoconnect result() and prints, for each
// message, the sha256 and length of its first reply's Data, its Error and
// how long result() took, one JSON line in all. The Go test
// internal/servecmd TestServeLargeMessages runs it (with --import
// ./guard.mjs) against `aocu serve` on loopback:
//   CU_URL=… PROCESS=… node --import ./guard.mjs results.mjs MESSAGE_ID…
import { createHash } from 'node:crypto'
import { connect } from '@permaweb/aoconnect'
import { need } from './lib.mjs'

const { result } = connect({ MODE: 'legacy', CU_URL: need('CU_URL') })
const process_ = need('PROCESS')
const out = {}
for (const message of process.argv.slice(2)) {
  const start = Date.now()
  const r = await result({ process: process_, message })
  const data = r.Messages?.[0]?.Data ?? ''
  out[message] = {
    sha256: createHash('sha256').update(data).digest('hex'),
    length: data.length,
    error: r.Error ?? null,
    ms: Date.now() - start
  }
}
console.log(JSON.stringify(out))
