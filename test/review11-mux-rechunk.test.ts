// Probe of 006af5b (Multiplexer#_write keeps an incomplete frame as a list of parts):
// two Multiplexers whose bytes cross in random slices (1 to 40 bytes, some a few KB,
// seeded) replicate several documents and converge, both ways.
import test from 'tape'
import { Transform, type TransformCallback } from 'node:stream'
import { Multiplexer, seededRandom } from '../lib/index.js'
import { memoryModel, until } from './helpers.js'

function rechunk (random: () => number): Transform {
  return new Transform({
    transform (chunk: Buffer, _enc: BufferEncoding, callback: TransformCallback) {
      let i = 0
      while (i < chunk.length) {
        const n = random() < 0.1 ? 1 + Math.floor(random() * 5000) : 1 + Math.floor(random() * 40)
        this.push(Buffer.from(chunk.subarray(i, i + n)))
        i += n
      }
      callback()
    }
  })
}

for (const seed of [1, 2, 3]) {
  test(`mux frames sliced at random (seed ${seed}) still carry every update`, async (t) => {
    const random = seededRandom(seed)
    const names = ['a', 'b', 'c']
    const left = await Promise.all(names.map(async () => await memoryModel(t)))
    const right = await Promise.all(names.map(async () => await memoryModel(t)))
    for (const m of left) for (let k = 0; k < 300; k++) await m.set(`l${k}`, 'x'.repeat(k * 7 % 900))
    for (const m of right) for (let k = 0; k < 300; k++) await m.set(`r${k}`, k)
    const byName = (models: typeof left) => (name: string) => models[names.indexOf(name)]
    const client = new Multiplexer({ side: 'client', resolve: byName(left) as never, open: names, keepAlive: false })
    const server = new Multiplexer({ side: 'server', resolve: byName(right) as never, open: [], keepAlive: false })
    t.teardown(() => { client.destroy(); server.destroy() })
    client.pipe(rechunk(random)).pipe(server).pipe(rechunk(random)).pipe(client)
    let failed: unknown
    client.on('error', (err) => { failed = err })
    server.on('error', (err) => { failed = err })
    const done = await until(async () => {
      if (failed !== undefined) return true
      for (let i = 0; i < names.length; i++) {
        if ((await left[i].get('r299')) !== 299) return false
        if ((await right[i].get('l299')) === undefined) return false
      }
      return true
    }, 20_000)
    t.equal(failed, undefined, 'no side failed')
    t.ok(done, 'every document converged')
    for (let i = 0; i < names.length; i++) {
      let n = 0
      for (let k = 0; k < 300; k++) if ((await right[i].get(`l${k}`)) === 'x'.repeat(k * 7 % 900)) n++
      t.equal(n, 300, `document ${names[i]}: all 300 values crossed intact`)
    }
  })
}
