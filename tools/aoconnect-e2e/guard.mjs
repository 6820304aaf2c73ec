// Loopback guard, preloaded with `node --import ./guard.mjs script.mjs`:
// nothing the script (aoconnect included) does may leave this machine.
//
// aoconnect and @permaweb/ao-scheduler-utils capture the global fetch when
// they are first evaluated, so this must run before they are imported; that
// is what --import does. Two layers:
//   - globalThis.fetch is wrapped: a request to a host that is not loopback
//     is not sent; it is rejected with an error naming the URL, and the URL
//     is printed on stderr as `BLOCKED non-loopback fetch: <url>`;
//   - net.Socket#connect refuses any non-loopback TCP connection (http,
//     https, axios, undici: everything ends there), printed as
//     `BLOCKED non-loopback connection: <host>:<port>`.
// At exit, if anything was blocked, the list is printed again and the exit
// code is forced to 70, so no such call goes unnoticed.
import net from 'node:net'

const blocked = []
const loopback = host => {
  host = String(host || '').replace(/^\[|\]$/g, '').toLowerCase()
  return host === 'localhost' || host === '::1' || host.startsWith('127.') || host === '::ffff:127.0.0.1'
}

const realFetch = globalThis.fetch
globalThis.fetch = function guardedFetch (input, init) {
  const url = typeof input === 'string' ? input : (input instanceof URL ? input.href : input?.url)
  let host
  try { host = new URL(url).hostname } catch { host = '' }
  if (!loopback(host)) {
    blocked.push(url)
    process.stderr.write(`BLOCKED non-loopback fetch: ${url}\n${new Error('stack').stack.split('\n').slice(2, 8).join('\n')}\n`)
    return Promise.reject(new Error(`guard: non-loopback fetch blocked: ${url}`))
  }
  return realFetch.call(this, input, init)
}

const realConnect = net.Socket.prototype.connect
net.Socket.prototype.connect = function guardedConnect (...args) {
  let opts = args[0]
  if (Array.isArray(opts)) opts = opts[0] // internal normalized form
  let host, port
  if (typeof opts === 'object' && opts !== null) {
    host = opts.host; port = opts.port
    if (opts.path) return realConnect.apply(this, args) // unix socket
  } else {
    port = opts; host = typeof args[1] === 'string' ? args[1] : 'localhost'
  }
  if (host !== undefined && !loopback(host)) {
    blocked.push(`${host}:${port}`)
    process.stderr.write(`BLOCKED non-loopback connection: ${host}:${port}\n`)
    const err = new Error(`guard: non-loopback connection blocked: ${host}:${port}`)
    setImmediate(() => this.destroy(err)) // once the caller listens for 'error'
    return this
  }
  return realConnect.apply(this, args)
}

process.on('exit', code => {
  if (blocked.length) {
    process.stderr.write(`guard: ${blocked.length} non-loopback request(s) blocked:\n  ${blocked.join('\n  ')}\n`)
    process.exitCode = 70
  }
})
