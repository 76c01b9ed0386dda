import test from 'tape'
import { once } from 'node:events'
import http from 'node:http'
import net from 'node:net'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { createHttpApi } from '../lib/cli/http-api.js'
import { diskModel, until } from './helpers.js'

// Promise (docs/cli.md, "The changes feed"): "A client that stops reading (4 MiB
// behind) is dropped; it resumes from its last id." The 4 MiB check was only made
// for live messages. A client that resumes (since=0, Last-Event-ID) and never reads
// got a whole page of 256 stored changes written to its response at once (here
// 256 x 100 KB = 25 MB held for it), and the live changes committed meanwhile were
// all held for it too (up to 10,000 of them, whatever their size), for as long as
// it stayed connected: a few such connections hold gigabytes.

setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc') as () => void

const VALUE = 100_000

function big (i: number): string {
  return String(i).padStart(8, '0') + 'x'.repeat(VALUE - 8)
}

test('GET /events: a resuming client that never reads holds a bounded amount of the node\'s memory', async (t) => {
  const model = await diskModel(t)
  for (let i = 0; i < 300; i++) await model.set(`k${i}`, big(i))
  let stalled: http.ServerResponse | undefined
  const logged: string[] = []
  // heartbeat (@internal): ms between keep-alive comments; a variable, so the test also compiles against code without it.
  const options = { status: () => ({}), log: (line: string) => { logged.push(line) }, heartbeat: 300 }
  const api = createHttpApi(model, options)
  api.server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => { if (req.url?.startsWith('/events') === true) stalled = res })
  api.server.listen(0, '127.0.0.1')
  await once(api.server, 'listening')
  const port = (api.server.address() as net.AddressInfo).port
  const socket = net.connect(port, '127.0.0.1')
  socket.on('error', () => {})
  // Asks for everything since the beginning, then never reads a byte.
  socket.pause()
  socket.write('GET /events?since=0 HTTP/1.1\r\nhost: x\r\n\r\n')
  t.teardown(async () => {
    socket.destroy()
    api.endEvents()
    api.server.closeAllConnections()
    await new Promise((resolve) => api.server.close(resolve))
  })
  // Until the node waits for this client (its buffer is full) or drops it.
  t.ok(await until(() => stalled !== undefined && (stalled.writableNeedDrain || stalled.destroyed), 60_000), 'the node stopped writing to the stalled client')
  const res = stalled as http.ServerResponse
  t.comment(`held for the stalled client: ${res.writableLength} bytes (destroyed: ${res.destroyed})`)
  t.ok(res.destroyed || res.writableLength <= 8 * 1024 * 1024, 'at most about the documented 4 MiB is held in its response (or it is dropped)')

  // Live writes meanwhile: each is held for the stalled client until it reads.
  gc()
  const before = process.memoryUsage().heapUsed
  for (let i = 0; i < 300; i++) await model.set(`live${i}`, big(1000 + i))
  gc()
  const grown = process.memoryUsage().heapUsed - before
  t.comment(`heap grew by ${Math.round(grown / 1e6)} MB over 300 live writes of 100 KB (destroyed: ${res.destroyed})`)
  t.ok(res.destroyed || grown < 15e6, 'the live changes are not all held for it (< 15 MB of 30 MB written)')
  // Like a live client 4 MiB behind, it is dropped at last (here after a heartbeat of 300 ms without a drain).
  t.ok(await until(() => res.destroyed, 60_000), 'the client that never reads is dropped')
  t.ok(logged.some((l) => l.includes('it is not reading')), 'and the drop is logged')
})
