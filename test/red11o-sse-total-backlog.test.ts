import { readFileSync } from 'node:fs'
import net from 'node:net'
import test from 'tape'
import { until } from './helpers.js'
import { http, startNode } from './fixtures/net-helpers.js'

/** Peak resident memory of a process, in MiB (VmHWM: the high-water mark, not a sample). */
const peakMiB = (pid: number): number => Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]) / 1024

// Each event stream was bounded alone (a client 4 MiB behind is dropped), but nothing bounded them
// together and the HTTP port takes any number of clients: 1000 clients that read nothing and 35
// writes of 100 KB killed the node (FATAL ERROR: Reached heap limit, SIGABRT). Here 300 such
// clients and 80 writes: the old code held about 4 MiB for each (over 1.2 GB).
test('serve: event streams that read nothing are bounded together, not only one by one; an honest one gets every change', async (t) => {
  const node = await startNode(t)
  const pid = node.child.pid as number
  const port = Number(new URL(node.http).port)
  const clients: net.Socket[] = []
  t.teardown(() => { for (const s of clients) s.destroy() })
  for (let i = 0; i < 300; i++) {
    const s = net.connect(port, '127.0.0.1')
    s.on('error', () => {})
    s.write('GET /events HTTP/1.1\r\nHost: x\r\n\r\n')
    s.pause()
    clients.push(s)
  }
  const honest = net.connect(port, '127.0.0.1')
  clients.push(honest)
  let seen = ''
  honest.setEncoding('utf8').on('data', (s: string) => { seen = (seen + s).slice(-300_000) })
  honest.write('GET /events HTTP/1.1\r\nHost: x\r\n\r\n')
  t.ok(await until(() => seen.includes(': connected'), 10_000), 'the honest client is subscribed')
  const before = peakMiB(pid)
  const big = 'x'.repeat(100_000)
  let keysSeen = 0
  for (let i = 0; i < 80; i++) {
    const res = await http(node.http, 'PUT', `/kv/k${i}`, big + String(i))
    if (res.status !== 200) t.fail(`PUT k${i}: ${res.status}`)
    if (await until(() => seen.includes(`"key":"k${i}"`), 10_000)) keysSeen++
  }
  t.equal(keysSeen, 80, 'the client that reads got every change')
  const grown = peakMiB(pid) - before
  t.ok(grown < 500, `the node's peak memory grew by ${Math.round(grown)} MiB for 300 clients that read nothing (at most 500 expected: 64 MiB of backlogs, and the values)`)
  t.ok(node.log().includes('it is not reading'), 'clients that read nothing were dropped, and the log says so')
  for (const s of clients) s.destroy()
  t.equal(await node.stop(), 0, 'SIGTERM exits 0')
})
