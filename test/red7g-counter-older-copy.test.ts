import test from 'tape'
import { cp } from 'node:fs/promises'
import { join } from 'node:path'
import { Counter } from '../lib/index.js'
import { link, tempDir } from './helpers.js'

// A node restarted from an older copy of its database (a backup, a VM snapshot)
// publishes a running total below the one its peers hold for it. The Counter
// refused any total not above the one it held (`total <= current`), while the
// clock moved past it: the peers kept the old total, the node kept its new one,
// and neither ever sent the other anything again. Every other type resolves by
// (ts, source), where the newer update of a source wins on every node.

async function open (dir: string, id: string, now: () => number): Promise<Counter> {
  const c = new Counter({ db: dir, id, now })
  await c.open()
  return c
}

async function syncOnce (x: Counter, y: Counter): Promise<void> {
  const l = link(x, y)
  await l.synced
  l.a.destroy()
  l.b.destroy()
  await l.closed
}

test('red7g: a Counter node restarted from an older copy of its database converges with its peers', async (t) => {
  let wall = 1_000_000_000
  const now = (): number => wall
  const root = await tempDir(t)
  const dirA = join(root, 'a')
  const copy = join(root, 'a-copy')
  let a = await open(dirA, 'A', now)
  const b = await open(join(root, 'b'), 'B', now)
  const c = await open(join(root, 'c'), 'C', now)
  t.teardown(async () => { await Promise.all([a.close(), b.close(), c.close()]) })
  await a.increment(5)
  await a.close()
  await cp(dirA, copy, { recursive: true })
  a = await open(dirA, 'A', now)
  wall += 1000
  await a.increment(5)
  await b.increment(100)
  await syncOnce(a, b)
  await syncOnce(b, c)
  t.equal(await c.value(), 110, 'c: 10 from a, 100 from b')
  await a.close()

  // a comes back from the older copy (total 5) and counts once before it reconnects.
  wall += 1000
  a = await open(copy, 'A', now)
  await a.increment(1)
  await syncOnce(a, b)
  await syncOnce(b, c)
  await syncOnce(a, c)
  const values = [await a.value(), await b.value(), await c.value()]
  t.equal(new Set(values).size, 1, `a, b and c agree on the value (a, b, c: ${values.join(', ')})`)
  await a.increment(1)
  await syncOnce(a, b)
  await syncOnce(b, c)
  const later = [await a.value(), await b.value(), await c.value()]
  t.equal(new Set(later).size, 1, `and after a's next increment (a, b, c: ${later.join(', ')})`)
})
