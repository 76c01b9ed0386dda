import test from 'tape'
import { Events } from '../lib/index.js'
import { link, tempDir, until } from './helpers.js'

test('an Events node pruning by maxCount while a peer syncs history and sends live events hears every event once, and keeps about maxCount', async (t) => {
  const open = async (id: string, maxCount?: number): Promise<Events> => {
    const e = new Events({ db: await tempDir(t), id, retention: maxCount === undefined ? undefined : { maxCount } })
    await e.open()
    t.teardown(async () => { await e.close() })
    return e
  }
  const sender = await open('B')
  const other = await open('C')
  const receiver = await open('A', 50)
  for (let i = 0; i < 1500; i++) sender.emit('tick', i)
  for (let i = 0; i < 300; i++) other.emit('tick', 10_000 + i)
  await sender.record('tick', -1)
  await other.record('tick', -2)
  const toSender = link(sender, other)
  await toSender.synced
  const heard: number[] = []
  receiver.on('tick', (n) => { heard.push(n as number) })
  const wire = link(sender, receiver)
  const live: Array<Promise<unknown>> = []
  for (let i = 0; i < 500; i++) live.push(sender.record('tick', 2000 + i), other.record('tick', 20_000 + i))
  await Promise.all(live)
  await wire.synced
  const total = 1500 + 300 + 2 + 1000
  t.ok(await until(() => heard.length >= total, 20_000), `the receiver heard ${heard.length} of ${total} events`)
  t.equal(new Set(heard).size, heard.length, 'none twice')
  t.ok(await until(() => JSON.stringify([...receiver._clockCopy()].sort()) === JSON.stringify([...sender._clockCopy()].sort()), 5000), 'the clocks agree')
  await receiver.prune()
  let stored = 0
  for await (const _ of receiver.history()) stored++
  t.ok(stored >= 50 && stored <= 56, `the receiver keeps about maxCount (50) events: ${stored}`)
  await receiver.record('tick', -3)
  await receiver.prune()
  stored = 0
  for await (const _ of receiver.history()) stored++
  t.ok(stored >= 50 && stored <= 56, `and still after one more event and prune: ${stored}`)
  wire.a.destroy()
  toSender.a.destroy()
})
