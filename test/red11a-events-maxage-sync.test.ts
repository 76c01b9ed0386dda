import test from 'tape'
import { Events } from '../lib/index.js'
import { link, tempDir, until } from './helpers.js'

test('an Events node pruning by maxAge while live events and a history sync arrive keeps every source\'s clock, and a node synced from it gets the same clock', async (t) => {
  let wall = 1_800_000_000_000
  const now = (): number => wall
  const open = async (id: string, maxAge?: number): Promise<Events> => {
    const e = new Events({ db: await tempDir(t), id, now, maxClockSkew: Infinity, retention: maxAge === undefined ? undefined : { maxAge } })
    await e.open()
    t.teardown(async () => { await e.close() })
    return e
  }
  const b = await open('B')
  const a = await open('A', 1000)
  for (let i = 0; i < 300; i++) { wall += 10; b.emit('tick', i) }
  await b.record('tick', -1)
  const heard: number[] = []
  a.on('tick', (n) => { heard.push(n as number) })
  const wire = link(b, a)
  const live: Array<Promise<unknown>> = []
  for (let i = 0; i < 200; i++) {
    wall += 10
    live.push(b.record('tick', 1000 + i))
    if (i % 20 === 0) live.push(a.prune())
  }
  await Promise.all(live)
  await wire.synced
  t.ok(await until(() => JSON.stringify([...a._clockCopy()]) === JSON.stringify([...b._clockCopy()]), 10_000), 'A\'s clock reaches B\'s')
  t.ok(heard.includes(1199), 'A heard the latest live event')
  t.ok(heard.length >= 100, `A heard the events inside its window (${heard.length})`)
  await a.prune()
  const c = await open('C')
  const fresh = link(a, c)
  await fresh.synced
  t.deepEqual([...c._clockCopy()], [...a._clockCopy()], 'a fresh node synced from A gets A\'s clock')
  fresh.a.destroy()
  wire.a.destroy()
})
