import { authenticateSocket, type AuthenticateOptions, type PeerIdentity } from './security/handshake.js'
import type { Duplex } from 'node:stream'

/**
 * `authenticate()` for a collection's transports: the same mutual handshake,
 * resolving with the peer's proven identity, which the transports pass to
 * `createStream` (so `access` sees the proven id as `peer`).
 */
export function authenticatePeer (options: AuthenticateOptions): (socket: Duplex, side: 'client' | 'server') => Promise<PeerIdentity> {
  if (options === null || typeof options !== 'object' || options.keys === undefined) {
    throw new TypeError('authenticatePeer() needs { keys }')
  }
  return async (socket, side) => await authenticateSocket(socket, side, options)
}
