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
    // V8 frees ArrayBuffers on a background thread after a collection: wait for it (bounded; the assertion follows).
    for (let i = 0; i < 200 && mb() - before > BALLAST_BYTES; i++) { await new Promise((resolve) => setTimeout(resolve, 5)); gc() }
    const after = mb() - before
    console.log(JSON.stringify({ ballast: BALLAST_BYTES, held, both, after, kept: typeof second }))
  `
  const { stdout } = await run(process.execPath, ['--expose-gc', '--input-type=module', '-e', script])
  // Other small ArrayBuffers come and go meanwhile (a few KB): counted in whole ballasts.
  const { ballast, held, both, after } = JSON.parse(stdout) as Record<string, number>
  t.equal(Math.round(held / ballast), 3, `3.5 ballasts owed: 3 held by the first owner (${held} bytes of ArrayBuffers, which V8 counts)`)
  t.equal(Math.round(both / ballast), 4, 'the half still owed and 0.6 more: a fourth, held by the second owner')
  t.equal(Math.round(after / ballast), 1, 'once the first owner is collected its three go with it; the second owner\'s one stays')
})
