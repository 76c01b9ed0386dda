import { readdirSync } from 'node:fs'
import net from 'node:net'
import test from 'tape'
import { until } from './helpers.js'
import { startNode } from './fixtures/net-helpers.js'

const fds = (pid: number): number => readdirSync(`/proc/${pid}/fd`).length
const refused = (log: string): number => log.split('\n').filter((l) => / refused: /.test(l)).length

/** A raw upgrade request; without a key it is one the WebSocket server refuses (400). */
function upgrade (port: number, key?: string): net.Socket {
  const s = net.connect(port, '127.0.0.1')
  s.on('error', () => {})
  s.write(`GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n${key === undefined ? '' : `Sec-WebSocket-Key: ${key}\r\n`}\r\n`)
  return s
}

// A malformed upgrade was answered 400 with socket.end() only: a client that reads nothing never
// ends its side, so the node kept each such socket (a file descriptor, and one of the
// 2 x --max-connections sockets the WebSocket port accepts before upgrading) for as long as the
// client stayed, and enough of them shut the port to every honest peer.
test('serve --ws: peers that send a malformed upgrade and read nothing are dropped, and do not take the port from honest ones', async (t) => {
  const node = await startNode(t, ['--ws', '0', '--max-connections', '4'])
  const pid = node.child.pid as number
  const before = fds(pid)
  const clients: net.Socket[] = []
  t.teardown(() => { for (const s of clients) s.destroy() })
  for (let i = 0; i < 8; i++) {
    const s = upgrade(node.ws)
    // Never read: this client never sees the node's end of the connection, so it never ends its own.
    s.pause()
    clients.push(s)
  }
  t.ok(await until(() => refused(node.log()) >= 8, 10_000), 'every malformed upgrade was refused (the log says so)')
  const released = await until(() => fds(pid) <= before, 10_000)
  t.ok(released, `the node released their sockets while the clients stayed connected (${fds(pid)} descriptors open, ${before} before)`)
  const honest = upgrade(node.ws, 'dGhlIHNhbXBsZSBub25jZQ==')
  clients.push(honest)
  let answer = ''
  honest.setEncoding('latin1').on('data', (s: string) => { answer += s })
  t.ok(await until(() => answer.includes('\r\n'), 10_000), 'an honest upgrade is answered')
  t.ok(answer.startsWith('HTTP/1.1 101'), `an honest upgrade is accepted (got ${JSON.stringify(answer.split('\r\n')[0])})`)
  for (const s of clients) s.destroy()
  t.equal(await node.stop(), 0, 'SIGTERM exits 0')
})
