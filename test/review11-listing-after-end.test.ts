// 9881b0a: a collection stream's listing (the answer to the peer's `want`) is no longer
// awaited by the input. A peer that says hello and want and then ends its side lets the
// stream end its own output (outbox.end(), push(null)) while the listing still waits
// for an async access() answer; the listing then pushed its docs message after the end
// of the stream: ERR_STREAM_PUSH_AFTER_EOF destroyed a stream that was ending cleanly.
// Before 9881b0a the input waited for the listing, so the end came after it.
import test from 'tape'
import { MemoryLevel } from 'memory-level'
import { Collection, Model } from '../lib/index.js'
import { COLLECTION_PROTOCOL } from '../lib/collection-protocol.js'
import { frame } from './collection-helpers.js'
import { until } from './helpers.js'

test('a peer that ends after its want, while access() is answering: the stream ends without an error', async (t) => {
  let open!: () => void
  const gate = new Promise<void>((resolve) => { open = resolve })
  let gated = false
  const c = new Collection({ db: new MemoryLevel(), access: async () => { if (gated) await gate; return 'read' as const } })
  await c.open()
  t.teardown(async () => { await c.close() })
  for (let i = 0; i < 3; i++) await c.use(`doc${i}`, async (doc: Model) => { await doc.set('i', i) }, Model)
  gated = true

  const stream = c.createStream()
  const errors: Error[] = []
  stream.on('error', (err) => { errors.push(err) })
  let closed = false
  stream.on('close', () => { closed = true })
  stream.write(frame({ t: 'hello', p: COLLECTION_PROTOCOL, id: 'PEER', epoch: 'E', seq: 0 }))
  stream.write(frame({ t: 'want', since: 0 }))
  stream.end()
  // Its output ended (push(null)), not yet read to the end: the peer reads slowly.
  const state = (stream as unknown as { _readableState: { ended: boolean } })._readableState
  t.ok(await until(() => state.ended || closed, 5000), 'the stream ends its output after the peer ended (access() still unanswered)')
  open()
  // What access() answered reaches the listing, then the peer reads what it was sent.
  await new Promise((resolve) => setImmediate(resolve))
  await new Promise((resolve) => setImmediate(resolve))
  stream.on('data', () => {})
  t.ok(await until(() => closed, 5000), 'the stream closes')
  t.deepEqual(errors.map((err) => (err as { code?: string }).code ?? err.message), [], 'with no error')
})
