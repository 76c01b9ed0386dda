// Red-team round 9 (l): a document a peer's refused updates created gets a new slot
// while its instance closes (closed by a holder of the instance from `documentOpen`, or
// by the collection); that slot was not marked as the peer's, so when it too closed with
// nothing committed the document was kept for good (listed by names() after a reopen,
// with the type the refused peer chose).
import test from 'tape'
import { once } from 'node:events'
import { MemoryLevel } from 'memory-level'
import { Collection, type AnyDocument } from '../lib/index.js'
import { COLLECTION_PROTOCOL } from '../lib/collection-protocol.js'
import { frame } from './collection-helpers.js'

test('red9l: a refused document reopened by the same peer while it closes is still dropped', async (t) => {
  const db = new MemoryLevel()
  const c = new Collection({ db })
  await c.open()
  const codes: string[] = []
  c.on('documentError', (_name: string, err: Error & { code?: string }) => { codes.push(String(err.code)) })
  let held: AnyDocument | undefined
  c.on('documentOpen', (_name: string, doc: AnyDocument) => { held = doc })
  const peer = c.createStream()
  peer.resume()
  peer.on('error', () => {})
  peer.write(frame({ t: 'hello', p: COLLECTION_PROTOCOL, id: 'PEER', epoch: 'E', seq: 0 }))
  peer.write(frame({ t: 'want', since: 0 }))
  peer.write(frame({ t: 'docs', d: [['notes', 'Events', {}, true]] }))
  peer.write(frame({ t: 'doc', d: 'notes' }))
  peer.write(frame([['ev', ['x']], Date.now() + 1e9, 'PEER']))
  while (codes.length < 1) await once(c, 'documentError')
  // The holder closes its instance; the peer's next (refused) update opens it again.
  const closing = (held as AnyDocument).close()
  peer.write(frame([['ev', ['y']], Date.now() + 1e9 + 1, 'PEER']))
  await closing
  await new Promise((resolve) => setTimeout(resolve, 50))
  peer.destroy()
  await once(peer, 'close')
  await c.close()
  const again = new Collection({ db })
  await again.open()
  t.teardown(async () => { await again.close() })
  t.deepEqual(again.names(), [], `nothing kept of a document none of whose updates was taken (errors: ${codes.join(', ')})`)
})
