// Secured nodes in networks: the original's bug 2 (a forged far-future update
// blocks a source) against the original and against scuttledb, mixed secured and
// unsecured peers, a JSON-wire relay through the original, RSA keys from
// ssh-keygen, and signatures that outlive relays and restarts.
import { execFile } from 'node:child_process'
import { once } from 'node:events'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { promisify } from 'node:util'
import test from 'tape'
import {
  createSecurity, generateKeys, loadKeys, Model, publicKeyFromPem, securityOptions, verifyReasons,
  type ReplicationStream, type Update
} from '../lib/index.js'
import { allHistory, diskModel, link, memoryModel, tempDir, until } from './helpers.js'
import type { OriginalConstructor, OriginalModel, OriginalStream } from './original.js'
import { relay, securedModel, updateFor } from './security-helpers.js'

const require = createRequire(import.meta.url)
const OModel = require('scuttlebutt/model.js') as OriginalConstructor<OriginalModel>
const run = promisify(execFile)
const YEAR = 365 * 24 * 3600_000

/** The hostile peer's JSON lines: a header, a forged far-future update for A's key 'k', then A's genuine one. */
function bug2Lines (keysA = generateKeys()): { lines: string[], genuine: Update, forgedTs: number } {
  const evil = createSecurity({ keys: generateKeys() })
  const forgedTs = Date.now() + 10 * YEAR
  const forged: Update = [['k', 'forged'], forgedTs, keysA.id]
  // Signed by another key: a verifier must reject it (bad signature or key mismatch).
  const evilSig = evil.sign([forged[0], forged[1], evil.id as string])
  const genuineBare: Update = [['k', 'genuine'], Date.now(), keysA.id]
  const genuine: Update = [...genuineBare, createSecurity({ keys: keysA }).sign(genuineBare)]
  const lines = [{ id: 'HOSTILE', clock: {} }, [...forged, evilSig], genuine].map((v) => JSON.stringify(v) + '\n')
  return { lines, genuine, forgedTs }
}

test("bug 2 in the original: a forged far-future update moves the clock before verification and blocks the source's real updates", async (t) => {
  const verifier = createSecurity()
  const o = new (OModel as unknown as new (opts: object) => OriginalModel)({
    createId: () => 'ORIGINAL',
    sign: () => { throw new Error('this node does not write') },
    verify: (update: Update, cb: (err: null, ok: boolean) => void) => { cb(null, verifier.verifySync(update) === true) }
  })
  const keysA = generateKeys()
  const { lines, forgedTs } = bug2Lines(keysA)
  const unverified: unknown[] = []
  const old: unknown[] = []
  o.on('unverified_data', (u: unknown) => unverified.push(u))
  o.on('old_data', (u: unknown) => old.push(u))
  const stream = o.createStream() as OriginalStream & { write: (s: string) => boolean }
  for (const line of lines) stream.write(line)
  await until(() => unverified.length + old.length >= 2)
  t.equal(unverified.length, 1, 'the original does detect the forgery...')
  t.equal(o.sources[keysA.id], forgedTs, '...but only after moving its clock for A ten years ahead')
  t.equal(old.length, 1, "so A's genuine update is dropped as old")
  t.equal(o.get('k'), undefined, 'and A is blocked for ten years')
  o.dispose()
})

test('bug 2 against scuttledb: the same bytes leave the clock alone and A keeps writing', async (t) => {
  const keysA = generateKeys()
  const c = await diskModel(t, securityOptions(generateKeys()))
  const { lines, genuine } = bug2Lines(keysA)
  const reasons: string[] = []
  c.on('unverified', (_u, reason) => { reasons.push(reason) })
  const stream = c.createStream({ wrapper: 'json' })
  for (const line of lines) stream.write(line)
  t.ok(await until(async () => (await c.get('k')) === 'genuine'), "A's genuine update is applied")
  t.deepEqual(reasons, [verifyReasons.KEY_MISMATCH], 'the forgery was reported as unverified')
  t.equal(c.clock[keysA.id], genuine[1], "C's clock for A is the genuine timestamp")
  // And the source keeps working: a live link from A brings its next write.
  const a = await memoryModel(t, securityOptions(keysA))
  await a.set('next', 1)
  await link(a, c).synced
  t.equal(await c.get('next'), 1, "A's later writes still arrive")
  t.equal(c.stats.rejected, 1, 'one rejection counted')
  stream.destroy()
})

test('mixed network: an unsecured peer cannot inject into a secured node, but can relay signed updates to it', async (t) => {
  const keysA = generateKeys()
  const a = await securedModel(t, keysA)
  const c = await securedModel(t, generateKeys())
  const u = await memoryModel(t)
  const reasons: string[] = []
  c.on('unverified', (_update, reason) => { reasons.push(reason) })
  await u.set('from-u', 'injected')
  await u.set('also-from-u', 'injected')
  await a.set('from-a', 'signed')
  await Promise.all([link(a, u).synced, link(u, c).synced])
  t.ok(await until(async () => (await c.get('from-a')) === 'signed'), "A's signed update crossed the unsecured relay")
  t.equal(await c.get('from-u'), undefined, "U's own writes were not accepted")
  t.equal(await c.get('also-from-u'), undefined)
  t.deepEqual(reasons, [verifyReasons.UNSIGNED, verifyReasons.UNSIGNED], 'each reported as unsigned')
  t.ok(Object.keys(c.clock).every((id) => id === keysA.id), "C's clock only has A")
  await c.set('from-c', 'signed too')
  t.ok(await until(async () => (await u.get('from-c')) === 'signed too'), 'the secured node still replicates to the unsecured one')
  await u.set('later-from-u', 'injected')
  t.ok(await until(() => reasons.length === 3), 'live writes from U are rejected too')
  t.equal(await c.get('later-from-u'), undefined)
})

test('signatures survive a JSON-wire relay through the original scuttlebutt', async (t) => {
  const keysA = generateKeys()
  const a = await securedModel(t, keysA)
  const c = await securedModel(t, generateKeys())
  const o = new OModel('ORIGINAL-RELAY')
  t.teardown(() => { o.dispose() })
  const connect = (node: Model): ReplicationStream => {
    const s = node.createStream({ wrapper: 'json' })
    const os = o.createStream()
    s.pipe(os as unknown as NodeJS.WritableStream)
    ;(os as unknown as NodeJS.ReadableStream).pipe(s)
    return s
  }
  await a.set('unicode ☃', { nested: ['ü', 1.5, null] })
  const sa = connect(a)
  const sc = connect(c)
  await Promise.all([once(sa, 'sync'), once(sc, 'sync')])
  t.ok(await until(async () => (await c.get('unicode ☃')) !== undefined), 'the update arrived through the original')
  t.deepEqual(await c.get('unicode ☃'), { nested: ['ü', 1.5, null] }, 'and verified at C')
  await a.set('live', 2)
  t.ok(await until(async () => (await c.get('live')) === 2), 'live updates too')
  t.equal(c.stats.rejected, 0, 'nothing was rejected')
  sa.destroy()
  sc.destroy()
})

test('an RSA key from ssh-keygen signs, relays and is allowed by the id of its PEM public key', async (t) => {
  const dir = await tempDir(t)
  const path = join(dir, 'id_rsa')
  await run('ssh-keygen', ['-q', '-t', 'rsa', '-b', '2048', '-m', 'PEM', '-N', '', '-f', path])
  const { stdout } = await run('ssh-keygen', ['-e', '-m', 'PEM', '-f', path + '.pub'])
  const allowed = publicKeyFromPem(stdout).id
  const keysA = await loadKeys(path)
  const r = await relay(t, { keysA, writers: [allowed] })
  await r.a.set('rsa', 'signed with RSA/SHA-256')
  t.ok(await until(async () => (await r.d.get('rsa')) !== undefined), 'C verified and forwarded it')
  t.equal(await r.c.get('rsa'), 'signed with RSA/SHA-256')
  t.equal(r.c.stats.rejected, 0, 'no rejections')
  t.equal(((await updateFor(r.c, 'rsa'))?.[3] as string[])[0]?.length, 342, 'a 256-byte signature travels with it')
})

test('signatures are stored and forwarded unchanged: three relays, a restart, then a fresh verifier', async (t) => {
  const keysA = generateKeys()
  const a = await securedModel(t, keysA)
  const hops = [await memoryModel(t), await securedModel(t, generateKeys()), await memoryModel(t)]
  const dir = await tempDir(t)
  const c = new Model({ db: dir, ...securityOptions(generateKeys()) })
  await c.open()
  for (let i = 0; i < 20; i++) await a.set(`k${i}`, i)
  const chain = [a, ...hops, c]
  await Promise.all(chain.slice(1).map(async (node, i) => { await link(chain[i] as Model, node).synced }))
  t.ok(await until(async () => (await c.get('k19')) === 19), 'C has every update')
  await c.close()
  const reopened = new Model({ db: dir })
  await reopened.open()
  t.teardown(async () => { await reopened.close() })
  t.deepEqual(await allHistory(reopened), await allHistory(a), "C's history after a restart is A's, 4th elements included")
  const fresh = await securedModel(t, generateKeys())
  await link(reopened, fresh).synced
  t.equal(fresh.stats.committed, 20, 'a fresh verifier accepts all 20 from the restarted node')
  t.equal(fresh.stats.rejected, 0)
})
