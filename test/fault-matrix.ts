/**
 * The fault matrix of test/faults.test.ts, for any instance on a faulty store:
 * for every N of a small workload (local writes plus updates replicated from a
 * healthy peer), the Nth storage call fails, before or after its write lands,
 * once (a transient error) or for good (a crash). The store is then reopened
 * healthy and checked: no acknowledged write lost, the clock consistent with the
 * history, no process crash, and convergence with the peer. FAULTS_WORKLOAD
 * raises the number of workload rounds (default 1).
 */
import type { Test } from 'tape'
import { isDeepStrictEqual } from 'node:util'
import { MemoryLevel } from 'memory-level'
import { Model, type Update } from '../lib/index.js'
import { unpack } from '../lib/msgpack.js'
import { compareStamps } from '../lib/protocol.js'
import { decodeTimestamp } from '../lib/timestamp.js'
import type { FaultFlavour, FaultKind, FaultPlan } from './fixtures/faulty-level.js'
import { allHistory, link, type Link } from './helpers.js'

/** Workload rounds per case (FAULTS_WORKLOAD). */
export const ROUNDS = Math.max(1, Number(process.env.FAULTS_WORKLOAD ?? 1) || 1)
/** A bound on one case (a hang is a failure, not a slow pass); far above what a case needs. */
export const CASE_MS = Number(process.env.FAULTS_CASE_MS ?? 20_000)

/** `transient`: the faulty call fails once; `crash`: it and every later call fail. */
export type Mode = 'transient' | 'crash'
type Stored = Update<[string, unknown]>

/** One instance under test, its faulty store and the means to reopen what it stored. */
export interface Subject {
  model: Model
  plan: FaultPlan
  /** The prefix of the instance's keys in the faulty store ('' for a whole database, '!doc!' for a sublevel). */
  prefix: string
  /** Close the model and the store; open what is left with a healthy store. */
  reopen: () => Promise<Model>
  /** Release the faulty store if a case ended before reopening it. */
  dispose: () => Promise<void>
}

/** Makes a fresh subject for each case (temporary directories are cleaned up by `t`). */
export type SubjectFactory = (t: Test) => Promise<Subject>

const stamp = (source: string, ts: number): string => source + '\x00' + String(ts)

/**
 * The winning update of each key. A history may also keep superseded updates
 * (a source's latest, so clocks converge): only the newest per key decides the data.
 */
function winners (history: Stored[]): Map<string, Stored> {
  const out = new Map<string, Stored>()
  for (const u of history) {
    const known = out.get(u[0][0])
    if (known === undefined || compareStamps(u[1], u[2], known[1], known[2]) > 0) out.set(u[0][0], u)
  }
  return out
}

/** What a run saw: acknowledged local writes and every genuine update stamp. */
interface Run {
  acked: Stored[]
  genuine: Set<string>
  failures: number
}

/** The link between the subject and the peer, replaced whenever a fault closed it. */
class Wire {
  #link: Link | undefined
  #open = false
  constructor (readonly a: Model, readonly p: Model) {}

  /** A link that has synced, or undefined when it closed first (storage trouble on the subject). */
  async ensure (): Promise<Link | undefined> {
    if (this.#link !== undefined && this.#open) return this.#link
    const l = link(this.a, this.p)
    this.#link = l
    this.#open = true
    void l.closed.then(() => { this.#open = false })
    const synced = await Promise.race([l.synced.then(() => true), l.closed.then(() => false)])
    return synced ? l : undefined
  }

  close (): void {
    this.#link?.a.destroy()
  }

  get closed (): Promise<unknown> {
    return this.#link?.closed ?? Promise.resolve()
  }
}

/** Resolves once `model` has committed the update (ts, source) (it may already have), or when `closed` settles. */
async function arrival (model: Model, update: Update, closed: Promise<unknown>): Promise<void> {
  const [, ts, source] = update
  const held = (): boolean => (model.clock[source] ?? 0) >= ts
  if (held()) return
  let listener: (() => void) | undefined
  const committed = new Promise<void>((resolve) => {
    listener = () => { if (held()) resolve() }
    model.on('update', listener)
  })
  await Promise.race([committed, closed])
  model.off('update', listener as never)
}

/** The workload: per round, local writes (single and grouped, a delete) and peer writes replicated live. */
async function workload (a: Model, p: Model, wire: Wire, run: Run, rounds: number): Promise<void> {
  const local = async (key: string, value: unknown): Promise<void> => {
    try {
      const update = await a.localUpdate([key, value]) as Stored
      run.acked.push(update)
      run.genuine.add(stamp(update[2], update[1]))
    } catch {
      run.failures++ // a refused write is allowed to be lost; its effect is judged from storage
    }
  }
  const remote = async (key: string, value: unknown): Promise<void> => {
    const update = await p.localUpdate([key, value])
    run.genuine.add(stamp(update[2], update[1]))
    if (await wire.ensure() !== undefined) await arrival(a, update, wire.closed)
  }
  for (let r = 0; r < rounds; r++) {
    await local(`a${r}.1`, { r, n: 1 })
    await remote(`p${r}.1`, 'from the peer')
    await Promise.all([local(`a${r}.2`, [r, 2]), local(`a${r}.3`, `three ${r}`), local(`a${r}.1`, { r, n: 1.5 })])
    await Promise.all([remote(`s${r}`, 'peer first'), remote(`p${r}.2`, Buffer.from([r, 0, 255]))])
    await local(`s${r}`, 'subject later')
    await remote(`a${r}.2`, 'the peer overwrites')
    await local(`a${r}.3`, null)
  }
}

/** After a transient fault, the subject goes on: more writes both ways, which must replicate. */
async function carryOn (a: Model, p: Model, wire: Wire, run: Run, problems: string[]): Promise<void> {
  if (await wire.ensure() === undefined) {
    problems.push('with a healthy store again, the link closed before sync')
    return
  }
  const late = await a.localUpdate(['late.a', 'after the fault']) as Stored
  run.acked.push(late)
  run.genuine.add(stamp(late[2], late[1]))
  const fromPeer = await p.localUpdate(['late.p', 'after the fault'])
  run.genuine.add(stamp(fromPeer[2], fromPeer[1]))
  await Promise.all([arrival(p, late, wire.closed), arrival(a, fromPeer, wire.closed)])
  if (!isDeepStrictEqual(await p.get('late.a'), 'after the fault')) problems.push('a write made after the fault did not go out live')
}

/** What the store holds, checked against the acknowledged writes and against the writes that landed. */
async function checkStored (model: Model, plan: FaultPlan, prefix: string, run: Run, problems: string[]): Promise<void> {
  const history = await allHistory(model) as Stored[]
  const clock = model.clock
  const byKey = winners(history)
  for (const [, ts, source] of history) {
    if (!(ts <= (clock[source] ?? -Infinity))) problems.push(`history ${source}@${ts} is above the stored clock ${clock[source]}`)
  }
  for (const [key, [[, value]]] of byKey) {
    const got = await model.get(key)
    if (!isDeepStrictEqual(got, value === null ? undefined : value)) problems.push(`get(${key}) is ${String(got)}, its winning update holds ${String(value)}`)
  }
  for await (const [key] of model.entries()) if (!byKey.has(key)) problems.push(`${key} holds a value without an update in the history`)
  for (const u of run.acked) {
    const [[key, value], ts, source] = u
    const held = byKey.get(key)
    const order = held === undefined ? -1 : compareStamps(held[1], held[2], ts, source)
    if (order < 0) problems.push(`acknowledged ${key}@${ts} is lost (holds ${held === undefined ? 'nothing' : String(held[1])})`)
    else if (order === 0 && !isDeepStrictEqual((held as Stored)[0][1], value)) problems.push(`acknowledged ${key}@${ts} holds another value`)
  }
  // Ground truth from the store's side: the log and clock entries of every write that landed.
  const landedClock = new Map<string, Set<number>>()
  const landedLog = new Map<string, number>()
  for (const w of plan.writes) {
    for (const o of w.ops) {
      if (o.type !== 'put' || o.value === undefined) continue
      if (!o.key.startsWith(prefix)) continue
      const key = o.key.slice(prefix.length)
      if (key.startsWith('!log!')) {
        const rest = key.slice(5)
        const source = rest.slice(0, -17)
        run.genuine.add(stamp(source, decodeTimestamp(rest.slice(-16)))) // what the subject itself wrote, acked or not
        if (w.landed) landedLog.set(source, Math.max(landedLog.get(source) ?? 0, decodeTimestamp(rest.slice(-16))))
      } else if (key.startsWith('!clock!') && w.landed) {
        const source = key.slice(7)
        if (!landedClock.has(source)) landedClock.set(source, new Set())
        landedClock.get(source)?.add(unpack(o.value) as number)
      }
    }
  }
  for (const [source, ts] of Object.entries(clock)) {
    if (!run.genuine.has(stamp(source, ts))) problems.push(`clock[${source}] = ${ts} is no update anyone made`)
    if (!(landedClock.get(source)?.has(ts) ?? false)) {
      problems.push(`clock[${source}] = ${ts} was not written by any commit that landed`)
    }
    if (ts < (landedLog.get(source) ?? 0)) problems.push(`clock[${source}] = ${ts} is below a landed update ${landedLog.get(source)}`)
  }
}

/** Both sides hold the same history and the same data. */
async function checkConverged (a: Model, p: Model, problems: string[]): Promise<void> {
  const ours = winners(await allHistory(a) as Stored[])
  const theirs = winners(await allHistory(p) as Stored[])
  const who = (u: Stored): string => `${u[0][0]}@${u[1]} (written by the ${u[2] === a.id ? 'subject' : 'peer'})`
  for (const [key, u] of ours) {
    const other = theirs.get(key)
    if (other === undefined || other[1] !== u[1] || other[2] !== u[2]) problems.push(`the subject holds ${who(u)}, the peer ${other === undefined ? 'nothing' : who(other)}`)
  }
  for (const [key, u] of theirs) if (!ours.has(key)) problems.push(`the peer holds ${who(u)}, the subject nothing`)
  if (!isDeepStrictEqual(await a.toJSON(), await p.toJSON())) problems.push('the data differs')
}

/** Everything a case ends with that is not an assertion of its own: uncaught errors, unhandled rejections. */
export function crashWatch (t: Test): unknown[] {
  const seen: unknown[] = []
  const onError = (err: unknown): void => { seen.push(err) }
  process.on('uncaughtException', onError)
  process.on('unhandledRejection', onError)
  t.teardown(() => {
    process.off('uncaughtException', onError)
    process.off('unhandledRejection', onError)
  })
  return seen
}

export async function deadline<T> (work: Promise<T>, label: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => { reject(new Error(`${label}: did not finish within ${CASE_MS} ms (a hang)`)) }, CASE_MS)
  })
  try {
    return await Promise.race([work, timeout])
  } finally {
    clearTimeout(timer)
  }
}

/** What one case found. */
interface CaseResult {
  problems: string[]
  /** Storage calls counted while armed. */
  calls: number
  /** The call that failed, as `kind #n`, or 'no fault'. */
  fired: string
  /** The hooks the writes went through (e.g. a chained batch's `write`, an array `batch`). */
  kinds: Set<FaultKind>
}

/** One case: fault at call `at` (Infinity: a dry run); returns the problems found and the calls counted. */
async function runCase (t: Test, make: SubjectFactory, mode: Mode, flavour: FaultFlavour, at: number): Promise<CaseResult> {
  const problems: string[] = []
  const s = await make(t)
  const p = new Model({ db: new MemoryLevel() })
  await p.open()
  const run: Run = { acked: [], genuine: new Set(), failures: 0 }
  let a = s.model
  let wire = new Wire(a, p)
  try {
    s.plan.arm(at, flavour, mode === 'crash')
    await workload(a, p, wire, run, ROUNDS)
    const calls = s.plan.calls
    const fired = s.plan.fired === undefined ? 'no fault' : `${s.plan.fired.kind} #${s.plan.fired.call}`
    const kinds = new Set(s.plan.writes.map((w) => w.kind))
    s.plan.disarm()
    if (mode === 'transient') await carryOn(a, p, wire, run, problems)
    wire.close()
    await wire.closed
    a = await s.reopen()
    await checkStored(a, s.plan, s.prefix, run, problems)
    wire = new Wire(a, p)
    if (await wire.ensure() === undefined) problems.push('after reopening, the link to the peer closed before sync')
    else await checkConverged(a, p, problems)
    return { problems, calls, fired, kinds }
  } finally {
    wire.close()
    await wire.closed
    await a.close()
    await s.model.close()
    await s.dispose()
    await p.close()
  }
}


/**
 * The whole matrix for one mode: a dry run, then a fault at every call it counted
 * (and a few more), both flavours; each case bounded by CASE_MS. Resolves to the
 * hooks the dry run's writes went through and the hooks the faults were injected in.
 */
export async function faultMatrix (t: Test, name: string, make: SubjectFactory, mode: Mode): Promise<{ writes: Set<FaultKind>, failed: Set<string> }> {
  const crashes = crashWatch(t)
  const dry = await deadline(runCase(t, make, mode, 'before', Infinity), `${name} dry run`)
  t.deepEqual(dry.problems, [], `${name}: without a fault (${dry.calls} storage calls)`)
  // A few calls more than the dry run counted: group commits vary with timing.
  const last = dry.calls + 3
  let fired = 0
  const failed = new Set<string>()
  for (const flavour of ['before', 'after'] as const) {
    for (let at = 1; at <= last; at++) {
      const label = `${name} ${mode} fault ${flavour} call ${at}`
      const before = crashes.length
      const result = await deadline(runCase(t, make, mode, flavour, at), label).catch((err: Error) => ({ problems: [err.message], calls: 0, fired: '?' }))
      // Unhandled rejections are reported after a turn of the event loop.
      await new Promise((resolve) => setImmediate(resolve))
      for (const err of crashes.slice(before)) result.problems.push(`process-level error: ${String((err as Error)?.stack ?? err)}`)
      t.deepEqual(result.problems, [], `${label} (${result.fired})`)
      if (result.fired !== 'no fault') fired++
      failed.add(result.fired.split(' ')[0])
    }
  }
  t.ok(fired >= 2 * dry.calls, `${name}: the injected fault fired in ${fired} cases (at least every call the dry run counted, both flavours)`)
  return { writes: dry.kinds, failed }
}
