import test from 'tape'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Model, seededRandom } from '../lib/index.js'
import { tempDir } from './helpers.js'

// The built CLI of this worktree (npx tsc -p tsconfig.json), as a user runs it.
const CLI = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url))
const KEYS = 40000

// docs/cli.md: "load is all or nothing ... after a failure or a crash either every key is stored or none."
test('scuttledb load --db killed with SIGKILL at random moments: every key of the file is stored or none, and what was there stays', async (t) => {
  const dir = await tempDir(t)
  const db = join(dir, 'db')
  const before = new Model({ db })
  await before.open()
  await before.batch(Array.from({ length: 100 }, (_, i) => ({ type: 'put' as const, key: `old${i}`, value: i })))
  await before.close()
  const file = join(dir, 'load.jsonl')
  const random = seededRandom(3)
  const outcomes: string[] = []
  for (let round = 0; round < 8; round++) {
    // Each round loads values of its own, so a later round's all-or-none is told from an earlier's.
    await writeFile(file, Array.from({ length: KEYS }, (_, i) => JSON.stringify({ key: `new${i}`, value: { i, r: round, pad: 'p'.repeat(30) } })).join('\n') + '\n')
    const child = spawn(process.execPath, [CLI, 'load', file, '--db', db], { stdio: ['ignore', 'pipe', 'pipe'] })
    const exited = once(child, 'close')
    const timer = setTimeout(() => { child.kill('SIGKILL') }, 800 + Math.floor(random() * 2500))
    const [code] = await exited as [number | null]
    clearTimeout(timer)
    const model = new Model({ db })
    await model.open()
    let loaded = 0
    const wrong: string[] = []
    for (let i = 0; i < KEYS; i += 97) if ((await model.get(`new${i}`) as { r?: number } | undefined)?.r === round) loaded++
    for (let i = 0; i < 100; i++) if (await model.get(`old${i}`) !== i) wrong.push(`old${i}`)
    await model.close()
    const sampled = Math.ceil(KEYS / 97)
    outcomes.push(`${code === null ? 'killed' : `exit ${code}`}: ${loaded}/${sampled}`)
    t.ok(loaded === 0 || loaded === sampled, `round ${round} (${outcomes[round]}): all or none of the sampled keys`)
    t.deepEqual(wrong, [], `round ${round}: the keys stored before are intact`)
  }
  t.comment(outcomes.join(', '))
})
