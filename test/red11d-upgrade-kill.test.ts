import test from 'tape'
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { Level } from 'level'
import { Model, codes, type ScuttledbError } from '../lib/index.js'
import { logKey } from '../lib/commit.js'
import { pack } from '../lib/msgpack.js'
import { seededRandom } from '../lib/index.js'
import { sleep, tempDir } from './helpers.js'

const CHILD = fileURLToPath(new URL('./fixtures/red11d-open-child.js', import.meta.url))
const KEYS = 30000
const BAD = 50
const BASE = 1_790_000_000_000

/** The value of key i as written: every tenth key was deleted, so its record holds null. */
function valueOf (i: number): unknown {
  return i % 10 === 3 ? null : { i, s: 'v'.repeat(i % 40), n: [i, i / 7] }
}

/**
 * A format-1 (0.1.0) database written record by record: key records
 * `[ts, source, value]`, no pins, no expiry index. Of two sources; BAD log
 * entries do not match their key (quarantined by the upgrade).
 */
async function writeFormat1 (dir: string): Promise<void> {
  const db = new Level<string, Buffer>(dir, { keyEncoding: 'utf8', valueEncoding: 'buffer' })
  let ops: Array<{ type: 'put', key: string, value: Buffer }> = []
  const flush = async (): Promise<void> => { await db.batch(ops); ops = [] }
  const clock = new Map<string, number>()
  for (let i = 0; i < KEYS; i++) {
    const source = i % 3 === 0 ? 'OLD-B' : 'OLD-A'
    const ts = BASE + i
    const key = `key${i}`
    const bad = i % Math.floor(KEYS / BAD) === 7
    ops.push({ type: 'put', key: '!log!' + logKey(source, ts), value: pack([[key, valueOf(i)], bad ? ts + 0.5 : ts, source]) })
    ops.push({ type: 'put', key: '!data-keys!' + key, value: pack([ts, source, valueOf(i)]) })
    clock.set(source, ts)
    if (ops.length >= 2000) await flush()
  }
  for (const [source, ts] of clock) ops.push({ type: 'put', key: '!clock!' + source, value: pack(ts) })
  ops.push({ type: 'put', key: '!meta!format', value: pack(1) }, { type: 'put', key: '!meta!id', value: pack('OLD-A') })
  await flush()
  await db.close()
}

function isBad (i: number): boolean {
  return i % Math.floor(KEYS / BAD) === 7
}

/** Run the child; SIGKILL it after `ms`. Resolves with its stdout. */
async function runKilled (dir: string, ms: number): Promise<string> {
  const child = spawn(process.execPath, [CHILD, dir], { stdio: ['ignore', 'pipe', 'inherit'] })
  let out = ''
  child.stdout.on('data', (chunk: Buffer) => { out += chunk.toString() })
  const timer = setTimeout(() => { child.kill('SIGKILL') }, ms)
  await new Promise((resolve) => child.once('exit', resolve))
  clearTimeout(timer)
  return out
}

test('a large format-1 Model killed (SIGKILL) at random points of its upgrade opens upgraded at last, every value intact', async (t) => {
  const dir = await tempDir(t)
  await writeFormat1(dir)
  const random = seededRandom(11)
  let finished = false
  for (let round = 0; round < 12 && !finished; round++) {
    const out = await runKilled(dir, 150 + Math.floor(random() * 1500))
    finished = out.includes('open')
    t.comment(`round ${round}: ${finished ? 'finished' : 'killed'}`)
  }
  t.pass(`the upgrade was killed and rerun${finished ? ', until one finished' : ''}`)
  const model = new Model({ db: dir })
  const rejected: ScuttledbError[] = []
  model.on('rejected', (err) => rejected.push(err))
  await model.open()
  t.teardown(async () => { await model.close() })
  t.ok(rejected.every((err) => err.code === codes.INVALID_VALUE), 'every report is coded')
  const wrong: string[] = []
  for (let i = 0; i < KEYS; i++) {
    const expected = isBad(i) ? undefined : (valueOf(i) ?? undefined)
    const got = await model.get(`key${i}`)
    if (JSON.stringify(got) !== JSON.stringify(expected)) wrong.push(`key${i}: ${JSON.stringify(got)} (expected ${JSON.stringify(expected)})`)
  }
  t.deepEqual(wrong.slice(0, 10), [], 'every key reads back as written (a quarantined one is absent)')
  let held = 0
  for await (const _update of model.history()) held++
  t.equal(held, KEYS - BAD, 'the history holds every replicable update')
  await model.close()
  const db = new Level<string, Buffer>(dir, { keyEncoding: 'utf8', valueEncoding: 'buffer' })
  t.equal((await db.get('!meta!format'))?.toString('hex'), '02', 'the format is 2')
  let quarantined = 0
  let oldRecords = 0
  for await (const [key, bytes] of db.iterator()) {
    if (key.startsWith('!quarantine!')) quarantined++
    if (key.startsWith('!data-keys!') && bytes[0] !== 0x92 && bytes[0] !== 0x93) oldRecords++
  }
  await db.close()
  t.equal(quarantined, BAD, 'every unreplicable update is in quarantine, none lost')
  t.equal(oldRecords, 0, 'every key record is a pointer')
})

test('close() during the upgrade of a large format-1 Model settles both calls, and the next open finishes the upgrade', async (t) => {
  const dir = await tempDir(t)
  await writeFormat1(dir)
  const outcomes: string[] = []
  for (const wait of [50, 200, 400, 800]) {
    const model = new Model({ db: dir })
    model.on('rejected', () => {})
    const opened = model.open().then(() => 'opened', (err: { code?: string, message?: string }) => `open rejected ${err.code ?? err.message}`)
    await sleep(wait)
    const closed = model.close().then(() => 'closed', (err: { code?: string, message?: string }) => `close rejected ${err.code ?? err.message}`)
    outcomes.push(`${wait} ms: ${await opened}, ${await closed}`)
    t.equal(model.status, 'closed', `after ${wait} ms: closed`)
  }
  t.comment(outcomes.join('; '))
  t.ok(outcomes.every((o) => !o.includes('close rejected')), 'close() never rejects')
  const model = new Model({ db: dir })
  model.on('rejected', () => {})
  await model.open()
  t.teardown(async () => { await model.close() })
  const wrong: number[] = []
  for (let i = 0; i < KEYS; i += 13) if (JSON.stringify(await model.get(`key${i}`)) !== JSON.stringify(isBad(i) ? undefined : (valueOf(i) ?? undefined))) wrong.push(i)
  t.deepEqual(wrong.slice(0, 10), [], 'every sampled key reads back as written')
})
