// Red-team round 11m. A frame (or JSON line) that arrives a byte at a time was kept as one
// Uint8Array view per chunk until complete: about a hundred bytes of heap per byte sent, while
// the listener's maxBufferedBytes budget (lib/buffer-budget.ts) counts one. A peer dribbling
// a 16 MiB frame (TCP_NODELAY, a byte a segment) held some 1.7 GB, and a few such peers
// within the budget ran the process out of memory. The decoder must hold about what it was sent.
// Heap is measured after a forced collection, in a child process started with --expose-gc.
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import test from 'tape'

const codecUrl = new URL('../lib/codec.js', import.meta.url).href
const BYTES = 1024 * 1024

for (const name of ['msgpack', 'json']) {
  test(`${name}: a message fed a byte at a time holds about its size in memory until complete`, (t) => {
    const script = `
      const { codecs } = await import(${JSON.stringify(codecUrl)})
      const codec = codecs[${JSON.stringify(name)}]
      const d = codec.decoder(16 * 1024 * 1024)
      const head = Buffer.alloc(4); head.writeUInt32BE(${BYTES} + 10)
      const noop = () => {}
      globalThis.gc(); const before = process.memoryUsage()
      if (${JSON.stringify(name)} === 'msgpack') d.write(head, noop)
      // Every byte its own chunk, as a socket delivers a byte a segment (Buffer.allocUnsafeSlow: no pool).
      for (let i = 0; i < ${BYTES}; i++) { const b = Buffer.allocUnsafeSlow(1); b[0] = 0x61; d.write(b, noop) }
      globalThis.gc(); const after = process.memoryUsage()
      console.log(JSON.stringify({ heap: after.heapUsed - before.heapUsed, buffers: after.arrayBuffers - before.arrayBuffers }))
      d.dispose()
    `
    const child = spawnSync(process.execPath, ['--expose-gc', '--input-type=module', '-e', script], { encoding: 'utf8', cwd: fileURLToPath(new URL('.', import.meta.url)) })
    t.equal(child.status, 0, `the child ran (${child.stderr.trim().slice(0, 200)})`)
    const { heap, buffers } = JSON.parse(child.stdout.trim()) as { heap: number, buffers: number }
    t.ok(heap + buffers < 8 * BYTES, `${BYTES} bytes held cost ${heap} of heap and ${buffers} of buffers (less than 8x)`)
    t.end()
  })
}
