import test from 'tape'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'
import { Events, seededRandom } from '../lib/index.js'
import { tempDir, until } from './helpers.js'

const CHILD = fileURLToPath(new URL('./fixtures/red11d-events-child.js', import.meta.url))

test('Events with retention maxCount, SIGKILLed while recording and pruning, keeps the newest maxCount acknowledged events', async (t) => {
  const dir = await tempDir(t)
  const random = seededRandom(5)
  const acked: number[] = []
  // Planned and not acknowledged: the events under way when a child was killed (kept or not, either is right).
  const pending = new Set<number>()
  for (let round = 0; round < 5; round++) {
    const child = spawn(process.execPath, [CHILD, dir, String(round * 1_000_000)], { stdio: ['ignore', 'pipe', 'inherit'] })
    const exited = once(child, 'close')
    let rest = ''
    let mine = 0
    child.stdout.setEncoding('utf8')
    child.stdout.on('data', (chunk: string) => {
      const lines = (rest + chunk).split('\n')
      rest = lines.pop() ?? ''
      for (const line of lines) {
        if (line.startsWith('plan ')) pending.add(Number(line.slice(5)))
        if (!line.startsWith('ack ')) continue
        pending.delete(Number(line.slice(4)))
        acked.push(Number(line.slice(4)))
        mine++
      }
    })
    const target = 200 + Math.floor(random() * 1500)
    const reached = await until(() => mine >= target, 30_000)
    child.kill('SIGKILL')
    await exited
    t.ok(reached, `round ${round}: killed after ${mine} events acknowledged`)
  }
  const events = new Events({ db: dir, retention: { maxCount: 300 } })
  await events.open()
  t.teardown(async () => { await events.close() })
  const held = new Set<number>()
  for await (const update of events.history()) held.add((update[0] as [string, number])[1])
  // The newest 300 of what was acknowledged and of what was under way and kept: each acknowledged one must be held.
  const kept = [...pending].filter((n) => held.has(n))
  const newest = [...acked, ...kept].sort((a, b) => a - b).slice(-300)
  t.deepEqual(newest.filter((n) => !held.has(n)).slice(0, 10), [], `the newest 300 acknowledged events are held (${kept.length} of ${pending.size} under way at a kill were kept)`)
  t.ok(held.size <= 330, `at most maxCount + 10% are held after the open's prune (${held.size})`)
})
