// Refuses every fetch that leaves the machine (the branch hard-codes
// https://su-router.ao-testnet.xyz as a fallback).
const orig = globalThis.fetch
globalThis.fetch = async (input, init) => {
  const u = new URL(typeof input === 'string' ? input : input.url)
  if (!['127.0.0.1', 'localhost', '[::1]'].includes(u.hostname)) {
    return new Response('offline', { status: 404 })
  }
  return orig(input, init)
}
