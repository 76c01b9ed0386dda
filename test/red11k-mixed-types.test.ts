import test from 'tape'
import { MemoryLevel } from 'memory-level'
import { Events, Model, Value, Counter } from '../lib/index.js'
import { link } from './helpers.js'

// A replication stream did not carry its instance's data type, so connecting a Model
// to an Events, or a Value to a Counter, was not refused: each side applied the other's
// updates as its own (the event x became the key x; the Value took the Counter's total).
// Now a msgpack header names the type (Scuttlebutt.wireType) and a stream whose peer is
// of another type closes with SCUTTLEDB_TYPE_MISMATCH before anything is applied.
/** Whether the link closed within 2 s (the timer keeps the process alive, so a hang fails here). */
async function closedOrTimeout (closed: Promise<unknown>): Promise<'closed' | 'timeout'> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<'timeout'>((resolve) => { timer = setTimeout(() => { resolve('timeout') }, 2000) })
  try {
    return await Promise.race([closed.then(() => 'closed' as const), timeout])
  } finally {
    clearTimeout(timer)
  }
}

test('a Model connected to an Events by mistake is refused and keeps its own data', async (t) => {
  const model = new Model({ db: new MemoryLevel() })
  const events = new Events({ db: new MemoryLevel() })
  await Promise.all([model.open(), events.open()])
  t.teardown(async () => { await Promise.all([model.close(), events.close()]) })
  await model.set('k', 1)
  await events.record('x', 1)
  const { a, b, synced, closed } = link(model, events)
  synced.catch(() => {})
  const errors: string[] = []
  a.on('error', (err: NodeJS.ErrnoException) => { errors.push(String(err.code)) })
  b.on('error', (err: NodeJS.ErrnoException) => { errors.push(String(err.code)) })
  const ended = await closedOrTimeout(closed)
  if (ended === 'timeout') { a.destroy(); b.destroy() }
  t.equal(ended, 'closed', 'the mismatched stream is closed')
  t.ok(errors.length > 0 && errors.every((code) => code === 'SCUTTLEDB_TYPE_MISMATCH'), `with SCUTTLEDB_TYPE_MISMATCH (${errors.join(', ')})`)
  t.deepEqual(await model.toJSON(), { k: 1 }, 'the model holds only its own key, not the event x')
  const heard: unknown[] = []
  for await (const update of events.history()) heard.push(update[0])
  t.deepEqual(heard, [['x', 1]], 'the events hold only their own event, not the key k')
})

test('a subclass of Model speaks Model; a type of its own refuses a Model peer', async (t) => {
  class Notes extends Model {}
  class Tags extends Model {
    static override readonly wireType = 'Tags'
  }
  const model = new Model({ db: new MemoryLevel() })
  const notes = new Notes({ db: new MemoryLevel() })
  const tags = new Tags({ db: new MemoryLevel() })
  await Promise.all([model.open(), notes.open(), tags.open()])
  t.teardown(async () => { await Promise.all([model.close(), notes.close(), tags.close()]) })
  await model.set('k', 1)
  const same = link(model, notes)
  await same.synced
  t.equal(await notes.get('k'), 1, 'a subclass replicates with its parent type')
  same.a.destroy()
  await same.closed
  const other = link(model, tags)
  other.synced.catch(() => {})
  const codes: string[] = []
  other.a.on('error', (err: NodeJS.ErrnoException) => { codes.push(String(err.code)) })
  other.b.on('error', (err: NodeJS.ErrnoException) => { codes.push(String(err.code)) })
  t.equal(await closedOrTimeout(other.closed), 'closed', 'a type of its own closes the stream')
  t.ok(codes.includes('SCUTTLEDB_TYPE_MISMATCH'), 'with SCUTTLEDB_TYPE_MISMATCH')
  t.equal(await tags.get('k'), undefined, 'and takes nothing')
})

test('the JSON wire sends no type: an original peer sees the header it knows', async (t) => {
  const model = new Model({ db: new MemoryLevel() })
  await model.open()
  t.teardown(async () => { await model.close() })
  const json = model.createStream({ wrapper: 'json' })
  const line = await new Promise<string>((resolve) => { json.once('data', (chunk: Buffer) => { resolve(chunk.toString()) }) })
  json.destroy()
  t.deepEqual(Object.keys(JSON.parse(line.split('\n')[0]) as object).sort(), ['clock', 'id'], 'the header is { id, clock }')
})

test('a Value connected to a Counter by mistake keeps its own value', async (t) => {
  const value = new Value({ db: new MemoryLevel() })
  const counter = new Counter({ db: new MemoryLevel() })
  await Promise.all([value.open(), counter.open()])
  t.teardown(async () => { await Promise.all([value.close(), counter.close()]) })
  await value.set({ x: 1 })
  await counter.increment(3)
  const { a, b, synced, closed } = link(value, counter)
  synced.catch(() => {})
  a.on('error', () => {})
  b.on('error', () => {})
  if (await closedOrTimeout(closed) === 'timeout') { a.destroy(); b.destroy() }
  t.deepEqual(await value.get(), { x: 1 }, 'the value is not replaced by the counter total 3')
  t.equal(await counter.value(), 3, 'nor the counter by the value')
})
