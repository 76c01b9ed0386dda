/**
 * A seeded mutation fuzzer: real sessions are recorded in both wire formats,
 * mutated (test/fixtures/fuzz-mutate.ts) and fed into a fresh Model's stream,
 * in process and (a smaller share) over TCP, while a `wrapper: 'json'` peer is
 * linked live. Oracles per case: no crash, no hang, bounded memory, only coded
 * errors, everything stored faithful to what was sent and inside the value
 * domain, the clock claims only what was sent and is held, and an honest
 * (victim) peer still syncs. FUZZ_SEED replays, FUZZ_CASES extends,
 * FUZZ_CASE runs one case, FUZZ_PRINT caps the failures printed in full,
 * FUZZ_SLOW=ms comments on cases slower than that.
 */
import test from 'tape'
import net from 'node:net'
import { MemoryLevel } from 'memory-level'
import { Model, seededRandom, type ReplicationStream, type Update } from '../lib/index.js'
import { originalKey } from '../lib/protocol.js'
import { corpus } from './fixtures/fuzz-corpus.js'
import { VICTIM, makeCase, type FuzzCase } from './fixtures/fuzz-mutate.js'
import { domainProblem, referenceDecode, sameValue } from './fixtures/fuzz-oracle.js'
import { recordSession, type Session, type Wrapper } from './fixtures/fuzz-recorder.js'
import { allHistory, link } from './helpers.js'

const SEED = Number(process.env.FUZZ_SEED ?? 0) || Math.floor(Math.random() * 2 ** 32)
const CASES = Math.max(0, Number(process.env.FUZZ_CASES ?? 300) || 0)
const ONLY = process.env.FUZZ_CASE === undefined ? undefined : Number(process.env.FUZZ_CASE)
/** A bound on each phase of a case: ending later is a hang, whatever the machine. */
const PHASE_MS = 15_000
/** Live heap a case may leave behind, measured after a collection when gc is exposed (npm run fuzz); otherwise heap including garbage. */
const gc = (globalThis as { gc?: () => void }).gc
const HEAP_LIMIT = (gc === undefined ? 3072 : 256) * 1024 * 1024
const TCP_SHARE = 1 / 16
/** Failing cases printed in full; the rest are counted by category. */
const PRINT = Number(process.env.FUZZ_PRINT ?? 40)

/** Resolves on `event`; unlike events.once, an 'error' before it does not reject (errors are judged by their listeners). */
const when = async (emitter: NodeJS.EventEmitter, event: string): Promise<void> => { await new Promise((resolve) => emitter.once(event, resolve)) }

const caseRandom = (i: number): () => number => seededRandom((SEED ^ Math.imul(i + 1, 0x9e3779b1)) >>> 0)

class Hang extends Error {}

async function bounded<T> (work: Promise<T>, phase: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<never>((_resolve, reject) => { timer = setTimeout(() => { reject(new Hang(`hang: ${phase} did not end within ${PHASE_MS} ms`)) }, PHASE_MS) })
  try {
    return await Promise.race([work, late])
  } finally {
    clearTimeout(timer)
  }
}

/** Record every error a stream or instance reports; only coded ones (SCUTTLEDB_*) are allowed. */
function coded (problems: string[], where: string): (err: unknown) => void {
  return (err) => {
    const code = (err as { code?: unknown })?.code
    if (typeof code !== 'string' || !code.startsWith('SCUTTLEDB_')) {
      problems.push(`uncoded: ${where} reported ${String(code)}: ${String((err as Error)?.message ?? err).slice(0, 120)}`)
    }
  }
}

/** Feed the case into a fresh stream of `model`, in process; resolves when the stream has closed. */
async function feedInProcess (model: Model, c: FuzzCase, problems: string[]): Promise<void> {
  const s = model.createStream({ wrapper: c.wrapper })
  s.on('error', coded(problems, 'the fuzzed stream'))
  const closed = when(s, 'close')
  s.resume()
  let offset = 0
  for (const size of c.chunks) {
    if (s.destroyed) break
    const more = s.write(c.bytes.subarray(offset, offset + size))
    offset += size
    if (!more) await Promise.race([when(s, 'drain'), closed])
  }
  if (!s.destroyed) s.end()
  await bounded(closed, 'the fuzzed stream closing')
}

/** Feed the case over TCP on 127.0.0.1; resolves when the server side's stream has closed. */
async function feedOverTcp (model: Model, c: FuzzCase, problems: string[]): Promise<void> {
  let serverStream: ReplicationStream | undefined
  let streamClosed: Promise<void> = Promise.resolve()
  const server = net.createServer()
  const accepted = new Promise<void>((resolve) => {
    server.once('connection', (socket: net.Socket) => {
      socket.on('error', () => {}) // transport errors are not the library's to code
      const s = model.createStream({ wrapper: c.wrapper })
      serverStream = s
      s.on('error', coded(problems, 'the fuzzed TCP stream'))
      streamClosed = when(s, 'close').then(() => { socket.destroy() })
      socket.pipe(s).pipe(socket)
      resolve()
    })
  })
  server.listen(0, '127.0.0.1')
  await when(server, 'listening')
  const { port } = server.address() as net.AddressInfo
  const client = net.connect(port, '127.0.0.1')
  client.on('error', () => {})
  client.resume()
  try {
    await bounded(Promise.all([when(client, 'connect'), accepted]), 'the TCP connection')
    let offset = 0
    for (const size of c.chunks) {
      if (client.destroyed) break
      const more = client.write(c.bytes.subarray(offset, offset + size))
      offset += size
      if (!more) await Promise.race([when(client, 'drain'), when(client, 'close')])
    }
    client.end()
    await bounded(streamClosed, 'the fuzzed TCP stream closing')
  } finally {
    client.destroy()
    serverStream?.destroy()
    server.close()
  }
}

const stampOf = (u: unknown[]): string => `${String(u[2])}@${String(u[1])}`
const isUpdateLike = (v: unknown): v is unknown[] => Array.isArray(v) && (v.length === 3 || v.length === 4) && typeof v[1] === 'number' && typeof v[2] === 'string'

/** An unsigned Model update on the original's wire as scuttledb reads it: a number, boolean or null key is the original's string key. */
function asOriginalSent (u: unknown[]): unknown[] {
  const change = u[0]
  if (u.length !== 3 || !Array.isArray(change) || change.length !== 2) return u
  return [[originalKey(change[0]), change[1]], u[1], u[2]]
}

/** Check what the fuzzed instance holds against what the case sent. */
async function checkStored (f: Model, c: FuzzCase, problems: string[]): Promise<void> {
  const sent = new Map<string, unknown[][]>()
  for (const decoded of referenceDecode(c.wrapper, c.bytes)) {
    if (!isUpdateLike(decoded)) continue
    const m = c.wrapper === 'json' ? asOriginalSent(decoded) : decoded
    const list = sent.get(stampOf(m)) ?? []
    list.push(m)
    sent.set(stampOf(m), list)
  }
  let history: Update[]
  try {
    history = (await allHistory(f)) as Update[]
  } catch (err) {
    problems.push(`unreadable: history() threw ${String((err as Error).message)}`)
    return
  }
  const clock = f.clock
  const held = new Set<string>()
  const winners = new Map<string, Update>()
  for (const u of history) {
    if (u[2] === f.id) continue
    held.add(stampOf(u))
    const candidates = sent.get(stampOf(u))
    if (candidates === undefined) problems.push(`unfaithful: ${stampOf(u)} is stored but was never sent`)
    else if (!candidates.some((s) => sameValue(u, s))) problems.push(`unfaithful: ${stampOf(u)} is stored unlike it was sent`)
    const outside = domainProblem(u, 257)
    if (outside !== undefined) problems.push(`domain: ${stampOf(u)} holds ${outside}`)
    if (!(u[1] <= (clock[u[2]] ?? -Infinity))) problems.push(`clock: ${stampOf(u)} is above the clock`)
    const key = (u[0] as unknown[])[0] as string
    const known = winners.get(key)
    if (known === undefined || u[1] > known[1] || (u[1] === known[1] && u[2] > known[2])) winners.set(key, u)
  }
  for (const [key, u] of winners) {
    const value = (u[0] as unknown[])[1]
    const got = await f.get(key)
    if (!sameValue(got, value === null ? undefined : value)) problems.push(`get: get(${JSON.stringify(key)}) differs from its update ${stampOf(u)}`)
    const outside = value === null ? undefined : domainProblem(got)
    if (outside !== undefined) problems.push(`domain: get(${JSON.stringify(key)}) is ${outside}`)
  }
  for (const [source, ts] of Object.entries(clock)) {
    if (source === f.id) continue
    const stamp = `${source}@${ts}`
    if (!sent.has(stamp)) problems.push(`clock-claim: clock[${source.slice(0, 40)}] = ${ts}, an update never sent (a header's claim)`)
    else if (!held.has(stamp)) problems.push(`clock-latest: clock[${source.slice(0, 40)}] = ${ts} is not held in the history`)
  }
}

/** One case, start to end; the problems found, each `category: detail`. */
async function runCase (c: FuzzCase, index: number, crashes: unknown[]): Promise<string[]> {
  const problems: string[] = []
  const before = crashes.length
  const f = new Model({ db: new MemoryLevel() })
  const j = new Model({ db: new MemoryLevel() })
  const v = new Model({ db: new MemoryLevel(), id: VICTIM })
  await Promise.all([f.open(), j.open(), v.open()])
  f.on('rejected', coded(problems, 'a rejected event'))
  const links: Array<ReturnType<typeof link>> = []
  try {
    // A live JSON peer: whatever the fuzzed stream commits is offered to it.
    const jl = link(f, j, { wrapper: 'json' }, { wrapper: 'json' })
    links.push(jl)
    jl.a.on('error', coded(problems, 'the live JSON stream'))
    await bounded(jl.synced, 'the JSON peer syncing')
    await (c.tcp ? feedOverTcp(f, c, problems) : feedInProcess(f, c, problems))
    // A local write queues behind everything the stream handed over: when it commits, they have settled.
    await bounded(f.set('~barrier', index), 'a local write after the case').catch((err: Error) => {
      if (err instanceof Hang) throw err
      problems.push(`barrier: a local write after the case failed (${String((err as { code?: string }).code)}: ${err.message.slice(0, 80)})`)
    })
    await checkStored(f, c, problems)
    // The honest peer writes first, then syncs: a header's claim about it must not hide its write.
    await v.set('victim.key', index)
    const vl = link(f, v)
    links.push(vl)
    vl.a.on('error', coded(problems, 'the honest peer stream'))
    const synced = await bounded(Promise.race([vl.synced.then(() => true), vl.closed.then(() => false)]), 'the honest peer syncing')
    if (!synced) problems.push('sync: the link to an honest peer closed before sync')
    else {
      if (!sameValue(await f.get('victim.key'), index)) problems.push('victim: the honest peer\'s write was dropped (its clock entry was inflated)')
      if (!sameValue(await f.toJSON(), await v.toJSON())) problems.push('sync: the honest peer holds different data')
    }
  } catch (err) {
    problems.push(err instanceof Hang ? err.message : `harness: ${String((err as Error)?.stack ?? err)}`)
  }
  for (const l of links) l.a.destroy()
  await bounded(Promise.all([f.close(), j.close(), v.close()]), 'closing').catch((err: Error) => { problems.push(err.message) })
  await new Promise((resolve) => setImmediate(resolve))
  for (const err of crashes.slice(before)) problems.push(`crash: ${String((err as Error)?.stack ?? err).split('\n').slice(0, 3).join(' | ')}`)
  // With --expose-gc (npm run fuzz) the figure is live memory, not garbage awaiting collection.
  gc?.()
  if (process.memoryUsage().heapUsed > HEAP_LIMIT) problems.push(`memory: heap ${process.memoryUsage().heapUsed} bytes after the case`)
  return problems
}

test(`fuzzed sessions never crash, hang, store what was not sent or fall outside the value domain, and an honest peer still syncs (seed ${SEED}, ${CASES} cases)`, async (t) => {
  const crashes: unknown[] = []
  const onCrash = (err: unknown): void => { crashes.push(err) }
  process.on('uncaughtException', onCrash)
  process.on('unhandledRejection', onCrash)
  t.teardown(() => {
    process.off('uncaughtException', onCrash)
    process.off('unhandledRejection', onCrash)
  })
  const sessions: Record<Wrapper, Session> = { msgpack: await recordSession('msgpack'), json: await recordSession('json') }
  t.ok(sessions.msgpack.messages.length > 20 && sessions.json.messages.length > 20, `recorded sessions (${sessions.msgpack.messages.length} msgpack frames, ${sessions.json.messages.length} JSON lines)`)
  const categories = new Map<string, number[]>()
  let failed = 0
  let tcp = 0
  let started = Date.now()
  const report = (label: string, index: number, c: FuzzCase, problems: string[]): void => {
    if (problems.length === 0) return
    failed++
    for (const category of new Set(problems.map((p) => p.split(':')[0]))) categories.set(category, [...(categories.get(category) ?? []), index])
    if (failed <= PRINT) t.fail(`${label}: ${c.steps.join(', ')}${c.tcp ? ' (TCP)' : ''}: ${[...new Set(problems)].slice(0, 6).join('; ')}`)
  }
  if (ONLY === undefined) {
    for (const [i, named] of corpus(sessions, Date.now()).entries()) {
      const t0 = Date.now()
      report(`corpus case "${named.name}"`, -1 - i, named.case, await runCase(named.case, -1 - i, crashes))
      if (process.env.FUZZ_SLOW !== undefined && Date.now() - t0 > Number(process.env.FUZZ_SLOW)) t.comment(`slow corpus case ${named.name}: ${Date.now() - t0} ms`)
    }
  }
  if (ONLY === undefined) t.comment(`corpus in ${((Date.now() - started) / 1000).toFixed(1)} s`)
  started = Date.now()
  const first = ONLY ?? 0
  const last = ONLY === undefined ? CASES : ONLY + 1
  for (let i = first; i < last; i++) {
    const c = makeCase(sessions, caseRandom(i), Date.now(), TCP_SHARE)
    if (c.tcp) tcp++
    const t0 = Date.now()
    report(`case ${i} (FUZZ_SEED=${SEED} FUZZ_CASE=${i})`, i, c, await runCase(c, i, crashes))
    if ((i + 1) % 2000 === 0) t.comment(`${i + 1 - first} cases in ${((Date.now() - started) / 1000).toFixed(0)} s, ${failed} failing so far`)
    if (process.env.FUZZ_SLOW !== undefined && Date.now() - t0 > Number(process.env.FUZZ_SLOW)) t.comment(`slow case ${i}: ${Date.now() - t0} ms ${c.steps.join(', ')} heap ${Math.round(process.memoryUsage().heapUsed / 1e6)} MB`)
  }
  const seconds = ((Date.now() - started) / 1000).toFixed(1)
  t.comment(`${last - first} random cases (${tcp} over TCP) in ${seconds} s, seed ${SEED}; ${failed} failing (corpus included)`)
  for (const [category, cases] of categories) {
    const corpusCount = cases.filter((i) => i < 0).length
    t.comment(`${category}: ${cases.length} cases (${corpusCount} corpus), first random: ${cases.filter((i) => i >= 0).slice(0, 8).join(', ')}`)
  }
  t.equal(failed, 0, `every case passes every oracle (seed ${SEED})`)
})
