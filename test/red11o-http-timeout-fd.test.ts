import { readdirSync } from 'node:fs'
import net from 'node:net'
import test from 'tape'
import { until } from './helpers.js'
import { startNode } from './fixtures/net-helpers.js'

const fds = (pid: number): number => readdirSync(`/proc/${pid}/fd`).length
const timeouts = (log: string): number => log.split('\n').filter((l) => l.includes('ERR_HTTP_REQUEST_TIMEOUT')).length
const malformed = (log: string): number => log.split('\n').filter((l) => l.includes('http: dropped') && !l.includes('ERR_HTTP_REQUEST_TIMEOUT')).length

// docs/cli.md, Limits and timeouts: a client that does not finish its request headers in time
// "is answered 408 and dropped". The answer was written with socket.end() and nothing more: a
// client that reads nothing never ends its side, so the node kept the half-closed socket (and its
// file descriptor) for as long as the client stayed, and clients that connect and stall could
// take every descriptor the process has.
test('serve: HTTP clients that time out or send garbage and read nothing are dropped, their file descriptors released', async (t) => {
  const node = await startNode(t, ['--handshake-timeout', '500'])
  const pid = node.child.pid as number
  const port = Number(new URL(node.http).port)
  const before = fds(pid)
  const clients: net.Socket[] = []
  const open = (first?: string): void => {
    const s = net.connect(port, '127.0.0.1')
    s.on('error', () => {})
    if (first !== undefined) s.write(first)
    // Never read: this client never sees the node's end of the connection, so it never ends its own.
    s.pause()
    clients.push(s)
  }
  t.teardown(() => { for (const s of clients) s.destroy() })
  for (let i = 0; i < 20; i++) open()
  for (let i = 0; i < 20; i++) open('GET /st')
  for (let i = 0; i < 20; i++) open('NOT HTTP AT ALL\r\n\r\n')
  t.ok(await until(() => timeouts(node.log()) >= 40 && malformed(node.log()) >= 20, 15_000), 'every stalled client was answered 408 and every malformed one 400 (the log says so)')
  t.ok(fds(pid) > before, 'meanwhile the node held sockets for them')
  const released = await until(() => fds(pid) <= before, 10_000)
  t.ok(released, `the node released their sockets while the clients stayed connected (${fds(pid)} descriptors open, ${before} before)`)
  const status = await fetch(`${node.http}/status`)
  t.equal(status.status, 200, 'honest requests are still served')
  await status.text()
  for (const s of clients) s.destroy()
  t.equal(await node.stop(), 0, 'SIGTERM exits 0')
})
