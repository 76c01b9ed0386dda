// Review: since 29b2e5d, Events retention keeps each source's latest event. With more
// sources than about 1.1 x maxCount, a prune can never bring the count under its
// threshold, so every later event starts another prune, and each prune reads the whole
// log: while events arrive, the node reads its whole log over and over.
import test from 'tape'
import { MemoryLevel } from 'memory-level'
import { Events } from '../lib/index.js'
import { frame, sleep, until } from './helpers.js'

const SOURCES = 5000
const EMITS = 200

test('review: with more sources than maxCount, events do not each start a prune of the whole log', async (t) => {
  const events = new Events({ db: new MemoryLevel(), retention: { maxCount: 100 } })
  await events.open()
  t.teardown(async () => { await events.close() })
  const stream = events.createStream()
  stream.resume()
  stream.write(frame({ id: 'feeder', clock: {} }))
  const base = Date.now() - 60_000
  for (let i = 0; i < SOURCES; i++) stream.write(frame([['tick', i], base + i, `src-${i.toString().padStart(5, '0')}`]))
  await until(() => Object.keys(events.clock).length >= SOURCES, 20_000)
  await events.prune()
  // Each prune by maxCount reads the log from the start with a cursor of an empty clock.
  let prunes = 0
  const cursor = events._cursor.bind(events)
  events._cursor = (known) => { if (known.size === 0) prunes++; return cursor(known) }
  for (let i = 0; i < EMITS; i++) {
    await events.emit('local', i)
    await sleep(2)
  }
  stream.destroy()
  t.ok(prunes <= 2, `${EMITS} events (fewer than a tenth of the ${SOURCES} kept) started ${prunes} full prunes`)
})
