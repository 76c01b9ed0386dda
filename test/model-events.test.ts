import test from 'tape'
import { memoryModel } from './helpers.js'

// Model skips building `change:<key>` event names while no such listener exists;
// these tests pin down that every way of adding one still gets its events.

test('change:<key> listeners added by on, addListener, once, prependListener and prependOnceListener all fire', async (t) => {
  const m = await memoryModel(t)
  const seen: string[] = []
  await m.set('warmup', 0)
  m.on('change:a', (v) => seen.push(`on ${String(v)}`))
  m.addListener('change:a', (v) => seen.push(`addListener ${String(v)}`))
  m.once('change:a', (v) => seen.push(`once ${String(v)}`))
  m.prependListener('change:b', (v) => seen.push(`prependListener ${String(v)}`))
  m.prependOnceListener('change:b', (v) => seen.push(`prependOnceListener ${String(v)}`))
  await m.set('a', 1)
  await m.set('b', 2)
  await m.set('a', 3)
  await m.set('b', 4)
  t.deepEqual(seen, [
    'on 1', 'addListener 1', 'once 1',
    'prependOnceListener 2', 'prependListener 2',
    'on 3', 'addListener 3',
    'prependListener 4'
  ])
})

test('a change:<key> listener added after all were removed fires again', async (t) => {
  const m = await memoryModel(t)
  const seen: unknown[] = []
  const first = (v: unknown): void => { seen.push(['first', v]) }
  m.on('change:k', first)
  await m.set('k', 1)
  m.off('change:k', first)
  await m.set('k', 2)
  m.removeAllListeners()
  await m.set('k', 3)
  m.on('change:k', (v) => seen.push(['second', v]))
  await m.set('k', 4)
  t.deepEqual(seen, [['first', 1], ['second', 4]])
})

test('a change:<key> listener added by a change listener during a commit gets the rest of that commit', async (t) => {
  const m = await memoryModel(t)
  const seen: unknown[] = []
  m.on('old', () => {})
  m.once('change', () => {
    // Remove a whole event name and add a keyed one: the listener count stays the same.
    m.removeAllListeners('old')
    m.on('change:later', (v) => seen.push(v))
  })
  await m.batch([{ type: 'put', key: 'first', value: 1 }, { type: 'put', key: 'later', value: 2 }])
  t.deepEqual(seen, [2], 'the second update of the same commit reached the new listener')
})

test('a commit listener sees the clock the commit moved', async (t) => {
  const m = await memoryModel(t)
  const seen: Array<[number | undefined, number]> = []
  m.on('commit', () => { seen.push([m.clock[m.id] ?? undefined, m.stats.commits]) })
  const update = await m.localUpdate(['k', 1])
  t.deepEqual(seen, [[update[1], 1]], 'the listener read the new clock entry and the new commit count')
})
