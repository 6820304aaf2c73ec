// The aocu dev explorer: a static page reading the units' public HTTP APIs
// through the explorer's /api/<unit>/ proxies (gateway GraphQL and data, SU
// message streams, CU results and state). It refreshes every 2 seconds.
'use strict'

const $ = s => document.querySelector(s)
const esc = s => String(s ?? '').replace(/[&<>"']/g, c => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]))
const noAnsi = s => String(s ?? '').replace(/\u001b\[[0-9;]*[A-Za-z]/g, '')
const short = id => id ? id.slice(0, 6) + '…' + id.slice(-4) : ''
const tagOf = (tags, name) => (tags || []).find(t => t.name === name)?.value
const tagsOf = (tags, name) => (tags || []).filter(t => t.name === name).map(t => t.value)
const bytes = n => n >= 1 << 20 ? (n / (1 << 20)).toFixed(1) + ' MB' : n >= 1024 ? (n / 1024).toFixed(1) + ' kB' : n + ' B'
const time = ms => ms ? new Date(Number(ms)).toLocaleTimeString() : ''

let net = null
let moduleNames = {}
const view = { pid: null, msgs: new Map(), order: [], lastTs: null, results: new Map(), deliveries: new Map(), cron: null, gen: 0 }

async function getJSON (url, opts) {
  const r = await fetch(url, opts)
  if (!r.ok) throw new Error(`${url}: ${r.status} ${await r.text()}`)
  return r.json()
}

async function gql (query, variables = {}) {
  const r = await getJSON('/api/gateway/graphql', {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query, variables })
  })
  if (r.errors) throw new Error(r.errors[0].message)
  return r.data
}

const dataLink = id => `<a class="mono" href="${esc(net.gatewayUrl)}/raw/${esc(id)}" title="${esc(id)}" target="_blank" rel="noopener">${esc(short(id))}</a>`

// --- processes -------------------------------------------------------------

async function loadProcesses () {
  const d = await gql(`query { transactions(first: 100, sort: HEIGHT_DESC, tags: [
    { name: "Data-Protocol", values: ["ao"] }, { name: "Type", values: ["Process"] }]) {
      edges { node { id owner { address } tags { name value } } } } }`)
  const list = $('#process-list')
  const procs = d.transactions.edges.map(e => e.node)
  $('#process-count').textContent = procs.length ? `(${procs.length})` : ''
  list.innerHTML = procs.map(p => {
    const trusted = tagsOf(p.tags, 'Authority').flatMap(a => a.split(',')).map(a => a.trim()).includes(net.muAddress)
    return `<li><a href="#/process/${esc(p.id)}" data-pid="${esc(p.id)}" class="${p.id === view.pid ? 'active' : ''}">
      <span class="name">${esc(tagOf(p.tags, 'Name') || '(no name)')}</span>${trusted ? '' : '<span class="badge bad" title="does not trust this MU">untrusted MU</span>'}
      <div class="pid">${esc(p.id)}</div></a></li>`
  }).join('') || '<li class="muted" style="padding: 7px 16px">none yet: spawn one</li>'
}

// --- one process -----------------------------------------------------------

async function openProcess (pid) {
  view.gen++
  Object.assign(view, { pid, msgs: new Map(), order: [], lastTs: null, results: new Map(), deliveries: new Map(), cron: null })
  $('#home').hidden = true
  $('#process').hidden = false
  $('#messages tbody').innerHTML = ''
  $('#p-title').textContent = pid
  document.querySelectorAll('#process-list a').forEach(a => a.classList.toggle('active', a.dataset.pid === pid))
  await refreshProcess(true)
}

function facts (pid, tags, memory, checkpoints) {
  const auth = tagsOf(tags, 'Authority').flatMap(a => a.split(',')).map(a => a.trim()).filter(Boolean)
  const module = tagOf(tags, 'Module')
  const crons = tags.filter(t => /^Cron-/.test(t.name)).map(t => `${t.name} = ${t.value}`)
  const rows = [
    ['process', dataLink(pid)],
    ['name', esc(tagOf(tags, 'Name') || '')],
    ['module', `${esc(moduleNames[module] || '')} ${dataLink(module)}`],
    ['scheduler', `<span class="mono">${esc(tagOf(tags, 'Scheduler'))}</span>`],
    ['authorities', auth.map(a => `<span class="mono">${esc(a)}</span>${a === net.muAddress ? ' <span class="badge">this MU</span>' : ''}`).join('<br>') || '<span class="err">none</span>'],
    ['crons', crons.length ? esc(crons.join(', ')) + cronSummary() : '<span class="muted">none</span>'],
    ['memory', memory == null ? '<span class="muted">…</span>' : esc(bytes(memory))],
    ['checkpoints', checkpoints == null ? '<span class="muted">…</span>' : checkpoints.length
      ? checkpoints.map(c => `${dataLink(c.id)} nonce ${esc(tagOf(c.tags, 'Nonce'))}`).join('<br>') : '<span class="muted">none on the gateway yet</span>']
  ]
  $('#p-facts').innerHTML = rows.map(([k, v]) => `<dt>${k}</dt><dd>${v}</dd>`).join('')
  const warn = $('#p-warning')
  warn.hidden = auth.includes(net.muAddress)
  warn.textContent = `This process does not list this MU (${net.muAddress}) as an Authority: aos ignores the messages other processes send it ("Message is not trusted!"). Spawn it with the tag Authority = ${net.muAddress}.`
}

async function refreshProcess (first) {
  const gen = view.gen
  const pid = view.pid
  // New messages, in order, from the SU.
  const qs = new URLSearchParams({ limit: '500' })
  if (view.lastTs) qs.set('from', view.lastTs)
  const page = await getJSON(`/api/su/${pid}?${qs}`)
  if (gen !== view.gen) return
  const added = []
  for (const e of page.edges || []) {
    const m = e.node.message
    if (view.msgs.has(m.id)) continue
    const at = e.node.assignment?.tags || []
    const msg = {
      id: m.id, tags: m.tags, owner: m.owner?.address,
      nonce: tagOf(at, 'Nonce'), ts: tagOf(at, 'Timestamp')
    }
    view.msgs.set(m.id, msg)
    view.order.push(m.id)
    added.push(msg)
    if (msg.ts) view.lastTs = msg.ts
  }
  if (first || added.length) {
    const proc = view.msgs.get(pid)
    if (proc) facts(pid, proc.tags, null, null)
  }
  // Results of the messages without one (newest first, a few at a time).
  const missing = view.order.filter(id => !view.results.has(id)).reverse().slice(0, 20)
  for (const id of missing) {
    try {
      view.results.set(id, await getJSON(`/api/cu/result/${id}?process-id=${pid}`))
    } catch (e) {
      view.results.set(id, { _error: String(e.message || e) })
    }
    if (gen !== view.gen) return
  }
  await refreshDeliveries(pid)
  if (gen !== view.gen) return
  render(new Set(first ? [] : added.map(m => m.id)))
  $('#m-count').textContent = `(${view.order.length})`
  if (first || added.length || Date.now() - (view.factsAt || 0) > 10000) {
    view.factsAt = Date.now()
    refreshFacts(pid, gen)
  }
}

function cronSummary () {
  const c = view.cron
  if (!c) return ''
  const last = c.last ? noAnsi(typeof c.last.Output === 'string' ? c.last.Output : c.last.Output?.data ?? '') : ''
  return `<br><span class="cron-count">${c.count} cron results</span>` +
    (last ? `, the last: <code>${esc(last.length > 120 ? last.slice(0, 120) + '…' : last)}</code>` : '')
}

// The cron results the CU has computed up to now, followed page by page
// from the last cursor seen.
async function refreshCrons (pid, tags, gen) {
  if (!tagOf(tags, 'Cron-Interval')) return
  const c = view.cron || { count: 0, cursor: null, last: null }
  for (let i = 0; i < 5; i++) {
    const qs = new URLSearchParams({ limit: '500' })
    if (c.cursor) qs.set('from', c.cursor)
    const page = await getJSON(`/api/cu/cron/${pid}?${qs}`)
    if (gen !== view.gen) return
    for (const e of page.edges || []) {
      c.count++
      c.cursor = e.cursor
      c.last = e.node
    }
    if (!page.pageInfo?.hasNextPage) break
  }
  view.cron = c
}

// Memory (the size of the CU's /state) and the checkpoints on the gateway.
async function refreshFacts (pid, gen) {
  const proc = view.msgs.get(pid)
  if (!proc) return
  let memory = null
  let checkpoints = null
  try {
    const r = await fetch(`/api/cu/state/${pid}`, { method: 'HEAD' })
    if (r.ok) memory = Number(r.headers.get('content-length'))
  } catch {}
  try {
    const d = await gql(`query ($pid: [String!]!) { transactions(first: 10, sort: HEIGHT_DESC, tags: [
      { name: "Type", values: ["Checkpoint"] }, { name: "Process", values: $pid }]) { edges { node { id tags { name value } } } } }`, { pid: [pid] })
    checkpoints = d.transactions.edges.map(e => e.node)
  } catch { checkpoints = [] }
  try { await refreshCrons(pid, proc.tags, gen) } catch (e) { console.error(e) }
  if (gen === view.gen) facts(pid, proc.tags, memory, checkpoints)
}

// Outbox deliveries. The MU's delivery records (GET /?debug=true&process=,
// where the MU has them) give each outbox message's step: id
// result/<process>/<message>/m<index>, status pending/done/failed, error.
// Without them, a delivered message is found on the gateway: the MU signs
// each outbox message it pushes with From-Process = this process and the
// outbox's Reference, and the SU (or, for a wallet, the MU) puts it there.
async function refreshDeliveries (pid) {
  try {
    const r = await fetch(`/api/mu/?debug=true&process=${pid}&page-size=1000`)
    if (r.ok && /json/.test(r.headers.get('content-type') || '')) {
      const traces = new Map()
      for (const e of (await r.json()).edges || []) traces.set(e.node.id, e.node)
      view.traces = traces
      return
    }
  } catch {}
  view.traces = null
  const pending = []
  for (const r of view.results.values()) {
    for (const m of r.Messages || []) {
      const ref = tagOf(m.Tags, 'Reference')
      if (ref && !view.deliveries.has(ref)) pending.push(ref)
    }
  }
  if (!pending.length) return
  try {
    const d = await gql(`query ($pid: [String!]!) { transactions(first: 100, sort: HEIGHT_DESC, tags: [
      { name: "From-Process", values: $pid }]) { edges { node { id recipient tags { name value } } } } }`, { pid: [pid] })
    for (const e of d.transactions.edges) {
      const ref = tagOf(e.node.tags, 'Reference')
      if (ref) view.deliveries.set(ref, e.node.id)
    }
  } catch {}
}

// deliveryState is the HTML of one outbox message's delivery.
function deliveryState (mid, i, m) {
  if (view.traces) {
    const t = view.traces.get(`result/${view.pid}/${mid}/m${i}`)
    if (!t) return '<span class="pending">queued</span>'
    if (t.status === 'failed') return `<span class="err" title="${esc(t.error)}">failed: ${esc(t.error)}</span>`
    if (t.status === 'pending') {
      return `<span class="pending">pending</span>${t.attempts ? ` <span class="muted" title="${esc(t.error)}">(${t.attempts} attempts: ${esc(t.error)})</span>` : ''}`
    }
    const link = t.messageId ? ' ' + dataLink(t.messageId) : ''
    if (t.error) return `<span class="ok">delivered</span>${link} <span class="err" title="${esc(t.error)}">${esc(t.error)}</span>`
    return `<span class="ok">delivered</span>${link}`
  }
  const ref = tagOf(m.Tags, 'Reference')
  const got = ref && view.deliveries.get(ref)
  return got ? `<span class="ok">delivered</span> ${dataLink(got)}` : '<span class="pending">pending</span>'
}

function resultCell (r) {
  if (!r) return '<span class="pending">computing…</span>'
  if (r._error) return `<span class="err">${esc(r._error)}</span>`
  if (r.Error) return `<span class="err">Error: ${esc(noAnsi(typeof r.Error === 'string' ? r.Error : JSON.stringify(r.Error)))}</span>`
  const out = r.Output
  let text = typeof out === 'string' ? out : out?.data ?? ''
  if (typeof text !== 'string') text = JSON.stringify(text)
  text = noAnsi(text)
  return esc(text.length > 600 ? text.slice(0, 600) + '…' : text) || '<span class="muted">(no output)</span>'
}

function outboxCell (mid, r) {
  if (!r || r._error) return ''
  const items = []
  ;(r.Messages || []).forEach((m, i) => {
    items.push(`<li>→ <span class="mono" title="${esc(m.Target)}">${esc(short(m.Target))}</span> ${esc(tagOf(m.Tags, 'Action') || '')} ${deliveryState(mid, i, m)}</li>`)
  })
  for (const s of r.Spawns || []) items.push(`<li>spawn ${esc(tagOf(s.Tags, 'Name') || '')}</li>`)
  for (const a of r.Assignments || []) items.push(`<li>assign ${esc(short(a.Message))}</li>`)
  return items.length ? `<ul class="outbox">${items.join('')}</ul>` : ''
}

function render (fresh) {
  const rows = view.order.slice().reverse().map(id => {
    const m = view.msgs.get(id)
    const r = view.results.get(id)
    const from = tagOf(m.tags, 'From-Process') || m.owner
    const action = id === view.pid ? 'spawn' : tagOf(m.tags, 'Action') || ''
    return `<tr data-id="${esc(id)}" class="${fresh.has(id) ? 'new' : ''}">
      <td>${esc(m.nonce)}</td><td>${esc(time(m.ts))}</td><td>${dataLink(id)}</td>
      <td class="mono" title="${esc(from)}">${esc(short(from))}</td><td>${esc(action)}</td>
      <td class="out">${resultCell(r)}</td><td>${outboxCell(id, r)}</td></tr>`
  })
  $('#messages tbody').innerHTML = rows.join('')
}

// --- routing, polling --------------------------------------------------------

async function route () {
  const m = location.hash.match(/^#\/process\/([A-Za-z0-9_-]{43})$/)
  if (m) {
    if (m[1] !== view.pid) await openProcess(m[1])
  } else {
    view.pid = null
    view.gen++
    $('#home').hidden = false
    $('#process').hidden = true
  }
}

async function tick () {
  try {
    await loadProcesses()
    if (view.pid) await refreshProcess(false)
    $('#live').classList.remove('stale')
  } catch (e) {
    console.error(e)
    $('#live').classList.add('stale')
  }
}

async function main () {
  net = await getJSON('/network.json')
  moduleNames = Object.fromEntries(Object.entries(net.modules).map(([k, v]) => [v, k]))
  $('#net').textContent = `MU ${short(net.muAddress)} · SU ${short(net.suAddress)}`
  $('#units').innerHTML = [
    ['gateway', net.gatewayUrl], ['messenger unit', `${net.muUrl} (${net.muAddress})`],
    ['scheduler unit', `${net.suUrl} (${net.suAddress})`], ['compute unit', net.cuUrl],
    ['aos CLI', net.aos?.command]
  ].map(([k, v]) => `<dt>${k}</dt><dd class="mono">${esc(v)}</dd>`).join('')
  window.addEventListener('hashchange', () => route().catch(console.error))
  await loadProcesses()
  await route()
  for (;;) {
    await new Promise(resolve => setTimeout(resolve, 2000))
    await tick()
  }
}

main().catch(e => {
  document.body.insertAdjacentHTML('afterbegin', `<p class="err">explorer: ${esc(e.message || e)}</p>`)
})
