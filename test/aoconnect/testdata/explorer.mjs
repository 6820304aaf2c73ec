// The explorer in a real headless Chromium (Debian's, driven by
// playwright-core): open the page, spawn a process and message it with
// aoconnect, and see the process, the new results and an outbox delivery
// appear without reloading. Prints one JSON line; writes a screenshot to
// $SCREENSHOT.
//
// env: EXPLORER_URL, PLAYWRIGHT_DIR (holds node_modules/playwright-core),
// AOCONNECT_DIR (holds node_modules/@permaweb/aoconnect and arweave),
// CHROMIUM (default /usr/bin/chromium), SCREENSHOT.
import { createRequire } from 'node:module'

const need = k => { if (!process.env[k]) throw new Error(`${k} is not set`); return process.env[k] }
const { chromium } = createRequire(need('PLAYWRIGHT_DIR') + '/')('playwright-core')
const req = createRequire(need('AOCONNECT_DIR') + '/')
const { connect, createDataItemSigner } = req('@permaweb/aoconnect')
const Arweave = req('arweave')
const base = need('EXPLORER_URL')

const net = await (await fetch(base + '/network.json')).json()
const ao = connect({ MODE: 'legacy', MU_URL: net.muUrl, CU_URL: net.cuUrl, GATEWAY_URL: net.gatewayUrl, GRAPHQL_URL: net.graphqlUrl })
const signer = createDataItemSigner(await (Arweave.default ?? Arweave).init({}).wallets.generate())

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync']
})
const out = {}
try {
  const page = await browser.newPage({ viewport: { width: 1400, height: 820 } })
  const errors = []
  page.on('pageerror', e => errors.push(String(e)))
  // The page may only talk to the explorer's origin.
  const foreign = []
  page.on('request', r => { if (!r.url().startsWith(base)) foreign.push(r.url()) })
  await page.goto(base + '/')
  await page.waitForSelector('#units dd')

  // Spawned after the page opened: it appears in the list by itself.
  const pid = await ao.spawn({ module: net.modules[net.defaultModule], scheduler: net.suAddress, signer,
    tags: [{ name: 'Authority', value: net.muAddress }, { name: 'Name', value: 'explorer-test' }] })
  out.pid = pid
  await page.waitForSelector(`#process-list a[data-pid="${pid}"]`, { timeout: 60000 })
  await page.click(`#process-list a[data-pid="${pid}"]`)
  await page.waitForSelector(`#messages tr[data-id="${pid}"]`, { timeout: 60000 })

  // A message sent while the page is open: its result appears.
  const mid = await ao.message({ process: pid, signer, tags: [{ name: 'Action', value: 'Eval' }],
    data: 'Send({ Target = ao.id, Action = "Ping", Data = "ping" }); return "explorer-" .. 6 * 7' })
  out.mid = mid
  const row = `#messages tr[data-id="${mid}"]`
  await page.waitForSelector(row, { timeout: 60000 })
  await page.waitForFunction(sel => document.querySelector(sel + ' td.out')?.textContent.includes('explorer-42'), row, { timeout: 60000 })
  out.result = (await page.textContent(row + ' td.out')).trim()
  // Its outbox message, pushed by the MU: delivered, and the Ping arrives.
  await page.waitForFunction(sel => /delivered/.test(document.querySelector(sel)?.textContent || ''), row, { timeout: 60000 })
  out.outbox = (await page.textContent(row + ' td:last-child')).replace(/\s+/g, ' ').trim()
  await page.waitForFunction(() => [...document.querySelectorAll('#messages td')].some(td => td.textContent === 'Ping'), null, { timeout: 60000 })
  // The link to the data item resolves on the gateway.
  const href = await page.getAttribute(`${row} td:nth-child(3) a`, 'href')
  out.linkStatus = (await fetch(href)).status
  await page.waitForFunction(() => /MB|kB/.test(document.querySelector('#p-facts')?.textContent || ''), null, { timeout: 60000 })
  out.facts = (await page.textContent('#p-facts')).replace(/\s+/g, ' ').trim()
  if (process.env.SCREENSHOT) await page.screenshot({ path: process.env.SCREENSHOT, fullPage: false })

  // A process with a cron: its cron results show, and grow.
  const cpid = await ao.spawn({ module: net.modules[net.defaultModule], scheduler: net.suAddress, signer,
    tags: [{ name: 'Authority', value: net.muAddress }, { name: 'Name', value: 'explorer-cron' },
      { name: 'Cron-Interval', value: '1-second' }, { name: 'Cron-Tag-Action', value: 'Tick' }] })
  out.cronPid = cpid
  await page.waitForSelector(`#process-list a[data-pid="${cpid}"]`, { timeout: 60000 })
  await page.click(`#process-list a[data-pid="${cpid}"]`)
  const cronCount = () => page.evaluate(() => Number(document.querySelector('#p-facts .cron-count')?.textContent.match(/\d+/)?.[0] ?? -1))
  await page.waitForFunction(() => Number(document.querySelector('#p-facts .cron-count')?.textContent.match(/\d+/)?.[0] ?? -1) >= 1, null, { timeout: 60000 })
  out.cronsFirst = await cronCount()
  await page.waitForFunction(n => Number(document.querySelector('#p-facts .cron-count')?.textContent.match(/\d+/)?.[0] ?? -1) > n, out.cronsFirst, { timeout: 60000 })
  out.cronsLater = await cronCount()
  out.cronFacts = (await page.textContent('#p-facts')).replace(/\s+/g, ' ').trim()
  out.errors = errors
  out.foreign = foreign
} finally {
  await browser.close()
}
console.log(JSON.stringify(out))
