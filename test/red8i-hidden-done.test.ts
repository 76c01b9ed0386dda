import test from 'tape'
import { Model } from '../lib/index.js'
import { unpack } from '../lib/msgpack.js'
import { linkCollections, memoryCollection } from './collection-helpers.js'

// docs/collections.md: "'none': the peer never learns the name"; docs/protocol.md:
// "A peer that may not see the name learns nothing". Yet every commit of a
// document hidden from the peer sends it a frame: the outbox's changed() sees
// 'none', sends nothing of the document, but still calls #maybeDone(), and since
// the collection's seq moved, a `done` with the new seq follows 20 ms later. A
// peer that may see nothing watches each write to hidden documents as it happens
// (one `done` per burst, its seq counting the commits).
//
// Deterministic: the outbox's 20 ms timer is set before the test's 200 ms one, so
// it fires first however slow the machine is.

test('a write to a document the peer may not see sends the peer nothing', async (t) => {
  const server = await memoryCollection(t, { access: (_peer, name) => name === 'hidden' ? 'none' : 'read' })
  const client = await memoryCollection(t)
  await (await server.doc('public', Model)).set('k', 1)
  const link = linkCollections(server, client, { a: 'C' })
  await link.synced
  await new Promise((resolve) => setTimeout(resolve, 100))
  const frames: unknown[] = []
  link.a.on('data', (chunk: Buffer) => {
    for (let at = 0; at < chunk.length;) {
      const length = chunk.readUInt32BE(at)
      frames.push(unpack(chunk.subarray(at + 4, at + 4 + length)))
      at += 4 + length
    }
  })
  await (await server.doc('hidden', Model)).set('secret', 'written now')
  await new Promise((resolve) => setTimeout(resolve, 200))
  t.deepEqual(frames, [], 'no frame reached the peer after a write to a hidden document')
  link.a.destroy()
  await link.closed
})
