// Batch verification (verifyBatch, the worker pool of verifyOn: 'workers'): the same
// verdict per update as single verification, the same per-update rejection in a
// sync, a fallback when the pool fails, and no worker left holding the process.
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { sign as cryptoSign } from 'node:crypto'
import { MemoryLevel } from 'memory-level'
import test from 'tape'
import {
  codes, createSecurity, Model, generateKeys, idOf, seededRandom, signedBytes, verifyReasons,
  type KeyPair, type ScuttledbError, type Security, type Update
} from '../lib/index.js'
import { VerifyPool, verifyPool } from '../lib/security/verify-pool.js'
import { allHistory, diskModel, link, memoryModel, until } from './helpers.js'
import { countingSecurity, isUpdate, securedModel, Tamper, tamperedLink, updateFor } from './security-helpers.js'

const MODES = ['workers', 'threadpool', 'main'] as const
const ED = generateKeys()
const RSA = generateKeys({ type: 'rsa', modulusLength: 2048 })
const EVIL = generateKeys()

function signed (keys: KeyPair, i: number): Update {
  const update: Update = [[`k${i}`, { n: i, text: 'x'.repeat(i % 50) }], 1_700_000_000_000 + i, keys.id]
  return [...update, createSecurity({ keys }).sign(update)]
}

/** Every kind of update a verifier must tell apart, each a function of a genuine one. */
const kinds: Record<string, (u: Update) => Update> = {
  good: (u) => u,
  'altered change': (u) => [['forged', 1], u[1], u[2], u[3]],
  'altered timestamp': (u) => [u[0], u[1] + 1, u[2], u[3]],
  unsigned: (u) => [u[0], u[1], u[2]],
  'padded signature (malformed)': (u) => [u[0], u[1], u[2], [(u[3] as string[])[0] + '=', (u[3] as string[])[1]]],
  'not a pair (malformed)': (u) => [u[0], u[1], u[2], { signature: (u[3] as string[])[0] }] as unknown as Update,
  'key of another source (wrong key)': (u) => [u[0], u[1], u[2], [(u[3] as string[])[0], EVIL.publicKeyDer.toString('base64url')]],
  "another key's signature over the source's key": (u) => {
    const forged = cryptoSign(null, signedBytes(u), EVIL.privateKey).toString('base64url')
    return [u[0], u[1], u[2], [forged, (u[3] as string[])[1]]]
  },
  'a small-order key with a trivial signature': (u) => {
    const der = Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), Buffer.from([1]), Buffer.alloc(31)])
    return [u[0], u[1], idOf(der), [Buffer.concat([Buffer.from([1]), Buffer.alloc(63)]).toString('base64url'), der.toString('base64url')]]
  }
}

test('a batch gets, per update, the verdict single verification gives: good, bad, malformed, wrong-key, RSA, in every verifyOn', async (t) => {
  const seed = Number(process.env.SEED ?? Date.now() % 1_000_000)
  const random = seededRandom(seed)
  const names = Object.keys(kinds)
  // Big enough that the workers split it among themselves; the bad ones at seeded places.
  const batch: Update[] = []
  for (let i = 0; i < 600; i++) {
    const keys = random() < 0.1 ? RSA : ED
    const kind = random() < 0.8 ? 'good' : names[Math.floor(random() * names.length)] as string
    batch.push((kinds[kind] as (u: Update) => Update)(signed(keys, i)))
  }
  const single = createSecurity({ verifyOn: 'main' })
  const expected = batch.map((u) => single.verifySync(u))
  t.ok(expected.includes(true) && expected.includes(verifyReasons.BAD_SIGNATURE) && expected.includes(verifyReasons.MALFORMED), `the batch mixes verdicts (seed ${seed})`)
  for (const verifyOn of MODES) {
    const security = createSecurity({ verifyOn })
    t.deepEqual(await security.verifyBatch(batch), expected, `verifyOn '${verifyOn}': the same verdicts in the same order (seed ${seed})`)
    const one = await Promise.all(batch.slice(0, 40).map(async (u) => await security.verify(u)))
    t.deepEqual(one, expected.slice(0, 40), `verifyOn '${verifyOn}': verify of one update agrees (seed ${seed})`)
  }
  // Batches of several instances at once share the pool's queue: each still gets its own verdicts, in order.
  const parts = [batch.slice(0, 250), batch.slice(250, 251), batch.slice(251)]
  const together = await Promise.all(parts.map(async (part) => await createSecurity().verifyBatch(part)))
  t.deepEqual(together.flat(), expected, `concurrent batches get their own verdicts (seed ${seed})`)
  t.deepEqual(await createSecurity().verifyBatch([]), [], 'an empty batch has no verdicts')
  t.throws(() => createSecurity({ verifyOn: 'gpu' as 'main' }), TypeError, 'an unknown verifyOn is a TypeError')
})

test('a pool that fails mid-batch: the batch is verified on the calling thread, with the same verdicts', async (t) => {
  const batch = Array.from({ length: 300 }, (_, i) => i % 7 === 3 ? kinds['altered change']?.(signed(ED, i)) as Update : signed(ED, i))
  const expected = batch.map((u) => createSecurity().verifySync(u))
  const security = createSecurity()
  const verdicts = security.verifyBatch(batch)
  // Terminating every worker now rejects what they hold; the backend must not turn that into verdicts.
  await verifyPool().close()
  t.deepEqual(await verdicts, expected, 'the same verdicts')
  t.deepEqual(await security.verifyBatch(batch), expected, 'and the next batch starts new workers')
  t.ok(verifyPool().threads > 0, 'workers are running again')
})

test('where no worker can start (a single-file bundle without the worker script), the pool refuses at once and stays refused', async (t) => {
  const pool = new VerifyPool(2, 5000, new URL('./no-such-verify-worker.js', import.meta.url))
  const job = { key: ED.publicKeyDer.toString('base64url'), algorithm: null, data: new Uint8Array(1), signature: new Uint8Array(64) }
  let first: unknown
  try {
    await pool.verify([job])
  } catch (err) {
    first = err
  }
  t.ok(first instanceof Error, 'the first batch rejects (its caller then verifies it itself)')
  t.equal(pool.threads, 0, 'no worker is left')
  let second: unknown
  try {
    await pool.verify([job])
  } catch (err) {
    second = err
  }
  t.equal(second, first, 'later batches are refused with the same error, without starting workers again')
  t.equal(pool.threads, 0, 'still no worker')
  await pool.close()
})

test('a bad signature in the middle of a large sync: that update alone is rejected, everything else is stored and forwarded', async (t) => {
  const keysA = generateKeys()
  const a = await securedModel(t, keysA)
  const n = 1500
  await Promise.all(Array.from({ length: n }, async (_, i) => { await a.set(`k${i}`, i) }))
  const c = await diskModel(t, { security: createSecurity() })
  const d = await memoryModel(t)
  const rejected: string[] = []
  const unverified: string[] = []
  c.on('rejected', (err: ScuttledbError) => { rejected.push(err.code) })
  c.on('unverified', (_update, reason) => { unverified.push(reason) })
  const tamper = new Tamper((v) => [isUpdate(v) && (v[0] as string[])[0] === 'k750' ? [['k750', 'forged'], v[1], v[2], v[3]] : v])
  const ac = await tamperedLink(t, a, c, tamper, 'in-process')
  link(c, d)
  await ac.synced
  t.deepEqual(rejected, [codes.UNVERIFIED], 'one rejection, SCUTTLEDB_UNVERIFIED')
  t.deepEqual(unverified, [verifyReasons.BAD_SIGNATURE], 'one unverified event: bad signature')
  t.equal(c.stats.committed, n - 1, 'every other update is committed')
  t.equal(await c.get('k750'), undefined, 'the forged one is not in the model')
  t.equal(await c.get('k749'), 749, 'its neighbours are')
  t.equal(await c.get('k751'), 751, 'on both sides')
  const history = await allHistory(c)
  t.equal(history.length, n - 1, 'nothing else is in the log')
  t.notOk(history.some((u) => isUpdate(u) && (u[0] as string[])[0] === 'k750'), 'the forged update is not in the log')
  t.ok(await until(() => d.stats.committed === n - 1), 'D gets everything C stored')
  t.equal(await d.get('k750'), undefined, 'and never the forged update')
  await a.set('after', 'later')
  t.ok(await until(async () => (await c.get('after')) === 'later'), 'the stream stays open: a later update arrives')
  t.equal(c.clock[keysA.id], (await updateFor(a, 'after'))?.[1], "C's clock for A is that of the later update")
})

test("the pipeline verifies a batch with the backend's verifyBatch, one verdict per update", async (t) => {
  const keysA = generateKeys()
  const a = await securedModel(t, keysA)
  await Promise.all(Array.from({ length: 200 }, async (_, i) => { await a.set(`k${i}`, i) }))
  const inner = createSecurity()
  const calls: number[] = []
  const security: Security = {
    sign: () => { throw new Error('verify only') },
    verify: () => { throw new Error('verify is not called when verifyBatch exists') },
    verifyBatch: async (updates) => {
      calls.push(updates.length)
      // Refuse odd keys with a reason of its own, and say false for k10.
      return (await inner.verifyBatch(updates)).map((v, i) => {
        const n = Number(((updates[i] as Update)[0] as string[])[0]?.slice(1))
        return n === 10 ? false : n % 2 === 1 ? 'odd' : v
      })
    }
  }
  const c = await memoryModel(t, { security })
  const reasons: string[] = []
  c.on('unverified', (_u, reason) => { reasons.push(reason) })
  await link(a, c).synced
  t.ok(calls.length > 0 && calls.reduce((x, y) => x + y, 0) === 200, 'every remote update went through verifyBatch')
  t.ok(calls.some((k) => k > 1), 'in batches, not one by one')
  t.equal(c.stats.committed, 99, 'the even keys but k10 are committed')
  t.equal(reasons.filter((r) => r === 'odd').length, 100, "each odd key is unverified with the backend's reason")
  t.equal(reasons.filter((r) => r === 'bad signature').length, 1, 'false is reported as bad signature')
})

test('verdicts started ahead for queued updates: each update verified once, the allow-list and forgeries still decide per update', async (t) => {
  const keysA = generateKeys()
  const keysF = generateKeys()
  const a = await securedModel(t, keysA)
  const f = await securedModel(t, keysF)
  const b = await memoryModel(t)
  await Promise.all(Array.from({ length: 1200 }, async (_, i) => { await (i % 2 === 0 ? a : f).set(`k${i}`, i) }))
  await Promise.all([link(a, b).synced, link(f, b).synced])
  const { security, asked: verified } = countingSecurity()
  const c = await diskModel(t, { security, writers: (id) => id !== keysF.id, maxBatch: 100 })
  const reasons = new Map<string, number>()
  c.on('unverified', (_u, reason) => { reasons.set(reason, (reasons.get(reason) ?? 0) + 1) })
  const tamper = new Tamper((v) => [isUpdate(v) && (v[0] as string[])[0] === 'k600' ? [['k600', 'forged'], v[1], v[2], v[3]] : v])
  await (await tamperedLink(t, b, c, tamper, 'in-process')).synced
  t.equal(c.stats.committed, 599, "A's updates but the forged one are committed")
  t.equal(reasons.get('source not allowed to write'), 600, "every one of F's updates is refused by the allow-list")
  t.equal(reasons.get(verifyReasons.BAD_SIGNATURE), 1, 'the forged one is unverified: bad signature')
  t.equal(await c.get('k600'), undefined, 'the forged one is not stored')
  const once = new Set(verified.map((u) => `${u[2]}/${u[1]}`))
  t.equal(once.size, verified.length, 'no update was verified twice')
  t.ok(verified.length >= 600, `every one of A's updates was verified (${verified.length} verified in all: F's, refused by the allow-list, only when verified ahead)`)
})

test('a verifyBatch that rejects, or answers too few verdicts, fails those updates as unverified', async (t) => {
  for (const [name, verifyBatch] of [
    ['rejects', async () => { throw new Error('backend down') }],
    ['too few verdicts', async () => []]
  ] as const) {
    const a = await securedModel(t, generateKeys())
    await a.set(`written-${name}`, 1)
    const c = await memoryModel(t, { security: { sign: () => null, verify: () => true, verifyBatch } })
    const codesSeen: string[] = []
    c.on('rejected', (err: ScuttledbError) => { codesSeen.push(err.code) })
    await link(a, c).synced
    t.deepEqual(codesSeen, [codes.UNVERIFIED], `${name}: rejected with SCUTTLEDB_UNVERIFIED`)
    t.equal(c.stats.committed, 0, `${name}: nothing committed`)
  }
  t.throws(() => new Model({ db: new MemoryLevel(), security: { sign: () => null, verify: () => true, verifyBatch: 1 as unknown as Security['verifyBatch'] } }), TypeError, 'a verifyBatch that is not a function is a TypeError')
})

test('the verification workers never keep a process alive: it exits by itself after close', async (t) => {
  const index = new URL('../lib/index.js', import.meta.url).href
  const pool = new URL('../lib/security/verify-pool.js', import.meta.url).href
  const code = `
    import { Model, generateKeys, securityOptions } from ${JSON.stringify(index)}
    import { verifyPool } from ${JSON.stringify(pool)}
    import { MemoryLevel } from 'memory-level'
    import { pipeline } from 'node:stream'
    import { once } from 'node:events'
    const a = new Model({ db: new MemoryLevel(), ...securityOptions(generateKeys()) })
    const b = new Model({ db: new MemoryLevel(), ...securityOptions(generateKeys()) })
    await Promise.all([a.open(), b.open()])
    await Promise.all(Array.from({ length: 300 }, (_, i) => a.set('k' + i, i)))
    const sa = a.createStream(), sb = b.createStream()
    const synced = once(sb, 'sync')
    pipeline(sa, sb, sa, () => {})
    await synced
    console.log(JSON.stringify({ committed: b.stats.committed, threads: verifyPool().threads }))
    sa.destroy()
    await Promise.all([a.close(), b.close()])
  `
  const child = spawn(process.execPath, ['--input-type=module', '-e', code], { stdio: ['ignore', 'pipe', 'inherit'], cwd: new URL('..', import.meta.url) })
  let out = ''
  child.stdout.on('data', (chunk: Buffer) => { out += chunk.toString() })
  // Generous: a loaded machine may be slow, but a leaked worker would hold the process forever.
  const timer = setTimeout(() => { child.kill('SIGKILL') }, 60_000)
  const [exitCode, signal] = await once(child, 'exit') as [number | null, string | null]
  clearTimeout(timer)
  t.equal(signal, null, 'the child was not killed: it exited on its own')
  t.equal(exitCode, 0, 'with code 0')
  const report = JSON.parse(out.trim() || '{}') as { committed?: number, threads?: number }
  t.equal(report.committed, 300, 'after syncing every update')
  t.ok((report.threads ?? 0) > 0, 'verified on worker threads')
})
