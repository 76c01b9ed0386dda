// An update refused as too far ahead (SCUTTLEDB_CLOCK_SKEW) reaches a peer that
// stays connected: once it is within maxClockSkew, the stream that brought it
// closes, and the client's reconnect asks for it from the clock (a stream asks
// for what it lacks only when it starts). Real time passes here (a few hundred
// ms); nothing is judged by how long it takes.
import test from 'tape'
import { MemoryLevel } from 'memory-level'
import { Collection, Model, connect, listen, codes, type ScuttledbError } from '../lib/index.js'
import { memoryModel, until } from './helpers.js'

const SKEW = 1000
const AHEAD = SKEW + 400

test('a Model update refused as too far ahead arrives while the peers stay connected, once it is within the skew', async (t) => {
  const a = await memoryModel(t, { maxClockSkew: SKEW, now: () => Date.now() + AHEAD })
  const b = await memoryModel(t, { maxClockSkew: SKEW })
  const rejected: string[] = []
  b.on('rejected', (err: ScuttledbError) => { rejected.push(err.code) })
  const server = await listen(b, { port: 0 })
  t.teardown(async () => { await server.close() })
  const client = connect(a, { port: server.address.port, minDelay: 10, maxDelay: 50 })
  t.teardown(async () => { await client.close() })
  let connections = 0
  client.on('connected', () => { connections++ })
  t.ok(await until(() => connections === 1), 'connected')
  await a.set('k1', 'first')
  t.ok(await until(() => rejected.length >= 1), 'b refused it')
  t.equal(rejected[0], codes.CLOCK_SKEW, 'as too far ahead')
  await a.set('k2', 'second')
  t.ok(await until(async () => (await b.get('k1')) === 'first' && (await b.get('k2')) === 'second'), 'both arrived without anyone reconnecting by hand')
  t.ok(connections >= 2, `through a reconnect the stream's close caused (${connections} connections)`)
  t.deepEqual(b.clock, a.clock, 'the clocks agree')
})

test('a collection update refused as too far ahead arrives while the peers stay connected, once it is within the skew', async (t) => {
  const a = new Collection({ db: new MemoryLevel(), maxClockSkew: SKEW, now: () => Date.now() + AHEAD })
  const b = new Collection({ db: new MemoryLevel(), maxClockSkew: SKEW })
  await a.open()
  await b.open()
  t.teardown(async () => { await a.close(); await b.close() })
  const errors: string[] = []
  b.on('documentError', (_name: string, err: ScuttledbError) => { errors.push(err.code) })
  const server = await listen(b.target(), { port: 0 })
  t.teardown(async () => { await server.close() })
  const client = connect(a.target(), { port: server.address.port, minDelay: 10, maxDelay: 50 })
  t.teardown(async () => { await client.close() })
  let connections = 0
  client.on('connected', () => { connections++ })
  t.ok(await until(() => connections === 1), 'connected')
  await a.use('x', async (doc: Model) => { await doc.set('k', 'v') }, Model)
  t.ok(await until(() => errors.length >= 1), 'b refused it')
  t.equal(errors[0], codes.CLOCK_SKEW, 'as too far ahead')
  t.ok(await until(async () => b.has('x') && (await b.use('x', async (doc: Model) => await doc.get('k'), Model)) === 'v'), 'it arrived without anyone reconnecting by hand')
  t.ok(connections >= 2, `through a reconnect the stream's close caused (${connections} connections)`)
})
