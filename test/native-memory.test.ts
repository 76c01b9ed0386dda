import test from 'tape'
import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'

// classic-level frees a written chained batch's native buffer only when the batch object
// is collected, and V8 does not count that memory (lib/native-memory.ts): holdsNative ties
// ArrayBuffer memory, which V8 counts, to the batch object, so a collection comes when
// that much memory has grown, and the ballast goes with the batch.

const run = promisify(execFile)
const module = fileURLToPath(new URL('../lib/native-memory.js', import.meta.url))

test('holdsNative ties one ArrayBuffer per BALLAST_BYTES owed to its owner, counted by V8, released when the owner is collected', async (t) => {
  const script = `
    const { holdsNative, BALLAST_BYTES } = await import(${JSON.stringify(module)})
    const mb = () => process.memoryUsage().arrayBuffers
    gc(); const before = mb()
    let first = {}
    holdsNative(first, 3.5 * BALLAST_BYTES)
    const held = mb() - before
    const second = {}
    holdsNative(second, 0.6 * BALLAST_BYTES)
    const both = mb() - before
    first = null
    // A collection may keep a just-dropped object once (a stack slot): a few are enough.
    for (let i = 0; i < 10 && mb() - before > BALLAST_BYTES; i++) { await new Promise((resolve) => setImmediate(resolve)); gc() }
    const after = mb() - before
    console.log(JSON.stringify({ ballast: BALLAST_BYTES, held, both, after, kept: typeof second }))
  `
  const { stdout } = await run(process.execPath, ['--expose-gc', '--input-type=module', '-e', script])
  const { ballast, held, both, after } = JSON.parse(stdout) as Record<string, number>
  t.equal(held, 3 * ballast, `3.5 ballasts owed: 3 held by the first owner (${held} bytes of ArrayBuffers, which V8 counts)`)
  t.equal(both, 4 * ballast, 'the half still owed and 0.6 more: a fourth, held by the second owner')
  t.equal(after, ballast, 'once the first owner is collected its three go with it; the second owner\'s one stays')
})

test('the iterators storage opens are accounted at ITERATOR_NATIVE_BYTES each, the ballast held by them', async (t) => {
  const view = fileURLToPath(new URL('../lib/prefixed-view.js', import.meta.url))
  const script = `
    const { mkdtempSync, rmSync } = await import('node:fs')
    const { tmpdir } = await import('node:os')
    const { join } = await import('node:path')
    const { ClassicLevel } = await import('classic-level')
    const { BALLAST_BYTES, ITERATOR_NATIVE_BYTES } = await import(${JSON.stringify(module)})
    const { PrefixedView } = await import(${JSON.stringify(view)})
    const dir = mkdtempSync(join(tmpdir(), 'scuttledb-native-'))
    const db = new ClassicLevel(dir, { keyEncoding: 'utf8', valueEncoding: 'buffer' })
    await db.open()
    const log = new PrefixedView(db, 'log')
    const mb = () => process.memoryUsage().arrayBuffers
    gc(); const before = mb()
    const count = 4 * BALLAST_BYTES / ITERATOR_NATIVE_BYTES
    let kept = []
    for (let i = 0; i < count; i++) { const it = log.iterator(); await it.nextv(10); await it.close(); kept.push(it) }
    const held = mb() - before
    kept = null
    for (let i = 0; i < 10 && mb() - before > 0; i++) { await new Promise((resolve) => setImmediate(resolve)); gc() }
    const after = mb() - before
    await db.close()
    rmSync(dir, { recursive: true, force: true })
    console.log(JSON.stringify({ ballast: BALLAST_BYTES, held, after }))
  `
  const { stdout } = await run(process.execPath, ['--expose-gc', '--input-type=module', '-e', script], { cwd: fileURLToPath(new URL('../..', import.meta.url)) })
  const { ballast, held, after } = JSON.parse(stdout) as Record<string, number>
  t.ok(held >= 3 * ballast, `the iterators hold ballast V8 counts (${held} bytes for 4 ballasts' worth)`)
  t.ok(after < held, `released when the iterators are collected (${after} bytes left)`)
})
