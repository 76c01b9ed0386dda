import test from 'tape'
import { pipeline, PassThrough } from 'node:stream'
import { Model } from '../lib/index.js'
import { tempDir, allHistory, until, sleep } from './helpers.js'

test('probe: triangle with link churn, slow wires and concurrent writes converges', async (t) => {
  const nodes: Model[] = []
  for (let i = 0; i < 3; i++) {
    const m = new Model({ db: await tempDir(t), id: `n${i}`, maxBatch: 64 })
    await m.open()
    t.teardown(async () => { await m.close() })
    nodes.push(m)
  }
  let seed = Number(process.env.SEED ?? 7)
  const rnd = (n: number): number => { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return seed % n }
  const links: Array<{ destroy: () => void }> = []
  const connect = (i: number, j: number, slow: boolean): void => {
    const a = nodes[i].createStream()
    const b = nodes[j].createStream()
    a.on('error', () => {}); b.on('error', () => {})
    const w1 = new PassThrough({ highWaterMark: slow ? 64 : 16384 })
    const w2 = new PassThrough({ highWaterMark: slow ? 64 : 16384 })
    pipeline(a, w1, b, w2, a, () => {})
    links.push({ destroy: () => { a.destroy(); b.destroy() } })
  }
  const writes: Array<Promise<unknown>> = []
  for (let round = 0; round < 30; round++) {
    if (rnd(3) === 0 && links.length > 0) links.splice(rnd(links.length), 1)[0].destroy()
    if (rnd(2) === 0) { const i = rnd(3); connect(i, (i + 1 + rnd(2)) % 3, rnd(2) === 0) }
    for (let k = 0; k < 200; k++) {
      const n = nodes[rnd(3)]
      writes.push(n.set(`k${rnd(300)}`, `${round}-${k}`))
    }
    if (rnd(4) === 0) {
      // a one-shot pull
      const i = rnd(3); const j = (i + 1) % 3
      const r = nodes[i].createReadStream({ tail: false })
      const w = nodes[j].createWriteStream()
      pipeline(r, w, () => {})
    }
    await sleep(rnd(30))
  }
  await Promise.all(writes)
  for (const l of links) l.destroy()
  connect(0, 1, false); connect(1, 2, false)
  let js: string[] = []
  const ok = await until(async () => {
    js = await Promise.all(nodes.map(async (n) => JSON.stringify(await n.toJSON())))
    const clocks = nodes.map((n) => JSON.stringify(Object.entries(n.clock).sort()))
    return js[0] === js[1] && js[1] === js[2] && clocks[0] === clocks[1] && clocks[1] === clocks[2]
  }, 20000)
  t.ok(ok, 'the three converged')
  const keys = Object.keys(await nodes[0].toJSON()).length
  t.ok(keys > 50, `with real contents (${keys} keys)`)
  const h = await Promise.all(nodes.map(async (n) => (await allHistory(n)).length))
  t.comment(`history lengths ${h.join(' ')}`)
  for (const l of links) l.destroy()
})
