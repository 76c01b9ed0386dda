import test from 'tape'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Level } from 'level'
import { MemoryLevel } from 'memory-level'
import { Counter, Events, Model, Value, suite, type Database, type ScuttlebuttOptions, type Scuttlebutt, type SuiteTest } from '../lib/index.js'

const KEYS = ['a', 'b', 'c', 'd', '__proto__']

/** The stores every data type runs on: memory-level, classic-level on disk, and a sublevel. */
const stores: Array<[string, () => Promise<{ db: Database, close: () => Promise<void> }>]> = [
  ['memory-level', async () => {
    const db = new MemoryLevel()
    return { db, close: async () => { await db.close() } }
  }],
  ['classic-level', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'scuttledb-suite-'))
    const db = new Level(dir)
    return { db, close: async () => { await db.close(); await rm(dir, { recursive: true, force: true }) } }
  }],
  ['memory-level with binary values (direct commits)', async () => {
    const db = new MemoryLevel({ valueEncoding: 'buffer' })
    return { db, close: async () => { await db.close() } }
  }],
  ['a sublevel of memory-level', async () => {
    const root = new MemoryLevel()
    await root.put('unrelated', 'data')
    return { db: root.sublevel('docs').sublevel('doc-1'), close: async () => { await root.close() } }
  }]
]

interface TypeUnderTest<T extends Scuttlebutt<any>> {
  name: string
  create: (options: ScuttlebuttOptions) => T
  write: (x: T, random: () => number) => Promise<void>
  state: (x: T) => Promise<unknown>
}

const pick = (random: () => number): string => KEYS[Math.floor(random() * KEYS.length)]

const types: Array<TypeUnderTest<any>> = [
  {
    name: 'Model',
    create: (o) => new Model(o),
    write: async (x: Model, random) => { random() < 0.2 ? await x.delete(pick(random)) : await x.set(pick(random), Math.floor(random() * 100)) },
    state: async (x: Model) => await x.toJSON()
  } satisfies TypeUnderTest<Model>,
  {
    name: 'Events',
    create: (o) => new Events(o),
    write: async (x: Events, random) => { await x.record(pick(random), Math.floor(random() * 100)) },
    state: async (x: Events) => { const out: unknown[] = []; for await (const u of x.history()) out.push(u[0]); return out }
  } satisfies TypeUnderTest<Events>,
  {
    name: 'Value',
    create: (o) => new Value(o),
    write: async (x: Value, random) => { await x.set({ n: Math.floor(random() * 100) }) },
    state: async (x: Value) => await x.get()
  } satisfies TypeUnderTest<Value>,
  {
    name: 'Counter (the subclassing example)',
    create: (o) => new Counter(o),
    write: async (x: Counter, random) => { await x.increment(1 + Math.floor(random() * 5)) },
    state: async (x: Counter) => await x.value()
  } satisfies TypeUnderTest<Counter>
]

const seed = Number(process.env.SEED ?? 7)
for (const type of types) {
  for (const [storeName, database] of stores) {
    suite({ ...type, test: test as unknown as SuiteTest, name: `${type.name} on ${storeName}`, database, seed })
  }
}
