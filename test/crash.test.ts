/**
 * Crash durability: a child process (test/fixtures/crash-writer.ts) writes
 * concurrently and is killed with SIGKILL at a random moment, round after
 * round on the same directory; every write it acknowledged must survive.
 * CRASH_ROUNDS raises the number of rounds (at least 50); CRASH_SEED replays
 * a run's kill delays and workload choices (timing still varies).
 */
import test from 'tape'
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { isDeepStrictEqual } from 'node:util'
import { Model, seededRandom, type Update } from '../lib/index.js'
import { allHistory, sleep, tempDir } from './helpers.js'

const FIXTURE = fileURLToPath(new URL('./fixtures/crash-writer.js', import.meta.url))
const ROUNDS = Math.max(50, Number(process.env.CRASH_ROUNDS ?? 0) || 0)
const SEED = Number(process.env.CRASH_SEED ?? 0) || Math.floor(Math.random() * 2 ** 32)
/** Sequence numbers of round r start above r * SEQ_SPAN; the parent's own write takes the top one. */
const SEQ_SPAN = 10_000_000


/** A written value: key, sequence number (taken when the write started), round. */
interface Value { k: string, s: number, r: number }
/** The floor for a key: its newest acknowledged (or, after a reopen, stored) write. */
interface Expect { seq: number, ts: number, exact: boolean, value: Value | null }
type Stored = Update<[string, Value | null]>

interface RunResult { id: string | undefined, acks: number, delay: number, stderr: string, signal: string | null, code: number | null }

/** Run the writer on `dir` and SIGKILL it `delay` ms after its first ack; `onAck` sees every complete ack line. */
async function runWriter (dir: string, round: number, seed: number, sync: boolean, delay: number,
  onAck: (seq: number, ts: number | undefined, key: string, value: Value | null) => void): Promise<RunResult> {
  const child = spawn(process.execPath, [FIXTURE, dir, String(round), String(round * SEQ_SPAN), String(seed), sync ? '1' : '0'],
    { stdio: ['ignore', 'pipe', 'pipe'] })
  const result: RunResult = { id: undefined, acks: 0, delay, stderr: '', signal: null, code: null }
  let rest = ''
  let firstAck: () => void = () => {}
  const acked = new Promise<void>((resolve) => { firstAck = resolve })
  child.stdout.setEncoding('utf8')
  child.stdout.on('data', (chunk: string) => {
    const lines = (rest + chunk).split('\n')
    rest = lines.pop() ?? '' // an incomplete last line is an ack lost in the pipe
    for (const line of lines) {
      if (line.startsWith('id ')) {
        result.id = line.slice(3)
      } else if (line.startsWith('ack ')) {
        const [, seq, ts, key] = line.split(' ', 4)
        const json = line.slice(`ack ${seq} ${ts} ${key} `.length)
        onAck(Number(seq), ts === '-' ? undefined : Number(ts), key, JSON.parse(json) as Value | null)
        result.acks++
        firstAck()
      }
    }
  })
  child.stderr.setEncoding('utf8')
  child.stderr.on('data', (chunk: string) => { result.stderr += chunk })
  const exited = new Promise<void>((resolve) => {
    child.on('close', (code, signal) => { result.code = code; result.signal = signal; resolve() })
  })
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<boolean>((resolve) => { timer = setTimeout(() => { resolve(true) }, 20_000) })
  const early = await Promise.race([acked.then(() => false), exited.then(() => true), timeout])
  clearTimeout(timer)
  if (!early) await sleep(delay)
  child.kill('SIGKILL')
  await exited
  return result
}

/** At most a dozen problems, then a count of the rest. */
function brief (problems: string[]): string[] {
  return problems.length <= 12 ? problems : [...problems.slice(0, 12), `... and ${problems.length - 12} more`]
}

/**
 * Check a reopened model against the floors: `data` lists acked writes lost or
 * replaced by older ones (judged on the values, which carry their sequence
 * numbers, and on the history's timestamps where it has the key); `log` lists
 * disagreements between the history, the data and the clock. Then raise the
 * floors to what was found: a later reopen must never show less.
 */
async function verify (model: Model, expected: Map<string, Expect>): Promise<{ data: string[], log: string[], landed: number }> {
  const data: string[] = []
  const log: string[] = []
  let landed = 0
  const clock = model.clock
  const stored = new Map<string, Stored>()
  for (const update of await allHistory(model) as Stored[]) {
    const [[key], ts, source] = update
    if (stored.has(key)) log.push(`two updates in the history for ${key}`)
    stored.set(key, update)
    if (!(ts <= (clock[source] ?? -Infinity))) log.push(`history ts ${ts} of ${source} above clock ${clock[source]}`)
  }
  const live = new Map<string, Value>()
  for await (const [key, value] of model.entries()) live.set(key, value as unknown as Value)
  for (const [key, value] of live) {
    if (value.k !== key || typeof value.s !== 'number') data.push(`${key} holds a foreign value ${JSON.stringify(value)}`)
    if (!isDeepStrictEqual(stored.get(key)?.[0][1], value)) log.push(`${key}: the history does not hold its value (seq ${value.s})`)
  }
  for (const [key, [[, value]]] of stored) if (value === null && live.has(key)) log.push(`${key}: the history holds a delete, the data a value`)
  for (const [key, floor] of expected) {
    const value = live.get(key) ?? null
    const ts = stored.get(key)?.[1]
    const acked = `acked seq ${floor.seq} ts ${floor.ts}`
    if (value === null && ts === undefined) {
      data.push(`${key}: nothing stored, ${acked}`)
    } else if (ts !== undefined && ts < floor.ts) {
      data.push(`${key}: stored ts ${ts} (seq ${value?.s ?? 'delete'}) is older than ${acked}`)
    } else if (value !== null && value.s < floor.seq) {
      data.push(`${key}: holds seq ${value.s}, started before ${acked}`)
    } else if (value !== null ? value.s === floor.seq : ts === floor.ts) {
      if (!isDeepStrictEqual(value, floor.value) || (floor.exact && ts !== undefined && ts !== floor.ts)) {
        data.push(`${key}: holds ${JSON.stringify(value)} at ts ${String(ts)}, ${acked} was ${JSON.stringify(floor.value)}`)
      }
    } else {
      landed++ // a write started after the last ack landed; its ack was lost with the process
    }
  }
  for (const [key, value] of live) {
    const ts = stored.get(key)?.[1]
    expected.set(key, { seq: value.s, ts: ts ?? expected.get(key)?.ts ?? 0, exact: ts !== undefined, value })
  }
  for (const [key, [[, value], ts]] of stored) if (value === null) expected.set(key, { seq: expected.get(key)?.seq ?? 0, ts, exact: true, value })
  return { data, log, landed }
}

test(`SIGKILL during concurrent writes never loses an acknowledged write, and the clock stays consistent (${ROUNDS} rounds, seed ${SEED})`, async (t) => {
  const dir = await tempDir(t, 'scuttledb-crash-')
  const random = seededRandom(SEED)
  const expected = new Map<string, Expect>()
  let id: string | undefined
  let maxAckTs = 0
  let lastClock = 0
  let totalAcks = 0
  let landedUnacked = 0
  const tag = (round: number): string => `round ${round} (seed ${SEED})`

  for (let round = 1; round <= ROUNDS; round++) {
    const delay = 30 + Math.floor(random() * 271)
    const sync = round % 4 === 0
    const run = await runWriter(dir, round, Math.floor(random() * 2 ** 32), sync, delay, (seq, ts, key, value) => {
      maxAckTs = Math.max(maxAckTs, ts ?? 0)
      const floor = expected.get(key)
      // An unknown ts (see the fixture) keeps the older floor's ts: still a lower bound.
      if (floor === undefined || seq > floor.seq) expected.set(key, { seq, ts: ts ?? floor?.ts ?? 0, exact: ts !== undefined, value })
    })
    totalAcks += run.acks
    if (run.signal !== 'SIGKILL' || run.acks === 0) {
      t.fail(`${tag(round)}: the writer must run until killed and ack writes; exit ${String(run.code)} ${String(run.signal)}, ${run.acks} acks, stderr: ${run.stderr}`)
      break
    }
    id ??= run.id
    t.equal(run.id, id, `${tag(round)}: the writer reopens with the same id`)

    const model = new Model({ db: dir })
    t.teardown(async () => { await model.close() })
    await model.open()
    const clock = model.clock
    const found = await verify(model, expected)
    landedUnacked += found.landed
    const when = `after SIGKILL ${run.delay} ms after the first ack (${run.acks} acks, sync ${String(sync)})`
    t.deepEqual(brief(found.data), [], `${tag(round)}: ${when} every key holds its last acked write or one started after it`)
    t.deepEqual(brief(found.log), [], `${tag(round)}: ${when} the history holds exactly one update per key, matching the data, none above the clock`)

    const own = clock[model.id]
    t.ok(own >= maxAckTs && own >= lastClock, `${tag(round)}: clock[id] ${own} >= greatest acked local ts ${maxAckTs} and never goes back`)
    lastClock = own
    const seq = (round + 1) * SEQ_SPAN - 1
    const value: Value = { k: 'probe', s: seq, r: round }
    const probe = await model.localUpdate(['probe', value])
    t.ok(probe[1] > own && isDeepStrictEqual(await model.get('probe'), value), `${tag(round)}: a new write after reopen succeeds with ts ${probe[1]} > ${own}`)
    expected.set('probe', { seq, ts: probe[1], exact: true, value })
    maxAckTs = Math.max(maxAckTs, probe[1])
    lastClock = model.clock[model.id]
    await model.close()
  }
  t.comment(`${totalAcks} acks over ${ROUNDS} rounds; ${landedUnacked} times a key held a write newer than its last ack; ${expected.size} keys`)
})
