// Red-team round 11i. listen() and connect() drop a peer from which nothing arrived
// for idleTimeout ms (default 45 s), counting on the peer's heartbeat (a repeated
// "SYNC"). The original scuttlebutt sends no heartbeat: an original replicating
// with a scuttledb listener over wrapper 'json' was dropped with
// SCUTTLEDB_IDLE_TIMEOUT after 45 s of quiet, and as the original does not redial,
// nothing written afterwards ever reached it. On a JSON connection only an
// idleTimeout asked for applies now.
import net from 'node:net'
import { once } from 'node:events'
import { createRequire } from 'node:module'
import test, { type Test } from 'tape'
import { listen } from '../lib/index.js'
import { DEFAULT_IDLE_TIMEOUT } from '../lib/net/keepalive.js'
import { diskModel, sleep, until } from './helpers.js'
import type { OriginalConstructor, OriginalModel } from './original.js'

const require = createRequire(import.meta.url)
const OModel = require('scuttlebutt/model.js') as OriginalConstructor<OriginalModel>

/** Make the default idle timeout `ms` for this test (timers of that exact delay are shortened). */
function shortenDefaultIdle (t: Test, ms: number): void {
  const original = globalThis.setTimeout
  const patched = ((fn: (...args: unknown[]) => void, delay?: number, ...args: unknown[]) =>
    original(fn, delay === DEFAULT_IDLE_TIMEOUT ? ms : delay, ...args)) as unknown as typeof setTimeout
  globalThis.setTimeout = patched
  t.teardown(() => { globalThis.setTimeout = original })
}

/** An original Model replicating with `port` as its README shows: socket.pipe(stream).pipe(socket). */
async function originalPeer (t: Test, port: number): Promise<{ o: OriginalModel, socket: net.Socket }> {
  const o = new OModel()
  const socket = net.connect(port, '127.0.0.1')
  t.teardown(() => { socket.destroy() })
  const stream = o.createStream()
  socket.pipe(stream).pipe(socket)
  await once(stream, 'sync')
  return { o, socket }
}

test('an original that stays quiet is not dropped by a JSON listener with the default idleTimeout, and later writes reach it', async (t) => {
  shortenDefaultIdle(t, 300)
  const db = await diskModel(t)
  const server = await listen(db, { port: 0, stream: { wrapper: 'json' }, keepAlive: 100 })
  t.teardown(async () => { await server.close() })
  const drops: string[] = []
  server.on('disconnect', (_c, err) => drops.push(String((err as { code?: string } | undefined)?.code)))
  const { o, socket } = await originalPeer(t, server.address.port)
  // Quiet for four (shortened) idle timeouts: the original sends nothing.
  await sleep(1200)
  t.deepEqual(drops, [], 'the listener dropped no connection')
  t.notOk(socket.destroyed, 'the original\'s socket is still open')
  await db.set('late', 1)
  t.ok(await until(() => o.get('late') === 1, 3000), 'a write made after the quiet time reaches the original')
})

test('an idleTimeout asked for still drops a quiet original on a JSON listener', async (t) => {
  const db = await diskModel(t)
  const server = await listen(db, { port: 0, stream: { wrapper: 'json' }, keepAlive: 100, idleTimeout: 300 })
  t.teardown(async () => { await server.close() })
  const dropped = once(server, 'disconnect') as Promise<[unknown, { code?: string } | undefined]>
  await originalPeer(t, server.address.port)
  const [, err] = await dropped
  t.equal(err?.code, 'SCUTTLEDB_IDLE_TIMEOUT', 'dropped with SCUTTLEDB_IDLE_TIMEOUT')
})
