import test from 'tape'
import { once } from 'node:events'
import { MemoryLevel } from 'memory-level'
import { connect, Events, Model, type ReplicationClient } from '../lib/index.js'

// A connect() client "gives up (emits close) when its instance is closed" (docs/cli.md).
// While it was waiting out a backoff (its peer unreachable), it only noticed at its next
// attempt, up to maxDelay (30 s by default) later, and its timer kept the process alive
// meanwhile. The instance's close now ends the wait.
async function closedWithin (client: ReplicationClient, ms: number): Promise<boolean> {
  if (client.state === 'closed') return true
  let timer: NodeJS.Timeout | undefined
  try {
    return await Promise.race([
      once(client, 'close').then(() => true),
      new Promise<boolean>((resolve) => { timer = setTimeout(() => { resolve(false) }, ms) })
    ])
  } finally {
    clearTimeout(timer)
  }
}

const types: Array<[string, () => Model | Events]> = [
  ['Model', () => new Model({ db: new MemoryLevel() })],
  ['Events', () => new Events({ db: new MemoryLevel() })]
]
for (const [name, create] of types) {
  test(`a connect() client waiting to retry gives up as soon as its ${name} closes`, async (t) => {
    const instance = create()
    await instance.open()
    // Port 1: nothing listens; the backoff is a minute, far beyond the wait below.
    const client = connect(instance, { port: 1, minDelay: 60_000, maxDelay: 60_000, jitter: 0 })
    t.teardown(async () => { await client.close() })
    const [, retryIn] = await once(client, 'disconnected') as [Error | undefined, number | undefined]
    t.equal(retryIn, 60_000, 'waiting a minute to retry')
    await instance.close()
    t.ok(await closedWithin(client, 5000), 'the client closed without waiting out its backoff')
    t.equal(client.state, 'closed', 'state closed')
  })
}
