import test from 'tape'
import { Level } from 'level'
import { MemoryLevel } from 'memory-level'
import { KeyLookup } from '../lib/lookup.js'
import { Model } from '../lib/index.js'
import { seededRandom } from '../lib/conformance.js'
import { tempDir } from './helpers.js'

// KeyLookup reads a commit's keys with one range scan, falling back to getMany
// when the range is crowded, and knows keys above every stored or announced key
// absent without a read. Whatever path it takes, it must return exactly what
// getMany returns, as long as every put is announced with wrote() (commits do).

type Db = MemoryLevel<string, Buffer> | Level<string, Buffer>

const ASTRAL = '\u{1F600}'
const HIGH_BMP = '\uFF21'

function keyOf (random: () => number, width: number, special: boolean, prefix = 'k'): string {
  const n = Math.floor(random() * width)
  const pick = random()
  // Plain keys; in some rounds also keys with characters whose JS order differs from byte order.
  if (special && pick < 0.05) return `${prefix}${n}${ASTRAL}`
  if (special && pick < 0.1) return `${prefix}${n}${HIGH_BMP}`
  return `${prefix}${String(n).padStart(6, '0')}`
}

async function check (t: test.Test, db: Db, label: string): Promise<void> {
  const seed = Math.floor(Math.random() * 2 ** 31)
  const random = seededRandom(seed)
  const sub = (db as MemoryLevel<string, Buffer>).sublevel<string, Buffer>('data-keys', { keyEncoding: 'utf8', valueEncoding: 'buffer' })
  const lookup = new KeyLookup()
  let mismatches = 0
  for (let round = 0; round < 200; round++) {
    // Store some keys, sometimes densely in a narrow range (crowded scans), sometimes sparsely.
    const width = random() < 0.5 ? 2000 : 200_000
    // The first 150 rounds keep to plain keys (a key above U+D800 ends the bound for good).
    const special = round >= 150 && round % 4 === 0
    const batch = sub.db.batch()
    for (let i = Math.floor(random() * 300); i > 0; i--) {
      const key = random() < 0.1 ? keyOf(random, width, special, 'kz') : keyOf(random, width, special)
      lookup.wrote(key)
      batch.put(sub.prefixKey(key, 'utf8'), Buffer.from([round & 255, i & 255]))
    }
    // Deletes are not announced: the bound only ever rises.
    for (let i = Math.floor(random() * 20); i > 0; i--) batch.del(sub.prefixKey(keyOf(random, width, special), 'utf8'))
    await batch.write()
    const keys: string[] = []
    const count = Math.floor(random() * 400)
    // Keys among the stored ones, or mostly new ones (a region with few records: the scan completes).
    const pick = random()
    const prefix = pick < 0.4 ? 'k' : pick < 0.7 ? 'k0000' : pick < 0.85 ? 'kz' : 'kzz'
    for (let i = 0; i < count; i++) keys.push(random() < 0.1 && keys.length > 0 ? keys[Math.floor(random() * keys.length)] : keyOf(random, width, special, prefix))
    const expected = await sub.getMany(keys) as Array<Buffer | undefined>
    const actual = await lookup.read(sub, keys)
    if (actual.length !== expected.length || actual.some((v, i) => (v === undefined) !== (expected[i] === undefined) || (v !== undefined && !v.equals(expected[i] as unknown as Buffer)))) mismatches++
  }
  t.equal(mismatches, 0, `${label}: 200 lookups equal getMany (seed ${seed})`)
  const { scanned, crowded, direct, beyond } = lookup.counts
  t.ok(scanned > 0 && crowded > 0 && direct > 0 && beyond > 0, `every path was taken (scanned ${scanned}, crowded ${crowded}, getMany ${direct}, known absent ${beyond})`)
}

test('KeyLookup reads exactly what getMany reads, on memory-level', async (t) => {
  const db = new MemoryLevel<string, Buffer>({ keyEncoding: 'utf8', valueEncoding: 'buffer' })
  await db.open()
  t.teardown(async () => { await db.close() })
  await check(t, db, 'memory-level')
})

test('KeyLookup reads exactly what getMany reads, on classic-level', async (t) => {
  const db = new Level<string, Buffer>(await tempDir(t), { keyEncoding: 'utf8', valueEncoding: 'buffer' })
  await db.open()
  t.teardown(async () => { await db.close() })
  await check(t, db, 'classic-level')
})

test('KeyLookup finds records among many others when the scan is crowded', async (t) => {
  const db = new MemoryLevel<string, Buffer>({ keyEncoding: 'utf8', valueEncoding: 'buffer' })
  await db.open()
  t.teardown(async () => { await db.close() })
  const sub = db.sublevel<string, Buffer>('s', { keyEncoding: 'utf8', valueEncoding: 'buffer' })
  await sub.batch(Array.from({ length: 1000 }, (_, i) => ({ type: 'put' as const, key: `k${String(i).padStart(4, '0')}`, value: Buffer.from([i & 255]) })))
  const lookup = new KeyLookup()
  // Every 10th key from one end to the other: a scan of the whole range meets 1000 records for 100 keys.
  const keys = Array.from({ length: 100 }, (_, i) => `k${String(i * 10 + 5).padStart(4, '0')}`).concat(['k9999', 'a', 'k0000'])
  for (let round = 0; round < 5; round++) {
    const values = await lookup.read(sub, keys)
    t.deepEqual(values.map((v) => v?.[0]), Array.from({ length: 100 }, (_, i) => (i * 10 + 5) & 255).concat([undefined as unknown as number, undefined as unknown as number, 0]), `round ${round}: every record, absent keys undefined`)
  }
})

test('KeyLookup finds keys whose byte order differs from their JS string order', async (t) => {
  const db = new MemoryLevel<string, Buffer>({ keyEncoding: 'utf8', valueEncoding: 'buffer' })
  await db.open()
  t.teardown(async () => { await db.close() })
  const sub = db.sublevel<string, Buffer>('s', { keyEncoding: 'utf8', valueEncoding: 'buffer' })
  // In JS order ASTRAL < HIGH_BMP; in UTF-8 bytes (LevelDB's order) HIGH_BMP < ASTRAL.
  const stored = [`a${ASTRAL}`, `a${HIGH_BMP}`, `z${ASTRAL}`, `z${HIGH_BMP}`]
  await sub.batch(stored.map((key, i) => ({ type: 'put' as const, key, value: Buffer.from([i]) })))
  const keys = [...stored, ...Array.from({ length: 10 }, (_, i) => `m${i}`)]
  const values = await new KeyLookup().read(sub, keys)
  t.deepEqual(values.slice(0, 4).map((v) => v?.[0]), [0, 1, 2, 3], 'every stored key found')
  t.ok(values.slice(4).every((v) => v === undefined), 'absent keys undefined')
})

test('KeyLookup reads the keys after a crowded scan stopped', async (t) => {
  const db = new MemoryLevel<string, Buffer>({ keyEncoding: 'utf8', valueEncoding: 'buffer' })
  await db.open()
  t.teardown(async () => { await db.close() })
  const sub = db.sublevel<string, Buffer>('s', { keyEncoding: 'utf8', valueEncoding: 'buffer' })
  await sub.batch(Array.from({ length: 100 }, (_, i) => ({ type: 'put' as const, key: `k${String(i).padStart(3, '0')}`, value: Buffer.from([i]) })))
  const lookup = new KeyLookup()
  // 10 keys spanning all 100 records: the scan stops after 18 and getMany reads the rest.
  const keys = Array.from({ length: 10 }, (_, i) => `k${String(i * 11).padStart(3, '0')}`)
  const values = await lookup.read(sub, keys)
  t.equal(lookup.counts.crowded, 1, 'the scan was crowded')
  t.deepEqual(values.map((v) => v?.[0]), keys.map((_, i) => i * 11), 'every key found')
})

test('KeyLookup: a key announced while the bound is being read is found', async (t) => {
  const db = new MemoryLevel<string, Buffer>({ keyEncoding: 'utf8', valueEncoding: 'buffer' })
  await db.open()
  t.teardown(async () => { await db.close() })
  const sub = db.sublevel<string, Buffer>('s', { keyEncoding: 'utf8', valueEncoding: 'buffer' })
  await sub.put('b', Buffer.from([1]))
  const lookup = new KeyLookup()
  // The first read starts reading the bound; 'y' is announced and lands before that read settles.
  const first = lookup.read(sub, ['a', 'c'])
  lookup.wrote('y')
  await sub.put('y', Buffer.from([2]))
  t.deepEqual((await first).map((v) => v?.[0]), [undefined, undefined], 'the first read: absent keys')
  const values = await lookup.read(sub, ['b', 'x', 'y', 'z'])
  t.deepEqual(values.map((v) => v?.[0]), [1, undefined, 2, undefined], 'the key announced during the bound read is read, not assumed absent')
  t.ok(lookup.counts.beyond >= 1, "'z' is known absent by the bound")
})

test('KeyLookup: a stored key above U+D800 turns the bound off, and every key is still read', async (t) => {
  const db = new MemoryLevel<string, Buffer>({ keyEncoding: 'utf8', valueEncoding: 'buffer' })
  await db.open()
  t.teardown(async () => { await db.close() })
  const sub = db.sublevel<string, Buffer>('s', { keyEncoding: 'utf8', valueEncoding: 'buffer' })
  // In UTF-8 bytes `a${HIGH_BMP}` < `a${ASTRAL}`; in JS order the reverse. The greatest stored key is astral.
  await sub.batch([{ type: 'put', key: `a${HIGH_BMP}`, value: Buffer.from([1]) }, { type: 'put', key: `a${ASTRAL}`, value: Buffer.from([2]) }])
  const lookup = new KeyLookup()
  const values = await lookup.read(sub, [`a${HIGH_BMP}`, `a${ASTRAL}`, 'b'])
  t.deepEqual(values.map((v) => v?.[0]), [1, 2, undefined], 'both found')
  t.equal(lookup.counts.beyond, 0, 'no key was assumed absent')
})

test('Model: keys written after the bound was read are found again (the superseded update leaves the log)', async (t) => {
  const dir = await tempDir(t)
  const first = new Model({ db: dir })
  await first.open()
  await first.set('a', 1)
  await first.close()
  // Reopened: the first lookup reads the bound ('a'); 'b' lies above it.
  const model = new Model({ db: dir })
  await model.open()
  await model.set('b', 2)
  await model.set('b', 3)
  await model.set('c', 4)
  await model.close()
  const raw = new Level<string, Buffer>(dir, { keyEncoding: 'utf8', valueEncoding: 'buffer' })
  const log = await raw.sublevel<string, Buffer>('log', { keyEncoding: 'utf8', valueEncoding: 'buffer' }).keys().all()
  await raw.close()
  t.equal(log.length, 3, "the log holds a, the second b and c: the first b was known and dropped when it was superseded")
  const again = new Model({ db: dir })
  await again.open()
  t.deepEqual([await again.get('a'), await again.get('b'), await again.get('c')], [1, 3, 4], 'every value as last set')
  await again.close()
})

test('Model: a new store knows its bound without a read, and keys it wrote are found again', async (t) => {
  const dir = await tempDir(t)
  const db = new Level<string, Buffer>(dir, { keyEncoding: 'utf8', valueEncoding: 'buffer' })
  let boundReads = 0
  const iterator = db.iterator.bind(db)
  db.iterator = ((options?: { reverse?: boolean, limit?: number }) => {
    if (options?.reverse === true && options.limit === 1) boundReads++
    return iterator(options ?? {})
  }) as typeof db.iterator
  const model = new Model({ db })
  await model.open()
  // Separate commits: each after the first looks its keys up; the bound comes from what was written.
  await model.set('b', 2)
  await model.set('b', 3)
  await model.set('c', 4)
  await model.set('a', 5)
  await model.set('a', 6)
  t.equal(boundReads, 0, 'no read of the greatest stored key')
  await model.close()
  const log = await db.sublevel<string, Buffer>('log', { keyEncoding: 'utf8', valueEncoding: 'buffer' }).keys().all()
  t.equal(log.length, 3, 'the log holds the last b, c and the last a: each superseded update was found and dropped')
  const again = new Model({ db })
  await again.open()
  t.deepEqual([await again.get('a'), await again.get('b'), await again.get('c')], [6, 3, 4], 'every value as last set')
  await again.close()
  await db.close()
})
