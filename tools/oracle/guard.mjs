// Preloaded into the reference CU (`node --import tools/oracle/guard.mjs src/app.js`)
// by test/oracle: nothing it does may leave this machine.
//
// - The one hard-coded public URL it needs an answer from,
//   https://su-router.ao-testnet.xyz?process-id=… (@permaweb/ao-scheduler-utils
//   asks it before the configured GraphQL when it locates a process on a fresh
//   database, and fails the whole look-up when the fetch is refused), gets a
//   local 404: locate then falls back to GRAPHQL_URL.
// - Every other non-loopback fetch is rejected, and every non-loopback TCP
//   connection refused (undici, node:http, everything ends in net.Socket#connect);
//   each is printed as `BLOCKED non-loopback …` on stderr, which the test
//   treats as a failure.
//
// Modules capture globalThis.fetch when they are evaluated, so this runs first;
// node applies --import to the worker threads too.
import net from 'node:net'

const SU_ROUTER = 'su-router.ao-testnet.xyz'

const loopback = host => {
  host = String(host || '').replace(/^\[|\]$/g, '').toLowerCase()
  return host === 'localhost' || host === '::1' || host.startsWith('127.') || host === '::ffff:127.0.0.1'
}

const realFetch = globalThis.fetch
globalThis.fetch = function guardedFetch (input, init) {
  const url = typeof input === 'string' ? input : (input instanceof URL ? input.href : input?.url)
  let host
  try { host = new URL(url).hostname } catch { host = '' }
  if (host === SU_ROUTER) {
    return Promise.resolve(new Response('Not Found (oracle guard: no su-router offline)', { status: 404, headers: { 'content-type': 'text/plain' } }))
  }
  if (!loopback(host)) {
    process.stderr.write(`BLOCKED non-loopback fetch: ${url}\n`)
    return Promise.reject(new Error(`oracle guard: non-loopback fetch blocked: ${url}`))
  }
  return realFetch.call(this, input, init)
}

const realConnect = net.Socket.prototype.connect
net.Socket.prototype.connect = function guardedConnect (...args) {
  let opts = args[0]
  if (Array.isArray(opts)) opts = opts[0] // node's internal normalized form
  let host, port
  if (typeof opts === 'object' && opts !== null) {
    if (opts.path) return realConnect.apply(this, args) // unix socket
    host = opts.host ?? 'localhost'; port = opts.port
  } else {
    port = opts; host = typeof args[1] === 'string' ? args[1] : 'localhost'
  }
  if (!loopback(host)) {
    process.stderr.write(`BLOCKED non-loopback connection: ${host}:${port}\n`)
    const err = new Error(`oracle guard: non-loopback connection blocked: ${host}:${port}`)
    setImmediate(() => this.destroy(err))
    return this
  }
  return realConnect.apply(this, args)
}

// The loader's thisProgram (the `_=` environment string of 0.0.44-profile
// modules, so part of their memory) is process.argv[1] of the thread that
// evaluates: in the reference's workerpool workers that is the worker script
// (src/effects/worker/evaluator/index.js), not src/app.js. The harness reads
// both lines and checks that what it gave aocu is what the workers had.
import { isMainThread } from 'node:worker_threads'
process.stderr.write(`oracle-guard: ${isMainThread ? 'main' : 'worker'} argv1=${process.argv[1]}\n`)
