import test from 'tape'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { createConnection } from 'node:net'
import { join } from 'node:path'
import { COLLECTION_PROTOCOL } from '../lib/collection-protocol.js'
import { frame } from './collection-helpers.js'

// README: "Bad input never crashes the process ... a hostile peer gets a coded error
// on that stream, that stream closes ... everything else goes on." One unauthenticated
// connection to a collection's listener sends well-formed `docs` messages (4096
// entries each, names of 1000 characters, every frame far below maxFrameBytes, so
// maxBufferedBytes never applies). The stream keeps per-name state for every entry
// (and answers each), without bound: the node's heap fills and the process aborts.
// Here the node runs with a 256 MB heap so that this takes ~150 MB of input; with
// the default heap the same happens later.

const CHILD = join(import.meta.dirname, 'fixtures', 'red-collection-listener.js')

test('a peer sending endless docs entries does not exhaust a collection node\'s memory', async (t) => {
  const child = spawn(process.execPath, ['--max-old-space-size=256', CHILD], { stdio: ['ignore', 'pipe', 'ignore'] })
  t.teardown(() => { child.kill('SIGKILL') })
  let exit: [number | null, string | null] | undefined
  const exited = once(child, 'exit').then(([code, signal]) => { exit = [code as number | null, signal as string | null] })
  child.stdout.setEncoding('utf8')
  let out = ''
  const port = await new Promise<number>((resolve) => {
    child.stdout.on('data', (chunk: string) => {
      out += chunk
      const m = /port (\d+)/.exec(out)
      if (m !== null) resolve(Number(m[1]))
    })
  })
  const socket = createConnection(port, '127.0.0.1')
  await once(socket, 'connect')
  socket.on('error', () => {})
  socket.resume() // it reads everything the node answers
  let closed = false
  socket.on('close', () => { closed = true })
  socket.write(frame({ t: 'hello', p: COLLECTION_PROTOCOL, id: 'EVIL', epoch: 'E', seq: 0 }))
  socket.write(frame({ t: 'want', since: 0 }))
  let sent = 0
  for (; sent < 100 && !closed && exit === undefined; sent++) {
    const d = Array.from({ length: 4096 }, (_, i) => [`${sent}-${i}-${'n'.repeat(1000)}`, 'Model', {}, true])
    if (!socket.write(frame({ t: 'docs', d }))) {
      await Promise.race([once(socket, 'drain').catch(() => {}), once(socket, 'close').catch(() => {}), exited])
    }
  }
  await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 5000))])
  t.comment(`sent ${sent} docs messages (${sent * 4096} entries); connection closed: ${closed}; node exit: ${JSON.stringify(exit)}`)
  t.equal(exit, undefined, 'the node is still running')
  t.ok(closed, 'the hostile connection was closed (SCUTTLEDB_OVERLOADED past maxPeerEntryBytes)')
  socket.destroy()
})
