// A cron process monitored through the MU. The process ticks every second
// (the CU generates the Tick messages); each tick sends a message (Tock) to
// the process itself. Outboxes of cron results are pushed only for the
// processes the MU monitors: aoconnect's monitor() (POST {MU}/monitor/{pid})
// starts that, unmonitor() (DELETE) stops it.
//
//   node examples/cron.mjs
import { readFileSync } from 'node:fs'
import { serializeCron } from '@permaweb/aoconnect'
import { network, newWallet, ask, waitFor, report } from './lib/network.mjs'

const { ao, module, scheduler, authority } = await network()
const { signer } = await newWallet()

const pid = await ao.spawn({
  module,
  scheduler,
  signer,
  tags: [
    { name: 'Authority', value: authority },
    { name: 'On-Boot', value: 'Data' },
    // [{ name: 'Cron-Interval', value: '1-second' }, { name: 'Cron-Tag-Action', value: 'Tick' }]
    ...serializeCron({ interval: '1-second', tags: [{ name: 'Action', value: 'Tick' }] })
  ],
  data: readFileSync(new URL('./lua/cron.lua', import.meta.url), 'utf8')
})
console.log('process', pid)

const clock = async () => JSON.parse((await ask(ao, pid, { Action: 'Clock' })).Messages[0].Data)

// Ask the MU to monitor the process: from now on it reads the CU's cron
// results ({CU}/cron/{pid}) and pushes their outboxes.
const monitorId = await ao.monitor({ process: pid, signer })
console.log('monitoring, request', monitorId)

// Wait for the Tocks: each one is a message the MU pushed from a cron result.
const seen = await waitFor('three Tocks pushed by the MU', async () => {
  const c = await clock()
  return Object.keys(c.tocks).length >= 3 && c
}, { timeout: 60000, every: 500 })
console.log('ticks', seen.ticks, 'tocks', Object.keys(seen.tocks).length)

await ao.unmonitor({ process: pid, signer })
console.log('monitor stopped')

const tocks = seen.tocks
report({
  example: 'cron',
  process: pid,
  monitorId,
  ticks: seen.ticks,
  tocks: Object.keys(tocks).length,
  // every Tock arrived once, and no tick was skipped (the MU starts after
  // the latest evaluation it finds when asked to monitor; here, the boot)
  tocksOnce: Object.values(tocks).every(n => n === 1),
  tocksContiguous: Object.keys(tocks).map(Number).sort((a, b) => a - b).every((n, i, all) => n === all[0] + i)
})
