// A collection of signed documents verifies on the process-wide worker pool: its
// documents share at most one pool (never one each), and once the collections,
// connections and listener are closed nothing keeps the process alive.
import test from 'tape'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { availableParallelism } from 'node:os'
import { tempDir } from './helpers.js'

/** Documents relayed in the child; COLLECTION_WORKERS_DOCS=10000 for the long version. */
const DOCS = Number(process.env.COLLECTION_WORKERS_DOCS ?? 200)

test(`a relay of ${DOCS} signed documents over TCP verifies on at most the pool's threads (not one pool per document), and the process exits by itself after close`, async (t) => {
  const dir = await tempDir(t)
  const index = new URL('../lib/index.js', import.meta.url).href
  const pool = new URL('../lib/security/verify-pool.js', import.meta.url).href
  const code = `
    import { Collection, Model, connect, generateKeys, listen, securityOptions } from ${JSON.stringify(index)}
    import { verifyPool } from ${JSON.stringify(pool)}
    import { once } from 'node:events'
    import { join } from 'node:path'
    // The process's own stdio pipes are there from the start: only what is held beyond them counts.
    void [process.stdout, process.stderr]
    const baseline = process.getActiveResourcesInfo()
    const DOCS = ${DOCS}
    const dir = ${JSON.stringify(dir)}
    const [ka, kr, kb] = [generateKeys(), generateKeys(), generateKeys()]
    const writers = [ka.id, kr.id, kb.id]
    const open = async (name, keys) => {
      const c = new Collection({ db: join(dir, name), ...securityOptions(keys), writers, maxOpen: 100 })
      await c.open()
      return c
    }
    const [a, r, b] = [await open('a', ka), await open('r', kr), await open('b', kb)]
    for (let i = 0; i < DOCS; i += 100) {
      await Promise.all(Array.from({ length: Math.min(100, DOCS - i) }, (_, j) => a.use('doc' + (i + j), async (doc) => { await doc.set('i', i + j) }, Model)))
    }
    let most = 0
    const sample = setInterval(() => { most = Math.max(most, verifyPool().threads) }, 5)
    let rejected = 0
    for (const c of [r, b]) c.on('documentError', () => { rejected++ })
    const server = await listen(r.target(), { port: 0 })
    const toA = connect(a.target(), { port: server.address.port, minDelay: 10, maxDelay: 50 })
    await once(toA, 'synced')
    const toB = connect(b.target(), { port: server.address.port, minDelay: 10, maxDelay: 50 })
    await once(toB, 'synced')
    // Every document reached B (each opened there, and its one update verified).
    let held = 0
    for (let i = 0; i < DOCS; i++) if (await b.use('doc' + i, async (doc) => await doc.get('i'), Model) === i) held++
    clearInterval(sample)
    most = Math.max(most, verifyPool().threads)
    await Promise.all([toA.close(), toB.close()])
    await server.close()
    await Promise.all([a.close(), r.close(), b.close()])
    // What still holds the event loop once everything is closed (idle workers are unref'd and not listed).
    await new Promise((resolve) => setImmediate(resolve))
    const resources = process.getActiveResourcesInfo()
    for (const kind of baseline) if (resources.includes(kind)) resources.splice(resources.indexOf(kind), 1)
    console.log(JSON.stringify({ held, rejected, most, resources }))
  `
  const child = spawn(process.execPath, ['--input-type=module', '-e', code], { stdio: ['ignore', 'pipe', 'inherit'], cwd: new URL('..', import.meta.url) })
  let out = ''
  child.stdout.on('data', (chunk: Buffer) => { out += chunk.toString() })
  // Generous: a loaded machine may be slow, but a leaked handle or worker would hold the process forever.
  const timer = setTimeout(() => { child.kill('SIGKILL') }, 90_000 + DOCS * 50)
  const [exitCode, signal] = await once(child, 'exit') as [number | null, string | null]
  clearTimeout(timer)
  t.equal(signal, null, 'the child was not killed: it exited on its own')
  t.equal(exitCode, 0, 'with code 0')
  const report = JSON.parse(out.trim() || '{}') as { held?: number, rejected?: number, most?: number, resources?: string[] }
  t.equal(report.held, DOCS, `B holds all ${DOCS} documents, each verified through the relay`)
  t.equal(report.rejected, 0, 'none was rejected')
  const cap = Math.max(1, Math.min(4, availableParallelism()))
  t.ok((report.most ?? 0) > 0, `verified on worker threads (${report.most ?? 0} at most)`)
  t.ok((report.most ?? Infinity) <= cap, `never more threads than the one shared pool's ${cap}, for ${DOCS} documents`)
  t.deepEqual(report.resources, [], 'after close, no handle or timer beyond the process\'s stdio holds the event loop')
})
