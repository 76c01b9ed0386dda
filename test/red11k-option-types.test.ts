import test from 'tape'
import { MemoryLevel } from 'memory-level'
import { connect, Model } from '../lib/index.js'
import { memoryModel } from './helpers.js'

// Options checked as `!(x > 0)` let non-numbers through by coercion: tombstoneTTL: true
// became a 1 ms TTL (deletes forgotten at once, purged every millisecond), and
// connect()'s minDelay: null (or false, '') became a 0 ms backoff, redialing an
// unreachable peer in a tight loop. A wrong option type is a TypeError at the call.
test('new Model() refuses a tombstoneTTL that is not a number', async (t) => {
  for (const tombstoneTTL of [true, '86400000', [5], new Date(1)]) {
    t.throws(() => new Model({ db: new MemoryLevel(), tombstoneTTL } as unknown as ConstructorParameters<typeof Model>[0]), TypeError, `tombstoneTTL ${JSON.stringify(tombstoneTTL)}`)
  }
  const model = new Model({ db: new MemoryLevel(), tombstoneTTL: 86_400_000 })
  t.equal(model.status, 'new', 'a number of ms is taken')
})

test('connect() refuses reconnect delays that are not numbers', async (t) => {
  const model = await memoryModel(t)
  const wrong: Array<Record<string, unknown>> = [{ minDelay: null }, { minDelay: false }, { minDelay: '' }, { maxDelay: '30000' }, { factor: true }, { jitter: null }]
  for (const options of wrong) {
    try {
      const client = connect(model, { port: 1, ...options })
      t.fail(`accepted ${JSON.stringify(options)}`)
      await client.close()
    } catch (err) {
      t.ok(err instanceof TypeError, `${JSON.stringify(options)}: a TypeError`)
    }
  }
})
