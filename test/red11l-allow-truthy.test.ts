// Red team round 11, area l (security): the handshake's allow-list fails closed
// ("AUTH_DENIED: not allowed, or the allow-list threw"). A predicate's answer
// that is not `true` (a record, a string such as 'deny', a response object, the
// promise of one) must not admit the peer: `writers` takes only `true` too.
import test from 'tape'
import { authenticateSocket, generateKeys, type AuthenticateOptions, type PeerIdentity, type Side } from '../lib/index.js'
import { tcpPair } from './security-helpers.js'
import type { Duplex } from 'node:stream'

async function settle (socket: Duplex, side: Side, options: AuthenticateOptions): Promise<PeerIdentity | string> {
  try {
    return await authenticateSocket(socket, side, options)
  } catch (err) {
    return (err as { code: string }).code
  }
}

test('an allow predicate admits a peer only when it answers true', async (t) => {
  const [server, client] = [generateKeys(), generateKeys()]
  const answers: Array<[string, unknown]> = [
    ['a string', 'deny'],
    ['an object', { allowed: false }],
    ['a number', 1],
    ['a promise of a string', Promise.resolve('no')]
  ]
  for (const [what, answer] of answers) {
    const [c, s] = await tcpPair(t)
    const allow = ((): unknown => answer) as unknown as (id: string) => boolean
    const [atServer, atClient] = await Promise.all([
      settle(s, 'server', { keys: server, allow, timeout: 3000 }),
      settle(c, 'client', { keys: client, allow: [server.id], timeout: 3000 })
    ])
    t.equal(atServer, 'SCUTTLEDB_AUTH_DENIED', `${what}: the server denies`)
    t.equal(atClient, 'SCUTTLEDB_AUTH_REJECTED', `${what}: the client learns it was refused`)
  }
  const [c, s] = await tcpPair(t)
  const [atServer] = await Promise.all([
    settle(s, 'server', { keys: server, allow: async () => true, timeout: 3000 }),
    settle(c, 'client', { keys: client, allow: [server.id], timeout: 3000 })
  ])
  t.deepEqual(atServer, { id: client.id, type: 'ed25519' }, 'true admits')
})
