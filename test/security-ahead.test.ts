// Verification ahead of the commit pipeline (lib/verify-ahead.ts): while one batch's
// verdicts are awaited, the updates queued behind it are already being verified, two
// batches deep, so worker threads are not left idle while the main thread commits; and
// a byte-identical copy of an update under way (a second peer's) shares its verdict.
// Neither may change a verdict nor the order updates are committed in.
import test from 'tape'
import { createSecurity, generateKeys, verifyReasons, type Security, type Update } from '../lib/index.js'
import { pack } from '../lib/msgpack.js'
import { AheadVerifier, VERIFY_AHEAD, type Verifiable } from '../lib/verify-ahead.js'
import { diskModel, link, memoryModel, until } from './helpers.js'
import { countingSecurity, isUpdate, securedModel, Tamper, tamperedLink } from './security-helpers.js'

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
      // Held in the order of the calls (not of their answers, which the workers may give in any order).
      const release = holding ? new Promise<void>((resolve) => held.push(resolve)) : undefined
      const verdicts = await inner.verifyBatch(updates)
      await release
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
  t.ok(await until(() => c.stats.committed === first), 'the first batch commits; nothing after it does while its verdicts are held')
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

test('a fresh node synced by two peers with the same history verifies each update once', async (t) => {
  const keysA = generateKeys()
  const a = await securedModel(t, keysA)
  const n = 600
  await Promise.all(Array.from({ length: n }, async (_, i) => { await a.set(`k${i}`, i) }))
  // B relays A's updates: the same bytes, from a second peer.
  const b = await memoryModel(t)
  await link(a, b).synced
  const { security, asked } = countingSecurity()
  const c = await diskModel(t, { security })
  const unverified: string[] = []
  c.on('unverified', (_u, reason) => { unverified.push(reason) })
  await Promise.all([link(a, c).synced, link(b, c).synced])
  t.equal(c.stats.committed, n, 'every update is committed')
  t.equal(c.stats.committed + c.stats.old, 2 * n, 'each arrived twice (the second copy dropped as old)')
  t.deepEqual(unverified, [], 'nothing is unverified')
  t.equal(asked.length, n, `${n} signatures checked, not ${2 * n}`)
  t.equal(new Set(asked.map((u) => `${u[1]} ${u[2]}`)).size, n, 'each update once')
})

test('a copy shares a verdict under way only when its bytes are the same: a forged copy is verified, and refused, on its own', async (t) => {
  const keys = generateKeys()
  const signer = createSecurity({ keys })
  const item = (update: Update): Verifiable => ({ local: false, update, bytes: pack(update) })
  const signed = (change: unknown, ts: number): Update => {
    const update: Update = [change, ts, keys.id]
    return [...update, signer.sign(update)]
  }
  const genuine = signed(['k', 1], 1_700_000_000_000)
  const forged: Update = [['k', 'forged'], genuine[1], genuine[2], genuine[3]]
  const other = signed(['k', 2], genuine[1] + 1)
  const { security, asked } = countingSecurity()
  const verifier = new AheadVerifier<Verifiable>(security, 256)
  // A forgery with the genuine update's source and timestamp, a copy of the genuine one in the same call, more copies later.
  const first = [item(genuine), item(forged), item(genuine), item(other)]
  const later = [item(genuine), item(forged)]
  verifier.start(first)
  verifier.start(later)
  const all = [...first, ...later]
  t.ok(all.every((i) => verifier.has(i)), 'every item has a verdict under way')
  const verdicts = await verifier.settle(all, all.map(() => undefined))
  t.deepEqual(verdicts, [true, verifyReasons.BAD_SIGNATURE, true, true, true, verifyReasons.BAD_SIGNATURE], 'each copy has the verdict of its own bytes')
  t.deepEqual(asked, [genuine, forged, other, forged], 'the genuine update is verified once; the forgery each time (it never takes the place of the genuine one)')
  // Once refused, a forgery that came first leaves no verdict behind for its copies; an accepted update does.
  const again = [item(forged), item(genuine)]
  verifier.start(again)
  t.deepEqual(await verifier.settle(again, [undefined, undefined]), [verifyReasons.BAD_SIGNATURE, true], 'the same verdicts again')
  t.deepEqual(asked.slice(4), [forged], 'only the forgery is asked about again')
})
