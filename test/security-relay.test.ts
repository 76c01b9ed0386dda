// One test per thing a secured node rejects, over a real relay: A signs, B relays,
// a Tamper on B's output to C plays the hostile relay, C verifies, D (unsecured)
// would store whatever C forwarded. Each runs in process and over TCP.
import { sign as cryptoSign } from 'node:crypto'
import test, { type Test } from 'tape'
import {
  codes, createSecurity, generateKeys, idOf, signedBytes, verifyReasons,
  type KeyPair, type Model, type ScuttledbError, type Update
} from '../lib/index.js'
import { allHistory, link, until } from './helpers.js'
import { isUpdate, relay, securedModel, updateFor, type Relay, type RelayOptions, type Transport } from './security-helpers.js'

/** What C is expected to do with the bad update. */
type Expect =
  | { kind: 'unverified', reason: string }
  | { kind: 'skew' }
  | { kind: 'old' }

interface Case {
  name: string
  expect: Expect
  /** How the relay changes A's update for key 'target' on its way to C. */
  tamper?: (update: Update, evil: KeyPair) => Update
  /** Instead: what to send or do once the topology is up (default: A sets 'target'). */
  act?: (r: Relay, t: Test) => Promise<void>
  writers?: RelayOptions['writers']
}

/** Re-sign `[change, ts, source]` with `keys`, attaching `attach`'s public key. */
function forge (update: Update, keys: KeyPair, attach: KeyPair = keys): Update {
  const signature = cryptoSign(keys.type === 'ed25519' ? null : 'sha256', signedBytes(update), keys.privateKey).toString('base64url')
  return [update[0], update[1], update[2], [signature, attach.publicKeyDer.toString('base64url')]]
}

const sig = (u: Update): unknown => u[3]
/** A correctly signing writer that C does not allow. */
const FORBIDDEN = generateKeys()

const cases: Case[] = [
  {
    name: 'an update stripped of its signature',
    expect: { kind: 'unverified', reason: verifyReasons.UNSIGNED },
    tamper: (u) => [u[0], u[1], u[2]]
  },
  {
    name: "a signature by another key over the source's public key",
    expect: { kind: 'unverified', reason: verifyReasons.BAD_SIGNATURE },
    tamper: (u, evil) => {
      const forged = forge(u, evil)
      return [u[0], u[1], u[2], [(forged[3] as string[])[0], (u[3] as string[])[1]]]
    }
  },
  {
    name: 'an altered change',
    expect: { kind: 'unverified', reason: verifyReasons.BAD_SIGNATURE },
    tamper: (u) => [['target', 'forged by the relay'], u[1], u[2], sig(u)]
  },
  {
    name: 'an altered timestamp',
    // Within maxClockSkew, so only the signature can catch it.
    expect: { kind: 'unverified', reason: verifyReasons.BAD_SIGNATURE },
    tamper: (u) => [u[0], u[1] + 5000, u[2], sig(u)]
  },
  {
    name: 'an altered source (with that source\'s own key attached)',
    expect: { kind: 'unverified', reason: verifyReasons.BAD_SIGNATURE },
    tamper: (u, evil) => [u[0], u[1], evil.id, [(u[3] as string[])[0], evil.publicKeyDer.toString('base64url')]]
  },
  {
    name: 'a source whose attached key does not hash to it',
    expect: { kind: 'unverified', reason: verifyReasons.KEY_MISMATCH },
    tamper: (u, evil) => forge([['target', 'impersonated'], u[1], u[2]], evil)
  },
  {
    name: 'a small-order Ed25519 key with a trivial signature',
    expect: { kind: 'unverified', reason: verifyReasons.INVALID_KEY },
    act: async (r) => {
      // The identity point: node:crypto verifies R = identity, S = 0 for any message under it.
      // (test/security-keys.test.ts shows that it does.)
      const der = Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), Buffer.from([1]), Buffer.alloc(31)])
      const trivial = Buffer.concat([Buffer.from([1]), Buffer.alloc(63)]).toString('base64url')
      r.tamper.inject([['target', 'anyone can sign this'], Date.now(), idOf(der), [trivial, der.toString('base64url')]])
    }
  },
  {
    name: 'a replay of an old, genuine update',
    expect: { kind: 'old' },
    act: async (r) => {
      await r.a.set('target', 'genuine')
      await until(async () => (await r.d.get('target')) === 'genuine')
      const genuine = r.tamper.seen.find((v) => isUpdate(v) && (v[0] as string[])[0] === 'target')
      r.tamper.inject(genuine)
    }
  },
  {
    name: 'a genuinely signed far-future timestamp',
    expect: { kind: 'skew' },
    act: async (r) => {
      const signer = createSecurity({ keys: r.keysA })
      const future: Update = [['target', 'from the future'], Date.now() + 24 * 3600_000, r.keysA.id]
      r.tamper.inject([...future, signer.sign(future)])
    }
  },
  {
    name: "a signed update from a source not on C's writers' allow-list",
    expect: { kind: 'unverified', reason: 'source not allowed to write' },
    writers: (id) => id !== FORBIDDEN.id,
    act: async (r, t) => {
      // A genuine, correctly signed writer that B accepts and relays.
      const f = await securedModel(t, FORBIDDEN)
      await link(f, r.b).synced
      await f.set('target', 'not allowed')
    }
  }
]

interface Observed {
  unverified: Array<{ update: Update, reason: string, clock: number | undefined }>
  rejected: Array<{ code: string, clock: number | undefined }>
  old: Update[]
}

function observe (c: Model): Observed {
  const seen: Observed = { unverified: [], rejected: [], old: [] }
  // The clock is read inside the event: it must not have moved for the update.
  c.on('unverified', (update, reason) => { seen.unverified.push({ update, reason, clock: c.clock[update[2]] }) })
  c.on('rejected', (err: ScuttledbError) => {
    const update = err.update as Update | undefined
    seen.rejected.push({ code: err.code, clock: update === undefined ? undefined : c.clock[update[2]] })
  })
  c.on('old', (update) => { seen.old.push(update) })
  return seen
}

async function run (t: Test, transport: Transport, spec: Case): Promise<void> {
  const evil = generateKeys()
  const tamper = spec.tamper
  const r = await relay(t, {
    transport,
    writers: spec.writers,
    tamper: (value) => [isUpdate(value) && (value[0] as string[])[0] === 'target' && tamper !== undefined ? tamper(value, evil) : value]
  })
  const clockBefore = r.c.clock
  const statsBefore = { ...r.c.stats }
  const seen = observe(r.c)
  const historyBefore = (await allHistory(r.c)).length

  if (spec.act !== undefined) await spec.act(r, t)
  else await r.a.set('target', 'genuine')

  const expect = spec.expect
  const arrived = await until(() => expect.kind === 'old' ? seen.old.length > 0 : seen.rejected.length > 0)
  t.ok(arrived, 'C reports the update')
  if (expect.kind === 'unverified') {
    t.equal(seen.unverified.length, 1, 'one unverified event')
    t.equal(seen.unverified[0]?.reason, expect.reason, `the reason is "${expect.reason}"`)
    t.equal(seen.rejected[0]?.code, codes.UNVERIFIED, 'rejected with SCUTTLEDB_UNVERIFIED')
  } else if (expect.kind === 'skew') {
    t.equal(seen.rejected[0]?.code, codes.CLOCK_SKEW, 'rejected with SCUTTLEDB_CLOCK_SKEW')
    t.equal(seen.unverified.length, 0, 'its signature was good: no unverified event')
  } else {
    t.equal(seen.rejected.length, 0, 'a replay is not an error (a mesh delivers duplicates too)')
    t.equal(seen.unverified.length, 0, 'and not unverified: it is authentic')
  }
  const firstClock = expect.kind === 'old' ? undefined : (expect.kind === 'skew' ? seen.rejected[0]?.clock : seen.unverified[0]?.clock)
  if (expect.kind !== 'old') t.equal(firstClock, clockBefore[r.keysA.id], 'the clock had not moved when it was reported')
  t.equal(r.c.stats.rejected, statsBefore.rejected + (expect.kind === 'old' ? 0 : 1), 'counted in stats.rejected')
  if (expect.kind === 'old') t.equal(r.c.stats.old, statsBefore.old + 1, 'counted in stats.old')

  // Later genuine updates from A still get through, to C and on to D.
  await r.a.set('after', 'genuine and later')
  t.ok(await until(async () => (await r.d.get('after')) === 'genuine and later'), 'a later genuine update from A reaches C and D')
  const after = await updateFor(r.a, 'after')
  t.equal(r.c.clock[r.keysA.id], after?.[1], "C's clock for A is that of the later update")
  t.deepEqual(Object.keys(r.c.clock), [r.keysA.id], 'no clock entry for any other source')

  const history = await allHistory(r.c)
  const targets = history.filter((u) => isUpdate(u) && (u[0] as string[])[0] === 'target')
  if (expect.kind === 'old') {
    t.equal(history.length, historyBefore + 2, 'the replay stored nothing: only target and after')
    t.equal(r.d.stats.old, 0, 'and was never forwarded to D')
  } else {
    t.equal(targets.length, 0, 'C never stored it')
    t.equal(await r.c.get('target'), undefined, "C's model does not hold it")
    t.equal(await r.d.get('target'), undefined, 'C never forwarded it to D')
    t.equal(r.d.stats.committed, r.c.stats.committed, 'D holds exactly what C committed')
  }
}

for (const transport of ['in-process', 'tcp'] as const) {
  for (const spec of cases) {
    test(`C rejects ${spec.name} (${transport})`, async (t) => { await run(t, transport, spec) })
  }
}
