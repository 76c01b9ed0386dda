// Disk space after forgetting deletes: N writes, then deletes of 90% of the keys,
// then purge() past tombstoneTTL and compact(); compared with a database that
// only ever held the live keys. Sizes, not speed: run with
//   npm run build:test && node dist-test/bench/tombstones.js [N]
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Model } from '../lib/index.js'

const N = Number(process.argv[2] ?? 1_000_000)
const PAGE = 1000
const value = { text: 'v'.repeat(40), n: 1 }

async function size (dir: string): Promise<number> {
  let total = 0
  for (const name of await readdir(dir)) total += (await stat(join(dir, name))).size
  return total
}

const mb = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(1)} MB`

async function fill (dir: string, keys: number[], wall: { t: number }, ttl?: number): Promise<Model> {
  const model = new Model({ db: dir, now: () => wall.t, ...(ttl === undefined ? {} : { tombstoneTTL: ttl }) })
  await model.open()
  for (let i = 0; i < keys.length; i += PAGE) {
    await model.batch(keys.slice(i, i + PAGE).map((k) => ({ type: 'put' as const, key: 'k' + String(k).padStart(8, '0'), value })))
  }
  return model
}

const wall = { t: Date.now() }
const all = Array.from({ length: N }, (_, i) => i)
const dir = await mkdtemp(join(tmpdir(), 'scuttledb-tomb-'))
const model = await fill(dir, all, wall, 1000)
await model.compact()
const written = await size(dir)
const doomed = all.filter((i) => i % 10 !== 0)
for (let i = 0; i < doomed.length; i += PAGE) {
  await model.batch(doomed.slice(i, i + PAGE).map((k) => ({ type: 'del' as const, key: 'k' + String(k).padStart(8, '0') })))
}
await model.set('last', 1)
await model.compact()
const deleted = await size(dir)
wall.t += 3_600_000 // far past the TTL: a million writes in a frozen wall clock run the hybrid clock ahead by seconds
const started = Date.now()
const purged = await model.purge()
const purgeMs = Date.now() - started
await model.compact()
const compacted = await size(dir)
await model.close()

const liveDir = await mkdtemp(join(tmpdir(), 'scuttledb-live-'))
const live = await fill(liveDir, all.filter((i) => i % 10 === 0), wall)
await live.set('last', 1)
await live.compact()
const needed = await size(liveDir)
await live.close()
await rm(dir, { recursive: true, force: true })
await rm(liveDir, { recursive: true, force: true })

console.log(JSON.stringify({ writes: N, deletes: doomed.length, purged, purgeMs }))
console.log(`after ${N} writes (compacted):            ${mb(written)}`)
console.log(`after ${doomed.length} deletes (compacted):     ${mb(deleted)}`)
console.log(`after purge() and compact():          ${mb(compacted)}`)
console.log(`a database of only the live keys:     ${mb(needed)}  (ratio ${(compacted / needed).toFixed(2)}x)`)
