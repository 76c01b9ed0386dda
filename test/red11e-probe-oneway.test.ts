import test from 'tape'
import { pipeline } from 'node:stream'
import { memoryModel, until } from './helpers.js'

test('probe: master/replica one-way streams with writes during the handshake and after', async (t) => {
  const master = await memoryModel(t)
  const replica = await memoryModel(t)
  for (let i = 0; i < 500; i++) void master.set(`h${i}`, i)
  const m = master.createStream({ writable: false, sendClock: true })
  const r = replica.createStream({ readable: false, sendClock: true })
  for (let i = 0; i < 500; i++) void master.set(`w${i}`, i)
  pipeline(m, r, m, () => {})
  for (let i = 0; i < 6000; i++) void master.set(`l${i % 3000}`, i)
  await master.set('last', true)
  let size = 0
  const ok = await until(async () => {
    const [a, b] = await Promise.all([replica.toJSON(), master.toJSON()])
    size = Object.keys(b).length
    return JSON.stringify(a) === JSON.stringify(b)
  }, 10000)
  t.ok(ok, 'replica converged')
  t.equal(size, 4001, 'the master holds every key')
  m.destroy(); r.destroy()
})
