import test from 'tape'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'
import { Model, seededRandom } from '../lib/index.js'
import { tempDir, until } from './helpers.js'

const CHILD = fileURLToPath(new URL('./fixtures/red11d-purge-child.js', import.meta.url))

test('a Model purging deletes every 30 ms (tombstoneTTL), SIGKILLed while it writes and deletes, keeps every key as last acknowledged', async (t) => {
  const dir = await tempDir(t)
  const random = seededRandom(9)
  const last = new Map<string, number | null>()
  // The ops of the batch under way when the child was killed: committed or not, either is right.
  const pending = new Map<string, number | null>()
  for (let round = 1; round <= 6; round++) {
    const child = spawn(process.execPath, [CHILD, dir, String(round)], { stdio: ['ignore', 'pipe', 'inherit'] })
    const exited = once(child, 'close')
    let rest = ''
    let mine = 0
    child.stdout.setEncoding('utf8')
    child.stdout.on('data', (chunk: string) => {
      const lines = (rest + chunk).split('\n')
      rest = lines.pop() ?? ''
      for (const line of lines) {
        const [kind, op, key, value] = line.split(' ')
        const written = op === 'del' ? null : Number(value)
        // A batch is planned once every op of the one before is acknowledged (the child awaits them all).
        if (kind === 'plan') {
          pending.set(key, written)
          continue
        }
        pending.delete(key)
        last.set(key, written)
        mine++
      }
    })
    const target = 100 + Math.floor(random() * 2000)
    const reached = await until(() => mine >= target, 30_000)
    child.kill('SIGKILL')
    await exited
    t.ok(reached, `round ${round}: killed after ${mine} writes acknowledged`)
  }
  const model = new Model({ db: dir, tombstoneTTL: 30 })
  await model.open()
  t.teardown(async () => { await model.close() })
  const wrong: string[] = []
  let live = 0
  for (const key of new Set([...last.keys(), ...pending.keys()])) {
    const got = await model.get(key)
    const acked = last.get(key) ?? undefined
    // A write of the killed batch may have committed before its acknowledgement was printed.
    const inFlight = pending.has(key) && got === (pending.get(key) ?? undefined)
    if (got !== acked && !inFlight) wrong.push(`${key}: ${JSON.stringify(got)} (acknowledged ${JSON.stringify(acked)})`)
    if (got !== undefined) live++
  }
  t.deepEqual(wrong.slice(0, 10), [], `every key reads as last acknowledged, or as its write still under way at the kill (${last.size} keys, ${pending.size} under way)`)
  t.ok(await model.purge() >= 0, 'a purge after the reopen runs')
  let listed = 0
  for await (const _entry of model) listed++
  t.equal(listed, live, 'iteration lists exactly the live keys')
})
