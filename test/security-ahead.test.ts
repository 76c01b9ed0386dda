// Verification ahead of the commit pipeline (lib/pipeline.ts, VERIFY_AHEAD): while one
// batch's verdicts are awaited, the updates queued behind it are already being verified,
// two batches deep, so worker threads are not left idle while the main thread commits.
// How far ahead must change neither a verdict nor the order updates are committed in.
import test from 'tape'
import { createSecurity, generateKeys, verifyReasons, type Security, type Update } from '../lib/index.js'
import { VERIFY_AHEAD } from '../lib/pipeline.js'
import { diskModel, until } from './helpers.js'
import { isUpdate, securedModel, Tamper, tamperedLink } from './security-helpers.js'

test('while a batch waits for its verdicts, the next two batches are already being verified; verdicts and order are unchanged', async (t) => {
  const keysA = generateKeys()
  const a = await securedModel(t, keysA)
  const n = 600
  for (let i = 0; i < n; i += 100) {
    await Promise.all(Array.from({ length: 100 }, async (_, j) => { await a.set(`k${i + j}`, i + j) }))
  }
  const inner = createSecurity()
  const submitted: Update[] = []
  const calls: number[] = []
  // Each call's answer waits here until released, so the test decides when verdicts arrive.
  const held: Array<() => void> = []
  let holding = true
  const security: Security = {
    sign: () => { throw new Error('verify only') },
    verify: (u) => inner.verifySync(u),
    verifyBatch: async (updates) => {
      submitted.push(...updates)
      calls.push(updates.length)
      const verdicts = await inner.verifyBatch(updates)
      if (holding) await new Promise<void>((resolve) => held.push(resolve))
      return verdicts
    }
  }
  const maxBatch = 10
  const c = await diskModel(t, { security, maxBatch })
  const committed: Array<[string, number]> = []
  c.on('update', (change: unknown, ts: number) => { committed.push([(change as [string])[0], ts]) })
  const unverified: string[] = []
  c.on('unverified', (_u, reason) => { unverified.push(reason) })
  const tamper = new Tamper((v) => [isUpdate(v) && (v[0] as string[])[0] === 'k300' ? [['k300', 'forged'], v[1], v[2], v[3]] : v])
  const { synced } = await tamperedLink(t, a, c, tamper, 'in-process')

  t.ok(await until(() => tamper.seen.filter(isUpdate).length === n && held.length > 0), 'every update reached C while the first verdicts are held')
  const first = calls[0] as number
  ;(held.shift() as () => void)()
  // The first batch commits; the second waits for verdicts that are held, and the two batches behind it are submitted meanwhile.
  const deep = first + (1 + VERIFY_AHEAD) * maxBatch
  t.ok(await until(() => submitted.length >= deep), `with the second batch's verdicts held, ${deep} updates were submitted (${submitted.length}: the first batch of ${first}, then ${1 + VERIFY_AHEAD} batches of ${maxBatch})`)
  t.equal(c.stats.committed, first, 'only the first batch is committed')

  holding = false
  for (const release of held.splice(0)) release()
  await synced
  t.deepEqual(unverified, [verifyReasons.BAD_SIGNATURE], 'the forged update alone is unverified')
  t.equal(c.stats.committed, n - 1, 'every other update is committed')
  t.equal(await c.get('k300'), undefined, 'the forged one is not stored')
  const keys = new Set(submitted.map((u) => `${u[2]}/${u[1]}`))
  t.equal(keys.size, submitted.length, 'no update was verified twice')
  t.equal(submitted.length, n, 'every update was verified')
  const expected: Array<[string, number]> = []
  for await (const u of a.history()) if ((u as Update)[0] !== undefined && ((u as Update)[0] as string[])[0] !== 'k300') expected.push([((u as Update)[0] as string[])[0] as string, (u as Update)[1]])
  t.deepEqual(committed, expected, "committed in the source's order, the forged one left out")
})
