import test from 'tape'
import { join } from 'node:path'
import { Model, codecs, generateKeys, securityOptions, type ScuttledbError } from '../lib/index.js'
import { link, tempDir, until } from './helpers.js'

// docs/security.md, threat model: a hostile peer can "lie in its header: a false clock
// only changes what is sent to the liar", and cannot "block a source by a forged
// far-future timestamp". But a header's entry for the receiving node's own id lifts
// that node's hybrid clock (docs/protocol.md: "only when it is within maxClockSkew of
// the wall clock"): one header claiming `a.id: wall + maxClockSkew` makes `a` stamp
// its next writes at the very edge of the skew every peer allows. A peer whose clock
// is a little behind a's (here 2 s, with the same maxClockSkew) refuses them as
// SCUTTLEDB_CLOCK_SKEW, and then, by the hold-back, every later write of `a` on the
// same connection, even once time has passed and they are well within the skew: the
// connection stays open and b never converges with a while it does.
// The liar is no writer, holds no key, never authenticates, sends one header and
// leaves. Each node's wall clock is given by `now` (no real time is judged).

test('a hostile peer\'s header claim of a node\'s own clock does not get that node\'s writes refused by its honest, connected peers', async (t) => {
  const dir = await tempDir(t)
  const base = 1_800_000_000_000
  let wall = base // a's wall clock; b's runs 2 s slow
  const ka = generateKeys()
  const kb = generateKeys()
  const writers = [ka.id, kb.id]
  const a = new Model({ db: join(dir, 'a'), ...securityOptions(ka), writers, now: () => wall })
  const b = new Model({ db: join(dir, 'b'), ...securityOptions(kb), writers, now: () => wall - 2000 })
  await a.open()
  await b.open()
  t.teardown(async () => { await a.close(); await b.close() })
  const rejected: string[] = []
  b.on('rejected', (err: ScuttledbError) => { rejected.push(err.code) })

  const ab = link(a, b)
  await ab.synced
  await a.set('before', 0)
  t.ok(await until(async () => (await b.get('before')) === 0), 'a and b replicate')

  // The liar: one header on a replication stream of a, then gone.
  const liar = a.createStream()
  liar.on('error', () => {})
  liar.resume()
  liar.write(codecs.msgpack.encode({ id: 'liar', clock: { [a.id]: wall + 60_000 } }))
  await until(() => liar.peer !== undefined)
  liar.destroy()

  await a.set('k1', 1)
  // b takes k1, or refuses it, before any time passes.
  await until(async () => rejected.length > 0 || (await b.get('k1')) === 1)
  wall += 120_000 // two minutes pass for everyone
  await a.set('k2', 2)
  const arrived = await until(async () => (await b.get('k1')) === 1 && (await b.get('k2')) === 2)
  t.ok(arrived, 'both writes of a reach b over the connection that stayed open')
  t.deepEqual(rejected, [], 'b refused none of a\'s writes')
  t.notOk(ab.a.destroyed || ab.b.destroyed, 'the connection is still open')
  ab.a.destroy()
  await ab.closed
})
